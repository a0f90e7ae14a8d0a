"""SQL for the metrics: only the columns and events a period needs, by index.

* :func:`fetch_rows` — the requests created in ``[start, end)`` (index ``requests_created``)
  plus, for those that have them, their pause intervals and reopen counts from a narrow event
  query (only pause/resume/label/reopen events and the requester's own replies);
* :func:`fetch_ratings` — survey ratings given in the period (index ``ratings_at``) and the
  in-Slack ``:one:`` … ``:five:`` reactions on closing messages posted in the period (index
  ``events_kind_at``).

Closed requests that are no longer polled stay in the store (nothing here depends on a
source still listing them), so a month's metrics keep working for as far back as the
history goes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from idqueue.config import SlaConfig
from idqueue.domain.metrics import Rating, RequestRow
from idqueue.domain.models import EventKind, Person, Request, SourceKind, Status, TimelineEvent
from idqueue.domain.sla import pause_intervals
from idqueue.domain.survey import ratings_from_reactions
from idqueue.store.db import iso_us

if TYPE_CHECKING:
    from idqueue.store.db import Store

_ROWS_SQL = """
SELECT id, key, title, url, type, status, status_reason, source, priority, assignee,
       json_extract(fields, '$.team') AS team, requester_id, created_at, first_response_at,
       resolved_at, sla_policy, first_response_due, resolution_due, fields != '{}' AS via_intake
FROM requests
WHERE created_at >= :start AND created_at < :end AND status != 'deleted'
"""

# Only what changes a clock or counts a reopening: pause starts/ends and reopen events, and
# replies by the requester (which end a pause). Everything else in the timeline is skipped.
_EVENTS_SQL = """
SELECT i.request_id AS rid, e.uid, e.item_id, e.kind, e.at, e.actor_id, e.is_bot, e.body, e.data
FROM requests r
JOIN items i ON i.request_id = r.id
JOIN events e ON e.item_id = i.id
WHERE r.created_at >= :start AND r.created_at < :end AND r.status != 'deleted'
  AND (e.kind IN ('pending', 'resumed', 'reopened', 'labeled', 'unlabeled')
       OR (e.kind IN ('message', 'comment') AND e.actor_id = r.requester_id AND e.is_bot = 0))
"""

_SURVEY_SQL = """
SELECT g.uid, g.rating, g.at, g.source, g.comment, g.request_id,
       r.type, r.source AS request_source, r.priority, r.assignee,
       json_extract(r.fields, '$.team') AS team
FROM ratings g LEFT JOIN requests r ON r.id = g.request_id
WHERE g.at >= :start AND g.at < :end
"""

# Closing messages with reactions. LIKE is only a cheap pre-filter; the JSON is parsed below.
_REACTIONS_SQL = """
SELECT e.uid, e.at, e.is_bot, e.data, i.request_id, r.requester_id, r.type, r.source AS request_source,
       r.priority, r.assignee, json_extract(r.fields, '$.team') AS team
FROM events e
JOIN items i ON i.id = e.item_id
JOIN requests r ON r.id = i.request_id
WHERE e.kind = 'message' AND e.at >= :start AND e.at < :end AND e.data LIKE '%"reactions"%'
"""


def _dt(text: str | None) -> datetime | None:
    # Stored times are ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; fromisoformat reads them directly.
    return datetime.fromisoformat(text) if text else None


def _bounds(start: datetime, end: datetime) -> dict[str, str | None]:
    return {"start": iso_us(start), "end": iso_us(end)}


def fetch_rows(store: Store, start: datetime, end: datetime, *, now: datetime, sla: SlaConfig) -> list[RequestRow]:
    """Requests created in ``[start, end)`` (deleted ones excluded) as :class:`RequestRow`.

    Args:
        store: the store.
        start / end: the creation window (aware datetimes).
        now: the injected clock (a request pending now has an open pause up to it).
        sla: for the pending labels that pause a clock.
    """
    params = _bounds(start, end)
    conn = store.conn
    rows: dict[str, RequestRow] = {}
    for r in conn.execute(_ROWS_SQL, params):
        created = _dt(r["created_at"])
        assert created is not None
        rows[r["id"]] = RequestRow(
            id=r["id"],
            key=r["key"],
            title=r["title"],
            type=r["type"],
            status=r["status"],
            created_at=created,
            first_response_at=_dt(r["first_response_at"]),
            resolved_at=_dt(r["resolved_at"]),
            status_reason=r["status_reason"],
            source=r["source"],
            priority=r["priority"],
            assignee=r["assignee"],
            team=str(r["team"]) if r["team"] is not None else None,
            requester_id=r["requester_id"],
            url=r["url"],
            sla_policy=r["sla_policy"],
            first_response_due=_dt(r["first_response_due"]),
            resolution_due=_dt(r["resolution_due"]),
            via_intake=bool(r["via_intake"]),
        )
    if not rows:
        return []
    events: dict[str, list[TimelineEvent]] = defaultdict(list)
    for e in conn.execute(_EVENTS_SQL, params):
        at = _dt(e["at"])
        assert at is not None
        events[e["rid"]].append(
            TimelineEvent(
                uid=e["uid"],
                item_id=e["item_id"],
                kind=EventKind(e["kind"]),
                at=at,
                actor_id=e["actor_id"],
                body=e["body"],
                is_bot=bool(e["is_bot"]),
                data=json.loads(e["data"]) if e["data"] and e["data"] != "{}" else {},
            )
        )
    for rid, evs in events.items():
        row = rows.get(rid)
        if row is None:
            continue
        row.reopened = sum(ev.kind is EventKind.REOPENED for ev in evs)
        row.pauses = tuple(pause_intervals(_stub(row), evs, sla, now=now))
    # A request whose status is pending without a pause event still gets its open pause.
    for row in rows.values():
        if row.status == Status.PENDING.value and row.id not in events:
            row.pauses = tuple(pause_intervals(_stub(row), [], sla, now=now))
    return list(rows.values())


def _stub(row: RequestRow) -> Request:
    """The minimum of a :class:`Request` that :func:`pause_intervals` reads."""
    requester = Person(row.requester_id, row.requester_id) if row.requester_id else None
    return Request(
        id=row.id, key=row.key, sources=[SourceKind.GITHUB], title="", body="", requester=requester,
        status=Status(row.status), created_at=row.created_at, updated_at=row.created_at,
    )


def fetch_ratings(store: Store, start: datetime, end: datetime) -> list[Rating]:
    """Ratings given in ``[start, end)``: survey responses and in-Slack reactions.

    A Slack rating is a ``:one:`` … ``:five:`` reaction on a closing message posted by a bot
    or by idqueue's automation (never on a human's message), by the requester (by anyone
    when the requester is unknown); it is dated by the message it rates.
    """
    params = _bounds(start, end)
    out: list[Rating] = []
    for r in store.conn.execute(_SURVEY_SQL, params):
        at = _dt(r["at"])
        assert at is not None
        out.append(Rating(
            uid=r["uid"], rating=int(r["rating"]), at=at, source=r["source"], request_id=r["request_id"],
            comment=r["comment"], type=r["type"], team=_opt(r["team"]), request_source=r["request_source"],
            priority=r["priority"], assignee=r["assignee"],
        ))
    for r in store.conn.execute(_REACTIONS_SQL, params):
        data: dict[str, Any] = json.loads(r["data"])
        if not (r["is_bot"] or data.get("idqueue_automation")):
            continue
        reactions = data.get("reactions")
        if not isinstance(reactions, dict):
            continue
        at = _dt(r["at"])
        assert at is not None
        for user, value in ratings_from_reactions(reactions, r["requester_id"]):
            out.append(Rating(
                uid=f"slack:{r['uid']}:{user}", rating=value, at=at, source="slack", request_id=r["request_id"],
                type=r["type"], team=_opt(r["team"]), request_source=r["request_source"], priority=r["priority"],
                assignee=r["assignee"],
            ))
    out.sort(key=lambda g: (g.at, g.uid))
    return out


def _opt(value: object) -> str | None:
    return str(value) if value is not None else None
