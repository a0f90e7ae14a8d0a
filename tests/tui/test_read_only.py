"""Pilot: a read-only session (``read_only``, a browser viewer not on the roster) refuses every
key that would change something, with one status line, and queues nothing."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from tui_helpers import SIZE, ready, settle, wait_for

from idqueue.app import IdqueueApp, _write_actions
from idqueue.screens.access import READ_ONLY_REFUSAL, WRITE_BINDINGS, write_actions
from idqueue.screens.outbox import OutboxScreen
from idqueue.screens.queue import QueueScreen

WRITE_KEYS = ["a", "t", "r", "b", "c", "p", "P", "z", "w", "exclamation_mark", "ctrl+z", "A", "E", "C", "Z"]
"""The queue's default keys of every binding in ``WRITE_BINDINGS``."""


@pytest.fixture
def read_only_app(make_app: Any, synced_month: Any) -> IdqueueApp:
    """The synced month as a viewer who is not on the roster sees it (``IDQUEUE_READ_ONLY=1``)."""
    return make_app(settings=synced_month.settings.model_copy(update={"read_only": True, "me": None}))


def refusals(app: IdqueueApp) -> int:
    return sum(n.message == READ_ONLY_REFUSAL for n in app._notifications)


def local_state(app: IdqueueApp, rid: str) -> dict[str, Any]:
    return app.ctx.store.local_of(rid)


def test_every_write_binding_is_known() -> None:
    """A renamed binding id would silently stop being refused: each id must still exist."""
    assert len(_write_actions()) == len(WRITE_BINDINGS)
    queue_keys = {b.key for b in QueueScreen.BINDINGS if getattr(b, "id", None) in WRITE_BINDINGS}
    assert queue_keys == set(WRITE_KEYS)


async def test_read_only_refuses_every_write_key_and_queues_nothing(read_only_app: IdqueueApp) -> None:
    app = read_only_app
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid = app.queue.table.cursor_id
        before = local_state(app, rid)
        for count, key in enumerate(WRITE_KEYS, start=1):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, QueueScreen), f"{key} opened {type(app.screen).__name__}"
            assert refusals(app) == count, key
        # Selecting several rows (a bulk action) is refused the same way.
        await pilot.press("space", "j", "space", "a")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        assert refusals(app) == len(WRITE_KEYS) + 1
        # Reading still works: the cursor moves, the outbox opens, and its keys are refused too.
        await pilot.press("j")
        await settle(pilot)
        assert app.queue.table.cursor_id != rid
        await pilot.press("O")
        await settle(pilot)
        assert isinstance(app.screen, OutboxScreen)
        await pilot.press("r", "d")
        await settle(pilot)
        assert refusals(app) == len(WRITE_KEYS) + 3
        assert app.ctx.actions.outbox.select() == []
        assert local_state(app, rid) == before


async def test_command_palette_is_refused_too(read_only_app: IdqueueApp) -> None:
    """The palette runs the same actions; a read-only session refuses them the same way."""
    app = read_only_app
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await app.queue.run_action("take")
        await app.run_action("screen.snooze")
        await settle(pilot)
        assert refusals(app) == 2
        assert app.ctx.actions.outbox.select() == []


async def test_on_the_roster_the_same_key_acts(make_app: Any) -> None:
    """The check is the session's, not the key's: with ``read_only`` off, ``t`` takes."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("P")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "PriorityScreen", what="priority picker")
        assert refusals(app) == 0
        await pilot.press("escape")


def test_read_only_status_line_snapshot(snap_compare: Any, read_only_app: IdqueueApp) -> None:
    """The refusal line after ``a`` (and the read-only mark in the header)."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("a")
        await settle(pilot)

    assert snap_compare(read_only_app, terminal_size=SIZE, run_before=run_before)


def footer_actions(app: IdqueueApp) -> set[str]:
    from textual.widgets._footer import FooterKey

    return {k.action for k in app.screen.query(FooterKey)}


async def test_the_footer_offers_no_write_key(read_only_app: IdqueueApp, make_app: Any) -> None:
    """A viewer is not shown keys that only say no; reading keys stay (search, outbox, help)."""
    app = read_only_app
    async with app.run_test(size=(200, 40)) as pilot:
        await ready(pilot)
        shown = footer_actions(app)
        assert not shown & write_actions(QueueScreen), shown
        assert {"search", "help"} <= shown
        await pilot.press("O")
        await settle(pilot)
        assert isinstance(app.screen, OutboxScreen)
        assert not footer_actions(app) & write_actions(OutboxScreen)
    on_roster = make_app()
    async with on_roster.run_test(size=(200, 40)) as pilot:
        await ready(pilot)
        assert {"assign", "take", "reply"} <= footer_actions(on_roster)


def test_help_and_palette_list_no_write_key_either(read_only_app: IdqueueApp, make_app: Any) -> None:
    """The help screen and the command palette offer a viewer only what works for them."""
    ids = {e.binding_id for e in read_only_app.help_entries()}
    assert not ids & WRITE_BINDINGS and {"queue.search", "app.outbox"} <= ids
    everyone = {e.binding_id for e in make_app().help_entries()}
    assert WRITE_BINDINGS & everyone
