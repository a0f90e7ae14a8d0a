"""GitHub's part in planning triage verbs, and in mirroring what was sent.

An issue has fields for everything: assignees, labels, open/closed. So GitHub plans the state
steps of a verb first (assign, labels, pending, unassign, backlog label, close, reopen), a
comment where the message goes to GitHub, and the ``priority:Pn`` labels. It holds the state
of every request it is a home of, and backlogs in place (the backlog label).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from idqueue.config import Settings
from idqueue.domain.actions import Action, ActionKind
from idqueue.domain.models import (
    EventKind,
    Request,
    SourceKind,
    TimelineEvent,
    github_id,
    parse_github_id,
    parse_iso,
)
from idqueue.integrations import registry
from idqueue.integrations.github.people import GITHUB_LOGIN_RE, GitHubPeople
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

__all__ = ["PLANNER", "GitHubPlanner"]

PRIORITY_PREFIX = "priority:"
_SLACK_USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")
"""What a Slack user id looks like (typed where a GitHub login is needed)."""


def _base(item_id: str, actor: str | None) -> tuple[str, dict[str, Any]]:
    repo, number = parse_github_id(item_id)
    return f"{repo}#{number}", {"repo": repo, "number": number, "actor": actor}


def _plural(labels: list[str]) -> str:
    return "s" if len(labels) > 1 else ""


class GitHubPlanner(TicketPlanner):
    """Plans GitHub issue writes (see the module docstring)."""

    name = "github"
    markup = "markdown"
    assignee_param = "login"
    public = True
    reply_label = "GitHub comment"
    reply_noun = "GitHub issue comment"

    def is_assigned_to(self, holders: list[str], person: Assignee, name_of: Callable[[str], str]) -> bool:
        """Exactly this person's login is assigned."""
        login = (person.github or "").casefold()
        return bool(login) and {h.casefold() for h in holders} == {login}

    # ------------------------------------------------------------------ phases
    def state_steps(self, ctx: PlanContext, item_id: str) -> None:
        """Assign, labels, then the state verb's own step."""
        ref, base = _base(item_id, ctx.actor)
        home = ctx.projection.home(self.name)
        assign = ctx.assign
        if assign:
            if not assign.github:
                raise ActionError(
                    f"{assign.name} has no GitHub login in the roster (team.{assign.key}.github)" if assign.on_roster
                    else f"{assign.name} is a Slack user; {ctx.request.key} lives on GitHub: give their GitHub login")
            what = (f"reassign from {ctx.reassign_from} to {assign.name} (@{assign.github})" if ctx.reassign_from
                    else f"assign @{assign.github}")
            ctx.add(Step(ActionKind.ASSIGN, self.name, f"{what} on GitHub ({ref})",
                         params={**base, "login": assign.github, "member": assign.key,
                                 "expect_assignees": list(home.assignees)},
                         reassign_from=ctx.reassign_from))
        if ctx.add_labels:
            ctx.add(Step(ActionKind.ADD_LABELS, self.name, f"add label{_plural(ctx.add_labels)} "
                         f"{', '.join(ctx.add_labels)} on GitHub ({ref})", params={**base, "labels": ctx.add_labels}))
        if ctx.remove_labels:
            ctx.add(Step(ActionKind.REMOVE_LABELS, self.name, f"remove label{_plural(ctx.remove_labels)} "
                         f"{', '.join(ctx.remove_labels)} on GitHub ({ref})",
                         params={**base, "labels": ctx.remove_labels}))
        if ctx.state is not None:
            self._state_step(ctx, ref, base, home)

    def _state_step(self, ctx: PlanContext, ref: str, base: dict[str, Any], home: HomeState) -> None:
        settings, state = ctx.settings, ctx.state
        if state == "pending":
            label = (settings.sla.pending_labels or ["pending"])[0]
            ctx.add(Step(ActionKind.PENDING, self.name, f"label {label} on GitHub ({ref}): waiting on the requester",
                         params={**base, "labels": [label]}))
        elif state == "resume":
            labels = list(settings.sla.pending_labels or ["pending"])
            ctx.add(Step(ActionKind.RESUME, self.name, f"remove the pending label on GitHub ({ref})",
                         params={**base, "labels": labels}))
        elif state == "unassign":
            ctx.add(Step(ActionKind.UNASSIGN, self.name, f"unassign everyone on GitHub ({ref})",
                         params={**base, "expect_assignees": list(home.assignees)}))
        elif state == "backlog":
            label = settings.github.backlog_label
            ctx.add(Step(ActionKind.BACKLOG, self.name, f"label {label} and unassign on GitHub ({ref})",
                         params={**base, "label": label, "expect_assignees": list(home.assignees)}))
        elif state == "close":
            ctx.add(Step(ActionKind.CLOSE, self.name, f"close {ref} on GitHub ({ctx.reason.replace('_', ' ')})",
                         params={**base, "reason": ctx.reason}))
        elif state == "reopen":
            backlog_label = settings.github.backlog_label
            backlogged = backlog_label.casefold() in {x.casefold() for x in ctx.request.labels}
            if backlogged:
                ctx.add(Step(ActionKind.REMOVE_LABELS, self.name, f"remove label {backlog_label} on GitHub ({ref}): "
                             "back in the live queue", params={**base, "labels": [backlog_label], "reopen": True}))
            if home.state == "closed" or not backlogged:
                ctx.add(Step(ActionKind.REOPEN, self.name, f"reopen {ref} on GitHub", params=dict(base)))

    def message_steps(self, ctx: PlanContext, item_id: str) -> None:
        """A comment, when the message goes to GitHub."""
        message = ctx.message
        if message is None or self.name not in message.targets:
            return
        ref, base = _base(item_id, ctx.actor)
        text, missing, pii = ctx.render(self.name)
        label = "automatic comment" if message.automation else "comment"
        ctx.add(Step(ActionKind.REPLY, self.name, f'{label} on GitHub ({ref}): "{snippet(text)}"',
                     text=text, missing=missing, pii=pii, params={**base, "automation": message.automation},
                     edited=message.edited(self.name)))

    def priority_steps(self, request: Request, settings: Settings, item_id: str, priority: str | None,
                       labels: list[str]) -> list[Step]:
        """``priority:Pn`` replacing the other priority labels; None removes them."""
        ref, base = _base(item_id, settings.me)
        if priority is None:
            if not labels:
                return []
            return [Step(ActionKind.REMOVE_LABELS, self.name, f"remove label{_plural(labels)} "
                         f"{', '.join(labels)} on GitHub ({ref}): the rules set the priority again",
                         params={"repo": base["repo"], "number": base["number"], "labels": labels,
                                 "actor": settings.me})]
        label = f"{PRIORITY_PREFIX}{priority}"
        return [Step(ActionKind.SET_PRIORITY, self.name, f"label {label} on GitHub ({ref}), replacing other "
                     "priority labels", params={"repo": base["repo"], "number": base["number"], "label": label,
                                                "prefix": PRIORITY_PREFIX, "actor": settings.me})]

    def duplicate_text(self, request: Request, item_id: str, original: Request | None, ref: str) -> str | None:
        """``Duplicate of #12``: GitHub marks the issue as a duplicate of #12."""
        repo = parse_github_id(item_id)[0]
        other = registry.home_of(original, self.name) if original is not None else None
        if other is not None:
            other_repo, number = parse_github_id(other)
            ref = f"#{number}" if other_repo == repo else f"{other_repo}#{number}"
        return f"Duplicate of {ref}\n"

    # ------------------------------------------------------------------ people
    def resolve_person(self, people: Any, request: Request, item_id: str, text: str, known: str) -> Assignee:
        """A GitHub login the repository can assign (``GET /repos/…/assignees/{login}``).

        Raises:
            ActionError: a Slack id, or a login that cannot be assigned there.
        """
        repo, number = parse_github_id(item_id)
        bare = text.removeprefix("@")
        if _SLACK_USER_ID_RE.match(bare):
            raise ActionError(f"{text!r} looks like a Slack user id, but {request.key} lives on GitHub "
                              f"({repo}#{number}): give their GitHub login{known}")
        if GITHUB_LOGIN_RE.match(bare) and people.of(self.name, GitHubPeople).can_assign(repo, bare):
            return Assignee(key=bare, name=bare, github=bare)
        raise ActionError(f"{text!r} cannot be assigned in {repo}: not on the roster and not a GitHub "
                          f"login with access to the repository{known}")

    def assignable(self, people: Any, item_ids: list[str]) -> list[Assignee]:
        """The assignable users of each repository."""
        repos = dict.fromkeys(parse_github_id(i)[0] for i in item_ids)
        directory = people.of(self.name, GitHubPeople)
        return [p for repo in repos for p in directory.assignees(repo)]

    # ------------------------------------------------------------------ local store
    def mirror(self, action: Action, result: dict[str, Any], local: Mirror) -> None:
        """The issue's new assignees/labels/state from GitHub's answer, and the posted comment."""
        p = action.params
        if "number" not in p:
            return
        item = source_item(local.store, github_id(str(p["repo"]), int(p["number"])))
        if item is None:
            return
        now = local.now
        snap = result.get("issue")
        if isinstance(snap, dict):
            item.assignees = list(snap.get("assignees") or [])
            item.labels = list(snap.get("labels") or [])
            item.state = str(snap.get("state") or item.state)
            item.state_reason = snap.get("state_reason")
            item.closed_at = parse_iso(snap.get("closed_at"))
            item.updated_at = max(item.updated_at, parse_iso(snap.get("updated_at")) or now)
        elif isinstance(result.get("labels"), list):
            item.labels = [str(x) for x in result["labels"]]
        events: list[TimelineEvent] = []
        comment = result.get("comment")
        if action.kind is ActionKind.REPLY and isinstance(comment, dict) and comment.get("id") is not None:
            at = parse_iso(comment.get("created_at")) or now
            data: dict[str, Any] = {"idqueue_action": action.id, "edited": False}
            if p.get("automation"):
                data["idqueue_automation"] = True
            if p.get("actor"):
                data["idqueue_actor"] = p["actor"]
            actor = p.get("actor")
            login = comment.get("user") or (local.settings.team[actor].github
                                            if isinstance(actor, str) and actor in local.settings.team else None)
            events.append(TimelineEvent(
                uid=f"gh-comment:{int(comment['id'])}", item_id=item.id, kind=EventKind.COMMENT, at=at,
                actor_id=login, actor_name=login, body=action.text or "", url=comment.get("url"),
                source=SourceKind(self.name), is_bot=False, data=data,
            ))
        local.store.apply(self.name, items=[item], events=events, assembler=local.assembler, now=now)


PLANNER = GitHubPlanner()
