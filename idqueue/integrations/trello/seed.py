"""The consultancy's Trello boards for the sandbox: three customers, each with a board with the
lists "New Issues", "Up next" and "Recently Completed", a fortnight of the team's own cards, and
one card for each request idqueue backlogged (created with idqueue's footer and moved along the
lists as the request's story says).

The requests themselves come from the other systems' seeds (the support mailbox); they hand
:func:`seed_boards` what was backlogged, so the cards link to the right request ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from idqueue.integrations.trello.emulator import TBoard, TrelloState
from idqueue.integrations.trello.marker import card_footer

__all__ = ["CUSTOMERS", "Backlogged", "SeedCustomer", "customers_config", "seed_boards"]


@dataclass(frozen=True, slots=True)
class SeedCustomer:
    """A customer of the sandbox consultancy."""

    key: str
    name: str
    domains: tuple[str, ...]
    board: str
    lists: tuple[str, ...] = ("New Issues", "Up next", "Recently Completed")
    backlog_list: str = "New Issues"


CUSTOMERS: tuple[SeedCustomer, ...] = (
    SeedCustomer("acme", "Acme Retail", ("acme-retail.co.uk",), "Acme Retail — Support"),
    SeedCustomer("northwind", "Northwind Health", ("northwind-health.org", "nwh.nhs.example"), "Northwind Support"),
    SeedCustomer("bramble", "Bramble Energy", ("brambleenergy.com",), "Bramble Energy backlog",
                 ("Inbox", "Up next", "Recently Completed"), "Inbox"),
)
"""The three customers (Bramble's backlog list is called "Inbox": configurable per customer)."""

_OWN_CARDS: dict[str, tuple[tuple[str, str], ...]] = {
    "acme": (("Upgrade Rails to 7.2", "Up next"), ("Checkout copy changes", "Recently Completed"),
             ("Nightly stock import slow", "New Issues")),
    "northwind": (("Accessibility audit fixes", "Up next"), ("Rotate API keys", "Recently Completed")),
    "bramble": (("Meter reading CSV export", "Inbox"), ("Tariff page typo", "Recently Completed")),
}
"""Cards the team made by hand (idqueue ignores them)."""


@dataclass(frozen=True, slots=True)
class Backlogged:
    """A request idqueue moved to a customer's backlog, and what happened to its card since.

    Attributes:
        request_id: the request's id (what the card's footer names).
        action_id: the outbox action that created the card.
        title: the card's name.
        customer: the customer's key.
        at: when it was backlogged.
        moves: ``(list name or "archived", hours after ``at``)``, in order.
        links: the request's homes (the first is attached to the card).
    """

    request_id: str
    action_id: str
    title: str
    customer: str
    at: datetime
    moves: tuple[tuple[str, float], ...] = ()
    links: dict[str, str] = field(default_factory=dict)


def seed_boards(state: TrelloState, *, now: datetime, backlogged: Sequence[Backlogged] = (),
                customers: Sequence[SeedCustomer] = CUSTOMERS) -> dict[str, TBoard]:
    """Create the customers' boards with the team's own cards and idqueue's backlog cards.

    Args:
        state: the emulator's data.
        now: the sandbox's "now" (the fortnight ends there).
        backlogged: the requests idqueue backlogged (their cards, moves and comments).
        customers: whose boards (default: :data:`CUSTOMERS`; another seed's customers, so their
            mail domains match).

    Returns:
        customer key → board.
    """
    nick = state.add_member("nickwood", "Nick Wood")
    boards: dict[str, TBoard] = {}
    for n, customer in enumerate(customers):
        with state.at(now - timedelta(days=60)):
            board = state.add_board(customer.board, customer.lists)
        boards[customer.key] = board
        for m, (name, list_name) in enumerate(_OWN_CARDS.get(customer.key, ())):
            with state.at(now - timedelta(days=13 - n - m, hours=3)):
                card = state.create_card(state.list_named(board, customer.lists[0]).id, name, "", member=nick)
            if list_name != customer.lists[0]:
                with state.at(now - timedelta(days=6 - m)):
                    state.move_card(card, list_name, member=nick)
    by_key = {c.key: c for c in customers}
    for item in backlogged:
        board, customer = boards[item.customer], by_key[item.customer]
        urls = [u for u in item.links.values() if u.startswith("https://")]
        with state.at(item.at):
            card = state.create_card(state.list_named(board, customer.backlog_list).id, item.title,
                                     _description(item) + card_footer(item.request_id, item.action_id),
                                     url_source=urls[0] if urls else None)
        for target, hours in item.moves:
            with state.at(item.at + timedelta(hours=hours)):
                if target == "archived":
                    state.archive(card, member=nick)
                else:
                    state.move_card(card, target, member=nick)
            if target == "Up next":
                with state.at(item.at + timedelta(hours=hours, minutes=5)):
                    state.comment(card, "Agreed with the customer on the weekly call.", member=nick)
    return boards


def _description(item: Backlogged) -> str:
    lines = ["Moved to the backlog by the triage rotation.", ""]
    lines += [f"**{system.capitalize()}:** {url}" for system, url in item.links.items()]
    return "\n".join(lines)


def customers_config(boards: dict[str, TBoard],
                     customers: Sequence[SeedCustomer] = CUSTOMERS) -> dict[str, dict[str, Any]]:
    """``IDQUEUE_CUSTOMERS`` for the seeded boards (board by short link)."""
    out: dict[str, dict[str, Any]] = {}
    for customer in customers:
        out[customer.key] = {"name": customer.name, "domains": list(customer.domains),
                             "trello_board": boards[customer.key].short_link, "backlog_list": customer.backlog_list}
    return out
