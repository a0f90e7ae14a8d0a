"""Helpers for the TUI tests (waiting without fixed sleeps, stable snapshots)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from github import GithubException
from textual.pilot import Pilot

from idqueue.app import IdqueueApp
from idqueue.integrations.github.api import map_github_error
from idqueue.outbox.dispatcher import Dispatcher
from idqueue.outbox.models import Action, ActionKind
from idqueue.screens.queue import QueueScreen

SIZE = (160, 50)
DOCS_LINK = "Please update the Identity docs link in the header"
"""REQ-28 in the synced month: on Slack and GitHub, assigned to Erin Walsh."""


async def wait_for(pilot: Pilot[Any], predicate: Callable[[], Any], *, timeout: float = 10.0,
                   what: str = "condition") -> None:
    """Pause the pilot until ``predicate()`` is true (bounded; no fixed sleeps)."""
    waited = 0.0
    while not predicate():
        if waited >= timeout:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)
        waited += 0.02


async def settle(pilot: Pilot[Any]) -> None:
    """Let every worker finish and the screen repaint (only when no modal is awaiting input)."""
    await pilot.pause()
    await asyncio.gather(*[w.wait() for w in list(pilot.app.workers)], return_exceptions=True)
    await pilot.pause()
    await asyncio.gather(*[w.wait() for w in list(pilot.app.workers)], return_exceptions=True)
    await pilot.pause()


async def ready(pilot: Pilot[Any]) -> None:
    """Wait until the queue has loaded its rows, panes and the first detail."""
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.__class__.__name__ == "QueueScreen", what="queue screen")
    screen = app.screen
    await wait_for(pilot, lambda: screen.table.loaded and screen.table.cursor_row is not None, what="rows")
    await settle(pilot)


def no_blink(pilot: Pilot[Any]) -> None:
    """Stop cursor blinking so snapshots are stable."""
    from textual.widgets import Input, TextArea

    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    for area in pilot.app.screen.query(TextArea):
        area.cursor_blink = False



class ScriptedWriter:
    """An outbox writer that refuses GitHub assignments with a 403 while ``refuse`` is set (the
    real GitHub error mapping words the reason) and "sends" everything else. No network."""

    def __init__(self, target: str, app: IdqueueApp) -> None:
        self.target = target
        self.app = app
        self.refuse = True
        self.sent: list[str] = []

    def send(self, action: Action, *, maybe_sent: bool) -> dict[str, Any]:
        if self.refuse and self.target == "github" and action.kind is ActionKind.ASSIGN:
            p = action.params
            raise map_github_error(GithubException(403, {"message": "Must have admin rights to Repository."}, {}),
                                   f"assign @{p['login']} on {p['repo']}#{p['number']}", now=self.app.ctx.clock())
        self.sent.append(action.id)
        return {}

    def close(self) -> None:
        pass


def scripted(app: IdqueueApp) -> dict[str, ScriptedWriter]:
    """Give the app a dispatcher with scripted writers (before it runs: the poller takes it at compose)."""
    writers = {t: ScriptedWriter(t, app) for t in ("github", "slack")}
    app.ctx.dispatcher = Dispatcher(app.ctx.store, app.ctx.settings, writers=writers,  # type: ignore[arg-type]
                                    clock=app.ctx.clock, sleep=lambda _s: None, throttle=0)
    return writers


def rid_of(app: IdqueueApp, title: str = DOCS_LINK) -> str:
    """The id of REQ-28 (checked against its title and assignee)."""
    request = app.ctx.store.get_request("REQ-28")
    assert request is not None and request.title == title and request.assignee == "erin"
    return request.id


def failed_take(app: IdqueueApp) -> str:
    """Take REQ-28 (Erin Walsh's) and dispatch: the assignment is refused, the rest of the verb waits."""
    rid = rid_of(app)
    app.ctx.actions.take(rid)
    app.ctx.dispatcher.run_once()
    return rid


async def first_sync(pilot: Pilot[Any]) -> QueueScreen:
    """The queue screen of a live app once its first poll has filled the table (cursor on a row)."""
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen), what="queue screen")
    screen = app.screen
    assert isinstance(screen, QueueScreen)
    await wait_for(pilot, lambda: screen.poller.polls >= 1, timeout=60, what="first poll")
    await wait_for(pilot, lambda: screen.table.total > 0 and screen.table.cursor_row is not None, what="rows")
    await settle(pilot)
    return screen
