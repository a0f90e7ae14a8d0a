"""Snapshots of a client of the team service: the seeded month in a shared PostgreSQL store, no
tokens; the status bar shows the service's report (``team service on triage-box``) and the
health of each integration as the service last saw it, or the warning when it stopped.

Update after a deliberate visual change:
``.venv/bin/pytest tests/tui/test_snapshots_team.py --snapshot-update`` and look at each SVG.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from test_snapshots import finish
from textual.pilot import Pilot
from tui_helpers import SIZE, wait_for

from idqueue.app import IdqueueApp
from idqueue.commands.tui_cmds import sandbox_settings
from idqueue.config import Settings
from idqueue.sandbox.runner import Sandbox
from idqueue.store.db import Store
from idqueue.store.service_state import ServiceState, write_service_state
from idqueue.sync import SyncEngine, build_sources

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
NOW_ISO = "2026-03-11T15:30:00Z"
HOST = "triage-box"


@pytest.fixture
def shared(pg_url: str, tmp_path: Path) -> Iterator[Settings]:
    """The identity month synced into a PostgreSQL store (as the service would), and the settings
    of a teammate's client on it (the roster and rules, no tokens)."""
    empty = tmp_path / "config.toml"
    empty.write_text("")
    os.environ["IDQUEUE_CONFIG_FILE"] = str(empty)
    with Sandbox.start(seed=True, now=NOW) as sb:
        service = sandbox_settings(sb, tmp_path / "unused.db", {"now": NOW_ISO})
        store = Store.open(pg_url, key_prefix=service.ui.key_prefix)
        report = SyncEngine(store, build_sources(service), service).poll()
        assert not report.errors, report.errors
        store.close()
        people = {k: v for k, v in sb.settings_overrides().items() if k not in ("github", "slack")}
    yield Settings(db=tmp_path / "client.db", database_url=SecretStr(pg_url), now=NOW_ISO,
                   ui={"undo_seconds": 0, "poll_interval": 600}, **people)


def _report(settings: Settings, *, stopped: bool = False) -> None:
    """What the active service last wrote (heartbeat: just now, in real time)."""
    store = Store.open(settings.database_url.get_secret_value() if settings.database_url else "")
    now = datetime.now(UTC)
    # The last sync is shown as a time of day: the frozen clock's, so the frame is stable (only
    # the heartbeat, never shown as a time, must be real for the report not to look stale).
    ok = [{"name": name, "state": "ok", "last_sync": (NOW - timedelta(seconds=20)).isoformat()}
          for name in ("GitHub", "Slack")]
    write_service_state(store, ServiceState(host=HOST, pid=4242, heartbeat_at=now - timedelta(seconds=20),
                                            last_poll_at=NOW - timedelta(seconds=20), interval=60.0, sources=ok,
                                            stopped_at=now - timedelta(minutes=2) if stopped else None))
    store.close()


async def _ready(pilot: Pilot[Any], line: str) -> None:
    """The queue, its panes and detail loaded, and the status bar showing ``line``. Every worker
    is waited for except the client's store listener, which runs as long as the app."""
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.__class__.__name__ == "QueueScreen", what="queue screen")
    screen = app.screen
    await wait_for(pilot, lambda: screen.table.loaded and screen.table.cursor_row is not None, what="rows")
    status = screen.query_one("#status")
    await wait_for(pilot, lambda: line in str(status.render()), what=line)
    for _ in range(2):
        await pilot.pause()
        await asyncio.gather(*[w.wait() for w in list(app.workers) if w.group != "listen"], return_exceptions=True)
    await finish(pilot)


@pytest.mark.parametrize("size", [pytest.param(SIZE, id="full"), pytest.param((80, 24), id="80x24")])
def test_team_client_queue(snap_compare: Any, shared: Settings, size: tuple[int, int]) -> None:
    """A teammate's queue on the shared store while the service runs."""
    _report(shared)

    async def run_before(pilot: Pilot[Any]) -> None:
        await _ready(pilot, f"team service on {HOST}")

    assert snap_compare(IdqueueApp.build(shared, live=True), terminal_size=size, run_before=run_before)


def test_team_client_when_the_service_stopped(snap_compare: Any, shared: Settings) -> None:
    """The service was stopped and no standby took over: the status bar says so at once."""
    _report(shared, stopped=True)

    async def run_before(pilot: Pilot[Any]) -> None:
        await _ready(pilot, "team service stopped 2 min ago")

    assert snap_compare(IdqueueApp.build(shared, live=True), terminal_size=SIZE, run_before=run_before)
