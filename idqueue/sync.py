"""Poll sources into the store.

One :class:`SyncEngine` per process. :meth:`SyncEngine.poll` runs every configured source in
turn, commits each batch atomically and records per-source health (ok, rate-limited until …,
auth failed, offline) so the TUI status bar and ``idqueue sync`` can report it. A failing source
never stops the others, and nothing already stored is lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from idqueue.clock import Clock, clock_for
from idqueue.config import Settings
from idqueue.domain.assemble import make_assembler
from idqueue.integrations import registry
from idqueue.integrations.base import (
    AuthError,
    FetchStats,
    PollHints,
    RateLimited,
    Source,
    SourceError,
    Unavailable,
)
from idqueue.safety import one_line, redact
from idqueue.store.db import Store
from idqueue.store.poll_hints import missing_links, open_items

log = logging.getLogger(__name__)

STATISTICS_AFTER = 2000
"""Requests created or changed (summed over polls) after which the planner's statistics are
refreshed: a first sync of a large backlog, not the trickle of a normal day."""

Progress = Callable[[str, int, int | None], None]


@dataclass
class SourceHealth:
    """The last known state of one source, for the status bar."""

    name: str
    state: str = "idle"  # idle / ok / rate_limited / auth_failed / offline / error
    message: str = ""
    until: datetime | None = None
    last_sync: datetime | None = None
    last_attempt: datetime | None = None
    threads_skipped: int = 0
    """Open requests' threads the last poll could not re-check within its budget."""

    def describe(self, tz: tzinfo | None = None) -> str:
        """A short human line: "GitHub ok", "Slack rate-limited until 14:07" (times in ``tz``)."""
        if self.state == "ok":
            return f"{self.name} ok"
        if self.state == "rate_limited":
            until = f" until {self.until.astimezone(tz):%H:%M}" if self.until else ""
            return f"{self.name} rate-limited{until}"
        labels = {"auth_failed": "auth failed", "offline": "offline", "error": "error"}
        return f"{self.name} {labels.get(self.state, 'waiting')}"


@dataclass
class SourceReport:
    """What one source's poll did."""

    name: str
    stats: FetchStats = field(default_factory=FetchStats)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    error: SourceError | None = None
    seconds: float = 0.0
    """How long the source's poll took (wall time, monotonic clock)."""

    def summary(self) -> str:
        """One line: fetched/new/updated, requests made and 304s; or what failed.

        A failed source says so first (``GitHub: FAILED — …``) and, when some batches were
        committed before the failure, how much of the poll was kept.
        """
        if self.error is not None:
            line = f"{self.name}: FAILED — {self.error.title}"
            if self.created or self.updated:
                line += f" (kept what arrived before: new {len(self.created)}, updated {len(self.updated)})"
            return line
        line = (
            f"{self.name}: fetched {self.stats.fetched}, new {len(self.created)}, updated {len(self.updated)}, "
            f"{self.stats.requests} requests ({self.stats.not_modified} not modified)"
        )
        return "; ".join([line + self.threads_summary(), *self.stats.notes])

    def threads_summary(self) -> str:
        """``; threads: 48 of 50 open checked, 2 skipped (budget 48 a poll)`` or ``""``.

        Only sources that re-check open threads say it, once there are any; a skipped thread is
        a warning, never silent.
        """
        stats = self.stats
        if not stats.threads_due:
            return ""
        line = f"; threads: {stats.threads_checked} of {stats.threads_due} open checked"
        if stats.threads_skipped:
            line += (
                f", {stats.threads_skipped} skipped (budget {stats.thread_budget} a poll; "
                "raise slack.thread_checks_per_minute if your app's tier allows)"
            )
        return line


@dataclass
class SyncReport:
    """The result of one poll over all sources."""

    sources: list[SourceReport] = field(default_factory=list)

    @property
    def created(self) -> list[str]:
        """Request ids that appeared in this poll."""
        return [rid for s in self.sources for rid in s.created]

    @property
    def changed(self) -> list[str]:
        """Request ids created or updated in this poll."""
        return [rid for s in self.sources for rid in (*s.created, *s.updated)]

    @property
    def errors(self) -> list[SourceError]:
        """Errors per failed source."""
        return [s.error for s in self.sources if s.error is not None]


def build_sources(settings: Settings) -> list[Source]:
    """The readers the settings turn on, one per configured integration, in registry order."""
    return [integration.build_source(settings) for integration in registry.configured(settings)]


def source_name(source: Source) -> str:
    """The name under which a source's cursors and health are kept."""
    return source.name or source.kind.value


class ReadFirst:
    """Item ids a push event (Slack Socket Mode, the team service's webhooks) said changed; the
    next poll of their system reads them first (a source without hints just spends them).

    Thread-safe: the event client adds from its own thread, the poll takes them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: dict[str, None] = {}

    def add(self, item_id: str) -> None:
        """Note an item (a Slack thread parent ``slack:C…/ts``) to read on the next poll."""
        with self._lock:
            self._ids[item_id] = None

    def take(self, prefix: str) -> tuple[str, ...]:
        """Remove and return the noted ids that start with ``prefix``, oldest note first."""
        with self._lock:
            taken = tuple(i for i in self._ids if i.startswith(prefix))
            for item_id in taken:
                del self._ids[item_id]
        return taken

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)


class SyncEngine:
    """Runs polls; never two at once (a second caller waits for the first).

    Args:
        store: the store polls write into.
        sources: the configured sources, or a function that builds them on the first poll (the
            TUI passes one, so the API clients load after its first frame, off the UI thread).
        settings: the configuration.
        clock: the current time (default: ``IDQUEUE_NOW`` or UTC now).
        read_first: where push events note what to read first (one is made when omitted).
    """

    def __init__(
        self,
        store: Store,
        sources: list[Source] | Callable[[], list[Source]],
        settings: Settings,
        *,
        clock: Clock | None = None,
        read_first: ReadFirst | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock or clock_for(settings)
        self.health: dict[str, SourceHealth] = {}
        """Per-source health (filled once the sources exist)."""
        self._sources: list[Source] | None = None
        self._build_sources: Callable[[], list[Source]] | None = None
        if callable(sources):
            self._build_sources = sources
        else:
            self._use(sources)
        self.read_first = read_first if read_first is not None else ReadFirst()
        self._lock = threading.Lock()
        self._changed_since_stats = 0

    @property
    def sources(self) -> list[Source]:
        """The sources (built now if they were given as a function)."""
        if self._sources is None:
            with self._lock:
                if self._sources is None and self._build_sources is not None:
                    self._use(self._build_sources())
        return self._sources or []

    def _use(self, sources: list[Source]) -> None:
        self.health = {source_name(s): SourceHealth(_label(s)) for s in sources}
        self._sources = sources

    def poll(self, progress: Progress | None = None) -> SyncReport:
        """Poll every source once and apply what changed."""
        sources = self.sources
        with self._lock:
            report = SyncReport()
            for source in sources:
                started = time.monotonic()
                source_report = self._poll_source(source, progress)
                source_report.seconds = time.monotonic() - started
                report.sources.append(source_report)
            self._refresh_clocks()
            self._refresh_statistics(len(report.changed))
            return report

    def _refresh_statistics(self, changed: int) -> None:
        """After a big import (a first sync of a large backlog), give the query planner fresh
        statistics at once instead of whenever autovacuum or SQLite next gets to it."""
        self._changed_since_stats += changed
        if self._changed_since_stats < STATISTICS_AFTER:
            return
        self._changed_since_stats = 0
        try:
            self.store.refresh_statistics()
        except Exception as exc:  # only an optimisation: the queries work without it
            log.warning("refreshing the database statistics failed: %s",
                        one_line(redact(f"{type(exc).__name__}: {exc}"), 200))

    def _poll_source(self, source: Source, progress: Progress | None) -> SourceReport:
        name = source_name(source)
        health = self.health[name]
        now = self.clock()
        health.last_attempt = now
        result = SourceReport(_label(source))
        if health.state == "rate_limited" and health.until and health.until > now:
            result.error = RateLimited(health.message or "rate limited", until=health.until, source=health.name)
            return result
        assembler = make_assembler(self.settings, now, rules=registry.rulebook(self.settings))
        try:
            if source.wants_hints:
                source.prepare(self._hints(source))
            else:
                # A source without hints reads everything changed since its cursor: the poll a
                # push woke is all its noted ids were for, so they are spent (never pile up).
                self.read_first.take(_id_prefix(source))
            for batch in source.fetch(self.store.cursors(name)):
                applied = self.store.apply(
                    name,
                    items=batch.items,
                    events=batch.events,
                    deleted_items=batch.deleted_items,
                    deleted_events=batch.deleted_events,
                    cursors=batch.cursors,
                    assembler=assembler,
                    now=now,
                )
                result.stats.add(batch.stats)
                created = set(result.created)
                result.created.extend(r for r in applied.created if r not in created)
                result.updated.extend(r for r in applied.updated if r not in created)
                if progress is not None and batch.progress is not None:
                    progress(result.name, batch.progress[0], batch.progress[1])
        except Exception as caught:  # one source's failure must not stop the others
            if isinstance(caught, SourceError):
                exc = caught
            else:
                # A bug or a store failure (disk full, locked database): the batch in flight was
                # rolled back; report it like a source error instead of ending the poll.
                log.exception("%s poll failed", health.name)
                exc = SourceError(
                    one_line(redact(f"unexpected error: {type(caught).__name__}: {caught}"), 200),
                    source=health.name,
                )
            exc.source = exc.source or health.name
            result.error = exc
            health.message = exc.title
            if isinstance(exc, RateLimited):
                health.state, health.until = "rate_limited", exc.until
            elif isinstance(exc, AuthError):
                health.state = "auth_failed"
            elif isinstance(exc, Unavailable):
                health.state = "offline"
            else:
                health.state = "error"
            log.warning("%s", exc)
        else:
            health.state, health.message, health.until = "ok", "", None
            health.last_sync = now
        health.threads_skipped = result.stats.threads_skipped
        result.updated = sorted(set(result.updated) - set(result.created))
        return result

    def _hints(self, source: Source) -> PollHints:
        """What the store knows that the source's fetch should act on (see :class:`PollHints`)."""
        kind = source.kind.value
        urgency = open_items(self.store, kind)
        return PollHints(
            open_items=tuple(urgency),
            urgency=urgency,
            linked=tuple(missing_links(self.store, kind)),
            read_first=self.read_first.take(_id_prefix(source)),
        )

    def _refresh_clocks(self) -> None:
        """Re-assemble open requests whose SLA line was crossed since they were last built.

        Due and at-risk times are absolute, so the queue's order stays right without this;
        it refreshes what depends on the state itself (e.g. the "SLA breached → P2" rule).
        """
        now = self.clock()
        self.store.refresh_crossed(make_assembler(self.settings, now, rules=registry.rulebook(self.settings)), now=now)


def _id_prefix(source: Source) -> str:
    """How the ids of a source's items begin (``gh:`` for GitHub), from the registry."""
    integration = registry.find(source.kind.value)
    return integration.id_prefix if integration is not None else f"{source.kind.value}:"


def _label(source: Source) -> str:
    return registry.display(source.kind.value)
