"""Instant mail updates: a background IMAP ``IDLE`` (RFC 2177) on the support mailbox.

:class:`MailWatcher` holds one connection in ``IDLE`` on ``email.mailbox`` in a daemon thread and
calls ``on_event`` when the server announces new mail (``EXISTS``), so the app can poll at once
instead of waiting for its interval. It re-issues ``IDLE`` every ``renew`` seconds (RFC 2177 asks
clients to do so within 29 minutes), reconnects after failures with growing waits, and reports
whether it is live through ``live``. Servers without ``IDLE`` leave it idle: polling goes on.

Same shape as the Slack Socket Mode client (``start``/``stop``, a callback from a background
thread), so the app's poller can start it the same way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from idqueue.config import Settings
from idqueue.integrations.email import imap

log = logging.getLogger(__name__)

RETRY_DELAYS = (1.0, 5.0, 30.0, 120.0)
"""Waits between reconnection attempts (the last one repeats)."""


class MailWatcher:
    """IMAP IDLE in a daemon thread.

    Args:
        settings: the configuration (``email`` section).
        on_event: called from the watcher's thread when new mail arrived.
        renew: seconds after which ``IDLE`` is ended and started again.
        slice_seconds: how often the thread looks at its stop flag while idling.
        retry_delays: waits between reconnection attempts (the last one repeats).
    """

    def __init__(self, settings: Settings, on_event: Callable[[], None], *, renew: float = 600.0,
                 slice_seconds: float = 0.5, retry_delays: Sequence[float] = RETRY_DELAYS) -> None:
        self.cfg = settings.email
        self.on_event = on_event
        self.renew = renew
        self.slice_seconds = slice_seconds
        self.retry_delays = tuple(retry_delays) or RETRY_DELAYS
        self.live = False
        """True while a connection is in IDLE."""
        self.supported: bool | None = None
        """Whether the server offers IDLE (None until the first login)."""
        self.events = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the watcher thread (no-op when running)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="email-idle", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (ends IDLE and logs out)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
        self.live = False

    def __enter__(self) -> MailWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._session()
                failures = 0
            except Exception as exc:  # any failure: wait, reconnect; polling covers the gap
                self.live = False
                log.info("email IDLE: %s", type(exc).__name__)
                delay = self.retry_delays[min(failures, len(self.retry_delays) - 1)]
                failures += 1
                if self._stop.wait(delay):
                    return
            if self.supported is False:
                return

    def _session(self) -> None:
        client: Any = imap.connect(self.cfg)
        try:
            self.supported = bool(client.has_capability("IDLE"))
            if not self.supported:
                return
            client.select_folder(self.cfg.mailbox, readonly=True)
            while not self._stop.is_set():
                self._idle_once(client)
        finally:
            self.live = False
            imap.close(client)

    def _idle_once(self, client: Any) -> None:
        client.idle()
        self.live = True
        waited = 0.0
        new_mail = False
        try:
            while not self._stop.is_set() and waited < self.renew:
                responses = client.idle_check(timeout=self.slice_seconds)
                waited += self.slice_seconds
                if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                    new_mail = True
                    break
        finally:
            client.idle_done()
        if new_mail:
            self.events += 1
            self.on_event()


def watcher(settings: Settings, on_change: Callable[[], None]) -> MailWatcher | None:
    """The TUI's push channel for the mailbox (the registry's ``live``): IMAP IDLE on the inbox
    when email is configured; the watcher falls back to plain polling (does nothing) when the
    server does not offer IDLE."""
    if not settings.email.imap_host:
        return None
    return MailWatcher(settings, on_change)
