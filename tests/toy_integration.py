"""A toy integration for the write-back tests: a planner, a writer and an in-memory destination.

It shows what one more system needs to take part in write-back: an ``INTEGRATION`` with a
planner and a writer, nothing in the outbox's core. The destination is a "tracker" in memory
that stores tickets' replies and states and counts every write, so a test can check that the
real dispatcher sends each action exactly once (and that a resend after a crash is reconciled).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from idqueue.config import Settings
from idqueue.domain.actions import Action, ActionKind
from idqueue.domain.models import Person, Request, SourceItem, SourceKind, Status, TimelineEvent
from idqueue.integrations import registry
from idqueue.integrations.backlog import BacklogDestination
from idqueue.integrations.base import TimedOut, before_write
from idqueue.integrations.planning import (
    HomePlanner,
    HomeState,
    PlanContext,
    Projection,
    Step,
    snippet,
)

NAME = "toy"


@dataclass
class Tracker:
    """The toy system's server side: what was written, and how many writes there were."""

    writes: int = 0
    replies: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """ticket → (action id, text), in order."""
    states: dict[str, str] = field(default_factory=dict)
    written_by: dict[str, int] = field(default_factory=dict)
    """action id → how many times it was written."""
    cards: dict[str, str] = field(default_factory=dict)
    """action id → the URL of the backlog card it created."""
    lose_answers: int = 0
    """Writes whose answer is lost (the write lands, the writer times out)."""

    def write(self, action_id: str) -> None:
        self.writes += 1
        self.written_by[action_id] = self.written_by.get(action_id, 0) + 1


TRACKER = Tracker()


class ToyWriter:
    """Carries the toy's actions to :data:`TRACKER` (a reply, a close), with the action id on
    every write so :meth:`reconcile` can find an earlier attempt."""

    target = NAME

    def __init__(self, settings: Settings, *, clock: Any = None, timeout: float = 20.0) -> None:
        self.tracker = TRACKER

    def send(self, action: Action, *, maybe_sent: bool) -> dict[str, Any]:
        ticket = str(action.params["ticket"])
        before_write()
        self.tracker.write(action.id)
        if action.kind is ActionKind.REPLY:
            self.tracker.replies.setdefault(ticket, []).append((action.id, action.text or ""))
        elif action.kind is ActionKind.CLOSE:
            self.tracker.states[ticket] = f"closed by {action.id}"
        elif action.kind is ActionKind.CREATE_ISSUE:
            self.tracker.cards[action.id] = f"https://toy.invalid/backlog/{len(self.tracker.cards) + 1}"
        if self.tracker.lose_answers > 0:
            self.tracker.lose_answers -= 1
            raise TimedOut("the toy tracker did not answer in time", source=NAME)
        return self._result(action)

    def _result(self, action: Action) -> dict[str, Any]:
        card = self.tracker.cards.get(action.id)
        return {"ticket": action.params["ticket"], **({"url": card, "ref": card} if card else {})}

    def reconcile(self, action: Action, *, since: datetime) -> dict[str, Any] | None:
        ticket = str(action.params["ticket"])
        if any(aid == action.id for aid, _ in self.tracker.replies.get(ticket, [])):
            return {"ticket": ticket}
        if self.tracker.states.get(ticket) == f"closed by {action.id}" or action.id in self.tracker.cards:
            return self._result(action)
        return None

    def close(self) -> None:
        """Nothing to release."""


class ToyPlanner(HomePlanner):
    """A ticket: a close step first, then a reply; it holds the ticket's state."""

    name = NAME
    holds_state = True
    conversational = True
    reply_label = "Toy ticket"

    def seed(self, home: HomeState, request: Request, item: Any | None) -> None:
        home.state = "closed" if request.status is Status.CLOSED else "open"

    def project(self, projection: Projection, kind: ActionKind, params: dict[str, Any]) -> None:
        if kind is ActionKind.CLOSE:
            projection.home(self.name).state = "closed"

    def state_steps(self, ctx: PlanContext, item_id: str) -> None:
        if ctx.state == "close":
            ctx.add(Step(ActionKind.CLOSE, self.name, f"close {item_id} on the toy tracker",
                         params={"ticket": item_id, "reason": ctx.reason}))

    def message_steps(self, ctx: PlanContext, item_id: str) -> None:
        if ctx.message is None or self.name not in ctx.message.targets:
            return
        text, missing, pii = ctx.render(self.name)
        ctx.add(Step(ActionKind.REPLY, self.name, f'reply on the toy tracker: "{snippet(text, self)}"', text=text,
                     missing=missing, pii=pii, params={"ticket": item_id}))


PLANNER = ToyPlanner()


class ToyBacklog(BacklogDestination):
    """A card on the toy tracker's backlog board."""

    target = NAME
    noun = "the backlog card"

    def describe(self) -> str:
        return "the toy backlog board"

    def plan(self, request: Request, *, actor: str | None, now: datetime) -> Step:
        return Step(ActionKind.CREATE_ISSUE, NAME, f"create a card on the toy backlog board: {request.title}",
                    text=request.title, params={"ticket": request.id, "actor": actor})

INTEGRATION = registry.Integration(
    name=NAME,
    display="Toy Tracker",
    code="TY",
    id_prefix="toy:",
    home_noun="toy ticket",
    roster_field="toy",
    configured=lambda settings: False,
    writable=lambda settings: True,
    writer="toy_integration:ToyWriter",
    planner="toy_integration:PLANNER",
    verbs=frozenset({"reply", "close", "backlog"}),
    backlog="toy_integration:ToyBacklog",
    backlog_noun="the backlog card",
)


@contextmanager
def toy_registered() -> Iterator[Tracker]:
    """The toy integration registered, with a fresh tracker."""
    global TRACKER
    TRACKER = Tracker()
    with registry.registered(INTEGRATION):
        yield TRACKER


def ticket(number: int, now: datetime) -> SourceItem:
    """A toy ticket as its (imaginary) reader would produce it."""
    return SourceItem(
        id=f"toy:T-{number}", source=SourceKind(NAME), title=f"Toy ticket {number}", body="Please help",
        url=f"https://toy.invalid/T-{number}", created_at=now, updated_at=now,
        requester=Person(id="requester-1", name="Marcus Lee"),
    )


def assemble_toy(items: list[SourceItem], events: list[TimelineEvent], local: dict[str, str]) -> Request:
    """The request of a toy-only ticket (what the read model would build for it)."""
    item = items[0]
    return Request(
        id=item.id, key="", sources=[SourceKind(NAME)], title=item.title, body=item.body, requester=item.requester,
        created_at=item.created_at, updated_at=item.updated_at, url=item.url, links={NAME: item.url or ""},
        item_ids=[i.id for i in items],
    )
