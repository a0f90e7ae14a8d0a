"""The README's "Running idqueue for a team" recipe, run as written on a throwaway cluster.

* The database roles: the service's role owns the database and migrates it; a client's role
  with only the documented grants reads the queue and queues actions, and cannot change the
  schema.
* Backup and restore: ``pg_dump`` of a synced team database restored into a new database lists
  the same queue (``list --json --all``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result
from pg_cluster import Cluster

from idqueue.cli import Context, cli
from idqueue.sandbox.runner import Sandbox

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_sql() -> list[str]:
    """The statements of the README's database-roles block, passwords and all."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Running idqueue for a team"):]
    block = re.search(r"```sql\n(.*?)```", section, re.S)
    assert block is not None, "the README's roles block is gone"
    lines = [ln for ln in block.group(1).splitlines() if ln.strip() and not ln.lstrip().startswith(("--", "\\"))]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _run(env: dict[str, str | None], *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env, obj=Context())
    assert result.exit_code == code, f"idqueue {' '.join(args)}:\n{result.output}"
    return result


@pytest.fixture
def team(pg_cluster: Cluster, tmp_path: Path) -> Iterator[tuple[Sandbox, dict[str, str | None], str]]:
    """The sandbox, a CLI environment without a database, and a fresh suffix for role names."""
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    sb = Sandbox.start(seed=True, now=NOW)
    cleared: dict[str, str | None] = {k: None for k in os.environ if k.startswith("IDQUEUE_")}
    env = {**cleared, **sb.env(), "IDQUEUE_CONFIG_FILE": str(config), "IDQUEUE_DB": str(tmp_path / "unused.db")}
    try:
        yield sb, env, uuid.uuid4().hex[:8]
    finally:
        sb.stop()


def _setup_roles(cluster: Cluster, suffix: str) -> tuple[str, str, str, list[str]]:
    """Run the README's SQL up to the grants that need the tables, with role and database names
    made unique; return (database, service role, client role, the remaining grants)."""
    db, service, client = f"idqueue_{suffix}", f"idqueue_service_{suffix}", f"idqueue_client_{suffix}"
    statements = [s.replace("idqueue_service", service).replace("idqueue_client", client)
                  .replace("DATABASE idqueue", f"DATABASE {db}") for s in _readme_sql()]
    before = [s for s in statements if not s.startswith(("GRANT SELECT", "GRANT USAGE, SELECT", "ALTER DEFAULT"))]
    after = [s for s in statements if s not in before]
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        for statement in before[:2]:  # the roles' and the database's creation
            conn.execute(statement)
    with psycopg.connect(cluster.url(db), autocommit=True) as conn:
        for statement in before[2:]:
            conn.execute(statement)
    return db, service, client, after


def test_the_documented_roles_let_the_service_migrate_and_clients_only_use(
    pg_cluster: Cluster, team: tuple[Sandbox, dict[str, str | None], str]
) -> None:
    _sb, env, suffix = team
    db, service, client, grants = _setup_roles(pg_cluster, suffix)
    as_service = f"postgresql://{service}@127.0.0.1:{pg_cluster.port}/{db}"
    as_client = f"postgresql://{client}@127.0.0.1:{pg_cluster.port}/{db}"
    # The service's role syncs (as `idqueue serve` does), which creates the tables.
    _run({**env, "IDQUEUE_DATABASE_URL": as_service, "IDQUEUE_TEAM_CLIENT": "off"}, "sync", "--once", "--quiet")
    with psycopg.connect(f"postgresql://{service}@127.0.0.1:{pg_cluster.port}/{db}", autocommit=True) as conn:
        for statement in grants:
            conn.execute(statement)
    client_env = {**env, "IDQUEUE_DATABASE_URL": as_client, "IDQUEUE_GITHUB_TOKEN": None,
                  "IDQUEUE_SLACK_TOKEN": None}
    queue = json.loads(_run(client_env, "list", "--json").output)
    assert len(queue) > 20
    first = queue[0]["id"]
    _run(client_env, "snooze", first, "2d")
    _run(client_env, "assign", first, "ben", "--no-send")
    outbox = _run(client_env, "outbox").output
    assert "ben" in outbox.lower() or "assign" in outbox.lower(), outbox
    with psycopg.connect(as_client) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("CREATE TABLE not_allowed(x int)")


def test_pg_dump_and_restore_give_back_the_same_queue(
    pg_cluster: Cluster, team: tuple[Sandbox, dict[str, str | None], str], tmp_path: Path
) -> None:
    _sb, env, _suffix = team
    source = pg_cluster.new_database("src")
    _run({**env, "IDQUEUE_DATABASE_URL": source, "IDQUEUE_TEAM_CLIENT": "off"}, "sync", "--once", "--quiet")
    before = _run({**env, "IDQUEUE_DATABASE_URL": source}, "list", "--json", "--all").output
    dump = tmp_path / "idqueue.dump"
    subprocess.run([str(pg_cluster.bindir / "pg_dump"), "--format=custom", f"--file={dump}", source],
                   check=True, capture_output=True, timeout=120)
    target = pg_cluster.new_database("restored")
    subprocess.run([str(pg_cluster.bindir / "pg_restore"), f"--dbname={target}", "--no-owner", str(dump)],
                   check=True, capture_output=True, timeout=120)
    after = _run({**env, "IDQUEUE_DATABASE_URL": target}, "list", "--json", "--all").output
    assert json.loads(after) == json.loads(before) and len(json.loads(after)) > 20
