"""The store: source items, timeline events, merged requests, cursors, search.

One :class:`Store` over two backends, chosen by what it opens: a SQLite file (the default) or
a ``postgresql://`` URL (team mode, :mod:`idqueue.store.pg`; the statements are the same,
see :mod:`idqueue.store.dialect`). On SQLite:

* WAL mode, ``busy_timeout``, ``BEGIN IMMEDIATE`` for every write transaction, so two idqueue
  processes on one database serialize their writes instead of failing.
* A sync batch (items, events, deletions, cursor) is applied in one transaction: a crash or an
  error leaves the store as it was before the batch.
* Requests are *materialised* from their items and events by an injected assembler whenever
  one of their parts changes, so the queue is a plain indexed query.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from idqueue.domain.models import (
    EventKind,
    Person,
    Request,
    SourceItem,
    SourceKind,
    TimelineEvent,
    iso,
    parse_iso,
)
from idqueue.domain.priority import PRIORITY_RANK
from idqueue.store.codec import Connection, Row, iso_us, request_from_row
from idqueue.store.dialect import (
    POSTGRES,
    SQLITE,
    Dialect,
    database_errors,
    is_postgres_url,
    redact_url,
)
from idqueue.store.person import PERSON_KEYS, seen_mark, snooze_clause
from idqueue.store.queue import QueueQuery, fetch_window
from idqueue.store.schema import MIGRATIONS, SCHEMA_VERSION, newer_schema_message

if TYPE_CHECKING:
    from idqueue.config import Settings
    from idqueue.store.pg import Listener

Assembler = Callable[[list[SourceItem], list[TimelineEvent], "LocalState"], Request]


REQUEST_COLUMNS: tuple[str, ...] = (
    "id", "seq", "key", "source", "sources", "title", "body", "requester_id", "requester_name", "type",
    "type_reason", "fields", "status", "status_reason", "is_open", "assignee", "labels", "priority",
    "priority_rank", "priority_reason", "priority_override", "created_at", "updated_at", "first_response_at",
    "resolved_at", "url", "links", "item_ids", "sla_state", "sla_policy", "sla_reason", "first_response_due",
    "resolution_due", "sla_due_at", "sla_at_risk_at", "sla_remaining", "snoozed_until", "assignees",
    "customer",

    "backlog_state", "last_outside_at",
)
"""The ``requests`` columns the store writes, in the order :meth:`Store._write_request` builds them."""
_REQUEST_COLUMN_LIST = ",".join(REQUEST_COLUMNS)
_SEQ, _TITLE, _BODY, _REQUESTER_NAME, _FIELDS, _ASSIGNEE, _ASSIGNEES = (
    REQUEST_COLUMNS.index(c) for c in ("seq", "title", "body", "requester_name", "fields", "assignee", "assignees")
)
_UPSERT_REQUEST = (
    f"INSERT INTO requests({_REQUEST_COLUMN_LIST}) VALUES ({','.join('?' * len(REQUEST_COLUMNS))}) "  # noqa: S608
    "ON CONFLICT(id) DO UPDATE SET " + ",".join(f"{c}=excluded.{c}" for c in REQUEST_COLUMNS if c != "id")
)
# An unchanged item (a re-read Slack window) is left alone rather than rewritten in place.
_UPSERT_ITEM = (
    "INSERT INTO items(id, source, data, updated_at, deleted) VALUES (?,?,?,?,0) "
    "ON CONFLICT(id) DO UPDATE SET data=excluded.data, updated_at=excluded.updated_at, deleted=0 "
    "WHERE items.data IS NOT excluded.data OR items.updated_at IS NOT excluded.updated_at OR items.deleted != 0"
)
_UPSERT_EVENT = (
    "INSERT INTO events(uid, item_id, kind, at, actor_id, actor_name, body, url, source, is_bot, data) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(uid) DO UPDATE SET item_id=excluded.item_id, "
    "kind=excluded.kind, at=excluded.at, actor_id=excluded.actor_id, actor_name=excluded.actor_name, "
    "body=excluded.body, url=excluded.url, is_bot=excluded.is_bot, data=excluded.data"
)
_UPSERT_ALIAS = (
    "INSERT INTO aliases(alias, request_id) VALUES (?,?) "
    "ON CONFLICT(alias) DO UPDATE SET request_id=excluded.request_id WHERE aliases.request_id IS NOT excluded.request_id"
)


class StoreError(Exception):
    """The database cannot be opened or written (message is for the user)."""


class NewerSchemaError(StoreError):
    """The database's schema is newer than this idqueue knows: it is refused, never written."""


class OlderSchemaError(StoreError):
    """A client of the team service found the shared database at an older schema: the service
    upgrades it (clients never migrate the team's database); it is refused, never written."""


def older_schema_message(found: int) -> str:
    """The refusal for a client of the team service on a shared database not yet upgraded."""
    return (
        f"the team database is at schema {found}, older than this idqueue's {SCHEMA_VERSION}: the team "
        "service upgrades it when it starts; upgrade and restart `idqueue serve` first"
    )


def describe_db_error(exc: BaseException, url: str = "") -> str:
    """One line for the user about a database failure, with what to do about it.

    Args:
        exc: a :func:`database_errors` exception.
        url: the PostgreSQL URL in use, if any (only its host and port are named).
    """
    if not isinstance(exc, sqlite3.Error):
        from idqueue.store.pg import describe_pg_error  # loaded already: psycopg raised exc

        return describe_pg_error(exc, url)
    text = str(exc)
    low = text.lower()
    if "locked" in low or "busy" in low:
        return "the database is locked by another idqueue process (a long write); try again in a moment"
    if "readonly" in low or "read-only" in low:
        return "the database is read-only (check the file's and its folder's permissions)"
    if "disk is full" in low or "or disk is full" in low:
        return "the disk is full (or the database reached its size limit); free some space and retry"
    if any(word in low for word in ("malformed", "not a database", "corrupt", "vtable constructor failed")):
        return f"the database is damaged ({text}); run `idqueue db check`"
    if "unable to open" in low:
        return "the database file cannot be opened (check the path and its permissions)"
    return text


def _refuse_newer(path: Path) -> None:
    """Raise :class:`NewerSchemaError` before anything touches a file from a newer idqueue.

    Read through a read-only connection: opening it normally would already switch the file to
    WAL mode, a change to a database this version must not write.
    """
    if not path.is_file():
        return
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return  # unreadable here: the normal open reports what is wrong
    if version > SCHEMA_VERSION:
        raise NewerSchemaError(newer_schema_message(version))


def integrity_check(path: Path | str, *, limit: int = 20) -> list[str]:
    """``PRAGMA integrity_check`` on the file at ``path``, opened read-only and not migrated.

    Returns:
        The problems found (at most ``limit`` lines), empty when the database is healthy.

    Raises:
        StoreError: the file is missing or is not a SQLite database at all.
    """
    if not Path(path).is_file():
        raise StoreError(f"there is no database at {path}")
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path}: {describe_db_error(exc)}") from exc
    try:
        rows = [line for r in conn.execute(f"PRAGMA integrity_check({int(limit)})") for line in str(r[0]).splitlines()]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    finally:
        conn.close()
    return [] if rows == ["ok"] else rows


def local_only_counts(path: Path | str) -> dict[str, int | None]:
    """Rows that exist only in this database (not upstream), per kind; None when unreadable.

    Pending outbox actions, local state (snoozes, priority overrides) and imported survey
    ratings cannot be rebuilt by a sync, so ``idqueue db check`` names them before a reset.
    """
    queries = {
        "outbox actions not yet sent": "SELECT count(*) FROM outbox WHERE state NOT IN ('sent', 'dropped')",
        "snoozes and local overrides": "SELECT count(*) FROM local_state",
        "imported survey ratings": "SELECT count(*) FROM ratings",
    }
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    out: dict[str, int | None] = {}
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.Error:
        return dict.fromkeys(queries)
    try:
        for what, sql in queries.items():
            try:
                out[what] = int(conn.execute(sql).fetchone()[0])
            except sqlite3.Error:
                out[what] = None
    finally:
        conn.close()
    return out


class LocalState(dict[str, Any]):
    """Local-only state of a request (snooze, priority override), merged over its items."""


LOCAL_KEYS = ("snoozed_until", "priority_override", "priority_override_at", "customer_override")
"""The local-only values the assembler reads (``local_state`` columns)."""


# One encoder for every write: json.dumps with non-default options builds a new encoder on
# every call (~40 % of a small value's encoding time, six values per request). Same options,
# same output.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
_dumps: Callable[[Any], str] = _ENCODER.encode


def item_to_json(item: SourceItem) -> str:
    """Serialise a source item."""
    # Built by hand: dataclasses.asdict deep-copies every nested value (a third of apply's time).
    req = item.requester
    data = {
        "id": item.id,
        "source": item.source.value,
        "title": item.title,
        "body": item.body,
        "url": item.url,
        "created_at": iso_us(item.created_at),
        "updated_at": iso_us(item.updated_at),
        "requester": {"id": req.id, "name": req.name, "is_bot": req.is_bot} if req else None,
        "state": item.state,
        "state_reason": item.state_reason,
        "closed_at": iso_us(item.closed_at),
        "assignees": item.assignees,
        "labels": item.labels,
        "links": item.links,
        "template": item.template,
        "fields": item.fields,
        "raw": item.raw,
    }
    return _dumps(data)


def item_from_json(text: str) -> SourceItem:
    """Deserialise a source item."""
    data = json.loads(text)
    req = data.get("requester")
    return SourceItem(
        id=data["id"],
        source=SourceKind(data["source"]),
        title=data["title"],
        body=data["body"],
        url=data.get("url"),
        created_at=parse_iso(data["created_at"]),  # type: ignore[arg-type]
        updated_at=parse_iso(data["updated_at"]),  # type: ignore[arg-type]
        requester=Person(**req) if req else None,
        state=data.get("state", "open"),
        state_reason=data.get("state_reason"),
        closed_at=parse_iso(data.get("closed_at")),
        assignees=list(data.get("assignees", [])),
        labels=list(data.get("labels", [])),
        links=list(data.get("links", [])),
        template=data.get("template"),
        fields=dict(data.get("fields", {})),
        raw=dict(data.get("raw", {})),
    )


def _ts(dt: datetime | None) -> str | None:
    return iso_us(dt)


class Store:
    """The store (SQLite file or PostgreSQL URL). Thread-safe: each thread gets its own connection.

    Attributes:
        path: the SQLite file, or the PostgreSQL URL without its password (safe to print).
        dialect: what differs between the backends (:mod:`idqueue.store.dialect`).
    """

    def __init__(self, path: Path | str, *, key_prefix: str = "REQ", busy_timeout: float = 10.0) -> None:
        self.dialect: Dialect = POSTGRES if is_postgres_url(path) else SQLITE
        self._target = str(path)
        self.path = redact_url(self._target) if self.dialect.is_postgres else self._target
        self.key_prefix = key_prefix
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.RLock()
        self.person = ""
        """Whose snoozes, drafts and read marks this store reads and writes: a team member's
        roster key in team mode (:mod:`idqueue.store.person`); empty for a single user."""

    # ----------------------------------------------------------------- connection
    @classmethod
    def open(cls, path: Path | str, *, key_prefix: str = "REQ", busy_timeout: float = 10.0,
             upgrade: bool = True) -> Store:
        """Open (creating and migrating) the database at ``path``.

        Args:
            path: the SQLite file (created with its folder when missing), or a
                ``postgresql://`` URL (the database must exist; its tables are created).
            key_prefix: prefix of the short keys.
            busy_timeout: seconds to wait for another process's write before "locked".
            upgrade: migrate an older schema (False in a client of the team service, which
                refuses it with :class:`OlderSchemaError`: the service upgrades the database).

        Raises:
            NewerSchemaError: the file was written by a newer idqueue (it is left untouched).
            OlderSchemaError: ``upgrade`` is False and the schema is older (left untouched).
            StoreError: the file cannot be created or is not a usable database.
        """
        if is_postgres_url(path):
            return cls._open_postgres(str(path), key_prefix=key_prefix, busy_timeout=busy_timeout, upgrade=upgrade)
        if str(path) != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the database folder for {path}: {exc.strerror}") from exc
            if Path(path).is_dir():
                raise StoreError(f"the database path {path} is a folder, not a file")
            _refuse_newer(Path(path))
        store = cls(path, key_prefix=key_prefix, busy_timeout=busy_timeout)
        try:
            store.migrate(upgrade=upgrade)
        except sqlite3.DatabaseError as exc:
            store.close()
            raise StoreError(f"cannot open the database {path}: {describe_db_error(exc)}") from exc
        return store

    @classmethod
    def _open_postgres(cls, url: str, *, key_prefix: str, busy_timeout: float, upgrade: bool) -> Store:
        store = cls(url, key_prefix=key_prefix, busy_timeout=busy_timeout)
        try:
            store.migrate(upgrade=upgrade)
        except (NewerSchemaError, OlderSchemaError):
            raise
        except database_errors() as exc:
            store.close()
            raise StoreError(f"cannot open the database {store.path}: {describe_db_error(exc, url)}") from exc
        return store

    @property
    def conn(self) -> Connection:
        """This thread's connection."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if self.dialect.is_postgres and (conn is None or getattr(conn, "closed", False)):
            from idqueue.store.pg import PgConnection  # psycopg only for a PostgreSQL URL

            # A connection the server dropped (a restart, a fatal error) is replaced on next use.
            conn = self._local.conn = PgConnection(self._target, connect_timeout=self.busy_timeout)
        if conn is None:
            lite = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
            lite.row_factory = sqlite3.Row
            lite.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            lite.execute("PRAGMA journal_mode=WAL")
            lite.execute("PRAGMA synchronous=NORMAL")
            lite.execute("PRAGMA foreign_keys=ON")
            conn = self._local.conn = lite
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def listen(self) -> Listener:
        """Wait for other processes' committed writes (PostgreSQL only): ``listen().wait(timeout)``
        returns what changed (``requests``, ``outbox``, ``ratings``, ``cursors``).

        Raises:
            StoreError: the store is a SQLite file (it has no notifications).
        """
        if not self.dialect.is_postgres:
            raise StoreError("change notifications need the PostgreSQL store (IDQUEUE_DATABASE_URL)")
        from idqueue.store.pg import Listener

        return Listener(self._target)

    @contextmanager
    def write(self, *, serialize: bool = True) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on error.

        SQLite: ``BEGIN IMMEDIATE``. PostgreSQL: ``BEGIN`` and, with ``serialize``, the writers'
        advisory lock, so writers take turns as on SQLite; ``serialize=False`` is for a
        transaction that locks the rows it changes itself (the outbox's claim).
        """
        conn = self.conn
        if self.dialect.is_postgres:
            with self._pg_write(conn, serialize=serialize) as same:
                yield same
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            # SQLite already rolled back after some errors (SQLITE_FULL, SQLITE_IOERR): a second
            # ROLLBACK would fail and hide the error that explains what happened.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    @staticmethod
    @contextmanager
    def _pg_write(conn: Connection, *, serialize: bool) -> Iterator[Connection]:
        from idqueue.store.pg import PgConnection

        assert isinstance(conn, PgConnection)
        conn.begin(serialize=serialize)
        try:
            yield conn
        except BaseException:
            if conn.in_transaction and not conn.raw.closed:
                conn.rollback()
            raise
        else:
            conn.commit()

    def migrate(self, *, upgrade: bool = True) -> int:
        """Apply pending migrations; return the schema version.

        Args:
            upgrade: False for a client of the team service: a database at an older schema (not
                a new, empty one) is refused instead of migrated — the service migrates it.

        Raises:
            NewerSchemaError: the database is newer than this idqueue (nothing was written).
            OlderSchemaError: ``upgrade`` is False and the database is older (nothing was written).
        """
        if self.dialect.is_postgres:
            return self._migrate_postgres(upgrade=upgrade)
        conn = self.conn
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            self.close()
            raise NewerSchemaError(newer_schema_message(version))
        self._refuse_older(version, upgrade)
        for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.write() as c:
                for statement in _split_sql(sql):
                    c.execute(statement)
                c.execute(f"PRAGMA user_version={number}")
            version = number
        return version

    def _refuse_older(self, version: int, upgrade: bool) -> None:
        if not upgrade and 0 < version < SCHEMA_VERSION:
            self.close()
            raise OlderSchemaError(older_schema_message(version))

    def _migrate_postgres(self, *, upgrade: bool) -> int:
        from idqueue.store.pg import PgConnection, migrate, schema_version

        conn = self.conn
        assert isinstance(conn, PgConnection)
        version = schema_version(conn)
        if version > SCHEMA_VERSION:
            self.close()
            raise NewerSchemaError(newer_schema_message(version))
        if version == SCHEMA_VERSION:
            return version
        self._refuse_older(version, upgrade)
        version = migrate(conn, SCHEMA_VERSION)
        if version > SCHEMA_VERSION:  # another, newer idqueue migrated while we waited
            self.close()
            raise NewerSchemaError(newer_schema_message(version))
        return version

    def refresh_statistics(self) -> None:
        """Refresh the query planner's statistics (after a big import).

        PostgreSQL: ``ANALYZE`` of the database's tables (autovacuum would, some minutes later;
        until then a rare-word search plans as a scan: 46 ms instead of 1.4 ms at 50k requests).
        SQLite: ``ANALYZE`` with ``analysis_limit`` (a sample of each index: milliseconds at 50k).
        """
        if not self.dialect.is_postgres:
            self.conn.execute("PRAGMA analysis_limit=1000")
        self.conn.execute("ANALYZE")

    def quick_check(self) -> str:
        """``PRAGMA quick_check`` result ("ok" when healthy; PostgreSQL checks its own pages)."""
        if self.dialect.is_postgres:
            return "ok" if self.conn.execute("SELECT 1").fetchone() else "no answer"
        return str(self.conn.execute("PRAGMA quick_check").fetchone()[0])

    # ----------------------------------------------------------------- cursors
    def cursors(self, source: str) -> dict[str, Any]:
        """All cursors of one source."""
        rows = self.conn.execute("SELECT key, value FROM cursors WHERE source=?", (source,))
        return {r["key"]: json.loads(r["value"]) for r in rows}

    def set_cursors(self, conn: Connection, source: str, cursors: dict[str, Any], now: datetime) -> None:
        """Store cursors inside an open transaction; a ``None`` value deletes that key.

        Deleting lets a source keep many small cursors (one per tracked thing) and drop the
        ones it no longer needs in the batch that stops needing them.
        """
        gone = [(source, k) for k, v in cursors.items() if v is None]
        if gone:
            conn.executemany("DELETE FROM cursors WHERE source=? AND key=?", gone)
        conn.executemany(
            "INSERT INTO cursors(source, key, value, updated_at) VALUES (?,?,?,?) "
            "ON CONFLICT(source, key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
            [(source, k, _dumps(v), iso(now)) for k, v in cursors.items() if v is not None],
        )

    # ----------------------------------------------------------------- applying changes
    def apply(
        self,
        source: str,
        *,
        items: Sequence[SourceItem] = (),
        events: Sequence[TimelineEvent] = (),
        deleted_items: Sequence[str] = (),
        deleted_events: Sequence[str] = (),
        cursors: dict[str, Any] | None = None,
        assembler: Assembler,
        now: datetime,
    ) -> ApplyResult:
        """Apply one batch atomically and rebuild the affected requests.

        Returns:
            Which request ids were created and which were updated.
        """
        result = ApplyResult()
        with self._lock, self.write() as conn:
            # Ordered: new requests get their short keys in the order the source listed them.
            touched: dict[str, None] = {}
            # One executemany per statement (a sync batch is 100-200 items) instead of one
            # execute() per row. Rows keep their order, so a repeated id ends with its last
            # version, as before.
            links_of: dict[str, list[str]] = {}
            item_rows = []
            for item in items:
                item_rows.append((item.id, item.source.value, item_to_json(item), _ts(item.updated_at)))
                # The last version of an item decides its links, as when each replaced the last.
                links_of[item.id] = [link for link in item.links if link != item.id]
                touched[item.id] = None
            if item_rows:
                conn.executemany(_UPSERT_ITEM, item_rows)
                conn.execute(
                    "DELETE FROM item_links WHERE from_id IN (SELECT value FROM json_each(?))",
                    (_dumps(list(links_of)),),
                )
                conn.executemany(
                    "INSERT INTO item_links(from_id, to_id) VALUES (?,?) ON CONFLICT DO NOTHING",
                    [(item_id, link) for item_id, links in links_of.items() for link in links],
                )
            if events:
                # Events of items we do not track (PR comments, unlabeled issues) are dropped.
                outside = {ev.item_id for ev in events if ev.item_id not in links_of}
                known = set(links_of)
                if outside:
                    known.update(
                        r[0]
                        for r in conn.execute(
                            "SELECT id FROM items WHERE id IN (SELECT value FROM json_each(?))",
                            (_dumps(sorted(outside)),),
                        )
                    )
                event_rows = []
                for ev in events:
                    if ev.item_id not in known:
                        continue
                    event_rows.append((
                        ev.uid, ev.item_id, ev.kind.value, _ts(ev.at), ev.actor_id, ev.actor_name, ev.body,
                        ev.url, ev.source.value, int(ev.is_bot), _dumps(ev.data),
                    ))
                    touched[ev.item_id] = None
                conn.executemany(_UPSERT_EVENT, event_rows)
            for item_id in deleted_items:
                if conn.execute("UPDATE items SET deleted=1 WHERE id=?", (item_id,)).rowcount:
                    touched[item_id] = None
            for uid in deleted_events:
                row = conn.execute("DELETE FROM events WHERE uid=? RETURNING item_id", (uid,)).fetchone()
                if row:
                    touched[row["item_id"]] = None
            if cursors:
                self.set_cursors(conn, source, cursors, now)
            self._rebuild(conn, touched, assembler, result)
        return result

    def rebuild_all(self, assembler: Assembler, *, open_only: bool = False) -> int:
        """Re-assemble every request (after a config change, or to refresh SLA/priority)."""
        where = "WHERE is_open=1" if open_only else ""
        ids = [r[0] for r in self.conn.execute(f"SELECT id FROM requests {where}")]  # noqa: S608
        items = [
            r[0]
            for r in self.conn.execute(
                f"SELECT i.id FROM items i JOIN requests q ON q.id = i.request_id {where.replace('is_open', 'q.is_open')}"  # noqa: S608
            )
        ]
        result = ApplyResult()
        for start in range(0, len(items), 500):
            with self._lock, self.write() as conn:
                self._rebuild(conn, items[start : start + 500], assembler, result)
        return len(ids)

    def refresh_crossed(self, assembler: Assembler, *, now: datetime) -> int:
        """Re-assemble open requests whose stored SLA state went stale (a line was crossed)."""
        stamp = _ts(now)
        rows = self.conn.execute(
            "SELECT i.id FROM items i JOIN requests q ON q.id = i.request_id WHERE q.is_open=1 AND ("
            "(q.sla_state='ok' AND q.sla_at_risk_at <= :now) OR "
            "(q.sla_state IN ('ok','at_risk') AND q.sla_due_at <= :now))",
            {"now": stamp},
        ).fetchall()
        items = {r[0] for r in rows}
        if items:
            with self._lock, self.write() as conn:
                self._rebuild(conn, items, assembler, ApplyResult())
        return len(items)

    def _component(self, conn: Connection, item_id: str) -> list[str]:
        seen = {item_id}
        frontier = [item_id]
        while frontier:
            current = frontier.pop()
            rows = conn.execute(
                "SELECT to_id AS other FROM item_links WHERE from_id=? "
                "UNION SELECT from_id FROM item_links WHERE to_id=?",
                (current, current),
            )
            for (other,) in rows:
                if other not in seen and conn.execute("SELECT 1 FROM items WHERE id=?", (other,)).fetchone():
                    seen.add(other)
                    frontier.append(other)
        return sorted(seen)

    def _components(self, conn: Connection, touched: Iterable[str]) -> list[list[str]]:
        """The linked groups of ``touched`` items, in order of their first touched member.

        Most items link to nothing: one query finds the few that do, and only those are walked.
        """
        order = list(dict.fromkeys(touched))
        if not order:
            return []
        ids = _dumps(order)
        linked = {
            r[0]
            for r in conn.execute(
                "SELECT from_id FROM item_links WHERE from_id IN (SELECT value FROM json_each(?)) "
                "UNION SELECT to_id FROM item_links WHERE to_id IN (SELECT value FROM json_each(?))",
                (ids, ids),
            )
        }
        done: set[str] = set()
        components: list[list[str]] = []
        for item_id in order:
            if item_id in done:
                continue
            component = self._component(conn, item_id) if item_id in linked else [item_id]
            done.update(component)
            components.append(component)
        return components

    def _rebuild(
        self, conn: Connection, touched: Iterable[str], assembler: Assembler, result: ApplyResult
    ) -> None:
        components = self._components(conn, touched)
        if not components:
            return
        # Everything the assembler reads is fetched for the whole batch in a few queries. The
        # loop below only writes requests, FTS, aliases and items.request_id of its own
        # component, so what was read up front stays current: items, events and local state
        # are not touched by it, and the requests rows read here are kept in step with the
        # loop's own deletes and writes (``stored``).
        all_ids = _dumps([i for component in components for i in component])
        item_rows = {
            r["id"]: r
            for r in conn.execute(
                "SELECT id, data, deleted, request_id FROM items WHERE id IN (SELECT value FROM json_each(?))",
                (all_ids,),
            )
        }
        if not item_rows:
            return
        group_of = {i: n for n, component in enumerate(components) for i in component}
        # One ORDER BY at, uid over all of them keeps each component's merged order.
        events_of: list[list[TimelineEvent]] = [[] for _ in components]
        for r in conn.execute(
            "SELECT * FROM events WHERE item_id IN (SELECT value FROM json_each(?)) ORDER BY at, uid", (all_ids,)
        ):
            events_of[group_of[r["item_id"]]].append(_event_from_row(r))
        local_rows = {
            r["item_id"]: r
            for r in conn.execute(
                "SELECT * FROM local_state WHERE item_id IN (SELECT value FROM json_each(?))", (all_ids,)
            )
        }
        old_request_ids = sorted({r["request_id"] for r in item_rows.values() if r["request_id"]})
        stored: dict[str, tuple[Any, ...]] = {}
        if old_request_ids:
            stored = {
                r[0]: tuple(r)
                for r in conn.execute(
                    f"SELECT {_REQUEST_COLUMN_LIST} FROM requests "  # noqa: S608
                    "WHERE id IN (SELECT value FROM json_each(?))",
                    (_dumps(old_request_ids),),
                )
            }
        # Which items each old request still owns (kept in step with this batch's moves), so a
        # component that splits off a request never deletes the row its other items still need.
        owners: dict[str, set[str]] = {}
        if old_request_ids:
            for r in conn.execute(
                "SELECT id, request_id FROM items WHERE request_id IN (SELECT value FROM json_each(?))",
                (_dumps(old_request_ids),),
            ):
                owners.setdefault(r["request_id"], set()).add(r["id"])
        # MAX(seq) of the table while known. Only a delete can lower it (a merge keeps the
        # smallest seq of the requests it joins and deletes the others), so deletes forget it.
        max_seq: int | None = None
        reassigned: list[tuple[str, str]] = []
        aliases: list[tuple[str, str]] = []
        for n, component in enumerate(components):
            rows = [item_rows[i] for i in component if i in item_rows]
            if not rows:
                continue
            items = [item_from_json(r["data"]) for r in rows]
            for it, r in zip(items, rows, strict=True):
                if r["deleted"]:
                    it.state = "deleted"
            old_ids = {r["request_id"] for r in rows if r["request_id"]}
            local = LocalState()
            for item_id in component:
                lr = local_rows.get(item_id)
                if lr is None:
                    continue
                for key in LOCAL_KEYS:
                    if lr[key]:
                        local[key] = lr[key]
            request = assembler(items, events_of[n], local)
            if not request.listed and not old_ids:
                continue  # e.g. backlog cards whose request is not read yet: kept, not listed
            seq: int | None = None
            previous: tuple[Any, ...] | None = None
            if old_ids:
                members = set(component)
                # Old requests whose other items live on elsewhere (a split) keep their row and
                # short key; this component only absorbs the ones it fully takes over.
                old_rows = [
                    stored[rid]
                    for rid in sorted(old_ids)
                    if rid in stored and (rid == request.id or not (owners.get(rid, set()) - members))
                ]
                if old_rows:
                    seq = min(r[_SEQ] for r in old_rows)
                for r in old_rows:
                    if r[0] != request.id:
                        self._delete_request(conn, r[0], r[_SEQ])
                        del stored[r[0]]
                        max_seq = None
                    else:
                        previous = r
                if previous is not None and previous[_SEQ] != seq:
                    # The merged request takes the smaller short key: its old search entry goes.
                    conn.execute("DELETE FROM requests_fts WHERE rowid=?", (previous[_SEQ],))
                for rid in old_ids:
                    owners.get(rid, set()).difference_update(members)
                owners.setdefault(request.id, set()).update(members)
            existed = seq is not None and request.id in old_ids
            if seq is None:
                if max_seq is None:
                    max_seq = int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM requests").fetchone()[0])
                seq = max_seq + 1
            request.key = f"{self.key_prefix}-{seq}"
            values = self._write_request(conn, request, seq, previous)
            stored[request.id] = values
            if max_seq is not None and seq > max_seq:
                max_seq = seq
            reassigned.extend((request.id, r["id"]) for r in rows if r["request_id"] != request.id)
            aliases.extend((i, request.id) for i in component)
            (result.updated if existed else result.created).append(request.id)
        # Nothing above reads items.request_id or aliases again, so they go in one statement each.
        conn.executemany("UPDATE items SET request_id=? WHERE id=?", reassigned)
        conn.executemany(_UPSERT_ALIAS, aliases)

    def _delete_request(self, conn: Connection, request_id: str, seq: int) -> None:
        conn.execute("DELETE FROM requests WHERE id=?", (request_id,))
        conn.execute("DELETE FROM requests_fts WHERE rowid=?", (seq,))
        conn.execute("DELETE FROM request_assignees WHERE seq=?", (seq,))

    def _write_request(
        self, conn: Connection, r: Request, seq: int, previous: tuple[Any, ...] | None = None
    ) -> tuple[Any, ...]:
        """Upsert a request row and its search entry; return the row's values.

        ``previous`` is the stored row of the same id (columns as :data:`REQUEST_COLUMNS`), when
        known: an identical row is not rewritten, and the search entry is only rebuilt when
        its text changed (re-assembling after a poll or a clock refresh rarely changes it).
        """
        sla = r.sla
        requester = r.requester
        requester_name = requester.name if requester else None
        fields = _dumps(r.fields)
        values = (
            r.id,
            seq,
            r.key,
            r.source.value,  # the primary home; filters and metrics read ``sources``
            _dumps([s.value for s in r.sources]),
            r.title,
            r.body,
            requester.id if requester else None,
            requester_name,
            r.type,
            r.type_reason,
            fields,
            r.status.value,
            r.status_reason,
            int(r.status.is_open),
            r.assignee,
            _dumps(r.labels),
            r.priority,
            PRIORITY_RANK.get(r.priority, 3),
            r.priority_reason,
            r.priority_override,
            _ts(r.created_at),
            _ts(r.updated_at),
            _ts(r.first_response_at),
            _ts(r.resolved_at),
            r.url,
            _dumps(r.links),
            _dumps(r.item_ids),
            sla.state,
            sla.policy,
            sla.reason,
            _ts(sla.first_response_due),
            _ts(sla.resolution_due),
            _ts(sla.due_at),
            _ts(sla.at_risk_at),
            sla.remaining_seconds,
            _ts(r.snoozed_until),
            _dumps(r.assignees),
            r.customer,

            r.backlog_state,
            _ts(r.last_outside_at),
        )
        if previous is not None and previous == values:
            return values
        conn.execute(_UPSERT_REQUEST, values)
        if previous is None or previous[_SEQ] != seq or previous[_ASSIGNEES] != values[_ASSIGNEES] \
                or previous[_ASSIGNEE] != r.assignee:
            # Every assignee, one row each (the filters and "mine" find the second one too).
            for stale in {seq} if previous is None else {seq, previous[_SEQ]}:
                conn.execute("DELETE FROM request_assignees WHERE seq=?", (stale,))
            names = dict.fromkeys([*([r.assignee] if r.assignee else []), *r.assignees])
            conn.executemany("INSERT INTO request_assignees(assignee, seq) VALUES (?, ?)",
                             [(name, seq) for name in names if name])
        if (
            previous is not None
            and previous[_SEQ] == seq
            and previous[_TITLE] == r.title
            and previous[_BODY] == r.body
            and previous[_FIELDS] == fields
            and previous[_REQUESTER_NAME] == requester_name
        ):
            return values  # same text under the same rowid: the search entry is current
        conn.execute("DELETE FROM requests_fts WHERE rowid=?", (seq,))
        conn.execute(*self.dialect.fts_row(
            seq,
            r.title,
            r.body[:100_000],
            " ".join(f"{k} {v}" for k, v in r.fields.items()),
            requester_name or "",
        ))
        return values

    # ----------------------------------------------------------------- local state
    def set_local(self, request_id: str, **values: Any) -> None:
        """Set local-only state (``snoozed_until``, ``priority_override``) on a request's items."""
        request = self.get_request(request_id)
        if request is None:
            raise StoreError(f"no request {request_id}")
        if self.person:
            own = {k: v for k, v in values.items() if k in PERSON_KEYS}
            values = {k: v for k, v in values.items() if k not in PERSON_KEYS}
            if own:
                self._set_person(request.item_ids, own)
            if not values:
                return
        with self._lock, self.write() as conn:
            for item_id in request.item_ids:
                conn.execute("INSERT INTO local_state(item_id) VALUES (?) ON CONFLICT DO NOTHING", (item_id,))
                for key, value in values.items():
                    if key not in (*LOCAL_KEYS, "seen_at"):
                        raise ValueError(key)
                    stored = _ts(value) if isinstance(value, datetime) else value
                    conn.execute(f"UPDATE local_state SET {key}=? WHERE item_id=?", (stored, item_id))  # noqa: S608
            if "snoozed_until" in values:
                conn.execute(
                    "UPDATE requests SET snoozed_until=? WHERE id=?", (_ts(values["snoozed_until"]), request.id)
                )

    def _set_person(self, item_ids: Sequence[str], values: dict[str, Any]) -> None:
        """Set this store's person's own values on the items (``person_state``)."""
        with self._lock, self.write() as conn:
            for item_id in item_ids:
                conn.execute("INSERT INTO person_state(person, item_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                             (self.person, item_id))
                for key, value in values.items():
                    stored = _ts(value) if isinstance(value, datetime) else value
                    conn.execute(f"UPDATE person_state SET {key}=? WHERE person=? AND item_id=?",  # noqa: S608
                                 (stored, self.person, item_id))

    def _person_values(self, item_ids: Sequence[str], key: str) -> list[Any]:
        """This store's person's non-empty values of one ``person_state`` column on the items."""
        if not item_ids:
            return []
        marks = ",".join("?" * len(item_ids))
        rows = self.conn.execute(
            f"SELECT {key} FROM person_state WHERE person=? AND {key} IS NOT NULL AND item_id IN ({marks})",  # noqa: S608
            [self.person, *item_ids],
        ).fetchall()
        return [row[0] for row in rows if row[0]]

    def local_of(self, request_id: str) -> dict[str, Any]:
        """A request's local-only values (:data:`LOCAL_KEYS`; None where unset), e.g. to undo a change."""
        request = self.get_request(request_id)
        values: dict[str, Any] = dict.fromkeys(LOCAL_KEYS)
        if request is None:
            return values
        marks = ",".join("?" * len(request.item_ids))
        rows = self.conn.execute(
            f"SELECT {', '.join(LOCAL_KEYS)} FROM local_state WHERE item_id IN ({marks})",  # noqa: S608
            list(request.item_ids),
        ).fetchall()
        for row in rows:
            for key in LOCAL_KEYS:
                if row[key] and values[key] is None:
                    values[key] = parse_iso(row[key]) if key.endswith(("_until", "_at")) else row[key]
        if self.person:
            snoozes = self._person_values(request.item_ids, "snoozed_until")
            values["snoozed_until"] = parse_iso(max(snoozes)) if snoozes else None
        return values

    def mark_seen(self, request_id: str, at: datetime) -> None:
        """Record that this store's person (or the single user) looked at the request ``at``:
        its read mark, per person in team mode (``person_state``), else in ``local_state``."""
        self.set_local(request_id, seen_at=at)

    def seen_at(self, request_id: str) -> datetime | None:
        """When this store's person (or the single user) last looked at the request (None: never)."""
        params: dict[str, Any] = {"id": request_id, **({"person": self.person} if self.person else {})}
        row = self.conn.execute(f"SELECT ({seen_mark(self.person)}) FROM requests WHERE id = :id",  # noqa: S608
                                params).fetchone()
        return parse_iso(row[0]) if row is not None and row[0] else None

    def set_draft(self, request_id: str, draft: dict[str, Any] | None) -> None:
        """Keep (or, with None, forget) the reply draft of a request (local only, never sent).

        Args:
            request_id: the request (any id :meth:`get_request` accepts).
            draft: the composer's state as JSON-able values, or None to clear it.
        """
        request = self.get_request(request_id)
        if request is None:
            raise StoreError(f"no request {request_id}")
        stored = _dumps(draft) if draft is not None else None
        if self.person:
            self._set_person(request.item_ids, {"draft": stored})
            return
        with self._lock, self.write() as conn:
            for item_id in request.item_ids:
                if stored is not None:
                    conn.execute("INSERT INTO local_state(item_id) VALUES (?) ON CONFLICT DO NOTHING", (item_id,))
                conn.execute("UPDATE local_state SET draft=? WHERE item_id=?", (stored, item_id))

    def draft_of(self, request_id: str) -> dict[str, Any] | None:
        """The reply draft kept for a request (the newest of its items'), or None."""
        request = self.get_request(request_id)
        if request is None:
            return None
        marks = ",".join("?" * len(request.item_ids))
        drafts: list[dict[str, Any]] = []
        raws = self._person_values(request.item_ids, "draft") if self.person else [r[0] for r in self.conn.execute(
            f"SELECT draft FROM local_state WHERE draft IS NOT NULL AND item_id IN ({marks})",  # noqa: S608
            list(request.item_ids),
        )]
        for raw in raws:
            try:
                value = json.loads(raw)
            except ValueError:
                continue
            if isinstance(value, dict):
                drafts.append(value)
        return max(drafts, key=lambda d: str(d.get("saved_at", "")), default=None)

    def resolve_url(self, url: str) -> str | None:
        """The request whose link (GitHub issue, Slack permalink) is ``url``, or None."""
        text = url.strip().rstrip("/")
        row = self.conn.execute(
            "SELECT id FROM requests WHERE url = :u OR EXISTS (SELECT 1 FROM json_each(links) WHERE value = :u) "
            "LIMIT 1",
            {"u": text},
        ).fetchone()
        return str(row[0]) if row else None

    def snoozed_count(self, now: datetime) -> int:
        """How many open requests are snoozed past ``now`` (the header's "N snoozed")."""
        row = self.conn.execute(
            f"SELECT COUNT(*) FROM requests WHERE is_open = 1 AND {snooze_clause(self.person, snoozed=True)}",  # noqa: S608
            {"now": iso_us(now), "person": self.person},
        ).fetchone()
        return int(row[0])

    def rebuild(self, request_id: str, assembler: Assembler) -> Request | None:
        """Re-assemble one request now (after a local change such as a priority override)."""
        request = self.get_request(request_id)
        if request is None:
            return None
        with self._lock, self.write() as conn:
            self._rebuild(conn, list(request.item_ids), assembler, ApplyResult())
        return self.get_request(request_id)

    # ----------------------------------------------------------------- reading
    def resolve_id(self, id_or_key: str) -> str | None:
        """Canonical request id for an id (``gh:…``/``slack:…``), an alias, or a short key."""
        text = id_or_key.strip()
        row = self.conn.execute("SELECT id FROM requests WHERE id=? OR key COLLATE NOCASE = ?", (text, text)).fetchone()
        if row:
            return str(row["id"])
        row = self.conn.execute("SELECT request_id FROM aliases WHERE alias=?", (text,)).fetchone()
        if row:
            return str(row["request_id"])
        # A bare number is a sequence number; one past SQLite's 64-bit range matches nothing.
        if text.isascii() and text.isdigit() and int(text) < 2**63:
            row = self.conn.execute("SELECT id FROM requests WHERE seq=?", (int(text),)).fetchone()
            if row:
                return str(row["id"])
        return None

    def get_request(self, id_or_key: str) -> Request | None:
        """One request by id, alias or short key."""
        request_id = self.resolve_id(id_or_key)
        if request_id is None:
            return None
        row = self.conn.execute("SELECT * FROM requests WHERE id=?", (request_id,)).fetchone()
        if row is None:
            return None
        request = request_from_row(row)
        if self.person:  # a teammate's snooze is theirs: show this person's own
            snoozes = self._person_values(request.item_ids, "snoozed_until")
            request.snoozed_until = parse_iso(max(snoozes)) if snoozes else None
        return request

    def timeline(self, request_id: str) -> list[TimelineEvent]:
        """The merged timeline of a request, oldest first."""
        rid = self.resolve_id(request_id) or request_id
        rows = self.conn.execute(
            "SELECT e.* FROM events e JOIN items i ON i.id = e.item_id WHERE i.request_id=? ORDER BY e.at, e.uid",
            (rid,),
        )
        return [_event_from_row(r) for r in rows]

    def items_of(self, request_id: str) -> list[SourceItem]:
        """The source items of a request."""
        rows = self.conn.execute("SELECT data FROM items WHERE request_id=?", (request_id,))
        return [item_from_json(r["data"]) for r in rows]

    def list_requests(
        self,
        *,
        now: datetime,
        open_only: bool = True,
        statuses: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        sources: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[Request]:
        """Requests in the default queue order (see :func:`idqueue.store.queue.rank_order`)."""
        query = QueueQuery(
            include_closed=not open_only,
            statuses=tuple(statuses or ()),
            types=tuple(types or ()),
            sources=tuple(sources or ()),
        )
        return fetch_window(self, query, now=now, offset=0, limit=limit or -1)

    def count(self, sql_where: str = "1=1", params: Sequence[Any] = ()) -> int:
        """Count requests matching a trusted WHERE fragment."""
        return int(self.conn.execute(f"SELECT COUNT(*) FROM requests WHERE {sql_where}", params).fetchone()[0])  # noqa: S608


def store_target(settings: Settings) -> str | Path:
    """Where the settings keep the store: ``IDQUEUE_DATABASE_URL`` when set, else the SQLite file.

    Raises:
        StoreError: the URL is not a ``postgresql://`` one.
    """
    url = settings.database_url.get_secret_value().strip() if settings.database_url else ""
    if not url:
        return settings.db
    if not is_postgres_url(url):
        raise StoreError("IDQUEUE_DATABASE_URL must be a postgresql:// URL (postgresql://user:password@host/dbname)")
    return url


def open_store(settings: Settings) -> Store:
    """Open (and migrate) the store the settings name: PostgreSQL with ``IDQUEUE_DATABASE_URL``,
    else the SQLite file ``IDQUEUE_DB``. In a client of the team service, the store's ``person``
    is ``me``.

    Raises:
        NewerSchemaError: the database was written by a newer idqueue (it is left untouched).
        StoreError: the database cannot be opened (one line, never the password).
    """
    from idqueue.config import team_client

    client = team_client(settings)
    store = Store.open(store_target(settings), key_prefix=settings.ui.key_prefix, busy_timeout=settings.busy_timeout,
                       upgrade=not client)
    if client:
        # Team mode: snoozes, drafts and read marks are this person's own (idqueue.store.person).
        store.person = settings.me or ""
    return store


class ApplyResult:
    """Request ids created and updated by one applied batch."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.updated: list[str] = []


def _event_from_row(r: Row) -> TimelineEvent:
    return TimelineEvent(
        uid=r["uid"],
        item_id=r["item_id"],
        kind=EventKind(r["kind"]),
        at=parse_iso(r["at"]),  # type: ignore[arg-type]
        actor_id=r["actor_id"],
        actor_name=r["actor_name"],
        body=r["body"],
        url=r["url"],
        source=SourceKind(r["source"]),
        is_bot=bool(r["is_bot"]),
        data=json.loads(r["data"]),
    )


def _split_sql(sql: str) -> list[str]:
    """Split a migration script into statements (no semicolons inside our literals)."""
    return [s.strip() for s in sql.split(";") if s.strip()]
