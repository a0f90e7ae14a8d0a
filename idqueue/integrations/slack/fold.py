"""How a Slack request message folds into a request (:class:`~idqueue.domain.homes.HomeRules`).

A Slack message does not keep state: when a request lives only on Slack, idqueue records what
the triager did as thread messages with metadata (state events in the timeline) and adds the
configured reactions (``automation.slack_reactions``). A teammate working by hand leaves only
the reaction, or for the backlog a thread reply linking the issue they opened; both are read
back here, so everyone's queue is right whoever did the work. The requester of a Slack message
wins over that of a linked issue: an intake bot files the issue on the requester's behalf.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from idqueue.domain.homes import (
    FoldContext,
    HomeRules,
    StatusFound,
    assignee_from_events,
    last_state_event,
    status_from_events,
)
from idqueue.domain.models import EventKind, SourceItem, Status, TimelineEvent

if TYPE_CHECKING:
    from idqueue.config import Settings


class SlackRules(HomeRules):
    """Slack's fold rules: state from idqueue's events, else from teammates' reactions; the
    configured intake bots are bots; messages carry no labels."""

    keeps_state: ClassVar[bool] = False
    requester_rank: ClassVar[int] = 0

    def __init__(self, name: str, roster_field: str = "", settings: Settings | None = None) -> None:
        super().__init__(name, roster_field, settings)
        self.bot_ids = set(settings.slack.intake_bot_ids) if settings is not None else set()

    def is_bot(self, actor_id: str) -> bool:
        """A configured intake bot."""
        return actor_id in self.bot_ids

    def labels(self, item: SourceItem) -> list[str]:
        """None: a Slack message has reactions, not labels."""
        return []

    def assignees(self, item: SourceItem, ctx: FoldContext) -> list[str]:
        """idqueue's assign events in the thread; without any, the first teammate who reacted
        with the "taken" reaction (the one idqueue adds when it assigns, e.g. :eyes:)."""
        assignees, by_event = assignee_from_events(ctx)
        if by_event:
            return assignees
        taken = _reactors(item, ctx.settings.automation.slack_reactions.get("taken"), ctx)
        return [ctx.team.member(taken[0]) or taken[0]] if taken else []

    def status(self, item: SourceItem, ctx: FoldContext) -> StatusFound | None:
        """idqueue's last state event; without any, what a teammate did by hand."""
        if last_state_event(ctx.events) is None:
            return _state_without_idqueue(item, ctx)
        return status_from_events(ctx.events)


def _reactors(item: SourceItem, name: str | None, ctx: FoldContext) -> list[str]:
    """Slack user ids of teammates who reacted with ``name`` to a request message, in order."""
    if not name:
        return []
    reactions = item.raw.get("reactions")
    if not isinstance(reactions, dict):
        return []
    users = reactions.get(name.strip(":")) or []
    return [u for u in users if isinstance(u, str) and ctx.team.is_teammate(u, ctx.requester_ids)]


def _state_without_idqueue(item: SourceItem, ctx: FoldContext) -> StatusFound | None:
    """The state a teammate gave a Slack-only request *without* idqueue, if any.

    The :white_check_mark:-style "done" reaction closes it, the "backlog" reaction or a
    teammate's thread reply linking an issue of the backlog repo moves it to the backlog.
    Reactions carry no time, so the teammate's last thread reply (or the message's last
    activity) stands in for when it happened.
    """
    reactions = ctx.settings.automation.slack_reactions
    replies = [e for e in ctx.events if e.kind is EventKind.MESSAGE and e.item_id == item.id]

    def when(actors: list[str]) -> datetime:
        by_them = [e.at for e in replies if e.actor_id in actors]
        return max(by_them or [e.at for e in replies] or [item.updated_at])

    done = _reactors(item, reactions.get("done"), ctx)
    if done:
        name = reactions.get("done", "").strip(":")
        return Status.CLOSED, f"closed (:{name}: reaction)", when(done)
    backlog = _reactors(item, reactions.get("backlog"), ctx)
    if backlog:
        name = reactions.get("backlog", "").strip(":")
        return Status.BACKLOG, f"moved to the backlog (:{name}: reaction)", when(backlog)
    return _backlog_link(replies, ctx)


def _backlog_link(replies: list[TimelineEvent], ctx: FoldContext) -> StatusFound | None:
    """A teammate's latest thread reply that links an issue in the backlog repo, as backlog."""
    backlog_repo = ctx.settings.github.backlog_repo
    if not backlog_repo:
        return None
    prefix = f"gh:{backlog_repo}#".lower()
    for event in reversed(replies):
        links = event.data.get("links") or []
        if (
            isinstance(links, list)
            and ctx.team.is_teammate(event.actor_id, ctx.requester_ids)
            and not event.is_bot
            and any(isinstance(link, str) and link.lower().startswith(prefix) for link in links)
        ):
            return Status.BACKLOG, f"moved to the backlog ({backlog_repo} issue linked)", event.at
    return None
