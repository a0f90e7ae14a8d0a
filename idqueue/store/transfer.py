"""Copy a single-user SQLite store into an empty PostgreSQL database (``idqueue db migrate-to``).

Everything the schema holds is copied — items, links, events, requests, aliases, cursors,
local state, the outbox and its log, ratings — table by table with ``COPY``, and the search
index is rebuilt from the same text SQLite indexed. It is one transaction on the target: the
schema is created, the rows copied and the outbox's sequence moved past the copied actions, or
nothing is. The target is refused unless it is empty (no idqueue rows at all).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from idqueue.store.db import NewerSchemaError, Store, StoreError
from idqueue.store.dialect import POSTGRES, database_errors
from idqueue.store.schema import SCHEMA_VERSION, newer_schema_message

if TYPE_CHECKING:
    from idqueue.store.pg import PgConnection

__all__ = ["TableCount", "copy_to_postgres", "count_rows"]

TABLES = (
    "items", "item_links", "events", "requests", "aliases", "cursors", "local_state",
    "outbox", "outbox_log", "ratings", "person_state", "request_assignees",
)
"""The tables copied as they are (the search index is rebuilt: ``requests_fts``)."""
SEARCH = "requests_fts"


@dataclass(frozen=True, slots=True)
class TableCount:
    """Rows of one table in the source and in the target after the copy."""

    table: str
    source: int
    target: int

    @property
    def ok(self) -> bool:
        """True when the counts match."""
        return self.source == self.target


def count_rows(store: Store) -> dict[str, int]:
    """Rows per copied table (and the search index) of a store."""
    return {
        table: int(store.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608
        for table in (*TABLES, SEARCH)
    }


def _columns(source: Store, table: str) -> list[str]:
    return [str(r[1]) for r in source.conn.execute(f"PRAGMA table_info({table})")]


def copy_to_postgres(
    source: Store, url: str, *, progress: Callable[[str, int], None] | None = None
) -> list[TableCount]:
    """Copy the SQLite store ``source`` into the empty PostgreSQL database at ``url``.

    Args:
        source: the open SQLite store (migrated to the current schema).
        url: the target's ``postgresql://`` URL.
        progress: called with each table's name and row count once it is copied.

    Returns:
        The row counts per table, source and target (read back after the commit).

    Raises:
        StoreError: the source is not SQLite, or the target is not empty or cannot be used.
        NewerSchemaError: the target holds a newer idqueue's schema.
    """
    from idqueue.store.pg import PgConnection, migration_lock

    if source.dialect.is_postgres:
        raise StoreError("migrate-to copies a SQLite database; this store is PostgreSQL already")
    target = PgConnection(url)
    try:
        # An idqueue starting on the target meanwhile waits, then finds the schema made.
        with migration_lock(target):
            _copy_in_one_transaction(source, target, progress)
        _vacuum_analyze(target)
    finally:
        target.close()
    before = count_rows(source)
    after = count_rows(Store(url))
    return [TableCount(t, before[t], after.get(t, -1)) for t in before]


def _copy_in_one_transaction(
    source: Store, target: PgConnection, progress: Callable[[str, int], None] | None
) -> None:
    from idqueue.store.pg import apply_migrations, schema_version

    target.begin()
    try:
        found = schema_version(target)
        if found > SCHEMA_VERSION:
            raise NewerSchemaError(newer_schema_message(found))
        if found:
            _refuse_rows(target)
        apply_migrations(target, found, SCHEMA_VERSION)
        for table in TABLES:
            n = _copy_table(source, target, table)
            if progress:
                progress(table, n)
        n = _copy_search(source, target)
        if progress:
            progress(SEARCH, n)
        _continue_outbox_seq(source, target)
    except BaseException:
        target.rollback()
        raise
    target.commit()


def _vacuum_analyze(target: PgConnection) -> None:
    """``VACUUM (ANALYZE)`` the copied tables, so the first queries after the copy are planned
    with their statistics and the queue's covering index serves index-only scans (its pages
    marked all-visible) at once, not after autovacuum's next round. Only an optimisation: a
    server that refuses it (not the tables' owner) leaves that to autovacuum."""
    for table in (*TABLES, SEARCH):
        try:
            target.raw.execute(f"VACUUM (ANALYZE) {table}")
        except database_errors():
            return


def _refuse_rows(target: PgConnection) -> None:
    busy = []
    for table in (*TABLES, SEARCH):
        found = target.execute("SELECT to_regclass(?) IS NOT NULL", (table,)).fetchone()
        if found and found[0] and target.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():  # noqa: S608
            busy.append(table)
    if busy:
        raise StoreError(
            f"the target database is not empty (rows in {', '.join(busy)}); migrate-to only fills an empty database"
        )


def _copy_table(source: Store, target: PgConnection, table: str) -> int:
    columns = _columns(source, table)
    names = ", ".join(columns)
    n = 0
    with target.raw.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in source.conn.execute(f"SELECT {names} FROM {table}"):  # noqa: S608
            copy.write_row(tuple(row))
            n += 1
    return n


def _copy_search(source: Store, target: PgConnection) -> int:
    n = 0
    rows = source.conn.execute(f"SELECT rowid, title, body, fields, requester FROM {SEARCH}")  # noqa: S608
    batch: list[tuple[object, ...]] = []
    sql = ""
    for seq, title, body, fields, requester in rows:
        sql, params = POSTGRES.fts_row(int(seq), title or "", body or "", fields or "", requester or "")
        batch.append(params)
        n += 1
        if len(batch) >= 1000:
            target.executemany(sql, batch)
            batch = []
    if batch:
        target.executemany(sql, batch)
    return n


def _continue_outbox_seq(source: Store, target: PgConnection) -> None:
    """New actions continue after the copied ones (and after any SQLite handed out, then deleted)."""
    highest = int(source.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()[0])
    try:
        row = source.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
    except sqlite3.Error:
        row = None
    highest = max(highest, int(row[0]) if row else 0)
    if highest:
        target.execute("SELECT setval(pg_get_serial_sequence('outbox', 'seq'), ?)", (highest,))

