"""What the screens need from the core, built once by the app (the composition root)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from idqueue.clock import Clock
from idqueue.config import Settings
from idqueue.outbox.pending import PendingLookup
from idqueue.store.db import Store
from idqueue.sync import SyncEngine
from idqueue.widgets.rows import QueueData

if TYPE_CHECKING:  # the outbox loads after the first frame (its service pulls in Jinja2 on use)
    from idqueue.outbox.dispatcher import Dispatcher
    from idqueue.outbox.service import Actions


@dataclass
class TuiContext:
    """The core objects the TUI works with; nothing here imports widgets.

    Attributes:
        settings: the configuration.
        store: the SQLite store.
        clock: the injected clock (``IDQUEUE_NOW`` freezes it).
        data: windowed queue reads for the table and panes.
        engine: the sync engine (None: no polling, e.g. in tests).
        actions: the outbox service, None if unavailable.
        dispatcher: the outbox dispatcher, None if unavailable.
        pending: unsent outbox actions per request.
        sandbox: the sources are the built-in emulators.
        live: poll on the configured interval.
    """

    settings: Settings
    store: Store
    clock: Clock
    data: QueueData
    engine: SyncEngine | None = None
    actions: Actions | None = None
    dispatcher: Dispatcher | None = None
    pending: PendingLookup | None = None
    sandbox: bool = False
    live: bool = True
    extras: dict[str, Any] = field(default_factory=dict)

    def require_actions(self) -> Actions:
        """The outbox service, for code reached only once it is known to be available.

        Key handlers check ``actions is not None`` (and say so when it is not) before they
        start a worker; this states that guarantee where the worker uses the service.

        Raises:
            RuntimeError: the outbox is unavailable (a caller skipped that check).
        """
        if self.actions is None:
            raise RuntimeError("the outbox is unavailable")
        return self.actions
