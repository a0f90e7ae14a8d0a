"""The GitHub source's cursors: what a listing saw (the next ``since``), the Slack links found
in issue comments, and the validation of a stored cursor."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from idqueue.domain.models import (
    parse_iso,
)

OVERLAP = timedelta(seconds=5)
"""Re-read this much before the newest ``updated_at`` seen (``since`` boundary is undocumented)."""


MAX_LINKED_COMMENTS = 5000
"""Comments with Slack links remembered per repo (the oldest are forgotten first)."""


def months_before(moment: datetime, months: int) -> datetime:
    """``moment`` minus whole calendar months (day clamped to the month's length)."""
    index = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


@dataclass
class Listing:
    """What a listing saw, to compute the next cursor."""

    max_updated: datetime | None = None
    first_seen: dict[int, datetime] = field(default_factory=dict)
    duplicate_min: datetime | None = None
    settling: bool = False
    """True while reading the settle page, which repeats rows on purpose."""

    def see(self, row_id: int, updated: datetime) -> None:
        """Record a row; a row seen twice means the list shifted under us (see ``_since_list``)."""
        if self.settling:
            pass
        elif row_id in self.first_seen:
            first = self.first_seen[row_id]
            self.duplicate_min = first if self.duplicate_min is None else min(self.duplicate_min, first)
        else:
            self.first_seen[row_id] = updated
        if self.max_updated is None or updated > self.max_updated:
            self.max_updated = updated


@dataclass
class CommentLinks:
    """Slack links found in one repo's issue comments (the ``comment_links:<repo>`` cursor)."""

    comments: dict[int, tuple[int, list[str]]] = field(default_factory=dict)
    """Comment id → (issue number, Slack ids); only comments that have links."""
    dirty: set[int] = field(default_factory=set)
    """Issues whose comment links changed and whose item was not emitted since."""

    @classmethod
    def load(cls, value: Any) -> CommentLinks:
        """The stored state, skipping anything malformed."""
        state = cls()
        if not isinstance(value, dict):
            return state
        comments = value.get("comments")
        if isinstance(comments, dict):
            for key, entry in comments.items():
                try:
                    number, links = int(entry[0]), [str(x) for x in entry[1] if isinstance(x, str)]
                    state.comments[int(key)] = (number, links)
                except (TypeError, ValueError, IndexError, KeyError):
                    continue
        dirty = value.get("dirty")
        if isinstance(dirty, list):
            state.dirty = {n for n in dirty if isinstance(n, int) and not isinstance(n, bool)}
        return state

    def dump(self) -> dict[str, Any]:
        """The JSON cursor value."""
        return {
            "comments": {str(cid): [number, links] for cid, (number, links) in sorted(self.comments.items())},
            "dirty": sorted(self.dirty),
        }

    def update(self, read: dict[int, tuple[int, list[str]]]) -> None:
        """Record the comments read in this poll; issues whose links changed become dirty."""
        for cid, (number, links) in read.items():
            old = self.comments.get(cid)
            if links:
                self.comments[cid] = (number, links)
            else:
                self.comments.pop(cid, None)
            if old is None and links:
                self.dirty.add(number)
            elif old is not None and old != (number, links):
                self.dirty.update({old[0], number})
        if len(self.comments) > MAX_LINKED_COMMENTS:
            for cid in sorted(self.comments)[: len(self.comments) - MAX_LINKED_COMMENTS]:
                del self.comments[cid]

    def links_for(self, number: int) -> list[str]:
        """The Slack ids linked from the comments of one issue, oldest comment first."""
        found: list[str] = []
        for cid in sorted(self.comments):
            owner, links = self.comments[cid]
            if owner == number:
                found.extend(x for x in links if x not in found)
        return found


def valid_cursor(value: Any, *, label: str | None = None) -> dict[str, Any]:
    """A stored ``since`` cursor, or an empty one (first sync) when it is unusable.

    An issues cursor made under another label filter describes another list: start over.
    """
    if not isinstance(value, dict):
        return {}
    if "label" in value and value.get("label") != label:
        return {}
    try:
        parse_iso(value.get("since"))
        parse_iso(value.get("max_updated"))
    except (TypeError, ValueError, AttributeError):
        return {}
    return value
