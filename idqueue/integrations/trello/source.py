"""Reading the backlog cards back: card moves, archiving and comments on each customer's board.

Each poll reads every customer board's actions newer than the board's cursor (the newest action
id seen), newest first, paging back with ``before``, filtered to the kinds idqueue shows
(``createCard``, ``updateCard:idList``, ``updateCard:closed``, ``commentCard``). Every card those
actions touch is read once (``GET /cards/{id}``) for its current list, and kept when it is one of
idqueue's: its description ends with idqueue's footer (the request it belongs to), or an open
request already links to it (the store's hints). One batch per board carries the cards, their
events and the board's new cursor, so a failure on a later board never loses an earlier one.

The first poll of a board also reads its cards once (``GET /boards/{id}/cards/all``) so cards
created before idqueue watched the board show their state, and reads actions back
``lookback_days`` days. An idle poll costs one request per board.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from idqueue.clock import clock_for
from idqueue.config import Settings
from idqueue.domain.models import SourceItem, SourceKind
from idqueue.integrations.base import (
    BadPayload,
    Batch,
    FetchStats,
    NotFound,
    PollHints,
    Source,
    SourceError,
)
from idqueue.integrations.trello.api import TrelloApi
from idqueue.integrations.trello.convert import CARD_FIELDS, card_item, event_of, trello_id
from idqueue.integrations.trello.marker import footer_of

__all__ = ["ACTION_FILTER", "TrelloSource"]

log = logging.getLogger(__name__)

ACTION_FILTER = "createCard,updateCard:idList,updateCard:closed,commentCard"
PAGE = 1000
"""Trello's largest ``limit`` for a board's actions."""
LOOKBACK_DAYS = 90
"""How far back the first poll of a board reads its actions."""


class TrelloSource(Source):
    """Reads idqueue's backlog cards on the customers' Trello boards.

    Args:
        settings: ``[trello]`` and the customers (their ``trello_board``).
        api: a prepared client (tests); built from the settings otherwise.
        timeout: HTTP timeout in seconds.
        clock: the clock (default: the settings' clock, ``IDQUEUE_NOW`` when frozen).
    """

    kind: ClassVar[SourceKind] = SourceKind("trello")
    wants_hints: ClassVar[bool] = True
    name = "trello"

    def __init__(self, settings: Settings, *, api: TrelloApi | None = None, timeout: float = 20.0,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.clock = clock or clock_for(settings)
        self.api = api or TrelloApi(settings, timeout=timeout, clock=self.clock)
        self._known: set[str] = set()
        self._linked: set[str] = set()
        self._boards: dict[str, dict[str, Any]] = {}
        self._mine: dict[str, bool] = {}
        """card id → whether it is one of idqueue's (only "no" verdicts are final)."""

    def prepare(self, hints: PollHints) -> None:
        """Remember the cards open requests link to: they are read even without idqueue's footer.

        Cards a push only named (``read_first``) are not among them: a webhook delivery is a
        hint, and any card on a watched board may be named; the board's actions bring changes
        to idqueue's own cards anyway.
        """
        ours = {i for i in (*hints.open_items, *hints.linked) if i.startswith("trello:")}
        self._known = ours
        self._linked = {i for i in hints.linked if i.startswith("trello:")}

    def close(self) -> None:
        """Release the HTTP client."""
        self.api.close()

    def check(self) -> dict[str, Any]:
        """Facts for ``idqueue doctor``: who the token belongs to."""
        me = self.api.get("/members/me", "read your Trello member", {"fields": "id,username,fullName"})
        if not isinstance(me, dict):
            raise BadPayload("Trello sent a member that is not an object", source="trello")
        return {"member": me.get("username"), "boards": len(self._customer_boards())}

    def _customer_boards(self) -> list[tuple[str, str]]:
        return [(key, c.trello_board) for key, c in self.settings.customers.items() if c.trello_board]

    # ------------------------------------------------------------------ fetch
    def fetch(self, cursors: dict[str, Any]) -> Iterator[Batch]:
        """One batch per customer board (cards, events, cursor).

        A board that is gone does not stop the others: its error is raised after the rest were
        read. Bad credentials, rate limits and outages stop the poll at once.

        Raises:
            AuthError, RateLimited, Unavailable, NotFound, BadPayload.
        """
        errors: list[SourceError] = []
        boards = self._customer_boards()
        for number, (customer, ref) in enumerate(boards, 1):
            before = self.api.requests
            try:
                batch = self._fetch_board(customer, ref, cursors)
            except NotFound as exc:
                log.warning("Trello board of %s: %s", customer, exc.title)
                errors.append(exc)
                continue
            batch.stats.requests = self.api.requests - before
            batch.progress = (number, len(boards))
            yield batch
        linked = self._fetch_linked()
        if linked is not None:
            yield linked
        if errors:
            raise errors[0]

    def _board(self, ref: str) -> dict[str, Any]:
        if ref not in self._boards:
            board = self.api.get(f"/boards/{ref}", f"read the board {ref}", {"fields": "id,name,shortLink,url"})
            if not isinstance(board, dict) or not isinstance(board.get("id"), str):
                raise BadPayload(f"Trello sent a board without an id ({ref})", source="trello")
            self._boards[ref] = board
        return self._boards[ref]

    def _lists(self, board: dict[str, Any]) -> dict[str, str]:
        rows = self.api.get(f"/boards/{board['id']}/lists", "read the board's lists", {"filter": "all", "fields": "id,name"})
        if not isinstance(rows, list):
            raise BadPayload("Trello sent a list of lists that is not a list", source="trello")
        return {str(r["id"]): str(r.get("name") or "") for r in rows if isinstance(r, dict) and "id" in r}

    def _fetch_board(self, customer: str, ref: str, cursors: dict[str, Any]) -> Batch:
        board = self._board(ref)
        key = f"board:{board['id']}"
        stored = cursors.get(key)
        first = not isinstance(stored, str) or not stored
        since = stored if isinstance(stored, str) and stored else _iso(self.clock() - timedelta(days=LOOKBACK_DAYS))
        actions = self._actions(board, since)
        batch = Batch(stats=FetchStats(fetched=len(actions)))
        if actions:
            batch.cursors[key] = str(actions[0]["id"])
        elif first:
            batch.cursors[key] = _iso(self.clock())
        touched = list(dict.fromkeys(
            c["id"] for a in actions if isinstance(c := (a.get("data") or {}).get("card"), dict) and "id" in c))
        cards = self._cards_all(board) if first else {}
        if not actions and not cards:
            return batch
        lists = self._lists(board)
        for card_id in touched:
            if card_id not in cards and self._maybe_mine(card_id):
                card = self.api.get(f"/cards/{card_id}", "read a backlog card", {"fields": CARD_FIELDS})
                if isinstance(card, dict):
                    cards[card_id] = card
        mine = {cid: card for cid, card in cards.items() if self._is_mine(card)}
        for card in mine.values():
            batch.items.append(self._item(card, lists, board, customer))
        for action in actions:
            card_id = ((action.get("data") or {}).get("card") or {}).get("id")
            if card_id in mine:
                event = event_of(action, lists=lists, card_url=str(mine[card_id].get("url") or "") or None)
                if event is not None:
                    batch.events.append(event)
        return batch

    def _actions(self, board: dict[str, Any], since: str) -> list[dict[str, Any]]:
        """Every relevant action newer than ``since``, newest first (all pages)."""
        out: list[dict[str, Any]] = []
        before: str | None = None
        while True:
            params: dict[str, Any] = {"filter": ACTION_FILTER, "since": since, "limit": PAGE}
            if before:
                params["before"] = before
            page = self.api.get(f"/boards/{board['id']}/actions", "read the board's actions", params)
            if not isinstance(page, list):
                raise BadPayload("Trello sent an action list that is not a list", source="trello")
            out.extend(a for a in page if isinstance(a, dict) and isinstance(a.get("id"), str))
            if len(page) < PAGE:
                return out
            before = str(page[-1]["id"])

    def _cards_all(self, board: dict[str, Any]) -> dict[str, dict[str, Any]]:
        rows = self.api.get(f"/boards/{board['id']}/cards/all", "read the board's cards", {"fields": CARD_FIELDS})
        if not isinstance(rows, list):
            raise BadPayload("Trello sent a card list that is not a list", source="trello")
        return {str(c["id"]): c for c in rows if isinstance(c, dict) and isinstance(c.get("id"), str)}

    def _maybe_mine(self, card_id: str) -> bool:
        return self._mine.get(card_id, True) or trello_id(card_id) in self._known

    def _is_mine(self, card: dict[str, Any]) -> bool:
        card_id = str(card["id"])
        mine = footer_of(str(card.get("desc") or "")) is not None or trello_id(card_id) in self._known
        self._mine[card_id] = mine
        return mine

    def _item(self, card: dict[str, Any], lists: dict[str, str], board: dict[str, Any], customer: str) -> SourceItem:
        return card_item(card, lists=lists, board=board, customer=customer, linked_to=None, now=self.clock())

    def _fetch_linked(self) -> Batch | None:
        """Cards an open request links to that were never read (e.g. a card URL pasted into a
        thread, or a card created before its board was configured)."""
        wanted = [i.removeprefix("trello:") for i in self._linked]
        if not wanted:
            return None
        batch = Batch()
        boards_by_id = {b["id"]: (key, b) for key, ref in self._customer_boards() for b in [self._board(ref)]}
        for card_id in wanted:
            try:
                card = self.api.get(f"/cards/{card_id}", "read a linked card", {"fields": CARD_FIELDS})
            except NotFound:
                continue
            if not isinstance(card, dict) or "id" not in card:
                continue
            customer, board = boards_by_id.get(str(card.get("idBoard")), (None, {"id": card.get("idBoard")}))
            lists = self._lists(board) if customer else {}
            batch.items.append(card_item(card, lists=lists, board=board, customer=customer, linked_to=None,
                                         now=self.clock()))
        self._linked = set()
        return batch


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
