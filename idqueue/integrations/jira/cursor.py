"""The Jira source's cursor: the newest ``updated`` a completed search saw, and the issues at the
boundary, so the next search starts a little before it and skips what it already has.

JQL compares dates at *minute* precision, in the time zone of the account that runs the search
(its Jira profile's ``timeZone``). The next search therefore asks for ``updated >= <newest seen −
OVERLAP>`` written in that zone, rounded down to the minute; it sees the boundary issues again, and
:meth:`SearchCursor.unchanged` drops those whose ``updated`` did not change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from idqueue.domain.models import iso, parse_iso

OVERLAP = timedelta(minutes=2)
"""Re-read this much before the newest ``updated`` seen (minute precision, clock skew)."""

_ORDER_BY = re.compile(r"\s+order\s+by\s+.*$", re.IGNORECASE | re.DOTALL)


def where_part(jql: str) -> str:
    """The JQL without its ``ORDER BY`` clause."""
    return _ORDER_BY.sub("", " " + jql.strip()).strip()


def zone(name: Any) -> ZoneInfo:
    """The account's time zone (UTC when unknown)."""
    try:
        return ZoneInfo(str(name)) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def incremental_jql(jql: str, since: datetime, tz: ZoneInfo) -> str:
    """``(<jql>) AND updated >= "yyyy-MM-dd HH:mm" ORDER BY updated ASC`` (``since`` in ``tz``)."""
    where = where_part(jql)
    stamp = since.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    clause = f'updated >= "{stamp}"'
    return f"({where}) AND {clause} ORDER BY updated ASC" if where else f"{clause} ORDER BY updated ASC"


@dataclass
class SearchCursor:
    """What the last completed search saw (the ``search`` cursor value).

    Attributes:
        jql: the configured JQL the cursor belongs to (another JQL starts over).
        max_updated: the newest ``updated`` seen.
        boundary: issue key → its ``updated`` (ISO), for issues at or after
            ``max_updated - 2 × OVERLAP``: what the next search may see again.
    """

    jql: str
    max_updated: datetime | None = None
    boundary: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, value: Any, jql: str) -> SearchCursor:
        """The stored cursor, or an empty one (first sync) when unusable or for another JQL."""
        if not isinstance(value, dict) or value.get("jql") != jql:
            return cls(jql)
        try:
            max_updated = parse_iso(value.get("max_updated"))
        except (TypeError, ValueError, AttributeError):
            return cls(jql)
        raw = value.get("boundary")
        boundary = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        return cls(jql, max_updated, boundary)

    def dump(self) -> dict[str, Any]:
        """The JSON value to store."""
        return {"jql": self.jql, "max_updated": iso(self.max_updated), "boundary": dict(sorted(self.boundary.items()))}

    def since(self) -> datetime | None:
        """Where the next search starts (None: the first sync)."""
        return None if self.max_updated is None else self.max_updated - OVERLAP

    def unchanged(self, key: str, updated: datetime) -> bool:
        """Whether this issue was already seen with this ``updated`` (a boundary repeat)."""
        return self.boundary.get(key) == iso(updated)

    def see(self, key: str, updated: datetime) -> None:
        """Record an issue the search returned."""
        self.boundary[key] = iso(updated) or ""
        if self.max_updated is None or updated > self.max_updated:
            self.max_updated = updated

    def prune(self) -> None:
        """Forget boundary entries the next search cannot return again."""
        if self.max_updated is None:
            return
        floor = self.max_updated - 2 * OVERLAP
        self.boundary = {k: v for k, v in self.boundary.items() if (parse_iso(v) or floor) >= floor}
