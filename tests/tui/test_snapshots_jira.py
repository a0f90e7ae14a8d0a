"""Snapshots of the identity team's queue after its move to Jira (the ``identity-jira`` sandbox).

The same month as the identity snapshots, read from Jira + Slack: the source column shows ``J``
(and ``J+S`` for a Jira issue linked to its Slack thread), the detail pane the Jira issue.
Update after a deliberate visual change:
``.venv/bin/pytest tests/tui/test_snapshots_jira.py --snapshot-update`` and look at each SVG.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_snapshots import finish, go_to
from textual.pilot import Pilot
from tui_helpers import SIZE, ready

from idqueue.app import IdqueueApp
from idqueue.commands.tui_cmds import sandbox_settings
from idqueue.config import Settings
from idqueue.sandbox.identity_jira import IdentityJiraSandbox
from idqueue.store.db import Store
from idqueue.sync import SyncEngine, build_sources

SITE = "https://identity.atlassian.net"
NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
NOW_ISO = "2026-03-11T15:30:00Z"
"""The frozen clock of every snapshot (as in ``conftest``)."""


@pytest.fixture(scope="module")
def jira_month(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Settings]:
    """The identity-jira month synced once into a template database."""
    folder = tmp_path_factory.mktemp("jira-month")
    empty = folder / "config.toml"
    empty.write_text("")
    os.environ["IDQUEUE_CONFIG_FILE"] = str(empty)
    with IdentityJiraSandbox.start(seed=True, now=NOW) as sb:
        settings = sandbox_settings(sb, folder / "month.db", {"now": NOW_ISO})
        store = Store.open(settings.db, key_prefix=settings.ui.key_prefix)
        report = SyncEngine(store, build_sources(settings), settings).poll()
        assert not report.errors, report.errors
        store.close()
        _fixed_site(settings.db, sb.jira.origin)
    return settings.db, settings


def _fixed_site(db: Path, origin: str) -> None:
    """Show the emulator's site (a new loopback port each run) as one fixed URL, like a frozen clock."""
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND sql NOT LIKE "
                                             "'%VIRTUAL%' AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            for column in [c[1] for c in conn.execute(f"PRAGMA table_info({table})") if c[2].upper() == "TEXT"]:
                conn.execute(f"UPDATE {table} SET {column} = replace({column}, ?, ?) WHERE {column} LIKE ?",
                             (origin, SITE, f"%{origin}%"))


def _app(jira_month: tuple[Path, Settings], tmp_path: Path) -> IdqueueApp:
    db, settings = jira_month
    target = tmp_path / "queue.db"
    with sqlite3.connect(db) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    cfg = settings.model_copy(update={"db": target, "ui": settings.ui.model_copy(update={"undo_seconds": 0.0})})
    app = IdqueueApp.build(cfg, store=Store.open(target, key_prefix=cfg.ui.key_prefix), sandbox=True, live=False)
    app.ctx.dispatcher = None
    return app


@pytest.mark.parametrize("size", [pytest.param(SIZE, id="full"), pytest.param((80, 24), id="80x24")])
def test_jira_queue(snap_compare: Any, jira_month: tuple[Path, Settings], tmp_path: Path,
                    size: tuple[int, int]) -> None:
    """The queue read from Jira and Slack: same order, priorities and SLA clocks as the identity queue."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await finish(pilot)

    assert snap_compare(_app(jira_month, tmp_path), terminal_size=size, run_before=run_before)


def test_jira_detail(snap_compare: Any, jira_month: tuple[Path, Settings], tmp_path: Path) -> None:
    """A Jira issue linked to its Slack thread: both homes, the merged timeline."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await go_to(pilot, "Cannot sign in to staging with DS Logon")
        await finish(pilot)

    assert snap_compare(_app(jira_month, tmp_path), terminal_size=SIZE, run_before=run_before)
