"""The PostgreSQL backend of the store: a connection that speaks the store's SQL, migrations,
and the change notifications team clients wait on.

Imported only when the database is a ``postgresql://`` URL (it imports psycopg, which the
SQLite path never loads: the TUI's start-up budget).

* :class:`PgConnection` wraps one psycopg connection (autocommit, one per thread like
  SQLite's) with the ``execute`` / ``executemany`` / ``in_transaction`` the store uses, rewriting
  each statement once (:func:`idqueue.store.dialect.to_postgres`) and returning
  :class:`PgRow` rows (``r["name"]``, ``r[0]``, ``keys()``, and a tuple).
* Every write transaction takes one transaction-scoped advisory lock first, so writers
  serialise exactly as SQLite's ``BEGIN IMMEDIATE`` makes them (the request sequence numbers
  and merges rely on it); the outbox's claim instead locks only the rows it takes
  (``FOR UPDATE SKIP LOCKED``).
* A committed write transaction sends ``NOTIFY idqueue_changes`` naming what changed
  (``requests``, ``outbox``, ``ratings``, ``cursors``); :class:`Listener` waits for them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, ClassVar

import psycopg
from psycopg import pq
from psycopg.rows import RowMaker, tuple_row

from idqueue.store.dialect import redact_url, to_postgres
from idqueue.store.pg_schema import PG_MIGRATIONS

__all__ = ["CHANNEL", "Listener", "PgConnection", "PgRow", "apply_migrations", "describe_pg_error", "migrate", "migration_lock"]

CHANNEL = "idqueue_changes"
"""The ``LISTEN``/``NOTIFY`` channel of committed changes."""

WRITE_LOCK = 0x1D0_0001
"""The advisory lock key every write transaction holds (the BEGIN IMMEDIATE of SQLite)."""
MIGRATE_LOCK = 0x1D0_0002
"""The advisory lock key of the migrations (two processes starting together migrate once)."""

_TOPIC = {"outbox": "outbox", "outbox_log": "outbox", "ratings": "ratings", "cursors": "cursors",
          "service_state": "service", "person_state": "person"}
_WRITTEN = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(\w+)", re.IGNORECASE)


class PgRow(tuple[Any, ...]):
    """A row like :class:`sqlite3.Row`: by position, by column name, ``keys()``; also a tuple."""

    _index: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """The column names, in order."""
        return list(self._index)


@lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[PgRow]:
    return type("PgRow", (PgRow,), {"_index": {n: i for i, n in enumerate(names)}})


def _rows(cursor: Any) -> RowMaker[PgRow]:
    description = cursor.description
    return _row_class(tuple(d.name for d in description) if description else ())


@lru_cache(maxsize=2048)
def _topic(sql: str) -> str | None:
    """What a statement changes, for the notification (None for a read)."""
    match = _WRITTEN.match(sql)
    if match is None:
        return None
    return _TOPIC.get(match.group(1).lower(), "requests")


class _Cursor:
    """What ``conn.cursor()`` gives: ``execute``, with :class:`PgRow` rows, or plain tuples once
    ``row_factory`` is set to None as on a :class:`sqlite3.Cursor` (a third of the time for
    tens of thousands of rows read by position)."""

    row_factory: Any = _rows

    def __init__(self, conn: PgConnection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Any = ()) -> psycopg.Cursor[Any]:
        """Run one statement (see :meth:`PgConnection.execute`)."""
        if self.row_factory is not None:
            return self._conn.execute(sql, params)
        if topic := _topic(sql):
            self._conn._changed.add(topic)
        cursor = self._conn.raw.cursor(row_factory=tuple_row)
        return cursor.execute(to_postgres(sql), params if params is not None else ())


class PgConnection:
    """One psycopg connection with the store's SQLite-like interface.

    Args:
        url: the ``postgresql://`` URL.
        connect_timeout: seconds to wait for the server.
    """

    def __init__(self, url: str, *, connect_timeout: float = 10.0) -> None:
        self.raw: psycopg.Connection[PgRow] = psycopg.connect(
            url, autocommit=True, row_factory=_rows, connect_timeout=max(1, int(connect_timeout))
        )
        self._changed: set[str] = set()

    # ------------------------------------------------------------------ statements
    def execute(self, sql: str, params: Any = ()) -> psycopg.Cursor[PgRow]:
        """Run one statement of the store (SQLite dialect, rewritten once and cached)."""
        if topic := _topic(sql):
            self._changed.add(topic)
        return self.raw.execute(to_postgres(sql), params if params is not None else ())

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> psycopg.Cursor[PgRow]:
        """Run one statement for each parameter row."""
        rows = list(rows)
        cur = self.raw.cursor()
        if rows:
            if topic := _topic(sql):
                self._changed.add(topic)
            cur.executemany(to_postgres(sql), rows)
        return cur

    @property
    def closed(self) -> bool:
        """True once the connection is closed or broken (the store then opens a new one)."""
        return bool(self.raw.closed or self.raw.broken)

    def cursor(self) -> _Cursor:
        """A cursor (for code that sets ``row_factory`` on SQLite's)."""
        return _Cursor(self)

    @property
    def in_transaction(self) -> bool:
        """True inside ``BEGIN`` … ``COMMIT``."""
        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    # ------------------------------------------------------------------ transactions
    def begin(self, *, serialize: bool = True) -> None:
        """Start a write transaction; with ``serialize``, after every other writer's (advisory lock)."""
        self._changed = set()
        self.raw.execute("BEGIN")
        if serialize:
            self.raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))

    def commit(self) -> None:
        """Commit, telling the listeners what changed (delivered only if the commit succeeds)."""
        if self._changed:
            self.raw.execute("SELECT pg_notify(%s, %s)", (CHANNEL, ",".join(sorted(self._changed))))
            self._changed = set()
        self.raw.execute("COMMIT")

    def rollback(self) -> None:
        """Roll back (nothing is announced)."""
        self._changed = set()
        self.raw.execute("ROLLBACK")

    def close(self) -> None:
        """Close the connection."""
        self.raw.close()


class Listener:
    """Waits for the store's change notifications on a connection of its own.

    Args:
        url: the database URL.
    """

    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(url, autocommit=True)
        self._conn.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float) -> list[str]:
        """What changed (``requests``, ``outbox`` …, one entry per committed transaction), waiting
        up to ``timeout`` seconds for the first; empty when nothing changed in that time."""
        payloads = [n.payload for n in self._conn.notifies(timeout=timeout, stop_after=1)]
        if payloads:
            payloads += [n.payload for n in self._conn.notifies(timeout=0.001)]
        return payloads

    def close(self) -> None:
        """Stop listening."""
        self._conn.close()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------- schema


def schema_version(conn: PgConnection) -> int:
    """The applied schema version (0 for an empty database)."""
    row = conn.raw.execute("SELECT to_regclass('idqueue_schema') IS NOT NULL").fetchone()
    if row is None or not row[0]:
        return 0
    found = conn.raw.execute("SELECT version FROM idqueue_schema").fetchone()
    return int(found[0]) if found else 0


def apply_migrations(conn: PgConnection, version: int, newest: int) -> None:
    """Bring the schema from ``version`` to ``newest`` inside the caller's open transaction."""
    conn.raw.execute("CREATE TABLE IF NOT EXISTS idqueue_schema (version INTEGER NOT NULL)")
    if conn.raw.execute("SELECT 1 FROM idqueue_schema").fetchone() is None:
        conn.raw.execute("INSERT INTO idqueue_schema(version) VALUES (0)")
    for number in range(version + 1, newest + 1):
        conn.raw.execute(PG_MIGRATIONS[number - 1])
    conn.raw.execute("UPDATE idqueue_schema SET version = %s", (max(version, newest),))


@contextmanager
def migration_lock(conn: PgConnection) -> Iterator[None]:
    """Hold the migrations' advisory lock (session-level) around a transaction started inside.

    Taken *before* ``BEGIN`` on purpose: a transaction that started earlier and then waited
    could still see its cached "no such table" from before another process created the
    tables; one started after the wait reads the catalog afresh.
    """
    conn.raw.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
    try:
        yield
    finally:
        if not conn.raw.closed:
            conn.raw.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))


def migrate(conn: PgConnection, newest: int) -> int:
    """Apply the pending migrations in one transaction (under an advisory lock); return the version.

    The caller has already refused a schema newer than ``newest`` (read before any write); one
    written meanwhile by a newer idqueue is returned untouched, for the caller to refuse.
    """
    with migration_lock(conn):
        conn.raw.execute("BEGIN")
        try:
            version = schema_version(conn)
            if version < newest:
                apply_migrations(conn, version, newest)
                version = newest
        except BaseException:
            conn.raw.execute("ROLLBACK")
            raise
        conn.raw.execute("COMMIT")
    return version


# --------------------------------------------------------------------- errors


def describe_pg_error(exc: BaseException, url: str = "") -> str:
    """One line for the user about a PostgreSQL failure (never the password)."""
    text = str(exc).strip()
    low = text.lower()
    where = ""
    if url:
        try:
            info = psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.Error:
            info = {}
        where = f" at {info.get('host', 'localhost')}:{info.get('port', 5432)}"
    if "does not exist" in low and "database" in low:
        found = re.search(r'database "([^"]+)" does not exist', text)
        name = found.group(1) if found else "named in the URL"
        return f"the PostgreSQL database {name} does not exist{where} (create it with createdb, then retry)"
    refused = ("authentication failed", "no password supplied", "no pg_hba.conf entry", "permission denied for database")
    if any(w in low for w in refused) or re.search(r'role "[^"]*" does not exist', text):
        return f"the PostgreSQL server{where} refused the login: check the user and password of IDQUEUE_DATABASE_URL"
    if any(w in low for w in ("connection refused", "could not connect", "timeout expired", "no route", "name or service")):
        return f"cannot reach the PostgreSQL server{where}: is it running and reachable?"
    if "could not serialize" in low or "deadlock" in low:
        return "the database was busy with another idqueue process's write; try again in a moment"
    first = text.splitlines()[0] if text else type(exc).__name__
    return redact_url(first) if "://" in first else first
