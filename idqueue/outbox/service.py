"""The triage verbs (assign, take, reply, pending, backlog, close, reopen, priority) as outbox actions.

:class:`Actions` is what the TUI and the CLI call. Each verb has a pure ``plan_*`` method that
returns the :class:`~idqueue.outbox.models.Step` list a preview or ``--dry-run`` shows (the exact
text per destination), and an enqueuing method that stores the same steps as one group of
actions in one transaction. The dispatcher sends them later, in order.

What a verb writes where (defaults; the README has the user-facing table):

* **assign / take**: GitHub assignee (the member's login from the roster) → the "assigned"
  automation message (template ``automation.on_assign_template``) where the template says →
  the ``taken`` reaction on the Slack request message. A Slack-only request has no assignee
  field: its thread message (with idqueue's metadata) *is* the assignment. Taking a request
  from someone else is a *reassignment* (the step says "reassign from X to Y"); assigning it
  to whoever already has it is :class:`~idqueue.outbox.models.NothingToDo`.
* **reply**: the template's (or free text's) message to the Slack thread and/or as a GitHub
  comment, plus the template's side effects (assign me, labels, pending, close, backlog). A
  template's text can be edited before sending: the edit is posted, the side effects still run.
* **pending**: the pending label on GitHub; a thread message on Slack-only requests.
* **backlog**: GitHub: backlog label + unassign (+ the "backlog" message); Slack-only: a new
  issue in the backlog repo, then the thread gets its link.
* **close**: GitHub close with a reason (+ the "closed" message with the survey link) → the
  ``done`` reaction.

Expectations for the conflict check (who is assigned, is it open) are taken from the local
store *plus* the effects of this request's actions that are still queued, so a quick "take"
then "close" does not look like a conflict with oneself. The same projection makes a repeated
verb :class:`~idqueue.outbox.models.NothingToDo` ("REQ-12 is already pending; nothing to do").

Every verb has a reverse (unassign, resume, reopen — also out of the backlog —, unsnooze,
``priority auto``). With ``hold_seconds`` (the TUI's ``ui.undo_seconds``) a verb's actions are
stored held until that real time, and :meth:`Actions.undo` cancels them and restores the local
state they changed; the CLI queues without a hold.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec

from idqueue.clock import Clock
from idqueue.config import Settings, TeamMember
from idqueue.domain.models import Request, SourceKind, Status, parse_github_id, parse_slack_id
from idqueue.domain.mrkdwn import (
    escape_mrkdwn,
    markdown_to_mrkdwn,
    strip_broadcasts,
    unescape_mrkdwn,
)
from idqueue.domain.pii import find_pii
from idqueue.outbox.backlog import backlog_destination
from idqueue.outbox.models import (
    LINK_PLACEHOLDER,
    UNSENT_STATES,
    Action,
    ActionError,
    ActionKind,
    ActionState,
    NothingToDo,
    Step,
)
from idqueue.outbox.people import GITHUB_LOGIN_RE, SLACK_USER_ID_RE, Assignee, People
from idqueue.outbox.store import LogEntry, OutboxStore
from idqueue.store.db import Store

if TYPE_CHECKING:  # Jinja2 loads with the first template, not when the TUI starts
    from idqueue.domain.templates import ResponseTemplate

__all__ = ["CLOSE_REASONS", "PRIORITIES", "Actions"]

CLOSE_REASONS = ("completed", "not_planned", "duplicate")
PRIORITIES = ("P1", "P2", "P3", "P4")
PRIORITY_PREFIX = "priority:"
AUTO = "AUTO"
"""The priority value that removes an override (``idqueue priority REQ-1 auto``)."""
_SLACK_ID_RE = re.compile(r"^[UW][A-Z0-9]+$")
_GH_LOGIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_MARKER_RE = re.compile(r"«(missing|cannot render): ([^»]*)»")
"""The visible marker the template renderer leaves for a value it did not have."""

P = ParamSpec("P")

StateVerb = Literal["close", "backlog", "pending", "resume", "reopen", "unassign"]


@dataclass
class _Message:
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


@dataclass
class _Projection:
    """The request as it will be once its queued actions are sent (for conflict expectations)."""

    gh_assignees: list[str] = field(default_factory=list)
    gh_state: str = "open"
    sl_assignee: str | None = None
    sl_status: str = "open"
    status: str = "open"
    """The request's status class (open, pending, backlog, closed) on any home: for no-op checks."""


def _status_class(status: Status) -> str:
    if status in (Status.CLOSED, Status.RESOLVED, Status.DELETED):
        return "closed"
    if status is Status.BACKLOG:
        return "backlog"
    if status is Status.PENDING:
        return "pending"
    return "open"


_SLACK_LINK_RE = re.compile(r"<((?:https?|mailto):[^|>\s]+)(?:\|([^>]*))?>")
_SLACK_USER_RE = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def gh_login_like(text: str) -> bool:
    """True for a GitHub-login-shaped string (shown as ``@login``), not a Slack id or a name."""
    return bool(_GH_LOGIN_RE.match(text)) and not _SLACK_ID_RE.match(text)


def _markers(text: str) -> tuple[str, ...]:
    """The names in the ``«missing: name»`` / ``«cannot render: …»`` markers left in a text."""
    names = [m.group(2).strip() if m.group(1) == "missing" else "cannot render" for m in _MARKER_RE.finditer(text)]
    return tuple(dict.fromkeys(names))


def _snippet(text: str | None, target: str, width: int = 60, names: dict[str, str] | None = None) -> str:
    """The first line of a message, readable (Slack links and mentions shown as text)."""
    if not text:
        return ""
    plain = text
    if target == "slack":
        plain = _SLACK_LINK_RE.sub(lambda m: m.group(2) or m.group(1), plain)
        plain = _SLACK_USER_RE.sub(lambda m: "@" + (names or {}).get(m.group(1), m.group(1)), plain)
        plain = unescape_mrkdwn(plain)
    line = next((ln.strip() for ln in plain.splitlines() if ln.strip()), "")
    line = " ".join(line.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def new_id(prefix: str = "") -> str:
    """A random, unguessable action or group id (12 hex digits)."""
    return prefix + secrets.token_hex(6)


def _queues(
    plan: Callable[Concatenate[Actions, str, P], list[Step]],
) -> Callable[Concatenate[Actions, str, P], list[Action]]:
    """The queuing twin of a ``plan_*`` method: ``take`` for ``plan_take``, and so on.

    The twin takes the planner's arguments, plans, and stores the steps as one group of actions
    (:meth:`Actions._enqueue`), so a verb's preview and what it queues cannot drift apart.
    """

    def queue(self: Actions, request_id: str, /, *args: P.args, **kwargs: P.kwargs) -> list[Action]:
        return self._enqueue(request_id, plan(self, request_id, *args, **kwargs))

    queue.__name__ = plan.__name__.removeprefix("plan_")
    queue.__qualname__ = f"Actions.{queue.__name__}"
    queue.__doc__ = f"Queue :meth:`{plan.__name__}`."
    return queue


class Actions:
    """Plans and queues triage actions; lists, retries and drops them.

    Args:
        store: the open store.
        settings: roster, templates, automation, GitHub/Slack settings.
        clock: the clock (``idqueue.clock.clock_for(settings)``).
        people: looks people up upstream when they are not on the roster (default: built from
            ``settings`` on first use).
        hold_seconds: how long a queued verb is held back before it may be sent, so the user
            can undo it (:meth:`undo`); 0 sends as soon as the dispatcher runs. The hold is
            measured on the real clock (``clock`` may be frozen by ``IDQUEUE_NOW``).
    """

    def __init__(self, store: Store, settings: Settings, *, clock: Clock, people: People | None = None,
                 hold_seconds: float = 0.0) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.hold_seconds = max(0.0, hold_seconds)
        self.wall: Clock = lambda: datetime.now(UTC)
        """The real time, for holds."""
        self.outbox = OutboxStore(store)
        self._people = people

    # ------------------------------------------------------------------ lookups
    def _request(self, request_id: str) -> Request:
        request = self.store.get_request(request_id)
        if request is None:
            raise ActionError(f"no request {request_id!r} (try `idqueue list`)")
        return request

    def templates(self) -> dict[str, ResponseTemplate]:
        """The response templates (shipped + the team's)."""
        from idqueue.domain.templates import TemplateError, load_templates

        try:
            return load_templates(self.settings.templates_dir)
        except TemplateError as exc:
            raise ActionError(str(exc)) from None

    def _template(self, key: str) -> ResponseTemplate:
        templates = self.templates()
        if key not in templates:
            raise ActionError(f"no template {key!r} (see `idqueue templates`)")
        return templates[key]

    def _roster_key(self, who: str) -> str | None:
        """The roster key of a key, GitHub login (``@`` optional), Slack id or full name."""
        team = self.settings.team
        if who in team:
            return who
        key = self.settings.member_by_github(who.removeprefix("@")) or self.settings.member_by_slack(who)
        if key is None:
            low = who.casefold()
            key = next((k for k, m in team.items() if m.name.casefold() == low), None)
        return key

    def member(self, who: str) -> tuple[str, TeamMember]:
        """A roster member by key, GitHub login or Slack id.

        Raises:
            ActionError: not on the roster (the message lists the keys).
        """
        key = self._roster_key(who)
        if key is None:
            known = ", ".join(sorted(self.settings.team)) or "(the roster is empty: add [team] to the config)"
            raise ActionError(f"{who!r} is not on the team roster; known: {known}")
        return key, self.settings.team[key]

    def _roster_person(self, key: str) -> Assignee:
        member = self.settings.team[key]
        return Assignee(key=key, name=member.name, github=member.github, slack=member.slack, on_roster=True)

    def _with_people(self) -> tuple[People, bool]:
        """The GitHub/Slack directory, and whether the caller must close it (made for this call)."""
        if self._people is not None:
            return self._people, False
        return People(self.settings), True

    def resolve_assignee(self, request: Request, who: str) -> Assignee:
        """Who ``who`` is, for assigning ``request``: a roster member, else someone checked upstream.

        A roster key, login, Slack id or name wins without any API call. Otherwise, for a
        request that lives on GitHub, ``who`` must be a login the repository can assign
        (``GET /repos/{owner}/{repo}/assignees/{login}`` → 204); for a Slack-only request, a
        Slack user id (``users.info``) or an ``@name`` (``users.list``: handle, display or real
        name).

        Raises:
            ActionError: nobody by that name can be assigned here (one line that says why).
        """
        text = " ".join(who.split())
        if not text:
            raise ActionError("give the person to assign: a roster key, a GitHub login or a Slack user id / @name")
        key = self._roster_key(text)
        if key is not None:
            return self._roster_person(key)
        gh, _ = self._homes(request)
        bare = text.removeprefix("@")
        known = f"; roster: {', '.join(sorted(self.settings.team))}" if self.settings.team else ""
        people, owned = self._with_people()
        try:
            if gh is not None:
                if SLACK_USER_ID_RE.match(bare):
                    raise ActionError(f"{text!r} looks like a Slack user id, but {request.key} lives on GitHub "
                                      f"({gh[0]}#{gh[1]}): give their GitHub login{known}")
                if GITHUB_LOGIN_RE.match(bare) and people.github_assignable(gh[0], bare):
                    return Assignee(key=bare, name=bare, github=bare)
                raise ActionError(f"{text!r} cannot be assigned in {gh[0]}: not on the roster and not a GitHub "
                                  f"login with access to the repository{known}")
            if SLACK_USER_ID_RE.match(bare):
                person = people.slack_user(bare)
                if person is None:
                    raise ActionError(f"{text!r} is not an active Slack user in this workspace{known}")
                return person
            matches = people.slack_by_name(bare)
        finally:
            if owned:
                people.close()
        if len(matches) > 1:
            names = ", ".join(f"{p.name} ({p.slack})" for p in matches[:5])
            raise ActionError(f"{text!r} matches {len(matches)} Slack users ({names}): give the user id")
        if not matches:
            raise ActionError(f"{text!r} is not on the roster and no Slack user has that name{known}")
        return matches[0]

    def assignable(self, request_ids: Iterable[str]) -> list[Assignee]:
        """Who the assign picker offers for requests when there is no roster.

        The assignable users of each GitHub repository the requests live in, and the members
        of the Slack channel of each Slack-only request (people, not bots), in that order.

        Raises:
            ActionError: GitHub or Slack could not be asked.
        """
        repos: list[str] = []
        channels: list[str] = []
        for rid in request_ids:
            gh, sl = self._homes(self._request(rid))
            if gh is not None:
                repos.append(gh[0])
            elif sl is not None:
                channels.append(sl[0])
        people, owned = self._with_people()
        try:
            found = [p for repo in dict.fromkeys(repos) for p in people.github_assignees(repo)]
            found += [p for channel in dict.fromkeys(channels) for p in people.channel_members(channel)]
        finally:
            if owned:
                people.close()
        seen: set[str] = set()
        unique: list[Assignee] = []
        for person in found:
            if person.key.casefold() not in seen:
                seen.add(person.key.casefold())
                unique.append(person)
        return unique

    def _me(self) -> str:
        if not self.settings.me:
            raise ActionError("`me` is not set in the config: idqueue does not know who you are")
        return self.member(self.settings.me)[0]

    @staticmethod
    def _homes(request: Request) -> tuple[tuple[str, int] | None, tuple[str, str] | None]:
        gh = parse_github_id(request.github_item) if request.github_item else None
        sl = parse_slack_id(request.slack_item) if request.slack_item else None
        return gh, sl

    def _projection(self, request: Request) -> _Projection:
        proj = _Projection(sl_assignee=request.assignee, sl_status=_status_class(request.status),
                           status=_status_class(request.status))
        gh_id = request.github_item
        if gh_id:
            item = next((i for i in self.store.items_of(request.id) if i.id == gh_id), None)
            if item is not None:
                proj.gh_assignees = list(item.assignees)
                proj.gh_state = "closed" if item.state == "closed" else "open"
        for action in self.for_request(request.id):
            _project(proj, action.kind, action.target, action.params)
        return proj

    def _automation_on(self, request: Request) -> bool:
        disabled = {t.casefold() for t in self.settings.automation.disabled_types}
        return request.type.casefold() not in disabled

    def _automation_key(self, request: Request, which: str, default: str) -> str:
        """The template of an automatic message, with the per-type override (``type_templates``)."""
        per_type = {t.casefold(): v for t, v in self.settings.automation.type_templates.items()}
        override = per_type.get(request.type.casefold(), {})
        return override.get(which, default) if which in override else default

    def _automation_message(
        self, request: Request, key: str, *, enabled: bool, assignee: str | None = None, which: str = ""
    ) -> _Message | None:
        if which:
            key = self._automation_key(request, which, key)
        if not key or not enabled or not self._automation_on(request):
            return None
        templates = self.templates()
        if key not in templates:
            raise ActionError(f"automation template {key!r} not found (see `idqueue templates`, or turn the "
                              "automation off in [automation])")
        tpl = templates[key]
        from idqueue.domain.templates import targets_for

        return _Message(targets=list(targets_for(tpl, request)), template=tpl, assignee=assignee, automation=True)

    def _targets(self, request: Request, target: str, template: ResponseTemplate | None) -> list[str]:
        homes = [t for t in ("github", "slack") if SourceKind(t) in request.sources]
        if target == "auto":
            if template is not None:
                from idqueue.domain.templates import targets_for

                return list(targets_for(template, request))
            # Free text: where the requester is talking to us (the Slack thread when there is one).
            return ["slack"] if "slack" in homes else homes[:1]
        if target == "both":
            return homes
        if target not in ("github", "slack"):
            raise ActionError(f"unknown target {target!r} (auto, slack, github or both)")
        if target not in homes:
            where = "Slack thread" if target == "slack" else "GitHub issue"
            raise ActionError(f"this request has no {where}")
        return [target]

    # ------------------------------------------------------------------ rendering
    def _render(self, request: Request, msg: _Message, target: str) -> tuple[str, tuple[str, ...], tuple[Any, ...]]:
        exact = msg.texts.get(target)
        if exact is not None:
            # The user's edit of this target's preview, posted as written (already Markdown
            # or mrkdwn); broadcasts are still neutralised on Slack.
            text = strip_broadcasts(exact) if target == "slack" else exact
            return text, _markers(text), self._pii(request, text)
        if msg.template is not None and msg.text is None:
            from idqueue.domain.templates import TemplateError, render_for

            try:
                rendered = render_for(
                    request, msg.template, self.settings, target=target,  # type: ignore[arg-type]
                    assignee=msg.assignee, extra=msg.extra,
                )
            except TemplateError as exc:
                raise ActionError(str(exc)) from None
            except ValueError as exc:
                raise ActionError(str(exc)) from None
            return rendered.text, rendered.missing, rendered.pii
        text = msg.text or ""
        if target == "slack":
            # The triager's own Markdown, converted; every other &, <, > is escaped and
            # broadcasts are neutralised, exactly like template output.
            text = strip_broadcasts(markdown_to_mrkdwn(text))
        # A marker left in free or edited text blocks sending, like a template's missing value.
        return text, _markers(text), self._pii(request, text)

    def _pii(self, request: Request, text: str) -> tuple[Any, ...]:
        allow = [m.email for m in self.settings.team.values() if m.email]
        if self.settings.survey.url:
            allow.append(self.settings.survey.url)
        allow += [u for u in (request.url, *request.links.values()) if u]
        return tuple(find_pii(text, allow=allow))

    @staticmethod
    def _mention(person: Assignee | None) -> str:
        """A Slack mention of a person with a Slack id (checked: roster or ``users.info``), else the name."""
        if person is None:
            return "someone"
        if person.slack and _SLACK_ID_RE.match(person.slack):
            return f"<@{person.slack}>"
        return escape_mrkdwn(person.name)

    def _state_line(self, state: str | None, assign: Assignee | None, *, link: bool) -> str:
        if state == "close":
            return "This request is closed."
        if state == "backlog":
            return (f"This request is moved to the backlog: <{LINK_PLACEHOLDER}|tracking issue>."
                    if link else "This request is moved to the backlog.")
        if state == "pending":
            return "We're waiting on more information from you: reply in this thread and we'll pick it up again."
        if state == "resume":
            return "We've picked this request up again."
        if state == "reopen":
            return "This request is reopened."
        if state == "unassign":
            return "This request is unassigned and back in the queue."
        return f"This request is assigned to {self._mention(assign)}."

    # ------------------------------------------------------------------ the planner
    def _plan(
        self,
        request: Request,
        *,
        assign: Assignee | None = None,
        state: StateVerb | None = None,
        reason: str = "completed",
        message: _Message | None = None,
        add_labels: Iterable[str] = (),
        remove_labels: Iterable[str] = (),
        assign_if_needed: bool = False,
    ) -> list[Step]:
        """The steps of a verb.

        ``assign_if_needed``: a side effect ("assign me") that is already true is skipped
        instead of being :class:`NothingToDo`, so the rest of the verb (its message) goes ahead.
        """
        gh, sl = self._homes(request)
        slack_only = sl is not None and gh is None
        proj = self._projection(request)
        actor = self.settings.me
        steps: list[Step] = []
        ref = f"{gh[0]}#{gh[1]}" if gh else ""
        gh_base: dict[str, Any] = {"repo": gh[0], "number": gh[1], "actor": actor} if gh else {}

        def add(step: Step) -> int:
            _project(proj, step.kind, step.target, step.params)
            steps.append(step)
            return len(steps) - 1

        # 1. GitHub state first, so a conflict stops the messages that would announce it.
        reassign_from: str | None = None
        if assign:
            try:
                reassign_from = self._check_assign(request, proj, assign, gh is not None)
            except NothingToDo:
                if not assign_if_needed:
                    raise
                assign = None
        if assign and gh:
            if not assign.github:
                raise ActionError(
                    f"{assign.name} has no GitHub login in the roster (team.{assign.key}.github)" if assign.on_roster
                    else f"{assign.name} is a Slack user; {request.key} lives on GitHub: give their GitHub login")
            what = (f"reassign from {reassign_from} to {assign.name} (@{assign.github})" if reassign_from
                    else f"assign @{assign.github}")
            add(Step(ActionKind.ASSIGN, "github", f"{what} on GitHub ({ref})",
                     params={**gh_base, "login": assign.github, "member": assign.key,
                             "expect_assignees": list(proj.gh_assignees)},
                     reassign_from=reassign_from))
        labels_add = [x for x in dict.fromkeys(add_labels) if x]
        labels_remove = [x for x in dict.fromkeys(remove_labels) if x]
        if gh and labels_add:
            add(Step(ActionKind.ADD_LABELS, "github", f"add label{'s' if len(labels_add) > 1 else ''} "
                     f"{', '.join(labels_add)} on GitHub ({ref})", params={**gh_base, "labels": labels_add}))
        if gh and labels_remove:
            add(Step(ActionKind.REMOVE_LABELS, "github", f"remove label{'s' if len(labels_remove) > 1 else ''} "
                     f"{', '.join(labels_remove)} on GitHub ({ref})", params={**gh_base, "labels": labels_remove}))
        if gh and state == "pending":
            label = (self.settings.sla.pending_labels or ["pending"])[0]
            add(Step(ActionKind.PENDING, "github", f"label {label} on GitHub ({ref}): waiting on the requester",
                     params={**gh_base, "labels": [label]}))
        if gh and state == "resume":
            labels = list(self.settings.sla.pending_labels or ["pending"])
            add(Step(ActionKind.RESUME, "github", f"remove the pending label on GitHub ({ref})",
                     params={**gh_base, "labels": labels}))
        if gh and state == "unassign":
            add(Step(ActionKind.UNASSIGN, "github", f"unassign everyone on GitHub ({ref})",
                     params={**gh_base, "expect_assignees": list(proj.gh_assignees)}))
        if gh and state == "backlog":
            label = self.settings.github.backlog_label
            add(Step(ActionKind.BACKLOG, "github", f"label {label} and unassign on GitHub ({ref})",
                     params={**gh_base, "label": label, "expect_assignees": list(proj.gh_assignees)}))
        if gh and state == "close":
            add(Step(ActionKind.CLOSE, "github", f"close {ref} on GitHub ({reason.replace('_', ' ')})",
                     params={**gh_base, "reason": reason}))
        if gh and state == "reopen":
            backlog_label = self.settings.github.backlog_label
            backlogged = backlog_label.casefold() in {x.casefold() for x in request.labels}
            if backlogged:
                add(Step(ActionKind.REMOVE_LABELS, "github", f"remove label {backlog_label} on GitHub ({ref}): back "
                         "in the live queue", params={**gh_base, "labels": [backlog_label], "reopen": True}))
            if proj.gh_state == "closed" or not backlogged:
                add(Step(ActionKind.REOPEN, "github", f"reopen {ref} on GitHub", params=dict(gh_base)))

        # 2. A Slack-only request that goes to the backlog first gets its backlog issue.
        create_index: int | None = None
        render_request = request
        if state == "backlog" and slack_only:
            create_index = add(backlog_destination(self.settings).plan(request, actor=actor, now=self.clock()))
            render_request = dataclasses.replace(request, links={**request.links, "github": LINK_PLACEHOLDER})

        # 3. Messages: GitHub comment, then the Slack thread.
        slack_action = state or ("assign" if assign else "reply")
        slack_posted = False
        targets = message.targets if message is not None else []
        for target in ("github", "slack"):
            if target not in targets or message is None:
                continue
            text, missing, pii = self._render(render_request, message, target)
            edited = message.template is not None and (target in message.texts or message.text is not None)
            if target == "slack" and state == "close" and self.settings.automation.slack_rating and reason != "duplicate":
                text = text.rstrip("\n") + "\nHow did we do? React to this message with :one: to :five: (5 = great).\n"
            if target == "github" and gh:
                label = "automatic comment" if message.automation else "comment"
                add(Step(ActionKind.REPLY, "github", f'{label} on GitHub ({ref}): "{_snippet(text, target)}"',
                         text=text, missing=missing, pii=pii,
                         params={**gh_base, "automation": message.automation}, edited=edited))
            elif target == "slack" and sl:
                slack_posted = True
                link = create_index if LINK_PLACEHOLDER in text else None
                add(self._slack_message(request, sl, text, slack_action, assign=assign, reason=reason,
                                        automation=message.automation, slack_only=slack_only, proj=proj,
                                        missing=missing, pii=pii, link_from=link, edited=edited,
                                        reassign_from=reassign_from if slack_only else None))
        if sl and slack_only and not slack_posted and (assign or state):
            # Slack has no assignee or state field: a short thread message carries it.
            text = self._state_line(state, assign, link=create_index is not None)
            add(self._slack_message(request, sl, text, slack_action, assign=assign, reason=reason,
                                    automation=True, slack_only=True, proj=proj,
                                    link_from=create_index if LINK_PLACEHOLDER in text else None,
                                    reassign_from=reassign_from))

        # 4. The reaction on the Slack request message.
        if sl:
            which = {"close": "done", "backlog": "backlog"}.get(state or "", "taken" if assign else "")
            name = self.settings.automation.slack_reactions.get(which, "") if which else ""
            if name:
                add(Step(ActionKind.REACT, "slack", f"react :{name.strip(':')}: on the Slack request message",
                         params={"channel": sl[0], "ts": sl[1], "name": name.strip(":")}))
        return steps

    def _slack_message(
        self,
        request: Request,
        sl: tuple[str, str],
        text: str,
        action: str,
        *,
        assign: Assignee | None,
        reason: str,
        automation: bool,
        slack_only: bool,
        proj: _Projection,
        missing: tuple[str, ...] = (),
        pii: tuple[Any, ...] = (),
        link_from: int | None = None,
        edited: bool = False,
        reassign_from: str | None = None,
    ) -> Step:
        params: dict[str, Any] = {
            "channel": sl[0], "thread_ts": sl[1], "action": action, "automation": automation,
            "actor": self.settings.me,
        }
        if action == "assign" and assign:
            params["assignee"] = assign.key
        if action == "close":
            params["reason"] = f"closed: {reason.replace('_', ' ')}"
        if slack_only and action != "reply":
            # The thread is the system of record for a Slack-only request: check it first.
            params["check"] = {"assignee": proj.sl_assignee, "status": proj.sl_status}
        label = "automatic reply" if automation else "reply"
        names = {m.slack: m.name for m in self.settings.team.values() if m.slack}
        summary = f'{label} in the Slack thread: "{_snippet(text, "slack", names=names)}"'
        if reassign_from and assign:
            # The thread message *is* the assignment of a Slack-only request: say what it changes.
            summary = f"reassign from {reassign_from} to {assign.name}: {summary}"
        return Step(ActionKind.REPLY, "slack", summary, text=text, missing=missing, pii=pii, params=params,
                    link_from=link_from, edited=edited, reassign_from=reassign_from)

    def _name(self, who: str) -> str:
        """A roster member's name (by key or GitHub login), else ``@login`` / the raw id."""
        if who in self.settings.team:
            return self.settings.team[who].name
        key = self.settings.member_by_github(who) or self.settings.member_by_slack(who)
        if key is not None:
            return self.settings.team[key].name
        return f"@{who}" if gh_login_like(who) else who

    def _check_assign(self, request: Request, proj: _Projection, assign: Assignee, on_github: bool) -> str | None:
        """Who the request is taken from (their names), or None when it has no assignee.

        The projection includes queued actions, so a take right after another take sees it.

        Raises:
            NothingToDo: it is already assigned to exactly this member.
        """
        login = (assign.github or "").casefold()
        if on_github:
            holders = list(proj.gh_assignees)
            mine = bool(login) and {h.casefold() for h in holders} == {login}
        else:
            holders = [proj.sl_assignee] if proj.sl_assignee else []
            same = {assign.key, assign.slack} - {None}
            mine = bool(holders) and (holders[0] in same or self._name(holders[0]) == assign.name)
        if mine:
            who = "you" if assign.key == self.settings.me else assign.name
            raise NothingToDo(f"{request.key} is already assigned to {who}; nothing to do")
        others = [h for h in holders if h != assign.key and not (login and h.casefold() == login)]
        return ", ".join(self._name(h) for h in others) or None

    # ------------------------------------------------------------------ repeated verbs
    def _require(self, request: Request, verb: StateVerb) -> None:
        """Refuse a verb that would change nothing (queued actions count as done).

        Raises:
            NothingToDo: e.g. "REQ-12 is already pending; nothing to do".
        """
        proj = self._projection(request)
        status = proj.status
        gh, _ = self._homes(request)
        holders = proj.gh_assignees if gh is not None else [proj.sl_assignee] if proj.sl_assignee else []
        why = {
            "pending": "is already pending" if status == "pending" else "",
            "resume": "is not pending" if status != "pending" else "",
            "close": "is already closed" if status == "closed" else "",
            "backlog": "is already in the backlog" if status == "backlog" else "",
            "reopen": "is already open" if status in ("open", "pending") else "",
            "unassign": "has no assignee" if not holders else "",
        }[verb]
        if why:
            raise NothingToDo(f"{request.key} {why}; nothing to do")

    # ------------------------------------------------------------------ plans (pure)
    def plan_assign(self, request_id: str, member: str) -> list[Step]:
        """Assign someone (+ the "assigned" automation message, + the ``taken`` reaction).

        ``member`` is a roster key, login, Slack id or name; someone off the roster is checked
        upstream first (:meth:`resolve_assignee`: a read-only GitHub or Slack call).
        """
        request = self._request(request_id)
        person = self.resolve_assignee(request, member)
        message = self._automation_message(
            request, self.settings.automation.on_assign_template, enabled=self.settings.automation.on_assign,
            assignee=person.key, which="assign",
        )
        return self._plan(request, assign=person, message=message)

    def plan_take(self, request_id: str) -> list[Step]:
        """Assign yourself (``me``) with the "assigned" message."""
        return self.plan_assign(request_id, self._me())

    def plan_unassign(self, request_id: str) -> list[Step]:
        """Remove the assignee (GitHub assignees; a state message on Slack-only requests)."""
        request = self._request(request_id)
        self._require(request, "unassign")
        return self._plan(request, state="unassign")

    def plan_reply(
        self,
        request_id: str,
        *,
        template: str | None = None,
        text: str | None = None,
        target: str = "auto",
        extra: dict[str, str] | None = None,
        texts: dict[str, str] | None = None,
    ) -> list[Step]:
        """Answer with a template (and its side effects), an edited template, or free text.

        Args:
            request_id: the request.
            template: template key; its side effects (assign me, labels, pending, close,
                backlog) are part of the plan, also when its text is edited.
            text: Markdown. Alone, free text. With ``template``, the edited text of the
                template: posted instead of the template's own (as written on GitHub, converted
                to mrkdwn for Slack), with the template's side effects.
            target: ``auto`` (the template's destination; free text: the Slack thread if any,
                else GitHub), ``slack``, ``github`` or ``both``.
            extra: ``--var`` values for the template.
            texts: the exact text for some targets, already in that target's format
                (``{"slack": mrkdwn}`` / ``{"github": markdown}``), e.g. edited in the reply
                composer's preview of that target. It wins over ``text`` and the template for
                that target only; other targets get the template's (or ``text``'s) rendering.

        A ``«missing: name»`` marker left in any posted text blocks queueing, like a template
        value that has no value.
        """
        texts = dict(texts or {})
        unknown = sorted(set(texts) - {"github", "slack"})
        if unknown:
            raise ActionError(f"unknown target {unknown[0]!r} for an edited text (slack or github)")
        if text is not None and not text.strip():
            text = None
        if template is None and text is None and not texts:
            raise ActionError("give either a template or a text to send")
        if any(not t.strip() for t in texts.values()):
            raise ActionError("the edited text is empty")
        request = self._request(request_id)
        tpl = self._template(template) if template is not None else None
        targets = self._targets(request, target, tpl)
        if not targets:
            raise ActionError("this template does not go anywhere this request lives (check its destination)")
        stray = [t for t in texts if t not in targets]
        if stray:
            raise ActionError(f"there is an edited text for {stray[0]}, but this reply goes to "
                              f"{' and '.join(targets)} (pass --target)")
        bare = [t for t in targets if t not in texts] if tpl is None and text is None else []
        if bare:
            raise ActionError(f"no text to post to {bare[0]}")
        message = _Message(targets=targets, template=tpl, text=text, extra=extra, texts=texts)
        se = tpl.side_effects if tpl is not None else None
        state: StateVerb | None = None
        reason = "completed"
        if se is not None:
            if se.close:
                state, reason = "close", se.close_reason
            elif se.backlog:
                state = "backlog"
            elif se.set_pending:
                state = "pending"
        assign = self._roster_person(self._me()) if se is not None and se.assign_me else None
        if assign:
            message.assignee = assign.key
        return self._plan(
            request, assign=assign, state=state, reason=reason, message=message,
            add_labels=se.add_labels if se else (), remove_labels=se.remove_labels if se else (),
            assign_if_needed=True,
        )

    def plan_pending(self, request_id: str) -> list[Step]:
        """Mark the request as waiting on the requester (the SLA clock pauses)."""
        request = self._request(request_id)
        self._require(request, "pending")
        return self._plan(request, state="pending")

    def plan_resume(self, request_id: str) -> list[Step]:
        """Clear "pending" (the SLA clock runs again)."""
        request = self._request(request_id)
        self._require(request, "resume")
        return self._plan(request, state="resume")

    def plan_backlog(self, request_id: str) -> list[Step]:
        """Move to the backlog (GitHub label + unassign, or a new backlog issue for Slack-only)."""
        request = self._request(request_id)
        self._require(request, "backlog")
        message = self._automation_message(request, self.settings.automation.on_backlog_template, enabled=True,
                                           which="backlog")
        return self._plan(request, state="backlog", message=message)

    def plan_close(
        self, request_id: str, *, template: str | None = "closed", reason: str = "completed",
        duplicate_of: str | None = None,
    ) -> list[Step]:
        """Close with a reason and a closing message.

        ``template`` equal to ``automation.on_close_template`` is the automatic "closed" message
        (with the survey link): it is left out when ``automation.on_close`` is off or the
        request's type is in ``automation.disabled_types``, and ``automation.type_templates`` can name
        another template for the type. Another key is sent as asked;
        ``None`` sends no message.

        A duplicate (``reason="duplicate"``) needs ``duplicate_of`` (a key, id or URL): instead
        of the closing message and survey, the requester is pointed at the original ("Duplicate
        of #12" on GitHub, which GitHub links, and a link in the Slack thread). Only a silent
        close (``template=None``) may be a duplicate without naming the original.
        """
        if reason not in CLOSE_REASONS:
            raise ActionError(f"unknown close reason {reason!r} ({', '.join(CLOSE_REASONS)})")
        request = self._request(request_id)
        self._require(request, "close")
        if duplicate_of or (reason == "duplicate" and template is not None):
            return self._plan(request, state="close", reason="duplicate",
                              message=self._duplicate_message(request, duplicate_of))
        message: _Message | None = None
        add_labels: tuple[str, ...] = ()
        remove_labels: tuple[str, ...] = ()
        if template is not None and template == self.settings.automation.on_close_template:
            message = self._automation_message(request, template, enabled=self.settings.automation.on_close,
                                               which="close")
        elif template is not None:
            tpl = self._template(template)
            from idqueue.domain.templates import targets_for

            message = _Message(targets=list(targets_for(tpl, request)), template=tpl)
            if reason == "completed" and tpl.side_effects.close:
                reason = tpl.side_effects.close_reason
            add_labels, remove_labels = tpl.side_effects.add_labels, tpl.side_effects.remove_labels
        return self._plan(request, state="close", reason=reason, message=message,
                          add_labels=add_labels, remove_labels=remove_labels)

    def duplicate_target(self, request: Request, text: str | None) -> tuple[str, str | None]:
        """What a duplicate points at: ``(label, url)`` from a key, request id or URL.

        Raises:
            ActionError: nothing given, the request itself, or neither a known request nor a URL.
        """
        text = (text or "").strip()
        if not text:
            raise ActionError("closing as a duplicate needs the original: a key (REQ-12), an id or a URL")
        original_id = self.store.resolve_id(text)
        if original_id is None and text.startswith(("https://", "http://")):
            original_id = self.store.resolve_url(text)
            if original_id is None:
                return text, text
        if original_id is None:
            raise ActionError(f"no request {text!r} to be a duplicate of (give a key such as REQ-12, an id or a URL)")
        if original_id == request.id:
            raise ActionError(f"{request.key} cannot be a duplicate of itself")
        original = self._request(original_id)
        return original.key, original.url

    def _duplicate_message(self, request: Request, duplicate_of: str | None) -> _Message:
        label, url = self.duplicate_target(request, duplicate_of)
        homes = [t for t in ("github", "slack") if SourceKind(t) in request.sources]
        text = (f"Closed as a duplicate of [{label}]({url}): we follow up there." if url
                else f"Closed as a duplicate of {label}: we follow up there.")
        texts: dict[str, str] = {}
        gh, _ = self._homes(request)
        original = self.store.get_request(self.store.resolve_id(label) or "") if url != label else None
        ref = url or label
        if gh is not None and original is not None and original.github_item:
            repo, number = parse_github_id(original.github_item)
            ref = f"#{number}" if repo == gh[0] else f"{repo}#{number}"
        if gh is not None:
            # GitHub reads "Duplicate of #12" and marks the issue as a duplicate of #12.
            texts["github"] = f"Duplicate of {ref}\n"
        return _Message(targets=homes, text=text, texts=texts, automation=True)

    def plan_reopen(self, request_id: str) -> list[Step]:
        """Reopen a closed request, or bring a backlogged one back to the live queue."""
        request = self._request(request_id)
        self._require(request, "reopen")
        return self._plan(request, state="reopen")

    def plan_priority(self, request_id: str, priority: str) -> list[Step]:
        """Override the priority: a ``priority:P1`` label on GitHub (local only for Slack-only).

        ``auto`` removes the override (and the priority labels on GitHub): the rules decide again.
        Setting the priority a request already has by hand is :class:`NothingToDo`.
        """
        priority = priority.upper()
        if priority not in (*PRIORITIES, AUTO):
            raise ActionError(f"unknown priority {priority!r} (P1, P2, P3, P4 or auto)")
        request = self._request(request_id)
        gh, _ = self._homes(request)
        labels = self._priority_labels(request)
        manual = request.priority_override or (labels[-1].removeprefix(PRIORITY_PREFIX) if labels else None)
        if priority == AUTO and not manual:
            raise NothingToDo(f"{request.key} has no priority override; nothing to do")
        if priority != AUTO and manual and manual.upper() == priority:
            raise NothingToDo(f"{request.key} is already {priority} (set by hand); nothing to do")
        if gh is None:
            return []
        ref = f"{gh[0]}#{gh[1]}"
        if priority == AUTO:
            if not labels:
                return []
            return [Step(ActionKind.REMOVE_LABELS, "github", f"remove label{'s' if len(labels) > 1 else ''} "
                         f"{', '.join(labels)} on GitHub ({ref}): the rules set the priority again",
                         params={"repo": gh[0], "number": gh[1], "labels": labels, "actor": self.settings.me})]
        label = f"{PRIORITY_PREFIX}{priority}"
        return [Step(ActionKind.SET_PRIORITY, "github", f"label {label} on GitHub ({ref}), replacing other "
                     "priority labels",
                     params={"repo": gh[0], "number": gh[1], "label": label, "prefix": PRIORITY_PREFIX,
                             "actor": self.settings.me})]

    def _priority_labels(self, request: Request) -> list[str]:
        """The request's ``priority:Pn`` labels, including one still queued to be set."""
        labels = [x for x in request.labels if x.casefold().startswith(PRIORITY_PREFIX)]
        for action in self.for_request(request.id):
            if action.kind is ActionKind.SET_PRIORITY:
                labels = [str(action.params.get("label"))]
            elif action.kind is ActionKind.REMOVE_LABELS:
                labels = [x for x in labels if x not in action.params.get("labels", [])]
        return labels

    # ------------------------------------------------------------------ enqueue
    def _enqueue(self, request_id: str, steps: list[Step]) -> list[Action]:
        missing = sorted({name for s in steps for name in s.missing})
        if missing:
            fix = ("edit the text: it still has a «missing: …» marker" if any(s.edited and s.missing for s in steps)
                   else "pass --var name=value, or edit the template")
            raise ActionError("the message has no value for: " + ", ".join(missing) + f" ({fix})")
        if not steps:
            return []
        request = self._request(request_id)
        now = self.clock()
        hold = self.wall() + timedelta(seconds=self.hold_seconds) if self.hold_seconds > 0 else None
        group = new_id("g")
        ids = [new_id() for _ in steps]
        actions: list[Action] = []
        for index, step in enumerate(steps):
            params = dict(step.params)
            if step.link_from is not None:
                params["link_from"] = ids[step.link_from]
            actions.append(Action(
                id=ids[index], request_id=request.id, kind=step.kind, target=step.target, params=params,
                text=step.text, state=ActionState.QUEUED, attempts=0, last_error=None, next_attempt_at=None,
                created_at=now, sent_at=None, group_id=group, summary=step.summary, hold_until=hold,
            ))
        self.outbox.insert(actions)
        return actions

    # One queuing twin per planner: it takes exactly the planner's arguments (and defaults).
    assign = _queues(plan_assign)
    take = _queues(plan_take)
    unassign = _queues(plan_unassign)
    reply = _queues(plan_reply)
    pending = _queues(plan_pending)
    resume = _queues(plan_resume)
    backlog = _queues(plan_backlog)
    close = _queues(plan_close)
    reopen = _queues(plan_reopen)

    def set_priority(self, request_id: str, priority: str) -> list[Action]:
        """Override the priority locally right away, and queue the GitHub label (if any).

        The override records when it was set: the new priority's SLA policy applies from that
        moment on (see :func:`idqueue.domain.sla.compute_sla`). ``auto`` removes the override.
        """
        steps = self.plan_priority(request_id, priority)
        request = self._request(request_id)
        if priority.upper() == AUTO:
            self.store.set_local(request.id, priority_override=None, priority_override_at=None)
        else:
            self.store.set_local(request.id, priority_override=priority.upper(), priority_override_at=self.clock())
        self._refresh(request)
        return self._enqueue(request_id, steps)

    def snooze(self, request_id: str, until: datetime | None) -> None:
        """Hide a request from the live queue until ``until`` (local only; None wakes it).

        Raises:
            NothingToDo: waking a request that is not snoozed.
            ActionError: a time that is not in the future.
        """
        request = self._request(request_id)
        now = self.clock()
        if until is None and (request.snoozed_until is None or request.snoozed_until <= now):
            raise NothingToDo(f"{request.key} is not snoozed; nothing to do")
        if until is not None and until <= now:
            raise ActionError("the snooze must end in the future")
        self.store.set_local(request.id, snoozed_until=until)
        self._refresh(request)

    def unsnooze(self, request_id: str) -> None:
        """Show a snoozed request in the queue again now."""
        self.snooze(request_id, None)

    def local_state(self, request_id: str) -> dict[str, Any]:
        """The request's local-only values (snooze, priority override), to restore on undo."""
        return self.store.local_of(self._request(request_id).id)

    def undo(self, group_ids: Iterable[str], local: dict[str, dict[str, Any]] | None = None) -> list[Action]:
        """Take back verbs that were not sent yet: cancel their actions and restore local state.

        Args:
            group_ids: the verbs' groups (their actions are all cancelled, or none is).
            local: request id → the local values to restore (from :meth:`local_state` taken
                before the verb): a priority override or a snooze made by the verb.

        Returns:
            The cancelled actions.

        Raises:
            ActionError: too late, something was already sent (nothing is changed then).
        """
        cancelled = self.outbox.cancel(group_ids, now=self.clock())
        for request_id, values in (local or {}).items():
            request = self.store.get_request(request_id)
            if request is not None:
                self.store.set_local(request.id, **values)
                self._refresh(request)
        return cancelled

    def _refresh(self, request: Request) -> None:
        """Re-assemble one request after a local-only change (best effort)."""
        try:
            from idqueue.domain.assemble import make_assembler
            from idqueue.integrations.registry import rulebook

            items = self.store.items_of(request.id)
            if items:
                self.store.apply("local", items=items, assembler=make_assembler(self.settings, self.clock(), rules=rulebook(self.settings)),
                                 now=self.clock())
        except Exception:
            pass

    # ------------------------------------------------------------------ reading and decisions
    def _ids_of(self, request_id: str) -> set[str]:
        ids = {request_id}
        resolved = self.store.resolve_id(request_id)
        if resolved:
            ids.add(resolved)
            request = self.store.get_request(resolved)
            if request is not None:
                ids.update(request.item_ids)
        return ids

    def for_request(self, request_id: str, *, unsent_only: bool = True) -> list[Action]:
        """A request's actions in queue order (by default only those not sent yet)."""
        states = UNSENT_STATES if unsent_only else None
        return self.outbox.select(states=states, request_ids=self._ids_of(request_id))

    def all(self, states: Iterable[ActionState] | None = None) -> list[Action]:
        """Every action (optionally only some states), in queue order."""
        return self.outbox.select(states=states)

    def get(self, action_id: str) -> Action:
        """An action by id or unique id prefix."""
        return self.outbox.find(action_id)

    def log(self, action_id: str) -> list[LogEntry]:
        """An action's attempt log."""
        return self.outbox.log(self.outbox.find(action_id).id)

    def retry(self, action_id: str, *, force: bool | None = None) -> Action:
        """Queue an action again now.

        Args:
            action_id: id or unique prefix.
            force: skip the conflict check on the next attempt; by default, retrying an action
                stopped by a conflict means "do it anyway".
        """
        action = self.outbox.find(action_id)
        if force is None:
            force = (action.last_error or "").startswith("conflict:")
        return self.outbox.retry(action.id, now=self.clock(), force=force)

    def drop(self, action_id: str) -> Action:
        """Drop an unsent action (and the later unsent steps of the same verb); returns it."""
        action = self.outbox.find(action_id)
        return self.outbox.drop(action.id, now=self.clock())[0]

    def dropped_with(self, action_id: str) -> list[Action]:
        """Like :meth:`drop`, returning every action dropped."""
        action = self.outbox.find(action_id)
        return self.outbox.drop(action.id, now=self.clock())


_SLACK_STATUS = {"close": "closed", "backlog": "backlog", "pending": "pending", "reopen": "open", "resume": "open"}
_KIND_STATUS = {ActionKind.PENDING: "pending", ActionKind.RESUME: "open", ActionKind.BACKLOG: "backlog",
                ActionKind.CLOSE: "closed", ActionKind.REOPEN: "open", ActionKind.CREATE_ISSUE: "backlog"}


def _project(proj: _Projection, kind: ActionKind, target: str, params: dict[str, Any]) -> None:
    """Apply an action's expected effect to a projection."""
    if kind in _KIND_STATUS:
        proj.status = _KIND_STATUS[kind]
    elif kind is ActionKind.REMOVE_LABELS and params.get("reopen"):
        proj.status = "open"
    elif kind is ActionKind.REPLY and target == "slack" and params.get("action") in _SLACK_STATUS:
        proj.status = _SLACK_STATUS[str(params["action"])]
    if target == "github":
        if kind is ActionKind.ASSIGN:
            proj.gh_assignees = [str(params.get("login"))]
        elif kind in (ActionKind.UNASSIGN, ActionKind.BACKLOG):
            proj.gh_assignees = []
        elif kind is ActionKind.CLOSE:
            proj.gh_state = "closed"
        elif kind is ActionKind.REOPEN:
            proj.gh_state = "open"
    elif target == "slack" and kind is ActionKind.REPLY:
        action = params.get("action")
        if action == "assign":
            proj.sl_assignee = params.get("assignee")
        elif action == "unassign":
            proj.sl_assignee = None
        elif action in ("close", "backlog", "pending"):
            proj.sl_status = {"close": "closed", "backlog": "backlog", "pending": "pending"}[str(action)]
        elif action in ("reopen", "resume"):
            proj.sl_status = "open"
