"""Pilot tests: edited replies keep their side effects, reassignments ask first, the outbox screen.

Most tests run on the synced sandbox month with a dispatcher whose writers are scripted (a
GitHub 403 on assignments, mapped by the real GitHub error mapping), so the outbox has a
failed action without any network. The last test uses the live emulators with a fault.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from tui_helpers import (
    DOCS_LINK,
    SIZE,
    failed_take,
    first_sync,
    ready,
    rid_of,
    scripted,
    settle,
    wait_for,
)

from idqueue.app import IdqueueApp
from idqueue.commands.tui_cmds import sandbox_settings
from idqueue.integrations.registry import home_of
from idqueue.outbox.models import ActionKind, ActionState
from idqueue.sandbox.runner import Sandbox
from idqueue.screens.assign import AssignScreen
from idqueue.screens.confirm import ConfirmScreen
from idqueue.screens.help import HelpScreen
from idqueue.screens.outbox import OutboxScreen
from idqueue.screens.plan import PlanScreen
from idqueue.screens.queue import QueueScreen
from idqueue.screens.reply import ReplyScreen


def states(app: IdqueueApp, rid: str) -> list[tuple[ActionKind, ActionState]]:
    return [(a.kind, a.state) for a in app.ctx.actions.for_request(rid, unsent_only=False)]


async def open_outbox(pilot: Pilot[Any]) -> OutboxScreen:
    await pilot.press("O")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, OutboxScreen), what="outbox screen")
    screen = pilot.app.screen
    assert isinstance(screen, OutboxScreen)
    await wait_for(pilot, lambda: screen.loaded, what="outbox rows")
    await pilot.pause()
    return screen


async def go_to(pilot: Pilot[Any], rid: str) -> None:
    table = pilot.app.queue.table
    table.go_to(rid)
    await wait_for(pilot, lambda: table.cursor_id == rid, what="cursor")
    await settle(pilot)


# ---------------------------------------------------------------------- the outbox screen
async def test_outbox_lists_failures_first_and_retry_sends(make_app: Any) -> None:
    app: IdqueueApp = make_app()
    writers = scripted(app)
    rid = failed_take(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert "(O to view)" in str(app.queue.query_one("#status").render())  # the status bar hints the key
        screen = await open_outbox(pilot)
        first = screen.rows[0]
        assert first.state == "needs_attention" and first.action.kind is ActionKind.ASSIGN
        assert first.key == "REQ-28" and "403" in (first.action.last_error or "")
        assert all(r.blocked_by == "assign" for r in screen.rows[1:] if r.request_id == rid)
        writers["github"].refuse = False  # e.g. the token was fixed
        await pilot.press("r")
        # The retry is dispatched at once; the screen reads the outbox again when the dispatcher reports.
        await wait_for(pilot, lambda: not screen.rows, what="everything sent and the list refreshed")
        assert {s for _, s in states(app, rid)} == {ActionState.SENT}
        assert isinstance(app.screen, OutboxScreen)


async def test_outbox_screen_refreshes_when_the_dispatcher_reports(make_app: Any) -> None:
    app: IdqueueApp = make_app()
    writers = scripted(app)
    rid = failed_take(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await open_outbox(pilot)
        loads = screen.loads
        assert len(screen.rows) == 4
        # Someone else (the CLI, another window) retries it; the screen only learns from the dispatcher.
        failed = next(a for a in app.ctx.actions.for_request(rid) if a.state is ActionState.NEEDS_ATTENTION)
        app.ctx.actions.retry(failed.id)
        writers["github"].refuse = False
        await settle(pilot)
        assert screen.loads == loads and len(screen.rows) == 4  # nothing told it yet
        app.queue.poller.dispatch_now()
        await wait_for(pilot, lambda: not screen.rows, what="refreshed after the dispatcher reported")


async def test_outbox_drop_asks_and_drops_the_rest_of_the_verb(make_app: Any) -> None:
    app: IdqueueApp = make_app()
    scripted(app)
    rid = failed_take(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await open_outbox(pilot)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, OutboxScreen))
        await settle(pilot)
        assert ActionState.DROPPED not in {s for _, s in states(app, rid)}
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: not screen.rows, what="dropped rows gone")
        assert {s for _, s in states(app, rid)} == {ActionState.DROPPED}


async def test_outbox_enter_jumps_to_the_request(make_app: Any) -> None:
    app: IdqueueApp = make_app()
    scripted(app)
    rid = failed_take(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        elsewhere = next(r.id for r in app.queue.table.loaded_rows() if r.id != rid)
        app.queue.table.go_to(elsewhere)  # the cursor is elsewhere
        await settle(pilot)
        assert app.queue.table.cursor_id != rid
        await open_outbox(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen), what="back to the queue")
        await wait_for(pilot, lambda: app.queue.table.cursor_id == rid, what="cursor on the request")


async def test_outbox_toggle_sent(make_app: Any) -> None:
    app: IdqueueApp = make_app()
    writers = scripted(app)
    writers["github"].refuse = False
    rid = failed_take(app)  # sent this time
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await open_outbox(pilot)
        assert screen.rows == []
        await pilot.press("a")
        await wait_for(pilot, lambda: bool(screen.rows), what="sent actions listed")
        assert {r.state for r in screen.rows} == {"sent"} and {r.request_id for r in screen.rows} == {rid}
        await pilot.press("r")  # nothing to retry on a sent action
        await pilot.pause()
        assert any("nothing to retry" in n.message for n in app._notifications)
        await pilot.press("a")
        await wait_for(pilot, lambda: not screen.rows, what="sent hidden again")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen))


async def test_outbox_key_in_help_footer_and_palette(make_app: Any) -> None:
    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        commands = {c.title for c in app.get_system_commands(app.queue)}
        assert "Outbox" in commands
        footer = [ab.binding for ab in app.screen.active_bindings.values() if ab.binding.show]
        assert any(b.id == "app.outbox" for b in footer)  # shown in the footer
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        ids = {e.binding_id: e.keys for e in app.screen.entries}  # type: ignore[attr-defined]
        assert ids["app.outbox"] == "O"
        assert {"outbox.retry", "outbox.drop", "outbox.jump", "outbox.toggle_sent"} <= set(ids)


async def test_outbox_key_can_be_remapped(make_app: Any) -> None:
    app: IdqueueApp = make_app(keymap={"app.outbox": "f9"})
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.queue.query_one("#status").set_outbox(1, 0)
        assert "(f9 to view)" in str(app.queue.query_one("#status").render())
        await pilot.press("f9")
        await wait_for(pilot, lambda: isinstance(app.screen, OutboxScreen), what="outbox via f9")


# ---------------------------------------------------------------------- reassign / already yours
async def test_take_from_someone_else_asks_to_reassign(make_app: Any) -> None:
    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid = rid_of(app, DOCS_LINK)
        await go_to(pilot, rid)
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, PlanScreen), what="plan")
        plan = app.screen
        assert isinstance(plan, PlanScreen)
        assert "reassigns it from Erin Walsh to Ana Reyes" in plan.warning
        assert str(plan.query_one("#plan-warning").render()) == plan.warning  # shown, above the steps
        assert plan.steps[0].summary.startswith("reassign from Erin Walsh to Ana Reyes")
        assert str(plan.query_one("#confirm").label) == "Reassign (y)"
        await pilot.press("y")
        await wait_for(pilot, lambda: ActionKind.ASSIGN in [k for k, _ in states(app, rid)], what="queued")


async def test_take_what_is_already_yours_says_so_and_queues_nothing(make_app: Any) -> None:
    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid = app.queue.table.cursor_id
        assert rid is not None
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, PlanScreen))
        assert not app.screen.warning  # type: ignore[attr-defined]  # nobody had it: no reassignment
        await pilot.press("y")
        await wait_for(pilot, lambda: bool(states(app, rid)), what="first take queued")
        await settle(pilot)
        before = states(app, rid)
        await go_to(pilot, rid)
        await pilot.press("t")
        await wait_for(pilot, lambda: any("already assigned to you" in n.message for n in app._notifications),
                       what="said so")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)  # no preview, nothing to confirm
        assert states(app, rid) == before  # no duplicate "assigned" message


async def test_assign_to_another_member_asks_to_reassign(make_app: Any) -> None:
    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid = rid_of(app, DOCS_LINK)
        await go_to(pilot, rid)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AssignScreen))
        await pilot.press(*"ben", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlanScreen), what="reassign preview")
        plan = app.screen
        assert "from Erin Walsh to Ben Okafor" in plan.warning  # type: ignore[attr-defined]
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen))
        await settle(pilot)
        assert states(app, rid) == []


# ---------------------------------------------------------------------- edited replies
async def test_edited_template_reply_keeps_side_effects(make_app: Any) -> None:
    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        # The first request that lives on Slack and GitHub.
        rid = next(r.id for r in app.queue.table.loaded_rows() if len(r.request.sources) > 1)
        app.queue.table.go_to(rid)
        await wait_for(pilot, lambda: app.queue.table.cursor_id == rid, what="cursor")
        await settle(pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplyScreen))
        reply = app.screen
        assert isinstance(reply, ReplyScreen)
        reply.query_one("#templates").highlighted = [*reply.order, "\x00free"].index("need_more_info")
        await pilot.pause()
        assert reply.target == "slack"
        slack_template = reply.sent_text
        markdown = reply.text  # what an edit starts from: the template's Markdown, also for Slack
        assert markdown == reply.rendered["github"]
        await pilot.press("ctrl+e")
        await pilot.pause()
        await pilot.press(*"Which **browser**? ")  # the cursor starts at the top
        await wait_for(pilot, lambda: reply.edited, what="edited")
        edited = reply.text
        assert edited == "Which **browser**? " + markdown
        # The Slack preview is the edit converted to mrkdwn, exactly what is sent.
        assert reply.sent_text.startswith("Which *browser*? ") and reply.sent_text != slack_template
        warnings = str(reply.query_one("#warnings").render())
        assert "set pending (kept with your edit)" in warnings and "not applied" not in warnings
        # One edit for every target: GitHub gets the same Markdown, as written.
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: reply.target == "github")
        assert reply.edited and reply.sent_text == edited
        await pilot.press("ctrl+t", "ctrl+t")  # → Both → Slack
        await wait_for(pilot, lambda: reply.target == "slack")
        previewed = reply.sent_text
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: ActionKind.REPLY in [k for k, _ in states(app, rid)], what="queued")
        queued = app.ctx.actions.for_request(rid)
        assert [(a.kind, a.target) for a in queued][:1] == [(ActionKind.PENDING, "github")]  # side effect kept
        slack = next(a for a in queued if a.kind is ActionKind.REPLY)
        assert slack.target == "slack" and slack.text == previewed  # exactly the preview


async def test_edited_text_with_a_leftover_marker_cannot_be_sent(make_app: Any) -> None:
    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid = app.queue.table.cursor_id
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplyScreen))
        reply = app.screen
        assert isinstance(reply, ReplyScreen)
        reply.query_one("#templates").highlighted = [*reply.order, "\x00free"].index("target_date")
        await pilot.pause()
        await pilot.press("ctrl+e")
        await pilot.press(*"Thanks! ")
        await wait_for(pilot, lambda: reply.edited, what="edited")
        assert reply.query_one("#send").disabled  # «missing: due_date» is still in the text
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ReplyScreen) and states(app, rid) == []


# ---------------------------------------------------------------------- live: a real emulator fault
async def test_outbox_screen_follows_the_dispatcher_live(sandbox: Sandbox, tmp_path: Path) -> None:
    settings = sandbox_settings(sandbox, tmp_path / "live.db",
                                {"now": "2026-03-11T15:30:00Z", "ui": {"poll_interval": 600}})
    app = IdqueueApp.build(settings, sandbox=True, live=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await first_sync(pilot)
        row = next(r for r in screen.table.loaded_rows() if home_of(r.request, "github") and not r.request.assignee)
        await go_to(pilot, row.id)
        sandbox.github.faults.add("POST /repos/*/issues/*/assignees", status=404,
                                  body={"message": "Not Found"}, times=1)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AssignScreen))
        await pilot.press(*"ben", "enter")
        actions = app.ctx.actions
        await wait_for(pilot, lambda: any(a.state is ActionState.NEEDS_ATTENTION for a in actions.for_request(row.id)),
                       timeout=60, what="refused by GitHub")
        outbox = await open_outbox(pilot)
        assert outbox.rows[0].state == "needs_attention" and "404" in (outbox.rows[0].action.last_error or "")
        await pilot.press("r")
        await wait_for(pilot, lambda: not outbox.rows, timeout=60, what="sent, and the screen refreshed")
        assert not actions.for_request(row.id)


async def test_dropping_a_failed_action_clears_the_queue_marker_at_once(make_app: Any) -> None:
    app: IdqueueApp = make_app()
    scripted(app)
    rid = failed_take(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = app.queue.table
        row = next(r for r in table.loaded_rows() if r.id == rid)
        assert row.pending is not None and row.pending.failed  # the row shows !n
        screen = await open_outbox(pilot)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: not screen.rows, what="dropped rows gone")
        await settle(pilot)

        def marker_gone() -> bool:
            found = next((r for r in table.loaded_rows() if r.id == rid), None)
            return found is not None and (found.pending is None or not found.pending.total)

        # No poll or dispatch has run: the outbox screen told the queue itself.
        assert marker_gone()


async def test_outbox_shows_held_actions_counting_down_and_ctrl_z_takes_them_back(make_app: Any) -> None:
    from datetime import UTC, datetime, timedelta

    app: IdqueueApp = make_app()
    actions = app.ctx.actions
    wall = [datetime(2026, 3, 11, 15, 30, tzinfo=UTC)]
    actions.wall = lambda: wall[0]
    actions.hold_seconds = 30.0
    rid = rid_of(app)
    actions.take(rid)  # held 30 s for undo
    actions.hold_seconds = 0.0
    actions.pending(rid)  # not held: plain "queued"
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await open_outbox(pilot)
        labels = {r.action.id: screen._state_label(r) for r in screen.rows}
        held = [r for r in screen.rows if r.action.hold_until is not None]
        assert held and all(labels[r.action.id] == "held — sends in 30s (ctrl+z undoes)" for r in held)
        assert {labels[r.action.id] for r in screen.rows if r.action.hold_until is None} == {"queued"}
        table = screen.query_one("#outbox-table")
        wall[0] += timedelta(seconds=25.5)
        screen._count_down()
        assert str(table.get_cell(held[0].action.id, "state")) == "held — sends in 5s (ctrl+z undoes)"  # type: ignore[attr-defined]
        table.move_cursor(row=screen.rows.index(held[0]))  # type: ignore[attr-defined]
        await pilot.press("ctrl+z")
        await wait_for(pilot, lambda: all(r.action.hold_until is None for r in screen.rows), what="held verb undone")
        assert {s for k, s in states(app, rid) if k is ActionKind.PENDING} == {ActionState.QUEUED}
        wall[0] += timedelta(seconds=60)  # a hold that is over reads "queued" again
        assert all(screen._state_label(r) == "queued" for r in screen.rows)
