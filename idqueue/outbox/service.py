"""The triage verbs (assign, take, reply, pending, backlog, close, reopen, priority) as outbox actions.

:class:`Actions` is what the TUI and the CLI call. Each verb has a pure ``plan_*`` method that
returns the :class:`~idqueue.outbox.models.Step` list a preview or ``--dry-run`` shows (the exact
text per destination), and an enqueuing method that stores the same steps as one group of
actions in one transaction. The dispatcher sends them later, in order.

This module names no system: each home of a request plans its own steps through its
integration's planner (:mod:`idqueue.integrations.planning`, one per package, e.g.
:mod:`idqueue.integrations.github.planner`), phase by phase, homes in registry order.

What a verb writes where with the built-in planners (defaults; the README has the user-facing
table):

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
  item in the configured backlog destination (an issue in the backlog repo), then the thread
  gets its link.
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

import re
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec

from idqueue.clock import Clock
from idqueue.config import Settings, TeamMember
from idqueue.domain.customers import NO_CUSTOMER
from idqueue.domain.models import Request
from idqueue.domain.pii import find_pii
from idqueue.integrations import registry
from idqueue.integrations.planning import (
    HomePlanner,
    Message,
    PlanContext,
    Projection,
    StateVerb,
    markers,
    status_class,
)
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
from idqueue.outbox.people import Assignee, People
from idqueue.outbox.store import LogEntry, OutboxStore
from idqueue.store.db import Store

if TYPE_CHECKING:  # Jinja2 loads with the first template, not when the TUI starts
    from idqueue.domain.templates import ResponseTemplate

__all__ = [
    "ALL_TARGETS",
    "CLOSE_REASONS",
    "PRIORITIES",
    "Actions",
    "planned_homes",
    "planner_of",
    "reply_targets",
    "state_home",
    "target_label",
]

CLOSE_REASONS = ("completed", "not_planned", "duplicate")
PRIORITIES = ("P1", "P2", "P3", "P4")
PRIORITY_PREFIX = "priority:"
AUTO = "AUTO"
UNDO_LOCAL = "undo_local"
"""The action parameter holding the local values a verb replaced (restored by an undo)."""
"""The priority value that removes an override (``idqueue priority REQ-1 auto``)."""
ALL_TARGETS = ("all", "both")
"""``--target`` values that mean every home of the request (``both``: the same, kept for scripts)."""
_SLACK_ID_RE = re.compile(r"^[UW][A-Z0-9]+$")
_GH_LOGIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")

P = ParamSpec("P")


def gh_login_like(text: str) -> bool:
    """True for a GitHub-login-shaped string (shown as ``@login``), not a Slack id or a name."""
    return bool(_GH_LOGIN_RE.match(text)) and not _SLACK_ID_RE.match(text)


def planner_of(name: str) -> HomePlanner | None:
    """The write-back planner of the integration called ``name`` (None: unknown, or none)."""
    integration = registry.find(name)
    return integration.get_planner() if integration is not None else None


def planned_homes(request: Request) -> list[tuple[HomePlanner, str]]:
    """The request's homes that idqueue writes back to, as ``(planner, item id)``, registry order."""
    found: list[tuple[HomePlanner, str]] = []
    for integration, item_id in registry.homes_of(request):
        planner = integration.get_planner()
        if planner is not None:
            found.append((planner, item_id))
    return found


def state_home(request: Request) -> tuple[HomePlanner, str] | None:
    """The request's system of record: its first home whose planner holds the state."""
    return next(((p, i) for p, i in planned_homes(request) if p.holds_state), None)


MARKUP_NAMES = {"markdown": "Markdown", "mrkdwn": "mrkdwn"}
"""How the previews name a target's markup."""


def reply_targets() -> list[str]:
    """The values ``--target`` accepts: ``auto``, each writable integration's name, ``all``, ``both``."""
    return ["auto", *(i.name for i in registry.integrations() if i.planner is not None), *ALL_TARGETS]


def target_label(name: str) -> str:
    """A target as previews name it, with its markup: ``GitHub (Markdown)``, ``Slack (mrkdwn)``."""
    integration = registry.find(name)
    planner = integration.get_planner() if integration is not None else None
    display = integration.display if integration is not None else name
    return f"{display} ({MARKUP_NAMES.get(planner.markup, planner.markup)})" if planner is not None else display


def _project(proj: Projection, kind: ActionKind, target: str, params: dict[str, Any]) -> None:
    """Apply an action's expected effect to a projection (its target's planner knows how)."""
    proj.apply_status(kind, params)
    planner = planner_of(target)
    if planner is not None:
        planner.project(proj, kind, params)


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
            templates = load_templates(self.settings.templates_dir)
        except TemplateError as exc:
            raise ActionError(str(exc)) from None
        writable = [i.name for i in registry.integrations() if i.planner is not None]
        for template in templates.values():
            if template.destination not in (*ALL_TARGETS, "auto", *writable):
                raise ActionError(f"{template.path or template.key}: destination {template.destination!r} is not a "
                                  f"system idqueue writes to (auto, all, {', '.join(writable)})")
        return templates

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

    def _member_by_id(self, who: str) -> str | None:
        """The roster key of someone's id in any system's roster field (a Jira account id)."""
        fields = {i.roster_field for i in registry.integrations() if i.roster_field not in ("", "github", "slack")}
        return next((k for k, m in self.settings.team.items() if any(getattr(m, f, None) == who for f in fields)),
                    None)

    def _with_people(self) -> tuple[People, bool]:
        """The GitHub/Slack directory, and whether the caller must close it (made for this call)."""
        if self._people is not None:
            return self._people, False
        return People(self.settings), True

    def resolve_assignee(self, request: Request, who: str) -> Assignee:
        """Who ``who`` is, for assigning ``request``: a roster member, else someone checked upstream.

        A roster key, login, Slack id or name wins without any API call. Otherwise the request's
        system of record checks the name (:meth:`~idqueue.integrations.planning.HomePlanner.resolve_person`):
        for a request that lives on GitHub, ``who`` must be a login the repository can assign
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
        known = f"; roster: {', '.join(sorted(self.settings.team))}" if self.settings.team else ""
        home = state_home(request)
        if home is None:
            raise ActionError(f"{text!r} is not on the team roster{known}")
        people, owned = self._with_people()
        try:
            return home[0].resolve_person(people, request, home[1], text, known)
        finally:
            if owned:
                people.close()

    def assignable(self, request_ids: Iterable[str]) -> list[Assignee]:
        """Who the assign picker offers for requests when there is no roster.

        Each request's system of record offers its people (the assignable users of a GitHub
        repository, the members of a Slack-only request's channel), systems in registry order.

        Raises:
            ActionError: an upstream directory could not be asked.
        """
        by_home: dict[str, tuple[HomePlanner, list[str]]] = {}
        for rid in request_ids:
            home = state_home(self._request(rid))
            if home is not None:
                by_home.setdefault(home[0].name, (home[0], []))[1].append(home[1])
        order = {name: n for n, name in enumerate(registry.names())}
        people, owned = self._with_people()
        try:
            found = [p for name in sorted(by_home, key=lambda n: order.get(n, len(order)))
                     for p in by_home[name][0].assignable(people, by_home[name][1])]
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

    def _projection(self, request: Request) -> Projection:
        proj = Projection(status=status_class(request.status))
        homes = planned_homes(request)
        items = {i.id: i for i in self.store.items_of(request.id)} if homes else {}
        for planner, item_id in homes:
            planner.seed(proj.home(planner.name), request, items.get(item_id))
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
    ) -> Message | None:
        if which:
            key = self._automation_key(request, which, key)
        if not key or not enabled or not self._automation_on(request):
            return None
        templates = self.templates()
        if key not in templates:
            raise ActionError(f"automation template {key!r} not found (see `idqueue templates`, or turn the "
                              "automation off in [automation])")
        tpl = templates[key]
        return Message(targets=self._template_targets(tpl, request), template=tpl, assignee=assignee,
                       automation=True)

    @staticmethod
    def _template_targets(template: ResponseTemplate, request: Request) -> list[str]:
        from idqueue.domain.templates import targets_for

        return list(targets_for(template, request, homes=[p.name for p, _ in planned_homes(request)]))

    def _targets(self, request: Request, target: str, template: ResponseTemplate | None) -> list[str]:
        homes = planned_homes(request)
        names = [p.name for p, _ in homes]
        if target == "auto":
            if template is not None:
                return self._template_targets(template, request)
            # Free text: where the requester is talking to us (the Slack thread when there is one).
            talk = next((p.name for p, _ in homes if p.conversational), None)
            return [talk] if talk else names[:1]
        if target in ALL_TARGETS:
            return names
        integration = registry.find(target)
        if integration is None or integration.get_planner() is None:
            known = ", ".join(i.name for i in registry.integrations() if i.planner is not None)
            raise ActionError(f"unknown target {target!r} (auto, {known} or all)")
        if target not in names:
            raise ActionError(f"this request has no {integration.home_noun}")
        return [target]

    # ------------------------------------------------------------------ rendering
    def _render(self, request: Request, msg: Message, target: str,
                backlog: dict[str, str] | None = None) -> tuple[str, tuple[str, ...], tuple[Any, ...]]:
        planner = planner_of(target)
        if planner is None:
            raise ActionError(f"idqueue cannot write to {target!r}")
        exact = msg.texts.get(target)
        if exact is not None:
            # The user's edit of this target's preview, posted as written (already in the
            # target's markup); broadcasts are still neutralised where there are any.
            text = planner.exact(exact)
            return text, markers(text), self._pii(request, text)
        if msg.template is not None and msg.text is None:
            from idqueue.domain.templates import TemplateError, render_for

            try:
                rendered = render_for(
                    request, msg.template, self.settings, target=target, markup=planner.markup,
                    assignee=msg.assignee, extra=msg.extra, backlog=backlog,
                )
            except TemplateError as exc:
                raise ActionError(str(exc)) from None
            except ValueError as exc:
                raise ActionError(str(exc)) from None
            return rendered.text, rendered.missing, rendered.pii
        # The triager's own Markdown, converted for the target exactly like template output.
        text = planner.from_markdown(msg.text or "")
        # A marker left in free or edited text blocks sending, like a template's missing value.
        return text, markers(text), self._pii(request, text)

    def _pii(self, request: Request, text: str) -> tuple[Any, ...]:
        allow = [m.email for m in self.settings.team.values() if m.email]
        if self.settings.survey.url:
            allow.append(self.settings.survey.url)
        allow += [u for u in (request.url, *request.links.values()) if u]
        return tuple(find_pii(text, allow=allow))

    # ------------------------------------------------------------------ the planner
    def _plan(
        self,
        request: Request,
        *,
        assign: Assignee | None = None,
        state: StateVerb | None = None,
        reason: str = "completed",
        message: Message | None = None,
        add_labels: Iterable[str] = (),
        remove_labels: Iterable[str] = (),
        assign_if_needed: bool = False,
    ) -> list[Step]:
        """The steps of a verb: each home's planner adds its own, phase by phase.

        The phases (:mod:`idqueue.integrations.planning`): state changes, the backlog item (when
        the system of record cannot backlog in place), messages, then reactions; within a
        phase, the request's homes in registry order.

        ``assign_if_needed``: a side effect ("assign me") that is already true is skipped
        instead of being :class:`NothingToDo`, so the rest of the verb (its message) goes ahead.
        """
        homes = planned_homes(request)
        record = next((p for p, _ in homes if p.holds_state), None)
        proj = self._projection(request)
        reassign_from: str | None = None
        if assign:
            try:
                reassign_from = self._check_assign(request, proj, assign, record)
            except NothingToDo:
                if not assign_if_needed:
                    raise
                assign = None
        backlog: dict[str, str] | None = None
        render_request = request

        def render(target: str) -> tuple[str, tuple[str, ...], tuple[Any, ...]]:
            # Reads render_request and backlog when called: they change once the backlog item is planned.
            return self._render(render_request, message, target, backlog) if message else ("", (), ())

        ctx = PlanContext(
            request=request, settings=self.settings, state_home=record.name if record else None, assign=assign,
            reassign_from=reassign_from, state=state, reason=reason, message=message,
            add_labels=[x for x in dict.fromkeys(add_labels) if x],
            remove_labels=[x for x in dict.fromkeys(remove_labels) if x],
            projection=proj, planner_of=planner_of, render=render,
        )
        # 1. State first, so a conflict stops the messages that would announce it.
        for planner, item_id in homes:
            planner.state_steps(ctx, item_id)
        # 2. A request whose system of record cannot backlog in place first gets its backlog item.
        if state == "backlog" and record is not None and not record.backlogs_in_place:
            destination = backlog_destination(self.settings, request)
            ctx.backlog_index = ctx.add(destination.plan(request, actor=self.settings.me, now=self.clock()))
            render_request = self._with_backlog_link(request, destination.target)
            backlog = {"noun": destination.noun, "url": LINK_PLACEHOLDER, "system": destination.target}
        # 3. Messages, then 4. what follows them (reactions).
        for planner, item_id in homes:
            planner.message_steps(ctx, item_id)
        for planner, item_id in homes:
            planner.after_steps(ctx, item_id)
        return ctx.steps

    @staticmethod
    def _with_backlog_link(request: Request, system: str) -> Request:
        """The request as its messages see it once its backlog item exists: the item's link (still
        the placeholder) under the destination's name and under ``backlog``."""
        import dataclasses

        links = {**request.links, system: LINK_PLACEHOLDER, "backlog": LINK_PLACEHOLDER}
        return dataclasses.replace(request, links=links)

    def _name(self, who: str) -> str:
        """A roster member's name (by key or GitHub login), else ``@login`` / the raw id."""
        if who in self.settings.team:
            return self.settings.team[who].name
        key = self.settings.member_by_github(who) or self.settings.member_by_slack(who) or self._member_by_id(who)
        if key is not None:
            return self.settings.team[key].name
        return f"@{who}" if gh_login_like(who) else who

    def _check_assign(self, request: Request, proj: Projection, assign: Assignee,
                      record: HomePlanner | None) -> str | None:
        """Who the request is taken from (their names), or None when it has no assignee.

        The request's system of record says who holds it. The projection includes queued
        actions, so a take right after another take sees it.

        Raises:
            NothingToDo: it is already assigned to exactly this member.
        """
        holders = record.holders(proj) if record is not None else []
        if record is not None and record.is_assigned_to(holders, assign, self._name):
            who = "you" if assign.key == self.settings.me else assign.name
            raise NothingToDo(f"{request.key} is already assigned to {who}; nothing to do")
        others = [h for h in holders if record is None or not record.is_person(h, assign)]
        return ", ".join(self._name(h) for h in others) or None

    # ------------------------------------------------------------------ repeated verbs
    def _require(self, request: Request, verb: StateVerb) -> None:
        """Refuse a verb that would change nothing (queued actions count as done).

        Raises:
            NothingToDo: e.g. "REQ-12 is already pending; nothing to do".
        """
        proj = self._projection(request)
        status = proj.status
        home = state_home(request)
        holders = home[0].holders(proj) if home is not None else []
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
            target: ``auto`` (the template's destination; free text: the first home where the
                requester talks to the team, a Slack thread, else the first home), an
                integration's name (``slack``, ``github``, …) or ``all`` (``both``).
            extra: ``--var`` values for the template.
            texts: the exact text for some targets, already in that target's format
                (``{"slack": mrkdwn}`` / ``{"github": markdown}``), e.g. edited in the reply
                composer's preview of that target. It wins over ``text`` and the template for
                that target only; other targets get the template's (or ``text``'s) rendering.

        A ``«missing: name»`` marker left in any posted text blocks queueing, like a template
        value that has no value.
        """
        texts = dict(texts or {})
        writable = [i.name for i in registry.integrations() if i.planner is not None]
        unknown = sorted(set(texts) - set(writable))
        if unknown:
            raise ActionError(f"unknown target {unknown[0]!r} for an edited text ({' or '.join(writable)})")
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
        message = Message(targets=targets, template=tpl, text=text, extra=extra, texts=texts)
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
        message: Message | None = None
        add_labels: tuple[str, ...] = ()
        remove_labels: tuple[str, ...] = ()
        if template is not None and template == self.settings.automation.on_close_template:
            message = self._automation_message(request, template, enabled=self.settings.automation.on_close,
                                               which="close")
        elif template is not None:
            tpl = self._template(template)
            message = Message(targets=self._template_targets(tpl, request), template=tpl)
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

    def _duplicate_message(self, request: Request, duplicate_of: str | None) -> Message:
        label, url = self.duplicate_target(request, duplicate_of)
        homes = planned_homes(request)
        text = (f"Closed as a duplicate of [{label}]({url}): we follow up there." if url
                else f"Closed as a duplicate of {label}: we follow up there.")
        original = self.store.get_request(self.store.resolve_id(label) or "") if url != label else None
        texts: dict[str, str] = {}
        for planner, item_id in homes:
            # A home's own way of saying it: GitHub reads "Duplicate of #12" and links the issues.
            own = planner.duplicate_text(request, item_id, original, url or label)
            if own is not None:
                texts[planner.name] = own
        return Message(targets=[p.name for p, _ in homes], text=text, texts=texts, automation=True)

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
        labels = self._priority_labels(request)
        manual = request.priority_override or (labels[-1].removeprefix(PRIORITY_PREFIX) if labels else None)
        if priority == AUTO and not manual:
            raise NothingToDo(f"{request.key} has no priority override; nothing to do")
        if priority != AUTO and manual and manual.upper() == priority:
            raise NothingToDo(f"{request.key} is already {priority} (set by hand); nothing to do")
        wanted = None if priority == AUTO else priority
        return [step for planner, item_id in planned_homes(request)
                for step in planner.priority_steps(request, self.settings, item_id, wanted, labels)]

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
    def _enqueue(self, request_id: str, steps: list[Step], *, restore: dict[str, Any] | None = None) -> list[Action]:
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
            if restore is not None:
                # The local values the verb replaced, for an undo from anywhere (the outbox
                # screen, another session): see :meth:`undo`.
                params[UNDO_LOCAL] = restore
            actions.append(Action(
                id=ids[index], request_id=request.id, kind=step.kind, target=step.target, params=params,
                text=step.text, state=ActionState.QUEUED, attempts=0, last_error=None, next_attempt_at=None,
                created_at=now, sent_at=None, group_id=group, summary=step.summary, hold_until=hold,
                actor=self.settings.me or "",
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
        before = self.local_state(request.id)
        restore = {key: before.get(key) for key in ("priority_override", "priority_override_at")}
        if priority.upper() == AUTO:
            self.store.set_local(request.id, priority_override=None, priority_override_at=None)
        else:
            self.store.set_local(request.id, priority_override=priority.upper(), priority_override_at=self.clock())
        self._refresh(request)
        return self._enqueue(request_id, steps, restore=restore)

    def set_customer(self, request_id: str, customer: str | None) -> None:
        """Set the request's customer by hand (local only; nothing is sent anywhere).

        Args:
            request_id: the request.
            customer: a configured customer's key; ``"-"``
                (:data:`~idqueue.domain.customers.NO_CUSTOMER`) for "no customer"; None to let
                the requester's mail address decide again.

        Raises:
            ActionError: a key that is not a configured customer.
        """
        request = self._request(request_id)
        if customer is not None and customer != NO_CUSTOMER and customer not in self.settings.customers:
            known = ", ".join(self.settings.customers) or "none configured"
            raise ActionError(f"no customer {customer!r} (known: {known})")
        self.store.set_local(request.id, customer_override=customer)
        self._refresh(request)

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
                before the verb): a priority override or a snooze made by the verb. Default:
                what the cancelled actions recorded (a priority change keeps the override it
                replaced), so an undo from the outbox screen restores it too.

        Returns:
            The cancelled actions.

        Raises:
            ActionError: too late, something was already sent (nothing is changed then).
        """
        cancelled = self.outbox.cancel(group_ids, now=self.clock())
        if local is None:
            local = {}
            for action in cancelled:
                if isinstance(action.params.get(UNDO_LOCAL), dict):
                    local.setdefault(action.request_id, action.params[UNDO_LOCAL])
        for request_id, values in local.items():
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
