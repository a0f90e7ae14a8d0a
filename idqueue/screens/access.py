"""Which keys change something: refused, and left out of the footer, in a read-only session.

A read-only session is a browser viewer who is not on the team's roster (``read_only``). The
app refuses these actions in one place (``IdqueueApp.run_action``); the screens hide them from
their footers with :func:`hidden_in_read_only`, so a viewer is not offered keys that only say no.
"""

from __future__ import annotations

from textual.binding import Binding

READ_ONLY_REFUSAL = "read-only: you are not on the team's roster"
"""What a key that would change something says in a read-only session (``read_only``)."""

WRITE_BINDINGS = frozenset({
    "queue.assign", "queue.take", "queue.reply", "queue.backlog", "queue.close", "queue.pending",
    "queue.priority", "queue.snooze", "queue.customer", "queue.retry", "queue.undo", "queue.unassign",
    "queue.resume", "queue.reopen", "queue.unsnooze",
    "outbox.retry", "outbox.drop", "outbox.undo", "reply.send", "reply.discard_draft",
})
"""The bindings whose action queues an outbox action or changes local state (snooze, priority
override, customer, drafts): refused in a read-only session."""


_found: dict[type, frozenset[str]] = {}


def write_actions(owner: type) -> frozenset[str]:
    """The action names of ``owner``'s bindings that are in :data:`WRITE_BINDINGS`."""
    if owner not in _found:
        bindings = getattr(owner, "BINDINGS", ())
        _found[owner] = frozenset(b.action.split("(", 1)[0] for b in bindings
                                  if isinstance(b, Binding) and b.id in WRITE_BINDINGS)
    return _found[owner]


def hidden_in_read_only(owner: object, action: str, read_only: bool) -> bool:
    """Whether ``owner``'s ``action`` is left out of the footer (a read-only session, a write key)."""
    return read_only and action in write_actions(type(owner))
