"""How a Jira issue folds into a request (:class:`~idqueue.domain.homes.HomeRules`).

An issue keeps state, like a GitHub issue: its assignee (an account id, mapped to a roster key
through the roster's ``jira`` field), labels and status are the request's truth whenever it is
one of the request's homes. The status decides through its *status category* and name, never
through workflow ids: the *done* category is closed (at the resolution date), a status in
``jira.pending_statuses`` is pending (the SLA clock pauses), the status idqueue's backlog verb
moves to (``jira.transitions["backlog"]``) is the backlog, and so is an open issue of the backlog
project (``jira.backlog_project``, when the JQL reads it): the issue a backlogged Slack request
became, whose transitions (closing it) then show on the request.

An issue idqueue created for a request that could not be backlogged in place (a Slack or email
request moved to the backlog, ``raw["backlog_item"]``; see :mod:`.source`) is that request's
*backlog item* instead, like a Trello card: it never leads, is never the primary home and is never a
request by itself; its status ("In Progress", "Done", with the resolution when it says more) is the
request's *backlog state*, and its URL ``links.jira``. The request keeps the status its own home
gives it (backlog), whatever happens to the issue.

Jira's own priority field is offered to the priority rules as a ``priority:Pn`` label (the
form a manual priority takes on GitHub), except for the site's default priority
(:data:`DEFAULT_PRIORITY`), which every new issue gets without anyone choosing it: there the
rules decide; a change of priority in the changelog is the label's ``LABELED`` event, so a
manual priority counts from when it was set. Comments are responses as on GitHub; internal notes of Jira Service Management
are ``NOTE`` events, never a response to the requester.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from idqueue.domain.homes import FoldContext, HomeRules, StatusFound
from idqueue.domain.models import EventKind, SourceItem, Status

if TYPE_CHECKING:
    from idqueue.config import Settings

__all__ = ["DEFAULT_PRIORITY", "PRIORITY_OF", "JiraRules", "jira_priority_name", "priority_label"]

PRIORITY_OF = {"highest": "P1", "blocker": "P1", "critical": "P1", "high": "P2", "major": "P2",
               "medium": "P3", "low": "P4", "minor": "P4", "lowest": "P4", "trivial": "P4"}
"""Jira's stock priority names (Cloud's and Server's older scheme) → idqueue's P1–P4."""
DEFAULT_PRIORITY = "Medium"
"""The priority every new issue gets by default: it says nothing about the request."""
NAME_OF = {"P1": "Highest", "P2": "High", "P3": DEFAULT_PRIORITY, "P4": "Low"}
"""idqueue's P1–P4 → the Jira priority name a manual priority is written as."""


def priority_label(name: object, chosen: object = None) -> str | None:
    """The ``priority:Pn`` label a Jira priority stands for (None: the default priority, which
    nobody chose, or a name idqueue does not know).

    ``chosen`` is the name idqueue recorded setting (the ``idqueue.priority`` property): the
    default priority counts as chosen (``P3``) while the issue still has the name recorded.
    """
    if not isinstance(name, str):
        return None
    if name.casefold() == DEFAULT_PRIORITY.casefold() and not (
            isinstance(chosen, str) and chosen.casefold() == name.casefold()):
        return None
    mapped = PRIORITY_OF.get(name.casefold())
    return f"priority:{mapped}" if mapped else None


def jira_priority_name(priority: str) -> str:
    """The Jira priority name for ``P1``–``P4`` (``Highest``, ``High``, ``Medium``, ``Low``)."""
    return NAME_OF[priority]


class JiraRules(HomeRules):
    """Jira's fold rules (see the module docstring)."""

    keeps_state: ClassVar[bool] = True
    requester_rank: ClassVar[int] = 1
    case_insensitive_ids: ClassVar[bool] = False

    def __init__(self, name: str, roster_field: str = "", settings: Settings | None = None) -> None:
        super().__init__(name, roster_field, settings)
        jira = settings.jira if settings is not None else None
        self.bot_accounts = set(jira.bot_accounts) if jira else set()
        self.pending = {s.casefold() for s in jira.pending_statuses} if jira else set()
        self.backlog = (jira.transitions.get("backlog") or "").casefold() if jira else ""
        backlog_project = (jira.backlog_project or "") if jira else ""
        self.backlog_project = backlog_project.upper() if backlog_project != (jira.project if jira else "") else ""

    def is_bot(self, actor_id: str) -> bool:
        """A configured automation account (``jira.bot_accounts``); app accounts are flagged
        as bots by the reader already."""
        return actor_id in self.bot_accounts

    def backlog_item(self, item: SourceItem) -> bool:
        """An issue the reader marked as a request's backlog item (see the module docstring)."""
        return item.raw.get("backlog_item") is True

    def backlog_state(self, item: SourceItem) -> str | None:
        """A backlog item's status, with its resolution when that says more ("Done",
        "Closed (Won't Do)"); None for other issues."""
        if not self.backlog_item(item):
            return None
        status = str(item.raw.get("status") or "") or None
        resolution = item.raw.get("resolution")
        if status and isinstance(resolution, str) and resolution and resolution.casefold() != status.casefold():
            return f"{status} ({resolution})"
        return status

    def labels(self, item: SourceItem) -> list[str]:
        """The issue's labels, plus ``priority:Pn`` for a priority someone chose."""
        label = priority_label(item.raw.get("priority"), item.raw.get("chosen_priority"))
        return [*item.labels, label] if label else list(item.labels)

    def assignees(self, item: SourceItem, ctx: FoldContext) -> list[str]:
        """The issue's assignee (a roster key when the account is on the roster)."""
        return list(dict.fromkeys(ctx.team.member(a) or a for a in item.assignees))

    def status(self, item: SourceItem, ctx: FoldContext) -> StatusFound | None:
        """Closed (done category), backlog (the backlog status), pending (a pending status)."""
        raw = item.raw
        if item.state == "closed" or raw.get("status_category") == "done":
            reason = "closed: not planned" if item.state_reason == "not_planned" else "closed: completed"
            resolution = raw.get("resolution")
            if isinstance(resolution, str) and resolution:
                reason = f"{reason} ({resolution})"
            return Status.CLOSED, reason, item.closed_at or item.updated_at
        status = str(raw.get("status") or "").casefold()
        in_backlog_project = bool(self.backlog_project) and str(raw.get("key") or "").upper().startswith(
            f"{self.backlog_project}-")
        if in_backlog_project or (self.backlog and status == self.backlog):
            moved = [e.at for e in ctx.events if e.kind is EventKind.BACKLOG and e.item_id == item.id]
            return Status.BACKLOG, "moved to the backlog", moved[-1] if moved else item.updated_at
        if raw.get("pending") or status in self.pending:
            return Status.PENDING, "waiting on the requester", None
        return None
