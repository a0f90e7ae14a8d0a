"""Row codecs shared by the store's modules: timestamps as sortable text, ``requests`` rows.

:mod:`idqueue.store.db` (writes) and :mod:`idqueue.store.queue` (windowed reads) both need
them; keeping them here lets the queue read rows without importing the store class.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from idqueue.domain.models import Person, Request, SlaInfo, SourceKind, Status, parse_iso

if TYPE_CHECKING:
    from idqueue.store.dialect import Dialect

__all__ = ["Connection", "Cursor", "Reader", "Row", "iso_us", "request_from_row"]


class Row(Protocol):
    """A result row of either backend: ``r["column"]``, ``r[0]``, ``keys()``, iterable."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def keys(self) -> list[str]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Cursor(Protocol):
    """What the store reads of a cursor (sqlite3's, or psycopg's)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the store uses of a connection: :class:`sqlite3.Connection` or
    :class:`idqueue.store.pg.PgConnection` (same SQL, see :mod:`idqueue.store.dialect`)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...

    def cursor(self) -> Any: ...

    @property
    def in_transaction(self) -> bool: ...

    def close(self) -> None: ...


class Reader(Protocol):
    """What the read queries need of a store: this thread's connection and its dialect."""

    @property
    def conn(self) -> Connection:
        """The connection of the calling thread."""
        ...

    @property
    def dialect(self) -> Dialect:
        """The backend's SQL differences."""
        ...


def iso_us(dt: datetime | None) -> str | None:
    """ISO 8601 UTC with microseconds (sortable text, keeps Slack ts precision)."""
    if dt is None:
        return None
    utc = dt.astimezone(UTC)
    if utc.year < 1000:
        # strftime writes such years unpadded on some platforms; keep its exact text there.
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # isoformat costs a third less than strftime, and a request row has ten timestamps; for
    # UTC it ends in "+00:00", which becomes "Z".
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"


def request_from_row(r: Row) -> Request:
    """Build a :class:`Request` from a ``requests`` row."""
    requester = Person(r["requester_id"], r["requester_name"] or r["requester_id"]) if r["requester_id"] else None
    return Request(
        id=r["id"],
        key=r["key"],
        sources=[SourceKind(s) for s in json.loads(r["sources"])],
        title=r["title"],
        body=r["body"],
        requester=requester,
        type=r["type"],
        type_reason=r["type_reason"],
        fields=json.loads(r["fields"]),
        status=Status(r["status"]),
        status_reason=r["status_reason"],
        assignee=r["assignee"],
        assignees=json.loads(r["assignees"]) or ([r["assignee"]] if r["assignee"] else []),
        labels=json.loads(r["labels"]),
        priority=r["priority"],
        priority_reason=r["priority_reason"],
        priority_override=r["priority_override"],
        created_at=parse_iso(r["created_at"]),  # type: ignore[arg-type]
        updated_at=parse_iso(r["updated_at"]),  # type: ignore[arg-type]
        first_response_at=parse_iso(r["first_response_at"]),
        resolved_at=parse_iso(r["resolved_at"]),
        url=r["url"],
        links=json.loads(r["links"]),
        item_ids=json.loads(r["item_ids"]),
        sla=SlaInfo(
            state=r["sla_state"],
            first_response_due=parse_iso(r["first_response_due"]),
            resolution_due=parse_iso(r["resolution_due"]),
            remaining_seconds=r["sla_remaining"],
            at_risk_at=parse_iso(r["sla_at_risk_at"]),
            due_at=parse_iso(r["sla_due_at"]),
            policy=r["sla_policy"],
            reason=r["sla_reason"],
        ),
        snoozed_until=parse_iso(r["snoozed_until"]),
        customer=r["customer"],

        backlog_state=r["backlog_state"],
        last_outside_at=parse_iso(r["last_outside_at"]),
    )
