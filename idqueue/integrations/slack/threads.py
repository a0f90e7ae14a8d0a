"""Thread reads of one poll: what a read produced and the plan of which threads to re-check
within the ``conversations.replies`` budget (most urgent first)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from idqueue.domain.models import (
    SourceItem,
    TimelineEvent,
    parse_slack_id,
    slack_id,
)
from idqueue.integrations.base import (
    Batch,
    PollHints,
)
from idqueue.integrations.slack.convert import TS_RE
from idqueue.integrations.slack.cursor import ChannelState


@dataclass
class Thread:
    parent: dict[str, Any] | None
    replies: list[dict[str, Any]]
    missing: bool = False  # thread_not_found: the parent is gone


@dataclass
class ThreadChanges:
    """What reading one request's thread produced, and the request's new cursor entry."""

    items: list[SourceItem]
    events: list[TimelineEvent]
    gone: list[str]
    entry: dict[str, Any]


def add_thread(batch: Batch, channel: str, state: ChannelState, ts: str, changes: ThreadChanges | None) -> None:
    """Put one thread read into ``batch`` and move the request's cursor entry on.

    ``changes`` is None when the request is gone at the source: it is retired.
    """
    if changes is None:
        batch.deleted_items.append(slack_id(channel, ts))
        state.requests.drop(ts)
        return
    batch.items.extend(changes.items)
    batch.events.extend(changes.events)
    batch.deleted_events.extend(changes.gone)
    state.requests.put(ts, changes.entry)


# How much more often an urgent open thread is re-checked than a quiet one when the budget
# cannot cover them all: a thread's claim is (seconds since its last check) × this weight.
URGENCY_WEIGHTS = (32, 16, 8, 4, 2, 1)


@dataclass
class ThreadPlan:
    """One poll's thread work, from the store's :class:`PollHints`, per channel.

    Attributes:
        hinted: False when no hints were given (the source was not prepared by a sync engine):
            then nothing is known to be open and the sweep rotates over every known request.
        open: ``(channel, ts)`` of the open requests, most urgent first.
        urgency: ``(channel, ts)`` → urgency class (0 most urgent).
        linked: channel → ts of messages an open request links to that were never fetched.
        read_first: channel → ts of threads a push event said changed.
        budget: ``conversations.replies`` calls this poll may spend.
    """

    hinted: bool = False
    open: list[tuple[str, str]] = field(default_factory=list)
    urgency: dict[tuple[str, str], int] = field(default_factory=dict)
    linked: dict[str, list[str]] = field(default_factory=dict)
    read_first: dict[str, list[str]] = field(default_factory=dict)
    budget: int = 0

    @classmethod
    def build(cls, hints: PollHints | None, channels: Iterable[str], budget: int) -> ThreadPlan:
        """The plan for the configured ``channels`` (ids of other channels are ignored)."""
        plan = cls(hinted=hints is not None, budget=budget)
        if hints is None:
            return plan
        wanted = set(channels)

        def split(item_id: str) -> tuple[str, str] | None:
            try:
                channel, ts = parse_slack_id(item_id)
            except ValueError:
                return None
            return (channel, ts) if channel in wanted and TS_RE.match(ts) else None

        for item_id in hints.open_items:
            key = split(item_id)
            if key is not None:
                plan.open.append(key)
                plan.urgency[key] = hints.urgency.get(item_id, len(URGENCY_WEIGHTS) - 1)
        for target, ids in ((plan.linked, hints.linked), (plan.read_first, hints.read_first)):
            for item_id in ids:
                key = split(item_id)
                if key is not None:
                    target.setdefault(key[0], []).append(key[1])
        return plan

    def open_in(self, channel: str) -> set[str]:
        """The ts of a channel's open requests."""
        return {ts for ch, ts in self.open if ch == channel}

