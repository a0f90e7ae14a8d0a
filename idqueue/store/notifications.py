"""What the support-channel notifier reads from the store: when it was turned on, and which
open requests crossed an SLA line since then.

The moment notifications to a channel were first turned on is kept with the cursors (under the
pseudo-source ``notify``, key ``since:<channel>``), written once and never moved, so restarting
idqueue, or a second process, never announces the backlog that was there before.
"""

from __future__ import annotations

import json
from datetime import datetime

from idqueue.domain.models import Request, parse_iso
from idqueue.store.codec import iso_us, request_from_row
from idqueue.store.db import Store

__all__ = ["NOTIFY_CURSORS", "crossed_since", "enabled_since", "recent_open", "requests_by_id"]

NOTIFY_CURSORS = "notify"
"""The cursors' ``source`` under which the notifier keeps its start times."""


def enabled_since(store: Store, channel: str, now: datetime) -> datetime:
    """When notifications to ``channel`` were first turned on: recorded now if never before.

    The first process to get here records ``now``; every later call (and every other process on
    the same database) reads that same moment back.
    """
    key = f"since:{channel}"
    known = store.cursors(NOTIFY_CURSORS).get(key)
    if isinstance(known, str) and (at := parse_iso(known)) is not None:
        return at  # the common case: no write on every poll
    with store.write() as conn:
        conn.execute(
            "INSERT INTO cursors(source, key, value, updated_at) VALUES (?,?,?,?) ON CONFLICT DO NOTHING",
            (NOTIFY_CURSORS, key, json.dumps(iso_us(now)), iso_us(now)),
        )
        row = conn.execute("SELECT value FROM cursors WHERE source=? AND key=?", (NOTIFY_CURSORS, key)).fetchone()
    recorded = parse_iso(json.loads(row[0])) if row is not None else None
    return recorded or now


def crossed_since(store: Store, since: datetime) -> list[tuple[Request, str]]:
    """Open requests that are at risk or breached, with the line crossed at or after ``since``.

    Returns:
        ``(request, "at_risk" | "breached")`` pairs, oldest crossing first. A request that went
        from ok to breached between two looks is only ``breached``.
    """
    stamp = iso_us(since)
    rows = store.conn.execute(
        "SELECT *, CASE sla_state WHEN 'at_risk' THEN sla_at_risk_at ELSE sla_due_at END AS crossed_at "
        "FROM requests WHERE is_open=1 AND ("
        "(sla_state='at_risk' AND sla_at_risk_at >= :since) OR (sla_state='breached' AND sla_due_at >= :since)) "
        "ORDER BY crossed_at, seq",
        {"since": stamp},
    ).fetchall()
    return [(request_from_row(r), str(r["sla_state"])) for r in rows]


def requests_by_id(store: Store, request_ids: list[str]) -> list[Request]:
    """The stored requests with these canonical ids, in that order (unknown ids skipped)."""
    found: list[Request] = []
    for request_id in dict.fromkeys(request_ids):
        row = store.conn.execute("SELECT * FROM requests WHERE id=?", (request_id,)).fetchone()
        if row is not None:
            found.append(request_from_row(row))
    return found


def recent_open(store: Store, since: datetime) -> list[Request]:
    """Open requests created at or after ``since``, oldest first."""
    rows = store.conn.execute(
        "SELECT * FROM requests WHERE created_at >= ? AND is_open=1 ORDER BY created_at, seq", (iso_us(since),)
    ).fetchall()
    return [request_from_row(r) for r in rows]


def replied_since(store: Store, since: datetime) -> list[Request]:
    """Requests someone outside the team wrote on at or after ``since`` (their latest such
    message, after the request itself), oldest message first; deleted ones left out."""
    rows = store.conn.execute(
        "SELECT * FROM requests WHERE last_outside_at >= ? AND last_outside_at > created_at "
        "AND status != 'deleted' ORDER BY last_outside_at, seq", (iso_us(since),)
    ).fetchall()
    return [request_from_row(r) for r in rows]
