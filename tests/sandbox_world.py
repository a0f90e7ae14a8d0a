"""A seeded sandbox synced into a database by the production sources, for CLI tests that copy it.

Used by ``tests/integration/test_cli_faults.py`` and ``tests/integration/test_bad_input.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import idqueue.sync
from idqueue.config import Settings
from idqueue.sandbox.runner import Sandbox
from idqueue.store.db import Store


@dataclass
class World:
    """A seeded sandbox, a database synced from it, and an empty config file beside it."""

    sb: Sandbox
    golden: Path
    config: Path


def start_world(tmp: Path, now: datetime) -> World:
    """Start a seeded sandbox at ``now`` and sync it into ``tmp/golden.db`` (production sources).

    The database is checkpointed, so a plain file copy of it holds everything. The caller stops
    ``world.sb``.
    """
    config = tmp / "config.toml"
    config.write_text("", encoding="utf-8")
    sb = Sandbox.start(seed=True, now=now)
    try:
        settings = Settings(**sb.settings_overrides(), db=tmp / "golden.db", now=now.isoformat())
        store = Store.open(settings.db)
        report = idqueue.sync.SyncEngine(store, idqueue.sync.build_sources(settings), settings).poll()
        assert not report.errors
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()
    except BaseException:
        sb.stop()
        raise
    return World(sb, settings.db, config)
