"""Snapshots of the action views: the snoozed view, the undo toast, the snooze, priority and close dialogs.

Update after a deliberate visual change: ``.venv/bin/pytest tests/tui/test_snapshots_actions.py
--snapshot-update`` and look at the SVGs under ``tests/tui/__snapshots__/``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from textual.pilot import Pilot
from tui_helpers import SIZE, no_blink, ready, settle, wait_for

from idqueue.app import IdqueueApp
from idqueue.screens.close import CloseScreen
from idqueue.screens.priority import PriorityScreen
from idqueue.screens.snooze import SnoozeScreen


async def finish(pilot: Pilot[Any], *, toasts: bool = False) -> None:
    if not toasts:
        pilot.app.clear_notifications()
    no_blink(pilot)
    await pilot.pause()


async def open_dialog(pilot: Pilot[Any], key: str, screen_type: type) -> Any:
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, screen_type), what=screen_type.__name__)
    await pilot.pause()
    return pilot.app.screen


def snoozed_app(make_app: Any) -> IdqueueApp:
    """Two requests snoozed before the app starts (until tomorrow 9:00 and for three days)."""
    app: IdqueueApp = make_app()
    now = app.ctx.clock()
    store = app.ctx.store
    ids = [r[0] for r in store.conn.execute(
        "SELECT id FROM requests WHERE is_open = 1 ORDER BY seq LIMIT 2").fetchall()]
    app.ctx.actions.snooze(ids[0], now + timedelta(hours=21, minutes=30))
    app.ctx.actions.snooze(ids[1], now + timedelta(days=3))
    return app


def test_snoozed_view(snap_compare: Any, make_app: Any) -> None:
    """``S``: only the snoozed requests; the detail says until when."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("S")
        await wait_for(pilot, lambda: pilot.app.queue.table.total == 2, what="snoozed view")
        await settle(pilot)
        await finish(pilot)

    assert snap_compare(snoozed_app(make_app), terminal_size=SIZE, run_before=run_before)


def test_snoozed_count_in_the_header(snap_compare: Any, make_app: Any) -> None:
    """The queue says how many requests are snoozed, and which key shows them."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        bar = pilot.app.queue.query_one("#filter-bar")
        await wait_for(pilot, lambda: "2 snoozed" in str(bar.render()), what="count")
        await finish(pilot)

    assert snap_compare(snoozed_app(make_app), terminal_size=SIZE, run_before=run_before)


def test_undo_toast(snap_compare: Any, make_app: Any) -> None:
    """After ``p``: the action is held and the toast offers undo."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("p")
        app = pilot.app
        await wait_for(pilot, lambda: any("to undo" in n.message for n in app._notifications), what="toast")
        await settle(pilot)
        await finish(pilot, toasts=True)

    assert snap_compare(make_app(undo_seconds=5), terminal_size=SIZE, run_before=run_before)


def test_snooze_custom_time_resolved(snap_compare: Any, make_app: Any) -> None:
    """A natural time is resolved in the team's calendar before it is confirmed."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        dialog = await open_dialog(pilot, "z", SnoozeScreen)
        dialog.query_one("#choices").highlighted = 3
        await pilot.press("enter")
        await pilot.press(*"monday 9am")
        await wait_for(pilot, lambda: "Mon 16 Mar" in str(dialog.query_one("#resolved").render()), what="resolved")
        await finish(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_priority_picker(snap_compare: Any, make_app: Any) -> None:
    """Automatic or P1–P4, with 0–4 shortcuts, and what a change does to the SLA."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await open_dialog(pilot, "P", PriorityScreen)
        await finish(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_close_as_duplicate(snap_compare: Any, make_app: Any) -> None:
    """Duplicate asks for the original; the preview links it and sends no survey."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        dialog = await open_dialog(pilot, "c", CloseScreen)
        dialog.query_one("#duplicate").value = True
        await wait_for(pilot, lambda: dialog.query_one("#duplicate-of").display, what="field")
        await pilot.press(*"REQ-1")
        await wait_for(pilot, lambda: not dialog.query_one("#confirm").disabled, what="preview")
        preview = dialog.query_one("#preview")
        await wait_for(pilot, lambda: any("Duplicate of" in (s.text or "") for s in preview.steps), what="preview")
        await finish(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)
