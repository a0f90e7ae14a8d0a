"""The Slack emulator and the sandbox, driven by the real slack-sdk WebClient over loopback HTTP."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from idqueue.config import Settings
from idqueue.integrations import registry
from idqueue.integrations.loopback import Clock
from idqueue.sandbox import seed as seed_mod
from idqueue.sandbox.github_emulator import GITHUB_TOKEN, GitHubState
from idqueue.sandbox.runner import Sandbox
from idqueue.sandbox.slack_emulator import (
    APP_USER_ID,
    SLACK_TOKEN,
    SlackEmulator,
    SlackState,
    ts_key,
)

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
CH = "C0TESTCHAN"


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


def make(clock: Clock, profile: str = "internal") -> SlackEmulator:
    state = SlackState(now=clock)
    state.add_channel(CH, "support")
    state.add_user("U0ANA", "ana", "Ana Reyes")
    state.add_user("U0REQ", "req", "Requester")
    return SlackEmulator(state, now=clock, profile=profile).start()


@pytest.fixture
def slack(clock: Clock) -> Iterator[SlackEmulator]:
    emu = make(clock)
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def client(slack: SlackEmulator) -> WebClient:
    return WebClient(base_url=slack.url, token=SLACK_TOKEN, timeout=5)


def post_many(slack: SlackEmulator, clock: Clock, n: int) -> list[str]:
    out = []
    for i in range(n):
        out.append(slack.state.post(CH, "U0REQ", f"message {i}", at=clock() - timedelta(minutes=n - i)).ts)
    return out


# --------------------------------------------------------------------------- auth


def test_auth_errors_are_http_200_ok_false(slack: SlackEmulator) -> None:
    bad = WebClient(base_url=slack.url, token="xoxb-wrong")
    with pytest.raises(SlackApiError) as err:
        bad.auth_test()
    assert err.value.response.status_code == 200
    assert err.value.response["error"] == "invalid_auth"
    r = httpx.post(f"{slack.url}auth.test")
    assert r.status_code == 200 and r.json() == {"ok": False, "error": "not_authed"}


def test_token_as_param_and_auth_test(slack: SlackEmulator, client: WebClient) -> None:
    r = httpx.post(f"{slack.url}auth.test", data={"token": SLACK_TOKEN})
    assert r.json()["ok"] is True
    info = client.auth_test()
    assert info["user_id"] == APP_USER_ID and info["bot_id"].startswith("B")
    assert slack.calls.api("auth.test")[-1].headers["authorization"] == "[redacted]"
    assert all("token" not in (c.body or {}) or c.body["token"] == "[redacted]" for c in slack.calls)


def test_unknown_method(slack: SlackEmulator) -> None:
    r = httpx.post(f"{slack.url}nope.nothing", headers={"Authorization": f"Bearer {SLACK_TOKEN}"})
    assert r.json()["error"] == "unknown_method"


# --------------------------------------------------------------------------- history and replies


def test_history_newest_first_without_thread_replies(slack: SlackEmulator, clock: Clock,
                                                     client: WebClient) -> None:
    parent = slack.state.post(CH, "U0REQ", "help please", at=clock() - timedelta(hours=2))
    slack.state.post(CH, "U0ANA", "on it", thread_ts=parent.ts, at=clock() - timedelta(hours=1))
    slack.state.post(CH, "U0REQ", "also in channel", thread_ts=parent.ts, reply_broadcast=True,
                     at=clock() - timedelta(minutes=50))
    later = slack.state.post(CH, "U0REQ", "another", at=clock() - timedelta(minutes=30))
    messages = client.conversations_history(channel=CH)["messages"]
    assert [m["text"] for m in messages] == ["another", "also in channel", "help please"]
    assert messages[0]["ts"] == later.ts
    assert messages[1]["subtype"] == "thread_broadcast"
    top = messages[2]
    assert top["thread_ts"] == top["ts"] and top["reply_count"] == 2
    assert top["reply_users"] == ["U0ANA", "U0REQ"] and top["latest_reply"] == messages[1]["ts"]


def test_history_cursor_pagination(slack: SlackEmulator, clock: Clock, client: WebClient) -> None:
    ts = post_many(slack, clock, 25)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        r = client.conversations_history(channel=CH, limit=10, cursor=cursor)
        seen += [m["ts"] for m in r["messages"]]
        pages += 1
        cursor = r["response_metadata"]["next_cursor"]
        assert r["has_more"] is bool(cursor)
        if not cursor:
            break
    assert pages == 3
    assert seen == sorted(ts, key=ts_key, reverse=True)


def test_history_pagination_is_stable_when_new_messages_arrive(slack: SlackEmulator, clock: Clock,
                                                               client: WebClient) -> None:
    post_many(slack, clock, 6)
    first = client.conversations_history(channel=CH, limit=3)
    slack.state.post(CH, "U0REQ", "newest")
    second = client.conversations_history(channel=CH, limit=3, cursor=first["response_metadata"]["next_cursor"])
    assert [m["text"] for m in second["messages"]] == ["message 2", "message 1", "message 0"]


def test_history_oldest_latest_inclusive(slack: SlackEmulator, clock: Clock, client: WebClient) -> None:
    ts = post_many(slack, clock, 5)
    r = client.conversations_history(channel=CH, oldest=ts[1], latest=ts[3])
    assert [m["ts"] for m in r["messages"]] == [ts[2]]
    r = client.conversations_history(channel=CH, oldest=ts[1], latest=ts[3], inclusive=True)
    assert [m["ts"] for m in r["messages"]] == [ts[3], ts[2], ts[1]]


def test_history_errors(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        client.conversations_history(channel="C0MISSING1")
    assert err.value.response["error"] == "channel_not_found"


def test_replies_parent_first_pagination_and_not_found(slack: SlackEmulator, clock: Clock,
                                                        client: WebClient) -> None:
    parent = slack.state.post(CH, "U0REQ", "thread", at=clock() - timedelta(hours=3))
    for i in range(5):
        slack.state.post(CH, "U0ANA", f"reply {i}", thread_ts=parent.ts, at=clock() - timedelta(minutes=50 - i))
    r = client.conversations_replies(channel=CH, ts=parent.ts)
    assert [m["text"] for m in r["messages"]] == ["thread"] + [f"reply {i}" for i in range(5)]
    assert r["messages"][1]["parent_user_id"] == "U0REQ"
    texts: list[str] = []
    cursor = None
    while True:
        page = client.conversations_replies(channel=CH, ts=parent.ts, limit=2, cursor=cursor)
        texts += [m["text"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert texts == ["thread"] + [f"reply {i}" for i in range(5)]
    with pytest.raises(SlackApiError) as err:
        client.conversations_replies(channel=CH, ts="1234567890.000001")
    assert err.value.response["error"] == "thread_not_found"


def test_edits_and_deletes_are_visible(slack: SlackEmulator, clock: Clock, client: WebClient) -> None:
    parent = slack.state.post(CH, "U0REQ", "original", at=clock() - timedelta(hours=1))
    reply = slack.state.post(CH, "U0ANA", "reply", thread_ts=parent.ts, at=clock() - timedelta(minutes=30))
    other = slack.state.post(CH, "U0REQ", "to delete", at=clock() - timedelta(minutes=20))
    slack.state.edit(CH, parent.ts, "changed text", user="U0REQ")
    msg = client.conversations_history(channel=CH)["messages"][-1]
    assert msg["text"] == "changed text"
    assert msg["edited"]["user"] == "U0REQ" and ts_key(msg["edited"]["ts"]) > ts_key(parent.ts)
    slack.state.delete(CH, reply.ts)
    assert client.conversations_history(channel=CH)["messages"][-1]["reply_count"] == 0
    slack.state.delete(CH, other.ts)
    assert [m["text"] for m in client.conversations_history(channel=CH)["messages"]] == ["changed text"]


def test_users_info_and_list(slack: SlackEmulator, client: WebClient) -> None:
    user = client.users_info(user="U0ANA")["user"]
    assert user["real_name"] == "Ana Reyes" and user["profile"]["real_name"] == "Ana Reyes"
    with pytest.raises(SlackApiError) as err:
        client.users_info(user="U0NOBODY")
    assert err.value.response["error"] == "user_not_found"
    ids: list[str] = []
    cursor = None
    while True:
        r = client.users_list(limit=1, cursor=cursor)
        ids += [m["id"] for m in r["members"]]
        cursor = r["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert sorted(ids) == sorted(slack.state.users)


# --------------------------------------------------------------------------- writes


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
def test_post_message_with_metadata_blocks_and_thread(slack: SlackEmulator, clock: Clock,
                                                      client: WebClient) -> None:
    parent = slack.state.post(CH, "U0REQ", "help", at=clock() - timedelta(minutes=5))
    meta = {"event_type": "idqueue_reply", "event_payload": {"outbox_id": "abc-1"}}
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    r = client.chat_postMessage(channel=CH, text="hi", thread_ts=parent.ts, metadata=meta, blocks=blocks)
    assert r["ok"] and r["channel"] == CH and r["message"]["thread_ts"] == parent.ts
    assert r["message"]["bot_id"] and r["message"]["user"] == APP_USER_ID
    replies = client.conversations_replies(channel=CH, ts=parent.ts, include_all_metadata=True)["messages"]
    assert replies[-1]["metadata"] == meta and replies[-1]["blocks"] == blocks
    plain = client.conversations_replies(channel=CH, ts=parent.ts)["messages"]
    assert "metadata" not in plain[-1]
    top = client.chat_postMessage(channel=CH, text="top-level", metadata=meta)
    history = client.conversations_history(channel=CH, include_all_metadata=True)["messages"]
    assert history[0]["ts"] == top["ts"] and history[0]["metadata"] == meta
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel=CH, text="")
    assert err.value.response["error"] == "no_text"


def test_posted_ts_are_unique_and_increasing_on_a_frozen_clock(client: WebClient) -> None:
    ts = [client.chat_postMessage(channel=CH, text=f"m{i}")["ts"] for i in range(5)]
    assert ts == sorted(ts, key=ts_key) and len(set(ts)) == 5
    assert all(len(t.split(".")[1]) == 6 for t in ts)


def test_chat_update_own_messages_only(slack: SlackEmulator, client: WebClient) -> None:
    mine = client.chat_postMessage(channel=CH, text="draft")
    r = client.chat_update(channel=CH, ts=mine["ts"], text="final")
    assert r["text"] == "final" and slack.state.message(CH, mine["ts"]).edited is not None
    theirs = slack.state.post(CH, "U0REQ", "not yours")
    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel=CH, ts=theirs.ts, text="x")
    assert err.value.response["error"] == "cant_update_message"


def test_permalink_and_reactions(slack: SlackEmulator, client: WebClient) -> None:
    parent = slack.state.post(CH, "U0REQ", "help")
    reply = slack.state.post(CH, "U0ANA", "sure", thread_ts=parent.ts)
    link = client.chat_getPermalink(channel=CH, message_ts=parent.ts)["permalink"]
    assert link == f"https://idqueue-sandbox.slack.com/archives/{CH}/p{parent.ts.replace('.', '')}"
    reply_link = client.chat_getPermalink(channel=CH, message_ts=reply.ts)["permalink"]
    assert f"thread_ts={parent.ts}" in reply_link
    client.reactions_add(channel=CH, timestamp=parent.ts, name="eyes")
    with pytest.raises(SlackApiError) as err:
        client.reactions_add(channel=CH, timestamp=parent.ts, name="eyes")
    assert err.value.response["error"] == "already_reacted"
    slack.state.react(CH, parent.ts, "eyes", "U0ANA")
    got = client.reactions_get(channel=CH, timestamp=parent.ts)["message"]["reactions"]
    assert got == [{"name": "eyes", "users": [APP_USER_ID, "U0ANA"], "count": 2}]


# --------------------------------------------------------------------------- profiles and faults


def test_non_marketplace_profile_limits(clock: Clock) -> None:
    emu = make(clock, profile="non_marketplace")
    try:
        post_many(emu, clock, 30)
        client = WebClient(base_url=emu.url, token=SLACK_TOKEN)
        r = client.conversations_history(channel=CH, limit=200)
        assert len(r["messages"]) == 15 and r["has_more"] is True
        with pytest.raises(SlackApiError) as err:
            client.conversations_history(channel=CH, cursor=r["response_metadata"]["next_cursor"])
        assert err.value.response.status_code == 429
        assert err.value.response["error"] == "ratelimited"
        assert 1 <= int(err.value.response.headers["Retry-After"]) <= 60
        client.conversations_replies(channel=CH, ts=r["messages"][0]["ts"])  # other method: own window
        clock.advance(61)
        again = client.conversations_history(channel=CH, cursor=r["response_metadata"]["next_cursor"])
        assert len(again["messages"]) == 15
        client.users_info(user="U0ANA")  # other methods are not throttled
        client.users_info(user="U0ANA")
    finally:
        emu.stop()


def test_unknown_profile_is_rejected() -> None:
    with pytest.raises(ValueError, match="profile"):
        SlackEmulator(profile="enterprise")


def test_ratelimited_fault_is_429_with_retry_after(slack: SlackEmulator, client: WebClient) -> None:
    slack.faults.add("conversations.history", "ratelimited", retry_after=1)
    with pytest.raises(SlackApiError) as err:
        client.conversations_history(channel=CH)
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "1"
    assert err.value.response.data == {"ok": False, "error": "ratelimited"}
    assert client.conversations_history(channel=CH)["ok"]


def test_rate_limit_retry_handler_retries_once(slack: SlackEmulator) -> None:
    client = WebClient(base_url=slack.url, token=SLACK_TOKEN)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    slack.faults.add("conversations.history", "ratelimited", retry_after=0)
    assert client.conversations_history(channel=CH)["ok"]
    assert len(slack.calls.api("conversations.history")) == 2


def test_auth_error_and_status_faults(slack: SlackEmulator, client: WebClient) -> None:
    slack.faults.add("conversations.*", "auth")
    with pytest.raises(SlackApiError) as err:
        client.conversations_history(channel=CH)
    assert err.value.response["error"] == "invalid_auth"
    slack.faults.add("conversations.history", error="not_in_channel")
    with pytest.raises(SlackApiError) as err:
        client.conversations_history(channel=CH)
    assert err.value.response["error"] == "not_in_channel"
    slack.faults.add("chat.postMessage", status=503)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel=CH, text="x")
    assert err.value.response.status_code == 503
    assert slack.state.channel(CH).messages == {}


def test_timeout_fault(slack: SlackEmulator) -> None:
    slack.faults.add("conversations.history", "timeout", seconds=30)
    client = WebClient(base_url=slack.url, token=SLACK_TOKEN, timeout=0.3)  # type: ignore[arg-type]
    with pytest.raises(TimeoutError):
        client.conversations_history(channel=CH)


def test_malformed_fault(slack: SlackEmulator, client: WebClient) -> None:
    slack.faults.add("conversations.history", "malformed")
    r = httpx.post(f"{slack.url}conversations.history", data={"channel": CH},
                   headers={"Authorization": f"Bearer {SLACK_TOKEN}"})
    with pytest.raises(json.JSONDecodeError):
        r.json()
    slack.faults.add("conversations.history", "malformed", variant="content_type")
    with pytest.raises(SlackApiError):
        client.conversations_history(channel=CH)


def test_drop_after_apply_posts_but_loses_the_answer(slack: SlackEmulator, client: WebClient) -> None:
    slack.faults.add("chat.postMessage", "drop_after_apply")
    client.retry_handlers.clear()
    with pytest.raises(Exception):  # noqa: B017 - urllib raises RemoteDisconnected / URLError
        client.chat_postMessage(channel=CH, text="marker-42")
    assert [m.text for m in slack.state.channel(CH).messages.values()] == ["marker-42"]


# --------------------------------------------------------------------------- the sandbox


def test_sandbox_settings_and_env_build_settings(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    settings = Settings(**sandbox.settings_overrides())
    assert settings.sandbox and settings.me == "ana" and settings.github.repos == [seed_mod.SUPPORT_REPO]
    assert settings.slack.base_url.endswith("/api/") and registry.any_configured(settings)
    assert settings.member_by_github("ana-reyes") == "ana"
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    empty = tmp_path / "config.toml"
    empty.write_text("")
    monkeypatch.setenv("IDQUEUE_CONFIG_FILE", str(empty))
    from_env = Settings()
    assert from_env.github.base_url == sandbox.github.url
    assert from_env.slack.channels == [seed_mod.CHANNEL, seed_mod.SUPPORT_CHANNEL]
    assert from_env.slack.intake_bot_ids == [seed_mod.INTAKE_BOT_ID, seed_mod.INTAKE_BOT_USER]
    assert set(from_env.team) == {"ana", "ben", "chloe", "dev", "erin"}
    assert from_env.now == "2026-03-11T15:30:00Z"


def test_seed_covers_types_paths_and_states(sandbox: Sandbox) -> None:
    summary = sandbox.summary
    assert summary is not None
    assert 40 <= len(summary.requests) <= 70
    assert {r.type for r in summary.requests} == set(seed_mod.TYPES)
    assert {r.path for r in summary.requests} == {"bot", "github", "slack"}
    outcomes = {r.outcome for r in summary.requests}
    assert {"new", "acknowledged", "assigned", "pending", "backlog", "closed", "not_planned", "deleted"} <= outcomes
    recent = [r for r in summary.requests if summary.now - r.created_at <= timedelta(hours=1)]
    assert len(recent) >= 3
    # The month spans ~35 days; "old-linked" is deliberately older than the sandbox's Slack window.
    oldest = min(r.created_at for r in summary.requests if r.key != "old-linked")
    assert timedelta(days=30) <= summary.now - oldest <= timedelta(days=37)
    assert summary.now - summary.by_key("old-linked").created_at > timedelta(days=40)
    assert all(r.created_at <= summary.now for r in summary.requests)


def test_seed_bot_flow_links_both_ways(sandbox: Sandbox) -> None:
    summary = sandbox.summary
    assert summary is not None
    r = summary.by_key("new-auth")
    assert r.issue_number and r.slack_ts
    client = WebClient(base_url=sandbox.slack.url, token=SLACK_TOKEN)
    thread = client.conversations_replies(channel=seed_mod.CHANNEL, ts=r.slack_ts)["messages"]
    parent = thread[0]
    assert parent["bot_id"] == seed_mod.INTAKE_BOT_ID and parent["subtype"] == "bot_message"
    assert "*Type:* Authentication help" in parent["text"] and "*Requested by:* <@U0REQ01>" in parent["text"]
    assert parent["blocks"][1]["fields"][0]["text"].startswith("*Type:*")
    assert f"/issues/{r.issue_number}|Github issue>" in thread[1]["text"]
    issue = httpx.get(f"{sandbox.github.url}/repos/{seed_mod.SUPPORT_REPO}/issues/{r.issue_number}",
                      headers={"Authorization": f"token {GITHUB_TOKEN}"}).json()
    permalink = client.chat_getPermalink(channel=seed_mod.CHANNEL, message_ts=r.slack_ts)["permalink"]
    assert permalink in issue["body"]
    assert "**Issue Type:** Authentication Help" in issue["body"]
    assert "## **Authentication Help Request**" in issue["body"]
    assert issue["user"]["type"] == "Bot"


def test_seed_special_items(sandbox: Sandbox) -> None:
    gh = sandbox.github.state
    summary = sandbox.summary
    assert summary is not None
    issues = gh.repo(seed_mod.SUPPORT_REPO).issues
    assert len(summary.pull_requests) >= 2 and all(issues[n].pull_request for n in summary.pull_requests)
    assert "[@click=app.quit]" in issues[summary.by_key("hostile-markup").issue_number or 0].title
    body = issues[summary.by_key("hostile-escapes").issue_number or 0].body or ""
    assert "\x1b[2J" in body and "\x1b]52;c;aGk=\x07" in body and "\x9b" in body
    assert len((issues[summary.by_key("huge-body").issue_number or 0].body or "").encode()) >= 190_000
    hostile = sandbox.slack.state.message(seed_mod.CHANNEL, summary.by_key("hostile-slack").slack_ts or "")
    assert "<!channel>" in hostile.text and "<@U0ANA>" in hostile.text and "&lt;script&gt;" in hostile.text
    assert "ticket" in hostile.reactions
    form = [i for i in issues.values() if (i.body or "").startswith("### Issue Type")]
    assert form and "_No response_" in (form[0].body or "")
    deleted = summary.by_key("deleted-slack")
    assert deleted.slack_ts not in sandbox.slack.state.channel(seed_mod.CHANNEL).messages
    edited = sandbox.slack.state.message(seed_mod.CHANNEL, summary.by_key("edited-slack").slack_ts or "")
    assert edited.edited is not None and "edited" in edited.text
    pending = [i for i in issues.values() if seed_mod.PENDING_LABEL in i.labels]
    assert pending and all(i.state == "open" for i in pending)
    assert any(seed_mod.BACKLOG_LABEL in i.labels for i in issues.values())
    reasons = {i.state_reason for i in issues.values() if i.state == "closed"}
    assert reasons == {"completed", "not_planned"}
    joins = [m for m in sandbox.slack.state.channel(seed_mod.CHANNEL).messages.values()
             if m.subtype == "channel_join"]
    assert len(joins) == 1


def test_seed_is_deterministic() -> None:
    def snapshot() -> list[tuple[object, ...]]:
        gh, sl = GitHubState(now=NOW), SlackState(now=NOW)
        seed_mod.seed_month(gh, sl, NOW)
        issues = [(i.number, i.title, i.body, i.state, tuple(i.labels), i.created_at)
                  for i in gh.repo(seed_mod.SUPPORT_REPO).issues.values()]
        msgs = [(m.ts, m.text, m.user, m.bot_id) for ch in sl.channels.values() for m in ch.messages.values()]
        return [*issues, *msgs]

    assert snapshot() == snapshot()


def test_survey_csv_refers_to_closed_seeded_issues(sandbox: Sandbox) -> None:
    rows = list(csv.DictReader(io.StringIO(sandbox.survey_csv())))
    assert len(rows) == 15
    assert set(rows[0]) == {"rating", "date", "request", "comment"}
    closed = {r.github_url for r in (sandbox.summary.closed() if sandbox.summary else [])}
    assert all(row["request"] in closed and 1 <= int(row["rating"]) <= 5 for row in rows)
    assert seed_mod.survey_csv(now=NOW) == sandbox.survey_csv()


def test_empty_sandbox_has_directory_only(empty_sandbox: Sandbox) -> None:
    assert empty_sandbox.summary is None
    assert empty_sandbox.github.state.repo(seed_mod.SUPPORT_REPO).issues == {}
    client = WebClient(base_url=empty_sandbox.slack.url, token=SLACK_TOKEN)
    history = client.conversations_history(channel=seed_mod.CHANNEL)
    assert history["messages"] == [] and history["response_metadata"]["next_cursor"] == ""
    assert client.users_info(user="U0ANA")["user"]["real_name"] == "Ana Reyes"


def test_seed_bulk_builds_many_items() -> None:
    gh, sl = GitHubState(now=NOW), SlackState(now=NOW)
    seed_mod.seed_bulk(gh, sl, n_issues=3000, n_messages=3000, now=NOW)
    assert len(gh.repo(seed_mod.SUPPORT_REPO).issues) == 3000
    assert len(sl.channel(seed_mod.CHANNEL).messages) == 3000
