"""Slack Socket Mode: instant "something changed" signals, with polling as the source of truth.

With an app-level token (``xapp-…``, scope ``connections:write``) Slack pushes Events API
envelopes over a WebSocket. :class:`SlackEvents` wraps slack-sdk's built-in
``SocketModeClient``: it acks every envelope and, for a message or reaction event in a configured
channel, calls ``on_event()`` — debounced, so a burst of events costs one early poll. It never
writes the store: the poll's re-read of the recent window (edits, deletions, replies) does that,
so there is one code path for changes however they were noticed. The event also names what it
concerns through ``on_thread`` (:func:`event_item_ids`: the thread of a reply, or of an edit or
deletion of one; the message itself; the message a reaction is on): the poll it triggers reads
that thread first, whatever its age, when it is a known request.

Health (:class:`LiveHealth`) is ``connecting`` → ``connected``; ``reconnecting`` while the link is
down (the SDK reconnects by itself on a ``disconnect`` envelope, a close frame or a dead socket);
``failed`` with a reason when the token is refused (no retry: polling simply goes on). Nothing
here raises into the caller, and tokens never reach a log line.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import urllib.parse
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin.client import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web import WebClient

from idqueue.config import Settings
from idqueue.domain.models import slack_id
from idqueue.integrations.slack.api import AUTH_ERRORS
from idqueue.safety import RedactingFilter, one_line, redact

log = logging.getLogger(__name__)

EVENT_TYPES = frozenset({"message", "reaction_added", "reaction_removed"})
"""Event types that can change a request (new/edited/deleted message, reply, ``:ticket:``)."""

RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
"""Waits between attempts to open the first connection (the last one repeats)."""


class LiveState(StrEnum):
    """Where the Socket Mode link stands."""

    OFF = "off"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class LiveHealth:
    """A snapshot of the Socket Mode link, for the status bar and ``idqueue sync``."""

    state: LiveState = LiveState.OFF
    reason: str = ""
    """Why it is reconnecting or failed (``auth``, ``missing scope connections:write``, …)."""
    events: int = 0
    """Relevant events received so far (each one acked)."""
    reconnects: int = 0
    """Connections opened after the first one."""

    @property
    def live(self) -> bool:
        """True while events arrive instantly."""
        return self.state is LiveState.CONNECTED

    def describe(self) -> str:
        """``connected``, ``reconnecting``, ``failed: auth``, ``connecting`` or ``off``."""
        if self.state is LiveState.FAILED:
            return f"failed: {self.reason or 'error'}"
        return self.state.value


def socket_mode_configured(settings: Settings) -> bool:
    """True when Socket Mode can run: an app-level token, a bot token and intake channels."""
    slack = settings.slack
    return bool(slack.app_token and slack.app_token.get_secret_value() and slack.token and slack.channels)


def thread_of(payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(channel, thread_ts)`` of a message event that belongs to a thread, else None.

    A reply carries ``thread_ts``; an edit (``message_changed``) carries it in ``message``, a
    deletion (``message_deleted``) in ``previous_message``.
    """
    event = payload.get("event")
    if not isinstance(event, Mapping) or event.get("type") != "message":
        return None
    channel = event.get("channel")
    for part in (event, event.get("message"), event.get("previous_message")):
        if isinstance(part, Mapping):
            thread_ts = part.get("thread_ts")
            if isinstance(channel, str) and channel and isinstance(thread_ts, str) and thread_ts:
                return channel, thread_ts
    return None


def is_relevant(payload: Mapping[str, Any], channels: Collection[str]) -> bool:
    """Whether an ``events_api`` payload may change a request in one of ``channels`` (all if empty)."""
    if payload.get("type") != "event_callback":
        return False
    event = payload.get("event")
    if not isinstance(event, Mapping) or event.get("type") not in EVENT_TYPES:
        return False
    if event.get("type") == "message":
        channel = event.get("channel")
    else:
        item = event.get("item")
        channel = item.get("channel") if isinstance(item, Mapping) else None
    return not channels or channel in channels


def event_item_ids(payload: Mapping[str, Any], channels: Collection[str]) -> tuple[str, ...]:
    """The item ids (``slack:C…/ts``) an ``event_callback`` payload says may have changed.

    The one mapping from a Slack event to what the next poll reads first, for Socket Mode and
    the Events API receiver alike: the thread a message event belongs to (:func:`thread_of`),
    else the message itself (its ``ts``; ``message.ts`` of an edit, ``deleted_ts`` of a
    deletion), or the message a reaction was added to or removed from. Empty for an event that
    cannot change a request in ``channels`` (all channels if empty).
    """
    if not is_relevant(payload, channels):
        return ()
    thread = thread_of(payload)
    if thread is not None:
        return (slack_id(*thread),)
    event = payload["event"]
    if event.get("type") == "message":
        channel = event.get("channel")
        inner = event.get("message") if isinstance(event.get("message"), Mapping) else {}
        ts = event.get("deleted_ts") or inner.get("ts") or event.get("ts")
    else:
        item = event.get("item")
        channel, ts = (item.get("channel"), item.get("ts")) if isinstance(item, Mapping) else (None, None)
    if isinstance(channel, str) and channel and isinstance(ts, str) and ts:
        return (slack_id(channel, ts),)
    return ()


Cancel = Callable[[], None]
Schedule = Callable[[float, Callable[[], None]], Cancel]
"""``schedule(delay, fn)`` runs ``fn`` once after ``delay`` seconds and returns a cancel function."""


def thread_timer(delay: float, fn: Callable[[], None]) -> Cancel:
    """The default :data:`Schedule`: a daemon ``threading.Timer``."""
    timer = threading.Timer(delay, fn)
    timer.daemon = True
    timer.name = "idqueue-slack-events-debounce"
    timer.start()
    return timer.cancel


class Debouncer:
    """Coalesces triggers: the first opens a ``delay`` window, one call happens at its end.

    At most one call per ``delay`` seconds, and every trigger is followed by a call that starts
    after it — so the poll it causes sees the change that caused it.

    Args:
        fn: what to call (exceptions are logged, never raised).
        delay: the window in seconds.
        schedule: how to run something later (injected by tests).
    """

    def __init__(self, fn: Callable[[], None], delay: float, schedule: Schedule = thread_timer) -> None:
        self.fn = fn
        self.delay = delay
        self.schedule = schedule
        self.calls = 0
        self._lock = threading.Lock()
        self._cancel: Cancel | None = None
        self._closed = False

    def trigger(self) -> None:
        """Note a change; ``fn`` runs once when the current window ends."""
        with self._lock:
            if self._cancel is not None or self._closed:
                return
            # Reserve the slot before scheduling, so concurrent triggers never schedule twice.
            self._cancel = _noop
        cancel = self.schedule(self.delay, self._fire)
        with self._lock:
            if self._cancel is _noop:
                self._cancel = cancel

    @property
    def pending(self) -> bool:
        """True while a call is scheduled."""
        with self._lock:
            return self._cancel is not None

    def _fire(self) -> None:
        with self._lock:
            self._cancel = None
            if self._closed:
                return
            self.calls += 1
        try:
            self.fn()
        except Exception:
            log.exception("Slack event handler failed")

    def close(self) -> None:
        """Cancel a pending call; later triggers are ignored."""
        with self._lock:
            self._closed = True
            cancel, self._cancel = self._cancel, None
        if cancel is not None:
            cancel()


def _noop() -> None:
    return None


class _SdkLogFilter(RedactingFilter):
    """Redacts tokens and demotes the SDK's warnings and errors to INFO.

    The built-in client logs every reset connection and failed reconnect attempt as an error;
    those are expected, and :class:`SlackEvents` reports them as health (and logs a warning
    itself when the token is refused).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if logging.WARNING <= record.levelno < logging.CRITICAL:
            record.levelno, record.levelname = logging.INFO, "INFO"
        return super().filter(record)


def _sdk_logger() -> logging.Logger:
    """The logger handed to slack-sdk (tokens redacted, connection chatter at INFO)."""
    logger = logging.getLogger(f"{__name__}.sdk")
    if not any(isinstance(f, _SdkLogFilter) for f in logger.filters):
        logger.addFilter(_SdkLogFilter())
    return logger


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


class _Client(SocketModeClient):
    """slack-sdk's built-in client, told about failures to open a connection.

    ``issue_new_wss_url`` runs on every (re)connect, also from the SDK's own monitor thread,
    whose errors the SDK only logs; the owner needs them to report ``failed: auth``.
    """

    owner: SlackEvents

    def issue_new_wss_url(self) -> str:
        try:
            return super().issue_new_wss_url()
        except Exception as exc:
            self.owner._connect_failed(exc)
            raise


class SlackEvents:
    """Slack Socket Mode events that trigger early polls.

    Args:
        settings: the configuration (``slack.app_token``, ``slack.base_url``, ``slack.channels``).
        on_event: called (from a background thread) when a relevant change happened; debounced.
        on_health: called (from a background thread) on every state change.
        on_thread: called (from a background thread, before ``on_event``) with the item id of
            what a relevant event concerns (:func:`event_item_ids`: the thread a message belongs
            to, the message, the reacted-to message); a sync engine's ``read_first.add`` makes
            the next poll read it first (when it is a known or open request).
        debounce: the debounce window in seconds (at most one ``on_event`` call per window).
        ping_interval: seconds between the SDK's pings; a dead link is noticed and replaced within
            a few of them.
        schedule: how the debouncer runs things later (tests inject a manual one).
        retry_delays: waits between attempts to open the first connection (the last repeats).
        watch_interval: how often the connection is checked for the health report.

    Use :meth:`start` and :meth:`stop` (or ``with SlackEvents(...) as events:``).
    """

    def __init__(
        self,
        settings: Settings,
        on_event: Callable[[], None],
        *,
        on_health: Callable[[LiveHealth], None] | None = None,
        on_thread: Callable[[str], None] | None = None,
        debounce: float = 1.0,
        ping_interval: float = 5.0,
        schedule: Schedule = thread_timer,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        watch_interval: float = 0.5,
    ) -> None:
        self.settings = settings
        self.on_health = on_health
        self.on_thread = on_thread
        self.ping_interval = ping_interval
        self.retry_delays = tuple(retry_delays) or RETRY_DELAYS
        self.watch_interval = watch_interval
        self.channels = frozenset(settings.slack.channels)
        self.debouncer = Debouncer(on_event, debounce, schedule)
        self._lock = threading.RLock()
        self._health = LiveHealth()
        self._hellos = 0
        self._stopping = threading.Event()
        self._client: _Client | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in a background thread (returns at once; idempotent)."""
        with self._lock:
            if self._thread is not None:
                return
            if not socket_mode_configured(self.settings):
                self._set(LiveState.FAILED, "no app-level token configured")
                return
            self._set(LiveState.CONNECTING)
            self._thread = threading.Thread(target=self._supervise, name="idqueue-slack-events", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Close the connection and stop every thread (idempotent; may take a moment)."""
        self._stopping.set()
        self.debouncer.close()
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            _close(client)
        with self._lock:
            self._set(LiveState.OFF, self._health.reason if self._health.state is LiveState.FAILED else "")

    def __enter__(self) -> SlackEvents:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def health(self) -> LiveHealth:
        """The current state."""
        with self._lock:
            return self._health

    # -- the supervisor thread -----------------------------------------------------------------

    def _supervise(self) -> None:
        client: _Client | None = None
        try:
            client = self._open_first()
            # From here the SDK reconnects by itself; this thread only watches for the health report.
            while client is not None and not self._stopping.wait(self.watch_interval):
                with self._lock:
                    if self._health.state is LiveState.FAILED:
                        break
                    if self._health.state is LiveState.CONNECTED and not client.is_connected():
                        self._set(LiveState.RECONNECTING, "connection lost")
        except Exception:  # never let this thread die with a traceback in the user's terminal
            log.exception("Slack Socket Mode supervisor failed")
            with self._lock:
                self._set(LiveState.FAILED, "internal error")
        # Failed for good (polling carries on without us), or stopped while a connect was under
        # way (which may have opened a socket after stop() closed the client): release it all.
        with self._lock:
            leftover, self._client = self._client, None
        for owned in {id(c): c for c in (leftover, client) if c is not None}.values():
            _close(owned)

    def _open_first(self) -> _Client | None:
        """Open the first connection, retrying with backoff; None when stopped or refused."""
        attempt = 0
        while not self._stopping.is_set():
            try:
                client = self._client or self._make_client()
                client.wss_uri = None
                client.connect()
                return client
            except Exception:
                # Failures to get a URL were reported by _connect_failed; anything else is a bug.
                log.debug("Slack Socket Mode connect failed", exc_info=True)
            with self._lock:
                if self._health.state is LiveState.FAILED:
                    return None
            delay = self.retry_delays[min(attempt, len(self.retry_delays) - 1)]
            attempt += 1
            if self._stopping.wait(delay):
                break
        return None

    def _make_client(self) -> _Client:
        slack = self.settings.slack
        assert slack.app_token is not None  # checked by start()
        sdk_log = _sdk_logger()
        web = WebClient(base_url=slack.base_url, timeout=15, logger=sdk_log)
        # Connection errors are retried here (backoff) and by the SDK's monitor; ratelimited
        # answers to apps.connections.open are sat out by the SDK itself.
        web.retry_handlers = []
        client = _Client(app_token=slack.app_token.get_secret_value(), logger=sdk_log, web_client=web,
                         ping_interval=self.ping_interval, auto_reconnect_enabled=True)
        client.owner = self
        if _is_loopback(slack.base_url):
            client.proxy = None  # a proxy from the environment cannot reach a loopback emulator
        client.message_listeners.append(self._on_message)
        client.socket_mode_request_listeners.append(self._on_request)
        client.on_message_listeners.append(self._on_raw)
        client.on_close_listeners.append(self._on_close)
        with self._lock:
            if self._stopping.is_set():
                _close(client)
                raise RuntimeError("stopped")
            self._client = client
        return client

    # -- callbacks from the SDK's threads ------------------------------------------------------

    def _connect_failed(self, exc: Exception) -> None:
        if self._stopping.is_set():
            return
        if isinstance(exc, SlackApiError):
            error = str(exc.response.get("error") or "") if exc.response is not None else ""
            if error in AUTH_ERRORS:
                reason = "missing scope connections:write" if error == "missing_scope" else "auth"
                with self._lock:
                    client = self._client
                    if client is not None:
                        # No retry can fix a refused token: stop the SDK's reconnect loop.
                        client.auto_reconnect_enabled = False
                        client.default_auto_reconnect_enabled = False
                    self._set(LiveState.FAILED, reason)
                log.warning("Slack Socket Mode refused (%s); updates come from polling only", error)
                return
            reason = error or "error"
        else:
            reason = "offline"
        with self._lock:
            self._set(LiveState.RECONNECTING if self._hellos else LiveState.CONNECTING, reason)
        log.info("Slack Socket Mode: cannot connect (%s)", one_line(redact(f"{type(exc).__name__}: {exc}"), 200))

    def _on_message(self, client: Any, message: dict[str, Any], raw: str | None) -> None:
        if message.get("type") == "hello" and not self._stopping.is_set():
            with self._lock:
                self._hellos += 1
                self._set(LiveState.CONNECTED, reconnects=max(0, self._hellos - 1))

    def _on_raw(self, raw: str) -> None:
        # ``disconnect`` envelopes are handled by the SDK before any listener sees them (it opens
        # a new connection at once); the raw feed is the only place to notice them.
        if '"disconnect"' not in raw or self._stopping.is_set():
            return
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if isinstance(message, dict) and message.get("type") == "disconnect":
            with self._lock:
                self._set(LiveState.RECONNECTING, f"disconnect: {one_line(str(message.get('reason') or ''), 40)}")

    def _on_close(self, code: int, reason: str | None) -> None:
        if not self._stopping.is_set():
            with self._lock:
                self._set(LiveState.RECONNECTING, f"closed ({code})")

    def _on_request(self, client: Any, request: SocketModeRequest) -> None:
        try:
            if request.type == "events_api" and is_relevant(request.payload, self.channels):
                with self._lock:
                    self._health = replace(self._health, events=self._health.events + 1)
                on_thread = self.on_thread
                if on_thread is not None:
                    for item_id in event_item_ids(request.payload, self.channels):
                        try:
                            on_thread(item_id)
                        except Exception:
                            log.exception("Slack thread note failed")
                # Trigger before acking: the trigger only schedules, and a test (or Slack) that
                # sees the ack may rely on the change having been noted.
                self.debouncer.trigger()
        finally:
            # Every envelope is acked, relevant or not: Slack re-sends unacked ones.
            if request.envelope_id:
                try:
                    client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
                except Exception as exc:
                    log.info("Slack Socket Mode: ack not sent (%s)", type(exc).__name__)

    # -- state ----------------------------------------------------------------------------------

    def _set(self, state: LiveState, reason: str = "", *, reconnects: int | None = None) -> None:
        """Change the state (call with ``self._lock`` held) and tell ``on_health`` about it."""
        old = self._health
        if old.state is LiveState.FAILED and state is not LiveState.OFF:
            return  # failed is final until stop()
        new = replace(old, state=state, reason=reason,
                      reconnects=old.reconnects if reconnects is None else reconnects)
        if new == old:
            return
        self._health = new
        if self.on_health is not None:
            try:
                self.on_health(new)
            except Exception:
                log.exception("Slack Socket Mode health callback failed")


def _close(client: SocketModeClient) -> None:
    """Close an SDK client quickly.

    ``SocketModeClient.close`` waits for the receiving thread, which holds a lock while blocked in
    ``recv`` (up to its 3 s timeout), and for the message thread's 1 s queue poll. Shutting the
    socket and waking the queue first makes both return at once.
    """
    client.auto_reconnect_enabled = False
    client.default_auto_reconnect_enabled = False
    client.closed = True
    try:
        client.current_session_state.terminated = True
        session = client.current_session
        sock = getattr(session, "sock", None)
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    except (OSError, AttributeError):
        pass
    client.message_queue.put(None)
    try:
        client.close()
    except Exception:
        log.debug("closing the Socket Mode client failed", exc_info=True)
