"""Email's part in planning triage verbs, and in mirroring what was sent.

A reply is one SMTP message in the requester's thread (:class:`~idqueue.integrations.email.writer.EmailWriter`):
``thread`` (the root Message-ID), ``to`` (the requester's address) and ``subject`` come from the
stored request. Texts are rendered from the templates' Markdown and sent as plain text: links
read ``label (url)``, emphasis marks are dropped.

A mail thread has no assignee, status or backlog field, so an email request's system of record
is idqueue's own database: assign, unassign, close, reopen, pending, resume and backlog are
*local state* actions on the email target. The writer sends nothing upstream for them; it
records the state event in the store (:mod:`idqueue.integrations.email.local_state`), exactly
once (the event's uid is the action's), and the fold rules read it back. The actions go through
the outbox like every other write, so they keep its order, undo hold, conflict check and
retries, and survive restarts.
"""

from __future__ import annotations

import re
from typing import Any

from idqueue.domain.actions import Action, ActionKind
from idqueue.domain.models import Request
from idqueue.integrations.email.convert import root_of, sent_reply_event
from idqueue.integrations.email.local_state import STATE_KINDS, record_state, recorded
from idqueue.integrations.planning import (
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
from idqueue.store.items import source_item

__all__ = ["PLANNER", "EmailPlanner", "markdown_to_plain"]

_VERB_KIND = {
    "close": ActionKind.CLOSE, "reopen": ActionKind.REOPEN, "pending": ActionKind.PENDING,
    "resume": ActionKind.RESUME, "backlog": ActionKind.BACKLOG, "unassign": ActionKind.UNASSIGN,
}
_LINK = re.compile(r"\[([^\]\n]*)\]\(([^)\s]+)\)")
_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")


def markdown_to_plain(text: str) -> str:
    """A template's Markdown as a plain-text mail: ``[label](url)`` → ``label (url)`` (the URL
    alone when the label is it), ``**bold**`` → ``bold``."""

    def link(m: re.Match[str]) -> str:
        label, url = m.group(1).strip(), m.group(2)
        return url if not label or label == url else f"{label} ({url})"

    return _EMPHASIS.sub(lambda m: m.group(2), _LINK.sub(link, text))


class EmailPlanner(HomePlanner):
    """Plans SMTP replies and the local state actions of email requests (see the module docstring)."""

    name = "email"
    markup = "markdown"
    holds_state = True
    conversational = True
    reply_label = "Email reply"
    reply_noun = "email reply"

    # ------------------------------------------------------------------ projection
    def seed(self, home: HomeState, request: Request, item: Any | None) -> None:
        """The request's assignee and status as assembled (from idqueue's state events)."""
        seed_as_assembled(home, request)

    def project(self, projection: Projection, kind: ActionKind, params: dict[str, Any]) -> None:
        """What a local state action records."""
        home = projection.home(self.name)
        if kind is ActionKind.ASSIGN:
            assignee = params.get("assignee")
            home.assignees = [str(assignee)] if assignee else []
        elif kind is ActionKind.UNASSIGN:
            home.assignees = []
        elif kind in STATE_KINDS:
            home.state = projection.status

    def is_assigned_to(self, holders: list[str], person: Assignee, name_of: Any) -> bool:
        """The recorded assignee is this person (by roster key or name)."""
        return bool(holders) and (holders[0] == person.key or name_of(holders[0]) == person.name)

    # ------------------------------------------------------------------ phases
    def message_steps(self, ctx: PlanContext, item_id: str) -> None:
        """The state action (when email holds the request's state), then the reply."""
        if ctx.holds_state(self.name):
            if ctx.assign is not None:
                self._state(ctx, item_id, ActionKind.ASSIGN, "assign")
            if ctx.state is not None:
                self._state(ctx, item_id, _VERB_KIND[ctx.state], ctx.state)
        message = ctx.message
        if message is None or self.name not in message.targets:
            return
        text, missing, pii = ctx.render(self.name)
        if message.template is not None and message.text is None and self.name not in message.texts:
            text = self.as_sent(text)  # free and edited text went through from_markdown already
        request = ctx.request
        params: dict[str, Any] = {"thread": root_of(item_id), "subject": request.title, "action": ctx.verb,
                                  "automation": message.automation, "actor": ctx.actor}
        if request.requester is not None and "@" in request.requester.id:
            params["to"] = [request.requester.id]
        label = "automatic email" if message.automation else "email"
        to = ", ".join(params.get("to", [])) or "the requester"
        ctx.add(Step(ActionKind.REPLY, self.name, f'{label} to {to}: "{snippet(text, self)}"', text=text,
                     missing=missing, pii=pii, params=params, edited=message.edited(self.name)))

    def _state(self, ctx: PlanContext, item_id: str, kind: ActionKind, verb: str) -> None:
        home = ctx.projection.home(self.name)
        params: dict[str, Any] = {
            "item": item_id, "action": verb, "actor": ctx.actor,
            "check": {"assignee": home.assignees[0] if home.assignees else None, "status": home.state},
        }
        if kind is ActionKind.ASSIGN and ctx.assign is not None:
            params["assignee"] = ctx.assign.key
            what = f"assigned to {ctx.assign.name}"
            if ctx.reassign_from:
                what = f"reassigned from {ctx.reassign_from} to {ctx.assign.name}"
        elif verb == "close":
            params["reason"] = f"closed: {ctx.reason.replace('_', ' ')}"
            what = params["reason"]
        else:
            what = {"backlog": "moved to the backlog", "pending": "waiting on the requester",
                    "resume": "picked up again", "reopen": "reopened", "unassign": "unassigned"}.get(verb, verb)
        ctx.add(Step(kind, self.name, f"record in idqueue: {what} (email has no such field)", params=params,
                     reassign_from=ctx.reassign_from if kind is ActionKind.ASSIGN else None))

    # ------------------------------------------------------------------ text
    def from_markdown(self, text: str) -> str:
        """The triager's Markdown as a plain-text mail."""
        return markdown_to_plain(text)

    def as_sent(self, rendered: str) -> str:
        """A template's Markdown rendering as a plain-text mail."""
        return markdown_to_plain(rendered)

    # ------------------------------------------------------------------ local store
    def mirror(self, action: Action, result: dict[str, Any], local: Mirror) -> None:
        """The sent reply as its timeline event; a state action's event (already recorded by the
        writer when it could reach the store; the same uid makes this idempotent)."""
        if action.kind in STATE_KINDS:
            if not recorded(local.store, action):
                record_state(local.store, local.settings, action, now=local.now, assembler=local.assembler)
            return
        if action.kind is not ActionKind.REPLY or not isinstance(result.get("message_id"), str):
            return
        item_id = f"email:{action.params.get('thread') or root_of(action.request_id)}"
        item = source_item(local.store, item_id)
        if item is None:
            return
        actor = action.params.get("actor")
        member = local.settings.team.get(actor) if isinstance(actor, str) else None
        sender = local.settings.email.address or ""
        event = sent_reply_event(
            item=item_id, message_id=str(result["message_id"]), text=action.text or "", at=local.now,
            sender=sender, sender_name=member.name if member is not None else local.settings.team_name,
            action_id=action.id, automation=bool(action.params.get("automation")),
        )
        if actor:
            event.data["idqueue_actor"] = actor
        local.store.apply(self.name, items=[item], events=[event], assembler=local.assembler, now=local.now)


PLANNER = EmailPlanner()
