"""Helpers for the TUI tests (waiting without fixed sleeps, stable snapshots)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

SIZE = (160, 50)


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

