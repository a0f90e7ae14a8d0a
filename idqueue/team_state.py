"""What clients of the shared store say about the team service (``idqueue serve``).

"team service: active on host-a, synced 20 s ago; GitHub rate-limited until 14:05", or a warning
when its heartbeat is stale ("the team service has not synced for 6 min"). The state itself is
the ``service_state`` row (:mod:`idqueue.store.service_state`) the active service writes after
each poll (:func:`record_poll`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Any

from idqueue.domain.models import parse_iso
from idqueue.safety import one_line
from idqueue.store.codec import iso_us
from idqueue.store.db import Store
from idqueue.store.service_state import ServiceState, read_service_state, write_service_state
from idqueue.sync import SourceHealth

__all__ = ["describe_service", "read_service_state", "record_poll", "record_stopped", "service_health"]


def record_poll(store: Store, health: Iterable[SourceHealth], *, last_poll_at: datetime | None,
                interval: float, now: datetime) -> None:
    """Record the active service's state after a poll (its heartbeat)."""
    write_service_state(store, ServiceState(
        host=socket.gethostname(), pid=os.getpid(), heartbeat_at=now, last_poll_at=last_poll_at,
        interval=interval, sources=[_health_json(h) for h in health],
    ))


def record_stopped(store: Store, *, now: datetime) -> bool:
    """Mark the service's state as stopped, if the last report is this process's own (a standby
    that took over meanwhile wrote a newer one: it is left alone). True when marked."""
    state = read_service_state(store)
    if state is None or state.host != socket.gethostname() or state.pid != os.getpid():
        return False
    state.stopped_at = now
    write_service_state(store, state)
    return True


def service_health(state: ServiceState) -> list[SourceHealth]:
    """The per-source health the service reported, for the status bar."""
    return [_health_from(h) for h in state.sources]


def describe_service(state: ServiceState | None, now: datetime, tz: tzinfo | None = None, *,
                     short: bool = False) -> tuple[str, bool]:
    """One line for a client and whether all is well.

    ``team service: active on host-a, synced 20 s ago; GitHub rate-limited until 14:05``, or
    ``the team service has not synced for 6 min (last heard from host-a)``. ``short`` (the status
    bar, which shows each source's health and the sync time itself): ``team service on host-a``
    while all is well.
    """
    if state is None:
        return "team service: not running yet (start `idqueue serve`)", False
    host = one_line(state.host, 60)
    if state.stopped_at is not None:
        ago = _ago((now - state.stopped_at).total_seconds())
        if short:
            return f"team service stopped {ago} ago: nothing syncs", False
        return (f"the team service was stopped on {host} {ago} ago and no other has taken over; nothing syncs "
                "or sends until one starts (`idqueue serve`)"), False
    if state.stale(now):
        return f"the team service has not synced for {_ago(state.age(now))} (last heard from {host})", False
    if short:
        return f"team service on {host}", True
    synced = f"synced {_ago((now - state.last_poll_at).total_seconds())} ago" if state.last_poll_at else "not synced yet"
    line = f"team service: active on {host}, {synced}"
    trouble = [one_line(s.describe(tz), 80) for s in service_health(state) if s.state not in ("ok", "idle")]
    if trouble:
        line += "; " + ", ".join(trouble)
    return line, not trouble and state.last_poll_at is not None


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{round(seconds / 3600)} h"


def _health_json(health: SourceHealth) -> dict[str, Any]:
    return {
        "name": health.name, "state": health.state, "message": one_line(health.message, 300),
        "until": iso_us(health.until), "last_sync": iso_us(health.last_sync),
        "last_attempt": iso_us(health.last_attempt), "threads_skipped": health.threads_skipped,
    }


def _health_from(data: dict[str, Any]) -> SourceHealth:
    return SourceHealth(
        name=str(data.get("name", "")), state=str(data.get("state", "idle")), message=str(data.get("message", "")),
        until=parse_iso(data.get("until")), last_sync=parse_iso(data.get("last_sync")),
        last_attempt=parse_iso(data.get("last_attempt")), threads_skipped=int(data.get("threads_skipped") or 0),
    )
