"""Slack's part in planning triage verbs, and in mirroring what was sent.

A Slack thread has no assignee or state field. When a request also lives on GitHub, Slack only
gets the verb's message (a thread reply) and a reaction on the request message. A Slack-only
request's thread *is* its system of record: every state change is a thread message carrying
idqueue's metadata (the verb, the assignee) and the state it expects to find, which the writer
checks before posting (:mod:`idqueue.integrations.slack.writer`); when the verb has no message
of its own, a short state line carries it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from idqueue.domain.actions import Action, ActionKind
from idqueue.domain.models import (
    EventKind,
    Request,
    SourceKind,
    TimelineEvent,
    parse_slack_id,
    slack_id,
)
from idqueue.domain.mrkdwn import (
    escape_mrkdwn,
    markdown_to_mrkdwn,
    strip_broadcasts,
    unescape_mrkdwn,
)
from idqueue.integrations.planning import (
    LINK_PLACEHOLDER,
    STATUS_OF_VERB,
    ActionError,
    Assignee,
    HomePlanner,
    HomeState,
    Mirror,
    PlanContext,
    Projection,
    Step,
    seed_as_assembled,
    snippet,
)
from idqueue.integrations.slack.people import SlackPeople
from idqueue.store.items import source_item

__all__ = ["PLANNER", "SlackPlanner"]

_SLACK_ID_RE = re.compile(r"^[UW][A-Z0-9]+$")
SLACK_USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")
"""A Slack user id (``U…`` or, on Enterprise Grid, ``W…``)."""
_SLACK_LINK_RE = re.compile(r"<((?:https?|mailto):[^|>\s]+)(?:\|([^>]*))?>")
_SLACK_USER_RE = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_STATE_KINDS = {
    "assign": EventKind.ASSIGNED, "unassign": EventKind.UNASSIGNED, "close": EventKind.CLOSED,
    "backlog": EventKind.BACKLOG, "pending": EventKind.PENDING, "resume": EventKind.RESUMED,
    "reopen": EventKind.REOPENED,
}


def _mention(person: Assignee | None) -> str:
    """A Slack mention of a person with a Slack id (checked: roster or ``users.info``), else the name."""
    if person is None:
        return "someone"
    if person.slack and _SLACK_ID_RE.match(person.slack):
        return f"<@{person.slack}>"
    return escape_mrkdwn(person.name)


def state_line(state: str | None, assign: Assignee | None, *, link: bool) -> str:
    """The thread message that carries a Slack-only request's change when no message does."""
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
    return f"This request is assigned to {_mention(assign)}."


class SlackPlanner(HomePlanner):
    """Plans Slack thread replies and reactions (see the module docstring)."""

    name = "slack"
    markup = "mrkdwn"
    holds_state = True
    conversational = True
    reply_label = "Slack thread"
    reply_noun = "Slack thread reply"

    # ------------------------------------------------------------------ projection
    def seed(self, home: HomeState, request: Request, item: Any | None) -> None:
        """The request's assignee and status as assembled (from the thread's messages)."""
        seed_as_assembled(home, request)

    def project(self, projection: Projection, kind: ActionKind, params: dict[str, Any]) -> None:
        """What an idqueue thread message says: assignee or status."""
        if kind is not ActionKind.REPLY:
            return
        home = projection.home(self.name)
        action = str(params.get("action") or "")
        if action in STATUS_OF_VERB:
            projection.status = home.state = STATUS_OF_VERB[action]
        elif action == "assign":
            assignee = params.get("assignee")
            home.assignees = [str(assignee)] if assignee else []
        elif action == "unassign":
            home.assignees = []

    def is_assigned_to(self, holders: list[str], person: Assignee, name_of: Callable[[str], str]) -> bool:
        """The thread's assignee is this person (by roster key, Slack id or name)."""
        same = {person.key, person.slack} - {None}
        return bool(holders) and (holders[0] in same or name_of(holders[0]) == person.name)

    # ------------------------------------------------------------------ phases
    def message_steps(self, ctx: PlanContext, item_id: str) -> None:
        """The thread reply; on a Slack-only request, a state line when no message carries the change."""
        message, holds = ctx.message, ctx.holds_state(self.name)
        posted = False
        if message is not None and self.name in message.targets:
            text, missing, pii = ctx.render(self.name)
            if ctx.state == "close" and ctx.settings.automation.slack_rating and ctx.reason != "duplicate":
                text = text.rstrip("\n") + "\nHow did we do? React to this message with :one: to :five: (5 = great).\n"
            posted = True
            ctx.add(self._message(ctx, item_id, text, automation=message.automation, missing=missing, pii=pii,
                                  edited=message.edited(self.name),
                                  reassign_from=ctx.reassign_from if holds else None))
        if holds and not posted and (ctx.assign or ctx.state):
            text = state_line(ctx.state, ctx.assign, link=ctx.backlog_index is not None)
            ctx.add(self._message(ctx, item_id, text, automation=True, reassign_from=ctx.reassign_from))

    def _message(self, ctx: PlanContext, item_id: str, text: str, *, automation: bool,
                 missing: tuple[str, ...] = (), pii: tuple[Any, ...] = (), edited: bool = False,
                 reassign_from: str | None = None) -> Step:
        channel, ts = parse_slack_id(item_id)
        action, assign = ctx.verb, ctx.assign
        params: dict[str, Any] = {
            "channel": channel, "thread_ts": ts, "action": action, "automation": automation, "actor": ctx.actor,
        }
        if action == "assign" and assign:
            params["assignee"] = assign.key
        if action == "close":
            params["reason"] = f"closed: {ctx.reason.replace('_', ' ')}"
        if ctx.holds_state(self.name) and action != "reply":
            # The thread is the system of record for a Slack-only request: check it first.
            home = ctx.projection.home(self.name)
            params["check"] = {"assignee": home.assignees[0] if home.assignees else None, "status": home.state}
        label = "automatic reply" if automation else "reply"
        names = {m.slack: m.name for m in ctx.settings.team.values() if m.slack}
        summary = f'{label} in the Slack thread: "{snippet(text, self, names=names)}"'
        if reassign_from and assign:
            # The thread message *is* the assignment of a Slack-only request: say what it changes.
            summary = f"reassign from {reassign_from} to {assign.name}: {summary}"
        return Step(ActionKind.REPLY, self.name, summary, text=text, missing=missing, pii=pii, params=params,
                    link_from=ctx.link_index(text), edited=edited, reassign_from=reassign_from)

    def after_steps(self, ctx: PlanContext, item_id: str) -> None:
        """The ``done`` / ``backlog`` / ``taken`` reaction on the request message."""
        which = {"close": "done", "backlog": "backlog"}.get(ctx.state or "", "taken" if ctx.assign else "")
        name = ctx.settings.automation.slack_reactions.get(which, "") if which else ""
        if name:
            channel, ts = parse_slack_id(item_id)
            ctx.add(Step(ActionKind.REACT, self.name, f"react :{name.strip(':')}: on the Slack request message",
                         params={"channel": channel, "ts": ts, "name": name.strip(":")}))

    # ------------------------------------------------------------------ text
    def from_markdown(self, text: str) -> str:
        """The triager's Markdown as mrkdwn; every other &, <, > escaped, broadcasts neutralised."""
        return strip_broadcasts(markdown_to_mrkdwn(text))

    def exact(self, text: str) -> str:
        """mrkdwn as written, with broadcasts still neutralised."""
        return strip_broadcasts(text)

    def plain(self, text: str, names: dict[str, str]) -> str:
        """Links and mentions shown as text."""
        plain = _SLACK_LINK_RE.sub(lambda m: m.group(2) or m.group(1), text)
        plain = _SLACK_USER_RE.sub(lambda m: "@" + names.get(m.group(1), m.group(1)), plain)
        return unescape_mrkdwn(plain)

    # ------------------------------------------------------------------ people
    def resolve_person(self, people: Any, request: Request, item_id: str, text: str, known: str) -> Assignee:
        """A Slack user id (``users.info``) or an ``@name`` (handle, display or real name).

        Raises:
            ActionError: no such active user, or the name is ambiguous.
        """
        bare = text.removeprefix("@")
        if SLACK_USER_ID_RE.match(bare):
            person: Assignee | None = people.of(self.name, SlackPeople).user(bare)
            if person is None:
                raise ActionError(f"{text!r} is not an active Slack user in this workspace{known}")
            return person
        matches: list[Assignee] = people.of(self.name, SlackPeople).by_name(bare)
        if len(matches) > 1:
            names = ", ".join(f"{p.name} ({p.slack})" for p in matches[:5])
            raise ActionError(f"{text!r} matches {len(matches)} Slack users ({names}): give the user id")
        if not matches:
            raise ActionError(f"{text!r} is not on the roster and no Slack user has that name{known}")
        return matches[0]

    def assignable(self, people: Any, item_ids: list[str]) -> list[Assignee]:
        """The human members of each thread's channel."""
        channels = dict.fromkeys(parse_slack_id(i)[0] for i in item_ids)
        directory = people.of(self.name, SlackPeople)
        return [p for channel in channels for p in directory.channel_members(channel)]

    # ------------------------------------------------------------------ local store
    def mirror(self, action: Action, result: dict[str, Any], local: Mirror) -> None:
        """The posted thread reply (and the state it records) as timeline events."""
        if action.kind is not ActionKind.REPLY:
            return
        p = action.params
        ts, thread_ts = result.get("ts"), str(p.get("thread_ts") or "")
        if not isinstance(ts, str) or not thread_ts:
            return
        channel = str(p["channel"])
        item_id = slack_id(channel, thread_ts)
        item = source_item(local.store, item_id)
        if item is None:
            return
        try:
            sec, _, frac = ts.partition(".")
            at = datetime.fromtimestamp(int(sec), UTC) + timedelta(microseconds=int((frac + "000000")[:6]))
        except ValueError:
            at = local.now
        uid = slack_id(channel, ts)
        actor = p.get("actor")
        automation = bool(p.get("automation"))
        member = local.settings.team.get(actor) if isinstance(actor, str) else None
        name = member.name if member is not None else None
        data: dict[str, Any] = {"ts": ts, "thread_ts": thread_ts, "idqueue_action": action.id,
                                "idqueue_actor": actor, "idqueue_automation": automation}
        events = [TimelineEvent(
            uid=uid, item_id=item_id, kind=EventKind.MESSAGE, at=at, actor_id=None, actor_name=name,
            body=unescape_mrkdwn(action.text or ""), url=None, source=SourceKind(self.name), is_bot=automation,
            data=data,
        )]
        verb = str(p.get("action") or "reply")
        if verb in _STATE_KINDS:
            state_data: dict[str, Any] = {"action_id": action.id, "actor": actor, "automation": automation,
                                          "reply_uid": uid}
            if verb in ("assign", "unassign") and p.get("assignee") is not None:
                state_data["assignee"] = p.get("assignee")
            if p.get("reason"):
                state_data["reason"] = p.get("reason")
            events.append(TimelineEvent(
                uid=f"{uid}:{verb}", item_id=item_id, kind=_STATE_KINDS[verb], at=at,
                actor_id=member.slack if member is not None else None, actor_name=name, body="", url=None,
                source=SourceKind(self.name), is_bot=automation, data=state_data,
            ))
        local.store.apply(self.name, items=[item], events=events, assembler=local.assembler, now=local.now)


PLANNER = SlackPlanner()
