"""Pilot test: the outbox screen names a registered system by its display name.

A toy integration (``tests/toy_integration.py``) is registered without a writer that may send,
so its queued action waits in the outbox; the screen's system column and its "nothing is sent
to …" wording come from the registry.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from toy_integration import INTEGRATION
from tui_helpers import SIZE, ready, rid_of, wait_for

from idqueue.app import IdqueueApp
from idqueue.integrations import registry
from idqueue.outbox.models import Action, ActionKind, ActionState
from idqueue.outbox.service import new_id
from idqueue.screens.outbox import OutboxScreen


async def test_the_outbox_lists_a_toy_action_under_its_display_name(make_app: Any) -> None:
    waiting = dataclasses.replace(INTEGRATION, writable=lambda settings: False)
    with registry.registered(waiting):
        app: IdqueueApp = make_app()
        rid = rid_of(app)
        now = app.ctx.actions.clock()
        app.ctx.actions.outbox.insert([Action(
            id=new_id(), request_id=rid, kind=ActionKind.REPLY, target="toy", params={"ticket": "toy:T-1"},
            text="Hello from the toy", state=ActionState.QUEUED, attempts=0, last_error=None, next_attempt_at=None,
            created_at=now, sent_at=None, group_id=new_id("g"), summary="reply on the toy tracker: \"Hello\"",
        )])
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("O")
            await wait_for(pilot, lambda: isinstance(app.screen, OutboxScreen), what="outbox screen")
            screen = app.screen
            assert isinstance(screen, OutboxScreen)
            await wait_for(pilot, lambda: screen.loaded, what="outbox rows")
            await pilot.pause()
            assert [r.action.target for r in screen.rows] == ["toy"]
            table = screen.query_one("#outbox-table")
            cells = [str(cell) for cell in table.get_row_at(0)]  # type: ignore[attr-defined]
            assert "Toy Tracker" in cells and "toy" not in cells
