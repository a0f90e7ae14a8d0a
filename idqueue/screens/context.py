"""What the screens need from the core, built once by the app (the composition root)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from idqueue.clock import Clock
from idqueue.config import Settings
from idqueue.store.db import Store
from idqueue.sync import SyncEngine
from idqueue.widgets.rows import PendingLookup, QueueData


@dataclass
class TuiContext:
    """The core objects the TUI works with; nothing here imports widgets.

    Attributes:
        settings: the configuration.
        store: the SQLite store.
        clock: the injected clock (``IDQUEUE_NOW`` freezes it).
        data: windowed queue reads for the table and panes.
        engine: the sync engine (None: no polling, e.g. in tests).
        actions: the outbox service (``idqueue.outbox.service.Actions``), None if unavailable.
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
    actions: Any = None
    dispatcher: Any = None
    pending: PendingLookup | None = None
    sandbox: bool = False
    live: bool = True
    extras: dict[str, Any] = field(default_factory=dict)
