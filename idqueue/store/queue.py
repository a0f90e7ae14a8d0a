"""The queue as a window over an indexed SQL query.

The TUI never loads every request: it asks for ``limit`` rows at ``offset`` in the chosen
order, and for facet counts (panes) with ``GROUP BY``. The SLA state "at now" is derived in SQL
from the absolute due and at-risk times the assembler stored, so ordering and filtering by SLA
cost the same at 500 or 50,000 rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from idqueue.domain.models import Request, iso, parse_iso
from idqueue.domain.priority import PRIORITY_RANK
from idqueue.domain.query import Reference, SearchError, SearchSpec, parse_search
from idqueue.store.codec import Reader, Row, iso_us, request_from_row
from idqueue.store.dialect import SQLITE, Dialect
from idqueue.store.person import seen_mark, snooze_clause, snooze_order, snoozes_of, unread_clause

# The SLA state at :now (bound parameter), from stored columns.
SLA_STATE_SQL = (
    "CASE WHEN sla_state IN ('met','none','paused','breached') THEN sla_state "
    "WHEN sla_due_at IS NOT NULL AND sla_due_at <= :now THEN 'breached' "
    "WHEN sla_at_risk_at IS NOT NULL AND sla_at_risk_at <= :now THEN 'at_risk' "
    "ELSE 'ok' END"
)

# Rank buckets. -1 is the urgent lane: open P1 requests not waiting on the requester lead the
# queue whatever their clock says (a production outage filed overnight has a paused
# business-hour clock and would otherwise sort as "ok" below at-risk P4s); the shipped priority
# rules make every request that says it impacts production P1, so production impact leads too.
# Then breached (0), at risk (1), running (2), no running clock (3).
_BUCKET_SQL = (
    "CASE WHEN priority_rank = 1 AND is_open = 1 AND status != 'pending' THEN -1 "
    "WHEN sla_state = 'breached' THEN 0 "
    "WHEN sla_state IN ('met','none','paused') THEN 3 "
    "WHEN sla_due_at IS NOT NULL AND sla_due_at <= :now THEN 0 "
    "WHEN sla_at_risk_at IS NOT NULL AND sla_at_risk_at <= :now THEN 1 "
    "ELSE 2 END"
)

# The due time inside the urgent lane and the breached/at-risk buckets (the cases of
# _BUCKET_SQL up to 1), NULL in the others: one CASE, not ``CASE WHEN (bucket) <= 1``, which
# evaluates the bucket a second time for every row sorted.
_BUCKET_DUE_SQL = (
    "CASE WHEN priority_rank = 1 AND is_open = 1 AND status != 'pending' THEN sla_due_at "
    "WHEN sla_state = 'breached' THEN sla_due_at "
    "WHEN sla_state IN ('met','none','paused') THEN NULL "
    "WHEN sla_due_at IS NOT NULL AND sla_due_at <= :now THEN sla_due_at "
    "WHEN sla_at_risk_at IS NOT NULL AND sla_at_risk_at <= :now THEN sla_due_at "
    "END"
)

# Default order: the urgent lane and the breached/at-risk buckets by due time (most overdue
# first), then the rest by priority and age. NULLS FIRST / LAST say what SQLite does by itself,
# so PostgreSQL orders the same way.
RANK_ORDER = f"{_BUCKET_SQL}, {_BUCKET_DUE_SQL} NULLS FIRST, priority_rank, created_at, seq"

SORTABLE = {
    "key": "seq",
    "age": "created_at",
    "created": "created_at",
    "sla": "COALESCE(sla_due_at, '9999')",
    "priority": "priority_rank",
    "type": "type COLLATE NOCASE",
    "title": "title COLLATE NOCASE",
    "requester": "requester_name COLLATE NOCASE",
    "assignee": "assignee COLLATE NOCASE",
    "status": "status",
    "updated": "updated_at",
    "source": "sources",  # the homes in order: GitHub+Slack, GitHub, Slack
    "snoozed": "COALESCE(snoozed_until, '9999')",
    "customer": "COALESCE(customer, '~') COLLATE NOCASE",  # no customer last
}

# Group-by (TUI): the group column is prepended to ORDER BY, so groups are contiguous runs of
# the window and their sizes come from one GROUP BY (``group_counts``).
_SLA_GROUP_RANK = (
    f"CASE ({SLA_STATE_SQL}) WHEN 'breached' THEN 0 WHEN 'at_risk' THEN 1 WHEN 'ok' THEN 2 "
    "WHEN 'paused' THEN 3 WHEN 'met' THEN 4 ELSE 5 END"
)
GROUPABLE: dict[str, tuple[str, str]] = {
    # name: (label expression, order expression)
    "type": ("type", "type COLLATE NOCASE"),
    "priority": ("priority", "priority_rank"),
    "sla": (f"({SLA_STATE_SQL})", _SLA_GROUP_RANK),
    "assignee": ("COALESCE(assignee, '')", "COALESCE(assignee, '') COLLATE NOCASE"),
    "customer": ("COALESCE(customer, '')", "COALESCE(customer, '~') COLLATE NOCASE"),
}

AGE_BUCKETS: list[tuple[str, timedelta | None]] = [
    ("< 4h", timedelta(hours=4)),
    ("< 1d", timedelta(days=1)),
    ("1–2d", timedelta(days=2)),
    ("2–7d", timedelta(days=7)),
    ("> 7d", None),
]


@dataclass(frozen=True)
class QueueQuery:
    """Filters and order of the queue view; every field combines with AND.

    Attributes:
        include_closed: include resolved/closed/backlog requests.
        include_backlog: include backlog but not closed.
        statuses / types / priorities / sla_states / assignees / sources / customers: allowed
            values (empty = any). ``assignees`` may contain ``""`` for "unassigned",
            ``customers`` ``""`` for "no customer".
        mine: roster key; when set only requests assigned to it or unassigned.
        search: full-text query (FTS5, prefix-matched words).
        age: an :data:`AGE_BUCKETS` label.
        sort: a :data:`SORTABLE` key or ``"rank"``; ``descending`` flips it.
        show_snoozed: include requests snoozed until later than now (``include_closed`` does too).
        only_snoozed: only the requests snoozed until later than now (the snoozed view).
        group: a :data:`GROUPABLE` key; rows are ordered by it first (not a filter).
        spec: the parsed ``search`` (:func:`idqueue.domain.query.parse_search` with the team's
            context); None parses ``search`` without one.
        view: the name of the saved view in use ("" for none).
        view_spec: the saved view's parsed query, ANDed with everything else.
    """

    include_closed: bool = False
    include_backlog: bool = False
    statuses: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    sla_states: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()
    mine: str | None = None
    search: str = ""
    age: str | None = None
    sort: str = "rank"
    descending: bool = False
    show_snoozed: bool = False
    only_snoozed: bool = False
    ids: tuple[str, ...] = field(default=())
    group: str | None = None
    spec: SearchSpec | None = None
    view: str = ""
    view_spec: SearchSpec | None = None

    def with_(self, **changes: Any) -> QueueQuery:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def describe(self) -> list[str]:
        """Human descriptions of the active filters (for the header)."""
        parts: list[str] = []
        if self.view:
            parts.append(f"view {self.view}")
        if self.priorities:
            parts.append("priority " + "/".join(self.priorities))
        if self.sla_states:
            parts.append("SLA " + "/".join(s.replace("_", "-") for s in self.sla_states))
        if self.age:
            parts.append(f"age {self.age}")
        if self.types:
            parts.append("type " + " / ".join(self.types))
        if self.statuses:
            parts.append("status " + "/".join(self.statuses))
        if self.assignees:
            parts.append("assignee " + "/".join(a or "unassigned" for a in self.assignees))
        if self.sources:
            parts.append("source " + "/".join(self.sources))
        if self.customers:
            parts.append("customer " + "/".join(c or "none" for c in self.customers))
        if self.mine:
            parts.append(f"mine ({self.mine}) + unowned")
        if self.search:
            parts.append(f"search “{self.search}”")
        if self.only_snoozed:
            parts.append("snoozed only")
        if self.include_closed:
            parts.append("incl. closed")
        elif self.include_backlog:
            parts.append("incl. backlog")
        return parts


def fts_query(text: str) -> str:
    """Turn user input into a safe FTS5 query: each word quoted, prefix-matched, ANDed
    (PostgreSQL's form: :meth:`idqueue.store.dialect.Dialect.fts_query`)."""
    return SQLITE.fts_query(text)


def _specs(query: QueueQuery) -> list[SearchSpec]:
    """The saved view's and the search's parsed forms (a search given only as text is parsed
    without the team's context; one that cannot be parsed is searched as plain words)."""
    specs = [query.view_spec] if query.view_spec else []
    search = query.spec
    if search is None and query.search.strip():
        try:
            search = parse_search(query.search)
        except SearchError:
            search = SearchSpec(words=tuple(query.search.split()))
    if search:
        specs.append(search)
    return specs


def _where(query: QueueQuery, now: datetime, dialect: Dialect, person: str = "") -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {"now": _now_text(now)}
    if query.ids:
        marks = ",".join(f":id{i}" for i in range(len(query.ids)))
        clauses.append(f"id IN ({marks})")
        params.update({f"id{i}": v for i, v in enumerate(query.ids)})
    specs = _specs(query)
    # A reference, a status or is:open/is:closed in the search decides the scope itself.
    scoped = any(s.reference or s.statuses or s.open_state for s in specs)
    if query.statuses:
        clauses.append(_in("status", query.statuses, params))
    elif scoped:
        clauses.append("status != 'deleted'")
    elif query.include_closed:
        clauses.append("status != 'deleted'")
    elif query.include_backlog:
        clauses.append("(is_open = 1 OR status = 'backlog')")
    else:
        clauses.append("is_open = 1")
    if query.types:
        clauses.append(_in("type", query.types, params))
    if query.priorities:
        clauses.append(_in("priority", query.priorities, params))
    if query.sources:
        clauses.append(_sources_clause(query.sources, params))
    if query.assignees:
        clauses.append(_assignee_clause(query.assignees, params))
    if query.customers:
        clauses.append(_customer_clause(query.customers, params))
    if query.mine:
        params["mine"] = query.mine
        # Unowned, or theirs: the first assignee, or any of several (a shared GitHub issue).
        clauses.append("(assignee IS NULL OR seq IN (SELECT seq FROM request_assignees WHERE assignee = :mine))")
    if query.sla_states:
        clauses.append(f"({SLA_STATE_SQL}) IN ({','.join(_bind(params, s) for s in query.sla_states)})")
    if query.age:
        lower, upper = _age_bounds(query.age, now)
        if upper is not None:
            params["age_upper"] = upper
            clauses.append("created_at > :age_upper")
        if lower is not None:
            params["age_lower"] = lower
            clauses.append("created_at <= :age_lower")
    for spec in specs:
        clauses.extend(_spec_clauses(spec, params, dialect, person))
    if person:  # team mode: this person's own snoozes
        params["person"] = person
    if query.only_snoozed:
        clauses.append(snooze_clause(person, snoozed=True))
    elif not query.show_snoozed and not query.include_closed and not any(s.reference for s in specs):
        # "Everything" (history, `list --all`) includes snoozed requests, and so does a search
        # for one request by its key or link; the live queue hides them.
        clauses.append(snooze_clause(person, snoozed=False))
    return " AND ".join(clauses) or "1=1", params


def _person(store: Reader) -> str:
    """Whose snoozes the store reads (:mod:`idqueue.store.person`; empty: a single user)."""
    return str(getattr(store, "person", "") or "")


def _spec_clauses(spec: SearchSpec, params: dict[str, Any], dialect: Dialect, person: str = "") -> list[str]:
    """WHERE clauses of a parsed search; each one is answered from an index or the FTS table."""
    clauses: list[str] = []
    ref = spec.reference
    if ref:
        ors = []
        if ref.ids:
            ors.append(_in("id", ref.ids, params))
            aliases = _in("alias", ref.ids, params)
            ors.append(f"id IN (SELECT request_id FROM aliases WHERE {aliases})")  # noqa: S608
        if ref.keys:
            ors.append(_in("key", ref.keys, params))
        if ref.seqs:
            ors.append(f"seq IN ({','.join(_bind(params, n) for n in ref.seqs)})")
        clauses.append("(" + " OR ".join(ors) + ")")
    match = dialect.fts_query(" ".join(spec.words))
    if match:
        clauses.append(f"seq IN ({dialect.fts_seqs(_bind(params, match))})")
    for word, keys in spec.name_words:
        # The word in the text, or a request assigned to the member it names (is_open IN (0,1)
        # lets the assignee lookup use the (is_open, assignee) index).
        fts = dialect.fts_seqs(_bind(params, dialect.fts_query(word) or '""'))
        by_assignee = f"SELECT seq FROM request_assignees WHERE {_in('assignee', keys, params)}"  # noqa: S608
        clauses.append(f"seq IN ({fts} UNION ALL {by_assignee})")
    if spec.open_state == "open":
        clauses.append("is_open = 1")
    elif spec.open_state == "closed":
        clauses.append("is_open = 0")
    for column, values in (("type", spec.types), ("status", spec.statuses)):
        if values:
            clauses.append(_in(column, values, params))
    if spec.priorities:
        # By rank: the (is_open, priority_rank, created_at) index answers it.
        ranks = ",".join(_bind(params, PRIORITY_RANK[p]) for p in spec.priorities if p in PRIORITY_RANK)
        clauses.append(f"priority_rank IN ({ranks or 'NULL'})")
    if spec.sources:
        clauses.append(_sources_clause(spec.sources, params))
    if spec.assignees:
        clauses.append(_assignee_clause(spec.assignees, params))
    if spec.customers:
        clauses.append(_customer_clause(spec.customers, params))
    if spec.sla_states:
        clauses.append(f"({SLA_STATE_SQL}) IN ({','.join(_bind(params, s) for s in spec.sla_states)})")
    if spec.unread:
        clauses.append(unread_clause(person))
    return clauses


def _sources_clause(sources: tuple[str, ...], params: dict[str, Any]) -> str:
    """Requests with a home in any of these systems: their name, quoted, in the ``sources``
    JSON list (``["github","slack"]``); a name holds no quote, so it cannot match a part."""
    ors = [f"instr(sources, {_bind(params, json.dumps(name))}) > 0" for name in dict.fromkeys(sources)]
    return "(" + " OR ".join(ors) + ")"


def _assignee_clause(assignees: tuple[str, ...], params: dict[str, Any]) -> str:
    """Assigned to any of ``assignees`` (first or later: a request with several assignees
    matches each of them); ``""`` is "unassigned"."""
    named = tuple(a for a in assignees if a)
    assigned = _in("assignee", named, params)
    parts = [f"seq IN (SELECT seq FROM request_assignees WHERE {assigned})"] if named else []  # noqa: S608
    if "" in assignees:
        parts.append("assignee IS NULL")
    return "(" + " OR ".join(parts) + ")"


def _customer_clause(customers: tuple[str, ...], params: dict[str, Any]) -> str:
    """Requests of these customers (keys); ``""`` stands for "no customer"."""
    named = tuple(c for c in customers if c)
    parts = [_in("customer", named, params)] if named else []
    if "" in customers:
        parts.append("customer IS NULL")
    return "(" + " OR ".join(parts) + ")"


def _now_text(now: datetime) -> str:
    return iso_us(now) or ""


def _age_bounds(label: str, now: datetime) -> tuple[str | None, str | None]:
    """(created_at <= lower, created_at > upper) bounds for an age bucket."""
    previous: timedelta | None = timedelta(0)
    for name, limit in AGE_BUCKETS:
        if name == label:
            lower = _now_text(now - previous) if previous else None
            upper = _now_text(now - limit) if limit is not None else None
            return lower, upper
        previous = limit
    return None, None


def _bind(params: dict[str, Any], value: Any) -> str:
    name = f"p{len(params)}"
    params[name] = value
    return f":{name}"


def _in(column: str, values: tuple[str, ...], params: dict[str, Any]) -> str:
    return f"{column} IN ({','.join(_bind(params, v) for v in values)})"


def _order(query: QueueQuery, person: str = "") -> str:
    prefix = f"{GROUPABLE[query.group][1]}, " if query.group in GROUPABLE else ""
    if query.sort == "rank" or query.sort not in SORTABLE:
        return prefix + (RANK_ORDER if not query.descending else RANK_ORDER.replace(", seq", ", seq DESC"))
    direction = "DESC NULLS LAST" if query.descending else "ASC NULLS FIRST"
    column = snooze_order(person) if query.sort == "snoozed" and person else SORTABLE[query.sort]
    return f"{prefix}{column} {direction}, seq {direction.split()[0]}"


def fetch_window(
    store: Reader, query: QueueQuery, *, now: datetime, offset: int = 0, limit: int = 200
) -> list[Request]:
    """The requests in ``[offset, offset+limit)`` of the query's order (``limit=-1``: all)."""
    person = _person(store)
    where, params = _where(query, now, store.dialect, person)
    order = _order(query, person)
    mine = snoozes_of(store.conn, person) if person else {}
    if limit >= 0:
        # Sort the narrow rows, then read the wide ones of the window only: both backends
        # otherwise carry every matching row whole (body, JSON…) through the sort, which on
        # PostgreSQL costs more than the scan. The second ORDER BY sorts just the window.
        params.update({"limit": limit, "offset": offset})
        sql = (
            f"SELECT *, ({SLA_STATE_SQL}) AS sla_now, ({seen_mark(person)}) AS seen_mark FROM requests "  # noqa: S608
            f"WHERE seq IN (SELECT seq FROM requests WHERE {where} ORDER BY {order} LIMIT :limit OFFSET :offset) "
            f"ORDER BY {order}"
        )
    else:
        sql = (f"SELECT *, ({SLA_STATE_SQL}) AS sla_now, ({seen_mark(person)}) AS seen_mark FROM requests "  # noqa: S608
               f"WHERE {where} ORDER BY {order}")
    requests = []
    for row in store.conn.execute(sql, params):
        requests.append(_personal(row, person, mine))
    return requests


def _personal(row: Row, person: str, snoozes: dict[str, str]) -> Request:
    """A request row as this person sees it: the SLA state now, their read mark, their snooze."""
    request = request_from_row(row)
    request.sla.state = row["sla_now"]
    request.seen_at = parse_iso(row["seen_mark"])
    if person:  # a teammate's snooze is theirs
        request.snoozed_until = parse_iso(snoozes.get(request.id))
    return request


def count(store: Reader, query: QueueQuery, *, now: datetime) -> int:
    """How many requests match the query."""
    where, params = _where(query, now, store.dialect, _person(store))
    return int(store.conn.execute(f"SELECT COUNT(*) FROM requests WHERE {where}", params).fetchone()[0])  # noqa: S608


def position_of(store: Reader, query: QueueQuery, request_id: str, *, now: datetime) -> int | None:
    """The 0-based position of a request in the query's order (None if filtered out)."""
    where, params = _where(query, now, store.dialect, _person(store))
    params["target"] = request_id
    sql = (
        f"SELECT pos FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY {_order(query, _person(store))}) - 1 AS pos "  # noqa: S608
        f"FROM requests WHERE {where}) AS ordered WHERE id = :target"
    )
    row = store.conn.execute(sql, params).fetchone()
    return int(row[0]) if row else None


def order_index(store: Reader, query: QueueQuery, *, now: datetime) -> tuple[list[str], list[tuple[str, int]]]:
    """Every matching request id in the query's order, and the group runs.

    Sorting only ids is cheap (no wide rows in SQLite's sorter), so the TUI takes the whole
    order once per reload and then reads rows by id for the pages it shows; an ``OFFSET``
    deep into 50k rows would re-sort wide rows on every page.

    Returns:
        ``(ids, groups)``; ``groups`` is ``[(label, count), …]`` in order when
        ``query.group`` is set, else empty.
    """
    where, params = _where(query, now, store.dialect, _person(store))
    label = GROUPABLE[query.group][0] if query.group in GROUPABLE else "NULL"
    sql = f"SELECT id, {label} AS g FROM requests WHERE {where} ORDER BY {_order(query, _person(store))}"  # noqa: S608
    ids: list[str] = []
    groups: list[tuple[str, int]] = []
    grouped = query.group in GROUPABLE
    cursor = store.conn.cursor()
    cursor.row_factory = None  # plain tuples: named rows cost more than the rest at 50k ids
    for rid, group in cursor.execute(sql, params):
        ids.append(rid)
        if grouped:
            name = "" if group is None else str(group)
            if groups and groups[-1][0] == name:
                groups[-1] = (name, groups[-1][1] + 1)
            else:
                groups.append((name, 1))
    return ids, groups


def fetch_ids(store: Reader, ids: list[str], *, now: datetime) -> dict[str, Request]:
    """The requests with these ids (SLA state evaluated at ``now``), by id; missing ids are absent."""
    out: dict[str, Request] = {}
    person = _person(store)
    mine = snoozes_of(store.conn, person) if person else {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        params: dict[str, Any] = {"now": _now_text(now), **({"person": person} if person else {})}
        marks = ",".join(_bind(params, rid) for rid in chunk)
        sql = (f"SELECT *, ({SLA_STATE_SQL}) AS sla_now, ({seen_mark(person)}) AS seen_mark "  # noqa: S608
               f"FROM requests WHERE id IN ({marks})")
        for row in store.conn.execute(sql, params):
            request = _personal(row, person, mine)
            out[request.id] = request
    return out


def group_counts(store: Reader, query: QueueQuery, *, now: datetime) -> list[tuple[str, int]]:
    """``(label, count)`` per group of ``query.group``, in the window's order (empty when ungrouped)."""
    if query.group not in GROUPABLE:
        return []
    label, order = GROUPABLE[query.group]
    where, params = _where(query, now, store.dialect, _person(store))
    sql = (
        f"SELECT {label} AS g, COUNT(*) FROM requests WHERE {where} "  # noqa: S608
        f"GROUP BY g ORDER BY MIN({order})"
    )
    return [(str(row[0]), int(row[1])) for row in store.conn.execute(sql, params)]


def find_reference(store: Reader, reference: Reference) -> list[str]:
    """Ids of the requests a reference names (the go-to prompt), the likeliest first.

    Closed, backlogged and snoozed requests are found too; deleted ones are not.
    """
    if not reference:
        return []
    params: dict[str, Any] = {}
    (clause,) = _spec_clauses(SearchSpec(reference=reference), params, store.dialect)
    seqs = ",".join(str(int(n)) for n in reference.seqs) or "NULL"
    first = 1 if reference.issue_first else 0
    sql = (
        f"SELECT id FROM requests WHERE {clause} AND status != 'deleted' "  # noqa: S608
        f"ORDER BY CASE WHEN seq IN ({seqs}) THEN {first} ELSE {1 - first} END, seq"
    )
    return [str(row[0]) for row in store.conn.execute(sql, params)]


def known_types(store: Reader) -> list[str]:
    """Every request type stored (read from the ``(is_open, type)`` index)."""
    sql = "SELECT DISTINCT type FROM requests WHERE is_open IN (0,1) ORDER BY type"
    return [str(row[0]) for row in store.conn.execute(sql)]


def highest_seq(store: Reader) -> int:
    """The largest request sequence number so far (0 when empty): sizes the key column."""
    return int(store.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM requests").fetchone()[0])


def open_load(store: Reader) -> dict[str, int]:
    """Open requests per assignee (the assign picker shows each member's load); a request with
    several assignees counts for each of them."""
    sql = ("SELECT a.assignee, COUNT(*) FROM request_assignees a JOIN requests r ON r.seq = a.seq"
           " WHERE r.is_open = 1 GROUP BY a.assignee")
    return {str(row[0]): int(row[1]) for row in store.conn.execute(sql)}


@dataclass
class Facets:
    """Counts for the panes, each under the query *without* that pane's own filter."""

    priority: dict[str, int]
    sla: dict[str, int]
    age: dict[str, int]
    type: dict[str, int]
    total: int
    customer: dict[str, int] = field(default_factory=dict)
    """Requests per customer key (``""``: no customer); counted only when customers are configured."""


def facets(store: Reader, query: QueueQuery, *, now: datetime, customers: bool = False) -> Facets:
    """Counts by priority, SLA state, age bucket and type for the panes (and by customer with
    ``customers``: the pane is only shown when customers are configured)."""

    def grouped(q: QueueQuery, expr: str) -> dict[str, int]:
        where, params = _where(q, now, store.dialect, _person(store))
        sql = f"SELECT {expr} AS g, COUNT(*) FROM requests WHERE {where} GROUP BY g"  # noqa: S608
        return {str(row[0]): int(row[1]) for row in store.conn.execute(sql, params)}

    age_expr_parts = []
    for name, limit in AGE_BUCKETS:
        if limit is None:
            age_expr_parts.append(f"ELSE '{name}'")
        else:
            age_expr_parts.append(f"WHEN created_at > '{_now_text(now - limit)}' THEN '{name}'")
    age_expr = "CASE " + " ".join(age_expr_parts) + " END"
    return Facets(
        priority=grouped(query.with_(priorities=()), "priority"),
        sla=grouped(query.with_(sla_states=()), f"({SLA_STATE_SQL})"),
        age=grouped(query.with_(age=None), age_expr),
        type=grouped(query.with_(types=()), "type"),
        total=count(store, query, now=now),
        customer=grouped(query.with_(customers=()), "COALESCE(customer, '')") if customers else {},
    )


def json_item(request: Request) -> dict[str, Any]:
    """The ``list --json`` item (DESIGN.md contract) for a request (``backlog_state``: only
    when its backlog item reports one, e.g. a Trello card's list)."""
    item: dict[str, Any] = {
        "id": request.id,
        "key": request.key,
        "source": request.source.value,
        "sources": [s.value for s in request.sources],
        "title": request.title,
        "type": request.type,
        "type_reason": request.type_reason,
        "priority": request.priority,
        "priority_reason": request.priority_reason,
        "status": request.status.value,
        "assignee": request.assignee,
        "assignees": list(request.assignees),
        "requester": request.requester.name if request.requester else None,
        "requester_id": request.requester.id if request.requester else None,
        "created_at": iso(request.created_at),
        "updated_at": iso(request.updated_at),
        "first_response_at": iso(request.first_response_at),
        "resolved_at": iso(request.resolved_at),
        "sla": {
            "state": request.sla.state,
            "first_response_due": iso(request.sla.first_response_due),
            "resolution_due": iso(request.sla.resolution_due),
            "due_at": iso(request.sla.due_at),
            "remaining_seconds": request.sla.remaining_seconds,
            "policy": request.sla.policy,
            "reason": request.sla.reason,
        },
        "labels": request.labels,
        "url": request.url,
        "links": request.links,
        "item_ids": request.item_ids,
        "customer": request.customer,
    }
    if request.backlog_state:
        item["backlog_state"] = request.backlog_state
    return item
