"""The queue screen: panes, the windowed queue, the detail pane, live polling and every action.

Key handlers do no I/O. Each action is an async worker that gathers what it needs with
``asyncio.to_thread`` (SQLite, the outbox), asks through a modal (``push_screen_wait``), and
queues the result in the outbox, serialised by one lock so two quick actions on a request keep
their order. After an action the cursor moves to the next request (act-and-advance); queued
actions show as pending (``↑``) until the dispatcher confirms them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.lazy import Lazy
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Header
from textual.worker import Worker, WorkerState

from idqueue.config import Settings, team_client
from idqueue.domain.customers import NO_CUSTOMER
from idqueue.domain.models import Request
from idqueue.domain.query import SearchContext, SearchError, parse_reference, parse_search
from idqueue.integrations import registry
from idqueue.safety import one_line
from idqueue.screens.access import hidden_in_read_only
from idqueue.screens.assign import AssignScreen, outsiders, roster
from idqueue.screens.choice import ChoiceScreen
from idqueue.screens.close import CloseScreen
from idqueue.screens.confirm import ConfirmScreen
from idqueue.screens.context import TuiContext
from idqueue.screens.goto import GoToScreen
from idqueue.screens.plan import PlanScreen
from idqueue.screens.priority import PriorityScreen
from idqueue.screens.search import SearchScreen
from idqueue.store.queue import (
    AGE_BUCKETS,
    Facets,
    QueueQuery,
    fetch_ids,
    find_reference,
    open_load,
    position_of,
)
from idqueue.widgets.detail_pane import DetailPane
from idqueue.widgets.facet_pane import FacetEntry, FacetHeading, FacetPane
from idqueue.widgets.filter_bar import GROUP_NAMES, SORT_NAMES, FilterBar
from idqueue.widgets.key_footer import NARROW_WIDTH, KeyFooter
from idqueue.widgets.poller import Poller
from idqueue.widgets.request_table import RequestTable
from idqueue.widgets.rows import SLA_LABELS, Row, member_name
from idqueue.widgets.status_bar import StatusBar
from idqueue.widgets.views_bar import ViewsBar

log = logging.getLogger(__name__)

GROUP_CYCLE: tuple[str | None, ...] = (None, "type", "priority", "sla", "assignee")
AUTO_CUSTOMER = "=auto"
"""The customer picker's "from the sender's address" choice (customer keys are names such as ``acme``)."""
SLA_ENTRIES = ("breached", "at_risk", "ok", "paused", "met", "none")
TICK_SECONDS = 30.0
MAIN_KEYS = ("assign", "take", "reply", "close_request", "search", "toggle_panes")
"""Actions the footer keeps on a narrow terminal (``?`` lists the rest)."""


class QueueScreen(Screen[None]):
    """The triage queue.

    Args:
        ctx: the core objects (store, settings, clock, sync engine, outbox).

    Below ``NARROW_WIDTH`` columns the screen has the ``-narrow`` class: the filter panes
    collapse (``f`` shows them) and the footer keeps the main keys.
    """

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW_WIDTH, "-wide")]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "assign", "Assign", id="queue.assign"),
        Binding("t", "take", "Take", id="queue.take"),
        Binding("r", "reply", "Reply", id="queue.reply"),
        Binding("b", "backlog", "Backlog", id="queue.backlog"),
        Binding("c", "close_request", "Close", id="queue.close"),
        Binding("p", "pending", "Pending", id="queue.pending"),
        Binding("P", "priority", "Priority", id="queue.priority"),
        Binding("z", "snooze", "Snooze", id="queue.snooze"),
        Binding("w", "customer", "Customer", show=False, id="queue.customer"),
        Binding("slash", "search", "Search", id="queue.search"),
        Binding("colon", "go_to_prompt", "Go to", show=False, id="queue.goto"),
        Binding("right_square_bracket", "next_view", "Next view", show=False, id="queue.next_view"),
        Binding("left_square_bracket", "previous_view", "Previous view", show=False, id="queue.previous_view"),
        Binding("n", "jump_new", "Newest arrival", show=False, id="queue.jump_new"),
        Binding("o", "open", "Open", show=False, id="queue.open"),
        Binding("y", "copy_link", "Copy link", show=False, id="queue.copy_link"),
        Binding("R", "refresh", "Refresh", show=False, id="queue.refresh"),
        Binding("escape", "clear_filters", "Clear filters", show=False, id="queue.clear_filters"),
        Binding("u", "toggle_mine", "Mine", id="queue.toggle_mine"),
        Binding("h", "toggle_closed", "History", show=False, id="queue.toggle_closed"),
        Binding("g", "group", "Group", show=False, id="queue.group"),
        Binding("s", "sort", "Sort", show=False, id="queue.sort"),
        Binding("v", "toggle_layout", "Layout", show=False, id="queue.layout"),
        Binding("f", "toggle_panes", "Panes", id="queue.panes"),
        Binding("exclamation_mark", "retry", "Retry failed", show=False, id="queue.retry"),
        # The reverse of each verb, and undo (while the verb is still held in the outbox).
        Binding("ctrl+z", "undo", "Undo", show=False, id="queue.undo"),
        Binding("A", "unassign", "Unassign", show=False, id="queue.unassign"),
        Binding("E", "resume", "Resume", show=False, id="queue.resume"),
        Binding("C", "reopen", "Reopen", show=False, id="queue.reopen"),
        Binding("Z", "unsnooze", "Unsnooze", show=False, id="queue.unsnooze"),
        Binding("S", "toggle_snoozed", "Snoozed", show=False, id="queue.toggle_snoozed"),
    ]

    class ActionDone(Message):
        """An action was queued (or failed) for some requests."""

        def __init__(self, verb: str, done: list[str], errors: list[tuple[str, str]]) -> None:
            super().__init__()
            self.verb = verb
            self.done = done
            self.errors = errors

    def __init__(self, ctx: TuiContext) -> None:
        # The breakpoint class is set up front: added on the first resize, it would restyle
        # every widget once more before the first frame.
        super().__init__(classes=_breakpoint_class(self.HORIZONTAL_BREAKPOINTS, self.app.size.width))
        self.ctx = ctx
        self.query_state = QueueQuery()
        self._facets: Facets | None = None
        self._lock = asyncio.Lock()
        self._initial_sync = True
        self._known_errors: dict[str, str] = {}
        self._templates: dict[str, Any] | None = None
        self._facets_due = False
        self._undo: _Undo | None = None
        self._read_timer: Timer | None = None
        self.search_ctx = SearchContext.from_settings(ctx.settings, systems=registry.name_codes())
        self._newest: str | None = None
        self._upstream_reload = False
        self._resumed = False

    @staticmethod
    def unavailable(settings: Settings) -> frozenset[str]:
        """Binding ids that do nothing with these settings (left out of the help and palette):
        the customer picker without configured customers."""
        return frozenset() if settings.customers else frozenset({"queue.customer"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The customer key is off when no customers are configured; a read-only session's
        footer leaves out the keys that would change something."""
        if hidden_in_read_only(self, action, self.ctx.settings.read_only):
            return False
        return bool(self.ctx.settings.customers) if action == "customer" else True

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        ctx = self.ctx
        yield Header(icon="▤", classes="-sandbox" if ctx.sandbox else "")
        yield ViewsBar([v.name for v in ctx.settings.views], keys=_view_keys(self), id="views-bar")
        yield FilterBar(id="filter-bar")
        with Horizontal(id="main"):
            with Vertical(id="panes"):
                # Mounted after the first frame (their counts come after it too): the queue first.
                yield Lazy(FacetPane("Priority", id="priority-pane"))
                if ctx.settings.customers:
                    yield Lazy(FacetPane("Customer", id="customer-pane"))
                yield Lazy(FacetPane("SLA · Age", id="sla-pane"))
                yield Lazy(FacetPane("Type", id="type-pane"))
            with Container(id="centre"):
                yield RequestTable(ctx.data, query=self.query_state, id="queue")
                yield DetailPane(ctx.store, ctx.settings, clock=ctx.clock, pending=ctx.pending, id="detail")
        yield StatusBar(timezone=ctx.settings.sla.calendar.timezone, sandbox=ctx.sandbox, id="status")
        yield Poller(ctx.engine, ctx.dispatcher, interval=ctx.settings.ui.poll_interval, autostart=ctx.live,
                     listen=ctx.store if team_client(ctx.settings) else None, id="poller")
        yield KeyFooter(MAIN_KEYS)

    @property
    def table(self) -> RequestTable:
        """The queue table."""
        return self.query_one(RequestTable)

    @property
    def detail(self) -> DetailPane:
        """The detail pane."""
        return self.query_one(DetailPane)

    @property
    def poller(self) -> Poller:
        """The poller."""
        return self.query_one(Poller)

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        # Every widget was styled as it was mounted (order-dependent styles included), so the
        # restyle of the whole screen a resume asks for would only repeat that before the first
        # frame. Later resumes (back from a dialog) restyle as usual.
        if not self._resumed:
            self._resumed = True
            event.refresh_styles = False

    def on_mount(self) -> None:
        self.table.focus()
        self.query_one(StatusBar).outbox_key = _key_for(self, "app.outbox", "O")
        self.query_one(StatusBar).client = team_client(self.ctx.settings)
        if self.ctx.engine is not None:
            self.query_one(StatusBar).set_health(list(self.ctx.engine.health.values()), _last_sync(self.ctx))
        if self.ctx.live and self.ctx.engine is not None:
            self.table.set_empty_message("Syncing… requests appear as soon as the first poll finishes.")
        self._apply_query(self.query_state)
        if self.table.loaded:  # the first window was read here: its count belongs in the first frame
            self.query_one(FilterBar).show(self.query_state, self.table.total, 0)
        self.call_after_refresh(self._refresh_outbox)  # the counts' worker waits for the first frame
        self.set_interval(TICK_SECONDS, self.table.tick)

    # ------------------------------------------------------------------ query state
    def _apply_query(self, query: QueueQuery, *, keep: bool = True) -> None:
        self.query_state = query
        self.table.reload(query, keep=keep)
        self.query_one(FilterBar).show(query, None, len(self.table.selected))
        self.query_one(ViewsBar).show(query.view)
        self._facets_due = True

    def _reload(self) -> None:
        """Re-read the queue (cursor kept) and, once it is painted, the pane counts."""
        self.table.reload()
        self._facets_due = True

    @work(thread=True, exclusive=True, group="facets")
    def _load_facets(self, query: QueueQuery) -> None:
        try:
            facets = self.ctx.data.facets(query)
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"Cannot count the queue: {exc}", severity="error", markup=False)
            return
        self.post_message(self._FacetsLoaded(query, facets))

    class _FacetsLoaded(Message):
        def __init__(self, query: QueueQuery, facets: Facets) -> None:
            super().__init__()
            self.query = query
            self.facets = facets

    @on(_FacetsLoaded)
    def _show_facets(self, message: _FacetsLoaded) -> None:
        if message.query != self.query_state:
            return
        self._facets = message.facets
        q, f = message.query, message.facets
        self.query_one("#priority-pane", FacetPane).show(
            [FacetEntry("priority", p, p, p.lower()) for p in ("P1", "P2", "P3", "P4")],
            {("priority", k): v for k, v in f.priority.items()},
            {("priority", p) for p in q.priorities},
        )
        sla_entries: list[FacetEntry | FacetHeading] = [
            FacetEntry("sla", s, SLA_LABELS[s], s.replace("_", "-"))
            for s in SLA_ENTRIES
            if s in ("breached", "at_risk", "ok") or f.sla.get(s) or s in q.sla_states
        ]
        sla_entries.append(FacetHeading("Age"))
        sla_entries += [FacetEntry("age", label, label) for label, _ in AGE_BUCKETS]
        counts = {("sla", k): v for k, v in f.sla.items()} | {("age", k): v for k, v in f.age.items()}
        active = {("sla", s) for s in q.sla_states} | ({("age", q.age)} if q.age else set())
        self.query_one("#sla-pane", FacetPane).show(sla_entries, counts, active)
        # Every configured type is listed (zero counts too), then any other type found.
        types = list(dict.fromkeys(r.type for r in self.ctx.settings.intake.type_rules))
        types += [t for t in sorted(f.type) if t not in types]
        self.query_one("#type-pane", FacetPane).show(
            [FacetEntry("type", t, t) for t in types],
            {("type", k): v for k, v in f.type.items()},
            {("type", t) for t in q.types},
        )
        if self.ctx.settings.customers:
            self._show_customer_facet(q, f)

    def _show_customer_facet(self, q: QueueQuery, f: Facets) -> None:
        """Every configured customer (zero counts too), then "no customer" (key ``""``)."""
        customers = self.ctx.settings.customers
        entries: list[FacetEntry | FacetHeading] = [FacetEntry("customer", key, c.name) for key, c in customers.items()]
        entries += [FacetEntry("customer", key, key) for key in sorted(f.customer) if key and key not in customers]
        entries.append(FacetEntry("customer", "", "No customer", "none"))
        self.query_one("#customer-pane", FacetPane).show(
            entries, {("customer", k): v for k, v in f.customer.items()}, {("customer", c) for c in q.customers},
        )

    @on(FacetPane.Toggled)
    def _toggle_facet(self, event: FacetPane.Toggled) -> None:
        q = self.query_state
        if event.facet == "age":
            q = q.with_(age=None if q.age == event.value else event.value)
        else:
            field = {"priority": "priorities", "sla": "sla_states", "type": "types", "customer": "customers"}[event.facet]
            values: tuple[str, ...] = getattr(q, field)
            values = tuple(v for v in values if v != event.value) if event.value in values else (*values, event.value)
            q = q.with_(**{field: values})
        self._apply_query(q, keep=False)

    @on(RequestTable.Reloaded)
    def _reloaded(self, event: RequestTable.Reloaded) -> None:
        self._upstream_reload = False
        if self._facets_due:
            # Counts are loaded after the table is painted: the queue comes first.
            self._facets_due = False
            self.call_after_refresh(self._load_facets, self.query_state)
        self.query_one(FilterBar).show(self.query_state, event.total, len(self.table.selected))
        row = self.table.cursor_row
        if row is not None and row.request.unread and self._read_timer is None:
            # A message arrived on the request you are looking at: read after the same rest.
            self._read_later(row)
        if event.total == 0 and self.table.loaded:
            filtered = bool(self.query_state.describe())
            self.table.set_empty_message(
                "Nothing is snoozed — press esc to go back to the queue." if self.query_state.only_snoozed
                else "No request matches these filters — press esc to clear them." if filtered
                else "The queue is empty. Nice work." if not self.poller.running
                else "Syncing… requests appear as soon as the first poll finishes."
            )

    @on(RequestTable.CursorRequestLeft)
    def _cursor_request_left(self, event: RequestTable.CursorRequestLeft) -> None:
        if self._upstream_reload:
            self.notify(f"{event.key} left the queue (closed or changed in Slack/GitHub); the cursor moved on.",
                        title="Gone", severity="warning", markup=False)

    @on(RequestTable.SelectionChanged)
    def _selection_changed(self, event: RequestTable.SelectionChanged) -> None:
        self.query_one(FilterBar).show(self.query_state, self.table.total, len(event.selected))

    @on(RequestTable.RequestHighlighted)
    def _highlighted(self, event: RequestTable.RequestHighlighted) -> None:
        self.detail.show_request(event.request_id)
        self._read_later(event.row)

    # ------------------------------------------------------------------ read marks
    @property
    def keeps_read_marks(self) -> bool:
        """Whether looking at a request records a read mark: never in a read-only session, and
        in team mode only for a named person (``me``), whose marks are their own."""
        settings = self.ctx.settings
        return not settings.read_only and (not team_client(settings) or bool(self.ctx.store.person))

    def _read_later(self, row: Row | None) -> None:
        """Count the request as read once the cursor has rested on it for ``ui.read_after`` seconds."""
        if self._read_timer is not None:
            self._read_timer.stop()
            self._read_timer = None
        request = row.request if row is not None else None
        if request is None or not self.keeps_read_marks or (request.seen_at is not None and not request.unread):
            return  # nothing new since the last look: no write
        self._read_timer = self.set_timer(self.ctx.settings.ui.read_after, partial(self._read_now, request))

    def _read_now(self, request: Request) -> None:
        self._read_timer = None
        if self.table.cursor_id == request.id:
            # Read up to now, and at least up to its latest message (an upstream clock ahead of ours).
            now = self.ctx.clock()
            self._store_read_mark(request.id, max(now, request.last_outside_at or now))

    @work(thread=True, group="read-mark", exit_on_error=False)
    def _store_read_mark(self, request_id: str, at: datetime) -> None:
        try:
            self.ctx.store.mark_seen(request_id, at)
        except Exception as exc:  # a read mark is not worth an error on screen; the next look retries
            log.warning("could not store the read mark of %s: %s", request_id, one_line(str(exc), 200))
            return
        self.app.call_from_thread(self.table.mark_read, request_id, at)

    @on(RequestTable.Activated)
    def _activated(self, event: RequestTable.Activated) -> None:
        self.detail.focus()

    @on(RequestTable.SortRequested)
    def _sort_requested(self, event: RequestTable.SortRequested) -> None:
        self._set_sort(event.sort)

    @on(RequestTable.LoadFailed)
    def _load_failed(self, event: RequestTable.LoadFailed) -> None:
        self.notify(event.error, title="Queue", severity="error", markup=False)

    def _set_sort(self, sort: str) -> None:
        q = self.query_state
        if sort == q.sort:
            q = q.with_(descending=not q.descending)
        else:
            q = q.with_(sort=sort, descending=False)
        self._apply_query(q)

    # ------------------------------------------------------------------ live updates
    @on(Poller.Started)
    def _poll_started(self) -> None:
        self.query_one(StatusBar).set_polling(True)

    @on(Poller.Polled)
    def _polled(self, event: Poller.Polled) -> None:
        result = event.result
        status = self.query_one(StatusBar)
        status.set_polling(False)
        status.set_health(result.health, result.last_sync)
        self._report_errors(result.health, result.errors)
        first = self._initial_sync
        self._initial_sync = False
        if result.changed:
            if result.created and not (first and self.table.total == 0):
                self._announce_new(result.created)
            self._upstream_reload = True
            self._reload()
            if self.detail.request_id in result.changed:
                self.detail.refresh_detail()
        elif first:
            self.table.reload()
        self._refresh_outbox()

    @on(Poller.StoreChanged)
    def _store_changed(self, event: Poller.StoreChanged) -> None:
        """A client of the team service: show the service's state; re-read what others wrote."""
        from idqueue.team_state import describe_service, service_health

        status = self.query_one(StatusBar)
        if event.error:
            status.set_live(event.error, False)
        else:
            state = event.state
            line, ok = describe_service(state, datetime.now(UTC), ZoneInfo(self.ctx.settings.sla.calendar.timezone),
                                        short=True)
            if state is not None:
                status.set_health(service_health(state), state.last_poll_at)
            status.set_live(line, ok)
        if event.requests_changed:
            self._upstream_reload = True
            self._reload()
            self.detail.refresh_detail()
        if event.requests_changed or not event.topics:
            self._refresh_outbox()

    @on(Poller.LiveChanged)
    def _live_changed(self, event: Poller.LiveChanged) -> None:
        self.query_one(StatusBar).set_live(event.label, event.health.live)

    @on(Poller.Dispatched)
    def _dispatched(self, event: Poller.Dispatched) -> None:
        if event.error:
            self.notify(event.error, title="Outbox", severity="error", markup=False)
        if event.touched:
            self._reload()
            if self.detail.request_id in event.touched:
                self.detail.refresh_detail()
        self._refresh_outbox()

    def outbox_changed(self) -> None:
        """Actions were retried or dropped elsewhere (the outbox screen): re-read markers and counts."""
        self._reload()
        self.detail.refresh_detail()
        self._refresh_outbox()

    def _report_errors(self, health: Sequence[Any], errors: Sequence[str]) -> None:
        """Notify when a source's state changes (not on every failing poll)."""
        tz = ZoneInfo(self.ctx.settings.sla.calendar.timezone)
        current = {h.name: h for h in health if h.state not in ("ok", "idle")}
        for name, h in current.items():
            line = h.describe(tz)
            if self._known_errors.get(name) != line:
                severity: SeverityLevel = "warning" if h.state == "rate_limited" else "error"
                self.notify(one_line(h.message or line, 200), title=line, severity=severity, markup=False)
        for name in set(self._known_errors) - set(current):
            self.notify(f"{name} is back to normal.", title=name, markup=False)
        if not health:
            for error in errors:
                self.notify(one_line(error, 200), title="Sync", severity="error", markup=False)
        self._known_errors = {name: h.describe(tz) for name, h in current.items()}

    def _announce_new(self, created: list[str]) -> None:
        self.table.mark_new(set(created))
        self._describe_new(created)
        if self.ctx.settings.ui.bell:
            self.app.bell()

    @work(thread=True, exclusive=True, group="new-toast")
    def _describe_new(self, created: list[str]) -> None:
        """Read what arrived (key, priority, title) and toast it, most urgent first."""
        try:
            found = fetch_ids(self.ctx.store, created, now=self.ctx.data.clock())
        except Exception:
            found = {}
        requests = sorted(found.values(), key=lambda r: (r.priority, -r.created_at.timestamp()))
        self.app.call_from_thread(self._toast_new, requests, len(created))

    def _toast_new(self, requests: list[Request], count: int) -> None:
        title = f"{count} new request{'s' if count != 1 else ''}"
        if not requests:
            self.notify(f"{title} in the queue.", title="New requests", markup=False)
            return
        self._newest = requests[0].id
        lines = [f"{r.key} {r.priority} {one_line(r.title, 60)}" for r in requests[:3]]
        if count > 3:
            lines.append(f"… and {count - 3} more")
        lines.append(f"Press {_key_for(self, 'queue.jump_new', 'n')} to go to {requests[0].key}.")
        severity: SeverityLevel = "warning" if requests[0].priority == "P1" else "information"
        self.notify("\n".join(lines), title=title, severity=severity, markup=False, timeout=10)

    def action_jump_new(self) -> None:
        """Go to the most urgent request of the last arrivals."""
        if self._newest is None:
            self.notify("No new request since idqueue opened.", timeout=2)
            return
        self._reveal(self._newest)

    def _refresh_outbox(self) -> None:
        """Count the outbox for the status bar, and re-read an open outbox screen."""
        self._count_outbox()
        from idqueue.screens.outbox import OutboxScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, OutboxScreen) and screen.is_mounted:
                screen.reload()

    @work(thread=True, exclusive=True, group="outbox-count")
    def _count_outbox(self) -> None:
        actions = self.ctx.actions
        if actions is None:
            return
        try:
            from idqueue.outbox.models import ActionState

            unsent = actions.all(states=(ActionState.QUEUED, ActionState.SENDING))
            failed = actions.all(states=(ActionState.FAILED, ActionState.NEEDS_ATTENTION))
            snoozed = self.ctx.store.snoozed_count(self.ctx.clock())
            release = actions.outbox.next_release()
        except Exception:
            return
        wait = (release - actions.wall()).total_seconds() if release is not None else None
        self.app.call_from_thread(self._show_outbox_counts, len(unsent), len(failed), snoozed, wait)

    def _show_outbox_counts(self, pending: int, failed: int, snoozed: int = 0, release: float | None = None) -> None:
        # Widgets are only touched here, on the UI thread; the bar may be gone while the app closes.
        for bar in self.query(StatusBar):
            bar.set_outbox(pending, failed)
        for header in self.query(FilterBar):
            header.set_snoozed(snoozed, _key_for(self, "queue.toggle_snoozed", "S"))
        if release is not None and release > 0 and self.is_mounted:
            # Actions held for undo (also by a session that quit during the hold) go out when it
            # ends; once it has passed, the regular polls send them.
            self.set_timer(release + 0.25, self.poller.dispatch_now)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """An action that failed unexpectedly is reported, never fatal."""
        if event.state is WorkerState.ERROR and event.worker.group in ("ui-action", "ui-dialog"):
            error = event.worker.error
            self.notify(one_line(f"{type(error).__name__}: {error}", 300), title="That did not work",
                        severity="error", markup=False)

    # ------------------------------------------------------------------ helpers
    def _targets(self) -> list[str]:
        """The multi-selection if any, else the request under the cursor."""
        if self.table.selected:
            return sorted(self.table.selected)
        rid = self.table.cursor_id
        return [rid] if rid else []

    def _label(self, ids: Sequence[str]) -> str:
        if len(ids) != 1:
            return f"{len(ids)} requests"
        row = next((r for r in self.table.loaded_rows() if r.id == ids[0]), None)
        return f"{row.key} “{one_line(row.title, 60)}”" if row else ids[0]

    def _key(self, rid: str) -> str:
        row = next((r for r in self.table.loaded_rows() if r.id == rid), None)
        return row.key if row else rid

    def _need_actions(self) -> bool:
        if self.ctx.actions is None:
            self.notify("Write-back is not available in this build (no outbox).", severity="warning")
            return False
        return True

    def _advance(self, ids: Sequence[str]) -> None:
        """Act-and-advance: move past the request just handled; a bulk action clears the selection."""
        if self.table.selected:
            self.table.clear_selection()
        elif ids and ids[0] == self.table.cursor_id:
            self.table.move_next()

    async def _confirm_bulk(self, verb: str, ids: Sequence[str], detail: str = "", *, warning: str = "",
                            confirm: str | None = None) -> bool:
        if len(ids) < 2:
            return True
        keys = ", ".join(self._key(i) for i in ids[:20]) + (" …" if len(ids) > 20 else "")
        body = Text(f"{detail}\n\n" if detail else "")
        if warning:
            body.append(f"{warning}\n\n", "bold")
        body.append(f"Requests: {keys}")
        result = await self.app.push_screen_wait(ConfirmScreen(f"{verb} {len(ids)} requests?", body,
                                                               confirm=confirm or verb))
        return bool(result)

    async def _perform(self, verb: str, ids: Sequence[str], call: Callable[[str], object], done: str) -> None:
        """Queue ``call(request_id)`` for each id (off the UI thread), then refresh and dispatch.

        With an undo delay (``ui.undo_seconds``) the queued actions are held in the outbox that
        long and the toast offers undo; the dispatcher runs when the hold ends.
        """
        from idqueue.outbox.models import Action, NothingToDo

        actions = self.ctx.require_actions()
        hold = float(getattr(actions, "hold_seconds", 0.0) or 0.0)

        def run() -> tuple[list[str], list[tuple[str, str]], list[tuple[str, str]], list[str], dict[str, Any]]:
            ok: list[str] = []
            failed: list[tuple[str, str]] = []
            skipped: list[tuple[str, str]] = []
            groups: list[str] = []
            local: dict[str, Any] = {}
            for rid in ids:
                try:
                    before = actions.local_state(rid) if hold else None
                    result = call(rid)
                    ok.append(rid)
                except NothingToDo as exc:  # e.g. already yours: said, not an error
                    skipped.append((rid, str(exc)))
                    continue
                except Exception as exc:  # ActionError carries a message for the user
                    failed.append((rid, str(exc)))
                    continue
                if isinstance(result, list):
                    groups += [a.group_id for a in result if isinstance(a, Action) and a.group_id not in groups]
                if before is not None and before != actions.local_state(rid):
                    local[rid] = before
            return ok, failed, skipped, groups, local

        async with self._lock:
            ok, failed, skipped, groups, local = await asyncio.to_thread(run)
        for rid, why in skipped:
            self.notify(one_line(why, 300), title=f"{verb} {self._key(rid)}", markup=False)
        for rid, error in failed:
            self.notify(one_line(error, 300), title=f"{verb} {self._key(rid)} failed", severity="error", markup=False)
        if ok:
            what = self._key(ok[0]) if len(ok) == 1 else f"{len(ok)} requests"
            text = done.format(what=what)
            if hold and (groups or local):
                self._offer_undo(_Undo(text, list(ok), groups, local, time.monotonic() + hold), hold)
            elif groups:
                self.notify(f"{text} — pending until Slack/GitHub confirm.", title=verb, markup=False)
            else:
                self.notify(f"{text}.", title=verb, markup=False)
        self.post_message(self.ActionDone(verb, ok, failed))

    def _offer_undo(self, undo: _Undo, hold: float) -> None:
        """The undo toast; the held actions are dispatched when the hold ends."""
        self._undo = undo
        key = _key_for(self, "queue.undo", "ctrl+z")
        sends = f"sends in {hold:g} s; " if undo.groups else ""
        self.notify(f"{undo.what} — {sends}{key} to undo.", title="Undo", markup=False, timeout=hold)

        def release() -> None:
            if self._undo is undo:
                self._undo = None
            if undo.groups and self.is_mounted:
                self.poller.dispatch_now()
                self._refresh_outbox()

        self.set_timer(hold + 0.25, release)

    def action_undo(self) -> None:
        """Undo the last action while it is still held in the outbox (nothing is sent)."""
        undo = self._undo
        if not self._need_actions():
            return
        if undo is None or time.monotonic() > undo.deadline:
            self.notify("Nothing to undo: the last action was sent (or there was none).", markup=False, timeout=3)
            return
        self._undo = None
        self._run_undo(undo)

    @work(group="ui-action", exit_on_error=False)
    async def _run_undo(self, undo: _Undo) -> None:
        from idqueue.outbox.models import ActionError

        try:
            async with self._lock:
                await asyncio.to_thread(self.ctx.require_actions().undo, undo.groups, undo.local)
        except ActionError as exc:
            self.notify(one_line(str(exc), 300), title="Undo", severity="error", markup=False)
            return
        sent = " Nothing was sent." if undo.groups else ""
        self.notify(f"Undone: {undo.what}.{sent}", title="Undo", markup=False)
        # Back to the request the action moved past (act-and-advance), with counts refreshed.
        self._facets_due = True
        self.table.go_to(undo.ids[0])
        self.detail.refresh_detail()
        self._refresh_outbox()

    @on(ActionDone)
    def _after_action(self, event: ActionDone) -> None:
        self._reload()
        self.detail.refresh_detail()
        self._refresh_outbox()
        if event.done:
            self.poller.dispatch_now()

    async def _request(self, rid: str) -> Request | None:
        return await asyncio.to_thread(self.ctx.store.get_request, rid)

    # ------------------------------------------------------------------ actions
    def action_assign(self) -> None:
        """Assign the request(s) to a team member (picker shows load and who is on triage)."""
        if self._need_actions() and self._targets():
            self._assign(self._targets())

    @work(group="ui-action", exit_on_error=False)
    async def _assign(self, ids: list[str]) -> None:
        settings = self.ctx.settings
        load = await asyncio.to_thread(open_load, self.ctx.store)
        if settings.team:
            members = roster(settings, load, _on_triage(self.ctx))
        else:  # no roster: whoever GitHub and Slack say can be assigned
            try:
                members = outsiders(await asyncio.to_thread(self.ctx.require_actions().assignable, ids), load)
            except Exception as exc:  # ActionError: GitHub or Slack could not be asked
                self.notify(one_line(str(exc), 300), title="Assign", severity="error", markup=False)
                return
        member = await self.app.push_screen_wait(
            AssignScreen(members, self._label(ids), typed=not settings.team)
        )
        if member is None:
            return
        name = next((m.name for m in members if m.key == member), member_name(settings, member))
        check = await self._check_assignment("Assign", ids, lambda rid: self.ctx.require_actions().plan_assign(rid, member))
        if check is None:
            return
        ids, steps, reassigned = check
        if reassigned and len(ids) == 1:
            # Taking it from someone is worth a look at the plan first; a plain assign is not.
            if not await self.app.push_screen_wait(
                PlanScreen(f"Assign {self._label(ids)} to {name}", steps, confirm="Reassign",
                           warning=_reassign_warning(reassigned, name, self._key))):
                return
        elif not await self._confirm_bulk("Assign", ids, f"Assign to {name}",
                                          warning=_reassign_warning(reassigned, name, self._key),
                                          confirm="Reassign" if reassigned else None):
            return
        self._advance(ids)
        await self._perform("Assign", ids, lambda rid: self.ctx.require_actions().assign(rid, member),
                            f"Assigned {{what}} to {name}")

    def action_take(self) -> None:
        """Take it: assign yourself and post the "assigned" message (with a preview)."""
        if not self._need_actions() or not self._targets():
            return
        if not self.ctx.settings.me:
            self.notify("Set `me` (your roster key) in config.toml to use take.", severity="warning")
            return
        self._take(self._targets())

    @work(group="ui-action", exit_on_error=False)
    async def _take(self, ids: list[str]) -> None:
        actions = self.ctx.require_actions()
        check = await self._check_assignment("Take", ids, actions.plan_take)
        if check is None:
            return
        ids, steps, reassigned = check
        me = member_name(self.ctx.settings, self.ctx.settings.me)
        note = f"The same steps are queued for each of the {len(ids)} requests." if len(ids) > 1 else ""
        plan = PlanScreen(f"Take {self._label(ids)}", steps, note=note, confirm="Reassign" if reassigned else "Queue it",
                          warning=_reassign_warning(reassigned, me, self._key))
        if not await self.app.push_screen_wait(plan):
            return
        self._advance(ids)
        await self._perform("Take", ids, actions.take, "You took {what}")

    async def _check_assignment(
        self, verb: str, ids: list[str], plan: Callable[[str], list[Any]]
    ) -> tuple[list[str], list[Any], dict[str, str]] | None:
        """Plan an assignment for each id: drop the ones that are already assigned to that person
        (said, not an error) and find the ones taken from someone else.

        Returns:
            (ids still to do, the first one's steps, {id: current assignee} for reassignments),
            or None when nothing is left to do.
        """
        from idqueue.outbox.models import NothingToDo

        def run() -> tuple[list[str], list[Any], dict[str, str], list[str], list[tuple[str, str]]]:
            todo: list[str] = []
            first: list[Any] = []
            reassigned: dict[str, str] = {}
            skipped: list[str] = []
            failed: list[tuple[str, str]] = []
            for rid in ids:
                try:
                    steps = plan(rid)
                except NothingToDo as exc:
                    skipped.append(str(exc))
                    continue
                except Exception as exc:
                    failed.append((rid, str(exc)))
                    continue
                todo.append(rid)
                first = first or steps
                holder = next((s.reassign_from for s in steps if getattr(s, "reassign_from", None)), None)
                if holder:
                    reassigned[rid] = holder
            return todo, first, reassigned, skipped, failed

        todo, first, reassigned, skipped, failed = await asyncio.to_thread(run)
        for why in skipped:
            self.notify(one_line(why, 300), title=verb, markup=False)
        for rid, error in failed:
            self.notify(one_line(error, 300), title=f"{verb} {self._key(rid)}", severity="error", markup=False)
        return (todo, first, reassigned) if todo else None

    def action_reply(self) -> None:
        """Reply with a template (previewed for Slack or GitHub) or free text."""
        rid = self.table.cursor_id
        if self._need_actions() and rid:
            self._reply(rid)

    @work(group="ui-action", exit_on_error=False)
    async def _reply(self, rid: str) -> None:
        request = await self._request(rid)
        if request is None:
            return
        templates = await asyncio.to_thread(self._load_templates)
        draft = await asyncio.to_thread(self.ctx.store.draft_of, rid)
        from idqueue.domain.templates import templates_for
        from idqueue.screens.reply import ReplyScreen

        store = self.ctx.store
        composer = ReplyScreen(request, templates_for(request, templates), self.ctx.settings, draft=draft,
                               keep=lambda state: store.set_draft(rid, state))
        choice = await self.app.push_screen_wait(composer)
        if choice is None:
            return
        # Kept as a draft until it is queued: a refused or declined reply is not lost.
        await asyncio.to_thread(store.set_draft, rid, composer.draft_state())
        kwargs = choice.reply_kwargs()
        if choice.template is not None:
            # An "assign me" template takes the request from whoever has it: ask, like take does.
            check = await self._check_assignment("Reply", [rid], lambda r: self.ctx.require_actions().plan_reply(r, **kwargs))
            if check is None:
                return
            _, steps, reassigned = check
            if reassigned:
                me = member_name(self.ctx.settings, self.ctx.settings.me)
                if not await self.app.push_screen_wait(
                    PlanScreen(f"Reply to {self._label([rid])}", steps, confirm="Reassign",
                               warning=_reassign_warning(reassigned, me, self._key))):
                    return
        self._advance([rid])
        def send(r: str) -> object:
            queued = self.ctx.require_actions().reply(r, **kwargs)
            store.set_draft(r, None)  # queued: the draft has done its job
            return queued

        await self._perform("Reply", [rid], send, "Reply to {what} queued")

    def _load_templates(self) -> dict[str, Any]:
        if self._templates is None:
            from idqueue.domain.templates import load_templates

            self._templates = load_templates(self.ctx.settings.templates_dir)
        return self._templates

    def action_backlog(self) -> None:
        """Move to the backlog (GitHub label, or a new backlog issue for Slack-only requests)."""
        if self._need_actions() and self._targets():
            self._backlog(self._targets())

    @work(group="ui-action", exit_on_error=False)
    async def _backlog(self, ids: list[str]) -> None:
        actions = self.ctx.require_actions()
        if len(ids) == 1:
            try:
                steps = await asyncio.to_thread(actions.plan_backlog, ids[0])
            except Exception as exc:
                self.notify(one_line(str(exc), 300), title="Backlog", severity="error", markup=False)
                return
            if not await self.app.push_screen_wait(PlanScreen(f"Backlog {self._label(ids)}", steps,
                                                              confirm="Backlog it")):
                return
        elif not await self._confirm_bulk("Backlog", ids, "They leave the live queue."):
            return
        self._advance(ids)
        await self._perform("Backlog", ids, actions.backlog, "Moved {what} to the backlog")

    def action_close_request(self) -> None:
        """Close, optionally with the closing template (survey link)."""
        if self._need_actions() and self._targets():
            self._close(self._targets())

    @work(group="ui-action", exit_on_error=False)
    async def _close(self, ids: list[str]) -> None:
        actions = self.ctx.require_actions()
        template = self.ctx.settings.automation.on_close_template
        planner = ((lambda t, reason, dup: actions.plan_close(ids[0], template=t, reason=reason, duplicate_of=dup))
                   if len(ids) == 1 else None)
        choice = await self.app.push_screen_wait(CloseScreen(self._label(ids), planner, template=template))
        if choice is None:
            return
        if not await self._confirm_bulk("Close", ids, "Each requester is told it is closed." if choice.template else ""):
            return
        self._advance(ids)
        await self._perform("Close", ids,
                            lambda rid: actions.close(rid, template=choice.template, reason=choice.reason,
                                                      duplicate_of=choice.duplicate_of),
                            "Closed {what}" if not choice.duplicate_of else
                            f"Closed {{what}} as a duplicate of {one_line(choice.duplicate_of, 60)}")

    def action_pending(self) -> None:
        """Mark as waiting on the requester (the SLA clock pauses)."""
        if self._need_actions() and self._targets():
            self._pending(self._targets())

    @work(group="ui-action", exit_on_error=False)
    async def _pending(self, ids: list[str]) -> None:
        if not await self._confirm_bulk("Set pending", ids):
            return
        self._advance(ids)
        await self._perform("Pending", ids, self.ctx.require_actions().pending, "Marked {what} as waiting on the requester")

    def action_priority(self) -> None:
        """Override the priority (stored as a priority:Pn label on GitHub, where the team sees it)."""
        if self._need_actions() and self._targets():
            self._priority(self._targets())

    @work(group="ui-action", exit_on_error=False)
    async def _priority(self, ids: list[str]) -> None:
        row = self.table.cursor_row
        current = row.request.priority_override if row else None
        value = await self.app.push_screen_wait(PriorityScreen(f"Priority for {self._label(ids)}", current=current))
        if value is None:
            return
        label = "automatic" if value == "auto" else value
        if not await self._confirm_bulk(f"Set {label} priority on", ids):
            return
        self._advance(ids)
        done = ("Priority of {what} is automatic again" if value == "auto"
                else f"Priority of {{what}} set to {value}; its SLA targets apply from now on")
        await self._perform("Priority", ids, lambda rid: self.ctx.require_actions().set_priority(rid, value), done)

    def action_customer(self) -> None:
        """Set the customer of a request by hand (e.g. mail from a domain no customer lists)."""
        if self._need_actions() and self._targets():
            self._customer(self._targets())

    @work(group="ui-action", exit_on_error=False)
    async def _customer(self, ids: list[str]) -> None:
        row = self.table.cursor_row
        customers = self.ctx.settings.customers
        current = row.request.customer if row else None
        choices = [(key, f"{c.name}  ({', '.join(c.domains) or 'no domains'})") for key, c in customers.items()]
        choices += [(NO_CUSTOMER, "No customer"), (AUTO_CUSTOMER, "Automatic (from the sender's address)")]
        value = await self.app.push_screen_wait(ChoiceScreen(
            f"Customer of {self._label(ids)}", choices, current=current or NO_CUSTOMER,
            hint="Local to this idqueue: it decides the customer's pane, SLA policy and Trello board.",
        ))
        if value is None:
            return
        key = None if value == AUTO_CUSTOMER else value
        name = {AUTO_CUSTOMER: "automatic", NO_CUSTOMER: "no customer"}.get(value) or customers[value].name
        if not await self._confirm_bulk(f"Set the customer ({name}) of", ids):
            return
        await self._perform("Customer", ids, lambda rid: self.ctx.require_actions().set_customer(rid, key),
                            f"Customer of {{what}}: {name}")

    def action_snooze(self) -> None:
        """Hide until a time (local only)."""
        if self._need_actions() and self._targets():
            self._snooze(self._targets())

    @work(group="ui-action", exit_on_error=False)
    async def _snooze(self, ids: list[str]) -> None:
        row = self.table.cursor_row
        snoozed = bool(row and row.request.snoozed_until)
        calendar = self.ctx.settings.sla.calendar
        from idqueue.screens.snooze import SnoozeScreen

        choice = await self.app.push_screen_wait(
            SnoozeScreen(self.ctx.clock(), calendar.timezone, snoozed=snoozed, calendar=calendar)
        )
        if choice is None:
            return
        self._advance(ids)
        if choice.until is None:
            await self._perform("Unsnooze", ids, self.ctx.require_actions().unsnooze, "Unsnoozed {what}")
            return
        from idqueue.domain.when import describe_when

        until = describe_when(choice.until, self.ctx.clock(), calendar.timezone)
        await self._perform("Snooze", ids, lambda rid: self.ctx.require_actions().snooze(rid, choice.until),
                            f"Snoozed {{what}} until {until}")

    def action_unassign(self) -> None:
        """Remove the assignee (the reverse of assign/take)."""
        if self._need_actions() and self._targets():
            self._simple("Unassign", self._targets(), self.ctx.require_actions().unassign, "Unassigned {what}")

    def action_resume(self) -> None:
        """Clear "pending": the SLA clock runs again (the reverse of pending)."""
        if self._need_actions() and self._targets():
            self._simple("Resume", self._targets(), self.ctx.require_actions().resume, "Resumed {what}: the SLA clock runs again")

    def action_reopen(self) -> None:
        """Reopen a closed request, or bring a backlogged one back (the reverse of close/backlog)."""
        if self._need_actions() and self._targets():
            self._simple("Reopen", self._targets(), self.ctx.require_actions().reopen, "Reopened {what}")

    def action_unsnooze(self) -> None:
        """Show a snoozed request in the queue again now (the reverse of snooze)."""
        if self._need_actions() and self._targets():
            self._simple("Unsnooze", self._targets(), self.ctx.require_actions().unsnooze, "Unsnoozed {what}")

    @work(group="ui-action", exit_on_error=False)
    async def _simple(self, verb: str, ids: list[str], call: Callable[[str], object], done: str) -> None:
        if not await self._confirm_bulk(verb, ids):
            return
        self._advance(ids)
        await self._perform(verb, ids, call, done)

    def action_toggle_snoozed(self) -> None:
        """Show only the snoozed requests (and when each comes back), or the queue again."""
        q = self.query_state
        self._apply_query(q.with_(only_snoozed=not q.only_snoozed), keep=False)

    def action_retry(self) -> None:
        """Retry the failed outbox actions of the request."""
        rid = self.table.cursor_id
        if self._need_actions() and rid:
            self._retry(rid)

    @work(group="ui-action", exit_on_error=False)
    async def _retry(self, rid: str) -> None:
        from idqueue.outbox.models import ActionState

        actions = self.ctx.require_actions()
        pending = await asyncio.to_thread(actions.for_request, rid, unsent_only=True)
        failed = [a for a in pending if a.state in (ActionState.FAILED, ActionState.NEEDS_ATTENTION)]
        if not failed:
            self.notify(f"No failed actions on {self._key(rid)}.", markup=False)
            return
        ids = [a.id for a in failed]
        await self._perform("Retry", [rid], lambda _: [actions.retry(i) for i in ids],
                            f"Retrying {len(ids)} action{'s' if len(ids) != 1 else ''} on {{what}}")

    def action_search(self) -> None:
        """Search: words, a key, number or link, qualifiers (type: priority: assignee: is: …)."""
        self._search()

    @work(group="ui-dialog", exit_on_error=False)
    async def _search(self) -> None:
        # SearchError is a ValueError: the prompt shows its message and stays open.
        check = partial(parse_search, ctx=self.search_ctx)
        text = await self.app.push_screen_wait(SearchScreen(self.query_state.search, check=check))
        if text is not None:
            spec = parse_search(text, self.search_ctx) if text else None
            self._apply_query(self.query_state.with_(search=text, spec=spec), keep=False)

    # ------------------------------------------------------------------ go to, saved views
    def action_go_to_prompt(self) -> None:
        """Jump to a request by key, number, GitHub URL or Slack permalink."""
        self._go_to_prompt()

    @work(group="ui-dialog", exit_on_error=False)
    async def _go_to_prompt(self) -> None:
        found = await self.app.push_screen_wait(GoToScreen(self._resolve_reference))
        if found is not None:
            self._reveal(found)

    def _resolve_reference(self, text: str) -> tuple[str | None, str]:
        """(request id, "") or (None, why); runs in the prompt's thread worker."""
        ref = parse_reference(text, self.search_ctx)
        if not ref:
            return None, f"“{one_line(text, 40)}” is not a key, number, GitHub URL or Slack permalink."
        found = find_reference(self.ctx.store, ref)
        return (found[0], "") if found else (None, f"No request {one_line(text, 40)}.")

    @work(thread=True, exclusive=True, group="reveal")
    def _reveal(self, request_id: str) -> None:
        """Put the cursor on a request: in the current view when it is there, else in all requests."""
        query = self.query_state
        if position_of(self.ctx.store, query, request_id, now=self.ctx.data.clock()) is None:
            query = QueueQuery(include_closed=True, show_snoozed=True, sort=query.sort, descending=query.descending)
        self.app.call_from_thread(self._cursor_to, query, request_id)

    def _cursor_to(self, query: QueueQuery, request_id: str) -> None:
        if query != self.query_state:
            self._apply_query(query)
            self.notify("Filters cleared to show it (esc returns to the open queue).", timeout=3)
        self.table.go_to(request_id)

    def action_next_view(self) -> None:
        """The next saved view (tabs above the queue)."""
        self._step_view(+1)

    def action_previous_view(self) -> None:
        """The previous saved view."""
        self._step_view(-1)

    def _step_view(self, step: int) -> None:
        views = self.ctx.settings.views
        if not views:
            self.notify("No saved views: add [[views]] with name and query to config.toml.", severity="warning")
            return
        names = ["", *(v.name for v in views)]
        index = (names.index(self.query_state.view) if self.query_state.view in names else 0) + step
        name = names[index % len(names)]
        view = next((v for v in views if v.name == name), None)
        try:
            spec = parse_search(view.query, self.search_ctx) if view else None
        except SearchError as exc:
            self.notify(one_line(str(exc), 200), title=f"View {name}", severity="error", markup=False)
            return
        self._apply_query(self.query_state.with_(view=name, view_spec=spec), keep=False)

    def action_sort(self) -> None:
        """Choose the sort column (choosing the current one flips the direction)."""
        self._sort()

    @work(group="ui-dialog", exit_on_error=False)
    async def _sort(self) -> None:
        hidden = ("created",) if self.ctx.settings.customers else ("created", "customer")
        choices = [(k, v) for k, v in SORT_NAMES.items() if k not in hidden]
        value = await self.app.push_screen_wait(
            ChoiceScreen("Sort by", choices, current=self.query_state.sort,
                         hint="Choosing the current column flips the direction")
        )
        if value is not None:
            self._set_sort(value)

    def action_group(self) -> None:
        """Cycle grouping: none → type → priority → SLA state → assignee.

        Customer comes after assignee when customers are configured.
        """
        cycle = (*GROUP_CYCLE, "customer") if self.ctx.settings.customers else GROUP_CYCLE
        current = cycle.index(self.query_state.group) if self.query_state.group in cycle else 0
        group = cycle[(current + 1) % len(cycle)]
        self._apply_query(self.query_state.with_(group=group))
        self.notify(f"Grouped by {GROUP_NAMES[group]}" if group else "Not grouped", timeout=2)

    def action_clear_filters(self) -> None:
        """Clear every filter and the search (keeps sort, grouping and the toggles)."""
        q = self.query_state
        cleared = QueueQuery(include_closed=q.include_closed, include_backlog=q.include_backlog, mine=q.mine,
                             sort=q.sort, descending=q.descending, group=q.group, view=q.view,
                             view_spec=q.view_spec)
        if self.table.selected:
            self.table.clear_selection()
        if cleared != q:
            self._apply_query(cleared)

    def action_toggle_mine(self) -> None:
        """Only mine + unowned, or everyone's."""
        me = self.ctx.settings.me
        if not me:
            self.notify("Set `me` (your roster key) in config.toml to filter on your requests.", severity="warning")
            return
        self._apply_query(self.query_state.with_(mine=None if self.query_state.mine else me))

    def action_toggle_closed(self) -> None:
        """Include backlog and closed requests, or only the open queue."""
        self._apply_query(self.query_state.with_(include_closed=not self.query_state.include_closed,
                                                 include_backlog=False))

    def action_toggle_layout(self) -> None:
        """Detail pane on the right or at the bottom."""
        self.toggle_class("-detail-right")

    def action_toggle_panes(self) -> None:
        """Show or hide the filter panes (hidden by default on a narrow terminal)."""
        shown = self.query_one("#panes").display
        self.set_class(shown, "-panes-hidden")
        self.set_class(not shown, "-panes-shown")

    def action_open(self) -> None:
        """Open the request in the browser (GitHub issue, else the Slack message)."""
        row = self.table.cursor_row
        url = row.request.url if row else None
        if url and not _has_browser():
            # Over SSH or in a container webbrowser finds nothing and would fail silently.
            self.app.copy_to_clipboard(url)
            self.notify(f"No browser found here; the link is copied: {url}", title="Open", markup=False, timeout=8)
        elif url:
            self.app.open_url(url)
            self.notify(f"Opening {url}", markup=False, timeout=3)
        elif row:
            self.notify("This request has no link.", severity="warning")

    def action_copy_link(self) -> None:
        """Copy the request's link."""
        row = self.table.cursor_row
        if row and row.request.url:
            self.app.copy_to_clipboard(row.request.url)
            self.notify(f"Copied {row.request.url}", markup=False, timeout=3)

    def quit_message(self) -> str | None:
        """What to print on quit: unsent actions stay in the outbox (queued ones go out on the next
        start; failed ones wait for a retry)."""
        bars = list(self.query(StatusBar))
        pending, failed = (bars[0].pending, bars[0].failed) if bars else (0, 0)
        parts = []
        if pending and team_client(self.ctx.settings):
            parts.append(f"{pending} action{'s' if pending != 1 else ''} not sent yet: the team service "
                         "(`idqueue serve`) sends them from the shared outbox.")
        elif pending:
            parts.append(f"{pending} action{'s' if pending != 1 else ''} not sent yet: kept in the outbox and "
                         "sent when idqueue next starts (`idqueue outbox --send` sends them now).")
        if failed:
            parts.append(f"{failed} failed action{'s' if failed != 1 else ''} not sent yet: see `idqueue outbox` "
                         "(or O in the queue) to retry or drop.")
        return " ".join(parts) or None

    def action_refresh(self) -> None:
        """Poll the sources now."""
        if self.ctx.engine is None and self.ctx.dispatcher is None:
            self._reload()
            self.notify("Queue re-read.", timeout=2)
            return
        if self.poller.poll_now():
            self.notify("Syncing now…", timeout=2)
        else:
            self.notify("A sync is already running.", timeout=2)

    def go_to(self, request_id: str) -> None:
        """Show a request in the queue (used by the dashboard): clears filters if it is hidden."""
        self._apply_query(QueueQuery(include_closed=True, sort=self.query_state.sort))
        self.table.go_to(request_id)


@dataclass
class _Undo:
    """The last action, while it can still be undone.

    Attributes:
        what: what was done ("Closed REQ-12").
        ids: the requests.
        groups: its outbox groups (held until ``deadline``).
        local: request id → local values before the action (snooze, priority override).
        deadline: ``time.monotonic()`` after which it is sent and cannot be undone.
    """

    what: str
    ids: list[str]
    groups: list[str]
    local: dict[str, Any]
    deadline: float


def _breakpoint_class(breakpoints: Sequence[tuple[int, str]], width: int) -> str:
    """The class Textual gives a screen ``width`` columns wide (the largest breakpoint it reaches)."""
    return next((name for start, name in sorted(breakpoints, reverse=True) if width >= start), "")


def _view_keys(screen: QueueScreen) -> str:
    """The keys that switch views, for the tab bar's hint (``[ ]`` unless remapped)."""
    keymap = screen.ctx.settings.ui.keymap
    previous = keymap.get("queue.previous_view", "[").split(",")[0].strip() or "["
    following = keymap.get("queue.next_view", "]").split(",")[0].strip() or "]"
    return f"{previous} {following}"


def _key_for(screen: QueueScreen, binding_id: str, default: str) -> str:
    """The key in effect for a binding id (the user's keymap wins), for hints."""
    keys = screen.ctx.settings.ui.keymap.get(binding_id, default)
    return screen.app.get_key_display(Binding(keys.split(",")[0].strip() or default, ""))


def _reassign_warning(reassigned: dict[str, str], to: str, key: Callable[[str], str]) -> str:
    """The warning line of a reassignment ("" when nobody else has the requests)."""
    if not reassigned:
        return ""
    if len(reassigned) == 1:
        holder = next(iter(reassigned.values()))
        return f"⚠ Already assigned: this reassigns it from {holder} to {to}."
    listed = ", ".join(f"{key(rid)} ({holder})" for rid, holder in list(reassigned.items())[:10])
    more = " …" if len(reassigned) > 10 else ""
    return f"⚠ {len(reassigned)} of them are assigned to someone else and will be reassigned to {to}: {listed}{more}"


def _has_browser() -> bool:
    import webbrowser

    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def _last_sync(ctx: TuiContext) -> Any:
    if ctx.engine is None:
        return None
    return max((h.last_sync for h in ctx.engine.health.values() if h.last_sync), default=None)


def _on_triage(ctx: TuiContext) -> list[str]:
    try:
        from idqueue.domain.rota import on_triage
    except ImportError:
        return []
    from zoneinfo import ZoneInfo

    day = ctx.clock().astimezone(ZoneInfo(ctx.settings.sla.calendar.timezone)).date()
    try:
        return list(on_triage(ctx.settings, day))
    except Exception:
        return []

