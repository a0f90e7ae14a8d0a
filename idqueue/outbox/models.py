"""The outbox's data: actions, their states, planned steps and errors.

An :class:`Action` is one write to one destination (a GitHub comment, a Slack thread reply, an
assignment, a label change, a reaction, an issue in the backlog repo). One user verb ("close
REQ-12") becomes a *group* of actions that are sent in order. A :class:`Step` is the same thing
before it is queued: what previews and ``--dry-run`` show.

The action itself is domain data (:mod:`idqueue.domain.actions`) and the write errors and fence
belong to the integrations' contract (:mod:`idqueue.integrations.base`), because the writers
in ``integrations/`` carry actions too; they are re-exported here as the outbox's vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from idqueue.domain.actions import UNSENT_STATES, Action, ActionKind, ActionState, Target
from idqueue.domain.pii import PiiMatch
from idqueue.integrations.base import ConflictError, LeaseLost, TimedOut, before_write, fenced

__all__ = [
    "UNSENT_STATES",
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
]

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


LINK_PLACEHOLDER = "https://idqueue.invalid/new-backlog-issue"
"""Stands for the URL of an issue that does not exist yet, in texts planned before it is
created; the dispatcher replaces it with the real URL before sending."""


class ActionError(Exception):
    """An action cannot be planned or changed; the message is for the user."""


class NothingToDo(ActionError):
    """The action would change nothing (e.g. taking a request that is already yours).

    Not a failure: callers say so and queue nothing (the CLI exits 0).
    """


