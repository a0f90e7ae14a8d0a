"""Pilot tests: every binding, key → outbox / store / screen, on the synced sandbox month.

The dispatcher is off in these tests, so queued actions stay in the outbox where the test can
read them; sending is covered in ``test_live.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from tui_helpers import SIZE, ready, settle, wait_for

from idqueue.app import IdqueueApp
from idqueue.outbox.models import ActionKind, ActionState
from idqueue.screens.assign import AssignScreen
from idqueue.screens.choice import ChoiceScreen
from idqueue.screens.close import CloseScreen
from idqueue.screens.confirm import ConfirmScreen
from idqueue.screens.help import HelpScreen
from idqueue.screens.plan import PlanScreen
from idqueue.screens.queue import QueueScreen
from idqueue.screens.reply import ReplyScreen
from idqueue.screens.search import SearchScreen
from idqueue.screens.snooze import SnoozeScreen
from idqueue.widgets.facet_pane import FacetPane
from idqueue.widgets.steps_view import StepsView


def queue(app: IdqueueApp) -> QueueScreen:
    return app.queue


def kinds(app: IdqueueApp, rid: str) -> list[ActionKind]:
    return [a.kind for a in app.ctx.actions.for_request(rid)]


async def press_until(pilot: Pilot[Any], key: str, screen_type: type) -> Any:
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, screen_type), what=screen_type.__name__)
    await pilot.pause()
    return pilot.app.screen


async def cursor_request(pilot: Pilot[Any]) -> tuple[str, str | None]:
    """(id under the cursor, id of the next row)."""
    table = queue(pilot.app).table
    rid = table.cursor_id
    assert rid is not None
    nxt = table.row_at(table.cursor + 1)
    return rid, nxt.id if nxt else None


# ---------------------------------------------------------------------- outbox actions
async def test_assign_picker_filters_and_queues_assign(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid, nxt = await cursor_request(pilot)
        picker = await press_until(pilot, "a", AssignScreen)
        await pilot.press(*"ben")
        await pilot.pause()
        options = picker.query_one("#members")
        assert options.option_count == 1  # typed text filters the roster
        await pilot.press("enter")
        await wait_for(pilot, lambda: ActionKind.ASSIGN in kinds(app, rid), what="assign queued")
        assert queue(app).table.cursor_id == nxt  # act-and-advance
        assign = next(a for a in app.ctx.actions.for_request(rid) if a.kind is ActionKind.ASSIGN)
        assert assign.state is ActionState.QUEUED
        await settle(pilot)
        assert queue(app).table.cursor_id == nxt  # the reload kept the cursor on the next request


async def test_take_previews_then_queues_assign_me_and_message(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid, _ = await cursor_request(pilot)
        plan = await press_until(pilot, "t", PlanScreen)
        assert any("ana" in str(s.summary).lower() or "Ana" in str(s.summary) for s in plan.steps)
        await pilot.press("y")
        await wait_for(pilot, lambda: ActionKind.ASSIGN in kinds(app, rid), what="take queued")
        assert ActionKind.REPLY in kinds(app, rid)


async def test_take_cancel_queues_nothing(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid, _ = await cursor_request(pilot)
        await press_until(pilot, "t", PlanScreen)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen))
        await settle(pilot)
        assert kinds(app, rid) == []
        assert queue(app).table.cursor_id == rid  # nothing done, nothing skipped


async def test_reply_sends_template_to_chosen_target(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid, _ = await cursor_request(pilot)
        reply = await press_until(pilot, "r", ReplyScreen)
        assert reply.template_key is not None
        assert "«missing" not in reply.text
        await pilot.press("ctrl+t")  # switch Slack ↔ GitHub (the first row lives on both)
        await pilot.pause()
        target = reply.target
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: ActionKind.REPLY in kinds(app, rid), what="reply queued")
        replies = [a for a in app.ctx.actions.for_request(rid) if a.kind is ActionKind.REPLY]
        assert {a.target for a in replies} == {target}


async def test_reply_free_text(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid, _ = await cursor_request(pilot)
        reply = await press_until(pilot, "r", ReplyScreen)
        await pilot.press("end")  # the last entry is "Free text"
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press(*"On it, will report back")
        await pilot.pause()
        assert reply.text == "On it, will report back"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: ActionKind.REPLY in kinds(app, rid), what="reply queued")
        action = next(a for a in app.ctx.actions.for_request(rid) if a.kind is ActionKind.REPLY)
        assert "On it, will report back" in (action.text or "")


async def test_reply_blocks_send_while_values_are_missing(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid, _ = await cursor_request(pilot)
        reply = await press_until(pilot, "r", ReplyScreen)
        keys = [*reply.order, "\x00free"]
        reply.query_one("#templates").highlighted = keys.index("target_date")
        await pilot.pause()
        assert "due_date" in reply.missing
        assert reply.query_one("#send").disabled
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ReplyScreen)  # refused
        field = reply.query_one("#var-due_date")
        field.focus()
        await pilot.press(*"next Friday")
        await wait_for(pilot, lambda: not reply.missing, what="value filled")
        assert "next Friday" in reply.text
        assert not reply.query_one("#send").disabled
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: ActionKind.REPLY in kinds(app, rid), what="reply queued")


async def test_backlog_queues_backlog(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid, _ = await cursor_request(pilot)
        await press_until(pilot, "b", PlanScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: bool(kinds(app, rid)), what="backlog queued")
        assert ActionKind.ADD_LABELS in kinds(app, rid) or ActionKind.BACKLOG in kinds(app, rid)


async def test_close_with_survey_message(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid, _ = await cursor_request(pilot)
        close = await press_until(pilot, "c", CloseScreen)
        await wait_for(pilot, lambda: bool(close.query_one(StepsView).steps), what="close preview")
        await pilot.press("y")
        await wait_for(pilot, lambda: ActionKind.CLOSE in kinds(app, rid), what="close queued")
        texts = " ".join(a.text or "" for a in app.ctx.actions.for_request(rid))
        assert app.ctx.settings.survey.url in texts


async def test_pending_queues_pending(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid, nxt = await cursor_request(pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: bool(kinds(app, rid)), what="pending queued")
        assert queue(app).table.cursor_id == nxt


async def test_priority_override(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid, _ = await cursor_request(pilot)
        picker = await press_until(pilot, "P", ChoiceScreen)
        picker.query_one("#choices").highlighted = 4  # automatic, P1, P2, P3, P4
        await pilot.press("enter")
        await wait_for(pilot, lambda: (app.ctx.store.get_request(rid) or None) is not None
                       and app.ctx.store.get_request(rid).priority == "P4", what="override stored")


async def test_snooze_hides_the_request(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = queue(app).table
        rid, nxt = await cursor_request(pilot)
        total = table.total
        await press_until(pilot, "z", SnoozeScreen)
        await pilot.press("enter")  # "For 1 hour"
        await wait_for(pilot, lambda: table.total == total - 1, what="snoozed row gone")
        await settle(pilot)
        assert rid not in {r.id for r in table.loaded_rows()}
        assert table.cursor_id == nxt


async def test_search_filters_by_full_text(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = queue(app).table
        total = table.total
        await press_until(pilot, "slash", SearchScreen)
        await pilot.press(*"safari", "enter")
        await wait_for(pilot, lambda: queue(app).query_state.search == "safari")
        await settle(pilot)
        assert 0 < table.total < total
        assert all("safari" in (r.request.title + r.request.body).lower() for r in table.loaded_rows())
        await pilot.press("escape")  # clears the search too
        await wait_for(pilot, lambda: table.total == total, what="search cleared")


async def test_open_and_copy_link(make_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("idqueue.screens.queue._has_browser", lambda: True)
    app = make_app()
    opened: list[str] = []
    app.open_url = lambda url, **_: opened.append(url)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        url = queue(app).table.cursor_row.request.url
        await pilot.press("o")
        assert opened == [url]
        await pilot.press("y")
        assert app.clipboard == url


async def test_refresh_polls_and_source_errors_do_not_crash(make_app: Any) -> None:
    """The synced sandbox is stopped: a refresh fails for both sources, the app keeps going."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        poller = queue(app).poller
        await pilot.press("R")
        await wait_for(pilot, lambda: poller.polls == 1, what="poll finished")
        await settle(pilot)
        status = queue(app).query_one("#status")
        text = str(status.render())
        assert "offline" in text or "error" in text
        assert app.is_running
        assert queue(app).table.total > 0  # nothing stored was lost


# ---------------------------------------------------------------------- filters and views
async def test_panes_filter_combine_and_clear(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = queue(app)
        total = screen.table.total
        screen.query_one("#priority-pane", FacetPane).post_message(FacetPane.Toggled("priority", "P2"))
        await wait_for(pilot, lambda: screen.query_state.priorities == ("P2",))
        await settle(pilot)
        p2 = screen.table.total
        assert 0 < p2 < total
        assert {r.request.priority for r in screen.table.loaded_rows()} == {"P2"}
        screen.query_one("#sla-pane", FacetPane).post_message(FacetPane.Toggled("sla", "breached"))
        await wait_for(pilot, lambda: screen.query_state.sla_states == ("breached",))
        await settle(pilot)
        assert 0 < screen.table.total <= p2
        assert "priority P2" in str(screen.query_one("#filter-bar").render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.query_state.describe())
        await settle(pilot)
        assert screen.table.total == total


async def test_pane_selection_by_keyboard(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = queue(app)
        pane = screen.query_one("#type-pane", FacetPane)
        pane.focus()
        await pilot.pause()
        pane.highlighted = 0
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(screen.query_state.types) == 1)
        await settle(pilot)
        wanted = screen.query_state.types[0]
        assert all(r.request.type == wanted for r in screen.table.loaded_rows())


async def test_toggle_mine_and_history(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = queue(app)
        total = screen.table.total
        await pilot.press("u")
        await wait_for(pilot, lambda: screen.query_state.mine == "ana")
        await settle(pilot)
        assert all(r.request.assignee in (None, "ana") for r in screen.table.loaded_rows())
        assert screen.table.total <= total
        await pilot.press("u", "h")
        await wait_for(pilot, lambda: screen.query_state.include_closed and not screen.query_state.mine)
        await settle(pilot)
        assert screen.table.total > total


async def test_group_and_sort(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = queue(app)
        await pilot.press("g")
        await wait_for(pilot, lambda: screen.query_state.group == "type")
        await settle(pilot)
        types = [r.request.type for r in screen.table.loaded_rows()]
        assert types == sorted(types, key=str.casefold)
        assert screen.table._groups  # group header lines are shown
        picker = await press_until(pilot, "s", ChoiceScreen)
        values = [v for v, _ in picker.choices]
        picker.query_one("#choices").highlighted = values.index("age")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.query_state.sort == "age")
        await pilot.press("g", "g", "g", "g")  # back to ungrouped
        await wait_for(pilot, lambda: screen.query_state.group is None)
        await settle(pilot)
        created = [r.request.created_at for r in screen.table.loaded_rows()]
        assert created == sorted(created)


async def test_layout_toggle(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("v")
        assert queue(app).has_class("-detail-right")
        await pilot.press("v")
        assert not queue(app).has_class("-detail-right")


# ---------------------------------------------------------------------- navigation and selection
async def test_cursor_keys(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = queue(app).table
        await pilot.press("down", "down", "j")
        assert table.cursor == 3
        await pilot.press("up", "k")
        assert table.cursor == 1
        await pilot.press("end")
        assert table.cursor == table.total - 1
        await pilot.press("home")
        assert table.cursor == 0
        await pilot.press("pagedown")
        assert table.cursor == min(table.total - 1, table.size.height - 1)
        await pilot.press("pageup")
        assert table.cursor == 0
        await pilot.press("enter")
        assert queue(app).detail.has_focus


async def test_multi_select_bulk_backlog_asks_first(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = queue(app).table
        first = table.cursor_id
        await pilot.press("space", "space")
        assert len(table.selected) == 2 and first in table.selected
        chosen = set(table.selected)
        await press_until(pilot, "b", ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: all(kinds(app, rid) for rid in chosen), what="bulk backlog queued")
        assert not table.selected


async def test_multi_select_bulk_cancel(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = queue(app).table
        await pilot.press("space", "space")
        chosen = set(table.selected)
        await press_until(pilot, "p", ConfirmScreen)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen))
        await settle(pilot)
        assert all(not kinds(app, rid) for rid in chosen)
        assert table.selected == chosen


# ---------------------------------------------------------------------- app keys
async def test_help_lists_every_binding(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        help_screen = await press_until(pilot, "question_mark", HelpScreen)
        ids = {e.binding_id for e in help_screen.entries}
        assert {"queue.assign", "queue.take", "queue.reply", "queue.backlog", "queue.close", "queue.pending",
                "queue.priority", "queue.snooze", "queue.search", "queue.open", "queue.copy_link",
                "queue.refresh", "queue.select", "queue.clear_filters", "queue.toggle_mine",
                "queue.toggle_closed", "queue.group", "queue.sort", "app.metrics", "app.help",
                "app.quit"} <= ids
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen))


async def test_metrics_key(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("m")
        await pilot.pause()
        try:
            from idqueue.screens.dashboard import DashboardScreen
        except ImportError:
            assert app._notifications  # "not available" is said, nothing crashes
        else:
            await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), what="dashboard")


async def test_quit(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert not app.is_running


async def test_command_palette_runs_actions(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        commands = {c.title for c in app.get_system_commands(queue(app))}
        assert {"Assign", "Take", "Reply", "Backlog", "Close", "Search", "Group"} <= commands
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Assign")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, AssignScreen), what="assign from palette")


async def test_remapped_keys_from_config(make_app: Any) -> None:
    app = make_app(keymap={"queue.assign": "A", "queue.backlog": "B", "app.help": "f1"})
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, QueueScreen)  # the old key no longer assigns
        await press_until(pilot, "A", AssignScreen)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen))
        await press_until(pilot, "B", PlanScreen)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen))
        help_screen = await press_until(pilot, "f1", HelpScreen)
        keys = {e.binding_id: e.keys for e in help_screen.entries}
        assert keys["queue.assign"] == "A"
        assert keys["app.help"] == "f1"


async def test_unexpected_error_in_an_action_is_reported_not_fatal(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)

        def broken(_: str) -> None:
            raise RuntimeError("database is on fire")

        app.ctx.store.get_request = broken  # type: ignore[method-assign]
        await pilot.press("r")
        await wait_for(pilot, lambda: any("database is on fire" in n.message for n in app._notifications),
                       what="error notification")
        assert app.is_running and isinstance(app.screen, QueueScreen)


async def test_action_error_from_the_outbox_is_shown(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid, _ = await cursor_request(pilot)

        def refuse(request_id: str) -> list[Any]:
            from idqueue.outbox.models import ActionError

            raise ActionError("this request is already closed")

        app.ctx.actions.pending = refuse  # type: ignore[method-assign]
        await pilot.press("p")
        await wait_for(pilot, lambda: any("already closed" in n.message for n in app._notifications),
                       what="action error")
        assert kinds(app, rid) == []
