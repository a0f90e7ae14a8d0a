"""How a GitHub issue folds into a request (:class:`~idqueue.domain.homes.HomeRules`).

An issue keeps state: its assignees, labels and open/closed state are the request's truth
whenever it is one of the request's homes. The configured backlog label moves it to the
backlog, a pending label (``sla.pending_labels``) means waiting on the requester, and GitHub's
``state_reason`` says how it was closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from idqueue.domain.homes import FoldContext, HomeRules, StatusFound
from idqueue.domain.models import EventKind, SourceItem, Status

if TYPE_CHECKING:
    from idqueue.config import Settings

CLOSED_REASONS = {"not_planned": "closed: not planned", "duplicate": "closed: duplicate"}
"""GitHub's ``state_reason`` → the request's status reason (else ``closed: completed``)."""


class GitHubRules(HomeRules):
    """GitHub's fold rules: the issue is the system of record; logins compare case-insensitively;
    bot logins (``github.bot_logins``, ``…[bot]``) are bots."""

    keeps_state: ClassVar[bool] = True
    requester_rank: ClassVar[int] = 1
    case_insensitive_ids: ClassVar[bool] = True

    def __init__(self, name: str, roster_field: str = "", settings: Settings | None = None) -> None:
        super().__init__(name, roster_field, settings)
        github = settings.github if settings is not None else None
        self.bot_logins = {b.lower() for b in github.bot_logins} if github else set()
        self.backlog_label = github.backlog_label.lower() if github else ""
        self.pending_labels = {p.lower() for p in settings.sla.pending_labels} if settings else set()

    def is_bot(self, actor_id: str) -> bool:
        """A configured bot login or a GitHub App's ``name[bot]``."""
        return actor_id.lower() in self.bot_logins or actor_id.endswith("[bot]")

    def assignees(self, item: SourceItem, ctx: FoldContext) -> list[str]:
        """All of the issue's assignees, in GitHub's order (roster keys when known)."""
        return list(dict.fromkeys(ctx.team.member(login) or login for login in item.assignees))

    def status(self, item: SourceItem, ctx: FoldContext) -> StatusFound | None:
        """Backlog (label), closed (with its reason) or pending (label); else None."""
        lower = {label.lower() for label in item.labels}
        if self.backlog_label and self.backlog_label in lower:
            labelled = [
                e.at for e in ctx.events
                if e.kind is EventKind.LABELED and str(e.data.get("label", "")).lower() == self.backlog_label
            ]
            at = labelled[-1] if labelled else None
            return Status.BACKLOG, "moved to the backlog", at or item.closed_at or item.updated_at
        if item.state == "closed":
            reason = CLOSED_REASONS.get(item.state_reason or "", "closed: completed")
            return Status.CLOSED, reason, item.closed_at or item.updated_at
        if lower & self.pending_labels:
            return Status.PENDING, "waiting on the requester", None
        return None
