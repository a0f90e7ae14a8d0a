"""The outbox's data: actions, their states, planned steps and errors.

An :class:`Action` is one write to one destination (a GitHub comment, a Slack thread reply, an
assignment, a label change, a reaction, an issue in the backlog repo). One user verb ("close
REQ-12") becomes a *group* of actions that are sent in order. A :class:`Step` is the same thing
before it is queued: what previews and ``--dry-run`` show.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from idqueue.domain.pii import PiiMatch
from idqueue.integrations.base import SourceError, Unavailable

__all__ = [
    "Action",
    "ActionError",
    "ActionKind",
    "ActionState",
    "ConflictError",
    "LeaseLost",
    "NothingToDo",
    "Step",
    "Target",
    "TimedOut",
    "before_write",
    "fenced",
    "marker",
]

Target = Literal["github", "slack"]


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

    @property
    def automation(self) -> bool:
        """True for messages idqueue sends by itself (the "assigned"/"closed" automation)."""
        return bool(self.params.get("automation"))


@dataclass(slots=True)
class Step:
    """A planned action: what previews and ``--dry-run`` show, and what enqueueing stores.

    Attributes:
        kind: what it will do.
        target: ``github`` or ``slack``.
        summary: a human line.
        text: the exact text that will be posted (without the hidden marker), if any.
        missing: template variables without a value; nothing is queued while any are missing.
        pii: spans of ``text`` that look like personal data (a warning for public GitHub issues).
        params: the action's parameters.
        link_from: index (in the same plan) of a step whose result URL replaces
            :data:`LINK_PLACEHOLDER` in this step's text at send time (the new backlog issue).
        reassign_from: who has the request now, when this step takes it from them (an
            assignment that replaces someone else); previews warn and ask to reassign.
        edited: the text is the user's edit of a template's text, not the template's own.
    """

    kind: ActionKind
    target: str
    summary: str
    text: str | None = None
    missing: tuple[str, ...] = ()
    pii: tuple[PiiMatch, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    link_from: int | None = None
    reassign_from: str | None = None
    edited: bool = False


_SAFE_KEY = re.compile(r"^[A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+)*$")

LINK_PLACEHOLDER = "https://idqueue.invalid/new-backlog-issue"
"""Stands for the URL of an issue that does not exist yet, in texts planned before it is
created; the dispatcher replaces it with the real URL before sending."""


class ActionError(Exception):
    """An action cannot be planned or changed; the message is for the user."""


class NothingToDo(ActionError):
    """The action would change nothing (e.g. taking a request that is already yours).

    Not a failure: callers say so and queue nothing (the CLI exits 0).
    """


class ConflictError(SourceError):
    """The target changed since the action was queued (someone else assigned or closed it).

    The action is not sent; it waits for the user, with a message saying who did what.
    """

    kind = "conflict"
    permanent = True


class TimedOut(Unavailable):
    """The destination did not answer in time: it may still apply the write.

    The next attempt waits the in-flight horizon (``outbox.inflight_horizon``) from the moment of
    the timeout, so a slow server has finished before the dispatcher looks for the action at the
    destination.
    """

    kind = "timeout"


class LeaseLost(Exception):
    """Another sender took this action over (this one was paused past its lease).

    Raised by :func:`before_write` so the paused sender writes nothing more and records nothing:
    the new owner reconciles and records.
    """


_GUARD: ContextVar[Callable[[], None] | None] = ContextVar("idqueue_outbox_guard", default=None)


def before_write() -> None:
    """Re-check this sender's claim immediately before a request that changes something upstream.

    Every writer calls it right before each non-idempotent network write (post, create, assign,
    label, close). Inside :func:`fenced` it compares the stored fencing token with the claim's
    (and renews the lease); outside, it does nothing.

    Raises:
        LeaseLost: the action was taken over; do not write.
    """
    guard = _GUARD.get()
    if guard is not None:
        guard()


@contextmanager
def fenced(guard: Callable[[], None]) -> Iterator[None]:
    """Make :func:`before_write` call ``guard`` within the block (the dispatcher's fence check)."""
    token = _GUARD.set(guard)
    try:
        yield
    finally:
        _GUARD.reset(token)


def marker(action_id: str, *, automation: bool = False, actor: str | None = None) -> str:
    """idqueue's hidden marker for a GitHub body: ``<!-- idqueue:action=ID -->``.

    The GitHub read source parses it back (``parse_marker``) so the comment is recognised as
    idqueue's, and a retry finds it to avoid posting twice.
    """
    parts = [f"action={action_id}"]
    if automation:
        parts.append("automation=1")
    if actor and _SAFE_KEY.match(actor):
        parts.append(f"actor={actor}")
    return f"<!-- idqueue:{' '.join(parts)} -->"
