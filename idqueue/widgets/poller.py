"""Live updates: polls the sources and runs the outbox dispatcher in thread workers.

A poll is scheduled with a one-shot timer only after the previous one finished, so polls never
overlap; a manual refresh while one runs is refused rather than queued. Workers never touch
widgets: they end by posting :class:`Poller.Polled` / :class:`Poller.Dispatched`. Any error,
even an unexpected one, becomes a message — a sync problem never crashes the app.

With a Slack app-level token, Slack Socket Mode events (:class:`~idqueue.integrations.slack.socket.SlackEvents`)
start a poll early: at once when idle, or once more right after the running one. The link's state
is posted as :class:`Poller.LiveChanged` ("Slack live" / "Slack polling" in the status bar).

A *client* of the team service (``listen=`` a PostgreSQL store; see :func:`idqueue.config.team_client`)
polls nothing and sends nothing: a thread waits on the store's change notifications
(:meth:`~idqueue.store.db.Store.listen`) and posts :class:`Poller.StoreChanged` for each batch of
committed writes (coalesced), with the team service's last reported state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.worker import get_current_worker

from idqueue.notify import Notifier
from idqueue.safety import redact
from idqueue.sync import SourceHealth, SyncEngine, SyncReport

if TYPE_CHECKING:  # the Slack SDK loads when Socket Mode starts, after the first frame
    from idqueue.integrations.slack.socket import LiveHealth, SlackEvents
    from idqueue.outbox.dispatcher import Dispatcher, DispatchReport
    from idqueue.store.db import Store
    from idqueue.store.service_state import ServiceState

LISTEN_TICK = 1.0
"""Seconds a client's listener waits for a notification before it checks it should stop."""

log = logging.getLogger(__name__)


@dataclass
class PollResult:
    """What one poll (sync + dispatch) did."""

    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    health: list[SourceHealth] = field(default_factory=list)
    last_sync: datetime | None = None
    report: SyncReport | None = None
    dispatched: DispatchReport | None = None


def touched_ids(dispatch_report: DispatchReport | None) -> list[str]:
    """Request ids a dispatcher report says it touched (none without a report)."""
    if dispatch_report is None:
        return []
    return [str(v) for v in dispatch_report.request_ids]


class Poller(Widget):
    """Runs polls on an interval and dispatches the outbox (an invisible widget).

    Args:
        engine: the sync engine (None: only the outbox is dispatched).
        dispatcher: the outbox dispatcher (None: nothing is sent).
        interval: seconds between the end of one poll and the start of the next.
        autostart: poll once on mount and then on the interval; also listen to Slack Socket Mode
            events when ``engine.settings`` has an app-level token.
        events_factory: builds the Socket Mode client (tests inject one); default
            :class:`SlackEvents`.
        listen: a client of the team service: this shared store's change notifications replace
            polling (``engine`` and ``dispatcher`` are then ignored: nothing is polled or sent).
    """

    DEFAULT_CSS = "Poller { display: none; }"

    class Started(Message):
        """A poll started."""

    class Polled(Message):
        """A poll finished (successfully or not; per-source errors are in ``result.errors``)."""

        def __init__(self, result: PollResult) -> None:
            super().__init__()
            self.result = result

    class Dispatched(Message):
        """The outbox dispatcher ran outside a poll; ``touched`` request ids changed."""

        def __init__(self, touched: list[str], error: str | None = None) -> None:
            super().__init__()
            self.touched = touched
            self.error = error

    class LiveChanged(Message):
        """Slack Socket Mode changed state: ``health.live`` is True while events arrive instantly."""

        def __init__(self, health: LiveHealth) -> None:
            super().__init__()
            self.health = health

        @property
        def label(self) -> str:
            """``Slack live`` or ``Slack polling (reconnecting)`` and the like, for the status bar."""
            return describe_live(self.health)

    class StoreChanged(Message):
        """A client of the team service: other processes committed writes to the shared store
        (``topics``: ``requests``, ``outbox``, ``service`` …; empty for a periodic look at the
        service's state), and ``state`` is what the team service last reported (None: none yet)."""

        def __init__(self, topics: list[str], state: ServiceState | None, error: str | None = None) -> None:
            super().__init__()
            self.topics = topics
            self.state = state
            self.error = error

        @property
        def requests_changed(self) -> bool:
            """True when something beside the service's own heartbeat, or one person's own
            state (a teammate's read mark, snooze or draft: ``person``), changed."""
            return any(topic not in ("service", "person", "") for topic in self.topics)

    class _Finished(Message):
        pass

    class _LiveEvent(Message):
        pass

    def __init__(
        self,
        engine: SyncEngine | None,
        dispatcher: Dispatcher | None = None,
        *,
        interval: float = 60.0,
        autostart: bool = True,
        events_factory: Callable[..., SlackEvents] | None = None,
        listen: Store | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.listen_store = listen
        self.engine = engine if listen is None else None
        self.dispatcher = dispatcher if listen is None else None
        self.interval = interval
        self.autostart = autostart
        self.running = False
        self.polls = 0
        self.events: SlackEvents | None = None
        """The Socket Mode client, while one runs."""
        self.live_health: LiveHealth | None = None
        """The Socket Mode link's last state (None: Socket Mode is not in use)."""
        self.early_polls = 0
        """Polls started by a Slack event rather than the interval or a key."""
        self.watchers: list[Any] = []
        """Other systems' push watchers (IMAP IDLE), while they run."""
        self._events_factory = events_factory
        self._again = False
        self._timer: Timer | None = None

    def on_mount(self) -> None:
        if self.listen_store is not None:
            if self.autostart:
                self.call_after_refresh(self._listen, self.listen_store)
            return
        if self.autostart:
            # After the first frame: the first poll builds the API clients and Socket Mode loads
            # the Slack SDK, none of which the frame needs.
            self.call_after_refresh(self._start_events)
            self.call_after_refresh(self.poll_now)

    def on_unmount(self) -> None:
        watchers, self.watchers = self.watchers, []
        for watcher in watchers:
            threading.Thread(target=watcher.stop, name="idqueue-watcher-stop", daemon=True).start()
        events, self.events = self.events, None
        if events is not None:
            # Closing joins the SDK's threads; never make the UI wait for that.
            threading.Thread(target=events.stop, name="idqueue-slack-events-stop", daemon=True).start()

    def poll_now(self) -> bool:
        """Start a poll now; False when one is already running (or this is a client)."""
        if self.running or self.listen_store is not None:
            return False
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.running = True
        self.post_message(self.Started())
        self._poll()
        return True

    def poll_soon(self) -> None:
        """Poll now, or once more right after the running poll (a Slack event arrived)."""
        if self.running:
            self._again = True
            return
        self.early_polls += 1
        self.poll_now()

    def dispatch_now(self) -> None:
        """Send queued outbox actions now (between polls)."""
        if self.dispatcher is not None:
            self._dispatch(self.dispatcher)

    @work(thread=True, exclusive=True, group="poll")
    def _poll(self) -> None:
        result = PollResult()
        try:
            if self.engine is not None:
                report = self.engine.poll()
                result.report = report
                result.created = list(report.created)
                result.changed = list(report.changed)
                result.errors = [redact(str(e)) for e in report.errors]
                result.errors += self._notify(self.engine, report)
                result.health = [SourceHealth(**vars(h)) for h in self.engine.health.values()]
                result.last_sync = max(
                    (h.last_sync for h in self.engine.health.values() if h.last_sync), default=None
                )
            if self.dispatcher is not None:
                result.dispatched = self.dispatcher.run_once()
                result.changed += [i for i in touched_ids(result.dispatched) if i not in result.changed]
        except Exception as exc:  # never let a sync problem crash the app
            log.exception("poll failed")
            result.errors.append(redact(f"sync failed: {exc}"))
            if self.engine is not None:
                result.health = [SourceHealth(**vars(h)) for h in self.engine.health.values()]
        finally:
            self.post_message(self.Polled(result))
            self.post_message(self._Finished())

    @staticmethod
    def _notify(engine: SyncEngine, report: SyncReport) -> list[str]:
        """Queue the poll's support-channel notifications (``[notify]``); the dispatch after the
        poll sends them. Returns the error, if any, for the status bar."""
        try:
            Notifier(engine.store, engine.settings, clock=engine.clock).after_poll(report.created)
        except Exception as exc:  # never let a notification problem stop the poll
            log.exception("notify failed")
            return [redact(f"notifications failed: {exc}")]
        return []

    @work(thread=True, exclusive=True, group="dispatch")
    def _dispatch(self, dispatcher: Dispatcher) -> None:
        try:
            report = dispatcher.run_once()
        except Exception as exc:
            log.exception("dispatch failed")
            self.post_message(self.Dispatched([], redact(f"sending failed: {exc}")))
            return
        self.post_message(self.Dispatched(touched_ids(report)))

    @on(_Finished)
    def _schedule_next(self, message: _Finished) -> None:
        message.stop()
        self.running = False
        self.polls += 1
        if self._again:
            # A Slack event arrived during the poll, maybe after its channel was read.
            self._again = False
            self.early_polls += 1
            self.poll_now()
        elif self.autostart:
            self._timer = self.set_timer(self.interval, self.poll_now)

    # ------------------------------------------------------------------ client of the team service
    @work(thread=True, exclusive=True, group="listen")
    def _listen(self, store: Store) -> None:
        """Wait for the shared store's notifications; post one :class:`StoreChanged` per batch,
        and one every ``interval`` seconds anyway (the service's heartbeat may go stale)."""
        from idqueue.store.service_state import read_service_state

        worker = get_current_worker()
        listener: Any = None
        next_look = 0.0
        try:
            while not worker.is_cancelled:
                try:
                    if listener is None:
                        listener = store.listen() if store.dialect.is_postgres else _Rereads(min(self.interval, 5.0))
                        next_look = 0.0  # (re)connected: writes may have been missed meanwhile
                        topics = ["requests"] if self.polls else []
                    else:
                        topics = listener.wait(LISTEN_TICK)
                    if not topics and time.monotonic() < next_look:
                        continue
                    next_look = time.monotonic() + self.interval
                    self.polls += 1
                    self._post_from_thread(self.StoreChanged(topics, read_service_state(store)))
                except Exception as exc:  # the database went away: say so, then try again
                    log.warning("store notifications failed: %s", exc)
                    if listener is not None:
                        _close_quietly(listener)
                        listener = None
                    self._post_from_thread(self.StoreChanged([], None, redact(f"shared store: {exc}")))
                    if worker.is_cancelled or threading.Event().wait(min(self.interval, 5.0)):
                        break
        finally:
            if listener is not None:
                _close_quietly(listener)
            store.close()

    # ------------------------------------------------------------------ Slack Socket Mode
    def _start_events(self) -> None:
        settings = getattr(self.engine, "settings", None)
        if settings is None:
            return
        self._start_watchers(settings)
        from idqueue.integrations.slack.socket import SlackEvents, socket_mode_configured

        if not socket_mode_configured(settings):
            return
        try:
            read_first = getattr(self.engine, "read_first", None)
            events = (self._events_factory or SlackEvents)(settings, self._event_arrived, on_health=self._health_changed,
                                          on_thread=read_first.add if read_first is not None else None)
            self.live_health = events.health
            self.events = events
            events.start()
        except Exception:  # Socket Mode is an optimisation: polling goes on without it
            log.exception("cannot start Slack Socket Mode")
            self.events = None

    def _start_watchers(self, settings: Any) -> None:
        """Start the push watchers of the configured systems that have one (IMAP IDLE)."""
        from idqueue.integrations import registry

        self.watchers.extend(registry.start_live_watchers(settings, lambda _name: self._event_arrived()))

    def _event_arrived(self) -> None:
        """From the Socket Mode client's thread (already debounced)."""
        self._post_from_thread(self._LiveEvent())

    def _health_changed(self, health: LiveHealth) -> None:
        """From the Socket Mode client's threads."""
        self._post_from_thread(self.LiveChanged(health))

    def _post_from_thread(self, message: Message) -> None:
        try:
            self.post_message(message)
        except Exception:
            pass  # the app is shutting down (its event loop closed or the widget gone)

    @on(_LiveEvent)
    def _live_event(self, message: _LiveEvent) -> None:
        message.stop()
        if self.events is not None or self.watchers:
            self.poll_soon()

    @on(LiveChanged)
    def _live_changed(self, message: LiveChanged) -> None:
        # Not stopped: the screen shows it in the status bar.
        self.live_health = message.health


class _Rereads:
    """A SQLite store's stand-in for the notifications it does not have (``team_client = "on"``
    over a shared SQLite file): says "requests" every ``every`` seconds."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._next = time.monotonic() + every
        self._stop = threading.Event()

    def wait(self, timeout: float) -> list[str]:
        left = self._next - time.monotonic()
        if left > timeout:
            self._stop.wait(timeout)
            return []
        self._stop.wait(max(0.0, left))
        self._next = time.monotonic() + self.every
        return ["requests"]

    def close(self) -> None:
        self._stop.set()


def _close_quietly(listener: Any) -> None:
    try:
        listener.close()
    except Exception:
        log.debug("closing the store listener failed", exc_info=True)


def describe_live(health: LiveHealth | None) -> str:
    """The status bar's words for the Socket Mode link: ``Slack live`` or ``Slack polling (…)``."""
    if health is None:
        return "Slack polling"
    if health.live:
        return "Slack live"
    detail = {"connecting": "connecting", "reconnecting": "reconnecting", "off": ""}.get(health.state.value)
    if detail is None:
        detail = "auth failed" if health.reason == "auth" else health.describe()
    return f"Slack polling ({detail})" if detail else "Slack polling"
