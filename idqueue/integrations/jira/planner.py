"""Jira's part in planning triage verbs, and in mirroring what was sent.

A Jira issue has fields for everything, like a GitHub issue: an assignee (an account id, from
the roster's ``jira`` field, else found by Jira's assignable-user search: :mod:`.people`), labels, a priority and a workflow status. So Jira plans the state
steps of a verb first and holds the state of every request it is a home of. State verbs are
workflow transitions the writer finds by target status or status category
(``jira.transitions``): pending, resume, close, reopen, and backlog *in place* (the issue moves
to the backlog status and is unassigned). A reply is a comment; a template marked ``internal``
is posted as a Jira Service Management internal note, which the requester never sees.

Jira renders plain text (the writer turns it into ADF paragraphs with links), so a reply's
Markdown links and emphasis are flattened to text first (:func:`flatten_markdown`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from idqueue.config import Settings
from idqueue.domain.actions import Action, ActionKind
from idqueue.domain.models import EventKind, Request, SourceKind, TimelineEvent
from idqueue.integrations.jira.convert import parse_time
from idqueue.integrations.jira.fold import DEFAULT_PRIORITY, jira_priority_name
from idqueue.integrations.jira.people import assignable_people, find_assignee
from idqueue.integrations.planning import (
    ActionError,
    Assignee,
    HomeState,
    Mirror,
    PlanContext,
    Step,
    TicketPlanner,
    snippet,
)
from idqueue.store.items import source_item

__all__ = ["PLANNER", "JiraPlanner", "flatten_markdown", "parse_jira_id"]

_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_STATE_KINDS = {"pending": ActionKind.PENDING, "resume": ActionKind.RESUME, "close": ActionKind.CLOSE,
                "reopen": ActionKind.REOPEN}


def parse_jira_id(item_id: str) -> tuple[str, str]:
    """``(site host, issue key)`` of an item id ``jira:<host>/<KEY-1>``.

    Raises:
        ValueError: not a Jira item id.
    """
    host, _, key = item_id.removeprefix("jira:").rpartition("/")
    if not item_id.startswith("jira:") or not host or not key:
        raise ValueError(f"not a Jira item id: {item_id!r}")
    return host, key


def flatten_markdown(text: str) -> str:
    """Markdown as the plain text Jira shows: ``[label](url)`` → ``label (url)`` (the URL stays a
    link), ``**bold**`` → ``bold``; a link whose label is its URL keeps the URL once."""
    def link(m: re.Match[str]) -> str:
        return m.group(2) if m.group(1) == m.group(2) else f"{m.group(1)} ({m.group(2)})"

    return _EMPHASIS.sub(r"\2", _MD_LINK.sub(link, text))


def _account(ctx: PlanContext, person: Assignee) -> str | None:
    """A person's Jira account id: the roster's ``jira`` field, else what the directory found."""
    member = ctx.settings.team.get(person.key) if person.on_roster else None
    if member is not None and member.jira:
        return member.jira
    return person.id_in("jira")


class JiraPlanner(TicketPlanner):
    """Plans Jira issue writes (see the module docstring)."""

    name = "jira"
    markup = "markdown"
    assignee_param = "account"
    public = True
    reply_label = "Jira comment"
    reply_noun = "Jira issue comment"

    def is_assigned_to(self, holders: list[str], person: Assignee, name_of: Callable[[str], str]) -> bool:
        """Exactly this person is assigned: their account (named through the roster), or key."""
        mine = {x for x in (person.id_in("jira"), person.key) if x}
        return bool(holders) and all(h in mine or (person.on_roster and name_of(h) == person.name) for h in holders)

    def is_person(self, holder: str, person: Assignee) -> bool:
        """Whether one holder is ``person`` (by account id or roster key)."""
        return holder in {x for x in (person.id_in("jira"), person.key) if x}

    # ------------------------------------------------------------------ phases
    def state_steps(self, ctx: PlanContext, item_id: str) -> None:
        """Assign, labels, then the state verb's transition (only where the issue holds the
        request's state: a backlog item of a Slack request is left alone, like a backlog card)."""
        if not ctx.holds_state(self.name):
            return
        key = parse_jira_id(item_id)[1]
        base: dict[str, Any] = {"key": key, "actor": ctx.actor}
        home = ctx.projection.home(self.name)
        if ctx.assign:
            self._assign_step(ctx, key, base, home)
        for kind, labels, verb in ((ActionKind.ADD_LABELS, ctx.add_labels, "add"),
                                   (ActionKind.REMOVE_LABELS, ctx.remove_labels, "remove")):
            if labels:
                ctx.add(Step(kind, self.name, f"{verb} label{'s' if len(labels) > 1 else ''} {', '.join(labels)} "
                             f"on Jira ({key})", params={**base, "labels": list(labels)}))
        state = ctx.state
        if state in ("unassign", "backlog") and home.assignees:
            ctx.add(Step(ActionKind.UNASSIGN, self.name, f"unassign {key} on Jira",
                         params={**base, "expected_assignee": home.assignees[0]}))
        if state == "backlog":
            target = ctx.settings.jira.transitions.get("backlog") or "Backlog"
            ctx.add(Step(ActionKind.BACKLOG, self.name, f"move {key} to {target} on Jira", params=dict(base)))
        elif state in _STATE_KINDS:
            target = ctx.settings.jira.transitions.get(state) or state
            what = f"close {key} on Jira ({ctx.reason.replace('_', ' ')})" if state == "close" else \
                f"move {key} to {target.removeprefix('category:')} on Jira ({state})"
            ctx.add(Step(_STATE_KINDS[state], self.name, what, params={**base, "reason": ctx.reason}))

    def _assign_step(self, ctx: PlanContext, key: str, base: dict[str, Any], home: HomeState) -> None:
        assign = ctx.assign
        assert assign is not None
        account = _account(ctx, assign)
        if not account and assign.on_roster:
            # A member without ``jira``: Jira's user search finds them by their roster email or name.
            member = ctx.settings.team[assign.key]
            try:
                account = find_assignee(ctx.settings, key, member.email or member.name).id_in("jira")
            except ActionError as exc:
                raise ActionError(f"{assign.name} has no Jira account in the roster (team.{assign.key}.jira = "
                                  f"<accountId>) and Jira's user search did not settle it: {exc}") from None
        if not account:
            raise ActionError(f"{assign.name} has no Jira account in the roster (team.{assign.key}.jira = "
                              f"<accountId>); {ctx.request.key} lives on Jira")
        what = (f"reassign from {ctx.reassign_from} to {assign.name}" if ctx.reassign_from
                else f"assign {assign.name}")
        ctx.add(Step(ActionKind.ASSIGN, self.name, f"{what} on Jira ({key})",
                     params={**base, "account": account, "member": assign.key,
                             "expected_assignee": home.assignees[0] if home.assignees else None},
                     reassign_from=ctx.reassign_from))

    def message_steps(self, ctx: PlanContext, item_id: str) -> None:
        """A comment (an internal note for an ``internal`` template), when the message goes to Jira.

        On an issue that does not hold the request's state (a Slack request's backlog item) only
        a message sent to Jira alone (``--target jira``) is posted: templates and automatic
        messages go where the request lives."""
        message = ctx.message
        if message is None or self.name not in message.targets:
            return
        if not ctx.holds_state(self.name) and list(message.targets) != [self.name]:
            return
        key = parse_jira_id(item_id)[1]
        text, missing, pii = ctx.render(self.name)
        text = flatten_markdown(text)
        internal = bool(message.template is not None and message.template.internal)
        label = "internal note" if internal else ("automatic comment" if message.automation else "comment")
        ctx.add(Step(ActionKind.REPLY, self.name, f'{label} on Jira ({key}): "{snippet(text)}"', text=text,
                     missing=missing, pii=() if internal else pii,
                     params={"key": key, "actor": ctx.actor, "automation": message.automation,
                             "internal": internal},
                     edited=message.edited(self.name)))

    def priority_steps(self, request: Request, settings: Settings, item_id: str, priority: str | None,
                       labels: list[str]) -> list[Step]:
        """The issue's priority field; clearing an override sets the default priority (the rules decide)."""
        key = parse_jira_id(item_id)[1]
        name = jira_priority_name(priority) if priority else DEFAULT_PRIORITY
        why = f"priority {priority}" if priority else "the rules set the priority again"
        return [Step(ActionKind.SET_PRIORITY, self.name, f"set the priority of {key} to {name} on Jira ({why})",
                     params={"key": key, "priority": name, "chosen": priority is not None, "actor": settings.me})]

    # ------------------------------------------------------------------ people
    def resolve_person(self, people: Any, request: Request, item_id: str, text: str, known: str) -> Assignee:
        """Someone off the roster: the one person Jira's assignable-user search for the issue
        finds by exactly that email address, display name or account id (see :mod:`.people`).

        Raises:
            ActionError: nobody or several people match (the line names the candidates).
        """
        return find_assignee(people.settings, parse_jira_id(item_id)[1], text, known)

    def assignable(self, people: Any, item_ids: list[str]) -> list[Assignee]:
        """Everyone Jira lets assign issues of these issues' projects (``GET /user/assignable/search``)."""
        return assignable_people(people.settings, [parse_jira_id(i)[1] for i in item_ids])

    # ------------------------------------------------------------------ text
    def from_markdown(self, text: str) -> str:
        """The triager's Markdown as Jira's plain text."""
        return flatten_markdown(text)

    # ------------------------------------------------------------------ local store
    def mirror(self, action: Action, result: dict[str, Any], local: Mirror) -> None:
        """The issue's new assignee/labels/status from the writer's answer, and the posted comment."""
        key = action.params.get("key") or result.get("key")
        if not isinstance(key, str) or action.kind is ActionKind.CREATE_ISSUE:
            return
        item = next(iter(_items(local, action.request_id, key)), None)
        if item is None:
            return
        host = parse_jira_id(item.id)[0]
        events: list[TimelineEvent] = []
        _apply_result(item, action, result, local)
        item.updated_at = max(item.updated_at, local.now)
        comment = result.get("comment")
        if action.kind is ActionKind.REPLY and isinstance(comment, dict) and comment.get("id") is not None:
            events.append(_comment_event(action, comment, item.id, host, local))
        local.store.apply(self.name, items=[item], events=events, assembler=local.assembler, now=local.now)


def _items(local: Mirror, request_id: str, key: str) -> list[Any]:
    """The stored Jira item of an issue key among the request's items."""
    rid = local.store.resolve_id(request_id) or request_id
    ids = [i.id for i in local.store.items_of(rid) if i.id.startswith("jira:") and i.id.endswith(f"/{key}")]
    found = [source_item(local.store, i) for i in ids]
    return [i for i in found if i is not None]


def _apply_result(item: Any, action: Action, result: dict[str, Any], local: Mirror) -> None:
    """What the writer says it changed, on the stored item (the next sync confirms it)."""
    kind = action.kind
    if kind in (ActionKind.ASSIGN, ActionKind.UNASSIGN) and "assignee" in result:
        item.assignees = [str(result["assignee"])] if result.get("assignee") else []
    elif kind in (ActionKind.ADD_LABELS, ActionKind.REMOVE_LABELS):
        added = [str(x) for x in result.get("add") or []]
        removed = {str(x) for x in result.get("remove") or []}
        item.labels = [x for x in dict.fromkeys([*item.labels, *added]) if x not in removed]
    elif kind is ActionKind.SET_PRIORITY and result.get("priority"):
        item.raw = {**item.raw, "priority": str(result["priority"]), "chosen_priority": result.get("chosen")}
    elif kind in (ActionKind.PENDING, ActionKind.RESUME, ActionKind.CLOSE, ActionKind.REOPEN, ActionKind.BACKLOG):
        status = str(result.get("status") or item.raw.get("status") or "")
        pending = {s.casefold() for s in local.settings.jira.pending_statuses}
        closed = kind is ActionKind.CLOSE
        item.raw = {**item.raw, "status": status, "pending": status.casefold() in pending,
                    "status_category": "done" if closed else ("new" if kind is ActionKind.REOPEN else
                                                              item.raw.get("status_category"))}
        if closed:
            item.state = "closed"
            item.state_reason = "not_planned" if action.params.get("reason") == "not_planned" else "completed"
            item.closed_at = item.closed_at or local.now
        elif kind is ActionKind.REOPEN:
            item.state, item.state_reason, item.closed_at = "open", None, None


def _comment_event(action: Action, comment: dict[str, Any], item_id: str, host: str, local: Mirror) -> TimelineEvent:
    """The sent comment as the reader will see it (same uid: the next sync replaces it)."""
    p = action.params
    actor = p.get("actor")
    member = local.settings.team.get(actor) if isinstance(actor, str) else None
    internal = bool(comment.get("internal") or p.get("internal"))
    data: dict[str, Any] = {"idqueue_action": action.id, "edited": False, "internal": internal}
    if p.get("automation"):
        data["idqueue_automation"] = True
    if actor:
        data["idqueue_actor"] = actor
    return TimelineEvent(
        uid=f"jira-comment:{host}/{comment['id']}", item_id=item_id,
        kind=EventKind.NOTE if internal else EventKind.COMMENT,
        at=parse_time(comment.get("created_at")) or local.now,
        actor_id=member.jira if member is not None else None, actor_name=member.name if member is not None else None,
        body=action.text or "", url=comment.get("url"), source=SourceKind("jira"), is_bot=False, data=data,
    )


PLANNER = JiraPlanner()
