"""Snapshots of the find features: the go-to prompt (with its error line) and the saved-views tabs.

Update after a deliberate visual change:
``.venv/bin/pytest tests/tui/test_find_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

from typing import Any

from test_find import VIEWS
from textual.pilot import Pilot
from textual.widgets import Input, Label
from tui_helpers import SIZE, no_blink, ready, settle, wait_for

from idqueue.screens.goto import GoToScreen


async def _prompt(pilot: Pilot[Any], text: str) -> GoToScreen:
    await ready(pilot)
    await pilot.press("colon")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, GoToScreen), what="go-to prompt")
    screen = pilot.app.screen
    assert isinstance(screen, GoToScreen)
    screen.query_one(Input).value = text
    return screen


def test_go_to_prompt(snap_compare: Any, make_app: Any) -> None:
    """``:`` opens the go-to prompt over the queue; a key that names nothing is said in place."""

    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await _prompt(pilot, "REQ-999")
        await pilot.press("enter")
        error = screen.query_one("#goto-error", Label)
        await wait_for(pilot, lambda: error.display, what="error line")
        pilot.app.clear_notifications()
        no_blink(pilot)
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_saved_views_tabs(snap_compare: Any, make_app: Any, synced_month: Any) -> None:
    """Saved views as tabs above the queue; ``]`` switched to "Urgent" (priority:p1)."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: pilot.app.queue.query_state.view == "Urgent", what="view")
        await settle(pilot)
        pilot.app.clear_notifications()
        no_blink(pilot)
        await pilot.pause()

    settings = synced_month.settings.model_copy(update={"views": VIEWS})
    assert snap_compare(make_app(settings=settings), terminal_size=SIZE, run_before=run_before)
