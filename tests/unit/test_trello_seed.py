"""The consultancy's seeded Trello boards, read by the real reader: idqueue's cards with the
states their story gives them, the team's own cards ignored, every action in Trello's shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from referencing import Registry
from referencing.jsonschema import DRAFT7
from test_emulator_conformance import SPECS, Spec
from test_trello_emulator import _nullable_refs

from idqueue.config import Settings
from idqueue.integrations.loopback import Clock
from idqueue.integrations.trello.emulator import (
    TRELLO_KEY,
    TRELLO_TOKEN,
    TrelloEmulator,
    TrelloState,
)
from idqueue.integrations.trello.seed import Backlogged, customers_config, seed_boards
from idqueue.integrations.trello.source import TrelloSource

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)


def test_seeded_boards_read_back(tmp_path: Path) -> None:
    clock = Clock(NOW)
    state = TrelloState(now=clock)
    backlogged = [
        Backlogged("email:a1@mail.acme-retail.co.uk", "act000000001", "Refunds page 500s", "acme",
                   NOW - timedelta(days=10), (("Up next", 48), ("Recently Completed", 150))),
        Backlogged("email:b2@nwh.nhs.example", "act000000002", "SSO for new staff", "northwind",
                   NOW - timedelta(days=3), links={"email": "https://mail.example/b2"}),
        Backlogged("email:c3@brambleenergy.com", "act000000003", "Old report", "bramble",
                   NOW - timedelta(days=12), (("archived", 30),)),
    ]
    boards = seed_boards(state, now=NOW, backlogged=backlogged)
    emulator = TrelloEmulator(state).start()
    try:
        settings = Settings(db=tmp_path / "db", now=NOW.isoformat(), customers=customers_config(boards),
                            trello={"base_url": emulator.url, "key": TRELLO_KEY, "token": TRELLO_TOKEN})
        batches = list(TrelloSource(settings, clock=clock).fetch({}))
    finally:
        emulator.stop()
    items = {i.links[0]: i for b in batches for i in b.items}
    assert {k: i.raw["backlog_state"] for k, i in items.items()} == {
        "email:a1@mail.acme-retail.co.uk": "Recently Completed",
        "email:b2@nwh.nhs.example": "New Issues",
        "email:c3@brambleenergy.com": "archived",
    }
    assert settings.customers["bramble"].backlog_list == "Inbox"
    events = sorted((e for b in batches for e in b.events if e.item_id == items[backlogged[0].request_id].id),
                    key=lambda e: e.at)
    assert [e.data.get("backlog_state") for e in events] == ["New Issues", "Up next", None, "Recently Completed"]
    assert events[0].at == backlogged[0].at
    spec = Spec(SPECS / "trello.openapi.json", lenient=False, uri="urn:idqueue:trello-seed")
    spec.doc = _nullable_refs(spec.doc)
    spec.registry = Registry().with_resource(spec.uri, DRAFT7.create_resource(spec.doc))
    for board in boards.values():
        assert [a["id"] for a in board.actions] == sorted(a["id"] for a in board.actions)
        for action in board.actions:
            assert spec.errors("/components/schemas/Action", action) == []
