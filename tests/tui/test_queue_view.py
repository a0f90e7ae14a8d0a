"""What the queue shows on screen: every visible row after each jump key, at every size."""

from __future__ import annotations

from typing import Any

import pytest
from textual.geometry import Region
from tui_helpers import ready, settle

from idqueue.app import IdqueueApp
from idqueue.screens.queue import QueueScreen
from idqueue.store.queue import QueueQuery, fetch_window
from idqueue.widgets.request_table import RequestTable


def painted_lines(table: RequestTable) -> list[str]:
    """The table's lines as the compositor gets them (cached lines included), as plain text."""
    strips = table.render_lines(Region(0, 0, table.outer_size.width, table.outer_size.height))
    return ["".join(segment.text for segment in strip) for strip in strips]


def expected_keys(app: IdqueueApp, table: RequestTable) -> list[str]:
    """The keys of the requests the store puts in the table's viewport (its window of the query)."""
    top = round(table.scroll_y)
    rows = fetch_window(app.ctx.store, table.queue_query, now=app.ctx.clock(), offset=top, limit=table.size.height - 1)
    return [r.key for r in rows]


async def assert_viewport_matches_store(app: IdqueueApp, table: RequestTable, key: str) -> None:
    lines = painted_lines(table)[1:]  # line 0 is the header
    keys = expected_keys(app, table)
    assert keys, "the viewport is empty"
    for y, want in enumerate(keys):
        assert f" {want} " in f" {lines[y]} ", f"after {key}: line {y + 1} shows {lines[y]!r}, the store has {want}"
    cursor_line = table.cursor - round(table.scroll_y)
    assert 0 <= cursor_line < len(keys), f"after {key}: the cursor is off screen"


@pytest.mark.parametrize("size", [(160, 50), (100, 30), (80, 24)])
async def test_every_jump_key_repaints_every_visible_row(make_app: Any, size: tuple[int, int]) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        screen._apply_query(QueueQuery(include_closed=True))  # more rows than fit on any screen
        await settle(pilot)
        table = screen.table
        assert table.total > 2 * table.size.height, "the list must be taller than the screen"
        for key in ("end", "home", "pagedown", "pagedown", "pageup", "end", "pageup", "home", "down", "up"):
            await pilot.press(key)
            await settle(pilot)
            await assert_viewport_matches_store(app, table, key)


async def test_cursor_moves_that_scroll_one_line_repaint_every_row(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        screen._apply_query(QueueQuery(include_closed=True))
        await settle(pilot)
        table = screen.table
        for key in ["down"] * (table.size.height + 2) + ["up"] * (table.size.height + 2):
            await pilot.press(key)
            await pilot.pause()
            await assert_viewport_matches_store(app, table, key)


def footer_keys(app: IdqueueApp) -> list[str]:
    from textual.widgets._footer import FooterKey

    return [f"{k.key_display} {k.description}" for k in app.screen.query(FooterKey)]


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_narrow_terminal_collapses_the_panes_and_f_toggles_them(make_app: Any, size: tuple[int, int]) -> None:
    from idqueue.widgets.request_table import COLUMNS, MIN_TITLE

    app = make_app()
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        panes = screen.query_one("#panes")
        assert not panes.display
        title = dict((c.name, w) for c, w in screen.table._layout(screen.table.size.width))["Title"]
        assert title >= MIN_TITLE and COLUMNS[6].name == "Title"
        keys = footer_keys(app)
        assert keys[-1] == "? more" and "a Assign" in keys and "f Panes" in keys
        await pilot.press("f")
        await pilot.pause()
        assert panes.display and panes.size.width > 0
        await pilot.press("f")
        await pilot.pause()
        assert not panes.display


async def test_wide_terminal_shows_the_panes_and_f_hides_them(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await ready(pilot)
        panes = app.screen.query_one("#panes")
        assert panes.display
        await pilot.press("f")
        await pilot.pause()
        assert not panes.display
        assert app.screen.query_one(RequestTable).size.width == 160  # the queue takes the room


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (160, 50)])
async def test_the_footer_never_cuts_a_key(make_app: Any, size: tuple[int, int]) -> None:
    from textual.widgets._footer import FooterKey

    app = make_app()
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        for key in app.screen.query(FooterKey):
            assert key.region.right <= size[0], f"{key.key_display} {key.description} is cut"


async def test_a_background_refresh_does_not_cancel_a_jump(make_app: Any) -> None:
    """A poll's reload that lands right after ``go_to`` keeps the jump (the cursor had not moved)."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        await settle(pilot)
        table = screen.table
        rows = table.loaded_rows()
        target = rows[len(rows) // 2].id
        assert table.cursor_id != target
        table.go_to(target)
        table.reload()  # what a finished poll or an outbox update does, before the jump's rows arrive
        await settle(pilot)
        assert table.cursor_id == target
        await pilot.press("down")
        moved = table.cursor_id
        table.reload()  # once the user moves, a refresh keeps *their* row, not the old jump
        await settle(pilot)
        assert table.cursor_id == moved
