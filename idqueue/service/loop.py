"""The poll loop shared by ``idqueue sync`` and ``idqueue serve``: poll on an interval, sooner when
something upstream says it changed.

A :class:`PollLoop` calls its ``poll`` function, then waits ``ui.poll_interval`` seconds, or less
when woken: by Slack Socket Mode, by an integration's push watcher (IMAP IDLE; the registry's
``live``) or by anyone holding :meth:`PollLoop.wake` (the team service's webhook receivers).
Wake-ups coalesce: any number of them during a wait start one poll, and any number during a poll
start exactly one more right after it (the change may have come after its system was read).
Polls never overlap. The push channels only say *that* something changed; the poll reads what,
so every change goes through one code path.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from idqueue.config import Settings
from idqueue.integrations import registry
from idqueue.sync import ReadFirst

if TYPE_CHECKING:
    from idqueue.integrations.slack.socket import LiveHealth

__all__ = ["PollLoop", "Wakeup"]

log = logging.getLogger(__name__)


class Wakeup:
    """A coalescing wake-up flag, safe to set from any thread.

    Args:
        on_wake: told the system of every wake-up (metrics), from the caller's thread.

    Attributes:
        requested: wake-ups asked for, per system (``""`` when the caller named none).
    """

    def __init__(self, on_wake: Callable[[str], None] | None = None) -> None:
        self.on_wake = on_wake
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self.requested: Counter[str] = Counter()

    def wake(self, system: str = "") -> None:
        """Ask for a poll now (or right after the running one)."""
        with self._lock:
            self.requested[system] += 1
            self._pending.add(system)
        if self.on_wake is not None:
            self.on_wake(system)
        self._event.set()

    def interrupt(self) -> None:
        """End the current wait without asking for a poll (a loop being stopped)."""
        self._event.set()

    def take(self) -> set[str]:
        """Clear the flag; returns the systems that asked since the last call (empty: none)."""
        with self._lock:
            self._event.clear()
            pending, self._pending = self._pending, set()
        return pending

    def wait(self, timeout: float) -> bool:
        """Wait until woken or ``timeout`` seconds passed; True when woken."""
        return self._event.wait(timeout)


class PollLoop:
    """Polls now, then every ``interval`` seconds or as soon as it is woken.

    Args:
        settings: the configuration (``ui.poll_interval``, Socket Mode and push watchers).
        poll: one poll; it gets the loop's :class:`~idqueue.sync.ReadFirst` (what push events
            said to read first). Exceptions propagate (the caller decides what a failed poll is).
        interval: seconds between the end of a poll and the next (default ``ui.poll_interval``).
        keep_going: checked before every poll and after every wait; the loop ends when it is
            False (the service stepping down; :meth:`stop` wakes the wait).
        on_slack_health: told every Socket Mode state change (from the SDK's threads).
        live: start Slack Socket Mode and the integrations' push watchers (IMAP IDLE).
        read_first: where push events note what to read first (one is made when omitted).
        wakeup: the wake-up flag (one is made when omitted); a service passes its own, so
            wake-ups that arrive before the loop runs are kept.
    """

    def __init__(
        self,
        settings: Settings,
        poll: Callable[[ReadFirst], Any],
        *,
        interval: float | None = None,
        keep_going: Callable[[], bool] | None = None,
        on_slack_health: Callable[[LiveHealth], None] | None = None,
        live: bool = True,
        read_first: ReadFirst | None = None,
        wakeup: Wakeup | None = None,
    ) -> None:
        self.settings = settings
        self.poll = poll
        self.interval = settings.ui.poll_interval if interval is None else interval
        self.keep_going = keep_going or (lambda: True)
        self.on_slack_health = on_slack_health
        self.live = live
        self.read_first = read_first if read_first is not None else ReadFirst()
        self.wakeup = wakeup if wakeup is not None else Wakeup()
        self.polls = 0
        """Polls done (all runs)."""
        self.early_polls = 0
        """Polls started by a wake-up rather than the interval."""
        self.slack_events: Any = None
        """The Socket Mode client while the loop runs (None without an app-level token)."""
        self.watchers: list[Any] = []
        """The integrations' push watchers while the loop runs."""
        self._stopped = threading.Event()

    def wake(self, system: str = "") -> None:
        """Poll now, or once more right after the running poll (coalesced; any thread)."""
        self.wakeup.wake(system)

    def stop(self) -> None:
        """End :meth:`run` after the running poll (any thread)."""
        self._stopped.set()
        self.wakeup.interrupt()

    def _going(self) -> bool:
        return not self._stopped.is_set() and self.keep_going()

    def run(self, *, rounds: int | None = None, after_round: Callable[[int], None] | None = None) -> int:
        """Poll until stopped (or ``rounds`` polls); returns the number of polls done.

        Args:
            rounds: stop after this many polls (tests); None polls until :meth:`stop` or
                ``keep_going`` says so.
            after_round: called with the number of polls done in this run after each one.
        """
        if self.live:
            self._start_live()
        done = 0
        try:
            while self._going() and (rounds is None or done < rounds):
                # Cleared before the poll: a wake-up during it starts one more right after.
                self.wakeup.take()
                self.poll(self.read_first)
                done += 1
                self.polls += 1
                if after_round is not None:
                    after_round(done)
                if (rounds is not None and done >= rounds) or not self._going():
                    break
                if self.wakeup.wait(self.interval) and self._going():
                    self.early_polls += 1
        finally:
            self._stop_live()
        return done

    # ------------------------------------------------------------------ push channels
    def _start_live(self) -> None:
        """Start Slack Socket Mode (with an app-level token) and the integrations' watchers."""
        from idqueue.integrations.slack.socket import SlackEvents, socket_mode_configured

        if socket_mode_configured(self.settings):
            try:
                # No debounce window: the wake-up flag already makes a burst one poll (and one
                # more after a running poll), so an event's poll starts at once.
                events = SlackEvents(self.settings, lambda: self.wake("slack"), on_health=self.on_slack_health,
                                     on_thread=self.read_first.add, debounce=0.0)
                events.start()
                self.slack_events = events
            except Exception:  # Socket Mode is an optimisation: polling goes on without it
                log.exception("cannot start Slack Socket Mode")
        self.watchers.extend(registry.start_live_watchers(self.settings, self.wake))

    def _stop_live(self) -> None:
        events, self.slack_events = self.slack_events, None
        watchers, self.watchers = self.watchers, []
        if events is not None:
            events.stop()
        for watcher in watchers:
            try:
                watcher.stop()
            except Exception:
                log.warning("stopping a push watcher failed", exc_info=True)
