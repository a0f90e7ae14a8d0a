"""The metrics dashboard (``m``) on the synced sandbox month with the seeded survey imported.

Frozen clock: 2026-03-11 15:30Z, so "this month" is March 1–11 and "last month" February.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, Static
from tui_helpers import SIZE, ready, settle, wait_for

from idqueue.app import IdqueueApp
from idqueue.domain.survey import parse_survey_csv
from idqueue.report import SUMMARY_ROWS
from idqueue.sandbox import seed as seed_mod
from idqueue.screens.dashboard import DashboardScreen
from idqueue.screens.queue import QueueScreen
from idqueue.store.db import Store
from idqueue.store.ratings import import_ratings
from idqueue.widgets.trend_chart import TrendChart

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)  # the TUI fixtures' frozen clock


@pytest.fixture
def rated_db(month_db: Path, synced_month: Any) -> Path:
    """The month's copy with the seeded survey export imported."""
    settings = synced_month.settings
    store = Store.open(month_db, key_prefix=settings.ui.key_prefix)
    rows = parse_survey_csv(seed_mod.survey_csv(now=NOW), settings.survey.columns,
                            tz=settings.sla.calendar.timezone).rows
    assert import_ratings(store, rows, now=NOW).added == len(rows)
    store.close()
    return month_db


async def open_dashboard(pilot: Pilot[Any]) -> DashboardScreen:
    await ready(pilot)
    await pilot.press("m")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen), what="dashboard")
    screen = pilot.app.screen
    assert isinstance(screen, DashboardScreen)
    await wait_for(pilot, lambda: screen.report is not None and screen.report.period == screen.period,
                   what="report")
    await settle(pilot)
    return screen


def text_of(widget: Static) -> str:
    """What a Static shows, as plain text (its content may be a Rich table)."""
    console = Console(width=60, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def cell(table: DataTable[Any], row: int, column: int) -> str:
    value = table.get_row_at(row)[column]
    return value.plain if isinstance(value, Text) else str(value)


def test_dashboard_snapshot(snap_compare: Any, make_app: Any, rated_db: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_dashboard(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


async def test_every_panel_has_numbers_for_the_seeded_month(make_app: Any, rated_db: Path) -> None:
    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot)
        report = screen.report
        assert report is not None
        k, p = report.kpis, report.previous_kpis
        # KPI table: one row per KPI, both months filled in.
        kpis = screen.query_one("#dash-kpis", DataTable)
        assert kpis.row_count == len(SUMMARY_ROWS)
        assert cell(kpis, 0, 1) == str(k.received) and k.received > 0 and p.received > 0
        assert k.resolved and k.backlogged and k.pending and k.open
        assert k.first_response_business.median and k.resolution_wall.median
        assert k.reopened.hits >= 1 and k.within_48h.total and k.fulfilled.hits
        # The month runs (11 March): compared with the same days of February, and labelled so.
        assert [str(c.label) for c in kpis.columns.values()][1:3] == ["Mar 1–11", "Feb 1–11"]
        assert str(kpis.border_title).startswith("Mar 1–11 vs Feb 1–11")
        assert report.previous.label == "Feb 1–11" and report.to_date is not None
        assert "—" not in [cell(kpis, i, 2) for i in range(5)]  # the counts
        assert sum(cell(kpis, i, 2) != "—" for i in range(kpis.row_count)) >= kpis.row_count - 3
        # Trends: weekly volume and response times have data.
        volume = screen.query_one("#chart-volume", TrendChart)
        times = screen.query_one("#chart-times", TrendChart)
        assert sum(v or 0 for _, values in volume.series for v in values) > 0
        assert any(v for _, values in times.series for v in values)
        # Breakdowns.
        assert screen.query_one("#dash-by-type", DataTable).row_count >= 5
        assert screen.query_one("#dash-by-assignee", DataTable).row_count >= 3
        # SLA and CSAT with its sample size.
        assert k.sla.total > 0 and k.sla_by_policy
        sla = text_of(screen.query_one("#dash-sla", Static))
        assert "All policies" in sla and f"({k.sla.hits}/{k.sla.total})" in sla
        assert "5 ★" in text_of(screen.query_one("#dash-csat", Static))
        assert k.csat.responses >= 1 and p.csat.responses >= 5
        csat = screen.query_one("#dash-csat", Static)
        assert f"n = {k.csat.responses}" in str(csat.border_title)
        # Breaches, selectable.
        breached = screen.query_one("#dash-breached", DataTable)
        assert breached.row_count == len(report.breached) > 0
        assert breached.has_focus


async def test_selecting_a_breached_request_shows_it_in_the_queue(make_app: Any, rated_db: Path) -> None:
    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot)
        assert screen.report is not None
        target = screen.report.breached[2][0].id
        await pilot.press("down", "down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen), what="queue")
        queue = app.screen
        assert isinstance(queue, QueueScreen)
        await wait_for(pilot, lambda: queue.table.cursor_id == target, what="cursor on the request")


async def test_month_navigation_and_closing(make_app: Any, rated_db: Path) -> None:
    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot)
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: screen.report is not None and screen.report.period.label == "February 2026",
                       what="February")
        assert screen.report is not None and screen.report.previous.label == "January 2026"
        assert "February 2026" in str(screen.query_one("#dash-title").render())
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: screen.report is not None and screen.report.period.label == "March 2026",
                       what="March")
        await pilot.press("right_square_bracket")  # not past the current month
        await settle(pilot)
        assert screen.period.label == "March 2026"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen), what="queue")


async def test_an_empty_store_shows_empty_panels_without_errors(tmp_path: Path) -> None:
    from textual.app import App

    from idqueue.config import Settings

    store = Store.open(tmp_path / "empty.db")
    settings = Settings(db=tmp_path / "empty.db", now="2026-03-11T15:30:00Z")
    result: list[str | None] = []

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(DashboardScreen(store, settings, clock=lambda: NOW), result.append)

    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.report is not None,
                       what="report")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        assert screen.query_one("#dash-breached", DataTable).row_count == 0
        assert "no ratings yet" in str(screen.query_one("#dash-csat", Static).border_title)
        assert cell(screen.query_one("#dash-kpis", DataTable), 5, 1) == "—"
        for chart in screen.query(TrendChart):
            drawn = chart.plt.build()
            assert "no data for this period" in drawn, drawn
            assert "-1" not in drawn  # a 0–1 frame, not plotext's default axes around nothing
        await pilot.press("m")
        await settle(pilot)
    assert result == [None]
