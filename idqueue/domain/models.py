"""The domain model: requests, the source items they are made of, and their timeline.

A *request* is what the triager works on: one row in the queue. It is made of one or more
*source items* (its homes: a GitHub issue, a Slack message, …) that refer to each other, and a timeline of
*events* (messages, comments, assignments, label and status changes) from both homes.

Everything here is plain data (dataclasses) so the store can build tens of thousands of
them quickly and the pure domain functions can be tested without I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class SourceKind(str):
    """Where a source item lives: the name of its integration (``"github"``, ``"slack"``, …).

    An open set — the integration registry names the systems; the domain does not. A plain
    ``str`` subclass, so it compares, hashes and serialises as its name.
    """

    __slots__ = ()

    @property
    def value(self) -> str:
        """The name as a plain string (kept from when this was an enum)."""
        return str(self)


class Status(StrEnum):
    """Triage status of a request (DESIGN.md, "Triage semantics")."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"
    BACKLOG = "backlog"
    DELETED = "deleted"

    @property
    def is_open(self) -> bool:
        """True while the request is in the live queue."""
        return self in OPEN_STATUSES


OPEN_STATUSES = frozenset({Status.NEW, Status.ACKNOWLEDGED, Status.ASSIGNED, Status.PENDING})


class EventKind(StrEnum):
    """Kinds of timeline events."""

    CREATED = "created"
    MESSAGE = "message"  # a Slack thread reply
    COMMENT = "comment"  # a GitHub issue comment
    NOTE = "note"  # an internal note (Jira Service Management): never a response to the requester
    ASSIGNED = "assigned"
    UNASSIGNED = "unassigned"
    LABELED = "labeled"
    UNLABELED = "unlabeled"
    PENDING = "pending"  # waiting on the requester: the SLA clock pauses
    RESUMED = "resumed"  # requester replied / pending cleared: the clock runs again
    CLOSED = "closed"
    REOPENED = "reopened"
    BACKLOG = "backlog"
    EDITED = "edited"
    DELETED = "deleted"
    RATING = "rating"  # a satisfaction rating (1-5)


GITHUB_ID_RE = re.compile(r"^gh:(?P<owner>[^/\s]+)/(?P<repo>[^#\s]+)#(?P<number>\d+)$")
SLACK_ID_RE = re.compile(r"^slack:(?P<channel>[A-Z0-9]+)/(?P<ts>\d+\.\d+)$")


def github_id(repo: str, number: int) -> str:
    """The request id of a GitHub issue: ``gh:<owner>/<repo>#<number>``."""
    return f"gh:{repo}#{number}"


def slack_id(channel: str, ts: str) -> str:
    """The request id of a Slack message: ``slack:<channel>/<ts>`` (ts kept as a string)."""
    return f"slack:{channel}/{ts}"


def parse_github_id(item_id: str) -> tuple[str, int]:
    """Split ``gh:owner/repo#N`` into (``owner/repo``, N).

    Raises:
        ValueError: when the id is not a GitHub request id.
    """
    m = GITHUB_ID_RE.match(item_id)
    if not m:
        raise ValueError(f"not a GitHub request id: {item_id!r}")
    return f"{m['owner']}/{m['repo']}", int(m["number"])


def parse_slack_id(item_id: str) -> tuple[str, str]:
    """Split ``slack:C123/1712345678.000100`` into (channel, ts).

    Raises:
        ValueError: when the id is not a Slack request id.
    """
    m = SLACK_ID_RE.match(item_id)
    if not m:
        raise ValueError(f"not a Slack request id: {item_id!r}")
    return m["channel"], m["ts"]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 UTC with a trailing ``Z`` (the JSON contract), or None."""
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str | None) -> datetime | None:
    """Parse an ISO 8601 timestamp (``Z`` or offset) into an aware UTC datetime."""
    if not value:
        return None
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


@dataclass(slots=True)
class Person:
    """Someone who appears in a request: requester, commenter, assignee."""

    id: str  # GitHub login or Slack user id
    name: str  # display name
    is_bot: bool = False


@dataclass(slots=True)
class TimelineEvent:
    """One entry of a request's timeline.

    ``uid`` is unique across sources (``gh-comment:123``, ``slack:C1/1712.0001``,
    ``gh-event:…``) so that re-syncing upserts instead of duplicating.
    """

    uid: str
    item_id: str  # the source item this event belongs to
    kind: EventKind
    at: datetime
    actor_id: str | None = None
    actor_name: str | None = None
    body: str = ""
    url: str | None = None
    source: SourceKind = SourceKind("")  # noqa: RUF009 - immutable str; the item's system (readers set it)
    is_bot: bool = False
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SourceItem:
    """One home of a request as the source adapter sees it (a GitHub issue, a Slack message).

    Adapters produce these; the sync engine stores them and merges linked ones into one
    :class:`Request`.
    """

    id: str  # gh:owner/repo#N or slack:C/ts
    source: SourceKind
    title: str
    body: str
    url: str | None
    created_at: datetime
    updated_at: datetime
    requester: Person | None
    state: str = "open"  # github: open/closed; slack: open/deleted
    state_reason: str | None = None  # github: completed / not_planned / duplicate
    closed_at: datetime | None = None
    assignees: list[str] = field(default_factory=list)  # GitHub logins / Slack user ids
    labels: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # ids of other items this one refers to
    template: str | None = None  # which intake template produced it, if known
    fields: dict[str, str] = field(default_factory=dict)  # fields given structurally (Slack blocks)
    raw: dict[str, Any] = field(default_factory=dict)  # source-specific extras (small)


@dataclass(slots=True)
class SlaInfo:
    """The SLA clocks of a request at a given moment (filled by the triage rules)."""

    state: str = "none"  # ok / at_risk / breached / met / paused / none
    first_response_due: datetime | None = None
    resolution_due: datetime | None = None
    remaining_seconds: float | None = None  # business seconds left on the running clock
    at_risk_at: datetime | None = None  # when the running clock crosses the at-risk line
    due_at: datetime | None = None  # the running clock's due time (for ordering)
    policy: str | None = None
    reason: str = ""


@dataclass(slots=True)
class Request:
    """One row of the queue: a support request with one or more homes (one item per system)."""

    id: str  # canonical: the primary home's item id (the first system in the registry's order)
    key: str  # short key shown in the TUI (e.g. REQ-42)
    sources: list[SourceKind]
    title: str
    body: str
    requester: Person | None
    type: str = "Other"
    type_reason: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    status: Status = Status.NEW
    status_reason: str = ""
    assignee: str | None = None  # the first of ``assignees``
    assignees: list[str] = field(default_factory=list)  # each a roster key when known, else login / user id
    labels: list[str] = field(default_factory=list)
    priority: str = "P3"
    priority_reason: str = ""
    priority_override: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    url: str | None = None
    links: dict[str, str] = field(default_factory=dict)  # system name → the home's URL, in order of preference
    item_ids: list[str] = field(default_factory=list)
    sla: SlaInfo = field(default_factory=SlaInfo)
    snoozed_until: datetime | None = None
    customer: str | None = None  # the customer's key (``customers`` in the config), None when unknown

    backlog_state: str | None = None  # where its backlog item is (a board's list name, "archived")
    last_outside_at: datetime | None = None  # the latest message from outside the team (the requester's)
    seen_at: datetime | None = None  # when this person last looked at it (read mark; not a request fact)
    listed: bool = True  # False: a group with no home that can be a request by itself (not stored)

    @property
    def unread(self) -> bool:
        """Someone outside the team (the requester) wrote since this person last looked.

        Never for a request they have not looked at yet: that one is simply new.
        """
        return self.seen_at is not None and self.last_outside_at is not None and self.last_outside_at > self.seen_at

    @property
    def source(self) -> SourceKind:
        """The primary home's system: the first of ``sources`` (kept in the registry's order of
        preference, so GitHub when a request lives on GitHub and Slack)."""
        return self.sources[0]
