"""Unsent outbox actions per request, as the queue's rows and the CLI's ``list`` mark them.

The queue shows ``↑n`` (queued) or ``!n`` (failed) on a request until the outbox confirms its
actions; :func:`outbox_lookup` reads those for the requests on screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from idqueue.domain.actions import ActionState
from idqueue.safety import one_line

if TYPE_CHECKING:  # the service pulls in Jinja2 on first use; a lookup only needs its ``all``
    from idqueue.outbox.service import Actions

__all__ = ["PendingInfo", "PendingItem", "PendingLookup", "outbox_lookup"]


@dataclass(slots=True)
class PendingItem:
    """One unsent action, for display."""

    action_id: str
    summary: str
    state: str
    failed: bool
    error: str = ""
    actor: str = ""
    """Who queued it (roster key; empty for idqueue's own notifications)."""


@dataclass(slots=True)
class PendingInfo:
    """Unsent outbox actions of one request (shown until the outbox confirms them)."""

    queued: int = 0
    failed: int = 0
    items: list[PendingItem] = field(default_factory=list)
    assignee: str | None = None
    """Roster key of a pending assignment (shown as "→ name" until it is confirmed)."""

    @property
    def total(self) -> int:
        """Queued + failed actions."""
        return self.queued + self.failed


PendingLookup = Callable[[Sequence[str]], dict[str, PendingInfo]]
"""Unsent outbox actions for some request ids (empty when the outbox is unavailable)."""


def outbox_lookup(actions: Actions) -> PendingLookup:
    """A :data:`PendingLookup` over the outbox service (``Actions.all``)."""
    unsent = (ActionState.QUEUED, ActionState.SENDING, ActionState.FAILED, ActionState.NEEDS_ATTENTION)
    failed_states = {ActionState.FAILED, ActionState.NEEDS_ATTENTION}

    def lookup(ids: Sequence[str]) -> dict[str, PendingInfo]:
        wanted = set(ids)
        out: dict[str, PendingInfo] = {}
        for action in actions.all(states=unsent):
            if action.request_id not in wanted:
                continue
            info = out.setdefault(action.request_id, PendingInfo())
            failed = action.state in failed_states
            if failed:
                info.failed += 1
            else:
                info.queued += 1
            member = action.params.get("member") if action.kind.value == "assign" else None
            if member and not failed:
                info.assignee = str(member)
            info.items.append(
                PendingItem(
                    action_id=action.id,
                    summary=one_line(action.summary or action.kind.value, 200),
                    state=str(action.state.value).replace("_", " "),
                    failed=failed,
                    error=one_line(action.last_error or "", 300),
                    actor=one_line(action.actor, 60),
                )
            )
        return out

    return lookup
