"""The Trello reader against the loopback Trello: idqueue's cards and their moves, archiving and
comments read back from the boards' actions; other cards ignored; cursors, paging, idle cost."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from trello_env import NOW, TrelloWorld, trello_world

from idqueue.domain.models import EventKind
from idqueue.integrations.base import Batch, NotFound, PollHints
from idqueue.integrations.trello import source as source_mod
from idqueue.integrations.trello.emulator import TCard
from idqueue.integrations.trello.marker import card_footer
from idqueue.integrations.trello.source import TrelloSource

REQUEST = "slack:C0INTAKE/1773240000.000100"


@pytest.fixture
def world() -> Iterator[TrelloWorld]:
    with trello_world() as w:
        yield w


def reader(world: TrelloWorld, tmp_path: Path, **overrides: object) -> TrelloSource:
    return TrelloSource(world.settings(tmp_path / "db.sqlite", **overrides), clock=world.clock, timeout=2.0)


def poll(src: TrelloSource, cursors: dict[str, object]) -> list[Batch]:
    batches = list(src.fetch(cursors))
    for batch in batches:
        cursors.update(batch.cursors)
    return batches


def idqueue_card(world: TrelloWorld, customer: str = "acme", name: str = "Export fails") -> TCard:
    board = world.boards[customer]
    first_list = sorted(board.lists.values(), key=lambda x: x.pos)[0]
    return world.state.create_card(first_list.id, name, "It fails." + card_footer(REQUEST, "act000000001"),
                                   url_source="https://acme.slack.com/archives/C0INTAKE/p1773240000000100")


def test_first_poll_finds_idqueues_cards_and_ignores_the_rest(world: TrelloWorld, tmp_path: Path) -> None:
    mine = idqueue_card(world)
    board = world.boards["acme"]
    world.state.create_card(world.state.list_named(board, "Up next").id, "Someone else's card", "no footer")
    batches = poll(reader(world, tmp_path), cursors := {})
    items = [i for b in batches for i in b.items]
    assert [i.id for i in items] == [f"trello:{mine.id}"]
    [item] = items
    assert item.links == [REQUEST]
    assert item.raw["backlog_state"] == "New Issues" and item.raw["customer"] == "acme"
    assert item.body == "It fails." and item.url == mine.url and item.title == "Export fails"
    assert item.created_at == NOW
    events = [e for b in batches for e in b.events]
    assert [(e.kind, e.data["backlog_state"]) for e in events] == [(EventKind.BACKLOG, "New Issues")]
    assert set(cursors) == {f"board:{b.id}" for b in world.boards.values()}


def test_moves_comments_and_archiving_are_read_back(world: TrelloWorld, tmp_path: Path) -> None:
    card = idqueue_card(world)
    src = reader(world, tmp_path)
    poll(src, cursors := {})
    nick = world.state.add_member("nickwood", "Nick Wood")
    world.clock.advance(3600)
    world.state.move_card(card, "Up next", member=nick)
    world.clock.advance(60)
    world.state.comment(card, "Agreed for next week's support", member=nick)
    world.clock.advance(86400)
    world.state.move_card(card, "Recently Completed", member=nick)
    world.clock.advance(60)
    world.state.archive(card, member=nick)
    batches = poll(src, cursors)
    events = sorted((e for b in batches for e in b.events), key=lambda e: e.at)
    assert [(e.kind, e.data.get("backlog_state"), e.body) for e in events] == [
        (EventKind.EDITED, "Up next", "moved the card from New Issues to Up next"),
        (EventKind.COMMENT, None, "Agreed for next week's support"),
        (EventKind.EDITED, "Recently Completed", "moved the card from Up next to Recently Completed"),
        (EventKind.EDITED, "archived", "archived the card"),
    ]
    assert all(e.actor_name == "Nick Wood" and e.item_id == f"trello:{card.id}" for e in events)
    assert events[1].data["internal"] is True
    [item] = [i for b in batches for i in b.items]
    assert item.state == "closed" and item.raw["backlog_state"] == "archived"
    assert item.raw["list"] == "Recently Completed"
    # Nothing new: one request per board, nothing emitted.
    world.emulator.calls.clear()
    again = poll(src, cursors)
    assert [i for b in again for i in b.items] == [] and [e for b in again for e in b.events] == []
    assert len(world.emulator.calls) == len(world.boards)
    assert sum(b.stats.requests for b in again) == len(world.boards)


def test_other_cards_are_read_once_then_remembered(world: TrelloWorld, tmp_path: Path) -> None:
    src = reader(world, tmp_path)
    poll(src, cursors := {})
    board = world.boards["acme"]
    other = world.state.create_card(world.state.list_named(board, "New Issues").id, "Not ours", "")
    poll(src, cursors)
    world.state.move_card(other, "Up next")
    world.emulator.calls.clear()
    batches = poll(src, cursors)
    assert [i for b in batches for i in b.items] == []
    assert world.emulator.calls.count("GET", f"/1/cards/{other.id}") == 0


def test_actions_page_back_with_before(world: TrelloWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source_mod, "PAGE", 2)
    card = idqueue_card(world)
    src = reader(world, tmp_path)
    poll(src, cursors := {})
    for name in ("Up next", "Recently Completed", "Up next", "New Issues", "Up next"):
        world.clock.advance(60)
        world.state.move_card(card, name)
    batches = poll(src, cursors)
    moves = [e.data["backlog_state"] for b in batches for e in sorted(b.events, key=lambda e: e.at)]
    assert moves == ["Up next", "Recently Completed", "Up next", "New Issues", "Up next"]
    assert any("before" in c.query for c in world.emulator.calls.calls_to("GET", "/1/boards/*/actions"))


def test_a_linked_card_without_footer_is_read(world: TrelloWorld, tmp_path: Path) -> None:
    board = world.boards["globex"]
    card = world.state.create_card(world.state.list_named(board, "Up next").id, "Made by hand", "")
    src = reader(world, tmp_path)
    src.prepare(PollHints(linked=(f"trello:{card.id}",)))
    items = [i for b in poll(src, {}) for i in b.items]
    assert [(i.id, i.raw["backlog_state"]) for i in items].count((f"trello:{card.id}", "Up next")) >= 1


def test_a_missing_board_does_not_stop_the_others(world: TrelloWorld, tmp_path: Path) -> None:
    card = idqueue_card(world, "initech")
    customers = world.customers()
    customers["acme"]["trello_board"] = "Gone1234"
    src = reader(world, tmp_path, customers=customers)
    got: list[Batch] = []
    with pytest.raises(NotFound):
        for batch in src.fetch({}):
            got.append(batch)
    assert f"trello:{card.id}" in [i.id for b in got for i in b.items]
