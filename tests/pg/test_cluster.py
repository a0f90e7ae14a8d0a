"""The throwaway PostgreSQL cluster the team-mode tests run on answers SQL."""

from __future__ import annotations

import psycopg
import pytest

pytestmark = pytest.mark.xdist_group("pg")


def test_each_test_gets_its_own_empty_database(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    assert version is not None and int(version[0]) >= 130000
    assert tables == (0,)
