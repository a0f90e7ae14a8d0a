"""Planning write-backs: what one system's planner contributes to a triage verb.

A verb ("close REQ-12", "take", a reply with a template) becomes a list of
:class:`Step` s, one write each. The core (:class:`~idqueue.outbox.service.Actions`) knows
nothing of any system: it walks the request's homes in registry order and asks each home's
:class:`HomePlanner` for its steps, in four phases, so the order is fixed and predictable:

1. **state** (:meth:`HomePlanner.state_steps`): assignee, labels, pending, backlog, close,
   reopen on the system that has fields for them (a GitHub issue), first, so a conflict stops
   the messages that would announce it;
2. the **backlog item** (core): when a request goes to the backlog and the home that holds its
   state cannot be backlogged in place (a Slack thread), the configured backlog destination
   (:mod:`idqueue.outbox.backlog`) creates one; later steps link to it through
   :data:`LINK_PLACEHOLDER`;
3. **messages** (:meth:`HomePlanner.message_steps`): the comment or thread reply per target; a
   home that holds the state in its messages (a Slack-only request's thread) adds a short state
   line when no message carries the change;
4. **after** (:meth:`HomePlanner.after_steps`): reactions and the like.

Which home is the *system of record* of a request's assignee and status is generic: the first
of its homes (registry order) whose planner :attr:`~HomePlanner.holds_state` — GitHub when the
request has an issue, else the Slack thread. The conflict expectations every step carries come
from a :class:`Projection`: the request as it will be once its queued actions are sent, each
planner applying its own steps (:meth:`HomePlanner.project`).

This module sits with the integrations (below the outbox) so that each integration's planner
can use it; :mod:`idqueue.outbox.models` re-exports the shared vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from idqueue.domain.actions import ActionKind
from idqueue.domain.models import Status
from idqueue.domain.pii import PiiMatch

if TYPE_CHECKING:
    from datetime import datetime

    from idqueue.config import Settings
    from idqueue.domain.actions import Action
    from idqueue.domain.models import Request
    from idqueue.domain.templates import Markup, ResponseTemplate
    from idqueue.store.db import Store

__all__ = [
    "LINK_PLACEHOLDER",
    "ActionError",
    "Assignee",
    "HomePlanner",
    "HomeState",
    "Message",
    "Mirror",
    "NothingToDo",
    "PlanContext",
    "Projection",
    "StateVerb",
    "Step",
    "snippet",
]

StateVerb = Literal["close", "backlog", "pending", "resume", "reopen", "unassign"]

LINK_PLACEHOLDER = "https://idqueue.invalid/new-backlog-issue"
"""Stands for the URL of a backlog item that does not exist yet, in texts planned before it is
created; the dispatcher replaces it with the real URL before sending."""

STATUS_OF_VERB = {"close": "closed", "backlog": "backlog", "pending": "pending", "reopen": "open", "resume": "open"}
"""The status class a state verb leads to."""

_KIND_STATUS = {ActionKind.PENDING: "pending", ActionKind.RESUME: "open", ActionKind.BACKLOG: "backlog",
                ActionKind.CLOSE: "closed", ActionKind.REOPEN: "open", ActionKind.CREATE_ISSUE: "backlog"}


class ActionError(Exception):
    """An action cannot be planned or changed; the message is for the user."""


class NothingToDo(ActionError):
    """The action would change nothing (e.g. taking a request that is already yours).

    Not a failure: callers say so and queue nothing (the CLI exits 0).
    """


@dataclass(slots=True)
class Step:
    """A planned action: what previews and ``--dry-run`` show, and what enqueueing stores.

    Attributes:
        kind: what it will do.
        target: the integration that carries it (``github``, ``slack``, …).
        summary: a human line.
        text: the exact text that will be posted (without the hidden marker), if any.
        missing: template variables without a value; nothing is queued while any are missing.
        pii: spans of ``text`` that look like personal data (a warning for public issues).
        params: the action's parameters.
        link_from: index (in the same plan) of a step whose result URL replaces
            :data:`LINK_PLACEHOLDER` in this step's text at send time (the new backlog item).
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


@dataclass(frozen=True, slots=True)
class Assignee:
    """Someone a request is assigned to: a roster member or a person checked upstream.

    Attributes:
        key: what the store and ``list --json`` call them: the roster key, else the GitHub
            login, else the Slack user id.
        name: a display name (the roster name, the Slack real name, or the login).
        github: their GitHub login, when known.
        slack: their Slack user id, when known.
        on_roster: True for a roster member.
        ids: their ids in other systems, by integration name (roster fields of newer systems).
    """

    key: str
    name: str
    github: str | None = None
    slack: str | None = None
    on_roster: bool = False
    ids: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def handle(self) -> str:
        """How the picker and messages show who they are upstream: ``@login`` or the Slack id."""
        if self.github:
            return f"@{self.github}"
        return self.slack or self.key

    def id_in(self, system: str) -> str | None:
        """Their id in the system called ``system`` (None when unknown)."""
        own = getattr(self, system, None) if system in ("github", "slack") else None
        return own if isinstance(own, str) else self.ids.get(system)


@dataclass
class Message:
    """A message a verb posts: a template or free text, to some targets.

    With a template, ``text`` (Markdown, every target) and ``texts`` (exact, per target) are
    the user's edit of the template's text: posted instead of it, side effects unchanged.
    """

    targets: list[str]
    template: ResponseTemplate | None = None
    text: str | None = None
    extra: dict[str, str] | None = None
    assignee: str | None = None
    automation: bool = False
    texts: dict[str, str] = field(default_factory=dict)

    def edited(self, target: str) -> bool:
        """Whether the text posted to ``target`` is the user's edit of a template's text."""
        return self.template is not None and (target in self.texts or self.text is not None)


@dataclass
class HomeState:
    """One home of a request as it will be once its queued actions are sent.

    Attributes:
        assignees: who it is assigned to there (logins, roster keys or user ids).
        state: ``open`` / ``closed`` for an issue; the status class (``open``, ``pending``,
            ``backlog``, ``closed``) for a home that keeps the state in its messages.
    """

    assignees: list[str] = field(default_factory=list)
    state: str = "open"


@dataclass
class Projection:
    """The request as it will be once its queued actions are sent (for conflict expectations).

    Attributes:
        status: the request's status class (open, pending, backlog, closed) on any home: for
            no-op checks.
        homes: integration name → that home's projected state.
    """

    status: str = "open"
    homes: dict[str, HomeState] = field(default_factory=dict)

    def home(self, name: str) -> HomeState:
        """The projected state of one home (created empty when first asked)."""
        return self.homes.setdefault(name, HomeState())

    def apply_status(self, kind: ActionKind, params: dict[str, Any]) -> None:
        """The status-class effect every system's state steps share."""
        if kind in _KIND_STATUS:
            self.status = _KIND_STATUS[kind]
        elif kind is ActionKind.REMOVE_LABELS and params.get("reopen"):
            self.status = "open"


Renderer = Callable[[str], tuple[str, tuple[str, ...], tuple[Any, ...]]]
"""Renders the verb's message for one target: ``(text, missing names, pii)``."""


@dataclass
class PlanContext:
    """Everything a planner needs to add its steps to one verb.

    Attributes:
        request: the request.
        settings: configuration.
        state_home: the name of the home that holds the request's assignee and status (its
            system of record), or None.
        assign: who the verb assigns (assign, take, a template's "assign me").
        reassign_from: who has the request now, when ``assign`` takes it from them.
        state: the state verb, if any.
        reason: the close reason.
        message: the message to post, if any.
        add_labels: labels the verb adds (a template's side effects).
        remove_labels: labels the verb removes.
        projection: the request as it will be (updated as steps are added).
        backlog_index: the index of the step that creates the backlog item, once planned.
        render: renders the message for a target (markup of that target's planner).
        planner_of: the planner of a home, by name (for projecting other homes' steps).
        steps: the steps so far.
    """

    request: Request
    settings: Settings
    state_home: str | None
    assign: Assignee | None
    reassign_from: str | None
    state: StateVerb | None
    reason: str
    message: Message | None
    add_labels: list[str]
    remove_labels: list[str]
    projection: Projection
    render: Renderer
    planner_of: Callable[[str], HomePlanner | None]
    backlog_index: int | None = None
    steps: list[Step] = field(default_factory=list)

    @property
    def actor(self) -> str | None:
        """The roster key of the person acting (``me``)."""
        return self.settings.me

    @property
    def verb(self) -> str:
        """The verb a state-carrying message records: the state verb, ``assign`` or ``reply``."""
        return self.state or ("assign" if self.assign else "reply")

    def holds_state(self, name: str) -> bool:
        """Whether the home called ``name`` is the request's system of record."""
        return self.state_home == name

    def add(self, step: Step) -> int:
        """Append a step, apply its effect to the projection, and return its index.

        A text that links to the backlog item still to be created (:data:`LINK_PLACEHOLDER`)
        gets ``link_from`` here, so the dispatcher puts the item's URL in before sending.
        """
        if step.link_from is None and step.text:
            step.link_from = self.link_index(step.text)
        planner = self.planner_of(step.target)
        self.projection.apply_status(step.kind, step.params)
        if planner is not None:
            planner.project(self.projection, step.kind, step.params)
        self.steps.append(step)
        return len(self.steps) - 1

    def link_index(self, text: str) -> int | None:
        """The backlog item step a text links to (through the placeholder), if any."""
        return self.backlog_index if LINK_PLACEHOLDER in text else None


@dataclass
class Mirror:
    """What a planner needs to mirror a sent action in the local store right away.

    Attributes:
        store: the open store.
        settings: configuration (roster names).
        now: the time of the update.
        assembler: the request assembler for ``store.apply``.
    """

    store: Store
    settings: Settings
    now: datetime
    assembler: Any


class HomePlanner:
    """One system's part in planning verbs, and in mirroring what was sent.

    Subclasses set :attr:`name` and override the hooks they need; the defaults add nothing.

    Attributes:
        name: the integration's name (the steps' ``target``).
        markup: the text format its messages are written in: ``markdown`` or ``mrkdwn``.
        holds_state: the home can be a request's system of record (its assignee and status
            live there: issue fields, or idqueue's thread messages).
        backlogs_in_place: a request whose state it holds is moved to the backlog *there*
            (a label, a list); otherwise the backlog destination creates a new item.
        conversational: the requester talks to the team there (free text goes there first).
        public: what it posts may be public (a GitHub issue): texts that look like personal
            data need a confirmation.
        reply_label: the reply composer's name for a reply there ("GitHub comment", "Slack
            thread"); empty: the integration's display name.
        reply_noun: one reply there, in sentences ("GitHub issue comment", "Slack thread reply");
            empty: "<display> reply".
    """

    name: str = ""
    markup: Markup = "markdown"
    holds_state: bool = False
    backlogs_in_place: bool = False
    conversational: bool = False
    public: bool = False
    reply_label: str = ""
    reply_noun: str = ""

    # ------------------------------------------------------------------ projection
    def seed(self, home: HomeState, request: Request, item: Any | None) -> None:
        """Fill a home's projected state from the stored request and its source item."""

    def project(self, projection: Projection, kind: ActionKind, params: dict[str, Any]) -> None:
        """Apply the expected effect of one of its own actions to the projection."""

    def holders(self, projection: Projection) -> list[str]:
        """Who the request is assigned to, when this home holds the state."""
        return list(projection.home(self.name).assignees)

    def is_assigned_to(self, holders: list[str], person: Assignee, name_of: Callable[[str], str]) -> bool:
        """Whether ``holders`` is exactly ``person`` (taking it again is nothing to do)."""
        mine = person.id_in(self.name)
        return bool(holders) and {h.casefold() for h in holders} == {(mine or person.key).casefold()}

    def is_person(self, holder: str, person: Assignee) -> bool:
        """Whether one holder is ``person`` (not someone the request is taken from)."""
        mine = (person.id_in(self.name) or "").casefold()
        return holder == person.key or (bool(mine) and holder.casefold() == mine)

    # ------------------------------------------------------------------ phases
    def state_steps(self, ctx: PlanContext, item_id: str) -> None:
        """Phase 1: the state changes on this home (assignee, labels, state)."""

    def message_steps(self, ctx: PlanContext, item_id: str) -> None:
        """Phase 3: the verb's message on this home (and a state line where it holds the state)."""

    def after_steps(self, ctx: PlanContext, item_id: str) -> None:
        """Phase 4: after the messages (reactions)."""

    def priority_steps(self, request: Request, settings: Settings, item_id: str, priority: str | None,
                       labels: list[str]) -> list[Step]:
        """The steps that set (``priority``) or clear (None) a priority override upstream."""
        return []

    def duplicate_text(self, request: Request, item_id: str, original: Request | None,
                       ref: str) -> str | None:
        """This home's own way to say "duplicate of ``ref``" (None: the common message)."""
        return None

    # ------------------------------------------------------------------ people
    def resolve_person(self, people: Any, request: Request, item_id: str, text: str, known: str) -> Assignee:
        """Someone off the roster who can be assigned this home's item, checked upstream.

        Args:
            people: the directory (:class:`~idqueue.outbox.people.People`).
            request: the request.
            item_id: its item here.
            text: what the triager typed.
            known: a suffix listing the roster, for the error.

        Raises:
            ActionError: nobody by that name can be assigned here.
        """
        raise ActionError(f"{text!r} is not on the team roster{known}")

    def assignable(self, people: Any, item_ids: list[str]) -> list[Assignee]:
        """Who the assign picker offers for these items of this system when there is no roster."""
        return []

    # ------------------------------------------------------------------ text
    def from_markdown(self, text: str) -> str:
        """The triager's Markdown as this home posts it."""
        return text

    def exact(self, text: str) -> str:
        """A text already in this home's markup, made safe to post as written."""
        return text

    def as_sent(self, rendered: str) -> str:
        """A template rendered in this home's markup, as the home sends it (default: as is; a
        plain-text mail spells its links out)."""
        return rendered

    def plain(self, text: str, names: dict[str, str]) -> str:
        """A posted text as plain words (for one-line summaries); ``names``: user id → name."""
        return text

    def mirror(self, action: Action, result: dict[str, Any], local: Mirror) -> None:
        """Mirror one of its sent actions in the local store (best effort; default: nothing)."""


_MARKER_RE = re.compile(r"«(missing|cannot render): ([^»]*)»")


def markers(text: str) -> tuple[str, ...]:
    """The names in the ``«missing: name»`` / ``«cannot render: …»`` markers left in a text."""
    names = [m.group(2).strip() if m.group(1) == "missing" else "cannot render" for m in _MARKER_RE.finditer(text)]
    return tuple(dict.fromkeys(names))


def snippet(text: str | None, planner: HomePlanner | None = None, width: int = 60,
            names: dict[str, str] | None = None) -> str:
    """The first line of a message, readable (in the planner's plain words)."""
    if not text:
        return ""
    plain = planner.plain(text, names or {}) if planner is not None else text
    line = next((ln.strip() for ln in plain.splitlines() if ln.strip()), "")
    line = " ".join(line.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def status_class(status: Status) -> str:
    """A request status as the class a state check compares and a thread's state messages speak
    of (open, pending, backlog, closed)."""
    if status in (Status.CLOSED, Status.RESOLVED, Status.DELETED):
        return "closed"
    if status is Status.BACKLOG:
        return "backlog"
    if status is Status.PENDING:
        return "pending"
    return "open"


def seed_as_assembled(home: HomeState, request: Request) -> None:
    """Seed a home that keeps no fields of its own (a Slack thread, a mail thread): its assignee
    and status are the request's, as assembled from idqueue's state events and messages."""
    home.assignees = [request.assignee] if request.assignee else []
    home.state = status_class(request.status)


class TicketPlanner(HomePlanner):
    """A planner for a ticket with fields of its own (a GitHub or Jira issue): its assignees and
    open/closed state are the truth, and its own assign/unassign/close/reopen steps move them.

    ``assignee_param`` names the step parameter that carries the new assignee's id upstream.
    """

    assignee_param: str = "login"
    holds_state = True
    backlogs_in_place = True

    def seed(self, home: HomeState, request: Request, item: Any | None) -> None:
        """The issue's assignees and open/closed state, as last synced."""
        if item is not None:
            home.assignees = list(item.assignees)
            home.state = "closed" if item.state == "closed" else "open"

    def project(self, projection: Projection, kind: ActionKind, params: dict[str, Any]) -> None:
        """Assignments, unassignments (backlog too), close and reopen."""
        home = projection.home(self.name)
        if kind is ActionKind.ASSIGN:
            home.assignees = [str(params.get(self.assignee_param))]
        elif kind in (ActionKind.UNASSIGN, ActionKind.BACKLOG):
            home.assignees = []
        elif kind is ActionKind.CLOSE:
            home.state = "closed"
        elif kind is ActionKind.REOPEN:
            home.state = "open"
