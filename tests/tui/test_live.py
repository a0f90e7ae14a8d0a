"""Live behaviour against running emulators: polling, new requests, source errors, sending.

Each test starts its own seeded sandbox (``sandbox`` fixture, frozen clock) and an app that
polls it for real through the Slack and GitHub clients.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from tui_helpers import SIZE, first_sync, settle, wait_for

from idqueue.app import IdqueueApp
from idqueue.commands.tui_cmds import sandbox_settings
from idqueue.config import UiConfig
from idqueue.integrations.registry import home_of
from idqueue.outbox.models import ActionKind, ActionState
from idqueue.sandbox.runner import Sandbox
from idqueue.screens.assign import AssignScreen
from idqueue.store.queue import QueueQuery, fetch_window
from idqueue.sync import SyncReport
from idqueue.widgets.request_table import COLUMNS

NOW_ISO = "2026-03-11T15:30:00Z"


def live_app(sandbox: Sandbox, tmp_path: Path, **ui: Any) -> IdqueueApp:
    settings = sandbox_settings(sandbox, tmp_path / "live.db", {"now": NOW_ISO, "ui": {"poll_interval": 600, **ui}})
    return IdqueueApp.build(settings, sandbox=True, live=True)



async def test_first_poll_fills_the_queue_without_announcing_everything(sandbox: Sandbox, tmp_path: Path) -> None:
    app = live_app(sandbox, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await first_sync(pilot)
        assert screen.table.total > 10
        assert not screen.table.new_ids  # the initial sync is not "new requests"
        status = str(screen.query_one("#status").render())
        assert "GitHub ok" in status and "Slack ok" in status and "synced 11:30" in status


async def test_new_request_is_highlighted_and_cursor_stays(sandbox: Sandbox, tmp_path: Path) -> None:
    app = live_app(sandbox, tmp_path, bell=True)
    bells: list[bool] = []
    app.bell = lambda: bells.append(True)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        screen = await first_sync(pilot)
        await pilot.press("down", "down", "down")
        await settle(pilot)
        table = screen.table
        before_id, total = table.cursor_id, table.total
        screen_line = table._line_of(table.cursor) - int(table.scroll_y)
        issue = sandbox.github.state.add_issue(
            "va-identity/support", "Production outage: sign-in is down for everyone",
            "**Issue Type:** Bug Fix\n**Does this impact Veterans on production servers?** Yes",
            user="new-person", labels=["Identity"],
        )
        await pilot.press("R")
        await wait_for(pilot, lambda: screen.poller.polls >= 2, timeout=60, what="second poll")
        await settle(pilot)
        new_id = f"gh:va-identity/support#{issue.number}"
        assert new_id in table.new_ids
        assert table.total == total + 1
        assert table.cursor_id == before_id  # the poll never moves the cursor …
        # … the production outage (P1) leads the queue, above the cursor: the cursor keeps its
        # screen line when the table can scroll, else its row moves down by the one row added.
        order = [table.id_at(i) for i in range(table.total)]
        above = fetch_window(app.ctx.store, QueueQuery(ids=tuple(i for i in order[: order.index(new_id)] if i)),
                             now=app.ctx.clock())
        assert order.index(new_id) < order.index(before_id)
        assert all(r.priority == "P1" for r in above)  # only other P1s (breached first) are above it
        expected = screen_line if table.max_scroll_y else screen_line + 1
        assert table._line_of(table.cursor) - int(table.scroll_y) == expected
        key = next(r.key for r in fetch_window(app.ctx.store, QueueQuery(ids=(new_id,)), now=app.ctx.clock()))
        toast = next(n for n in app._notifications if n.title == "1 new request")
        assert f"{key} P1 Production outage" in toast.message and f"go to {key}" in toast.message
        assert bells == [True]
        await pilot.press("n")  # jump to what arrived
        await wait_for(pilot, lambda: table.cursor_id == new_id, what="cursor on the new request")


async def test_source_failure_shows_in_status_and_app_keeps_running(sandbox: Sandbox, tmp_path: Path) -> None:
    app = live_app(sandbox, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await first_sync(pilot)
        total = screen.table.total
        sandbox.github.faults.add("GET /repos/*", "auth", times=-1)
        await pilot.press("R")
        await wait_for(pilot, lambda: screen.poller.polls >= 2, timeout=60, what="failing poll")
        await settle(pilot)
        status = str(screen.query_one("#status").render())
        assert "GitHub auth failed" in status
        assert "Slack ok" in status
        assert any("auth failed" in (n.title or "") for n in app._notifications)
        assert app.is_running and screen.table.total == total


async def test_polls_never_overlap(sandbox: Sandbox, tmp_path: Path) -> None:
    app = live_app(sandbox, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await first_sync(pilot)
        engine = app.ctx.engine
        assert engine is not None
        gate = threading.Event()
        calls: list[int] = []
        real_poll = engine.poll

        def slow_poll(progress: Any = None) -> SyncReport:
            calls.append(1)
            gate.wait(30)
            return real_poll(progress)

        engine.poll = slow_poll  # type: ignore[method-assign]
        await pilot.press("R")
        await wait_for(pilot, lambda: screen.poller.running and calls, what="poll running")
        assert screen.poller.poll_now() is False  # a second poll is refused while one runs
        await pilot.press("R")
        gate.set()
        await wait_for(pilot, lambda: not screen.poller.running, timeout=60, what="poll done")
        await settle(pilot)
        assert calls == [1]


async def test_assign_is_sent_and_pending_clears(sandbox: Sandbox, tmp_path: Path) -> None:
    app = live_app(sandbox, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await first_sync(pilot)
        table = screen.table
        row = next(r for r in table.loaded_rows() if home_of(r.request, "github") and not r.request.assignee)
        table.go_to(row.id)
        await wait_for(pilot, lambda: table.cursor_id == row.id, what="cursor on a GitHub request")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AssignScreen))
        await pilot.press(*"ben", "enter")
        actions = app.ctx.actions
        await wait_for(pilot, lambda: any(a.kind is ActionKind.ASSIGN for a in actions.for_request(row.id,
                       unsent_only=False)), what="queued")
        await wait_for(pilot, lambda: not actions.for_request(row.id), timeout=60, what="all sent")
        await settle(pilot)
        number = int(row.id.rsplit("#", 1)[1])
        issue = sandbox.github.state.issue("va-identity/support", number)
        assert issue.assignees == ["ben-okafor"] or "ben" in " ".join(issue.assignees)
        assert app.ctx.store.get_request(row.id).assignee == "ben"
        refreshed = next(r for r in table.loaded_rows() if r.id == row.id)
        assert refreshed.pending is None or not refreshed.pending.total


async def test_failed_action_shows_reason_and_retries(sandbox: Sandbox, tmp_path: Path) -> None:
    app = live_app(sandbox, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await first_sync(pilot)
        table = screen.table
        row = next(r for r in table.loaded_rows() if home_of(r.request, "github") and not r.request.assignee)
        table.go_to(row.id)
        await wait_for(pilot, lambda: table.cursor_id == row.id)
        sandbox.github.faults.add("POST /repos/*/issues/*/assignees", status=403,
                                  body={"message": "Must have admin rights to Repository."}, times=1)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AssignScreen))
        await pilot.press(*"ben", "enter")
        actions = app.ctx.actions
        await wait_for(pilot, lambda: any(a.state is ActionState.NEEDS_ATTENTION
                                          for a in actions.for_request(row.id)), timeout=60, what="failure")
        table.go_to(row.id)
        await wait_for(pilot, lambda: table.cursor_id == row.id)
        await settle(pilot)
        failed = next(r for r in table.loaded_rows() if r.id == row.id)
        assert failed.pending is not None and failed.pending.failed
        detail = screen.detail.text()
        assert "✗" in detail and "press ! to retry" in detail
        await pilot.press("exclamation_mark")
        await wait_for(pilot, lambda: not actions.for_request(row.id), timeout=60, what="sent after retry")



async def test_new_request_above_the_cursor_keeps_the_selection(sandbox: Sandbox, tmp_path: Path) -> None:
    app = live_app(sandbox, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await first_sync(pilot)
        table = screen.table
        screen._apply_query(screen.query_state.with_(sort="age", descending=True))  # newest first
        await settle(pilot)
        await pilot.press("down", "down", "space", "down")
        await settle(pilot)
        before_id, before_pos = table.cursor_id, table.cursor
        selected = set(table.selected)
        sandbox.github.state.add_issue("va-identity/support", "Brand new question", "How do I get a test user?",
                                       user="new-person", labels=["Identity"])
        await pilot.press("R")
        await wait_for(pilot, lambda: screen.poller.polls >= 2, timeout=60, what="second poll")
        await settle(pilot)
        assert table.row_at(0) is not None and table.row_at(0).id in table.new_ids
        assert table.cursor_id == before_id
        assert table.cursor == before_pos + 1
        assert table.selected == selected  # the multi-selection survives polls


async def test_a_read_request_turns_unread_when_the_requester_writes(sandbox: Sandbox, tmp_path: Path) -> None:
    """Read marks: the cursor resting on a request marks it read; a later message from outside
    the team shows ◆ on its row after the next poll, until the cursor rests on it again."""
    from datetime import timedelta

    read_after = UiConfig().read_after

    app = live_app(sandbox, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await first_sync(pilot)
        table = screen.table
        row = next(r for r in table.loaded_rows() if home_of(r.request, "github"))
        table.go_to(row.id)
        await wait_for(pilot, lambda: table.cursor_id == row.id, what="cursor on a GitHub request")
        store = app.ctx.store
        await wait_for(pilot, lambda: store.get_request(row.id) is not None
                       and bool(store.conn.execute("SELECT COUNT(*) FROM local_state WHERE seen_at IS NOT NULL")
                                .fetchone()[0]), timeout=read_after + 10, what="read mark stored")
        assert not next(r for r in table.loaded_rows() if r.id == row.id).request.unread
        await pilot.press("j")  # look elsewhere while the requester writes
        number = int(row.id.rsplit("#", 1)[1])
        sandbox.github.state.add_comment("va-identity/support", number, "Any news? Still blocked.",
                                         user="new-person", at=sandbox.clock() + timedelta(minutes=3))
        await pilot.press("R")
        await wait_for(pilot, lambda: screen.poller.polls >= 2, timeout=60, what="second poll")

        def shown() -> Any:
            return next((r for r in table.loaded_rows() if r.id == row.id), None)

        await wait_for(pilot, lambda: shown() is not None and shown().request.unread, what="unread after the poll")
        assert table._cell(COLUMNS[0], shown()) == ("◆", "unread")
        table.go_to(row.id)
        await wait_for(pilot, lambda: table.cursor_id == row.id)
        await wait_for(pilot, lambda: not shown().request.unread, timeout=read_after + 10, what="read again")
        assert table._cell(COLUMNS[0], shown()) == ("", None)
        # A message that arrives while the cursor is on the request is read after the same rest.
        later = sandbox.clock() + timedelta(minutes=6)
        before = store.seen_at(row.id)
        assert before is not None and before < later
        sandbox.github.state.add_comment("va-identity/support", number, "Found the log, attaching it.",
                                         user="new-person", at=later)
        polls = screen.poller.polls
        await pilot.press("R")
        await wait_for(pilot, lambda: screen.poller.polls > polls, timeout=60, what="third poll")
        await wait_for(pilot, lambda: (store.seen_at(row.id) or before) >= later, timeout=read_after + 10,
                       what="read without moving the cursor")
        assert table.cursor_id == row.id
