"""A third system joins through the registry alone, end to end, over the network.

``tests/toy_system.py`` is a whole integration — a loopback emulator, a reader, a planner and a
writer — that no module of idqueue names. Registered by this test, its tickets come in through
``idqueue sync --once``, show in ``list --json`` and in the queue's source column, take a reply
with ``--target desk`` and a close that the real dispatcher carries exactly once (a second
``outbox --send`` writes nothing), list in the outbox under the system's display name, and count in the
report's breakdown by source.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import toy_system
from click.testing import CliRunner, Result
from toy_system import INTEGRATION, NAME, DeskEmulator
from tui_helpers import ready, wait_for

from idqueue.app import IdqueueApp
from idqueue.cli import cli
from idqueue.commands.base import Context
from idqueue.config import Settings, TeamMember
from idqueue.integrations import registry
from idqueue.screens.outbox import OutboxScreen
from idqueue.store.db import Store

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)


@pytest.fixture
def desk() -> Iterator[DeskEmulator]:
    emulator = DeskEmulator(now=NOW).start()
    for number, title, requester, created in toy_system.ages(NOW):
        emulator.add_ticket(number, title, requester, created)
    toy_system.BASE_URL["url"] = emulator.url
    try:
        with registry.registered(INTEGRATION):
            yield emulator
    finally:
        toy_system.BASE_URL.clear()
        emulator.stop()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db=tmp_path / "desk.db", now=NOW.isoformat(), me="ana",
                    team={"ana": TeamMember(name="Ana Reyes", email="ana@example.org")})


def run(settings: Settings, *args: str) -> Result:
    ctx = Context()
    ctx.use_settings(settings)
    result = CliRunner().invoke(cli, list(args), obj=ctx)
    assert result.exit_code == 0, result.output
    return result


def listed(settings: Settings) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for i in json.loads(run(settings, "list", "--json", "--all").stdout)}


def test_the_desk_is_read_written_and_counted_through_the_registry(desk: DeskEmulator, settings: Settings) -> None:
    run(settings, "sync", "--once")
    items = listed(settings)
    assert set(items) == {"desk:1", "desk:2"}
    assert {i["source"] for i in items.values()} == {NAME} and items["desk:1"]["sources"] == [NAME]
    assert items["desk:1"]["status"] == "new" and items["desk:1"]["requester"]

    run(settings, "reply", "desk:1", "--text", "We're on it.", "--target", NAME, "--no-send")
    run(settings, "close", "desk:2", "--no-send")
    sent = run(settings, "outbox", "--send")
    assert "sent" in sent.output
    reply_id = next(a for a in _actions(settings) if a.target == NAME and a.kind.value == "reply").id
    assert desk.comments_by(f"[idqueue:{reply_id}]") == 1
    assert desk.tickets[2]["state"] == "closed"
    run(settings, "outbox", "--send")  # nothing left: nothing written again
    replies = [a for a in _actions(settings) if a.target == NAME and a.kind.value == "reply"]
    assert len(replies) == 2  # the reply, and the close's automatic "closed" message on desk:2
    assert all(desk.comments_by(f"[idqueue:{a.id}]") == 1 for a in replies)
    assert sum(len(t["comments"]) for t in desk.tickets.values()) == 2

    run(settings, "sync", "--once")
    items = listed(settings)
    assert items["desk:1"]["status"] == "acknowledged" and items["desk:1"]["first_response_at"]
    assert items["desk:2"]["status"] == "closed"

    report = json.loads(run(settings, "report", "--month", "2026-03", "--format", "json").stdout)
    assert {g["group"]: g["received"] for g in report["breakdowns"]["source"]} == {NAME: 2}


def _actions(settings: Settings) -> list[Any]:
    from idqueue.outbox.service import Actions

    store = Store.open(settings.db)
    try:
        return Actions(store, settings, clock=lambda: NOW).all()
    finally:
        store.close()


async def test_the_queue_shows_the_desk_code_and_the_outbox_its_name(desk: DeskEmulator, settings: Settings) -> None:
    run(settings, "sync", "--once")
    run(settings, "reply", "desk:1", "--text", "Looking now.", "--target", NAME, "--no-send")
    store = Store.open(settings.db)
    app = IdqueueApp.build(settings, store=store, sandbox=False, live=False)
    app.ctx.dispatcher = None  # keep the reply queued so the outbox lists it
    async with app.run_test(size=(160, 50)) as pilot:
        await ready(pilot)
        table = app.queue.table
        lines = [table.render_line(y).text for y in range(table.size.height)]
        for title in ("Printer on fire", "VPN drops every hour"):
            line = next(text for text in lines if title in text)
            assert " HD " in f" {line} ", line  # the source column: the registered system's code
        await pilot.press("O")
        await wait_for(pilot, lambda: isinstance(app.screen, OutboxScreen), what="outbox screen")
        screen = app.screen
        assert isinstance(screen, OutboxScreen)
        await wait_for(pilot, lambda: screen.loaded, what="outbox rows")
        cells = [str(c) for c in screen.query_one("#outbox-table").get_row_at(0)]  # type: ignore[attr-defined]
        assert "Help Desk" in cells
