"""The team service's state as its clients see it (the ``service_state`` table; the words for
it are in :mod:`idqueue.team_state`).

The active ``idqueue serve`` rewrites one row after each poll: where it runs (host, pid), its
heartbeat, the last poll that reached a source, its poll interval, and each source's health as
:class:`~idqueue.sync.SourceHealth` describes it. Clients (TUIs, the CLI) read it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from idqueue.domain.models import parse_iso
from idqueue.store.codec import iso_us
from idqueue.store.db import Store

STALE_AFTER = 3.0
"""A heartbeat older than this many poll intervals means the service has stopped syncing."""


@dataclass
class ServiceState:
    """The active team service's last report.

    Args:
        host: the machine it runs on.
        pid: its process id.
        heartbeat_at: when it last wrote this row (UTC).
        last_poll_at: the last poll that reached at least one source (None: none yet).
        interval: its poll interval in seconds.
        sources: each source's health after the last poll (:class:`~idqueue.sync.SourceHealth`'s
            fields; times as ISO strings).
        stopped_at: when it was stopped cleanly (SIGTERM, Ctrl-C) without a standby taking over
            yet (None while it runs; the next active service's report clears it).
    """

    host: str
    pid: int
    heartbeat_at: datetime
    last_poll_at: datetime | None
    interval: float
    sources: list[dict[str, Any]] = field(default_factory=list)
    stopped_at: datetime | None = None

    def age(self, now: datetime) -> float:
        """Seconds since the heartbeat."""
        return max(0.0, (now - self.heartbeat_at).total_seconds())

    def stale(self, now: datetime) -> bool:
        """True when the heartbeat is older than :data:`STALE_AFTER` poll intervals."""
        return self.age(now) > STALE_AFTER * max(self.interval, 1.0)


def write_service_state(store: Store, state: ServiceState) -> None:
    """Record the active service's state (one row; the newest report wins)."""
    data = json.dumps({"sources": state.sources, "stopped_at": iso_us(state.stopped_at)})
    with store.write() as conn:
        conn.execute(
            "INSERT INTO service_state(id, host, pid, heartbeat_at, last_poll_at, poll_interval, data) "
            "VALUES (1, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET host=excluded.host, "
            "pid=excluded.pid, heartbeat_at=excluded.heartbeat_at, last_poll_at=excluded.last_poll_at, "
            "poll_interval=excluded.poll_interval, data=excluded.data",
            (state.host, state.pid, iso_us(state.heartbeat_at), iso_us(state.last_poll_at), state.interval, data),
        )


def read_service_state(store: Store) -> ServiceState | None:
    """The service's last report (None: no service has written one to this store)."""
    row = store.conn.execute(
        "SELECT host, pid, heartbeat_at, last_poll_at, poll_interval, data FROM service_state WHERE id = 1"
    ).fetchone()
    if row is None:
        return None
    try:
        data = json.loads(row["data"] or "{}")
    except ValueError:
        data = {}
    return ServiceState(
        host=str(row["host"]), pid=int(row["pid"]), heartbeat_at=parse_iso(row["heartbeat_at"]),  # type: ignore[arg-type]
        last_poll_at=parse_iso(row["last_poll_at"]), interval=float(row["poll_interval"]),
        sources=[h for h in data.get("sources", []) if isinstance(h, dict)],
        stopped_at=parse_iso(data.get("stopped_at")) if isinstance(data.get("stopped_at"), str) else None,
    )
