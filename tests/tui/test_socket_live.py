"""Slack Socket Mode in the TUI: a change in Slack reaches the queue without a key press.

The poll interval is an hour, so only a Socket Mode event can start the second poll. Waits are
bounded waits on the table and the poller, never fixed sleeps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tui_helpers import SIZE, first_sync, settle, wait_for

from idqueue.app import IdqueueApp
from idqueue.commands.tui_cmds import sandbox_settings
from idqueue.integrations.slack.socket import LiveState
from idqueue.sandbox import seed
from idqueue.sandbox.runner import Sandbox
from idqueue.screens.queue import QueueScreen

NOW_ISO = "2026-03-11T15:30:00Z"
HOUR = 3600


def live_app(sandbox: Sandbox, tmp_path: Path, **slack: Any) -> IdqueueApp:
    settings = sandbox_settings(sandbox, tmp_path / "socket.db", {"now": NOW_ISO, "ui": {"poll_interval": HOUR}})
    if slack:
        settings = settings.model_copy(update={"slack": settings.slack.model_copy(update=slack)})
    return IdqueueApp.build(settings, sandbox=True, live=True)



def status_text(screen: QueueScreen) -> str:
    return str(screen.query_one("#status").render())


async def test_new_slack_request_appears_without_pressing_refresh(sandbox: Sandbox, tmp_path: Path) -> None:
    app = live_app(sandbox, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await first_sync(pilot)
        poller = screen.poller
        await wait_for(pilot, lambda: poller.live_health is not None and poller.live_health.live, timeout=30,
                       what="Socket Mode connected")
        await wait_for(pilot, lambda: "Slack live" in status_text(screen), what="status bar says live")
        table = screen.table
        total, polls = table.total, poller.polls
        requester = seed.REQUESTERS[0]
        details = "Socket Mode test: cannot sign in to the staging portal"
        msg = sandbox.slack.state.post(
            seed.CHANNEL, seed.INTAKE_BOT_ID, seed.intake_text("Bug Fix", requester, details, False),
            seed.intake_blocks("Bug Fix", requester, details, False),
        )
        new_id = f"slack:{seed.CHANNEL}/{msg.ts}"
        await wait_for(pilot, lambda: table.total == total + 1, timeout=60, what="the new request in the queue")
        await settle(pilot)
        assert new_id in table.new_ids
        assert poller.polls == polls + 1 and poller.early_polls == 1  # one event, one early poll
        assert sandbox.slack.socket.envelopes and all(e.acked for e in sandbox.slack.socket.envelopes)
        assert any("new request" in n.title for n in app._notifications)
    # Quitting closes the link (in a background thread, so the UI never waits for it).
    assert sandbox.slack.socket.wait_for(lambda hub: hub.connections == 0, timeout=20)


async def test_refused_app_token_falls_back_to_polling(sandbox: Sandbox, tmp_path: Path) -> None:
    from pydantic import SecretStr

    app = live_app(sandbox, tmp_path, app_token=SecretStr("xapp-sandbox-1-A0IDQUEUE1-revoked"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await first_sync(pilot)
        poller = screen.poller
        await wait_for(pilot, lambda: poller.live_health is not None and poller.live_health.state is LiveState.FAILED,
                       timeout=30, what="Socket Mode refused")
        await wait_for(pilot, lambda: "Slack polling (auth failed)" in status_text(screen), what="status bar")
        assert "Slack ok" in status_text(screen)  # the Slack source itself is fine
        total = screen.table.total
        sandbox.slack.state.post(seed.CHANNEL, "U0REQ01", "*Type:* Help Request\n*Details:* polled the old way")
        await pilot.press("R")
        await wait_for(pilot, lambda: screen.table.total == total + 1, timeout=60, what="polled request")
        assert app.is_running and poller.early_polls == 0
