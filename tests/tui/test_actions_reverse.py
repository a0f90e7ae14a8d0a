"""Pilot: priority override from its moment, reverse actions, repeated no-ops, undo, the snoozed view.

Keys go in, the store / outbox / screen are checked. The live tests run against the loopback
emulators with the real writers and count what reaches GitHub.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from tui_helpers import SIZE, ready, settle, wait_for

from idqueue.app import IdqueueApp
from idqueue.commands.tui_cmds import sandbox_settings
from idqueue.integrations.registry import home_of
from idqueue.outbox.dispatcher import Dispatcher
from idqueue.outbox.models import ActionKind, ActionState
from idqueue.sandbox.runner import Sandbox
from idqueue.screens.close import CloseScreen
from idqueue.screens.priority import PriorityScreen
from idqueue.screens.queue import QueueScreen
from idqueue.screens.snooze import SnoozeScreen
from idqueue.store.db import Store


async def go_to(pilot: Pilot[Any], rid: str) -> None:
    table = pilot.app.queue.table
    table.go_to(rid)
    await wait_for(pilot, lambda: table.cursor_id == rid, what="cursor")
    await settle(pilot)


async def press_for(pilot: Pilot[Any], key: str, screen_type: type) -> Any:
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, screen_type), what=screen_type.__name__)
    await pilot.pause()
    return pilot.app.screen


def said(app: IdqueueApp, text: str) -> bool:
    return any(text in n.message for n in app._notifications)


def unsent(app: IdqueueApp, rid: str) -> list[ActionKind]:
    return [a.kind for a in app.ctx.actions.for_request(rid)]


# ---------------------------------------------------------------------- priority override
async def test_p1_on_an_answered_request_does_not_breach_the_past(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = app.queue
        row = next(r for r in screen.table.loaded_rows()
                   if r.request.first_response_at is not None and r.request.priority != "P1"
                   and r.request.sla.state in ("ok", "at_risk") and home_of(r.request, "github"))
        late_for_p1 = (row.request.first_response_at - row.request.created_at) > timedelta(hours=1)
        await go_to(pilot, row.id)
        picker = await press_for(pilot, "P", PriorityScreen)
        assert "apply from now on" in str(picker.query_one(".dialog-hint").render())
        await pilot.press("1")  # the shortcut
        await wait_for(pilot, lambda: app.ctx.store.get_request(row.id).priority == "P1", what="override")
        request = app.ctx.store.get_request(row.id)
        assert request is not None
        assert request.sla.state in ("ok", "at_risk"), request.sla.reason
        assert "from the priority change" in request.sla.reason or not late_for_p1
        assert unsent(app, row.id) == [ActionKind.SET_PRIORITY]
        await settle(pilot)
        await go_to(pilot, row.id)
        await press_for(pilot, "P", PriorityScreen)
        await pilot.press("0")  # automatic again
        await wait_for(pilot, lambda: app.ctx.store.get_request(row.id).priority_override is None, what="auto")
        assert unsent(app, row.id) == [ActionKind.SET_PRIORITY, ActionKind.REMOVE_LABELS]


# ---------------------------------------------------------------------- reverse actions and no-ops
async def test_pending_twice_is_a_no_op_and_resume_reverses_it(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = app.queue
        row = next(r for r in screen.table.loaded_rows()
                   if home_of(r.request, "github") and r.request.status.value not in ("pending",))
        await go_to(pilot, row.id)
        await pilot.press("p")
        await wait_for(pilot, lambda: unsent(app, row.id) == [ActionKind.PENDING], what="pending queued")
        await go_to(pilot, row.id)
        await pilot.press("p")
        await wait_for(pilot, lambda: said(app, "is already pending; nothing to do"), what="no-op said")
        assert unsent(app, row.id) == [ActionKind.PENDING]
        await go_to(pilot, row.id)
        await pilot.press("E")
        await wait_for(pilot, lambda: unsent(app, row.id) == [ActionKind.PENDING, ActionKind.RESUME], what="resume")
        await go_to(pilot, row.id)
        await pilot.press("E")
        await wait_for(pilot, lambda: said(app, "is not pending; nothing to do"), what="second resume")


async def test_unassign_and_reopen_are_keys(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = app.queue.table
        assigned = next(r for r in table.loaded_rows() if r.request.assignee and home_of(r.request, "github"))
        await go_to(pilot, assigned.id)
        await pilot.press("A")
        await wait_for(pilot, lambda: unsent(app, assigned.id) == [ActionKind.UNASSIGN], what="unassign")
        await go_to(pilot, assigned.id)
        await pilot.press("A")
        await wait_for(pilot, lambda: said(app, "has no assignee; nothing to do"), what="second unassign")
        await go_to(pilot, assigned.id)
        await pilot.press("C")
        await wait_for(pilot, lambda: said(app, "is already open; nothing to do"), what="reopen of an open one")
        await pilot.press("h")  # history: closed requests too
        await settle(pilot)
        closed = next(r for r in table.loaded_rows() if r.request.status.value == "closed" and home_of(r.request, "github"))
        await go_to(pilot, closed.id)
        await pilot.press("C")
        await wait_for(pilot, lambda: ActionKind.REOPEN in unsent(app, closed.id), what="reopen")


async def test_close_as_duplicate_asks_for_the_original(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rows = [r for r in app.queue.table.loaded_rows() if home_of(r.request, "github")]
        original, dup = rows[0], rows[1]
        await go_to(pilot, dup.id)
        dialog = await press_for(pilot, "c", CloseScreen)
        dialog.query_one("#duplicate").value = True
        await wait_for(pilot, lambda: dialog.query_one("#duplicate-of").display, what="original field")
        assert dialog.query_one("#confirm").disabled
        await pilot.press(*original.key, "enter")
        await wait_for(pilot, lambda: ActionKind.CLOSE in unsent(app, dup.id), what="closed")
        actions = app.ctx.actions.for_request(dup.id)
        close = next(a for a in actions if a.kind is ActionKind.CLOSE)
        assert close.params["reason"] == "duplicate"
        texts = " ".join(a.text or "" for a in actions)
        assert "Duplicate of #" in texts and "survey" not in texts


# ---------------------------------------------------------------------- undo
async def test_undo_toast_cancels_the_held_action(make_app: Any) -> None:
    app = make_app(undo_seconds=30)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid = app.queue.table.cursor_id
        assert rid is not None
        await pilot.press("p")
        await wait_for(pilot, lambda: said(app, " to undo."), what="undo toast")
        (action,) = app.ctx.actions.for_request(rid)
        assert action.state is ActionState.QUEUED and action.hold_until is not None
        assert action.hold_until > datetime.now(UTC) + timedelta(seconds=20)
        await pilot.press("ctrl+z")
        await wait_for(pilot, lambda: said(app, "Nothing was sent"), what="undone")
        assert app.ctx.actions.get(action.id).state is ActionState.DROPPED
        await wait_for(pilot, lambda: app.queue.table.cursor_id == rid, what="back on the request")
        await pilot.press("ctrl+z")
        await wait_for(pilot, lambda: said(app, "Nothing to undo"), what="nothing left to undo")


async def test_undo_puts_a_snooze_back(make_app: Any) -> None:
    app = make_app(undo_seconds=30)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid = app.queue.table.cursor_id
        snooze = await press_for(pilot, "z", SnoozeScreen)
        snooze.query_one("#choices").highlighted = 1  # until tomorrow 9:00
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.ctx.store.get_request(rid).snoozed_until is not None, what="snoozed")
        await wait_for(pilot, lambda: said(app, " to undo."), what="undo toast")
        await pilot.press("ctrl+z")
        await wait_for(pilot, lambda: app.ctx.store.get_request(rid).snoozed_until is None, what="unsnoozed")


# ---------------------------------------------------------------------- snoozed view
async def test_snoozed_count_view_and_unsnooze(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen: QueueScreen = app.queue
        table = screen.table
        rid = table.cursor_id
        total = table.total
        snooze = await press_for(pilot, "z", SnoozeScreen)
        snooze.query_one("#choices").highlighted = 3  # Custom…
        await pilot.press("enter")
        await pilot.press(*"tomorrow 2pm")
        await wait_for(pilot, lambda: "Thu 12 Mar 14:00" in str(snooze.query_one("#resolved").render()),
                       what="resolved time shown before confirming")
        await pilot.press("enter")
        await wait_for(pilot, lambda: table.total == total - 1, what="hidden")
        bar = screen.query_one("#filter-bar")
        await wait_for(pilot, lambda: "1 snoozed" in str(bar.render()), what="header count")
        await pilot.press("S")
        await wait_for(pilot, lambda: table.total == 1 and table.cursor_id == rid, what="snoozed view")
        assert "Snoozed" in str(bar.render())
        await pilot.press("Z")
        await wait_for(pilot, lambda: table.total == 0, what="unsnoozed: gone from the snoozed view")
        assert app.ctx.store.get_request(rid).snoozed_until is None  # type: ignore[union-attr]
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.total == total, what="back in the queue")
        await go_to(pilot, rid)
        snooze = await press_for(pilot, "z", SnoozeScreen)
        snooze.query_one("#choices").highlighted = 0  # for 1 hour
        await pilot.press("enter")
        await wait_for(pilot, lambda: table.total == total - 1, what="snoozed again")
        await pilot.press("h")  # history shows everything, snoozed requests too
        await wait_for(pilot, lambda: screen.query_state.include_closed, what="history")
        await settle(pilot)
        await go_to(pilot, rid)
        await pilot.press("Z")
        await wait_for(pilot, lambda: app.ctx.store.get_request(rid).snoozed_until is None, what="unsnoozed")
        await go_to(pilot, rid)
        await pilot.press("Z")
        await wait_for(pilot, lambda: said(app, "is not snoozed; nothing to do"), what="no-op")


# ---------------------------------------------------------------------- live: emulator write counts
async def _live_app(sandbox: Sandbox, db: Path, pilot_body: Any, undo_seconds: float = 30) -> Any:
    settings = sandbox_settings(sandbox, db, {"now": "2026-03-11T15:30:00Z",
                                              "ui": {"poll_interval": 600, "undo_seconds": undo_seconds}})
    app = IdqueueApp.build(settings, sandbox=True, live=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.queue
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen) and screen.poller.polls >= 1,
                       timeout=60, what="first poll")
        await ready(pilot)
        result = await pilot_body(pilot, app)
    return settings, result


def _writes(sandbox: Sandbox) -> list[str]:
    return [f"{c.method} {c.path}" for c in sandbox.github.calls.all() if c.method not in ("GET", "HEAD")]


async def _pending_on_an_issue(pilot: Pilot[Any], app: IdqueueApp) -> str:
    row = next(r for r in app.queue.table.loaded_rows()
               if home_of(r.request, "github") and r.request.status.value != "pending")
    await go_to(pilot, row.id)
    await pilot.press("p")
    await wait_for(pilot, lambda: said(app, " to undo."), what="undo toast")
    return row.id


async def test_quitting_during_the_hold_loses_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    before: list[str] = []

    async def body(pilot: Pilot[Any], app: IdqueueApp) -> str:
        before.extend(_writes(sandbox))
        return await _pending_on_an_issue(pilot, app)  # and quit at once

    settings, rid = await _live_app(sandbox, tmp_path / "live.db", body)
    assert _writes(sandbox) == before  # nothing was sent while held
    store = Store.open(settings.db)  # the next start, or `idqueue outbox --send`, after the hold
    dispatcher = Dispatcher(store, settings, clock=sandbox.clock, throttle=0)
    dispatcher.wall = lambda: datetime.now(UTC) + timedelta(minutes=5)
    dispatcher.run_once()
    new = _writes(sandbox)[len(before):]
    assert len(new) == 1 and new[0].startswith("POST /repos/") and new[0].endswith("/labels")
    assert [a.state for a in dispatcher.outbox.select(request_ids=[rid])] == [ActionState.SENT]


async def test_an_undone_action_writes_nothing_upstream(sandbox: Sandbox, tmp_path: Path) -> None:
    before: list[str] = []

    async def body(pilot: Pilot[Any], app: IdqueueApp) -> str:
        before.extend(_writes(sandbox))
        rid = await _pending_on_an_issue(pilot, app)
        await pilot.press("ctrl+z")
        await wait_for(pilot, lambda: said(app, "Nothing was sent"), what="undone")
        return rid

    settings, rid = await _live_app(sandbox, tmp_path / "live.db", body)
    store = Store.open(settings.db)
    dispatcher = Dispatcher(store, settings, clock=sandbox.clock, throttle=0)
    dispatcher.wall = lambda: datetime.now(UTC) + timedelta(minutes=5)
    dispatcher.run_once()
    assert _writes(sandbox) == before
    assert [a.state for a in dispatcher.outbox.select(request_ids=[rid])] == [ActionState.DROPPED]


async def test_a_held_action_is_sent_when_the_hold_ends(sandbox: Sandbox, tmp_path: Path) -> None:
    before: list[str] = []

    async def body(pilot: Pilot[Any], app: IdqueueApp) -> str:
        before.extend(_writes(sandbox))
        rid = await _pending_on_an_issue(pilot, app)
        assert _writes(sandbox) == before  # held
        await wait_for(pilot, lambda: len(_writes(sandbox)) > len(before), timeout=30, what="sent after the hold")
        return rid

    _, _ = await _live_app(sandbox, tmp_path / "live.db", body, undo_seconds=1)
    new = _writes(sandbox)[len(before):]
    assert len(new) == 1 and new[0].endswith("/labels")
