"""Snapshots at 80×24 and 100×30: the queue, the detail, the composer and the dashboard fit.

Update after a deliberate visual change:
``.venv/bin/pytest tests/tui/test_snapshots_narrow.py --snapshot-update`` and look at each SVG.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_dashboard import open_dashboard
from test_snapshots import _reply, finish, go_to
from textual.pilot import Pilot
from tui_helpers import ready

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((100, 30), id="100x30")]


@pytest.mark.parametrize("size", SIZES)
def test_queue_narrow(snap_compare: Any, make_app: Any, size: tuple[int, int]) -> None:
    """Panes collapsed, a readable title column, the footer's main keys and ``? more``."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await finish(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_queue_narrow_panes_shown(snap_compare: Any, make_app: Any, size: tuple[int, int]) -> None:
    """``f`` brings the collapsed filter panes back."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("f")
        await finish(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_detail_narrow(snap_compare: Any, make_app: Any, size: tuple[int, int]) -> None:
    """Enter focuses the detail pane under the queue."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await go_to(pilot, "Cannot sign in to staging with DS Logon")
        await pilot.press("enter")
        await finish(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_composer_narrow(snap_compare: Any, make_app: Any, size: tuple[int, int]) -> None:
    """The reply composer: template list, target, preview and buttons all visible."""
    assert snap_compare(make_app(), terminal_size=size, run_before=_reply("slack"))


@pytest.mark.parametrize("size", SIZES)
def test_dashboard_narrow(snap_compare: Any, make_app: Any, size: tuple[int, int]) -> None:
    """The dashboard's panels stacked in one scrolling column, titles whole."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await open_dashboard(pilot)
        await finish(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)
