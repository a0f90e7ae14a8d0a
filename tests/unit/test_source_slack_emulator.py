"""The Slack source against the loopback Slack emulator, with the real slack-sdk WebClient.

Batches are applied into a temporary store exactly as the sync engine does (one transaction per
batch, together with its cursors), so these tests also check that the cursor only advances past
what was committed and that a fault never leaves the store half-written.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from idqueue.config import Settings
from idqueue.domain.assemble import make_assembler
from idqueue.domain.models import EventKind, SourceItem, SourceKind, Status, slack_id
from idqueue.integrations.base import (
    AuthError,
    BadPayload,
    Batch,
    NotFound,
    RateLimited,
    SourceError,
    Unavailable,
)
from idqueue.integrations.registry import rulebook
from idqueue.integrations.slack.convert import ts_to_datetime
from idqueue.integrations.slack.source import SlackSource
from idqueue.sandbox.runner import Sandbox
from idqueue.sandbox.slack_emulator import APP_USER_ID, SLACK_TOKEN, SlackMessage
from idqueue.store.db import Store

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
CH = "C0IDENTITY"
CH2 = "C0SUPPORT"
BOT = "B0IDBOT01"


class Harness:
    """A source + a temp store + the sync engine's apply loop, on the sandbox clock."""

    def __init__(self, sb: Sandbox, tmp_path: Path, *, channels: list[str] | None = None,
                 slack: dict[str, Any] | None = None, **source_kwargs: Any) -> None:
        overrides = sb.settings_overrides()
        overrides["slack"] = {**overrides["slack"], "channels": channels or [CH], **(slack or {})}
        self.sb = sb
        self.settings = Settings(**overrides)
        self.store = Store.open(tmp_path / "db.sqlite")
        self.sleeps: list[float] = []
        source_kwargs.setdefault("sleep", self.sleeps.append)
        source_kwargs.setdefault("sweep_per_poll", 0)
        self.source = SlackSource(self.settings, clock=sb.clock, **source_kwargs)
        self.batches: list[Batch] = []

    def poll(self, after_batch: Callable[[Batch], None] | None = None) -> SourceError | None:
        """One poll: apply every batch; return the error that ended it, if any."""
        now = self.sb.clock()
        assembler = make_assembler(self.settings, now, rules=rulebook(self.settings))
        try:
            for batch in self.source.fetch(self.store.cursors("slack")):
                self.store.apply(
                    "slack", items=batch.items, events=batch.events, deleted_items=batch.deleted_items,
                    deleted_events=batch.deleted_events, cursors=batch.cursors, assembler=assembler, now=now,
                )
                self.batches.append(batch)
                if after_batch is not None:
                    after_batch(batch)
        except SourceError as exc:
            return exc
        return None

    def items(self) -> dict[str, tuple[SourceItem, bool]]:
        from idqueue.store.db import item_from_json

        rows = self.store.conn.execute("SELECT data, deleted FROM items WHERE source='slack'").fetchall()
        return {item.id: (item, bool(r["deleted"])) for r in rows for item in [item_from_json(r["data"])]}

    def live_ids(self) -> set[str]:
        return {i for i, (_, deleted) in self.items().items() if not deleted}

    def events(self) -> dict[str, dict[str, Any]]:
        rows = self.store.conn.execute("SELECT * FROM events").fetchall()
        return {r["uid"]: dict(r) for r in rows}

    def emitted_item_ids(self) -> list[str]:
        return [i.id for b in self.batches for i in b.items]


@pytest.fixture
def sb(empty_sandbox: Sandbox, sandbox_now: datetime) -> Sandbox:
    """The empty sandbox of ``tests/conftest.py``; this module's ``NOW`` is its frozen time."""
    assert sandbox_now == NOW
    return empty_sandbox


def post_form(sb: Sandbox, n: int, *, start: datetime | None = None, channel: str = CH,
              step: timedelta = timedelta(minutes=3)) -> list[SlackMessage]:
    """``n`` intake-form messages by requesters, oldest first, ending before ``start``."""
    start = start or NOW - timedelta(hours=1)
    out = []
    for i in range(n):
        at = start - step * (n - i)
        user = f"U0REQ{(i % 12) + 1:02d}"
        out.append(sb.slack.state.post(channel, user, f"*Type:* Help Request\n*Details:* question {i}", at=at))
    return out


def bot_intake(sb: Sandbox, at: datetime, requester: str = "U0REQ09", text: str = "need a test user",
               channel: str = CH) -> SlackMessage:
    return sb.slack.state.post(
        channel, BOT,
        f"New request\n*Type:* Authentication help\n*Requested by:* <@{requester}>\n*Details:* {text}", at=at,
    )


def history_calls(sb: Sandbox) -> list[Any]:
    return [c for c in sb.slack.calls.api("conversations.history") if c.status == 200]


def stored_requests(h: Harness, channel: str = CH) -> dict[str, dict[str, Any]]:
    """The stored cursor entries of a channel's known requests (``req:<channel>/<ts>`` keys)."""
    prefix = f"req:{channel}/"
    return {k[len(prefix):]: v for k, v in h.store.cursors("slack").items() if k.startswith(prefix)}


def param(call: Any, name: str) -> str | None:
    """A Web API argument of a recorded call (slack-sdk POSTs them as a form)."""
    if name in call.query:
        return str(call.query[name])
    body = call.body if isinstance(call.body, dict) else {}
    return str(body[name]) if name in body else None


# --------------------------------------------------------------------------- syncing


def test_first_sync_three_pages_then_incremental(sb: Sandbox, tmp_path: Path) -> None:
    msgs = post_form(sb, 150)
    old = sb.slack.state.post(CH, "U0REQ01", "*Type:* Bug\n*Details:* too old", at=NOW - timedelta(days=40))
    h = Harness(sb, tmp_path, slack={"page_limit": 50})
    assert h.poll() is None

    calls = history_calls(sb)
    assert len(calls) == 3  # has_more/next_cursor followed; an empty next_cursor ends the loop
    assert param(calls[0], "cursor") is None and param(calls[1], "cursor") and param(calls[2], "cursor")
    assert all(param(c, "limit") == "50" and param(c, "include_all_metadata") == "1" for c in calls)
    oldest = ts_to_datetime(param(calls[0], "oldest") or "")
    assert oldest == NOW - timedelta(days=h.settings.slack.history_days)
    assert h.live_ids() == {slack_id(CH, m.ts) for m in msgs}  # > 100 items, the old one excluded
    assert slack_id(CH, old.ts) not in h.live_ids()
    assert Counter(h.emitted_item_ids()).most_common(1)[0][1] == 1
    assert len(h.batches) == 3 and h.batches[-1].cursors[f"channel:{CH}"]["scan"] is None
    assert sum(b.stats.requests for b in h.batches) == len(sb.slack.calls)
    assert h.store.count() == 150

    # Nothing changed: the next poll re-reads the lookback window and writes nothing.
    sb.clock.advance(60)
    before = len(h.batches)
    assert h.poll() is None
    new = h.batches[before:]
    assert not any(b.items or b.events or b.deleted_items or b.deleted_events for b in new)
    last = history_calls(sb)[-1]
    assert ts_to_datetime(param(last, "oldest") or "") == sb.clock() - timedelta(hours=h.settings.slack.lookback_hours)

    # A new request arrives.
    fresh = sb.slack.state.post(CH, "U0REQ02", "*Type:* Data request\n*Details:* new one")
    sb.clock.advance(60)
    assert h.poll() is None
    assert slack_id(CH, fresh.ts) in h.live_ids()
    assert h.store.count() == 151


def test_catch_up_after_a_long_pause_reads_past_the_lookback(sb: Sandbox, tmp_path: Path) -> None:
    h = Harness(sb, tmp_path)
    assert h.poll() is None
    sb.clock.advance(timedelta(days=5))  # idqueue was not running
    gap = sb.slack.state.post(CH, "U0REQ03", "*Type:* Bug\n*Details:* during the pause",
                              at=NOW + timedelta(days=1))
    assert h.poll() is None
    assert slack_id(CH, gap.ts) in h.live_ids()


def test_seeded_month_links_slack_and_github_into_one_request(tmp_path: Path) -> None:
    github = pytest.importorskip("idqueue.integrations.github.source")
    with Sandbox.start(seed=True, now=NOW) as box:
        h = Harness(box, tmp_path, channels=[CH, CH2])
        assert h.poll() is None
        items = h.items()
        # Every top-level intake-bot post is a request and links to the issue from its thread.
        bot_posts = [m for ch in (CH, CH2) for m in box.slack.state.channels[ch].messages.values()
                     if m.bot_id == BOT and not m.is_reply and ts_to_datetime(m.ts) > NOW - timedelta(days=31)]
        assert bot_posts
        for m in bot_posts:
            item, deleted = items[slack_id(m.channel, m.ts)]
            assert not deleted
            assert item.links and item.links[0].startswith("gh:va-identity/support#")
            assert item.requester is not None and not item.requester.is_bot
        # Chatter, joins and idqueue's own messages are not requests.
        for ch in (CH, CH2):
            for m in box.slack.state.channels[ch].messages.values():
                if m.subtype == "channel_join" or m.is_reply or m.user == APP_USER_ID:
                    assert slack_id(ch, m.ts) not in items

        # Apply the GitHub source into the same store: one request with two homes.
        gh = github.GitHubSource(h.settings, clock=box.clock, sleep=lambda s: None)
        assembler = make_assembler(h.settings, NOW, rules=rulebook(h.settings))
        for batch in gh.fetch(h.store.cursors("github")):
            h.store.apply("github", items=batch.items, events=batch.events, deleted_items=batch.deleted_items,
                          deleted_events=batch.deleted_events, cursors=batch.cursors, assembler=assembler, now=NOW)
        m = bot_posts[0]
        request = h.store.get_request(slack_id(m.channel, m.ts))
        assert request is not None
        assert request.id == items[slack_id(m.channel, m.ts)][0].links[0]
        assert sorted(request.item_ids) == sorted([request.id, slack_id(m.channel, m.ts)])
        assert set(request.sources) == {SourceKind("github"), SourceKind("slack")}


def test_intake_bot_thread_reply_links_to_the_github_issue(sb: Sandbox, tmp_path: Path) -> None:
    parent = bot_intake(sb, NOW - timedelta(hours=2))
    h = Harness(sb, tmp_path)
    assert h.poll() is None
    assert h.items()[slack_id(CH, parent.ts)][0].links == []

    # The bot replies with the issue link after we saw the message: the next poll links them.
    sb.slack.state.post(CH, BOT, "There's a new <https://github.com/va-identity/support/issues/77|Github issue> "
                        "for your Identity request.", thread_ts=parent.ts)
    sb.clock.advance(60)
    assert h.poll() is None
    item = h.items()[slack_id(CH, parent.ts)][0]
    assert item.links == ["gh:va-identity/support#77"]
    assert item.requester is not None and item.requester.id == "U0REQ09"
    assert item.requester.name == "Lena Fischer"

    # A GitHub item with that id (as the GitHub source yields it) merges into the same request.
    gh_item = SourceItem(id="gh:va-identity/support#77", source=SourceKind("github"), title="Auth help",
                         body="**Issue Type:** Authentication Help", url="https://github.com/va-identity/support/issues/77",
                         created_at=NOW - timedelta(hours=2), updated_at=NOW, requester=None)
    h.store.apply("github", items=[gh_item], assembler=make_assembler(h.settings, NOW, rules=rulebook(h.settings)), now=NOW)
    request = h.store.get_request(slack_id(CH, parent.ts))
    assert request is not None and request.id == "gh:va-identity/support#77"
    assert len(request.item_ids) == 2
    # The link survives later polls that do not re-read the thread.
    sb.clock.advance(60)
    sb.slack.state.edit(CH, parent.ts, "New request\n*Type:* Authentication help\n*Requested by:* <@U0REQ09>"
                        "\n*Details:* need a test user (edited)")
    assert h.poll() is None
    assert h.items()[slack_id(CH, parent.ts)][0].links == ["gh:va-identity/support#77"]


# --------------------------------------------------------------------------- edits, deletes, threads


def test_edit_updates_in_place(sb: Sandbox, tmp_path: Path) -> None:
    (msg,) = post_form(sb, 1)
    h = Harness(sb, tmp_path)
    assert h.poll() is None
    sb.clock.advance(120)
    sb.slack.state.edit(CH, msg.ts, "*Type:* Help Request\n*Details:* question 0 &amp; more")
    assert h.poll() is None
    item, deleted = h.items()[slack_id(CH, msg.ts)]
    assert not deleted
    assert item.body.endswith("question 0 & more")
    assert item.raw["text"].endswith("question 0 &amp; more")
    assert item.raw["edited_ts"] == msg.edited["ts"]  # type: ignore[index]
    assert item.updated_at == ts_to_datetime(msg.edited["ts"])  # type: ignore[index]
    assert h.store.count() == 1
    request = h.store.get_request(slack_id(CH, msg.ts))
    assert request is not None and "& more" in request.body


def test_deleted_request_is_retired(sb: Sandbox, tmp_path: Path) -> None:
    keep, gone = post_form(sb, 2)
    h = Harness(sb, tmp_path)
    assert h.poll() is None
    sb.slack.state.delete(CH, gone.ts)
    sb.clock.advance(60)
    assert h.poll() is None
    assert any(slack_id(CH, gone.ts) in b.deleted_items for b in h.batches)
    assert h.live_ids() == {slack_id(CH, keep.ts)}
    request = h.store.get_request(slack_id(CH, gone.ts))
    assert request is not None and request.status is Status.DELETED


def test_deletion_needs_a_fully_read_window(sb: Sandbox, tmp_path: Path) -> None:
    msgs = post_form(sb, 30)
    h = Harness(sb, tmp_path, slack={"page_limit": 10})
    assert h.poll() is None
    sb.slack.state.delete(CH, msgs[0].ts)  # the oldest: on the last page
    sb.clock.advance(60)
    sb.slack.faults.add("conversations.history", status=502, times=-1)
    calls = {"n": 0}

    def stop_after_first(batch: Batch) -> None:
        calls["n"] += 1

    err = h.poll(stop_after_first)
    assert isinstance(err, Unavailable)
    # The window was not read completely: nothing is retired yet.
    assert slack_id(CH, msgs[0].ts) in h.live_ids()
    sb.slack.faults.clear()
    assert h.poll() is None
    assert slack_id(CH, msgs[0].ts) not in h.live_ids()
    assert len(h.live_ids()) == 29


def test_new_reply_under_an_old_parent(sb: Sandbox, tmp_path: Path) -> None:
    parent = bot_intake(sb, NOW - timedelta(hours=30))
    first = sb.slack.state.post(CH, "U0ANA", "Looking into it", thread_ts=parent.ts, at=NOW - timedelta(hours=29))
    h = Harness(sb, tmp_path)
    assert h.poll() is None
    events = h.events()
    assert events[slack_id(CH, first.ts)]["item_id"] == slack_id(CH, parent.ts)

    sb.clock.advance(3600)
    reply = sb.slack.state.post(CH, "U0REQ09", "Any news? <@U0ANA>", thread_ts=parent.ts)
    n_replies = len(sb.slack.calls.api("conversations.replies"))
    assert h.poll() is None
    events = h.events()
    ev = events[slack_id(CH, reply.ts)]
    assert ev["item_id"] == slack_id(CH, parent.ts) and ev["kind"] == "message"
    assert ev["body"] == "Any news? @Ana Reyes" and ev["actor_name"] == "Lena Fischer"
    replies_calls = sb.slack.calls.api("conversations.replies")[n_replies:]
    assert [param(c, "ts") for c in replies_calls] == [parent.ts]

    # An unchanged thread is not read again.
    sb.clock.advance(60)
    n_replies = len(sb.slack.calls.api("conversations.replies"))
    assert h.poll() is None
    assert len(sb.slack.calls.api("conversations.replies")) == n_replies


def test_deleted_and_edited_replies(sb: Sandbox, tmp_path: Path) -> None:
    parent = bot_intake(sb, NOW - timedelta(hours=3))
    r1 = sb.slack.state.post(CH, "U0ANA", "first", thread_ts=parent.ts, at=NOW - timedelta(hours=2))
    r2 = sb.slack.state.post(CH, "U0REQ09", "second", thread_ts=parent.ts, at=NOW - timedelta(hours=1))
    h = Harness(sb, tmp_path, sweep_per_poll=5)
    assert h.poll() is None
    assert {slack_id(CH, r1.ts), slack_id(CH, r2.ts)} <= set(h.events())

    # An edited reply changes neither latest_reply nor reply_count: the sweep sees it.
    sb.slack.state.edit(CH, r1.ts, "first (edited)")
    sb.clock.advance(60)
    assert h.poll() is None
    ev = h.events()[slack_id(CH, r1.ts)]
    assert ev["body"] == "first (edited)" and json.loads(ev["data"])["edited"] is True

    # A deleted reply vanishes from the timeline.
    sb.slack.state.delete(CH, r2.ts)
    sb.clock.advance(60)
    assert h.poll() is None
    assert slack_id(CH, r2.ts) not in h.events()
    assert any(slack_id(CH, r2.ts) in b.deleted_events for b in h.batches)


def test_thread_broadcast_is_stored_once(sb: Sandbox, tmp_path: Path) -> None:
    parent = bot_intake(sb, NOW - timedelta(hours=3))
    h = Harness(sb, tmp_path)
    assert h.poll() is None
    bc = sb.slack.state.post(CH, "U0ANA", "*Type:* looks like a form but is a broadcast reply",
                             thread_ts=parent.ts, reply_broadcast=True)
    sb.clock.advance(60)
    assert h.poll() is None
    assert slack_id(CH, bc.ts) not in h.items()  # not a request of its own
    uids = [e.uid for b in h.batches for e in b.events]
    assert uids.count(slack_id(CH, bc.ts)) == 1
    ev = h.events()[slack_id(CH, bc.ts)]
    assert ev["item_id"] == slack_id(CH, parent.ts) and json.loads(ev["data"])["broadcast"] is True


def test_bot_and_own_messages_are_not_requests(sb: Sandbox, tmp_path: Path) -> None:
    st = sb.slack.state
    at = NOW - timedelta(hours=1)
    own = st.post(CH, APP_USER_ID, "*Type:* Bug\n*Details:* idqueue's own post", at=at)
    st.react(CH, own.ts, "ticket", "U0BEN")
    st.add_bot("B0OTHER", "Deploy Bot")
    other = st.post(CH, "B0OTHER", "*Type:* Deploy finished", at=at + timedelta(seconds=1), subtype="bot_message")
    join = st.post(CH, "U0REQ05", "<@U0REQ05> has joined the channel", at=at + timedelta(seconds=2),
                   subtype="channel_join")
    chatter = st.post(CH, "U0REQ05", "thanks!", at=at + timedelta(seconds=3))
    ticketed = st.post(CH, "U0REQ06", "Can someone add me to the dashboard repo?", at=at + timedelta(seconds=4))
    st.react(CH, ticketed.ts, "ticket", "U0BEN")
    intake = bot_intake(sb, at + timedelta(seconds=5))
    h = Harness(sb, tmp_path)
    assert h.poll() is None
    assert h.live_ids() == {slack_id(CH, ticketed.ts), slack_id(CH, intake.ts)}
    for m in (own, other, join, chatter):
        assert slack_id(CH, m.ts) not in h.items()
    item = h.items()[slack_id(CH, ticketed.ts)][0]
    assert item.raw["reactions"] == {"ticket": ["U0BEN"]}


def test_ticket_reaction_added_later_turns_a_message_into_a_request(sb: Sandbox, tmp_path: Path) -> None:
    msg = sb.slack.state.post(CH, "U0REQ06", "Could someone rotate our staging secret?", at=NOW - timedelta(hours=1))
    h = Harness(sb, tmp_path)
    assert h.poll() is None
    assert h.live_ids() == set()
    sb.slack.state.react(CH, msg.ts, "ticket", "U0CHLOE")
    sb.clock.advance(60)
    assert h.poll() is None
    assert h.live_ids() == {slack_id(CH, msg.ts)}


def test_distinct_ts_strings_are_distinct_requests(tmp_path: Path) -> None:
    now = datetime(2024, 4, 6, tzinfo=UTC)
    with Sandbox.start(seed=False, now=now) as box:
        ch = box.slack.state.channels[CH]
        for ts in ("1712345678.000100", "1712345678.0001"):
            ch.messages[ts] = SlackMessage(channel=CH, ts=ts, user="U0REQ01", text=f"*Type:* Bug\n*Details:* {ts}")
        h = Harness(box, tmp_path)
        assert h.poll() is None
        assert h.live_ids() == {"slack:C0IDENTITY/1712345678.000100", "slack:C0IDENTITY/1712345678.0001"}
        assert h.store.count() == 2


def test_unknown_user_and_odd_payloads_do_not_fail_the_poll(sb: Sandbox, tmp_path: Path) -> None:
    st = sb.slack.state
    ghost = st.post(CH, "U0GHOST", "Who can help me? <@U0NOBODY>", at=NOW - timedelta(hours=1))
    st.react(CH, ghost.ts, "ticket", "U0BEN")
    odd = st.post(CH, "U0REQ04", "*Type:* Bug\n*Details:* odd blocks", at=NOW - timedelta(minutes=30),
                  blocks=[{"type": "hologram", "x": 1}, {"type": "section", "fields": "nope"}])
    st.post(CH, "U0REQ04", "a future subtype", at=NOW - timedelta(minutes=20), subtype="brand_new_subtype")
    h = Harness(sb, tmp_path)
    assert h.poll() is None
    ghost_item = h.items()[slack_id(CH, ghost.ts)][0]
    assert ghost_item.requester is not None and ghost_item.requester.name == "unknown user (U0GHOST)"
    assert ghost_item.body == "Who can help me? @unknown user (U0NOBODY)"
    assert slack_id(CH, odd.ts) in h.live_ids()
    assert h.live_ids() == {slack_id(CH, ghost.ts), slack_id(CH, odd.ts)}
    # user_not_found is remembered: the next poll does not ask again.
    n = len(sb.slack.calls.api("users.info"))
    sb.clock.advance(60)
    source2 = SlackSource(h.settings, clock=sb.clock, sleep=h.sleeps.append, sweep_per_poll=0)
    list(source2.fetch(h.store.cursors("slack")))
    assert len(sb.slack.calls.api("users.info")) == n


def test_idqueue_actions_drive_a_slack_only_request(sb: Sandbox, tmp_path: Path) -> None:
    st = sb.slack.state
    msg = st.post(CH, "U0REQ06", "Please add me to the identity dashboard", at=NOW - timedelta(hours=2))
    st.react(CH, msg.ts, "ticket", "U0BEN")

    def action(name: str, **extra: Any) -> SlackMessage:
        payload = {"action_id": f"a-{name}", "action": name, "actor": "ben", "automation": False,
                   "reason": "", **extra}
        return st.post(CH, APP_USER_ID, f"{name} by idqueue", thread_ts=msg.ts,
                       metadata={"event_type": "idqueue_action", "event_payload": payload})

    assign = action("assign", assignee="ben")
    h = Harness(sb, tmp_path)
    assert h.poll() is None
    request = h.store.get_request(slack_id(CH, msg.ts))
    assert request is not None and request.status is Status.ASSIGNED and request.assignee == "ben"
    state_ev = h.events()[f"{slack_id(CH, assign.ts)}:assign"]
    assert state_ev["kind"] == EventKind.ASSIGNED.value

    sb.clock.advance(60)
    close = action("close", automation=True, reason="completed")
    st.react(CH, close.ts, "five", "U0REQ06")
    assert h.poll() is None
    request = h.store.get_request(slack_id(CH, msg.ts))
    assert request is not None and request.status is Status.CLOSED
    close_ev = h.events()[slack_id(CH, close.ts)]
    assert json.loads(close_ev["data"])["reactions"] == {"five": ["U0REQ06"]}
    assert json.loads(close_ev["data"])["idqueue_automation"] is True


# --------------------------------------------------------------------------- faults


def test_429_retry_after_is_honoured_with_the_injected_sleep(sb: Sandbox, tmp_path: Path) -> None:
    msgs = post_form(sb, 3)
    sb.slack.faults.add("conversations.history", "ratelimited", retry_after=30)
    h = Harness(sb, tmp_path)
    assert h.poll() is None
    assert h.sleeps == [30.0]
    assert len(sb.slack.calls.api("conversations.history")) == 2  # one 429, one retry
    assert h.live_ids() == {slack_id(CH, m.ts) for m in msgs}


@pytest.mark.parametrize("value", ["0", "-5", "soon"])
def test_garbage_retry_after_is_clamped(sb: Sandbox, tmp_path: Path, value: str) -> None:
    post_form(sb, 1)
    sb.slack.faults.add("conversations.history", "ratelimited", headers={"Retry-After": value}, times=2)
    h = Harness(sb, tmp_path)
    assert h.poll() is None
    assert len(h.sleeps) == 2 and all(s >= 1.0 for s in h.sleeps)


def test_long_rate_limit_raises_with_until(sb: Sandbox, tmp_path: Path) -> None:
    post_form(sb, 1)
    sb.slack.faults.add("conversations.history", "ratelimited", retry_after=120)
    h = Harness(sb, tmp_path)
    err = h.poll()
    assert isinstance(err, RateLimited)
    assert err.until == NOW + timedelta(seconds=120)
    assert h.sleeps == [] and h.store.count() == 0


def test_rate_limit_is_bounded_never_a_hot_loop(sb: Sandbox, tmp_path: Path) -> None:
    post_form(sb, 1)
    sb.slack.faults.add("conversations.history", "ratelimited", retry_after=1, times=-1)
    h = Harness(sb, tmp_path)
    assert isinstance(h.poll(), RateLimited)
    assert len(sb.slack.calls.api("conversations.history")) == len(h.sleeps) + 1 <= 5


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ({"kind": "auth"}, AuthError),
        ({"error": "invalid_auth"}, AuthError),
        ({"error": "missing_scope"}, AuthError),
        ({"error": "token_revoked"}, AuthError),
        ({"status": 401, "body": {"ok": False, "error": "invalid_auth"}}, AuthError),
        ({"status": 401, "body": b"<html>401 Authorization Required</html>"}, AuthError),
        ({"error": "ratelimited"}, RateLimited),  # HTTP 200 ok:false ratelimited
        ({"kind": "secondary_limit", "retry_after": 600}, RateLimited),
        ({"error": "something_new"}, Unavailable),
        ({"status": 502, "times": -1}, Unavailable),
        ({"kind": "malformed"}, BadPayload),
        ({"kind": "malformed", "variant": "content_type"}, BadPayload),
    ],
)
def test_faults_map_to_states_and_never_half_write(
    sb: Sandbox, tmp_path: Path, fault: dict[str, Any], kind: type[SourceError]
) -> None:
    msgs = post_form(sb, 30)
    h = Harness(sb, tmp_path, slack={"page_limit": 10}, max_wait=0 if kind is RateLimited else 60)
    fault = dict(fault)
    match = fault.pop("match", "conversations.history")

    def inject_after_first(batch: Batch) -> None:
        if len(h.batches) == 1:
            sb.slack.faults.add(match, **fault)

    err = h.poll(inject_after_first)
    assert isinstance(err, kind), err
    assert "xoxb-" not in str(err) and SLACK_TOKEN not in str(err)
    # Exactly the first page is stored, with the cursor that points past it.
    assert h.live_ids() == {slack_id(CH, m.ts) for m in msgs[-10:]}
    scan = h.store.cursors("slack")[f"channel:{CH}"]["scan"]
    assert scan["next"] and scan["pages"] == 1

    # The next poll resumes and loses nothing; every message is stored exactly once.
    sb.slack.faults.clear()
    sb.clock.advance(120)
    assert h.poll() is None
    assert h.live_ids() == {slack_id(CH, m.ts) for m in msgs}
    assert Counter(h.emitted_item_ids()).most_common(1)[0][1] == 1


def test_502_then_success_is_retried_with_backoff(sb: Sandbox, tmp_path: Path) -> None:
    msgs = post_form(sb, 2)
    sb.slack.faults.add("conversations.history", status=502, times=2)
    h = Harness(sb, tmp_path)
    assert h.poll() is None
    assert h.sleeps == [1.0, 2.0]
    assert h.live_ids() == {slack_id(CH, m.ts) for m in msgs}


def test_timeout_is_retried(sb: Sandbox, tmp_path: Path) -> None:
    msgs = post_form(sb, 2)
    client = WebClient(token=SLACK_TOKEN, base_url=sb.slack.url, timeout=1)
    sb.slack.faults.add("conversations.history", "timeout", seconds=1.5)
    h = Harness(sb, tmp_path, client=client)
    assert h.poll() is None
    assert h.sleeps == [1.0]
    assert h.live_ids() == {slack_id(CH, m.ts) for m in msgs}


def test_unreachable_server_is_unavailable(sb: Sandbox, tmp_path: Path) -> None:
    h = Harness(sb, tmp_path)
    sb.slack.stop()
    err = h.poll()
    assert isinstance(err, Unavailable)
    assert len(h.sleeps) == 3  # bounded retries with backoff


def test_missing_channel_does_not_stop_the_others(sb: Sandbox, tmp_path: Path) -> None:
    msgs = post_form(sb, 2)
    h = Harness(sb, tmp_path, channels=["C0MISSING", CH])
    err = h.poll()
    assert isinstance(err, NotFound) and "C0MISSING" in err.title
    assert h.live_ids() == {slack_id(CH, m.ts) for m in msgs}


def test_not_in_channel_is_not_found(sb: Sandbox, tmp_path: Path) -> None:
    sb.slack.faults.add("conversations.history", error="not_in_channel")
    h = Harness(sb, tmp_path)
    err = h.poll()
    assert isinstance(err, NotFound) and "not_in_channel" in err.title


def test_rate_limit_while_reading_threads_keeps_the_page(sb: Sandbox, tmp_path: Path) -> None:
    parents = [bot_intake(sb, NOW - timedelta(hours=5 - i), text=f"t{i}") for i in range(3)]
    replies = [sb.slack.state.post(CH, "U0ANA", f"on it {i}", thread_ts=p.ts, at=NOW - timedelta(hours=1))
               for i, p in enumerate(parents)]
    sb.slack.faults.add("conversations.replies", "ratelimited", retry_after=300)
    h = Harness(sb, tmp_path)
    err = h.poll()
    assert isinstance(err, RateLimited)
    assert h.live_ids() == {slack_id(CH, p.ts) for p in parents}  # the page is committed
    pending = h.store.cursors("slack")[f"channel:{CH}"]["pending"]
    assert len(pending) >= 1
    sb.clock.advance(300)
    assert h.poll() is None
    assert {slack_id(CH, r.ts) for r in replies} <= set(h.events())
    assert h.store.cursors("slack")[f"channel:{CH}"]["pending"] == []


def test_non_marketplace_profile_converges(tmp_path: Path) -> None:
    with Sandbox.start(seed=False, now=NOW, slack_profile="non_marketplace") as box:
        msgs = post_form(box, 100)
        h = Harness(box, tmp_path, max_wait=0)
        polls = 0
        while polls < 20:
            polls += 1
            err = h.poll()
            assert err is None or isinstance(err, RateLimited)
            if h.live_ids() == {slack_id(CH, m.ts) for m in msgs}:
                break
            box.clock.advance(61)
        assert h.live_ids() == {slack_id(CH, m.ts) for m in msgs}
        assert polls == 7  # 15 a page, one history call a minute
        assert Counter(h.emitted_item_ids()).most_common(1)[0][1] == 1
        assert all(param(c, "limit") == "200" for c in box.slack.calls.api("conversations.history"))


def test_non_marketplace_profile_converges_in_one_poll_when_waiting(tmp_path: Path) -> None:
    with Sandbox.start(seed=False, now=NOW, slack_profile="non_marketplace") as box:
        msgs = post_form(box, 40)
        waits: list[float] = []

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            box.clock.advance(seconds)

        h = Harness(box, tmp_path, sleep=sleep, max_wait=60)
        assert h.poll() is None
        assert h.live_ids() == {slack_id(CH, m.ts) for m in msgs}
        assert len(waits) == 2 and all(1 <= w <= 60 for w in waits)


# --------------------------------------------------------------------------- doctor, scale


def test_check_reports_identity_and_channels(sb: Sandbox, tmp_path: Path) -> None:
    h = Harness(sb, tmp_path, channels=[CH, "C0MISSING"])
    facts = h.source.check()
    assert facts["team"] and facts["bot_id"] == "B0IDQUEUE1" and facts["user_id"] == APP_USER_ID
    assert facts["channels"][CH].startswith("#vsp-identity")
    assert "channel_not_found" in facts["channels"]["C0MISSING"]
    sb.slack.faults.add("auth.test", "auth")
    with pytest.raises(AuthError):
        h.source.check()


def test_scale_2000_messages_in_pages(sb: Sandbox, tmp_path: Path) -> None:
    # Batch level only (the store's cost is measured by the benchmarks, not here).
    st = sb.slack.state
    with st.lock:
        for i in range(2000):
            at = NOW - timedelta(minutes=2 + i * 10)
            m = st.post(CH, f"U0REQ{(i % 12) + 1:02d}", f"*Type:* Help\n*Details:* bulk {i}", at=at)
            if i % 50 == 0:
                st.post(CH, "U0ANA", "ok", thread_ts=m.ts, at=at + timedelta(minutes=1))
    h = Harness(sb, tmp_path)
    batches = list(h.source.fetch({}))
    items = [i.id for b in batches for i in b.items]
    assert len(items) == len(set(items)) == 2000
    assert len(history_calls(sb)) == 10
    assert len(sb.slack.calls.api("conversations.replies")) == 40
    assert sum(len(b.events) for b in batches) == 40
    assert sum(b.stats.requests for b in batches) == len(sb.slack.calls)
    assert [b.progress for b in batches] == [(n, None) for n in range(1, 11)]


def test_a_malformed_thread_does_not_block_the_channel(sb: Sandbox, tmp_path: Path) -> None:
    parent = bot_intake(sb, NOW - timedelta(hours=3))
    sb.slack.state.post(CH, "U0ANA", "on it", thread_ts=parent.ts, at=NOW - timedelta(hours=2))
    sb.slack.faults.add("conversations.replies", "malformed", times=-1)
    h = Harness(sb, tmp_path, sweep_per_poll=5)
    assert isinstance(h.poll(), BadPayload)
    assert slack_id(CH, parent.ts) in h.live_ids()  # the page was kept
    later = post_form(sb, 1, start=NOW + timedelta(minutes=1))[0]
    sb.clock.advance(300)
    h.poll()
    assert slack_id(CH, later.ts) in h.live_ids()  # history still moves on
    sb.slack.faults.clear()
    sb.clock.advance(60)
    for _ in range(3):
        assert h.poll() is None
        sb.clock.advance(60)
    assert any(e["item_id"] == slack_id(CH, parent.ts) for e in h.events().values())


# --------------------------------------------------------------------------- names after an outage


def test_names_recover_after_a_users_info_outage(sb: Sandbox, tmp_path: Path) -> None:
    # Outside the lookback window: no history re-read and no thread change brings it back.
    parent = bot_intake(sb, NOW - timedelta(days=5))
    reply = sb.slack.state.post(CH, "U0ANA", "On it <@U0REQ09>", thread_ts=parent.ts, at=NOW - timedelta(days=4))
    sb.slack.faults.add("users.info", status=502, times=-1)
    h = Harness(sb, tmp_path)
    assert h.poll() is None  # names never fail the poll
    # One failing lookup (with its retries) per poll, not one per user id.
    assert len(sb.slack.calls.api("users.info")) == 4
    item = h.items()[slack_id(CH, parent.ts)][0]
    assert item.requester is not None and item.requester.name == "unknown user (U0REQ09)"
    ev = h.events()[slack_id(CH, reply.ts)]
    assert (ev["actor_name"], ev["body"]) == ("unknown user (U0ANA)", "On it @unknown user (U0REQ09)")
    entry = stored_requests(h)[parent.ts]
    assert sorted(entry["u"]) == ["U0ANA", "U0REQ09"]

    sb.slack.faults.clear()
    sb.clock.advance(60)
    assert h.poll() is None
    item = h.items()[slack_id(CH, parent.ts)][0]
    assert item.requester is not None and item.requester.name == "Lena Fischer"
    ev = h.events()[slack_id(CH, reply.ts)]
    assert (ev["actor_name"], ev["body"]) == ("Ana Reyes", "On it @Lena Fischer")
    request = h.store.get_request(slack_id(CH, parent.ts))
    assert request is not None and request.requester is not None and request.requester.name == "Lena Fischer"
    assert "u" not in stored_requests(h)[parent.ts]

    # Recovered once: later polls re-read nothing.
    n = len(sb.slack.calls.api("conversations.replies"))
    sb.clock.advance(60)
    assert h.poll() is None
    assert len(sb.slack.calls.api("conversations.replies")) == n


def test_name_rereads_are_bounded_per_poll(sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import idqueue.integrations.slack.source as slack_mod

    monkeypatch.setattr(slack_mod, "NAME_REREADS_PER_POLL", 2)
    parents = [bot_intake(sb, NOW - timedelta(days=5, minutes=i), text=f"t{i}") for i in range(3)]
    sb.slack.faults.add("users.info", status=502, times=-1)
    h = Harness(sb, tmp_path)
    assert h.poll() is None
    sb.slack.faults.clear()
    per_poll = []
    for _ in range(3):
        n = len(sb.slack.calls.api("conversations.replies"))
        sb.clock.advance(60)
        assert h.poll() is None
        per_poll.append(len(sb.slack.calls.api("conversations.replies")) - n)
    assert per_poll == [2, 1, 0]
    names = {h.items()[slack_id(CH, p.ts)][0].requester.name for p in parents}  # type: ignore[union-attr]
    assert names == {"Lena Fischer"}


def test_name_rereads_never_hold_up_new_messages(tmp_path: Path) -> None:
    # Non-Marketplace profile: one conversations.replies call a minute. The re-reads come after
    # the history scan and do not wait out a limit, so a new request still arrives every poll.
    with Sandbox.start(seed=False, now=NOW, slack_profile="non_marketplace") as box:
        parents = [bot_intake(box, NOW - timedelta(days=5, minutes=i), text=f"t{i}") for i in range(3)]
        box.slack.faults.add("users.info", status=502, times=-1)
        h = Harness(box, tmp_path, max_wait=0)
        assert h.poll() is None
        box.slack.faults.clear()
        for i in range(3):
            box.clock.advance(61)
            fresh = box.slack.state.post(CH, "U0REQ02", f"*Type:* Data request\n*Details:* new {i}")
            assert h.poll() is None
            assert slack_id(CH, fresh.ts) in h.live_ids()
        names = {h.items()[slack_id(CH, p.ts)][0].requester.name for p in parents}  # type: ignore[union-attr]
        assert names == {"Lena Fischer"}


def test_a_name_that_does_not_exist_is_not_reread(sb: Sandbox, tmp_path: Path) -> None:
    parent = sb.slack.state.post(CH, "U0GHOST", "*Type:* Bug\n*Details:* who am I", at=NOW - timedelta(days=5))
    sb.slack.faults.add("users.info", status=502, times=-1)
    h = Harness(sb, tmp_path)
    assert h.poll() is None
    sb.slack.faults.clear()
    sb.clock.advance(60)
    assert h.poll() is None  # users.info: user_not_found → resolved for good, one re-read
    item = h.items()[slack_id(CH, parent.ts)][0]
    assert item.requester is not None and item.requester.name == "unknown user (U0GHOST)"
    n_users, n_replies = len(sb.slack.calls.api("users.info")), len(sb.slack.calls.api("conversations.replies"))
    sb.clock.advance(60)
    assert h.poll() is None
    assert len(sb.slack.calls.api("users.info")) == n_users
    assert len(sb.slack.calls.api("conversations.replies")) == n_replies


# --------------------------------------------------------------------------- requests older than history_days


def idqueue_action(sb: Sandbox, parent: SlackMessage, name: str, at: datetime) -> SlackMessage:
    payload = {"action_id": f"a-{name}-{parent.ts}", "action": name, "actor": "ben", "automation": False}
    return sb.slack.state.post(CH, APP_USER_ID, f"{name} by idqueue", thread_ts=parent.ts, at=at,
                               metadata={"event_type": "idqueue_action", "event_payload": payload})


def test_long_open_request_keeps_its_thread_after_history_days(sb: Sandbox, tmp_path: Path) -> None:
    still_open = bot_intake(sb, NOW - timedelta(days=1), text="open")
    closed = bot_intake(sb, NOW - timedelta(days=1, minutes=-5), text="closed")
    idqueue_action(sb, closed, "close", NOW - timedelta(hours=23))
    reopened = bot_intake(sb, NOW - timedelta(days=1, minutes=-10), text="reopened")
    idqueue_action(sb, reopened, "backlog", NOW - timedelta(hours=23))
    idqueue_action(sb, reopened, "reopen", NOW - timedelta(hours=22))
    h = Harness(sb, tmp_path, slack={"history_days": 2}, sweep_per_poll=5)
    assert h.poll() is None

    sb.clock.advance(timedelta(days=3))  # all three are now older than history_days
    assert h.poll() is None
    kept = stored_requests(h)
    assert set(kept) == {still_open.ts, reopened.ts}  # the closed one is no longer watched

    reply = sb.slack.state.post(CH, "U0REQ09", "Still broken, any news?", thread_ts=still_open.ts)
    sb.clock.advance(60)
    assert h.poll() is None
    ev = h.events()[slack_id(CH, reply.ts)]
    assert ev["item_id"] == slack_id(CH, still_open.ts)
    assert h.live_ids() >= {slack_id(CH, still_open.ts), slack_id(CH, reopened.ts)}


def test_old_requests_kept_are_capped_most_recently_active_first(
    sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import idqueue.integrations.slack.source as slack_mod

    monkeypatch.setattr(slack_mod, "MAX_OLD_REQUESTS", 1)
    quiet = bot_intake(sb, NOW - timedelta(hours=20), text="quiet")
    busy = bot_intake(sb, NOW - timedelta(hours=30), text="busy")
    sb.slack.state.post(CH, "U0ANA", "on it", thread_ts=busy.ts, at=NOW - timedelta(hours=1))
    h = Harness(sb, tmp_path, slack={"history_days": 2})
    assert h.poll() is None
    sb.clock.advance(timedelta(days=3))
    assert h.poll() is None
    assert set(stored_requests(h)) == {busy.ts}
    # Dropped from the cursor only: the stored request stays.
    assert slack_id(CH, quiet.ts) in h.live_ids()


# --------------------------------------------------------------------------- client timeout


def test_fractional_timeout_is_kept(sb: Sandbox, tmp_path: Path) -> None:
    msgs = post_form(sb, 1)
    h = Harness(sb, tmp_path, timeout=0.5)
    assert h.source._client.timeout == 0.5
    # A 0.9 s stall outlasts 0.5 s (it would not outlast a timeout rounded up to 1 s).
    sb.slack.faults.add("conversations.history", "timeout", seconds=0.9)
    assert h.poll() is None
    assert h.sleeps == [1.0]
    assert h.live_ids() == {slack_id(CH, m.ts) for m in msgs}
