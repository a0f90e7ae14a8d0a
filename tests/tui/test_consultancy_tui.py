"""The consultancy desk in the TUI: the email queue (snapshots, 80×24 too), the detail pane of a
mail thread (quoted history collapsed, the backlog card's list), and a take on an email request
through the keys, sent over SMTP and recorded in idqueue's database.

Update after a deliberate visual change:
``.venv/bin/pytest tests/tui/test_consultancy_tui.py --snapshot-update`` and look at each SVG.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_snapshots import finish
from textual.pilot import Pilot
from tui_helpers import SIZE, ready, settle, wait_for

from idqueue.app import IdqueueApp
from idqueue.commands.tui_cmds import sandbox_settings
from idqueue.config import Settings
from idqueue.outbox.dispatcher import Dispatcher
from idqueue.outbox.models import ActionKind
from idqueue.sandbox.consultancy import ConsultancySandbox
from idqueue.screens.plan import PlanScreen
from idqueue.screens.reply import ReplyScreen
from idqueue.store.db import Store
from idqueue.sync import SyncEngine, build_sources
from idqueue.widgets.detail_pane import DetailPane

NOW_ISO = "2026-03-11T15:30:00Z"
BOOKING = "email:booking-1@acme-rail.example"
SLOW = "email:perf-1@globex-health.example"
WELSH = "email:html-1@globex-health.example"

pytestmark = pytest.mark.xdist_group("consultancy")


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ConsultancySandbox, Settings, Path]]:
    """The consultancy sandbox, synced once into a template database."""
    folder = tmp_path_factory.mktemp("desk")
    db = folder / "desk.db"
    sb = ConsultancySandbox.start(now=datetime(2026, 3, 11, 15, 30, tzinfo=UTC))
    try:
        settings = sandbox_settings(sb, db, {"now": NOW_ISO})
        store = Store.open(db, key_prefix=settings.ui.key_prefix)
        report = SyncEngine(store, build_sources(settings), settings).poll()
        assert not report.errors, report.errors
        store.close()
        yield sb, settings, db
    finally:
        sb.stop()


@pytest.fixture
def make_desk_app(desk: tuple[ConsultancySandbox, Settings, Path], tmp_path: Path) -> Any:
    _, settings, template = desk
    target = tmp_path / "queue.db"
    with sqlite3.connect(template) as src, sqlite3.connect(target) as dst:
        src.backup(dst)

    def build() -> IdqueueApp:
        ui = settings.ui.model_copy(update={"undo_seconds": 0.0})
        cfg = settings.model_copy(update={"db": target, "ui": ui})
        app = IdqueueApp.build(cfg, store=Store.open(target, key_prefix=cfg.ui.key_prefix), sandbox=True)
        app.ctx.dispatcher = None  # nothing is sent unless the test sends it
        return app

    return build


async def _to(pilot: Pilot[Any], rid: str) -> None:
    table = pilot.app.queue.table
    table.go_to(rid)
    await wait_for(pilot, lambda: table.cursor_id == rid, what="cursor")
    await settle(pilot)


@pytest.mark.parametrize("size", [pytest.param(SIZE, id="wide"), pytest.param((80, 24), id="80x24")])
def test_consultancy_queue(snap_compare: Any, make_desk_app: Any, size: tuple[int, int]) -> None:
    """The email requests in the queue (source ``@``), never-requests absent."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await finish(pilot)

    assert snap_compare(make_desk_app(), terminal_size=size, run_before=run_before)


def test_consultancy_detail_quoted_history(snap_compare: Any, make_desk_app: Any) -> None:
    """A mail thread's detail: the teammate's reply with its quoted history collapsed."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("h")  # history: closed and backlogged requests too
        await settle(pilot)
        await _to(pilot, BOOKING)
        pane = pilot.app.queue.query_one(DetailPane)
        await wait_for(pilot, lambda: "quoted history (2 lines) hidden" in pane.text(), what="collapsed quote")
        assert "Since this morning the seat booking page fails" not in pane.text().split("Timeline")[1].split("Request")[0]
        await pilot.press("enter", "end")  # the timeline and the request's text, at the pane's end
        await finish(pilot)

    assert snap_compare(make_desk_app(), terminal_size=SIZE, run_before=run_before)


async def test_detail_shows_the_backlog_card_list(make_desk_app: Any) -> None:
    app: IdqueueApp = make_desk_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("h")
        await settle(pilot)
        await _to(pilot, WELSH)
        pane = app.queue.query_one(DetailPane)
        await wait_for(pilot, lambda: "Welsh" in pane.text(), what="detail")
        assert re.search(r"Backlog\s+Up next", pane.text())
        assert "trello.com/c/" in pane.text()


async def test_take_an_email_request(make_desk_app: Any, desk: tuple[ConsultancySandbox, Settings, Path]) -> None:
    """``t`` then ``y``: the assignment is a local state action, the "assigned" mail an SMTP reply;
    once sent, the request is assigned to me."""
    sb = desk[0]
    app: IdqueueApp = make_desk_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await _to(pilot, SLOW)
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, PlanScreen), what="plan")
        await pilot.press("y")
        await wait_for(pilot, lambda: len(app.ctx.actions.for_request(SLOW)) == 2, what="queued")
        actions = app.ctx.actions.for_request(SLOW)
        assert [(a.kind, a.target) for a in actions] == [(ActionKind.ASSIGN, "email"), (ActionKind.REPLY, "email")]
        before = len(sb.mail.smtp.sent_to_outside())
        dispatcher = Dispatcher(app.ctx.store, app.ctx.settings, throttle=0)
        report = dispatcher.run_once()
        dispatcher.close()
        assert len(report.sent) == 2
        assert len(sb.mail.smtp.sent_to_outside()) == before + 1
        request = app.ctx.store.get_request(SLOW)
        assert request is not None and request.assignee == "nick"


async def test_reply_to_an_email_request_from_the_composer(make_desk_app: Any,
                                                           desk: tuple[ConsultancySandbox, Settings, Path]) -> None:
    """``r``, free Markdown, ``ctrl+s``: one plain-text SMTP reply in the requester's thread."""
    sb = desk[0]
    app: IdqueueApp = make_desk_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await _to(pilot, SLOW)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplyScreen), what="composer")
        reply = app.screen
        assert isinstance(reply, ReplyScreen)
        await pilot.pause()
        await pilot.press("end", "enter")  # "Free text", into the editor
        await pilot.pause()
        await pilot.press(*"See [the status page](https://status.example/x)")
        await pilot.pause()
        assert reply.targets == ["email"]
        assert "See the status page (https://status.example/x)" in str(reply.query_one("#preview").render())
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(app.ctx.actions.for_request(SLOW)), what="queued")
        [action] = app.ctx.actions.for_request(SLOW)
        assert action.kind is ActionKind.REPLY and action.target == "email"
        before = [m for m in sb.mail.smtp.sent_to_outside() if "ana@globex-health.example" in m.rcpt_to]
        dispatcher = Dispatcher(app.ctx.store, app.ctx.settings, throttle=0)
        assert len(dispatcher.run_once().sent) == 1
        dispatcher.close()
        after = [m for m in sb.mail.smtp.sent_to_outside() if "ana@globex-health.example" in m.rcpt_to]
        assert len(after) == len(before) + 1
        assert b"In-Reply-To: <perf-1@globex-health.example>" in after[-1].raw or b"References:" in after[-1].raw
        assert b"See the status page (https://status.example/x)" in after[-1].raw
