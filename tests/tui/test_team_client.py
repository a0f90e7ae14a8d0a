"""A client TUI of the team service (PostgreSQL store, no tokens): its queue fills live from what
the service writes (LISTEN/NOTIFY, no key press) and its status bar reports the service."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from team_env import running_services, service_settings
from tui_helpers import SIZE, wait_for

from idqueue.app import IdqueueApp
from idqueue.config import Settings
from idqueue.outbox.models import ActionState
from idqueue.outbox.store import OutboxStore
from idqueue.sandbox.runner import Sandbox
from idqueue.screens.plan import PlanScreen
from idqueue.screens.queue import QueueScreen
from idqueue.service.runner import ServiceRunner
from idqueue.store.service_state import read_service_state, write_service_state

WAIT = 60.0


@pytest.fixture
def start_service() -> Iterator[Callable[[Settings], ServiceRunner]]:
    yield from running_services()


async def test_a_client_tui_without_tokens_fills_live_from_the_service(
        sandbox: Sandbox, tmp_path: Path, pg_url: str, start_service: Callable[[Settings], ServiceRunner]) -> None:
    people = {k: v for k, v in sandbox.settings_overrides().items() if k not in ("github", "slack")}
    client = Settings(db=tmp_path / "client.db", database_url=SecretStr(pg_url), now=sandbox.clock().isoformat(),
                      ui={"poll_interval": 600, "undo_seconds": 0}, **people)
    assert client.github_token is None and client.slack_token is None
    app = IdqueueApp.build(client, live=True)
    assert app.ctx.engine is None and app.ctx.dispatcher is None
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen), what="queue screen")
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        status = screen.query_one("#status")
        await wait_for(pilot, lambda: "team service: not running yet" in str(status.render()), what="first look")
        assert "no sources configured" not in str(status.render())
        assert not app._notifications  # no "Nothing to poll" warning: the service polls
        assert screen.table.total == 0
        sandbox.github.calls.clear()
        runner = start_service(service_settings(sandbox, tmp_path, pg_url))
        # No key press: the service's commits arrive as notifications and the queue re-reads.
        await wait_for(pilot, lambda: screen.table.total > 10, timeout=WAIT, what="rows from the service")
        await wait_for(pilot, lambda: f"team service on {socket.gethostname()}" in str(status.render()), what="service line")
        assert runner.polls >= 1
        assert "GitHub ok" in str(status.render())
        # The service's heartbeat goes stale: the client warns.
        state = read_service_state(app.ctx.store)
        assert state is not None and state.host == socket.gethostname()
        runner.stop()
        # An action in the client only queues, signed with who did it: nothing leaves this process.
        sandbox.github.calls.clear()
        sandbox.slack.calls.clear()
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, PlanScreen), what="the plan")
        await pilot.press("y")
        outbox = OutboxStore(app.ctx.store)
        await wait_for(pilot, lambda: outbox.select(states=[ActionState.QUEUED]), what="queued take")
        queued = outbox.select(states=[ActionState.QUEUED])
        assert {a.actor for a in queued} == {client.me}
        assert not sandbox.github.calls.all() and not sandbox.slack.calls.all()
        state.heartbeat_at = datetime.now(UTC) - timedelta(seconds=state.interval * 4)
        write_service_state(app.ctx.store, state)
        await wait_for(pilot, lambda: "has not synced for" in str(status.render()), what="stale warning")
        await app.action_quit()


async def test_a_client_of_a_shared_sqlite_file_rereads_without_notifications(
        sandbox: Sandbox, tmp_path: Path, start_service: Callable[[Settings], ServiceRunner]) -> None:
    # A team on one SQLite file (services on one machine): clients say `team_client = "on"`.
    db = tmp_path / "team.db"
    client = Settings(db=db, team_client="on", now=sandbox.clock().isoformat(), ui={"poll_interval": 1})
    app = IdqueueApp.build(client, live=True)
    assert app.ctx.engine is None and app.ctx.dispatcher is None
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen), what="queue screen")
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        service = Settings(db=db, now=sandbox.clock().isoformat(), **sandbox.settings_overrides())
        start_service(service)
        await wait_for(pilot, lambda: screen.table.total > 10, timeout=WAIT, what="rows from the service")
        status = screen.query_one("#status")
        await wait_for(pilot, lambda: "team service on" in str(status.render()), what="service line")
        await app.action_quit()
