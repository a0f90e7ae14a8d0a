"""A throwaway PostgreSQL cluster for the tests and the benchmarks (``initdb`` + ``pg_ctl``).

The cluster lives in a fresh temporary folder, listens on a free loopback port only (and on a
Unix socket inside its own folder), trusts local connections, and is stopped and removed when
the test session ends. Each test gets a database of its own (:meth:`Cluster.new_database`).

PostgreSQL refuses to run as root, so under root (CI containers) the server runs as the
``postgres`` user that Debian's ``postgresql`` package creates, through ``runuser``.

Tests that need it take the ``pg_url`` fixture (``tests/conftest.py``). Where PostgreSQL is not
installed they are *skipped with the reason*, never silently: ``.ci/run`` installs it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "idqueue"
"""The cluster's superuser (trust authentication on loopback only)."""


def find_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: ``IDQUEUE_PG_BINDIR``, ``PATH``, or Debian's layout."""
    configured = os.environ.get("IDQUEUE_PG_BINDIR")
    if configured:
        return Path(configured) if (Path(configured) / "initdb").exists() else None
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key, reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _version_key(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def missing_reason() -> str | None:
    """Why the PostgreSQL tests cannot run here (``None`` when they can)."""
    if find_bindir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) not installed: apt-get install postgresql"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[dev]')"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root without runuser to start the server as 'postgres'"
    return None


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """A running throwaway cluster."""

    bindir: Path
    root: Path
    port: int
    as_user: str | None

    @property
    def datadir(self) -> Path:
        """The cluster's data folder."""
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL to ``database`` on this cluster."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "t") -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`new_database` (its connections are ended first)."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server at once and remove its folder."""
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            _run(self, [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self.root, ignore_errors=True)


def _run(cluster: Cluster, argv: list[str], *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    if cluster.as_user:
        argv = ["runuser", "-u", cluster.as_user, "--", *argv]
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=timeout)


def start_cluster() -> Cluster:
    """Create and start a cluster; raises ``RuntimeError`` with the server's words when it cannot."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found")
    root = Path(tempfile.mkdtemp(prefix="idqueue-pg-"))
    as_user = "postgres" if os.geteuid() == 0 else None
    if as_user:
        entry = pwd.getpwnam(as_user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    cluster = Cluster(bindir=bindir, root=root, port=free_port(), as_user=as_user)
    try:
        _run(cluster, [str(bindir / "initdb"), "-D", str(cluster.datadir), "-U", SUPERUSER, "--auth=trust",
                       "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"])
        options = (f"-c listen_addresses=127.0.0.1 -c port={cluster.port} -c unix_socket_directories={root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
                   "-c shared_buffers=64MB")
        _run(cluster, [str(bindir / "pg_ctl"), "-D", str(cluster.datadir), "-l", str(root / "server.log"),
                       "-o", options, "-w", "-t", "60", "start"], timeout=90)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
        detail = getattr(exc, "stderr", "") or ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {detail.strip()} {log.strip()[-400:]}") from exc
    _wait_ready(cluster)
    return cluster


def _wait_ready(cluster: Cluster, timeout: float = 30) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(cluster.url(), connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
