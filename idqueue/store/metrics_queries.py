"""SQL for the metrics: only the columns and events a period needs, by index.

* :func:`fetch_rows` — the requests created in ``[start, end)`` (index ``requests_created``)
  plus, for those that have them, their pause intervals and reopen counts from two narrow
  indexed event queries (pause/resume/reopen events and pending-label changes; then the
  requester's own replies, which end a pause, only for requests that were paused);
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
from idqueue.store.codec import Row, iso_us

if TYPE_CHECKING:
    from idqueue.store.db import Store

_ROWS_SQL = """
SELECT id, key, title, url, type, status, status_reason, sources, priority, assignee,
       json_extract(fields, '$.team') AS team, requester_id, created_at, first_response_at,
       resolved_at, sla_policy, first_response_due, resolution_due, fields != '{}' AS via_intake, customer
FROM requests
WHERE created_at >= :start AND created_at < :end AND status != 'deleted'
ORDER BY created_at, seq
"""

# What can start, end or count a pause, plus reopenings, by index (events_kind_at and
# events_pending_label) rather than by walking every event of every request: pause, resume and
# reopen events since the window's start, and (un)labeling with a pending label. Rows of
# requests outside the window are dropped in Python.
_STATE_EVENTS_SQL = """
SELECT i.request_id AS rid, e.uid, e.item_id, e.kind, e.at, e.actor_id, e.is_bot, e.body, e.data
FROM events e JOIN items i ON i.id = e.item_id
WHERE e.kind IN ('pending', 'resumed', 'reopened') AND e.at >= :start
UNION ALL
SELECT i.request_id AS rid, e.uid, e.item_id, e.kind, e.at, e.actor_id, e.is_bot, e.body, e.data
FROM events e JOIN items i ON i.id = e.item_id
WHERE e.kind IN ('labeled', 'unlabeled')
  AND lower(json_extract(e.data, '$.label')) IN (SELECT value FROM json_each(:labels))
"""

# Replies by the requester end a pause: read only for requests that were paused.
_REQUESTER_REPLIES_SQL = """
SELECT i.request_id AS rid, e.uid, e.item_id, e.kind, e.at, e.actor_id, e.is_bot, e.body, e.data
FROM requests r
JOIN items i ON i.request_id = r.id
JOIN events e ON e.item_id = i.id
WHERE r.id IN (SELECT value FROM json_each(:ids))
  AND e.kind IN ('message', 'comment') AND e.actor_id = r.requester_id AND e.is_bot = 0
"""

_SURVEY_SQL = """
SELECT g.uid, g.rating, g.at, g.source, g.comment, g.request_id,
       r.type, r.sources AS request_sources, r.priority, r.assignee, r.customer,
       json_extract(r.fields, '$.team') AS team
FROM ratings g LEFT JOIN requests r ON r.id = g.request_id
WHERE g.at >= :start AND g.at < :end
"""

# Closing messages with reactions. LIKE is only a cheap pre-filter; the JSON is parsed below.
# ``closing``: idqueue posted this reply as a close (its state event is ``<uid>:close``).
_REACTIONS_SQL = """
SELECT e.uid, e.at, e.is_bot, e.data, e.source, i.request_id, r.requester_id, r.type,
       r.sources AS request_sources,
       r.priority, r.assignee, r.customer, json_extract(r.fields, '$.team') AS team,
       EXISTS (SELECT 1 FROM events c WHERE c.uid = e.uid || ':close') AS closing
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
    cursor = conn.cursor()
    # Plain tuples: sqlite3.Row lookups by name cost more than the rest of the row at 10k+ rows.
    cursor.row_factory = None
    fromiso = datetime.fromisoformat
    homes = _Homes()
    for (rid, key, title, url, type_, status, reason, sources, priority, assignee, team, requester, created,
         responded, resolved, policy, fr_due, res_due, via_intake, customer) in cursor.execute(_ROWS_SQL, params):
        rows[rid] = RequestRow(
            rid, key, title, type_, status, fromiso(created),
            fromiso(responded) if responded else None,
            fromiso(resolved) if resolved else None,
            reason, homes(sources) or "", priority, assignee,
            str(team) if team is not None else None,
            requester, url, policy,
            fromiso(fr_due) if fr_due else None,
            fromiso(res_due) if res_due else None,
            bool(via_intake),
            customer=customer,
        )
    if not rows:
        return []
    labels = json.dumps(sorted({label.lower() for label in sla.pending_labels}))
    events: dict[str, list[TimelineEvent]] = defaultdict(list)
    for e in conn.execute(_STATE_EVENTS_SQL, {"start": params["start"], "labels": labels}):
        if e["rid"] in rows:
            events[e["rid"]].append(_event(e))
    paused = [rid for rid, evs in events.items() if any(ev.kind is not EventKind.REOPENED for ev in evs)]
    if paused:
        for e in conn.execute(_REQUESTER_REPLIES_SQL, {"ids": json.dumps(paused)}):
            events[e["rid"]].append(_event(e))
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


def _event(e: Row) -> TimelineEvent:
    at = _dt(e["at"])
    assert at is not None
    return TimelineEvent(
        uid=e["uid"],
        item_id=e["item_id"],
        kind=EventKind(e["kind"]),
        at=at,
        actor_id=e["actor_id"],
        body=e["body"],
        is_bot=bool(e["is_bot"]),
        data=json.loads(e["data"]) if e["data"] and e["data"] != "{}" else {},
    )


def _stub(row: RequestRow) -> Request:
    """The minimum of a :class:`Request` that :func:`pause_intervals` reads."""
    requester = Person(row.requester_id, row.requester_id) if row.requester_id else None
    return Request(
        id=row.id, key=row.key, sources=[SourceKind(s) for s in row.source.split("+")], title="", body="",
        requester=requester,
        status=Status(row.status), created_at=row.created_at, updated_at=row.created_at,
    )


def fetch_ratings(store: Store, start: datetime, end: datetime) -> list[Rating]:
    """Ratings given in ``[start, end)``: survey responses and in-Slack reactions.

    A Slack rating is a ``:one:`` … ``:five:`` reaction on a closing message — one posted by
    idqueue when closing (its automatic message or a triager's close), or by a bot such as the
    intake bot — never on a human's own message; by the requester (by anyone when the
    requester is unknown). It is dated by the message it rates.
    """
    params = _bounds(start, end)
    out: list[Rating] = []
    homes = _Homes()
    for r in store.conn.execute(_SURVEY_SQL, params):
        at = _dt(r["at"])
        assert at is not None
        out.append(Rating(
            uid=r["uid"], rating=int(r["rating"]), at=at, source=r["source"], request_id=r["request_id"],
            comment=r["comment"], type=r["type"], team=_opt(r["team"]), request_source=homes(r["request_sources"]),
            priority=r["priority"], assignee=r["assignee"], customer=r["customer"],
        ))
    for r in store.conn.execute(_REACTIONS_SQL, params):
        data: dict[str, Any] = json.loads(r["data"])
        if not (r["is_bot"] or r["closing"] or data.get("idqueue_automation")):
            continue  # a :five: on a human's message is not a rating
        reactions = data.get("reactions")
        if not isinstance(reactions, dict):
            continue
        at = _dt(r["at"])
        assert at is not None
        for user, value in ratings_from_reactions(reactions, r["requester_id"]):
            out.append(Rating(
                uid=f"{r['source']}:{r['uid']}:{user}", rating=value, at=at, source=r["source"],
                request_id=r["request_id"], type=r["type"], team=_opt(r["team"]),
                request_source=homes(r["request_sources"]), priority=r["priority"],
                assignee=r["assignee"], customer=r["customer"],
            ))
    out.sort(key=lambda g: (g.at, g.uid))
    return out


class _Homes:
    """A request's ``sources`` JSON (``["github","slack"]``) as the metrics' source group
    (``github+slack``), parsed once per distinct value (a month has a handful of them)."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def __call__(self, sources: str | None) -> str | None:
        if sources is None:
            return None
        found = self._seen.get(sources)
        if found is None:
            found = self._seen[sources] = "+".join(json.loads(sources))
        return found


def _opt(value: object) -> str | None:
    return str(value) if value is not None else None
