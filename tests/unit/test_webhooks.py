"""The team service's webhook receivers on a real aiohttp server (loopback), posted to with httpx.

Signatures are computed here independently, by each system's documented recipe, and checked
against the official test vectors (GitHub's "Validating webhook deliveries" example, the vector
of Slack's "Verifying requests from Slack" that slack-sdk's own tests use). GitHub bodies are the
examples GitHub documents (``tests/specs/github-webhooks/``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from trello_env import trello_world

from idqueue.config import ConfigError, Settings, load_settings
from idqueue.integrations.base import PollHints
from idqueue.integrations.slack.socket import event_item_ids
from idqueue.integrations.trello.source import TrelloSource
from idqueue.sandbox import seed
from idqueue.sandbox.runner import Sandbox
from idqueue.service import webhooks as webhooks_mod
from idqueue.service.webhooks import STAT_KEYS, SYSTEMS, WebhookReceivers, _SeenIds, hub_signature
from idqueue.store.db import Store
from idqueue.sync import ReadFirst, SyncEngine, build_sources

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
WAIT = 20.0
SPECS = Path(__file__).resolve().parents[1] / "specs" / "github-webhooks"

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
GITHUB_SECRET = "It's a Secret to Everybody"
TRELLO_SECRET = "4f1e0d2c3b5a69788796a5b4c3d2e1f0"
JIRA_SECRET = "jira-webhook-secret-7d1c"
PUBLIC_URL = "https://idqueue.example.org"
TRELLO_CALLBACK = f"{PUBLIC_URL}/hooks/trello"
SECRETS = (SLACK_SECRET, GITHUB_SECRET, TRELLO_SECRET, JIRA_SECRET)

CH = "C0INTAKE"
REPO = "Codertocat/Hello-World"
JIRA_SITE = "https://acme.atlassian.net"
CARD = "5f0b1c2d3e4f5a6b7c8d9e0f"
MARKER = "body-marker-6b1f"
"""Text placed in bodies; it must never reach a log line."""


# --------------------------------------------------------------------------- the server


class LiveServer:
    """An aiohttp app with the receivers' routes, on a free loopback port, in its own thread."""

    def __init__(self, routes: list[web.RouteDef]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-webhooks", daemon=True)
        self.thread.start()
        self.runner = self._call(self._start(routes))
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=WAIT)

    async def _stop(self) -> None:
        await self.runner.cleanup()
        # Connections the tests left half-sent (the raw socket ones) still have a handler task.
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _start(self, routes: list[web.RouteDef]) -> web.AppRunner:
        app = web.Application()
        app.add_routes(routes)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return runner

    def stop(self) -> None:
        self._call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()


@dataclass
class Hooks:
    """Receivers on a live server, what they noted and whom they woke."""

    receivers: WebhookReceivers
    server: LiveServer
    read_first: ReadFirst
    woken: list[str] = field(default_factory=list)
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=WAIT))

    def post(self, system: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.client.post(f"{self.server.url}/hooks/{system}", content=body,
                                headers={"Content-Type": "application/json", **headers})

    def noted(self) -> tuple[str, ...]:
        return tuple(i for prefix in ("slack:", "gh:", "trello:", "jira:") for i in self.read_first.take(prefix))

    def stat(self, system: str) -> dict[str, int]:
        return {k: v for k, v in self.receivers.stats[system].items() if v}


def settings_for(trello: dict[str, Any] | None = None, **webhooks: Any) -> Settings:
    """Every secret set (``name=None`` unsets one), one watched channel, repo and Jira site."""
    hooks: dict[str, Any] = {"slack_signing_secret": SLACK_SECRET, "github_secret": GITHUB_SECRET,
                             "trello_secret": TRELLO_SECRET, "jira_secret": JIRA_SECRET,
                             "public_url": PUBLIC_URL}
    hooks.update(webhooks)
    return Settings(webhooks={k: v for k, v in hooks.items() if v is not None},
                    slack={"channels": [CH]}, github={"repos": [REPO]},
                    jira={"base_url": JIRA_SITE, "project": "SUP"}, trello=trello or {})


@pytest.fixture
def start(isolated_settings_env: Path) -> Iterator[Callable[..., Hooks]]:
    started: list[Hooks] = []

    def _start(settings: Settings | None = None, clock: Callable[[], datetime] = lambda: NOW) -> Hooks:
        read_first = ReadFirst()
        woken: list[str] = []
        receivers = WebhookReceivers(settings or settings_for(), read_first, woken.append, clock=clock)
        hooks = Hooks(receivers, LiveServer(receivers.routes()), read_first, woken)
        started.append(hooks)
        return hooks

    yield _start
    for hooks in started:
        hooks.client.close()
        hooks.server.stop()


@pytest.fixture
def hooks(start: Callable[..., Hooks]) -> Hooks:
    return start()


# --------------------------------------------------------------------------- signing (reference)


def slack_headers(body: bytes, *, at: datetime = NOW, secret: str = SLACK_SECRET, **extra: str) -> dict[str, str]:
    """Slack's recipe: ``v0=`` HMAC-SHA256 of ``v0:<timestamp>:<body>``."""
    ts = str(int(at.timestamp()))
    mac = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={mac}", **extra}


def hub(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_headers(body: bytes, event: str, delivery: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                   secret: str = GITHUB_SECRET) -> dict[str, str]:
    return {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": hub(body, secret),
            "User-Agent": "GitHub-Hookshot/044aadd"}


def trello_headers(body: bytes, url: str = TRELLO_CALLBACK, secret: str = TRELLO_SECRET) -> dict[str, str]:
    mac = hmac.new(secret.encode(), body + url.encode(), hashlib.sha1).digest()
    return {"X-Trello-Webhook": base64.b64encode(mac).decode()}


def jira_headers(body: bytes, identifier: str = "1f5b3c2e-0a1d-4c8e-9d55-6f7e8a9b0c1d",
                 secret: str = JIRA_SECRET) -> dict[str, str]:
    return {"X-Hub-Signature": hub(body, secret), "X-Atlassian-Webhook-Identifier": identifier,
            "X-Atlassian-Webhook-Retry": "0", "X-Atlassian-Webhook-Flow": "Primary"}


# --------------------------------------------------------------------------- bodies


def slack_event(event: dict[str, Any], event_id: str = "Ev0PV52K21") -> bytes:
    """An Events API ``event_callback`` envelope, as Slack's documentation shows it."""
    return json.dumps({
        "token": "XXYYZZ", "team_id": "T0001", "api_app_id": "A0001", "event": event,
        "type": "event_callback", "event_id": event_id, "event_time": 1773242000,
        "authed_users": ["U0BOT"],
    }).encode()


def slack_message(ts: str = "1773241000.000200", **fields: Any) -> dict[str, Any]:
    return {"type": "message", "channel": CH, "user": "U0ANA", "text": f"Need help {MARKER}", "ts": ts,
            "event_ts": ts, "channel_type": "channel", **fields}


def github_payload(name: str) -> bytes:
    return (SPECS / f"{name}.json").read_bytes()


def trello_action(card_id: str = CARD, action_id: str = "6a0b0c0d0e0f101112131415") -> bytes:
    return json.dumps({
        "action": {"id": action_id, "idMemberCreator": "5e0f", "type": "updateCard",
                   "date": "2026-03-11T15:29:00.000Z",
                   "data": {"card": {"id": card_id, "name": f"Export fails {MARKER}", "idShort": 7,
                                     "shortLink": "AbCd1234"},
                            "listBefore": {"id": "5f0c", "name": "New Issues"},
                            "listAfter": {"id": "5f0d", "name": "Up next"},
                            "board": {"id": "5f0a", "name": "Acme Support", "shortLink": "QwEr5678"},
                            "old": {"idList": "5f0c"}}},
        "model": {"id": "5f0a", "name": "Acme Support"},
        "webhook": {"id": "5f0e", "idModel": "5f0a", "callbackURL": TRELLO_CALLBACK, "active": True},
    }).encode()


def jira_event(event: str = "jira:issue_updated", key: str = "SUP-12") -> bytes:
    """A Jira Cloud webhook body (``webhookEvent``, ``issue`` with ``self`` and ``key``)."""
    body: dict[str, Any] = {
        "timestamp": 1773242000000, "webhookEvent": event, "issue_event_type_name": "issue_generic",
        "user": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Ana Reyes"},
        "issue": {"id": "10012", "self": f"{JIRA_SITE}/rest/api/2/10012", "key": key,
                  "fields": {"summary": f"Cannot sign in {MARKER}"}},
    }
    if event.startswith("comment_"):
        body["comment"] = {"id": "10100", "body": f"More detail {MARKER}"}
    return json.dumps(body).encode()


# --------------------------------------------------------------------------- official vectors


def test_the_hub_signature_matches_githubs_documented_example() -> None:
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert hub_signature(b"Hello, World!", "It's a Secret to Everybody") == expected
    assert hub(b"Hello, World!", "It's a Secret to Everybody") == expected


def test_slacks_documented_request_passes_the_signature_check(start: Callable[..., Hooks]) -> None:
    """The documented request (a slash command, so not an Events API body) is genuinely signed:
    it gets past the signature and is refused only as malformed; one changed byte is a forgery."""
    hooks = start(clock=lambda: datetime.fromtimestamp(1531420618, UTC))
    body = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
            b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
            b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
            b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    headers = {"X-Slack-Request-Timestamp": "1531420618",
               "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
               "Content-Type": "application/x-www-form-urlencoded"}
    assert hooks.post("slack", body, headers).status_code == 400
    assert hooks.stat("slack") == {"refused_malformed": 1}
    assert hooks.post("slack", body.replace(b"roadrunner", b"roadrunnes"), headers).status_code == 401
    assert hooks.stat("slack") == {"refused_malformed": 1, "refused_signature": 1}
    assert hooks.noted() == () and hooks.woken == []


# --------------------------------------------------------------------------- configuration


def test_only_systems_with_a_secret_are_mounted(start: Callable[..., Hooks]) -> None:
    hooks = start(settings_for(slack_signing_secret=None, trello_secret=None, jira_secret=None))
    assert hooks.receivers.systems == ("github",)
    assert [(r.method, r.path) for r in hooks.receivers.routes()] == [("POST", "/hooks/github")]
    body = slack_event(slack_message())
    assert hooks.post("slack", body, slack_headers(body)).status_code == 404
    assert set(hooks.receivers.stats) == set(SYSTEMS)
    assert all(set(counts) == set(STAT_KEYS) for counts in hooks.receivers.stats.values())


def test_the_webhooks_section_reads_the_environment(isolated_settings_env: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"SLACK_SIGNING_SECRET": "s1gning", "GITHUB_SECRET": "gh-hook", "TRELLO_SECRET": "tr-app",
           "JIRA_SECRET": "ji-hook", "PUBLIC_URL": "https://hooks.example.org/idqueue/", "MAX_BODY": "65536"}
    for key, value in env.items():
        monkeypatch.setenv(f"IDQUEUE_WEBHOOKS__{key}", value)
    hooks = load_settings().webhooks
    assert hooks.slack_signing_secret is not None and hooks.slack_signing_secret.get_secret_value() == "s1gning"
    assert "gh-hook" not in repr(hooks) and "tr-app" not in str(hooks)
    assert hooks.public_url == "https://hooks.example.org/idqueue" and hooks.max_body == 65536
    monkeypatch.setenv("IDQUEUE_WEBHOOKS__PUBLIC_URL", "hooks.example.org")
    with pytest.raises(ConfigError, match=r"webhooks\.public_url"):
        load_settings()
    monkeypatch.setenv("IDQUEUE_WEBHOOKS__PUBLIC_URL", "https://hooks.example.org")
    monkeypatch.setenv("IDQUEUE_WEBHOOKS__GITHUB_SECRT", "typo")
    with pytest.raises(ConfigError, match="unknown key"):
        load_settings()


def test_a_trello_secret_needs_the_public_url(isolated_settings_env: Path) -> None:
    with pytest.raises(ConfigError, match="public_url"):
        WebhookReceivers(settings_for(public_url=None), ReadFirst(), lambda _: None)


def test_the_trello_settings_of_the_trello_section_are_used_too(start: Callable[..., Hooks]) -> None:
    url = "https://proxy.example.org/trello-hook?team=made"
    hooks = start(settings_for({"webhook_secret": TRELLO_SECRET, "callback_url": url},
                               trello_secret=None, public_url=None))
    body = trello_action()
    assert hooks.post("trello", body, trello_headers(body, url)).status_code == 200
    assert hooks.noted() == (f"trello:{CARD}",)


# --------------------------------------------------------------------------- Slack


def test_the_shared_slack_mapping() -> None:
    parent, reply = "1773241000.000200", "1773241100.000300"
    cases = [
        (slack_message(), f"slack:{CH}/1773241000.000200"),
        (slack_message(reply, thread_ts=parent), f"slack:{CH}/{parent}"),
        ({"type": "message", "subtype": "message_changed", "channel": CH, "ts": "1773242000.000900",
          "message": {"type": "message", "user": "U0ANA", "text": "edited", "ts": parent}},
         f"slack:{CH}/{parent}"),
        ({"type": "message", "subtype": "message_changed", "channel": CH, "ts": "1773242000.000900",
          "message": {"type": "message", "text": "edited reply", "ts": reply, "thread_ts": parent}},
         f"slack:{CH}/{parent}"),
        ({"type": "message", "subtype": "message_deleted", "channel": CH, "ts": "1773242000.000900",
          "deleted_ts": parent, "previous_message": {"type": "message", "text": "gone", "ts": parent}},
         f"slack:{CH}/{parent}"),
        ({"type": "reaction_added", "user": "U0BEN", "reaction": "ticket", "event_ts": "1773242000.000900",
          "item": {"type": "message", "channel": CH, "ts": parent}, "item_user": "U0ANA"},
         f"slack:{CH}/{parent}"),
    ]
    for event, expected in cases:
        assert event_item_ids(json.loads(slack_event(event)), {CH}) == (expected,), event
    assert event_item_ids(json.loads(slack_event({**slack_message(), "channel": "C0OTHER"})), {CH}) == ()
    assert event_item_ids({"type": "url_verification", "challenge": "x"}, {CH}) == ()


def test_a_slack_event_notes_its_thread_and_wakes_the_poll_once(hooks: Hooks) -> None:
    body = slack_event(slack_message("1773241100.000300", thread_ts="1773241000.000200"))
    answer = hooks.post("slack", body, slack_headers(body))
    assert answer.status_code == 200 and answer.json() == {"ok": True}
    assert hooks.noted() == (f"slack:{CH}/1773241000.000200",)
    assert hooks.woken == ["slack"]
    assert hooks.stat("slack") == {"accepted": 1}


def test_slacks_retry_of_an_accepted_event_is_answered_without_a_second_wake(hooks: Hooks) -> None:
    body = slack_event(slack_message())
    assert hooks.post("slack", body, slack_headers(body)).status_code == 200
    hooks.noted()
    later = NOW + timedelta(seconds=61)  # Slack signs each retry afresh
    retry = slack_headers(body, at=later, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    hooks.receivers.clock = lambda: later
    answer = hooks.post("slack", body, retry)
    assert answer.status_code == 200 and answer.json()["duplicate"] is True
    assert hooks.noted() == () and hooks.woken == ["slack"]
    assert hooks.stat("slack") == {"accepted": 1, "refused_replay": 1}


@pytest.mark.parametrize("skew", [timedelta(minutes=-5, seconds=-1), timedelta(minutes=5, seconds=1)])
def test_a_slack_request_signed_more_than_five_minutes_away_is_a_replay(hooks: Hooks, skew: timedelta) -> None:
    body = slack_event(slack_message())
    answer = hooks.post("slack", body, slack_headers(body, at=NOW + skew))
    assert answer.status_code == 409
    assert hooks.noted() == () and hooks.woken == []
    assert hooks.stat("slack") == {"refused_replay": 1}
    # Within the window it is fine (and a forgery outside it is a bad signature, not a replay).
    assert hooks.post("slack", body, slack_headers(body, at=NOW - timedelta(minutes=4))).status_code == 200
    forged = slack_headers(body, at=NOW + skew, secret="not-the-secret")
    assert hooks.post("slack", slack_event(slack_message(), "Ev2"), forged).status_code == 401


def test_slacks_url_check_is_answered_only_when_signed(hooks: Hooks) -> None:
    body = json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"}).encode()
    answer = hooks.post("slack", body, slack_headers(body))
    assert answer.status_code == 200
    assert answer.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    unsigned = hooks.post("slack", body, {})
    assert unsigned.status_code == 401 and "3eZbrw1a" not in unsigned.text
    assert hooks.woken == [] and hooks.noted() == ()


def test_slack_events_elsewhere_are_accepted_and_ignored(hooks: Hooks) -> None:
    for n, event in enumerate([{**slack_message(), "channel": "C0OTHER"},
                               {"type": "app_home_opened", "user": "U0ANA", "channel": CH}]):
        body = slack_event(event, f"Ev{n}")
        assert hooks.post("slack", body, slack_headers(body)).status_code == 200
    body = json.dumps({"token": "x", "team_id": "T0001", "minute_rate_limited": 1518467820,
                       "api_app_id": "A0001", "type": "app_rate_limited"}).encode()
    assert hooks.post("slack", body, slack_headers(body)).status_code == 200
    assert hooks.noted() == () and hooks.woken == []
    assert hooks.stat("slack") == {"accepted": 3}


# --------------------------------------------------------------------------- GitHub


@pytest.mark.parametrize(("name", "event"), [("issues.opened", "issues"), ("issue_comment.created", "issue_comment")])
def test_a_github_issue_event_notes_the_issue(hooks: Hooks, name: str, event: str) -> None:
    body = github_payload(name)
    answer = hooks.post("github", body, github_headers(body, event))
    assert answer.status_code == 200
    assert hooks.noted() == (f"gh:{REPO}#1",)
    assert hooks.woken == ["github"]
    assert hooks.stat("github") == {"accepted": 1}


def test_a_form_encoded_github_delivery_is_read_too(hooks: Hooks) -> None:
    body = ("payload=" + urllib.parse.quote(github_payload("issues.opened").decode())).encode()
    headers = {**github_headers(body, "issues"), "Content-Type": "application/x-www-form-urlencoded"}
    assert hooks.client.post(f"{hooks.server.url}/hooks/github", content=body, headers=headers).status_code == 200
    assert hooks.noted() == (f"gh:{REPO}#1",)


def test_github_ping_pull_requests_and_other_repos_wake_nothing(hooks: Hooks) -> None:
    ping = github_payload("ping")
    assert hooks.post("github", ping, github_headers(ping, "ping", "d1")).status_code == 200
    pr = json.loads(github_payload("issue_comment.created"))
    pr["issue"]["pull_request"] = {"url": f"https://api.github.com/repos/{REPO}/pulls/1"}
    other = json.loads(github_payload("issues.opened"))
    other["repository"]["full_name"] = "Codertocat/Elsewhere"
    for n, (payload, event) in enumerate([(pr, "issue_comment"), (other, "issues")]):
        body = json.dumps(payload).encode()
        assert hooks.post("github", body, github_headers(body, event, f"d{n + 2}")).status_code == 200
    assert hooks.noted() == () and hooks.woken == []
    label = github_payload("label.created")  # a label change may re-label issues: poll, nothing to name
    assert hooks.post("github", label, github_headers(label, "label", "d9")).status_code == 200
    assert hooks.noted() == () and hooks.woken == ["github"]
    assert hooks.stat("github") == {"accepted": 4}


def test_a_github_delivery_seen_before_is_not_applied_again(hooks: Hooks) -> None:
    body = github_payload("issues.opened")
    assert hooks.post("github", body, github_headers(body, "issues")).status_code == 200
    hooks.noted()
    again = hooks.post("github", body, github_headers(body, "issues"))
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert hooks.noted() == () and hooks.woken == ["github"]
    assert hooks.stat("github") == {"accepted": 1, "refused_replay": 1}


def test_a_refused_delivery_does_not_burn_its_id(hooks: Hooks) -> None:
    """Only an accepted delivery's id is remembered: a forgery that copies a real id cannot make
    the genuine delivery look like a replay."""
    body = github_payload("issues.opened")
    assert hooks.post("github", body, github_headers(body, "issues", secret="guess")).status_code == 401
    assert hooks.post("github", body, github_headers(body, "issues")).status_code == 200
    assert hooks.noted() == (f"gh:{REPO}#1",)


def test_the_memory_of_delivery_ids_is_bounded() -> None:
    seen = _SeenIds(limit=3)
    for delivery in ("a", "b", "c", "d"):
        seen.add(delivery)
    assert "a" not in seen and all(d in seen for d in "bcd")


# --------------------------------------------------------------------------- Trello


def test_trellos_check_of_the_callback_url_is_answered(hooks: Hooks) -> None:
    assert hooks.client.head(f"{hooks.server.url}/hooks/trello").status_code == 200
    assert hooks.woken == [] and hooks.stat("trello") == {}


def test_a_trello_card_action_notes_the_card(hooks: Hooks) -> None:
    body = trello_action()
    assert hooks.post("trello", body, trello_headers(body)).status_code == 200
    assert hooks.noted() == (f"trello:{CARD}",) and hooks.woken == ["trello"]
    again = hooks.post("trello", body, trello_headers(body))  # Trello retries a failed call
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert hooks.noted() == () and hooks.woken == ["trello"]
    assert hooks.stat("trello") == {"accepted": 1, "refused_replay": 1}


def test_a_trello_signature_over_another_callback_url_is_refused(hooks: Hooks) -> None:
    body = trello_action()
    answer = hooks.post("trello", body, trello_headers(body, "https://elsewhere.example.org/hooks/trello"))
    assert answer.status_code == 401
    assert hooks.noted() == () and hooks.woken == []


# --------------------------------------------------------------------------- Jira


@pytest.mark.parametrize("event", ["jira:issue_created", "jira:issue_updated", "comment_created"])
def test_a_jira_event_notes_the_issue(hooks: Hooks, event: str) -> None:
    body = jira_event(event)
    assert hooks.post("jira", body, jira_headers(body)).status_code == 200
    assert hooks.noted() == ("jira:acme.atlassian.net/SUP-12",) and hooks.woken == ["jira"]


def test_jiras_retry_with_the_same_identifier_is_not_applied_again(hooks: Hooks) -> None:
    body = jira_event()
    assert hooks.post("jira", body, jira_headers(body)).status_code == 200
    hooks.noted()
    retry = {**jira_headers(body), "X-Atlassian-Webhook-Retry": "1"}
    assert hooks.post("jira", body, retry).status_code == 200
    assert hooks.noted() == () and hooks.woken == ["jira"]
    assert hooks.stat("jira") == {"accepted": 1, "refused_replay": 1}


def test_a_jira_issue_key_that_is_not_one_is_malformed(hooks: Hooks) -> None:
    body = jira_event(key="../../etc")
    assert hooks.post("jira", body, jira_headers(body)).status_code == 400
    assert hooks.noted() == () and hooks.woken == []


# --------------------------------------------------------------------------- refusals, every system


def signed(system: str, body: bytes) -> dict[str, str]:
    """Good signature headers of ``body`` for ``system``."""
    return {"slack": slack_headers, "github": lambda b: github_headers(b, "issues"),
            "trello": trello_headers, "jira": jira_headers}[system](body)


def good_body(system: str) -> bytes:
    return {"slack": lambda: slack_event(slack_message()), "github": lambda: github_payload("issues.opened"),
            "trello": trello_action, "jira": jira_event}[system]()


SIGNATURE_HEADER = {"slack": "X-Slack-Signature", "github": "X-Hub-Signature-256",
                    "trello": "X-Trello-Webhook", "jira": "X-Hub-Signature"}


@pytest.mark.parametrize("system", SYSTEMS)
def test_unsigned_forged_and_malformed_deliveries_are_refused(hooks: Hooks, system: str,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="idqueue.service.webhooks")
    body = good_body(system)
    headers = signed(system, body)
    missing = {k: v for k, v in headers.items() if k != SIGNATURE_HEADER[system]}
    assert hooks.post(system, body, missing).status_code == 401
    assert hooks.post(system, body.replace(b"1", b"2", 1), headers).status_code == 401  # body changed
    other = {**headers, SIGNATURE_HEADER[system]: signed_with_other_secret(system, body, headers)}
    assert hooks.post(system, body, other).status_code == 401
    for garbage in (b"{not json " + MARKER.encode(), b'["a", "list"]', b"\xff\xfe" + MARKER.encode()):
        assert hooks.post(system, garbage, signed(system, garbage)).status_code in (400, 401)
    assert hooks.noted() == () and hooks.woken == []
    counts = hooks.stat(system)
    assert counts["refused_signature"] >= 3 and sum(counts.values()) == 6 and "accepted" not in counts
    refusals = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(refusals) == 6 and all("\n" not in r.getMessage() for r in refusals)
    assert all(f"webhook {system} refused" in r.getMessage() for r in refusals)
    logged = caplog.text
    assert MARKER not in logged and "Need help" not in logged
    assert not any(s in logged for s in SECRETS)
    assert not any(v in logged for v in (*headers.values(), *other.values()) if len(v) > 20 and "-" not in v)


def signed_with_other_secret(system: str, body: bytes, headers: dict[str, str]) -> str:
    if system == "slack":
        return slack_headers(body, secret="0" * 32)["X-Slack-Signature"]
    if system == "trello":
        return trello_headers(body, secret="0" * 32)["X-Trello-Webhook"]
    return hub(body, "0" * 32)


@pytest.mark.parametrize("system", SYSTEMS)
def test_an_oversized_delivery_is_refused_unread(start: Callable[..., Hooks], system: str) -> None:
    hooks = start(settings_for(max_body=4096))
    event = {"slack": lambda: slack_event(slack_message(text="x" * 8000)),
             "github": lambda: json.dumps({**json.loads(github_payload("issues.opened")), "pad": "x" * 8000}).encode(),
             "trello": lambda: trello_action()[:-1] + b',"pad":"' + b"x" * 8000 + b'"}',
             "jira": lambda: jira_event()[:-1] + b',"pad":"' + b"x" * 8000 + b'"}'}
    body = event[system]()
    assert hooks.post(system, body, signed(system, body)).status_code == 413
    # Chunked, without a Content-Length: refused once the limit is passed.
    chunks = iter([body[i:i + 1000] for i in range(0, len(body), 1000)])
    answer = hooks.client.post(f"{hooks.server.url}/hooks/{system}", content=chunks,
                               headers={**signed(system, body), "Content-Type": "application/json"})
    assert answer.status_code == 413
    assert hooks.noted() == () and hooks.woken == []
    assert hooks.stat(system) == {"refused_size": 2}


def raw_exchange(url: str, head: bytes, body: bytes) -> bytes:
    """Send ``head`` and ``body`` over a plain socket without ever finishing the body; the reply."""
    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    with socket.create_connection((host, port), timeout=WAIT) as sock:
        sock.sendall(head + body)
        return sock.recv(65536)


def test_the_limit_is_enforced_before_the_body_arrives(start: Callable[..., Hooks]) -> None:
    """A declared length over the limit is refused before any of the body is sent, and a chunked
    body as soon as it passes the limit: the answer comes while the sender is still sending."""
    hooks = start(settings_for(max_body=4096))
    declared = (b"POST /hooks/github HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                b"Content-Length: 104857600\r\n\r\n")
    assert raw_exchange(hooks.server.url, declared, b"").startswith(b"HTTP/1.1 413")
    chunked = (b"POST /hooks/slack HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"1000\r\n" + b"x" * 4096 + b"\r\n"
    assert raw_exchange(hooks.server.url, chunked, chunk * 2).startswith(b"HTTP/1.1 413")
    assert hooks.stat("github") == {"refused_size": 1} and hooks.stat("slack") == {"refused_size": 1}


def test_a_failing_wake_does_not_fail_the_delivery(start: Callable[..., Hooks],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    hooks = start()

    def broken(system: str) -> None:
        raise RuntimeError("scheduler gone")

    hooks.receivers.wake = broken
    body = jira_event()
    assert hooks.post("jira", body, jira_headers(body)).status_code == 200
    assert hooks.noted() == ("jira:acme.atlassian.net/SUP-12",)
    assert "waking the jira poll failed" in caplog.text


# --------------------------------------------------------------------------- a hint, never the truth


def sandbox_now_iso() -> str:
    return NOW.isoformat()


def test_a_signed_but_lying_delivery_only_makes_the_poll_read_the_truth(sandbox: Sandbox, tmp_path: Path,
                                                                        start: Callable[..., Hooks]) -> None:
    """The sandbox's GitHub and Slack behind a sync engine: deliveries that are genuinely signed but
    say something false (a renamed issue, a thread that changed) are turned into ids and a wake;
    the poll they cause reads the systems, so the queue shows what the systems say, and every id
    noted is spent by that poll (GitHub's ``gh:`` ids included)."""
    settings = Settings(**sandbox.settings_overrides(), db=tmp_path / "hooks.db", now=sandbox_now_iso(),
                        webhooks={"github_secret": GITHUB_SECRET, "slack_signing_secret": SLACK_SECRET})
    store = Store.open(settings.db)
    try:
        engine = SyncEngine(store, build_sources(settings), settings)
        assert not engine.poll().errors
        issue = next(r for r in store.list_requests(now=NOW) if r.id.startswith(f"gh:{seed.SUPPORT_REPO}#"))
        hooks = start(settings, clock=lambda: NOW)
        engine.read_first = hooks.read_first
        repo, number = issue.id.removeprefix("gh:").split("#")
        payload = json.loads(github_payload("issues.opened"))
        payload["repository"]["full_name"] = repo
        payload["issue"].update(number=int(number), title=f"Forged title {MARKER}", state="closed")
        body = json.dumps(payload).encode()
        assert hooks.post("github", body, github_headers(body, "issues")).status_code == 200
        thread = next(r for r in store.list_requests(now=NOW) if r.id.startswith(f"slack:{seed.CHANNEL}/"))
        ts = thread.id.rpartition("/")[2]
        event = slack_event({**slack_message("1773300000.000100", thread_ts=ts), "channel": seed.CHANNEL})
        assert hooks.post("slack", event, slack_headers(event)).status_code == 200
        assert hooks.woken == ["github", "slack"] and len(hooks.read_first) == 2
        assert not engine.poll().errors
        after = store.get_request(issue.id)
        assert after is not None and after.title == issue.title and after.status == issue.status
        assert len(hooks.read_first) == 0  # spent by the poll they woke
    finally:
        store.close()


def test_a_trello_card_a_delivery_names_is_not_adopted(tmp_path: Path) -> None:
    """The Trello reader reads only idqueue's cards (footer) and cards an open request links to;
    a card a delivery merely names stays out of the queue."""
    with trello_world() as world:
        board = world.boards["acme"]
        card = world.state.create_card(world.state.list_named(board, "Up next").id, "Someone else's", "")
        reader = TrelloSource(world.settings(tmp_path / "db.sqlite"), clock=world.clock, timeout=2.0)
        reader.prepare(PollHints(read_first=(f"trello:{card.id}",)))
        items = [i for batch in reader.fetch({}) for i in batch.items]
        assert f"trello:{card.id}" not in [i.id for i in items]


def test_a_body_that_never_arrives_is_refused(start: Callable[..., Hooks], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhooks_mod, "BODY_TIMEOUT", 0.2)
    hooks = start()
    head = (b"POST /hooks/jira HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n")
    assert raw_exchange(hooks.server.url, head, b'{"webhookEvent"').startswith(b"HTTP/1.1 408")
    assert hooks.stat("jira") == {"refused_malformed": 1} and hooks.woken == []
