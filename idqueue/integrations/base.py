"""The contract every integration implements: the ``Source`` reader, its errors, batches and
stats, the ``Check`` result of an ``idqueue doctor`` check, and what writers share with the
outbox (the write errors :class:`ConflictError`/:class:`TimedOut` and the write fence
:func:`before_write`).

A source turns one API (GitHub, Slack, later Jira/Trello/email) into :class:`SourceItem` and
:class:`TimelineEvent` values. SDK objects never leave an adapter. A fetch yields *batches*; the
sync engine commits each batch (items, events, deletions and the cursor) in one transaction,
so a failure mid-fetch never leaves the store half-written and the cursor only advances past
what was committed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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


class ConflictError(SourceError):
    """The target changed since the action was queued (someone else assigned or closed it).

    The action is not sent; it waits for the user, with a message saying who did what.
    """

    kind = "conflict"
    permanent = True


class TimedOut(Unavailable):
    """The destination did not answer in time: it may still apply the write.

    The next attempt waits the in-flight horizon (``outbox.inflight_horizon``) from the moment of
    the timeout, so a slow server has finished before the dispatcher looks for the action at the
    destination.
    """

    kind = "timeout"


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
    threads_due: int = 0
    """Open requests whose thread this poll should have re-checked (sources that poll threads)."""
    threads_checked: int = 0
    """Of those, the threads read in this poll."""
    thread_budget: int = 0
    """Thread reads this poll was allowed (0: the source has no thread budget)."""

    @property
    def threads_skipped(self) -> int:
        """Open threads left unchecked because the poll's budget ran out."""
        return max(0, self.threads_due - self.threads_checked)

    def add(self, other: FetchStats) -> None:
        """Accumulate another batch's stats."""
        self.requests += other.requests
        self.not_modified += other.not_modified
        self.fetched += other.fetched
        self.notes.extend(other.notes)
        self.threads_due += other.threads_due
        self.threads_checked += other.threads_checked
        self.thread_budget = max(self.thread_budget, other.thread_budget)
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


@dataclass(frozen=True, slots=True)
class PollHints:
    """What the store knows that a source's next fetch should act on.

    The sync engine builds it before each fetch of a source whose ``wants_hints`` is set, so
    the source can spend its API budget where the queue needs it.

    Attributes:
        open_items: ids of this source's items whose request is open, most urgent first
            (unanswered before answered; breached, at risk, then the rest; earliest due first).
        urgency: item id → urgency class of ``open_items`` (0 = most urgent).
        linked: ids of this source's items that an open request's other home links to but that
            were never fetched (e.g. a Slack permalink in a GitHub issue older than the history
            window).
        read_first: ids of this source's items a push event (Socket Mode) said changed.
    """

    open_items: tuple[str, ...] = ()
    urgency: dict[str, int] = field(default_factory=dict)
    linked: tuple[str, ...] = ()
    read_first: tuple[str, ...] = ()


class Source(ABC):
    """One source of requests.

    Subclasses set ``kind`` and capability flags, implement :meth:`fetch` and, where they can
    write, :meth:`apply` (the outbox dispatcher calls it).
    """

    kind: ClassVar[SourceKind]
    can_write: ClassVar[bool] = False
    wants_hints: ClassVar[bool] = False
    """When True, the sync engine calls :meth:`prepare` with :class:`PollHints` before each fetch."""
    name: str = ""

    def prepare(self, hints: PollHints) -> None:  # noqa: B027 - optional hook
        """Take what the store knows before the next :meth:`fetch` (see :class:`PollHints`)."""

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


@dataclass(frozen=True)
class Check:
    """One doctor line: ``ok`` and what was found (or why it failed, with the fix)."""

    name: str
    ok: bool
    detail: str


# ------------------------------------------------------------------ the write fence
class LeaseLost(Exception):
    """Another sender took this action over (this one was paused past its lease).

    Raised by :func:`before_write` so the paused sender writes nothing more and records nothing:
    the new owner reconciles and records.
    """


_GUARD: ContextVar[Callable[[], None] | None] = ContextVar("idqueue_outbox_guard", default=None)


def before_write() -> None:
    """Re-check this sender's claim immediately before a request that changes something upstream.

    Every writer calls it right before each non-idempotent network write (post, create, assign,
    label, close). Inside :func:`fenced` it compares the stored fencing token with the claim's
    (and renews the lease); outside, it does nothing.

    Raises:
        LeaseLost: the action was taken over; do not write.
    """
    guard = _GUARD.get()
    if guard is not None:
        guard()


@contextmanager
def fenced(guard: Callable[[], None]) -> Iterator[None]:
    """Make :func:`before_write` call ``guard`` within the block (the dispatcher's fence check)."""
    token = _GUARD.set(guard)
    try:
        yield
    finally:
        _GUARD.reset(token)
