"""Leader election: of the services that share one database, exactly one does the outside I/O.

Two ``idqueue serve`` processes on one store must never both poll (twice the API calls) or both
send (the outbox's leases already keep each action to one sender, but two dispatchers would
still race for every claim). A :class:`Leadership` is a lock that the operating system or the
database server releases by itself when its holder dies, so a standby can take over within
seconds without anyone cleaning up:

* :class:`FileLeadership` (SQLite store): an exclusive ``fcntl.flock`` on ``<db>.serve.lock``.
  The kernel drops it the moment the holding process exits, however it exits (``SIGKILL``
  included). Services on one SQLite file run on one machine, so a local lock is enough.
* :class:`AdvisoryLeadership` (PostgreSQL store): a session advisory lock
  (``pg_try_advisory_lock``) on a connection of its own. The server releases it when that
  session ends: at once when the holder's process dies (the kernel closes its socket), and
  within seconds when its machine or network dies, thanks to TCP keepalives on both ends of the
  connection. The holder checks every loop that its session still holds the lock and steps down
  when it does not.

:func:`leadership_for` picks one from the settings.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import Any, Protocol

from idqueue.config import Settings
from idqueue.safety import one_line, redact

__all__ = [
    "LOCK_KEY",
    "AdvisoryLeadership",
    "FileLeadership",
    "Leadership",
    "LeadershipError",
    "leadership_for",
    "lock_path",
]

log = logging.getLogger(__name__)

LOCK_KEY = 0x6964_7175_6575_6531
"""The advisory lock key of the team service (the bytes of ``idqueue1``): one per database."""

KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 5, 2, 3
"""TCP keepalives (both ends): a dead peer is noticed within about 5 + 2 × 3 = 11 s."""

SERVER_KEEPALIVE = (f"-c tcp_keepalives_idle={KEEPALIVE_IDLE} -c tcp_keepalives_interval={KEEPALIVE_INTERVAL} "
                    f"-c tcp_keepalives_count={KEEPALIVE_COUNT}")
"""The same keepalives on the server's end of the session (settable per session), so the server
ends a dead holder's session, and releases its lock, within about 11 s."""

CHECK_TIMEOUT_MS = 5000
"""The longest a lock check may take (statement timeout; a TCP user timeout for the network)."""


class LeadershipError(Exception):
    """The lock cannot be used at all (no database server, a lock file that cannot be opened)."""


class Leadership(Protocol):
    """A lock that makes one service the active one.

    ``try_acquire`` never blocks for long; a standby calls it about once a second. The holder
    calls ``still_held`` every loop and stops all outside I/O at once when it returns False.
    """

    description: str
    """What the lock is, for log lines and ``/healthz`` ("lock file …", "PostgreSQL advisory lock")."""

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True when this process holds it (now or already)."""

    def still_held(self) -> bool:
        """Whether this process still holds the lock (False once it was lost)."""

    def release(self) -> None:
        """Give the lock up (idempotent); a standby may take it over at once."""


def lock_path(db: Path) -> Path:
    """The lock file of the services on the SQLite database ``db``: ``<db>.serve.lock``."""
    return db.with_name(db.name + ".serve.lock")


class FileLeadership:
    """An exclusive ``flock`` on a lock file next to the SQLite database.

    Args:
        path: the lock file (created when missing; never deleted, so its inode stays the one
            every service locks).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"lock file {path.name}"
        self._fd: int | None = None
        self._held = False

    def _open(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                raise LeadershipError(f"cannot open the lock file {self.path}: {exc.strerror}") from None
        return self._fd

    def try_acquire(self) -> bool:
        """Take the lock without waiting; True when held."""
        if self._held and self.still_held():
            return True
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._held = True
        return True

    def still_held(self) -> bool:
        """Held, and the lock file is still the one on disk (a deleted or replaced file could be
        locked by another service, so holding the old one means nothing any more)."""
        if not self._held or self._fd is None:
            return False
        try:
            same = os.fstat(self._fd).st_ino == os.stat(self.path).st_ino
        except OSError:
            same = False
        if not same:
            log.warning("serve: the lock file %s was removed or replaced; stepping down", self.path)
            self.release()
        return same

    def release(self) -> None:
        """Unlock and close the file (the next :meth:`try_acquire` opens it again)."""
        fd, self._fd, self._held = self._fd, None, False
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)


class AdvisoryLeadership:
    """A PostgreSQL session advisory lock on a dedicated connection.

    Args:
        url: the ``postgresql://`` URL of the team's database.
        key: the lock key (the same for every service on that database).
        connect_timeout: seconds to wait for the server when (re)connecting.
    """

    def __init__(self, url: str, *, key: int = LOCK_KEY, connect_timeout: float = 5.0) -> None:
        self.url = url
        self.key = key
        self.connect_timeout = connect_timeout
        self.description = "PostgreSQL advisory lock"
        self._conn: Any = None
        self._held = False

    def _connect(self) -> Any:
        import psycopg

        if self._conn is not None and not self._conn.closed:
            return self._conn
        try:
            self._conn = psycopg.connect(
                self.url, autocommit=True, connect_timeout=max(1, round(self.connect_timeout)),
                keepalives=1, keepalives_idle=KEEPALIVE_IDLE, keepalives_interval=KEEPALIVE_INTERVAL,
                keepalives_count=KEEPALIVE_COUNT,
                application_name="idqueue serve (leader lock)", tcp_user_timeout=CHECK_TIMEOUT_MS,
                options=f"{SERVER_KEEPALIVE} -c statement_timeout={CHECK_TIMEOUT_MS}",
            )
        except psycopg.Error as exc:
            raise LeadershipError(f"cannot reach the database for the leader lock: {_describe(exc)}") from None
        return self._conn

    def try_acquire(self) -> bool:
        """``pg_try_advisory_lock`` on the lock connection (reconnecting first when it broke)."""
        import psycopg

        if self._held and self.still_held():
            return True
        conn = self._connect()
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        except psycopg.Error as exc:
            self._drop()
            raise LeadershipError(f"the leader lock query failed: {_describe(exc)}") from None
        self._held = bool(row and row[0])
        return self._held

    def still_held(self) -> bool:
        """The lock connection is alive and its session holds the lock (one round trip)."""
        import psycopg

        if not self._held or self._conn is None or self._conn.closed:
            self._held = False
            return False
        try:
            row = self._conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND objsubid = 1"
                " AND classid = ((%(key)s >> 32) & 4294967295)::bigint::oid"
                " AND objid = (%(key)s & 4294967295)::bigint::oid",
                {"key": self.key},
            ).fetchone()
        except psycopg.Error as exc:
            log.warning("serve: the leader lock connection failed: %s", _describe(exc))
            self._drop()
            return False
        self._held = bool(row and row[0])
        if not self._held:
            self._drop()
        return self._held

    def release(self) -> None:
        """Unlock and close the lock connection (the server would release the lock with the
        session anyway, but not before the backend has noticed the close)."""
        import psycopg

        if self._held and self._conn is not None and not self._conn.closed:
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            except psycopg.Error:
                log.debug("unlocking the leader lock failed; closing its session releases it", exc_info=True)
        self._drop()

    def _drop(self) -> None:
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None:
            try:
                conn.close()
            except Exception:  # closing a broken connection must not stop a step-down
                log.debug("closing the leader lock connection failed", exc_info=True)

    def backend_pid(self) -> int | None:
        """The server process of the lock session (tests end it to simulate a lost connection)."""
        if self._conn is None or self._conn.closed:
            return None
        pid: int = self._conn.info.backend_pid
        return pid


def _describe(exc: BaseException) -> str:
    return one_line(redact(f"{type(exc).__name__}: {exc}"), 200)


def leadership_for(settings: Settings) -> Leadership:
    """The lock for the settings' store: the PostgreSQL advisory lock when a ``database_url`` is
    set, else the lock file next to the SQLite database."""
    url = getattr(settings, "database_url", None)
    if url:
        secret = getattr(url, "get_secret_value", None)
        return AdvisoryLeadership(str(secret() if secret is not None else url))
    return FileLeadership(lock_path(Path(settings.db)))
