"""Untrusted text from Slack and GitHub is shown literally and cannot drive the terminal or the app."""

from __future__ import annotations

from typing import Any

from tui_helpers import SIZE, ready, settle, wait_for

from idqueue.screens.queue import QueueScreen
from idqueue.widgets.request_table import RequestTable

CONTROL = ("\x1b", "\x9b", "\x07", "\u202e", "\u202c")


def row_with(screen: QueueScreen, needle: str) -> Any:
    return next(r for r in screen.table.loaded_rows() if needle in r.request.title + r.request.body)


async def show(pilot: Any, screen: QueueScreen, rid: str) -> None:
    screen.table.go_to(rid)
    await wait_for(pilot, lambda: screen.table.cursor_id == rid, what="cursor on the row")
    await settle(pilot)
    await wait_for(pilot, lambda: screen.detail.detail is not None and screen.detail.detail.request.id == rid,
                   what="detail loaded")


async def test_markup_in_a_title_is_literal_and_inert(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = app.queue
        row = row_with(screen, "[@click=app.quit]")
        await show(pilot, screen, row.id)
        table = screen.table
        line = table._line_of(table.cursor) - int(table.scroll_y) + 1
        rendered = table.render_line(line).text
        assert "[bold red]pwn[/] [@click=app.quit]x[/]" in rendered
        assert "[bold red]pwn[/] [@click=app.quit]x[/]" in screen.detail.text()
        title_x = 0
        for column, w in table._layout(table.size.width):
            if column.name == "Title":
                break
            title_x += w + 1
        await pilot.click(RequestTable, offset=(title_x + 12, line))  # click on "[@click=app.quit]"
        await pilot.pause()
        assert app.is_running  # the "action" in the title did nothing


async def test_escape_sequences_are_neutralised(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = app.queue
        row = row_with(screen, "\x1b]52")
        await show(pilot, screen, row.id)
        text = screen.detail.text()
        assert "ERROR" in text and "clipboard" in text
        for char in CONTROL:
            assert char not in text
        segments = [seg.text for strip in screen.detail._lines for seg in strip]
        assert not any(c in s for s in segments for c in CONTROL)


async def test_slack_broadcasts_and_scripts_are_plain_text(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = app.queue
        row = row_with(screen, "urgent!!")
        await show(pilot, screen, row.id)
        text = screen.detail.text()
        assert "<script>alert(1)</script>" in text  # shown, as text
        assert "@Ana Reyes" in text  # a known user id shows as the roster name


async def test_rtl_override_and_wide_text(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = app.queue
        row = row_with(screen, "evil.exe")
        assert "\u202e" not in row.title
        await show(pilot, screen, row.id)
        text = screen.detail.text()
        assert "\u202e" not in text and "中文" in text
        table = screen.table
        width = table.size.width
        for y in range(1, table.size.height):
            assert table.render_line(y).cell_length == width  # wide glyphs never break the grid


async def test_huge_body_is_truncated_for_display(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = app.queue
        row = next(r for r in screen.table.loaded_rows() if len(r.request.body) > 100_000)
        await show(pilot, screen, row.id)
        text = screen.detail.text()
        assert "truncated" in text
        assert len(text) < 60_000
