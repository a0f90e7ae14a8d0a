"""Customers in the TUI: the Customer column and pane, the ``w`` picker, the per-customer 48 h
panel of the dashboard. On a small consultancy desk built in a temp store (mail threads only).

Update the snapshots after a deliberate visual change:
``.venv/bin/pytest tests/tui/test_customers_tui.py --snapshot-update`` and look at each SVG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import customers_world as world
import pytest
from test_dashboard import open_dashboard
from test_snapshots import finish
from textual.pilot import Pilot
from textual.widgets import DataTable
from tui_helpers import ready, settle, wait_for

from idqueue.app import IdqueueApp
from idqueue.screens.choice import ChoiceScreen
from idqueue.widgets.facet_pane import FacetPane


def desk_app(tmp_path: Path, *, customers: bool = True) -> IdqueueApp:
    """The app on the built desk: frozen clock, no polling, nothing dispatched."""
    cfg, store = world.build(tmp_path / "desk.db", customers=None if customers else {})
    app = IdqueueApp.build(cfg, store=store, sandbox=False, live=False)
    app.ctx.dispatcher = None
    return app


async def go_to_mail(pilot: Pilot[Any], name: str) -> None:
    screen = pilot.app.queue
    screen.table.go_to(world.by_name(name).id)
    await wait_for(pilot, lambda: screen.table.cursor_id == world.by_name(name).id, what="cursor")
    await settle(pilot)


def customer_pane(pilot: Pilot[Any]) -> FacetPane:
    return pilot.app.screen.query_one("#customer-pane", FacetPane)


@pytest.mark.parametrize("size", [pytest.param((160, 50), id="160x50"), pytest.param((80, 24), id="80x24")])
def test_customer_column_and_pane(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    """The queue with the Customer column ("no customer" for unknown senders) and the Customer
    pane (every customer, then no customer); at 80 columns the panes are shown with ``f``."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        if size[0] < 120:
            await pilot.press("f")
            customer_pane(pilot).focus()
        await settle(pilot)
        await finish(pilot)

    assert snap_compare(desk_app(tmp_path), terminal_size=size, run_before=run_before)


def test_dashboard_per_customer_48_hours(snap_compare: Any, tmp_path: Path) -> None:
    """The dashboard's per-customer panel: the share resolved within 48 h, and how many are not due yet."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await open_dashboard(pilot)
        await finish(pilot)

    assert snap_compare(desk_app(tmp_path), terminal_size=(160, 50), run_before=run_before)


async def test_dashboard_customer_rows(tmp_path: Path) -> None:
    app = desk_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_dashboard(pilot)
        table = screen.query_one("#dash-by-customer", DataTable)
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        assert rows == [
            ["Acme Ltd", "3", "2", "1", "50 % (1/2)", "1", "0 %"],
            ["(no customer)", "2", "1", "1", "100 % (1/1)", "1", "100 %"],
            ["Globex", "2", "1", "1", "50 % (1/2)", "0", "50 %"],
            ["Initech", "1", "0", "1", "0 % (0/1)", "0", "—"],
            ["All requests", "8", "4", "4", "50 % (3/6)", "2", "33 %"],
        ]


async def test_the_pane_filters_by_customer(tmp_path: Path) -> None:
    app = desk_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await ready(pilot)
        pane = customer_pane(pilot)
        pane.focus()
        pane.highlighted = 3  # acme, globex, initech, then "No customer"
        await pilot.press("enter")
        screen = app.queue
        await wait_for(pilot, lambda: screen.query_state.customers == ("",), what="filter")
        await settle(pilot)
        assert {r.id for r in screen.table.loaded_rows()} == {world.by_name("stray-new").id}
        assert "customer none" in screen.query_state.describe()


async def test_w_assigns_a_customer_to_mail_from_an_unknown_domain(tmp_path: Path) -> None:
    app = desk_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await ready(pilot)
        await go_to_mail(pilot, "stray-new")
        assert app.queue.table.cursor_row is not None and app.queue.table.cursor_row.customer == ""
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="picker")
        await pilot.press("up", "enter")  # from "No customer" (the current value) up to Initech
        rid = world.by_name("stray-new").id
        await wait_for(pilot, lambda: (app.ctx.store.get_request(rid) or world).customer == "initech",  # type: ignore[attr-defined]
                       what="customer set")
        await settle(pilot)
        row = next(r for r in app.queue.table.loaded_rows() if r.id == rid)
        assert row.customer == "Initech"
        assert not app.ctx.require_actions().all()  # local only: nothing for any system to send


async def test_without_customers_there_is_no_column_pane_or_picker(tmp_path: Path) -> None:
    app = desk_app(tmp_path, customers=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await ready(pilot)
        assert not app.screen.query("#customer-pane")
        table = app.queue.table
        assert "Customer" not in [c.name for c, _ in table._layout(160)]
        await pilot.press("w")
        await settle(pilot)
        assert not isinstance(app.screen, ChoiceScreen)
        assert "queue.customer" not in {e.binding_id for e in app.help_entries()}


async def test_help_lists_the_customer_key_when_customers_exist(tmp_path: Path) -> None:
    app = desk_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await ready(pilot)
        entry = next(e for e in app.help_entries() if e.binding_id == "queue.customer")
        assert (entry.keys, entry.section) == ("w", "Queue")
