"""The queue table's data: windows of the queue query as display-ready rows.

Everything here runs in thread workers (it reads SQLite); nothing imports widgets. The table
keeps a few pages of :class:`Row` around the viewport and asks :class:`QueueData` for more as
the cursor moves, so the cost of a reload does not depend on how many requests are cached.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from idqueue.clock import Clock
from idqueue.config import Settings
from idqueue.domain.models import Request
from idqueue.integrations import registry
from idqueue.outbox.pending import PendingInfo, PendingLookup
from idqueue.safety import grid_text
from idqueue.store.db import Store
from idqueue.store.queue import Facets, QueueQuery, facets, fetch_ids, highest_seq, order_index

PAGE_SIZE = 100
"""Rows per page; the table keeps the pages around the viewport (about 200-300 rows)."""


def source_text(request: Request) -> str:
    """The source column's text: the codes of the request's homes in the registry's order of
    preference (``GH``, ``S``, ``GH+S``; plain ASCII so it renders the same in every font)."""
    return registry.codes(request.sources)


SLA_LABELS = {
    "breached": "Breached",
    "at_risk": "At risk",
    "ok": "OK",
    "paused": "Paused",
    "met": "Met",
    "none": "No SLA",
}


@dataclass(slots=True)
class Row:
    """One display-ready queue row; every string is sanitised single-line text."""

    request: Request
    key: str
    title: str
    type: str
    requester: str
    assignee: str
    source: str
    pending: PendingInfo | None = None
    customer: str = ""
    """The customer's display name ("" when the request has none)."""

    @property
    def id(self) -> str:
        """The request id."""
        return self.request.id


@dataclass(slots=True)
class Snapshot:
    """The result of a reload: the order (ids), groups, the cursor and the pages around it."""

    query: QueueQuery
    ids: list[str]
    groups: list[tuple[str, int]]
    cursor: int
    pages: dict[int, list[Row | None]]
    key_width: int

    @property
    def total(self) -> int:
        """Rows matching the query."""
        return len(self.ids)


def member_name(settings: Settings, key: str | None) -> str:
    """Display name of a roster key (or the raw login/user id when not on the roster)."""
    if not key:
        return ""
    member = settings.team.get(key)
    return member.name if member else key


def customer_name(settings: Settings, key: str | None) -> str:
    """Display name of a customer key ("" for none; the key itself when no longer configured)."""
    if not key:
        return ""
    customer = settings.customers.get(key)
    return customer.name if customer else key


def make_row(request: Request, settings: Settings, pending: PendingInfo | None = None) -> Row:
    """Build a row from a request, sanitising every untrusted string once."""
    requester = request.requester.name if request.requester else ""
    return Row(
        request=request,
        key=request.key,
        title=grid_text(request.title, 300),
        type=grid_text(request.type, 60),
        requester=grid_text(requester, 60),
        assignee=grid_text(member_name(settings, request.assignee), 60),
        source=source_text(request),
        pending=pending,
        customer=grid_text(customer_name(settings, request.customer), 60),
    )


class QueueData:
    """Reads windows, counts and facets of the queue for the TUI (call from thread workers).

    Args:
        store: the store (thread-safe: one connection per thread).
        settings: roster names and SLA configuration.
        clock: the injected clock (``IDQUEUE_NOW`` freezes it).
        pending: looks up unsent outbox actions for the rows of a page.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        clock: Clock,
        pending: PendingLookup | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.pending = pending
        self.page_size = page_size

    def rows(self, ids: Sequence[str], *, now: datetime | None = None) -> list[Row | None]:
        """Rows for ``ids`` in that order (None where a request vanished since the reload)."""
        now = now or self.clock()
        found = fetch_ids(self.store, list(ids), now=now)
        lookup = self.pending(list(found)) if self.pending and found else {}
        return [make_row(found[i], self.settings, lookup.get(i)) if i in found else None for i in ids]

    def snapshot(
        self,
        query: QueueQuery,
        *,
        anchor_id: str | None = None,
        anchor_pos: int = 0,
        visible: int = 50,
    ) -> Snapshot:
        """Reload: the whole order (ids only), the groups, the cursor and the pages it needs.

        The cursor stays on ``anchor_id`` when the request is still in the query; otherwise it
        stays at ``anchor_pos`` (clamped), which is "the next request" after an action.
        """
        now = self.clock()
        ids, groups = order_index(self.store, query, now=now)
        cursor = None
        if anchor_id is not None:
            try:
                cursor = ids.index(anchor_id)
            except ValueError:
                cursor = None
        if cursor is None:
            cursor = min(max(anchor_pos, 0), max(len(ids) - 1, 0))
        size = self.page_size
        pages: dict[int, list[Row | None]] = {}
        if ids:
            first = max(cursor - visible, 0) // size
            last = min(cursor + visible, len(ids) - 1) // size
            rows = self.rows(ids[first * size : (last + 1) * size], now=now)
            for page in range(first, last + 1):
                pages[page] = rows[(page - first) * size : (page - first + 1) * size]
        key_width = len(self.store.key_prefix) + 1 + max(3, len(str(highest_seq(self.store))))
        return Snapshot(query, ids, groups, cursor, pages, key_width)

    def facets(self, query: QueueQuery) -> Facets:
        """Counts for the panes."""
        return facets(self.store, query, now=self.clock(), customers=bool(self.settings.customers))


def ids_of(rows: Iterable[Row]) -> list[str]:
    """The request ids of some rows."""
    return [r.id for r in rows]
