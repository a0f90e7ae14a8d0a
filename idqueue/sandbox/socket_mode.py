"""Slack Socket Mode for the emulator: ``apps.connections.open`` tickets and the WebSocket link.

What slack-sdk's built-in ``SocketModeClient`` sees, as in production:

1. ``apps.connections.open`` (app-level token) answers ``{"ok": true, "url": "ws://…/link/?ticket=…"}``;
   a ticket opens one connection.
2. After the handshake the server sends ``{"type": "hello", …}``.
3. Every change in a subscribed channel (post, thread reply, edit, delete, reaction) arrives as an
   ``events_api`` envelope; the client acks it by sending ``{"envelope_id": …}``.
4. Faults: a ``disconnect`` envelope (the client must open a new connection), a close frame, or
   a dropped TCP connection.

Envelopes go to the newest open connection, as Slack delivers each envelope to one of an app's
connections. With no connection open an event is counted in :attr:`SocketModeHub.undelivered`
and lost (Slack's own retries are not modelled; polling is what catches up).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from idqueue.integrations.loopback import Request, Response
from idqueue.sandbox.websocket import WebSocketPeer, handshake_response

log = logging.getLogger(__name__)

LINK_PATH = "/link/"
"""Where the WebSocket endpoint lives on the emulator's port."""


@dataclass(slots=True)
class Envelope:
    """One envelope the hub sent."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    connection: int
    """The number of the connection it went to (1 for the first one opened)."""
    acked: bool = False

    @property
    def event(self) -> dict[str, Any]:
        """The inner event of an ``events_api`` envelope (empty otherwise)."""
        event = self.payload.get("event")
        return event if isinstance(event, dict) else {}


@dataclass(slots=True)
class _Link:
    number: int
    peer: WebSocketPeer
    envelopes: list[str] = field(default_factory=list)
    retiring: bool = False
    """Told to ``disconnect``: closed as soon as the app's next connection opens."""


class SocketModeHub:
    """The Socket Mode side of the Slack emulator (one app).

    Args:
        team_id: the workspace id put in event payloads.
        app_id: the app id (``connection_info``, ``api_app_id``).
        now: the clock (event times).
        channels: the channels whose changes are sent (None: every channel).
    """

    def __init__(self, *, team_id: str, app_id: str, now: Callable[[], datetime],
                 channels: Iterable[str] | None = None) -> None:
        self.team_id = team_id
        self.app_id = app_id
        self.now = now
        self.channels: set[str] | None = set(channels) if channels is not None else None
        self.envelopes: list[Envelope] = []
        """Every envelope sent, oldest first (``hello`` is not an envelope and is not listed)."""
        self.acks: list[str] = []
        """Envelope ids the client acknowledged, in arrival order."""
        self.unknown_acks: list[str] = []
        """Acks naming an envelope this hub never sent (a client bug)."""
        self.undelivered = 0
        """Events that happened while no connection was open."""
        self.hellos = 0
        """How many connections were greeted (one per successful connect or reconnect)."""
        self.refused = 0
        """Handshakes refused (bad or reused ticket, injected fault)."""
        self._cond = threading.Condition()
        self._tickets: set[str] = set()
        self._links: list[_Link] = []
        self._opened = 0
        self._event_seq = 0

    # -- tickets (apps.connections.open) -------------------------------------------------------

    def open_url(self, origin: str) -> str:
        """Issue a one-use ticket; the ``ws://`` URL ``apps.connections.open`` answers with."""
        ticket = str(uuid.uuid4())
        with self._cond:
            self._tickets.add(ticket)
        host = origin.removeprefix("http://").removeprefix("https://")
        return f"ws://{host}{LINK_PATH}?ticket={ticket}&app_id={self.app_id}"

    # -- the WebSocket endpoint ----------------------------------------------------------------

    def refusal(self, req: Request) -> Response | None:
        """Why a handshake is refused (an HTTP answer), or None when it may proceed."""
        if not req.path.startswith(LINK_PATH) or req.method != "GET":
            return Response(status=404, body=b"Not Found", headers={"Content-Type": "text/plain"})
        if req.headers.get("sec-websocket-version") != "13" or not req.headers.get("sec-websocket-key"):
            return Response(status=400, body=b"Bad WebSocket handshake",
                            headers={"Content-Type": "text/plain", "Sec-WebSocket-Version": "13"})
        ticket = req.query.get("ticket", "")
        with self._cond:
            if ticket not in self._tickets:
                return Response(status=401, body=b"invalid or expired ticket", headers={"Content-Type": "text/plain"})
            self._tickets.discard(ticket)
        return None

    def serve(self, req: Request, handler: BaseHTTPRequestHandler) -> None:
        """Complete an accepted handshake on ``handler``'s connection, then serve it until it ends."""
        handler.wfile.write(handshake_response(req.headers["sec-websocket-key"]))
        with self._cond:
            self._opened += 1
            number = self._opened
        peer = WebSocketPeer(handler.connection, handler.rfile.read, name=f"slack-socket-{number}")
        link = _Link(number, peer)
        with self._cond:
            retired = [old for old in self._links if old.retiring]
            self._links.append(link)
            self.hellos += 1
            self._cond.notify_all()
        for old in retired:
            # Like Slack after a ``disconnect``: once the replacement is up, the old link goes.
            old.peer.abort(reset=False)
        peer.send_text(json.dumps({
            "type": "hello",
            "num_connections": len(self._links),
            "debug_info": {"host": "applink-sandbox", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }))
        try:
            peer.serve(lambda text: self._received(link, text), lambda _payload: self._notify())
        finally:
            with self._cond:
                if link in self._links:
                    self._links.remove(link)
                self._cond.notify_all()

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _received(self, link: _Link, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            log.debug("socket mode: non-JSON text from the client")
            return
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        if not isinstance(envelope_id, str):
            return
        with self._cond:
            self.acks.append(envelope_id)
            found = next((e for e in self.envelopes if e.envelope_id == envelope_id), None)
            if found is None:
                self.unknown_acks.append(envelope_id)
            else:
                found.acked = True
            self._cond.notify_all()

    # -- events --------------------------------------------------------------------------------

    def publish(self, event: dict[str, Any]) -> None:
        """Send an Events API event (from :class:`SlackState`'s change feed) to the app."""
        channel = event.get("channel") or (event.get("item") or {}).get("channel")
        if self.channels is not None and channel not in self.channels:
            return
        with self._cond:
            self._event_seq += 1
            seq = self._event_seq
        payload = {
            "token": "sandbox-verification-token",
            "team_id": self.team_id,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev0SANDBOX{seq:06d}",
            "event_time": int(self.now().timestamp()),
            "authorizations": [{"enterprise_id": None, "team_id": self.team_id, "user_id": "U0IDQUEUE",
                                "is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": False,
            "event_context": f"sandbox-{seq}",
        }
        self.send_envelope("events_api", payload)

    def send_envelope(self, kind: str, payload: dict[str, Any]) -> Envelope | None:
        """Send an envelope of any ``type`` to the newest connection; None when none is open."""
        with self._cond:
            link = self._newest()
            if link is None:
                self.undelivered += 1
                return None
            envelope = Envelope(str(uuid.uuid4()), kind, payload, link.number)
            self.envelopes.append(envelope)
            link.envelopes.append(envelope.envelope_id)
        link.peer.send_text(json.dumps({
            "envelope_id": envelope.envelope_id,
            "payload": payload,
            "type": kind,
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
        }, ensure_ascii=False))
        return envelope

    def _newest(self) -> _Link | None:
        live = [link for link in self._links if not link.peer.closed.is_set()]
        return live[-1] if live else None

    # -- faults and test helpers ---------------------------------------------------------------

    @property
    def connections(self) -> int:
        """How many connections are open now."""
        with self._cond:
            return sum(1 for link in self._links if not link.peer.closed.is_set())

    def disconnect(self, reason: str = "refresh_requested") -> int:
        """Send Slack's ``disconnect`` message on every open connection (the client must reconnect).

        Each of them is closed as soon as a new connection opens.

        Returns how many connections were told.
        """
        message = json.dumps({"type": "disconnect", "reason": reason,
                              "debug_info": {"host": "applink-sandbox"}})
        with self._cond:
            links = list(self._links)
            for link in links:
                link.retiring = True
        return sum(1 for link in links if link.peer.send_text(message))

    def close(self, code: int = 1001, reason: str = "going away") -> int:
        """Start a closing handshake on every open connection; returns how many."""
        with self._cond:
            links = list(self._links)
        for link in links:
            link.peer.close(code, reason)
        return len(links)

    def drop(self, *, reset: bool = True) -> int:
        """Cut every open connection without a closing handshake; returns how many."""
        with self._cond:
            links = list(self._links)
        for link in links:
            link.peer.abort(reset=reset)
        return len(links)

    def ping(self, payload: bytes = b"sandbox") -> int:
        """Ping every open connection (answers land in each peer's ``pongs``); returns how many."""
        with self._cond:
            links = list(self._links)
        return sum(1 for link in links if link.peer.ping(payload))

    def pongs(self) -> list[bytes]:
        """Pong payloads received on the connections still open."""
        with self._cond:
            return [p for link in self._links for p in link.peer.pongs]

    def wait_for(self, predicate: Callable[[SocketModeHub], bool], timeout: float = 10.0) -> bool:
        """Block until ``predicate(hub)`` holds (re-checked on every connect, close, ack and pong)."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout=timeout)

    def events(self) -> list[dict[str, Any]]:
        """The inner events of every ``events_api`` envelope sent, oldest first."""
        with self._cond:
            return [e.event for e in self.envelopes if e.type == "events_api"]

    def stop(self) -> None:
        """Drop every connection (the emulator is stopping)."""
        self.drop(reset=False)

