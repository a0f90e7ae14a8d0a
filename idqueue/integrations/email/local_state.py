"""An email request's assignee and status, kept in idqueue's own database.

A mail thread has nowhere to hold "assigned to Luke" or "closed": the outbox's state actions on
the email target (assign, unassign, close, reopen, pending, resume, backlog) are recorded here
as timeline events of the request's email item, which the fold rules read like any other
idqueue state event. The event's uid is derived from the action (``idqueue-state:<action id>``):
recording twice upserts the same row, and a retry after a crash finds it (:func:`recorded`), so
a state change is never lost and never doubled. In team mode the database is the shared one, so
every triager sees the same state.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from idqueue.domain.actions import Action, ActionKind
from idqueue.domain.models import EventKind, SourceKind, TimelineEvent
from idqueue.integrations.base import ConflictError, NotFound
from idqueue.integrations.planning import status_class
from idqueue.store.items import source_item

if TYPE_CHECKING:
    from idqueue.config import Settings
    from idqueue.store.db import Assembler, Store

__all__ = ["STATE_KINDS", "check_state", "record_state", "recorded", "state_uid"]

STATE_KINDS: dict[ActionKind, EventKind] = {
    ActionKind.ASSIGN: EventKind.ASSIGNED, ActionKind.UNASSIGN: EventKind.UNASSIGNED,
    ActionKind.CLOSE: EventKind.CLOSED, ActionKind.REOPEN: EventKind.REOPENED,
    ActionKind.PENDING: EventKind.PENDING, ActionKind.RESUME: EventKind.RESUMED,
    ActionKind.BACKLOG: EventKind.BACKLOG,
}
"""The local state actions and the timeline event each one records."""


def state_uid(action: Action) -> str:
    """The timeline uid of a state action's event."""
    return f"idqueue-state:{action.id}"


def _item_id(action: Action) -> str:
    return str(action.params.get("item") or action.request_id)


def state_event(settings: Settings, action: Action, *, now: datetime) -> TimelineEvent:
    """The event a state action records (who did it, the assignee or the close reason)."""
    actor = action.params.get("actor")
    member = settings.team.get(actor) if isinstance(actor, str) else None
    data: dict[str, Any] = {"action_id": action.id, "actor": actor, "local": True}
    if action.params.get("assignee") is not None:
        data["assignee"] = action.params["assignee"]
    if action.params.get("reason"):
        data["reason"] = action.params["reason"]
    return TimelineEvent(
        uid=state_uid(action), item_id=_item_id(action), kind=STATE_KINDS[action.kind], at=now,
        actor_id=member.email.lower() if member is not None and member.email else None,
        actor_name=member.name if member is not None else None, body="", url=None,
        source=SourceKind("email"), is_bot=False, data=data,
    )


def recorded(store: Store, action: Action) -> bool:
    """Whether the action's event is already in the store (an earlier attempt recorded it)."""
    request = store.get_request(_item_id(action))
    if request is None:
        return False
    uid = state_uid(action)
    return any(e.uid == uid for e in store.timeline(request.id))


def check_state(store: Store, action: Action) -> None:
    """Compare the stored state with what the action expects (``params["check"]``).

    Raises:
        ConflictError: someone else changed the request since the action was queued.
        NotFound: the request's mail thread is not in the store.
    """
    request = store.get_request(_item_id(action))
    if request is None:
        raise NotFound(f"no email request {_item_id(action)!r} in idqueue's database", source="email")
    check = action.params.get("check")
    if not isinstance(check, dict):
        return
    status = status_class(request.status)
    if "status" in check and check["status"] != status:
        raise ConflictError(f"the request is now {status} (expected {check['status']})", source="email")
    if "assignee" in check and check["assignee"] != request.assignee:
        raise ConflictError(f"the request is now assigned to {request.assignee or 'nobody'} "
                            f"(expected {check['assignee'] or 'nobody'})", source="email")


def record_state(store: Store, settings: Settings, action: Action, *, now: datetime, assembler: Assembler) -> bool:
    """Record a state action's event and re-assemble the request (idempotent).

    Returns:
        False when the request's mail thread is not in the store (nothing recorded).
    """
    item = source_item(store, _item_id(action))
    if item is None:
        return False
    # The timeline is ordered by time: the new state must come after every earlier one, also
    # when the clock stands still (IDQUEUE_NOW) or two verbs land in the same microsecond.
    request = store.get_request(item.id)
    latest = max((e.at for e in store.timeline(request.id)), default=None) if request is not None else None
    at = max(now, latest + timedelta(microseconds=1)) if latest is not None else now
    store.apply("email", items=[item], events=[state_event(settings, action, now=at)], assembler=assembler, now=now)
    return True
