"""``idqueue db migrate-to URL``: a synced sandbox database copied into PostgreSQL reads back the
same through the real CLI (``list --json --all``, ``show --json``) and the store's queries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_env import sandbox_cli_env
from click.testing import CliRunner, Result

from idqueue.cli import Context, cli
from idqueue.config import Settings
from idqueue.domain.survey import parse_survey_csv
from idqueue.outbox.models import Action, ActionKind, ActionState
from idqueue.outbox.store import OutboxStore
from idqueue.sandbox.runner import Sandbox
from idqueue.store import metrics_queries, notifications, poll_hints
from idqueue.store.db import Store
from idqueue.store.ratings import import_ratings
from idqueue.store.transfer import count_rows

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)


def _run(env: dict[str, str | None], *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env, obj=Context())
    assert result.exit_code == code, f"idqueue {' '.join(args)}:\n{result.output}"
    return result


@pytest.fixture
def synced(tmp_path: Path) -> Iterator[dict[str, str | None]]:
    """The seeded sandbox synced into a SQLite file, plus local-only rows (ratings, a snooze, a
    draft, queued and sent outbox actions); yields the CLI's environment."""
    sb = Sandbox.start(seed=True, now=NOW)
    env = sandbox_cli_env(sb, tmp_path)
    try:
        _run(env, "sync", "--once", "--quiet")
        settings = Settings(**sb.settings_overrides(), db=tmp_path / "q.db")
        store = Store.open(tmp_path / "q.db")
        rows = parse_survey_csv(sb.survey_csv(), settings.survey.columns, tz=settings.sla.calendar.timezone).rows
        assert import_ratings(store, rows, now=NOW).added > 0
        first, second = [r.id for r in store.list_requests(now=NOW)][:2]
        store.set_local(first, snoozed_until=NOW + timedelta(days=2), priority_override="P1")
        store.set_draft(second, {"text": "draft 100 % ready", "saved_at": "2026-03-11T15:00:00Z"})
        box = OutboxStore(store)
        box.insert([_action("m1", first), _action("m2", first), _action("m3", second)])
        claim = box.claim("me", now=NOW, lease_seconds=60, targets=None, owner_dead=lambda _o: False)
        assert claim is not None
        box.mark_sent(claim.action.id, "me", now=NOW, result={"ts": "1.2"}, token=claim.action.fence)
        store.close()
        yield env
    finally:
        sb.stop()


def _action(aid: str, request: str) -> Action:
    return Action(id=aid, request_id=request, kind=ActionKind.REPLY, target="github", params={"n": 1},
                  text=f"reply {aid}", state=ActionState.QUEUED, attempts=0, last_error=None, next_attempt_at=None,
                  created_at=NOW, sent_at=None, group_id=aid, summary=f"reply {aid}")


def _reads(store: Store, settings: Settings) -> dict[str, Any]:
    """What the store's other query modules answer (metrics, poll hints, notifications, outbox)."""
    start, end = NOW - timedelta(days=60), NOW + timedelta(days=1)
    return {
        "rows": [asdict(r) for r in metrics_queries.fetch_rows(store, start, end, now=NOW, sla=settings.sla)],
        "ratings": [asdict(r) for r in metrics_queries.fetch_ratings(store, start, end)],
        "open_items": poll_hints.open_items(store, "slack"),
        "missing": poll_hints.missing_links(store, "github"),
        "crossed": [(r.id, s) for r, s in notifications.crossed_since(store, start)],
        "recent": [r.id for r in notifications.recent_open(store, start)],
        "outbox": [(a.id, a.state, a.seq, a.fence, a.attempts) for a in OutboxStore(store).select()],
        "log": [(e.n, e.outcome) for e in OutboxStore(store).log("m1")],
    }


def test_migrate_to_copies_everything_and_reads_back_the_same(
    synced: dict[str, str | None], pg_url: str, tmp_path: Path
) -> None:
    result = _run(synced, "db", "migrate-to", pg_url)
    assert "MISMATCH" not in result.output and "requests" in result.output
    pg_env = {**synced, "IDQUEUE_DATABASE_URL": pg_url}

    lite = json.loads(_run(synced, "list", "--json", "--all").stdout)
    pg = json.loads(_run(pg_env, "list", "--json", "--all").stdout)
    assert len(lite) > 10
    assert pg == lite
    for row in lite[:8]:
        assert _run(pg_env, "show", row["id"], "--json").stdout == _run(synced, "show", row["id"], "--json").stdout

    sqlite_store, pg_store = Store.open(tmp_path / "q.db"), Store.open(pg_url)
    counts = count_rows(sqlite_store)
    assert counts == count_rows(pg_store)
    assert all(counts[t] > 0 for t in ("items", "events", "requests", "aliases", "cursors", "local_state",
                                       "outbox", "outbox_log", "ratings", "requests_fts"))
    settings = Settings(db=tmp_path / "q.db")
    assert _reads(pg_store, settings) == _reads(sqlite_store, settings)
    assert pg_store.draft_of(lite[1]["id"]) == sqlite_store.draft_of(lite[1]["id"])
    # New actions continue after the copied ones.
    OutboxStore(pg_store).insert([_action("m4", lite[0]["id"])])
    assert OutboxStore(pg_store).get("m4").seq == 4  # type: ignore[union-attr]


def test_migrate_to_refuses_a_database_that_is_not_empty(synced: dict[str, str | None], pg_url: str) -> None:
    _run(synced, "db", "migrate-to", pg_url)
    again = _run(synced, "db", "migrate-to", pg_url, code=1)
    assert "not empty" in again.output
    assert len(json.loads(_run({**synced, "IDQUEUE_DATABASE_URL": pg_url}, "list", "--json", "--all").stdout)) > 10


def test_migrate_to_needs_a_postgres_url(synced: dict[str, str | None]) -> None:
    result = _run(synced, "db", "migrate-to", "sqlite:///x.db", code=1)
    assert "postgresql:// URL" in result.output


def test_a_sync_straight_into_postgres_lists_what_sqlite_lists(pg_url: str, tmp_path: Path) -> None:
    sb = Sandbox.start(seed=True, now=NOW)
    lite_env = sandbox_cli_env(sb, tmp_path)
    # One person polling into PostgreSQL themselves (not a client of a team service).
    pg_env = {**lite_env, "IDQUEUE_DATABASE_URL": pg_url, "IDQUEUE_TEAM_CLIENT": "off"}
    try:
        for env in (lite_env, pg_env):
            _run(env, "sync", "--once", "--quiet")
        lite = json.loads(_run(lite_env, "list", "--json", "--all").stdout)
        assert len(lite) > 10
        assert json.loads(_run(pg_env, "list", "--json", "--all").stdout) == lite
        found = 0
        for words in ("sign in", "data pull", "token", "type:bug", "nothing-like-this"):
            hits = json.loads(_run(lite_env, "list", "--json", "--all", "--search", words).stdout)
            assert json.loads(_run(pg_env, "list", "--json", "--all", "--search", words).stdout) == hits, words
            found += bool(hits)
        assert found >= 2
    finally:
        sb.stop()
