"""The team service's engine: the active service polls, notifies and sends; a standby waits.

A :class:`ServiceRunner` runs in background threads beside the HTTP server:

* the **leader thread** tries the :class:`~idqueue.service.leader.Leadership` lock about once a
  second. Without it the service is a *standby*: it does no outside I/O at all. With it the
  service is *active* and runs, until it loses the lock or is stopped:

  - the **poll loop** (:class:`~idqueue.service.loop.PollLoop`, the one ``idqueue sync`` uses)
    over every configured integration, every ``ui.poll_interval`` seconds or at once when woken
    (Slack Socket Mode, IMAP IDLE, :meth:`ServiceRunner.wake` for webhook receivers); after each
    poll the ``[notify]`` notifications are queued (:class:`~idqueue.notify.Notifier`);
  - the **outbox thread**: the :class:`~idqueue.outbox.dispatcher.Dispatcher` sends what is due,
    one action at a time about a second apart, checking the lock before every claim; it looks
    for new actions every ``outbox_every`` seconds and right after each poll;
  - the **lock watch**: checks every ``check_every`` seconds that the lock is still held and,
    when it is not, stops polling and sending at once (an action already claimed finishes
    under its outbox lease and fence, so it still lands exactly once).

Nothing here prints: state changes are log records of ``idqueue.service`` and the HTTP
endpoints read :meth:`ServiceRunner.health`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from idqueue.clock import Clock, clock_for
from idqueue.config import Settings
from idqueue.integrations import registry
from idqueue.integrations.base import Source
from idqueue.notify import Notifier
from idqueue.outbox.dispatcher import Dispatcher, Writer
from idqueue.outbox.store import OutboxStore
from idqueue.safety import one_line, redact
from idqueue.service.leader import Leadership, LeadershipError
from idqueue.service.loop import PollLoop, Wakeup
from idqueue.service.metrics import ServiceMetrics
from idqueue.store.db import Store
from idqueue.sync import ReadFirst, SourceHealth, SyncEngine, SyncReport, build_sources
from idqueue.team_state import record_poll, record_stopped

__all__ = ["Health", "Role", "ServiceRunner"]

log = logging.getLogger(__name__)

STALE_AFTER = 3.0
"""``/healthz`` fails when the last successful poll is older than this many poll intervals."""


class Role(StrEnum):
    """What this service is doing."""

    STARTING = "starting"
    ACTIVE = "active"
    STANDBY = "standby"
    STOPPED = "stopped"


@dataclass
class Health:
    """What ``/healthz`` answers (see :meth:`ServiceRunner.health`)."""

    role: Role
    ok: bool
    problems: list[str] = field(default_factory=list)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    outbox: dict[str, int] = field(default_factory=dict)
    last_poll: datetime | None = None
    interval: float = 60.0

    def as_json(self) -> dict[str, Any]:
        """The JSON body (no secrets: messages are redacted one-liners)."""
        return {
            "role": self.role.value,
            "ok": self.ok,
            "problems": self.problems,
            "sources": self.sources,
            "outbox": self.outbox,
            "last_poll": _iso(self.last_poll),
            "poll_interval": self.interval,
        }


class ServiceRunner:
    """One team service's background work (see the module docstring).

    Args:
        settings: the configuration.
        store: the shared store (its connections are per thread).
        leadership: the lock that makes one service active.
        metrics: where polls and sends are counted (one is made when omitted).
        interval: seconds between polls (default ``ui.poll_interval``).
        retry_every: seconds between a standby's attempts to take the lock.
        check_every: seconds between the active service's lock checks.
        outbox_every: seconds between looks at the outbox when nothing woke it.
        throttle: seconds between two writes (GitHub's and Slack's write limits).
        clock: the clock for the engine, notifications and the dispatcher.
        sources: builds the readers (default: every configured integration's).
        writers: builds the outbox writers (default: from the settings' tokens).
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        leadership: Leadership,
        *,
        metrics: ServiceMetrics | None = None,
        interval: float | None = None,
        retry_every: float = 1.0,
        check_every: float = 1.0,
        outbox_every: float = 1.0,
        throttle: float = 1.0,
        clock: Clock | None = None,
        sources: Callable[[Settings], list[Source]] = build_sources,
        writers: Callable[[], dict[str, Writer]] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.leadership = leadership
        self.metrics = metrics or ServiceMetrics()
        self.interval = settings.ui.poll_interval if interval is None else interval
        self.retry_every = retry_every
        self.check_every = check_every
        self.outbox_every = outbox_every
        self.throttle = throttle
        self.clock = clock or clock_for(settings)
        self.build_sources = sources
        self.build_writers = writers
        self.read_first = ReadFirst()
        """Item ids push events (Socket Mode, webhooks) said to read first on the next poll."""
        self.wakeup = Wakeup(on_wake=self._count_wake)
        self.polls = 0
        """Polls done while active (all activations)."""
        self.takeover_seconds: float | None = None
        """How long the last standby spell lasted before this service became active."""
        self._lock = threading.Lock()
        self._role = Role.STARTING
        self._stopping = threading.Event()
        self._active = threading.Event()
        self._halt = threading.Event()
        self._outbox_wake = threading.Event()
        self._loop: PollLoop | None = None
        self._health: dict[str, SourceHealth] = {}
        self._last_ok: float | None = None
        self._last_ok_at: datetime | None = None
        self._active_since: float | None = None
        self._early_seen = 0
        self._said: set[str] = set()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def role(self) -> Role:
        """Active, standby, starting or stopped."""
        with self._lock:
            return self._role

    def start(self) -> None:
        """Start the leader thread (returns at once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._lead, name="idqueue-serve-leader", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop polling and sending, release the lock, and wait for the threads (idempotent).

        An active service tells the clients it stopped (the ``service_state`` row) before it
        releases the lock, so a standby that takes over writes its report after that one.
        """
        was_active = self.role is Role.ACTIVE
        self._stopping.set()
        self._step_down_now()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        if was_active:
            self._record_stopped()
        self.leadership.release()
        self._set_role(Role.STOPPED)

    def _record_stopped(self) -> None:
        try:
            record_stopped(self.store, now=datetime.now(UTC))
        except Exception as exc:  # the clients then see the stale warning instead
            log.error("serve: recording the stop failed: %s", one_line(redact(f"{type(exc).__name__}: {exc}"), 200))

    def wake(self, system: str = "") -> None:
        """Poll now, or right after the running poll; a burst of calls makes one poll (any thread).

        A standby keeps the request: its first poll, once active, comes at once anyway.
        """
        self.wakeup.wake(system)

    def _count_wake(self, system: str) -> None:
        self.metrics.wakeups.labels(system or "other").inc()

    def _set_role(self, role: Role) -> None:
        with self._lock:
            self._role = role
        self.metrics.set_active(role is Role.ACTIVE)

    def _step_down_now(self) -> None:
        """Stop the active work at once (from any thread): no new poll, claim or write."""
        self._active.clear()
        self._halt.set()
        self._outbox_wake.set()
        loop = self._loop
        if loop is not None:
            loop.stop()

    # ------------------------------------------------------------------ the leader thread
    def _lead(self) -> None:
        standby_since: float | None = None
        try:
            while not self._stopping.is_set():
                if not self._try_acquire():
                    if standby_since is None:
                        standby_since = time.monotonic()
                        self._set_role(Role.STANDBY)
                        log.info("serve: standby; waiting for the active service")
                    self._stopping.wait(self.retry_every)
                    continue
                if standby_since is not None:
                    self.takeover_seconds = time.monotonic() - standby_since
                    log.info("serve: took over after %.1f s", self.takeover_seconds)
                log.info("serve: active (leader)")
                standby_since = None
                failed = self._serve_while_leader()
                if self._stopping.is_set():
                    break
                self.leadership.release()
                standby_since = time.monotonic()
                self._set_role(Role.STANDBY)
                log.warning("serve: standby; waiting for the active service")
                # Give the standby the first chance: this service's lock connection or machine
                # just proved unreliable (or its work failed).
                self._stopping.wait(max(5.0, 5 * self.retry_every) if failed else 3 * self.retry_every)
        finally:
            self.store.close()  # this thread's connection

    def _try_acquire(self) -> bool:
        try:
            return self.leadership.try_acquire()
        except LeadershipError as exc:
            self._say_once(f"serve: {exc}; retrying")
        except Exception as exc:  # whatever the lock's failure, stay a standby and retry
            self._say_once(f"serve: the leader lock failed: {one_line(redact(f'{type(exc).__name__}: {exc}'), 200)}; "
                           "retrying")
        return False

    def _serve_while_leader(self) -> bool:
        """Poll and send until the lock is lost or the service stops; True when it failed."""
        self._halt.clear()
        self._active.set()
        self._active_since = time.monotonic()
        self._set_role(Role.ACTIVE)
        watch = threading.Thread(target=self._watch_lock, name="idqueue-serve-lock", daemon=True)
        outbox = threading.Thread(target=self._dispatch_loop, name="idqueue-serve-outbox", daemon=True)
        sources: list[Source] = []
        failed = False
        try:
            sources = self.build_sources(self.settings)
            engine = SyncEngine(self.store, sources, self.settings, clock=self.clock, read_first=self.read_first)
            loop = PollLoop(self.settings, lambda _read_first: self._poll(engine), interval=self.interval,
                            keep_going=self._active.is_set, on_slack_health=_log_slack_health,
                            read_first=self.read_first, wakeup=self.wakeup)
            self._loop, self._early_seen = loop, 0
            watch.start()
            outbox.start()
            if self._active.is_set():  # the lock may have gone while the clients were built
                loop.run()
        except Exception:
            log.exception("serve: the active service failed; stepping down")
            failed = True
        finally:
            self._step_down_now()
            self._loop = None
            for thread in (outbox, watch):
                if thread.is_alive():
                    thread.join()
            for source in sources:
                source.close()
        if not self._stopping.is_set() and not failed:
            log.warning("serve: lost the leader lock (%s); stopped polling and sending",
                        self.leadership.description)
        return failed

    def _watch_lock(self) -> None:
        while self._active.is_set() and not self._halt.wait(self.check_every):
            try:
                held = self.leadership.still_held()
            except Exception:
                log.exception("serve: checking the leader lock failed")
                held = False
            if not held:
                self._step_down_now()
                return

    # ------------------------------------------------------------------ polls
    def _poll(self, engine: SyncEngine) -> None:
        """One poll of every integration, then its notifications; never raises."""
        loop = self._loop
        if loop is not None and loop.early_polls > self._early_seen:
            self.metrics.early_polls.inc(loop.early_polls - self._early_seen)
            self._early_seen = loop.early_polls
        try:
            report = engine.poll()
        except Exception as exc:  # a store failure outside a source's batch (the clocks refresh)
            log.error("serve: poll failed: %s", one_line(redact(f"{type(exc).__name__}: {exc}"), 300))
            return
        self.polls += 1
        names = [source.kind.value for source in engine.sources]
        self.metrics.observe_poll(report, names)
        with self._lock:
            self._health = {name: replace(h) for name, h in zip(names, engine.health.values(), strict=False)}
            if not report.sources or any(s.error is None for s in report.sources):
                self._last_ok = time.monotonic()
                self._last_ok_at = datetime.now(UTC)
        for source_report in report.sources:
            line = one_line(redact(source_report.summary()), 400)
            (log.warning if source_report.error is not None else log.info)("%s", line)
        self._record_state()
        self._notify(engine, report)
        self._outbox_wake.set()

    def _record_state(self) -> None:
        """Tell the clients how the service is doing (the ``service_state`` row, its heartbeat)."""
        with self._lock:
            health, last_ok = list(self._health.values()), self._last_ok_at
        try:
            record_poll(self.store, health, last_poll_at=last_ok, interval=self.interval, now=datetime.now(UTC))
        except Exception as exc:  # the clients only lose the summary; polling goes on
            log.error("serve: recording the service state failed: %s",
                      one_line(redact(f"{type(exc).__name__}: {exc}"), 200))

    def _notify(self, engine: SyncEngine, report: SyncReport) -> None:
        if not self.settings.notify.channel:
            return
        try:
            queued = Notifier(self.store, self.settings, clock=engine.clock).after_poll(report.created)
        except Exception as exc:  # the next poll tries again (notifications are level-triggered)
            log.error("notify: FAILED — %s", one_line(redact(f"{type(exc).__name__}: {exc}"), 200))
            return
        if queued.queued:
            log.info("%s", queued.summary())

    # ------------------------------------------------------------------ the outbox
    def _dispatch_loop(self) -> None:
        # The loop below throttles between claims itself, so it can stop before the next claim.
        dispatcher = Dispatcher(self.store, self.settings, clock=self.clock, throttle=0.0,
                                writers=self.build_writers() if self.build_writers is not None else None)
        try:
            while self._active.is_set():
                self._outbox_wake.clear()
                if self._dispatch_one(dispatcher):
                    self._halt.wait(self.throttle)  # about one write a second, as the TUI sends
                else:
                    self._outbox_wake.wait(self.outbox_every)
        finally:
            dispatcher.close()
            self.store.close()  # this thread's connection

    def _dispatch_one(self, dispatcher: Dispatcher) -> bool:
        """Claim and send at most one due action; True when one was tried."""
        if not self._active.is_set():
            return False
        try:
            report = dispatcher.run_once(max_actions=1)
        except Exception as exc:  # a locked or unreachable database: try again shortly
            self._say_once(f"outbox: FAILED — {one_line(redact(f'{type(exc).__name__}: {exc}'), 200)}")
            self._halt.wait(self.outbox_every)
            return False
        self.metrics.observe_dispatch(report)
        for action in report.sent:
            log.info("outbox: sent %s", one_line(action.summary, 200))
        for action in (*report.failed, *report.needs_attention):
            log.warning("outbox: %s — %s", one_line(action.summary, 120), one_line(action.last_error or "", 200))
        for reason in report.blocked:
            self._say_once(f"outbox: {one_line(reason, 200)}")
        return bool(report.request_ids)

    def _say_once(self, line: str) -> None:
        """Log a repeating problem once (until the service restarts)."""
        if line not in self._said:
            self._said.add(line)
            log.warning("%s", line)

    # ------------------------------------------------------------------ health
    def health(self) -> Health:
        """The role, each source's state, the outbox's depth and whether all is well.

        Not ok (``/healthz`` answers 503) when the database cannot be read, or when this service
        is active and its last successful poll (one where at least one integration answered) is
        older than three poll intervals. Reads the database: call it off the event loop.
        """
        role = self.role
        with self._lock:
            health = dict(self._health)
            last_ok, last_ok_at, since = self._last_ok, self._last_ok_at, self._active_since
        result = Health(role=role, ok=True, last_poll=last_ok_at, interval=self.interval)
        if role is Role.ACTIVE:
            result.sources = {name: _source_json(h) for name, h in health.items()}
            started = last_ok if last_ok is not None else since
            if started is not None and time.monotonic() - started > STALE_AFTER * self.interval:
                result.ok = False
                result.problems.append(f"no successful poll for more than {STALE_AFTER * self.interval:g} s")
        else:
            result.sources = {i.name: {"state": role.value, "last_sync": None, "message": ""}
                              for i in registry.configured(self.settings)}
        try:
            depth = OutboxStore(self.store).depth(self.clock())
        except Exception as exc:
            result.ok = False
            result.problems.append(f"database unreachable: {one_line(redact(f'{type(exc).__name__}: {exc}'), 200)}")
        else:
            self.metrics.set_depth(depth)
            result.outbox = {"due": depth["due"], "failed": depth["failed"],
                             "needs_attention": depth["needs_attention"], "queued": depth["queued"],
                             "sending": depth["sending"]}
        finally:
            self.store.close()  # the HTTP worker thread's connection
        return result


def _source_json(health: SourceHealth) -> dict[str, Any]:
    return {
        "name": health.name,
        "state": health.state,
        "last_sync": _iso(health.last_sync),
        "message": one_line(redact(health.message), 300),
        "until": _iso(health.until),
    }


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if at is not None else None


def _log_slack_health(health: Any) -> None:
    """Socket Mode state changes, one log line each (the SDK's threads)."""
    if health.live:
        log.info("Slack Socket Mode: connected; Slack changes sync at once")
    elif health.state.value == "reconnecting":
        log.info("Slack Socket Mode: reconnecting; polling meanwhile")
    elif health.state.value == "failed":
        log.warning("Slack Socket Mode: %s; polling only", one_line(redact(health.describe()), 200))
