"""An outbox action as plain data: what it does, where it goes, where it is in its life.

An :class:`Action` is one write to one destination (a GitHub comment, a Slack thread reply, an
assignment, a label change, a reaction, an issue in the backlog repo). The outbox queues and
sends them; the writers in ``integrations/`` carry them to GitHub and Slack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["UNSENT_STATES", "Action", "ActionKind", "ActionState", "Target"]

Target = str
"""Where an action goes: the name of an integration (``github``, ``slack``, …); the outbox
sends it through that integration's writer."""


class ActionKind(StrEnum):
    """What an action does at its destination."""

    ASSIGN = "assign"
    UNASSIGN = "unassign"
    REPLY = "reply"
    ADD_LABELS = "add_labels"
    REMOVE_LABELS = "remove_labels"
    SET_PRIORITY = "set_priority"
    PENDING = "pending"
    RESUME = "resume"
    BACKLOG = "backlog"
    CLOSE = "close"
    REOPEN = "reopen"
    REACT = "react"
    CREATE_ISSUE = "create_issue"


class ActionState(StrEnum):
    """Where an action is in its life.

    ``queued`` → ``sending`` (claimed by one dispatcher, with a lease) → ``sent``; a transient
    failure puts it back to ``queued`` with a ``next_attempt_at``; too many transient failures
    make it ``failed``; a permanent failure (401/403/404/422) or a conflict makes it
    ``needs_attention``; the user can ``retry`` or ``drop`` those.
    """

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    NEEDS_ATTENTION = "needs_attention"
    DROPPED = "dropped"

    @property
    def unsent(self) -> bool:
        """True while the action has not reached its destination (and was not dropped)."""
        return self in UNSENT_STATES


UNSENT_STATES = frozenset(
    {ActionState.QUEUED, ActionState.SENDING, ActionState.FAILED, ActionState.NEEDS_ATTENTION}
)


@dataclass(slots=True)
class Action:
    """One queued write.

    Attributes:
        id: the action id; it travels to the destination (GitHub comment marker, Slack message
            metadata) so a retry can tell whether the write already landed.
        request_id: the request it belongs to (canonical id at the time it was queued).
        kind: what it does.
        target: ``github`` or ``slack`` (later: ``trello``…).
        params: where and how (repo/number, channel/ts, logins, labels, expectations for the
            conflict check); plain JSON.
        text: the rendered message for comments and thread replies, else None.
        state: see :class:`ActionState`.
        attempts: how many times a dispatcher claimed it.
        last_error: the reason of the last failure, for the user.
        next_attempt_at: not before this instant (rate limits, backoff).
        created_at: when it was queued.
        sent_at: when the destination confirmed it.
        group_id: one user verb = one group.
        summary: a human line, e.g. ``comment on GitHub: "Your request is assigned to…"``.
        result: what the destination answered (comment id and URL, message ts, issue URL…).
        seq: the global queue order.
        fence: the fencing token of the current claim (bumped by every claim); a sender may
            write and record only while the stored token is still its own.
        first_attempt_at: when a dispatcher first claimed it: an earlier attempt can only have
            landed after this, so the look-up for it starts here.

        hold_until: not sent before this real (wall-clock) instant: the user can still undo
            it until then (None: send when due).
        actor: the roster key of the person who queued it (``me``; empty for idqueue's own
            notifications and for actions queued before this was recorded).
    """

    id: str
    request_id: str
    kind: ActionKind
    target: str
    params: dict[str, Any]
    text: str | None
    state: ActionState
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    group_id: str
    summary: str
    result: dict[str, Any] = field(default_factory=dict)
    seq: int = 0
    fence: int = 0
    first_attempt_at: datetime | None = None

    hold_until: datetime | None = None
    actor: str = ""

    @property
    def automation(self) -> bool:
        """True for messages idqueue sends by itself (the "assigned"/"closed" automation)."""
        return bool(self.params.get("automation"))
