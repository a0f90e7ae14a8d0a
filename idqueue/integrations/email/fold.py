"""How an email thread folds into a request (:class:`~idqueue.domain.homes.HomeRules`).

The thread's first message is the request; its sender is the requester (for a forwarded mail,
the person who forwarded it: they are the one waiting for an answer). Teammates are recognised
by the roster's ``email`` field, compared case-insensitively (the reader's ``actor_id`` is the
lower-cased address), and mail from the support address itself is the team's too.

A mail thread has no assignee, status or backlog field: what the triager decides (assign,
close, pending, backlog) is recorded by idqueue as state events in its own database
(:mod:`idqueue.integrations.email.planner`), and the generic event rules read them back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from idqueue.domain.homes import HomeRules
from idqueue.domain.models import SourceItem

if TYPE_CHECKING:
    from idqueue.config import Settings


class EmailRules(HomeRules):
    """Email's fold rules: state from idqueue's events; the support address is the team."""

    keeps_state: ClassVar[bool] = False
    requester_rank: ClassVar[int] = 0
    case_insensitive_ids: ClassVar[bool] = True

    def __init__(self, name: str, roster_field: str = "", settings: Settings | None = None) -> None:
        super().__init__(name, roster_field, settings)
        address = settings.email.address if settings is not None else None
        self.support = address.lower() if address else None

    def is_team(self, actor_id: str) -> bool:
        """The support address (mail idqueue or a teammate sent from the shared mailbox)."""
        return self.support is not None and actor_id.lower() == self.support

    def labels(self, item: SourceItem) -> list[str]:
        """None: a mail has no labels."""
        return []
