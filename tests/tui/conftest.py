"""Fixtures for the TUI tests: the sandbox month synced once per worker, copied per test."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from idqueue.app import IdqueueApp
from idqueue.commands.tui_cmds import sandbox_settings
from idqueue.config import Settings
from idqueue.sandbox.runner import Sandbox
from idqueue.store.db import Store
from idqueue.sync import SourceHealth, SyncEngine, build_sources

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
NOW_ISO = "2026-03-11T15:30:00Z"


@dataclass
class SyncedMonth:
    """A database holding the synced sandbox month, and the settings that produced it."""

    db: Path
    settings: Settings
    health: dict[str, SourceHealth]


@pytest.fixture(scope="session")
def synced_month(tmp_path_factory: pytest.TempPathFactory) -> SyncedMonth:
    """Sync the seeded sandbox month once (per xdist worker) into a template database."""
    folder = tmp_path_factory.mktemp("month")
    db = folder / "month.db"
    # A developer's own config.toml (theme, keymap, roster) must not leak into the snapshots.
    empty = folder / "config.toml"
    empty.write_text("")
    os.environ["IDQUEUE_CONFIG_FILE"] = str(empty)
    sb = Sandbox.start(seed=True, now=NOW)
    try:
        settings = sandbox_settings(sb, db, {"now": NOW_ISO})
        store = Store.open(db, key_prefix=settings.ui.key_prefix)
        engine = SyncEngine(store, build_sources(settings), settings)
        report = engine.poll()
        assert not report.errors, report.errors
        health = {k: replace(v) for k, v in engine.health.items()}
        store.close()
    finally:
        sb.stop()
    return SyncedMonth(db, settings, health)


@pytest.fixture
def month_db(synced_month: SyncedMonth, tmp_path: Path) -> Path:
    """A private copy of the synced month for one test."""
    target = tmp_path / "queue.db"
    # The SQLite backup API copies committed pages whatever is still in the WAL file.
    with sqlite3.connect(synced_month.db) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


AppFactory = Callable[..., IdqueueApp]


@pytest.fixture
def make_app(synced_month: SyncedMonth, month_db: Path) -> AppFactory:
    """Build the app on the synced month: frozen clock, no polling, nothing sent (the outbox
    dispatcher is off unless ``dispatch=True``), so keys can be checked against the outbox.
    Actions are not held for undo unless a test passes ``undo_seconds``."""

    def build(*, keymap: dict[str, str] | None = None, dispatch: bool = False, live: bool = False,
              settings: Settings | None = None, **ui: Any) -> IdqueueApp:
        base = settings or synced_month.settings
        ui_cfg = base.ui.model_copy(update={"keymap": keymap or {}, "undo_seconds": 0.0, **ui})
        cfg = base.model_copy(update={"db": month_db, "ui": ui_cfg})
        store = Store.open(month_db, key_prefix=cfg.ui.key_prefix)
        app = IdqueueApp.build(cfg, store=store, sandbox=True, live=live)
        if app.ctx.engine is not None:
            app.ctx.engine.health = {k: replace(v) for k, v in synced_month.health.items()}
        if not dispatch:
            app.ctx.dispatcher = None
        return app

    return build
