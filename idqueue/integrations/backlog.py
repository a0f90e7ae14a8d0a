"""Backlog destinations: where a request goes when it is backlogged and cannot be backlogged in place.

A GitHub request is backlogged in place (label + unassign). A Slack-only request has no issue to
label, so it becomes a new item in a *backlog destination*: an issue in the GitHub backlog
repository today, a Trello card or a Jira issue for teams that keep their backlog there. An
integration declares its destination in its ``INTEGRATION`` (``backlog="module:Class"``) and the
configuration chooses one (``[backlog] destination``, see :mod:`idqueue.outbox.backlog`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from idqueue.config import Settings
    from idqueue.domain.models import Request
    from idqueue.integrations.planning import Step

__all__ = ["BacklogDestination"]


class BacklogDestination(ABC):
    """A place where requests are tracked once backlogged.

    Args:
        settings: the configuration (where in the system the backlog is).

    Attributes:
        target: the integration whose writer creates the item (``github``; later ``trello``).
        noun: what the new item is called in messages ("the backlog issue").
    """

    target: str = ""
    noun: str = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    def describe(self) -> str:
        """A short human name, e.g. ``va-identity/backlog on GitHub``."""

    def claims(self, request: Request) -> bool:
        """Whether this destination has a place of its own for ``request`` (a customer's board);
        with no ``[backlog] destination`` configured, the first writable one that claims a
        request gets it. The default: no particular claim."""
        return False

    @abstractmethod
    def plan(self, request: Request, *, actor: str | None, now: datetime) -> Step:
        """The step that creates the backlog item for ``request``.

        The writer's result must carry ``url`` (the link the request's thread gets) and ``ref``.

        Raises:
            ActionError: the destination is not configured.
        """
