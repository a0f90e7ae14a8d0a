"""The outbox's data: actions, their states, planned steps and errors.

An :class:`Action` is one write to one destination (a GitHub comment, a Slack thread reply, an
assignment, a label change, a reaction, an issue in the backlog repo). One user verb ("close
REQ-12") becomes a *group* of actions that are sent in order. A :class:`Step` is the same thing
before it is queued: what previews and ``--dry-run`` show.

The action itself is domain data (:mod:`idqueue.domain.actions`) and the write errors and fence
belong to the integrations' contract (:mod:`idqueue.integrations.base`), because the writers
in ``integrations/`` carry actions too; planned steps and planning errors belong to the planners'
contract (:mod:`idqueue.integrations.planning`). They are re-exported here as the outbox's
vocabulary.
"""

from __future__ import annotations

from idqueue.domain.actions import UNSENT_STATES, Action, ActionKind, ActionState, Target
from idqueue.integrations.base import ConflictError, LeaseLost, TimedOut, before_write, fenced
from idqueue.integrations.planning import LINK_PLACEHOLDER, ActionError, NothingToDo, Step

__all__ = [
    "LINK_PLACEHOLDER",
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
