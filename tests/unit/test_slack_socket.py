"""Slack Socket Mode: the real slack-sdk ``SocketModeClient`` against the emulator's WebSocket link.

Waits are bounded waits on conditions (the emulator's acks and connections, the client's health
reports), never fixed sleeps; the debounce timer is a manual scheduler the test fires itself.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from idqueue.config import Settings
from idqueue.integrations.slack.socket import (
    Debouncer,
    LiveHealth,
    LiveState,
    SlackEvents,
    is_relevant,
    socket_mode_configured,
)
from idqueue.sandbox import seed
from idqueue.sandbox.runner import Sandbox
from idqueue.sandbox.slack_emulator import SLACK_APP_TOKEN, SLACK_TOKEN
from idqueue.sandbox.websocket import (
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    ProtocolError,
    accept_key,
    encode_frame,
    read_frame,
)
from idqueue.store.db import Store
from idqueue.sync import SyncEngine, build_sources

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
CH = seed.CHANNEL
OTHER = "C0OFFTOPIC"
WAIT = 20.0


# --------------------------------------------------------------------------- helpers


class ManualSchedule:
    """A debounce scheduler that only runs what it was given when the test says so."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.pending: list[Callable[[], None]] = []
        self.delays: list[float] = []

    def __call__(self, delay: float, fn: Callable[[], None]) -> Callable[[], None]:
        with self._lock:
            self.pending.append(fn)
            self.delays.append(delay)

        def cancel() -> None:
            with self._lock:
                if fn in self.pending:
                    self.pending.remove(fn)

        return cancel

    def count(self) -> int:
        with self._lock:
            return len(self.pending)

    def fire(self) -> None:
        with self._lock:
            due, self.pending = self.pending, []
        for fn in due:
            fn()


class HealthLog:
    """Collects the client's health reports; waits on them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.reports: list[LiveHealth] = []

    def __call__(self, health: LiveHealth) -> None:
        with self._cond:
            self.reports.append(health)
            self._cond.notify_all()

    def wait(self, predicate: Callable[[LiveHealth], bool], what: str) -> LiveHealth:
        with self._cond:
            ok = self._cond.wait_for(lambda: bool(self.reports) and predicate(self.reports[-1]), timeout=WAIT)
            assert ok, f"timed out waiting for {what}; reports: {[h.describe() for h in self.reports]}"
            return self.reports[-1]

    @property
    def states(self) -> list[LiveState]:
        with self._cond:
            return [h.state for h in self.reports]


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    box = Sandbox.start(seed=False, now=NOW)
    box.slack.state.add_channel(OTHER, "random")
    try:
        yield box
    finally:
        box.stop()


def settings_for(sb: Sandbox, tmp_path: Path, **slack: Any) -> Settings:
    overrides = sb.settings_overrides()
    overrides["slack"] = {**overrides["slack"], **slack}
    return Settings(**overrides, db=tmp_path / "socket.db", now=NOW.isoformat())


@dataclass
class Live:
    """A started client on the sandbox and what it reported."""

    events: SlackEvents
    health: HealthLog
    schedule: ManualSchedule
    calls: list[int]


@pytest.fixture
def live(sb: Sandbox, tmp_path: Path) -> Iterator[Live]:
    """A connected client; ``calls`` grows by one per (debounced) ``on_event``."""
    calls: list[int] = []
    health = HealthLog()
    schedule = ManualSchedule()
    events = SlackEvents(settings_for(sb, tmp_path), lambda: calls.append(1), on_health=health,
                         # Short pings make reconnects quick; the SDK calls a link stale only after
                         # 4 intervals without a pong, which even a loaded test machine does not hit.
                         schedule=schedule, ping_interval=1.0, watch_interval=0.05)
    events.start()
    try:
        health.wait(lambda h: h.live, "connected")
        yield Live(events, health, schedule, calls)
    finally:
        events.stop()


def acked(sb: Sandbox, n: int) -> None:
    hub = sb.slack.socket
    assert hub.wait_for(lambda h: len(h.acks) >= n, timeout=WAIT), f"acks: {len(hub.acks)} of {n}"


# --------------------------------------------------------------------------- pure parts


def test_relevant_events_are_changes_in_configured_channels() -> None:
    def payload(event: dict[str, Any]) -> dict[str, Any]:
        return {"type": "event_callback", "event": event}

    channels = {CH}
    assert is_relevant(payload({"type": "message", "channel": CH, "text": "hi"}), channels)
    assert is_relevant(payload({"type": "message", "subtype": "message_deleted", "channel": CH}), channels)
    assert is_relevant(payload({"type": "reaction_added", "item": {"type": "message", "channel": CH}}), channels)
    assert not is_relevant(payload({"type": "message", "channel": OTHER}), channels)
    assert not is_relevant(payload({"type": "reaction_removed", "item": {"channel": OTHER}}), channels)
    assert not is_relevant(payload({"type": "app_home_opened", "channel": CH}), channels)
    assert not is_relevant({"type": "url_verification", "event": {"type": "message", "channel": CH}}, channels)
    assert not is_relevant({"type": "event_callback", "event": "garbage"}, channels)
    assert is_relevant(payload({"type": "message", "channel": OTHER}), set())  # no filter configured


def test_debouncer_calls_once_per_window_and_after_every_trigger() -> None:
    schedule = ManualSchedule()
    calls: list[int] = []
    debouncer = Debouncer(lambda: calls.append(1), 1.0, schedule)
    for _ in range(5):
        debouncer.trigger()
    assert schedule.count() == 1 and schedule.delays == [1.0] and calls == []
    schedule.fire()
    assert calls == [1] and not debouncer.pending
    debouncer.trigger()  # a change after the call opens a new window
    schedule.fire()
    assert calls == [1, 1]
    debouncer.trigger()
    debouncer.close()  # stopping cancels what is pending and ignores later triggers
    debouncer.trigger()
    schedule.fire()
    assert calls == [1, 1] and schedule.count() == 0


def test_debouncer_survives_a_failing_callback() -> None:
    schedule = ManualSchedule()

    def boom() -> None:
        raise RuntimeError("handler bug")

    debouncer = Debouncer(boom, 1.0, schedule)
    debouncer.trigger()
    schedule.fire()  # logged, not raised
    debouncer.trigger()
    assert schedule.count() == 1 and debouncer.calls == 1


def test_health_describes_itself() -> None:
    assert LiveHealth(LiveState.CONNECTED).describe() == "connected"
    assert LiveHealth(LiveState.RECONNECTING, "connection lost").describe() == "reconnecting"
    assert LiveHealth(LiveState.FAILED, "auth").describe() == "failed: auth"
    assert LiveHealth(LiveState.CONNECTED).live and not LiveHealth(LiveState.RECONNECTING).live


def test_socket_mode_needs_an_app_token(sb: Sandbox, tmp_path: Path) -> None:
    assert socket_mode_configured(settings_for(sb, tmp_path))
    assert not socket_mode_configured(settings_for(sb, tmp_path, app_token=None))
    assert not socket_mode_configured(settings_for(sb, tmp_path, channels=[]))
    events = SlackEvents(settings_for(sb, tmp_path, app_token=None), lambda: None)
    events.start()  # refuses without any network call
    assert events.health.state is LiveState.FAILED
    assert sb.slack.calls.api("apps.connections.open") == []


def test_sandbox_settings_and_env_carry_the_app_token(sb: Sandbox) -> None:
    assert sb.settings_overrides()["slack"]["app_token"] == SLACK_APP_TOKEN
    assert sb.env()["IDQUEUE_SLACK__APP_TOKEN"] == SLACK_APP_TOKEN
    assert SLACK_APP_TOKEN.startswith("xapp-sandbox-")


# --------------------------------------------------------------------------- WebSocket framing


def reader(data: bytes) -> Callable[[int], bytes]:
    """``read(n)`` over bytes, short only at the end (like a socket file)."""
    buf = bytearray(data)

    def read(n: int) -> bytes:
        out = bytes(buf[:n])
        del buf[:n]
        return out

    return read


def test_frames_round_trip_with_every_length_encoding() -> None:
    for size in (0, 5, 125, 126, 65535, 65536):
        payload = bytes(i % 251 for i in range(size))
        frame = read_frame(reader(encode_frame(OP_TEXT, payload, mask=b"\x01\x02\x03\x04")))
        assert frame.opcode == OP_TEXT and frame.payload == payload and frame.fin
        server_frame = read_frame(reader(encode_frame(OP_TEXT, payload)), require_mask=False)
        assert server_frame.payload == payload


def test_server_rejects_what_rfc6455_forbids() -> None:
    with pytest.raises(ProtocolError):
        read_frame(reader(encode_frame(OP_TEXT, b"x")))  # client frames must be masked
    with pytest.raises(ProtocolError):
        read_frame(reader(encode_frame(OP_PING, b"x" * 126, mask=b"abcd")))  # control frames are short
    with pytest.raises(EOFError):
        read_frame(reader(encode_frame(OP_TEXT, b"hello", mask=b"abcd")[:4]))
    # RFC 6455 §1.3's worked example.
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


# --------------------------------------------------------------------------- the emulator's endpoints


def api(sb: Sandbox, method: str, token: str | None) -> dict[str, Any]:
    req = urllib.request.Request(sb.slack.url + method, data=b"", method="POST")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        body: dict[str, Any] = json.loads(resp.read())
    return body


def test_connections_open_accepts_only_the_sandbox_app_token(sb: Sandbox) -> None:
    good = api(sb, "apps.connections.open", SLACK_APP_TOKEN)
    assert good["ok"] is True and good["url"].startswith(f"ws://127.0.0.1:{sb.slack.port}/link/?ticket=")
    assert api(sb, "apps.connections.open", None) == {"ok": False, "error": "not_authed"}
    assert api(sb, "apps.connections.open", SLACK_TOKEN)["error"] == "not_allowed_token_type"
    assert api(sb, "apps.connections.open", "xapp-sandbox-1-nope")["error"] == "invalid_auth"
    # The app-level token is no bot token.
    assert api(sb, "conversations.list", SLACK_APP_TOKEN)["error"] == "not_allowed_token_type"
    calls = sb.slack.calls.api("apps.connections.open")
    assert all("authorization" not in c.headers or c.headers["authorization"] == "[redacted]" for c in calls)


class RawClient:
    """A hand-rolled WebSocket client, to check the emulator's side of the protocol."""

    def __init__(self, url: str) -> None:
        parsed = urllib.request.urlparse(url)
        self.sock = socket.create_connection((parsed.hostname, parsed.port), timeout=10)
        self.key = "dGhlIHNhbXBsZSBub25jZQ=="
        self.sock.sendall(
            (f"GET {parsed.path}?{parsed.query} HTTP/1.1\r\nHost: {parsed.hostname}\r\nUpgrade: websocket\r\n"
             f"Connection: Upgrade\r\nSec-WebSocket-Key: {self.key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
        )
        self.file = self.sock.makefile("rb")
        self.status = int(self.file.readline().split()[1])
        self.headers: dict[str, str] = {}
        while (line := self.file.readline().decode().strip()):
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()

    def send(self, opcode: int, payload: bytes) -> None:
        self.sock.sendall(encode_frame(opcode, payload, mask=os.urandom(4)))

    def recv(self) -> tuple[int, bytes]:
        frame = read_frame(self.file.read, require_mask=False)
        return frame.opcode, frame.payload

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def test_handshake_hello_ping_ack_and_single_use_tickets(sb: Sandbox) -> None:
    url = api(sb, "apps.connections.open", SLACK_APP_TOKEN)["url"]
    client = RawClient(url)
    try:
        assert client.status == 101
        assert client.headers["sec-websocket-accept"] == accept_key(client.key)
        opcode, data = client.recv()
        hello = json.loads(data)
        assert opcode == OP_TEXT and hello["type"] == "hello"
        assert hello["connection_info"]["app_id"] == "A0IDQUEUE1"
        client.send(OP_PING, b"are you there")
        assert client.recv() == (OP_PONG, b"are you there")
        sb.slack.state.post(CH, "U0REQ01", "*Type:* Help Request\n*Details:* hi")
        opcode, data = client.recv()
        envelope = json.loads(data)
        assert envelope["type"] == "events_api" and envelope["accepts_response_payload"] is False
        assert envelope["payload"]["type"] == "event_callback"
        event = envelope["payload"]["event"]
        assert event["type"] == "message" and event["channel"] == CH and event["user"] == "U0REQ01"
        ack = json.dumps({"envelope_id": envelope["envelope_id"]}).encode()
        # Sent in two fragments: the server reassembles messages (RFC 6455 §5.4).
        client.sock.sendall(encode_frame(OP_TEXT, ack[:10], fin=False, mask=os.urandom(4)))
        client.sock.sendall(encode_frame(OP_CONTINUATION, ack[10:], mask=os.urandom(4)))
        acked(sb, 1)
        assert sb.slack.socket.envelopes[0].acked and sb.slack.socket.unknown_acks == []
        sb.slack.socket.ping(b"server ping")
        assert client.recv() == (OP_PING, b"server ping")
        client.send(OP_PONG, b"server ping")
        assert sb.slack.socket.wait_for(lambda h: h.pongs() == [b"server ping"], timeout=WAIT)
        client.send(OP_CLOSE, (1000).to_bytes(2, "big"))
        assert client.recv()[0] == OP_CLOSE
    finally:
        client.close()
    reused = RawClient(url)  # a ticket opens one connection only
    try:
        assert reused.status == 401
    finally:
        reused.close()
    assert sb.slack.socket.refused == 1
    statuses = [c.status for c in sb.slack.calls.calls_to("GET", "/link/*")]
    assert statuses == [101, 401]
    assert all("ticket" not in c.query for c in sb.slack.calls.calls_to("GET", "/link/*"))


# --------------------------------------------------------------------------- the real SDK client


def test_events_are_acked_and_a_burst_triggers_one_early_poll(sb: Sandbox, live: Live) -> None:
    state = sb.slack.state
    parent = state.post(CH, "U0REQ01", "*Type:* Help Request\n*Details:* first")
    state.post(CH, "U0ANA", "Looking into it", thread_ts=parent.ts)
    state.post(CH, "U0REQ02", "*Type:* Data request\n*Details:* second")
    acked(sb, 3)
    assert live.schedule.count() == 1 and live.calls == []  # one burst, one pending call
    live.schedule.fire()
    assert live.calls == [1]

    state.edit(CH, parent.ts, "*Type:* Help Request\n*Details:* first, edited", user="U0REQ01")
    assert state.react(CH, parent.ts, "ticket", "U0BEN")
    other = state.post(CH, "U0REQ03", "never mind")
    state.delete(CH, other.ts)
    acked(sb, 7)
    assert live.schedule.count() == 1
    live.schedule.fire()
    assert live.calls == [1, 1]

    state.post(OTHER, "U0REQ01", "chatter elsewhere")  # acked, but not a change to any request
    acked(sb, 8)
    assert live.schedule.count() == 0 and live.events.health.events == 7

    hub = sb.slack.socket
    assert all(e.acked for e in hub.envelopes) and hub.unknown_acks == []
    kinds = [(e.get("type"), e.get("subtype")) for e in hub.events()]
    assert kinds == [("message", None), ("message", None), ("message", None), ("message", "message_changed"),
                     ("reaction_added", None), ("message", None), ("message", "message_deleted"),
                     ("message", None)]
    reply = hub.events()[1]
    assert reply["thread_ts"] == parent.ts and reply["parent_user_id"] == "U0REQ01"
    changed = hub.events()[3]
    assert changed["message"]["edited"]["user"] == "U0REQ01" and "first, edited" in changed["message"]["text"]
    assert changed["previous_message"]["text"].endswith("first")
    assert hub.events()[4]["item"] == {"type": "message", "channel": CH, "ts": parent.ts}
    assert hub.events()[6]["deleted_ts"] == other.ts


def test_reconnects_after_a_disconnect_envelope(sb: Sandbox, live: Live) -> None:
    hub = sb.slack.socket
    assert hub.disconnect("refresh_requested") == 1
    live.health.wait(lambda h: h.live and h.reconnects == 1, "reconnected")
    assert LiveState.RECONNECTING in live.health.states
    assert hub.wait_for(lambda h: h.connections == 1, timeout=WAIT)  # the client closed the old link
    sb.slack.state.post(CH, "U0REQ01", "*Type:* Bug Fix\n*Details:* after the refresh")
    acked(sb, 1)
    assert hub.envelopes[-1].connection == 2 and live.schedule.count() == 1
    assert len(sb.slack.calls.api("apps.connections.open")) == 2


def test_reconnects_after_a_dropped_connection(sb: Sandbox, live: Live) -> None:
    hub = sb.slack.socket
    assert hub.drop() == 1
    live.health.wait(lambda h: h.live and h.reconnects == 1, "reconnected")
    assert LiveState.RECONNECTING in live.health.states
    sb.slack.state.post(CH, "U0REQ01", "*Type:* Bug Fix\n*Details:* after the drop")
    acked(sb, 1)
    assert hub.envelopes[-1].connection == 2 and live.schedule.count() == 1


def test_reconnects_after_a_close_frame(sb: Sandbox, live: Live) -> None:
    assert sb.slack.socket.close(1001, "going away") == 1
    live.health.wait(lambda h: h.live and h.reconnects == 1, "reconnected")
    sb.slack.state.post(CH, "U0REQ01", "*Type:* Bug Fix\n*Details:* after the close")
    acked(sb, 1)


def test_events_while_disconnected_are_caught_up_by_polling_not_replayed(sb: Sandbox, live: Live) -> None:
    """The emulator drops events with no connection open; only the next poll sees them."""
    live.events.stop()
    assert sb.slack.socket.wait_for(lambda h: h.connections == 0, timeout=WAIT)
    sb.slack.state.post(CH, "U0REQ01", "*Type:* Bug Fix\n*Details:* nobody listening")
    assert sb.slack.socket.undelivered == 1 and live.schedule.count() == 0
    assert live.events.health.state is LiveState.OFF


def test_first_connection_is_retried_until_the_link_opens(sb: Sandbox, tmp_path: Path) -> None:
    sb.slack.faults.add("apps.connections.open", status=503, body={"ok": False, "error": "service_unavailable"},
                        times=2)
    health = HealthLog()
    events = SlackEvents(settings_for(sb, tmp_path), lambda: None, on_health=health, retry_delays=(0.01,),
                         ping_interval=0.5)
    events.start()
    try:
        health.wait(lambda h: h.live, "connected after retries")
        assert len(sb.slack.calls.api("apps.connections.open")) == 3
        assert health.states[0] is LiveState.CONNECTING
    finally:
        events.stop()


def test_refused_handshake_is_retried_by_the_sdk(sb: Sandbox, tmp_path: Path) -> None:
    sb.slack.faults.add("GET /link/*", status=503, times=1)
    health = HealthLog()
    events = SlackEvents(settings_for(sb, tmp_path), lambda: None, on_health=health, ping_interval=0.2)
    events.start()
    try:
        health.wait(lambda h: h.live, "connected on the second handshake")
        assert sb.slack.socket.refused == 1 and sb.slack.socket.hellos == 1
    finally:
        events.stop()


@pytest.mark.parametrize("token", ["xapp-sandbox-1-A0IDQUEUE1-wrong", SLACK_TOKEN])
def test_bad_app_token_is_reported_and_polling_continues(sb: Sandbox, tmp_path: Path, token: str,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = settings_for(sb, tmp_path, app_token=token)
    health = HealthLog()
    events = SlackEvents(settings, lambda: None, on_health=health)
    events.start()
    try:
        failed = health.wait(lambda h: h.state is LiveState.FAILED, "auth failure")
        assert failed.describe() == "failed: auth" and not failed.live
        thread = events._thread
        assert thread is not None
        thread.join(timeout=WAIT)
        assert not thread.is_alive()  # no retry loop left behind
        assert len(sb.slack.calls.api("apps.connections.open")) == 1
        assert sb.slack.socket.hellos == 0
    finally:
        events.stop()
    assert token not in caplog.text and SLACK_TOKEN not in caplog.text
    # Polling is unaffected.
    store = Store.open(settings.db)
    try:
        engine = SyncEngine(store, build_sources(settings), settings)
        sb.slack.state.post(CH, "U0REQ01", "*Type:* Help Request\n*Details:* polled anyway")
        report = engine.poll()
        assert not report.errors
        assert [h.state for h in engine.health.values() if h.name == "Slack"] == ["ok"]
    finally:
        store.close()


def test_tokens_never_reach_the_logs(sb: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    health = HealthLog()
    events = SlackEvents(settings_for(sb, tmp_path), lambda: None, on_health=health, ping_interval=0.5)
    events.start()
    try:
        health.wait(lambda h: h.live, "connected")
        sb.slack.socket.drop()
        health.wait(lambda h: h.live and h.reconnects == 1, "reconnected")
    finally:
        events.stop()
    assert "apps.connections.open" in caplog.text  # the SDK did log its requests at DEBUG …
    assert SLACK_APP_TOKEN not in caplog.text  # … without the token
    # A reset connection is expected: the SDK's error lines are demoted, health reports it.
    assert not [r for r in caplog.records if r.name.endswith(".sdk") and r.levelno >= logging.WARNING]


def test_stop_closes_the_link_and_is_idempotent(sb: Sandbox, live: Live) -> None:
    sb.slack.state.post(CH, "U0REQ01", "*Type:* Bug Fix\n*Details:* pending when stopped")
    acked(sb, 1)
    live.events.stop()
    live.events.stop()
    assert sb.slack.socket.wait_for(lambda h: h.connections == 0, timeout=WAIT)
    live.schedule.fire()  # the pending call was cancelled
    assert live.calls == [] and live.events.health.state is LiveState.OFF
    thread = live.events._thread
    assert thread is not None
    thread.join(timeout=WAIT)
    assert not thread.is_alive()


# --------------------------------------------------------------------------- idqueue sync (the loop)


def test_sync_loop_polls_early_on_a_slack_event(sb: Sandbox, tmp_path: Path) -> None:
    """``idqueue sync`` without ``--once``: with an hour between polls, an event starts the next one."""
    from idqueue.cli import Context
    from idqueue.commands.sync_cmds import sync_forever

    settings = Settings(**sb.settings_overrides(), db=tmp_path / "sync.db", now=NOW.isoformat(),
                        ui={"poll_interval": 3600})
    ctx = Context()
    ctx.use_settings(settings)
    hub = sb.slack.socket
    posted = []

    def after_round(done: int) -> None:
        if done == 1:
            assert hub.wait_for(lambda h: h.hellos >= 1, timeout=WAIT)
            posted.append(sb.slack.state.post(CH, "U0REQ01", "*Type:* Help Request\n*Details:* seen live"))

    loop = threading.Thread(target=sync_forever, args=(ctx,),
                            kwargs={"quiet": True, "rounds": 2, "after_round": after_round}, daemon=True)
    loop.start()
    loop.join(timeout=WAIT * 2)
    assert not loop.is_alive(), "the second poll did not start early"
    assert posted and ctx.store.get_request(f"slack:{CH}/{posted[0].ts}") is not None
    assert hub.wait_for(lambda h: h.connections == 0, timeout=WAIT)  # the loop closed the link
    assert all(e.acked for e in hub.envelopes)
    ctx.store.close()
