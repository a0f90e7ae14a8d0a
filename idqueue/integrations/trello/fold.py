"""How a backlog card folds into its request (:class:`~idqueue.domain.homes.HomeRules`).

A card is never a request by itself, and never the home that decides a request's assignee or
status: it is where the request waits in a customer's backlog. Its list ("New Issues", "Up next",
"Recently Completed", or "archived") is the request's *backlog state*, shown by ``show`` and the
detail pane; its URL is ``links.trello``. A group made only of cards (the request's mail thread
is not read yet) is kept in the store but not listed.
"""

from __future__ import annotations

from typing import ClassVar

from idqueue.domain.homes import HomeRules
from idqueue.domain.models import SourceItem


class TrelloRules(HomeRules):
    """Trello's fold rules: no state, no labels, not a request alone; the list is the backlog state."""

    keeps_state: ClassVar[bool] = False
    requester_rank: ClassVar[int] = 2
    standalone: ClassVar[bool] = False

    def labels(self, item: SourceItem) -> list[str]:
        """None: card labels are the customer's own."""
        return []

    def backlog_state(self, item: SourceItem) -> str | None:
        """The card's list name, or "archived"."""
        state = item.raw.get("backlog_state")
        return str(state) if isinstance(state, str) and state else None
