"""The source adapter contract.

A source turns one API (GitHub, Slack, later Jira/Trello/email) into :class:`SourceItem` and
:class:`TimelineEvent` values. SDK objects never leave an adapter. A fetch yields *batches*; the
sync engine commits each batch (items, events, deletions and the cursor) in one transaction,
so a failure mid-fetch never leaves the store half-written and the cursor only advances past
what was committed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from idqueue.domain.models import SourceItem, SourceKind, TimelineEvent


class SourceError(Exception):
    """A source failed. ``title`` is a short human line, safe to show (no tokens)."""

    kind: ClassVar[str] = "error"
    permanent: ClassVar[bool] = False

    def __init__(self, title: str, *, source: str = "", detail: str = "") -> None:
        super().__init__(title)
        self.title = title
        self.source = source
        self.detail = detail

    def __str__(self) -> str:
        prefix = f"{self.source}: " if self.source else ""
        return f"{prefix}{self.title}"


class AuthError(SourceError):
    """Bad or missing token, or missing scope (401/403, ``invalid_auth``)."""

    kind = "auth"
    permanent = True


class RateLimited(SourceError):
    """Rate limited; do not call again before ``until``."""

    kind = "rate_limited"

    def __init__(self, title: str, *, until: datetime, source: str = "", detail: str = "") -> None:
        super().__init__(title, source=source, detail=detail)
        self.until = until


class Unavailable(SourceError):
    """5xx, timeout, connection refused: try again later."""

    kind = "unavailable"


class BadPayload(SourceError):
    """The server answered something we cannot parse."""

    kind = "bad_payload"


class NotFound(SourceError):
    """The repo, channel or item does not exist (or moved / is gone)."""

    kind = "not_found"
    permanent = True


class ValidationFailed(SourceError):
    """The server refused the write (422, ``invalid_arguments``)."""

    kind = "validation"
    permanent = True


@dataclass
class FetchStats:
    """What a fetch cost and found."""

    requests: int = 0
    not_modified: int = 0
    fetched: int = 0
    rate_remaining: int | None = None
    rate_reset: datetime | None = None
    notes: list[str] = field(default_factory=list)
    """Problems the poll worked around (e.g. bytes that are not UTF-8), one line each."""

    def add(self, other: FetchStats) -> None:
        """Accumulate another batch's stats."""
        self.requests += other.requests
        self.not_modified += other.not_modified
        self.fetched += other.fetched
        self.notes.extend(other.notes)
        if other.rate_remaining is not None:
            self.rate_remaining = other.rate_remaining
            self.rate_reset = other.rate_reset


@dataclass
class Batch:
    """One unit of a fetch that is committed atomically.

    Attributes:
        items: source items created or changed.
        events: timeline events (upserted by ``uid``).
        deleted_items: item ids that no longer exist at the source (Slack deletions).
        deleted_events: event uids that no longer exist (deleted thread replies).
        cursors: cursor key → JSON-able value to store with this batch (``None`` deletes the key).
        progress: optional ``(done, total)`` for progress display.
    """

    items: list[SourceItem] = field(default_factory=list)
    events: list[TimelineEvent] = field(default_factory=list)
    deleted_items: list[str] = field(default_factory=list)
    deleted_events: list[str] = field(default_factory=list)
    cursors: dict[str, Any] = field(default_factory=dict)
    stats: FetchStats = field(default_factory=FetchStats)
    progress: tuple[int, int | None] | None = None


class Source(ABC):
    """One source of requests.

    Subclasses set ``kind`` and capability flags, implement :meth:`fetch` and, where they can
    write, :meth:`apply` (the outbox dispatcher calls it).
    """

    kind: ClassVar[SourceKind]
    can_write: ClassVar[bool] = False
    name: str = ""

    @abstractmethod
    def fetch(self, cursors: dict[str, Any]) -> Iterator[Batch]:
        """Yield batches of changes since the stored cursors.

        Args:
            cursors: every stored cursor of this source (key → value).

        Raises:
            SourceError: a subclass describing the failure; batches already yielded stay
                committed.
        """

    def check(self) -> dict[str, Any]:
        """Verify the token and reachability (``idqueue doctor``); return facts to show."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients."""
