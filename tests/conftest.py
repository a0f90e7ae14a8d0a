"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from pg_cluster import Cluster, missing_reason, start_cluster

from idqueue.sandbox.runner import Sandbox

# Tests never assert wall-clock times: Hypothesis's per-example deadline is one, and it fails
# on a loaded machine (two CI workers, other processes). Keep the properties, drop the clock.
settings.register_profile("idqueue", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("idqueue")

# --- sandbox fixtures (owned by the emulator work) --------------------------------------------

SANDBOX_NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
"""A fixed Wednesday afternoon (New York business hours) for deterministic sandbox tests."""


@pytest.fixture
def sandbox_now() -> datetime:
    """The frozen instant the sandbox fixtures use."""
    return SANDBOX_NOW


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A started, seeded sandbox on a frozen clock (``sb.clock.advance(...)`` moves it)."""
    sb = Sandbox.start(seed=True, now=SANDBOX_NOW)
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture
def empty_sandbox() -> Iterator[Sandbox]:
    """A started sandbox with repos, channels and people but no issues or messages."""
    sb = Sandbox.start(seed=False, now=SANDBOX_NOW)
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture
def live_sandbox() -> Iterator[Sandbox]:
    """An empty sandbox on the wall clock: the senders' leases, retries and in-flight horizons
    run out in real time (the team service's and the outbox's exactly-once tests)."""
    sb = Sandbox.start(seed=False)
    try:
        yield sb
    finally:
        sb.stop()


# --- PostgreSQL (team mode) -------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster for this test process (skipped, with the reason, without one)."""
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> Iterator[str]:
    """The URL of an empty database of this test's own on the session's cluster."""
    url = pg_cluster.new_database()
    try:
        yield url
    finally:
        pg_cluster.drop_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a store test keeps its database, once per backend: a SQLite file, then an empty
    PostgreSQL database (``pg_url``; skipped with the reason where PostgreSQL is missing)."""
    if request.param == "sqlite":
        return tmp_path / "store.db"
    url: str = request.getfixturevalue("pg_url")
    return url
