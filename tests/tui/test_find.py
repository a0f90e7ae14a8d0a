"""Finding requests in the TUI: the go-to prompt, search qualifiers, saved views, the urgent lane."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, Label
from tui_helpers import SIZE, ready, settle, wait_for

from idqueue.app import IdqueueApp
from idqueue.config import SavedView
from idqueue.screens.goto import GoToScreen
from idqueue.screens.queue import QueueScreen
from idqueue.screens.search import SearchScreen
from idqueue.store.queue import QueueQuery, count, fetch_window
from idqueue.widgets.views_bar import ViewsBar

VIEWS = [SavedView(name="Urgent", query="priority:p1"), SavedView(name="Slack", query="source:slack is:open")]


async def go_to(pilot: Pilot[Any], text: str) -> None:
    """Open the go-to prompt, enter ``text``."""
    app = pilot.app
    await pilot.press("colon")
    await wait_for(pilot, lambda: isinstance(app.screen, GoToScreen), what="go-to prompt")
    app.screen.query_one(Input).value = text
    await pilot.press("enter")
    await pilot.pause()


async def search(pilot: Pilot[Any], text: str) -> None:
    """Open the search prompt, enter ``text``."""
    app = pilot.app
    await pilot.press("slash")
    await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen), what="search prompt")
    app.screen.query_one(Input).value = text
    await pilot.press("enter")
    await pilot.pause()


async def landed(pilot: Pilot[Any], request_id: str) -> None:
    app: IdqueueApp = pilot.app  # type: ignore[assignment]
    await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen), what="back on the queue")
    await wait_for(pilot, lambda: app.queue.table.cursor_id == request_id, what=f"cursor on {request_id}")
    await settle(pilot)


async def test_go_to_by_key_number_url_and_permalink(make_app: Any) -> None:
    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        store, now = app.ctx.store, app.ctx.clock()
        both = next(r for r in fetch_window(store, QueueQuery(), now=now) if len(r.sources) > 1)
        closed = fetch_window(store, QueueQuery(statuses=("closed",)), now=now, limit=1)[0]
        await go_to(pilot, both.key.lower())
        await landed(pilot, both.id)
        await go_to(pilot, both.links["github"])
        await landed(pilot, both.id)
        await go_to(pilot, both.links["slack"])
        await landed(pilot, both.id)
        # A closed request: the view widens to all requests to show it.
        await go_to(pilot, closed.key.split("-")[1])
        await landed(pilot, closed.id)
        assert app.queue.query_state.include_closed
        # GitHub's own notation: #N is the issue number.
        await go_to(pilot, "#" + both.links["github"].rsplit("/", 1)[1])
        await landed(pilot, both.id)


async def test_go_to_a_missing_request_says_so_and_stays_open(make_app: Any) -> None:
    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        cursor = app.queue.table.cursor_id
        await go_to(pilot, "REQ-999")
        prompt = app.screen
        assert isinstance(prompt, GoToScreen)
        error = prompt.query_one("#goto-error", Label)
        await wait_for(pilot, lambda: error.display, what="error line")
        assert "No request REQ-999." in str(error.render())
        prompt.query_one(Input).value = "hello world"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "not a key, number" in str(error.render()), what="second error")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen))
        assert app.queue.table.cursor_id == cursor


async def test_search_by_key_and_qualifiers(make_app: Any) -> None:
    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table, store, now = app.queue.table, app.ctx.store, app.ctx.clock()
        target = fetch_window(store, QueueQuery(), now=now, limit=5)[4]
        await search(pilot, target.key)
        await wait_for(pilot, lambda: table.total == 1 and table.cursor_id == target.id, what="one hit")
        await search(pilot, "type:bug is:open")
        bugs = count(store, QueueQuery(types=("Bug Fix",)), now=now)
        await wait_for(pilot, lambda: table.total == bugs, what="bug fixes")
        await settle(pilot)
        assert bugs > 1 and {r.request.type for r in table.loaded_rows()} == {"Bug Fix"}
        await search(pilot, "assignee:erin")
        erin = count(store, QueueQuery(assignees=("erin",)), now=now)
        await wait_for(pilot, lambda: table.total == erin, what="erin's requests")
        await settle(pilot)
        assert {r.request.assignee for r in table.loaded_rows()} == {"erin"}
        # A bad qualifier keeps the prompt open with the valid values.
        await search(pilot, "is:lost")
        prompt = app.screen
        assert isinstance(prompt, SearchScreen)
        error = prompt.query_one("#search-error", Label)
        assert error.display and "valid: breached, at-risk" in str(error.render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen))
        assert app.queue.query_state.search == "assignee:erin"


async def test_saved_views_switch_with_brackets(make_app: Any, synced_month: Any) -> None:
    settings = synced_month.settings.model_copy(update={"views": VIEWS})
    app: IdqueueApp = make_app(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table, store, now = app.queue.table, app.ctx.store, app.ctx.clock()
        bar = app.queue.query_one(ViewsBar)
        assert bar.display and bar.active == "All"
        await pilot.press("right_square_bracket")
        p1 = count(store, QueueQuery(priorities=("P1",)), now=now)
        await wait_for(pilot, lambda: app.queue.query_state.view == "Urgent" and table.total == p1, what="Urgent")
        await settle(pilot)
        assert bar.active == "Urgent" and {r.request.priority for r in table.loaded_rows()} == {"P1"}
        # A search narrows the view; esc clears the search but keeps the view.
        await search(pilot, "login")
        await wait_for(pilot, lambda: app.queue.query_state.search == "login")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.queue.query_state.search == "" and app.queue.query_state.view == "Urgent")
        await pilot.press("right_square_bracket")
        slack = count(store, QueueQuery(sources=("slack",)), now=now)
        await wait_for(pilot, lambda: app.queue.query_state.view == "Slack" and table.total == slack, what="Slack")
        await pilot.press("left_square_bracket", "left_square_bracket")
        await wait_for(pilot, lambda: app.queue.query_state.view == "", what="All")
        assert bar.active == "All"


async def test_the_production_outage_and_p1s_lead_the_queue(make_app: Any) -> None:
    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rows = app.queue.table.loaded_rows()
        priorities = [r.request.priority for r in rows]
        leading = priorities.index(next(p for p in priorities if p != "P1"))
        assert leading >= 1 and "P1" not in priorities[leading:]
        outage = next(i for i, r in enumerate(rows) if r.request.title.startswith("Production outage"))
        assert outage < leading
        assert rows[outage].request.sla.state == "ok"  # ranked by its priority, not by its young clock
        assert any(r.request.sla.state == "breached" for r in rows[leading:])  # breached P2s come after
