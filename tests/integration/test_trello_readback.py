"""A Slack request backlogged to its customer's Trello board, end to end: the card created by the
real writer through the dispatcher, read back by the real Trello reader through the sync engine
into the store, linked to the request, its moves on the request's timeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from outbox_env import WritebackEnv, make_env
from trello_env import TrelloWorld, trello_world

from idqueue.domain.actions import Action, ActionKind, ActionState
from idqueue.domain.models import EventKind
from idqueue.integrations.trello.backlog import card_plan
from idqueue.integrations.trello.source import TrelloSource
from idqueue.integrations.trello.writer import TrelloWriter
from idqueue.outbox.dispatcher import Dispatcher
from idqueue.outbox.store import OutboxStore
from idqueue.sandbox.runner import Sandbox
from idqueue.sync import SyncEngine


@pytest.fixture
def world() -> Iterator[TrelloWorld]:
    with trello_world() as w:
        yield w


def _env(sb: Sandbox, world: TrelloWorld, tmp_path: Path) -> WritebackEnv:
    world.clock.set(sb.clock())
    return make_env(sb, tmp_path, trello={"base_url": world.emulator.url, "key": world.env()["IDQUEUE_TRELLO__KEY"],
                                          "token": world.env()["IDQUEUE_TRELLO__TOKEN"]},
                    customers=world.customers())


def _sync_trello(env: WritebackEnv, world: TrelloWorld) -> None:
    source = TrelloSource(env.settings, clock=env.clock, timeout=2.0)
    report = SyncEngine(env.store, [source], env.settings, clock=env.clock).poll()
    source.close()
    assert not report.errors, [str(e) for e in report.errors]


def test_backlog_card_is_a_home_of_the_request_and_its_moves_show(empty_sandbox: Sandbox, world: TrelloWorld,
                                                                  tmp_path: Path) -> None:
    env = _env(empty_sandbox, world, tmp_path)
    request_id = env.slack_request("The export button on the Acme portal fails with a 500")
    request = env.store.get_request(request_id)
    assert request is not None
    plan = card_plan(request, env.settings, customer="acme", actor=None, now=env.clock())
    action = Action(
        id="c0ffee000001", request_id=request_id, kind=ActionKind.CREATE_ISSUE, target="trello",
        params=plan.params, text=plan.text, state=ActionState.QUEUED, attempts=0, last_error=None, next_attempt_at=None,
        created_at=env.clock(), sent_at=None, group_id="g", summary="backlog card",
    )
    OutboxStore(env.store).insert([action])
    writer = TrelloWriter(env.settings, clock=env.clock, timeout=2.0)
    report = Dispatcher(env.store, env.settings, writers={"trello": writer}, clock=env.clock,
                        sleep=lambda _s: None).run_once()
    assert report.counts["sent"] == 1
    [card] = world.boards["acme"].cards.values()
    assert card.desc.startswith("Moved to the backlog by the triage rotation")
    assert [a["url"] for a in card.attachments] == [request.url]  # the Slack permalink

    _sync_trello(env, world)
    request = env.store.get_request(request_id)
    assert request is not None and f"trello:{card.id}" in request.item_ids
    assert request.id == request_id  # the Slack message stays the primary home
    [item] = [i for i in env.store.items_of(request_id) if i.id == f"trello:{card.id}"]
    assert item.raw["backlog_state"] == "New Issues" and item.url == card.url

    world.clock.advance(3600)
    world.state.move_card(card, "Up next")
    world.clock.advance(3600)
    world.state.move_card(card, "Recently Completed")
    _sync_trello(env, world)
    [item] = [i for i in env.store.items_of(request_id) if i.id == f"trello:{card.id}"]
    assert item.raw["backlog_state"] == "Recently Completed"
    moves = [e for e in env.store.timeline(request_id) if e.item_id == f"trello:{card.id}"]
    assert [(e.kind, e.data.get("backlog_state")) for e in moves] == [
        (EventKind.BACKLOG, "New Issues"), (EventKind.EDITED, "Up next"), (EventKind.EDITED, "Recently Completed")]
