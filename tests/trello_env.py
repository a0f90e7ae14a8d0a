"""A Trello test world: the loopback Trello emulator with the consultancy's customer boards, and
settings pointing at it (customers, key, token, temp database)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from idqueue.config import Settings
from idqueue.integrations.loopback import Clock
from idqueue.integrations.trello.emulator import (
    TRELLO_KEY,
    TRELLO_TOKEN,
    TBoard,
    TrelloEmulator,
    TrelloState,
)

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)


@dataclass
class TrelloWorld:
    """The running emulator, its data and clock, and the customers' boards."""

    emulator: TrelloEmulator
    clock: Clock
    boards: dict[str, TBoard]

    @property
    def state(self) -> TrelloState:
        return self.emulator.state

    def env(self) -> dict[str, str]:
        """The environment variables of the contract for this world."""
        import json

        return {
            "IDQUEUE_TRELLO__BASE_URL": self.emulator.url,
            "IDQUEUE_TRELLO__KEY": TRELLO_KEY,
            "IDQUEUE_TRELLO__TOKEN": TRELLO_TOKEN,
            "IDQUEUE_CUSTOMERS": json.dumps(self.customers()),
        }

    def customers(self) -> dict[str, Any]:
        return {
            "acme": {"name": "Acme Ltd", "domains": ["acme.com"], "trello_board": self.boards["acme"].short_link},
            "globex": {"name": "Globex", "domains": ["globex.co.uk"],
                       "trello_board": f"https://trello.com/b/{self.boards['globex'].short_link}/globex-support",
                       "backlog_list": "Inbox"},
            "initech": {"name": "Initech", "domains": ["initech.io"], "trello_board": self.boards["initech"].id},
        }

    def settings(self, db: Path, **overrides: Any) -> Settings:
        data: dict[str, Any] = {
            "trello": {"base_url": self.emulator.url, "key": TRELLO_KEY, "token": TRELLO_TOKEN},
            "customers": self.customers(),
            "now": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        data.update(overrides)
        return Settings(db=db, **data)


@contextmanager
def trello_world(*, retry_after: bool = False) -> Iterator[TrelloWorld]:
    """Start the emulator with three customer boards (Globex's backlog list is called "Inbox")."""
    clock = Clock(NOW)
    state = TrelloState(now=clock)
    boards = {
        "acme": state.add_board("Acme Support"),
        "globex": state.add_board("Globex Support", ("Inbox", "Up next", "Recently Completed")),
        "initech": state.add_board("Initech Support"),
    }
    emulator = TrelloEmulator(state, retry_after=retry_after).start()
    try:
        yield TrelloWorld(emulator, clock, boards)
    finally:
        emulator.stop()
