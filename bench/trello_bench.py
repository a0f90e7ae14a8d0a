"""Trello: what reading the customers' boards and finding a card again cost, against the loopback
emulator (three boards; one with 2,000 cards, 300 of them idqueue's, and 3,000 card moves over
60 days)."""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from idqueue.config import Settings
from idqueue.domain.actions import Action, ActionKind, ActionState
from idqueue.integrations.loopback import Clock
from idqueue.integrations.trello.emulator import (
    TRELLO_KEY,
    TRELLO_TOKEN,
    TrelloEmulator,
    TrelloState,
)
from idqueue.integrations.trello.marker import card_footer
from idqueue.integrations.trello.source import TrelloSource
from idqueue.integrations.trello.writer import TrelloWriter

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


def _world(clock: Clock) -> tuple[TrelloState, dict[str, Any]]:
    state = TrelloState(now=clock)
    boards = {key: state.add_board(f"{key.title()} Support") for key in ("acme", "globex", "initech")}
    acme = boards["acme"]
    new_issues = state.list_named(acme, "New Issues")
    clock.set(NOW - timedelta(days=60))
    cards = []
    for n in range(2000):
        desc = "request text" + (card_footer(f"email:m{n}@acme.com", f"act{n:09d}") if n % 20 < 3 else "")
        cards.append(state.create_card(new_issues.id, f"Card {n}", desc))
        clock.advance(30)
    for n in range(3000):
        state.move_card(cards[n % len(cards)], ("Up next", "Recently Completed", "New Issues")[n % 3])
        clock.advance(1500)
    clock.set(NOW)
    return state, boards


def run() -> list[tuple[str, float, str]]:
    rows: list[tuple[str, float, str]] = []
    clock = Clock(NOW)
    state, boards = _world(clock)
    emulator = TrelloEmulator(state).start()
    emulator.token_limit = emulator.key_limit = 10**9  # measure the work, not the waits
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(db=Path(tmp) / "bench.db", now=NOW.isoformat(),
                                trello={"base_url": emulator.url, "key": TRELLO_KEY, "token": TRELLO_TOKEN},
                                customers={k: {"name": k, "trello_board": b.short_link} for k, b in boards.items()})
            source = TrelloSource(settings, clock=clock)
            cursors: dict[str, Any] = {}
            started = time.perf_counter()
            batches = list(source.fetch(cursors))
            rows.append(("Trello first poll, 3 boards, 2,000 cards, 3,000 moves (s)", time.perf_counter() - started,
                         ""))
            for batch in batches:
                cursors.update(batch.cursors)
            rows.append(("  requests", float(source.api.requests), ""))
            rows.append(("  idqueue cards found", float(sum(len(b.items) for b in batches)), "300"))
            before = source.api.requests
            list(source.fetch(cursors))
            rows.append(("Trello idle poll: requests", float(source.api.requests - before), "1 per board (3)"))
            acme = boards["acme"]
            cards = [c for c in acme.cards.values() if "idqueue-action" in c.desc]
            logged = len(acme.actions)
            for n in range(50):
                state.move_card(cards[n], "Up next" if n % 2 else "Recently Completed")
            moves = len(acme.actions) - logged
            before = source.api.requests
            events = sum(len(b.events) for b in source.fetch(cursors))
            rows.append((f"Trello poll after {moves} moves of idqueue cards: requests", float(source.api.requests - before),
                         f"3 boards + 1 lists + {moves} cards"))
            rows.append(("  events read", float(events), str(moves)))
            source.close()
            writer = TrelloWriter(settings, clock=clock)
            action = Action(id="act000001999", request_id="email:x@acme.com", kind=ActionKind.CREATE_ISSUE,
                            target="trello", params={"board": acme.short_link, "title": "t"}, text=None,
                            state=ActionState.SENDING, attempts=2, last_error=None, next_attempt_at=None,
                            created_at=NOW, sent_at=None, group_id="g", summary="")
            new_issues = state.list_named(acme, "New Issues")
            nick = state.add_member("nick", "Nick Wood")
            for n in range(20):
                state.create_card(new_issues.id, f"Fresh {n}", "", member=nick if n % 2 else None)
            before = writer.api.requests
            writer.reconcile(action, since=NOW - timedelta(minutes=10))
            rows.append(("Trello look-up before a resend, 20 cards created since (10 by idqueue): requests",
                         float(writer.api.requests - before), "3 + idqueue's cards created since (13)"))
            writer.close()
    finally:
        emulator.stop()
    return rows
