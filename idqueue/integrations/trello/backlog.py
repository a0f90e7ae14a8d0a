"""What a backlog card says and where it goes: the parameters and text of the Trello writer's
action for one request (pure; the outbox turns them into its step).

The card goes to the customer's board (``trello_board``) and list (``backlog_list``); its name is
the request's title; its description names who moved it and when, the requester, the customer
and every home of the request (mail thread, Slack permalink, GitHub issue), then quotes the
request. Untrusted text is made harmless for Trello's Markdown: ``@name`` is wrapped in
backticks so copying a mail does not notify a board member.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from idqueue.config import Settings
from idqueue.domain.actions import ActionKind
from idqueue.domain.customers import customer_for
from idqueue.domain.models import Request
from idqueue.integrations.backlog import BacklogDestination
from idqueue.integrations.planning import ActionError, Step

__all__ = ["CardPlan", "NoBoard", "TrelloBacklog", "card_plan", "customer_of", "trello_safe"]

_MENTION = re.compile(r"(?<![\w@`/.])@[A-Za-z0-9_][A-Za-z0-9_.-]*")
_BREAKS = re.compile(r"[\r\n]+")
QUOTE_LIMIT = 8000
"""How much of the request's text the card quotes (Trello's description limit is 16,384)."""


class NoBoard(ValueError):
    """The request has no customer with a Trello board; the message says what to configure."""


@dataclass(frozen=True, slots=True)
class CardPlan:
    """The Trello action for one backlog card: ``params`` and ``text`` as the writer expects them."""

    summary: str
    text: str
    params: dict[str, Any] = field(default_factory=dict)


def trello_safe(text: str, *, inline: bool = False) -> str:
    """Untrusted text for a card: mentions in backticks; with ``inline``, on one line."""
    text = _MENTION.sub(lambda m: f"`{m.group(0)}`", text)
    if inline:
        text = _BREAKS.sub(" ", text).strip()
    return text


def card_plan(request: Request, settings: Settings, *, customer: str | None, actor: str | None,
              now: datetime) -> CardPlan:
    """The backlog card for ``request`` on its customer's board.

    Args:
        request: the request.
        settings: customers and roster.
        customer: the request's customer key.
        actor: the roster key of who moves it (named in the description).
        now: the clock.

    Raises:
        NoBoard: no customer, an unknown one, or one without ``trello_board``.
    """
    config = settings.customers.get(customer) if customer else None
    if config is None:
        raise NoBoard("this request has no customer: add its sender's domain to IDQUEUE_CUSTOMERS "
                      "(or assign a customer) to backlog it to a Trello board")
    if not config.trello_board:
        raise NoBoard(f"customer {customer!r} has no Trello board: set customers.{customer}.trello_board")
    title = " ".join((request.title or "Support request").split())[:500] or "Support request"
    who = settings.team[actor].name if actor and actor in settings.team else "the triage rotation"
    lines = [f"Moved to the backlog by {trello_safe(who, inline=True)} on {now.date().isoformat()}.", ""]
    if request.requester is not None:
        lines.append(f"**Requested by:** {trello_safe(request.requester.name, inline=True)}")
    lines.append(f"**Customer:** {trello_safe(config.name, inline=True)}")
    for system, url in request.links.items():
        lines.append(f"**{system.capitalize()}:** {trello_safe(url, inline=True)}")
    original = trello_safe(request.body or request.title or "").strip("\n")[:QUOTE_LIMIT]
    lines += ["", "Original request:", "", *(f"> {line}".rstrip() for line in original.split("\n"))]
    requester = request.requester.name if request.requester is not None else None
    return CardPlan(
        summary=f"create a card on {config.name}'s Trello board ({config.backlog_list}): {title[:60]}",
        text="\n".join(lines) + "\n",
        params={"board": config.trello_board, "list": config.backlog_list, "title": title, "customer": customer,
                "requester": requester, "links": dict(request.links), "actor": actor},
    )


def customer_of(request: Request, settings: Settings) -> str | None:
    """The request's customer: the one it was assigned (a ``customer`` attribute, when the
    request carries one), else the one its requester's address belongs to."""
    given = getattr(request, "customer", None)
    if isinstance(given, str) and given:
        return given
    requester = request.requester.id if request.requester is not None else ""
    return customer_for(requester, settings.customers) if "@" in requester else None


class TrelloBacklog(BacklogDestination):
    """A card on the request's customer's board, in its ``backlog_list`` (see :func:`card_plan`)."""

    target = "trello"
    noun = "the backlog card"

    def describe(self) -> str:
        """Where the cards go."""
        boards = [c.name for c in self.settings.customers.values() if c.trello_board]
        return f"the customers' Trello boards ({', '.join(boards) or 'none configured'})"

    def claims(self, request: Request) -> bool:
        """The request's customer has a Trello board."""
        customer = customer_of(request, self.settings)
        config = self.settings.customers.get(customer) if customer else None
        return config is not None and bool(config.trello_board)

    def plan(self, request: Request, *, actor: str | None, now: datetime) -> Step:
        """A ``create_issue`` step for the Trello writer (one card, exactly once).

        Raises:
            ActionError: the request has no customer with a board.
        """
        try:
            card = card_plan(request, self.settings, customer=customer_of(request, self.settings), actor=actor,
                             now=now)
        except NoBoard as exc:
            raise ActionError(str(exc)) from None
        return Step(kind=ActionKind.CREATE_ISSUE, target=self.target, summary=card.summary, text=card.text,
                    params=card.params)
