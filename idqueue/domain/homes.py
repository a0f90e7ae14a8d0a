"""How the items of a request's homes fold into one request: the per-system rules.

A request has *homes*: one item per system (a Slack intake message, the GitHub issue filed for
it, …). :func:`idqueue.domain.assemble.assemble` merges them, and what it cannot decide in
general it asks the rules of the system an item lives in: who the requester is when two homes
disagree, who it is assigned to, what its status is, which labels count. :class:`HomeRules` is
both the contract and the generic rules of a system that declares none; each integration
package may subclass it (its ``fold`` in the registry), and the callers of the assembler build
a :class:`Rulebook` from the registry (the domain never names a system).

The generic rules read a home as a plain ticket: its requester, its assignees (each mapped to a
roster key through the system's roster field), ``state == "closed"`` for closed, else
idqueue's own action events in the timeline (close, backlog, pending, assign).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from idqueue.domain.models import EventKind, SourceItem, Status, TimelineEvent

if TYPE_CHECKING:
    from idqueue.config import Settings

RESPONSE_KINDS = frozenset({EventKind.MESSAGE, EventKind.COMMENT})
"""Events that can be a first response (a thread reply, an issue comment)."""

STATE_KINDS = frozenset(
    {EventKind.CLOSED, EventKind.REOPENED, EventKind.BACKLOG, EventKind.PENDING, EventKind.RESUMED}
)
"""idqueue's own state events (recorded in a home's timeline when it acted)."""

StatusFound = tuple[Status, str, datetime | None]
"""``(status, reason, resolved_at)`` as a home's rules decide it."""


class TeamIndex:
    """Fast "is this actor on the team?" checks over the roster, for every system's ids.

    Args:
        settings: the roster (``team``).
        rules: the systems' rules; each one's ``roster_field`` names the
            :class:`~idqueue.config.TeamMember` attribute with a person's id there.
    """

    def __init__(self, settings: Settings, rules: Iterable[HomeRules]) -> None:
        self.rules = tuple(rules)
        self.by_field: list[tuple[bool, dict[str, str]]] = []
        seen: set[str] = set()
        for r in self.rules:
            if not r.roster_field or r.roster_field in seen:
                continue
            seen.add(r.roster_field)
            fold = r.case_insensitive_ids
            ids = {}
            for key, member in settings.team.items():
                value = getattr(member, r.roster_field, None)
                if isinstance(value, str) and value:
                    ids[value.lower() if fold else value] = key
            self.by_field.append((fold, ids))
        self.has_roster = bool(settings.team)

    def member(self, actor_id: str | None) -> str | None:
        """Roster key of a person's id in any system (a GitHub login, a Slack user id, …)."""
        if not actor_id:
            return None
        lowered = None
        for fold, ids in self.by_field:
            if fold:
                lowered = lowered or actor_id.lower()
                key = ids.get(lowered)
            else:
                key = ids.get(actor_id)
            if key is not None:
                return key
        return None

    def is_bot(self, actor_id: str | None) -> bool:
        """True for an id some system's rules know as a bot (intake bots, bot logins)."""
        if not actor_id:
            return False
        for r in self.rules:  # a loop, not any(): this runs for every event of every request
            if r.is_bot(actor_id):
                return True
        return False

    def is_team_address(self, actor_id: str | None) -> bool:
        """True for an id some system's rules know as the team itself (a shared support address)."""
        if not actor_id:
            return False
        for r in self.rules:
            if r.is_team(actor_id):
                return True
        return False

    def is_teammate(self, actor_id: str | None, requester_ids: set[str]) -> bool:
        """Whether a person acts for the team: a roster member or the team's own address, or (no
        roster) any non-bot other than the requester (DESIGN.md "Triage semantics")."""
        if not actor_id or actor_id in requester_ids or self.is_bot(actor_id):
            return False
        if self.is_team_address(actor_id):
            return True
        return self.member(actor_id) is not None if self.has_roster else True

    def _human_message(self, event: TimelineEvent) -> bool:
        """A thread reply or comment written by a person: not a bot's, and not one of idqueue's
        own automatic messages (e.g. "created"; a reply a triager sent through idqueue is)."""
        return (event.kind in RESPONSE_KINDS and not event.is_bot and not self.is_bot(event.actor_id)
                and not event.data.get("idqueue_automation"))

    def is_outside_message(self, event: TimelineEvent, requester_ids: set[str]) -> bool:
        """A message from outside the team: the requester's, or (with a roster) anyone not on it.

        Bots, idqueue's own posts and internal notes never are. What makes a read request unread.
        """
        if not self._human_message(event) or not event.actor_id or event.data.get("idqueue_actor"):
            return False
        if event.actor_id in requester_ids:
            return True
        return self.has_roster and self.member(event.actor_id) is None and not self.is_team_address(event.actor_id)

    def is_response(self, event: TimelineEvent, requester_ids: set[str]) -> bool:
        """Whether an event counts as a first response (DESIGN.md "Triage semantics")."""
        if not self._human_message(event) or event.actor_id in requester_ids:
            return False
        if self.has_roster:
            return (self.member(event.actor_id) is not None or bool(event.data.get("idqueue_actor"))
                    or self.is_team_address(event.actor_id))
        return True


@dataclass(frozen=True, slots=True)
class FoldContext:
    """What a home's rules may read besides its own item.

    Attributes:
        settings: the configuration (roster, automation, SLA pending labels, …).
        team: the roster index.
        events: the request's merged timeline, oldest first.
        requester_ids: ids of the person who asked, in every home.
    """

    settings: Settings
    team: TeamIndex
    events: list[TimelineEvent]
    requester_ids: set[str]


class HomeRules:
    """The rules of one system's items; the base class is the generic ticket rules.

    Subclasses override what their system does differently. Instances are built once per
    assembler with the settings (``HomeRules(name, roster_field, settings)``).

    Attributes:
        keeps_state: the item's own state (open/closed, assignees, labels) is the truth for
            the request. The request's *lead* home is its first live home that keeps state
            (else its first live home): its rules decide the assignees and the status. A
            home that does not keep state (a chat thread) records idqueue's actions as
            events and reactions instead.
        requester_rank: lower wins when homes name different requesters (a chat message
            posted for the requester beats the issue a bot filed for them); ties go to the
            registry's order.
        case_insensitive_ids: the system's person ids compare case-insensitively (logins).
        standalone: one of its items can be a request by itself. A group made only of items
            that cannot (backlog cards whose request's other home is not read yet) is kept in
            the store but never listed as a request.

    One item of a system that otherwise keeps state can be a *backlog item* instead
    (:meth:`backlog_item`: the issue a backlogged chat request became in another project): it
    then neither leads nor is the primary home, gives no labels or intake fields, and is never
    a request by itself, like a backlog card.
    """

    keeps_state: ClassVar[bool] = True
    requester_rank: ClassVar[int] = 1
    case_insensitive_ids: ClassVar[bool] = False
    standalone: ClassVar[bool] = True

    def __init__(self, name: str, roster_field: str = "", settings: Settings | None = None) -> None:
        self.name = name
        self.roster_field = roster_field
        self.settings = settings

    def is_bot(self, actor_id: str) -> bool:
        """Whether the id is one of this system's known bots (none for the generic rules)."""
        return False

    def is_team(self, actor_id: str) -> bool:
        """Whether the id is the team itself in this system (none for the generic rules)."""
        return False

    def labels(self, item: SourceItem) -> list[str]:
        """The labels the item contributes to the request."""
        return list(item.labels)

    def backlog_item(self, item: SourceItem) -> bool:
        """Whether this item only tracks its request in a backlog elsewhere (see the class
        docstring); the generic rules: never."""
        return False

    def backlog_state(self, item: SourceItem) -> str | None:
        """Where the item stands as a backlog entry (a list name, "archived"), or None when it
        is not one (the generic rules: never)."""
        return None

    def assignees(self, item: SourceItem, ctx: FoldContext) -> list[str]:
        """Everyone the request is assigned to (roster keys when known) when ``item`` leads.

        Generic: the item's assignees; without any, idqueue's assign events.
        """
        if item.assignees:
            return list(dict.fromkeys(ctx.team.member(a) or a for a in item.assignees))
        return assignee_from_events(ctx)[0]

    def status(self, item: SourceItem, ctx: FoldContext) -> StatusFound | None:
        """The status the lead item gives the request, or None to fall back on assignment
        and first response (assigned / acknowledged / new).

        Generic: closed when the item is, else idqueue's last state event.
        """
        if item.state == "closed":
            return Status.CLOSED, "closed", item.closed_at or item.updated_at
        return status_from_events(ctx.events)


class Rulebook:
    """Every system's rules in the order of preference of a request's homes.

    An item of a system with no rules here (a store written with another integration
    configured) gets the generic :class:`HomeRules` and sorts after the known systems.
    """

    def __init__(self, rules: Sequence[HomeRules]) -> None:
        self.rules = tuple(rules)
        self._by_name = {r.name: r for r in self.rules}
        self._rank = {r.name: n for n, r in enumerate(self.rules)}

    def of(self, name: str) -> HomeRules:
        """The rules of the system called ``name`` (generic ones when it has none here)."""
        found = self._by_name.get(name)
        if found is None:
            found = self._by_name[name] = HomeRules(name)
        return found

    def order(self, name: str) -> tuple[int, str]:
        """Sort key of a system: the registry's order, unknown systems after (by name)."""
        return self._rank.get(name, len(self._rank)), name


def assignee_from_events(ctx: FoldContext) -> tuple[list[str], bool]:
    """The assignee that idqueue's assign/unassign events leave, and whether there were any.

    An event names the assignee as a roster key, or (someone off the roster) by their id in
    some system; without a name, the actor took it.
    """
    assignee: str | None = None
    found = False
    for ev in ctx.events:
        if ev.kind is EventKind.ASSIGNED:
            named = ev.data.get("assignee")
            if named:
                assignee = str(named) if named in ctx.settings.team else ctx.team.member(str(named)) or str(named)
            else:
                assignee = ctx.team.member(ev.actor_id) or ev.actor_id
            found = True
        elif ev.kind is EventKind.UNASSIGNED:
            assignee = None
            found = True
    return ([assignee] if assignee else []), found


def last_state_event(events: list[TimelineEvent]) -> TimelineEvent | None:
    """idqueue's last state event (close, reopen, backlog, pending, resume), if any."""
    state = [e for e in events if e.kind in STATE_KINDS]
    return state[-1] if state else None


def status_from_events(events: list[TimelineEvent]) -> StatusFound | None:
    """The status idqueue's last state event gives (None after a reopen/resume or none)."""
    final = last_state_event(events)
    if final is None:
        return None
    if final.kind is EventKind.CLOSED:
        return Status.CLOSED, str(final.data.get("reason") or "closed"), final.at
    if final.kind is EventKind.BACKLOG:
        return Status.BACKLOG, "moved to the backlog", final.at
    if final.kind is EventKind.PENDING:
        return Status.PENDING, "waiting on the requester", None
    return None
