"""The metrics dashboard (``m``): this month against last month, trends, breakdowns, CSAT, breaches.

Everything on it comes from :func:`idqueue.report.collect` (the same numbers as
``idqueue report``), computed in a thread worker. Selecting a breached request closes the
dashboard with that request's id; the app then shows it in the queue.
"""

from __future__ import annotations

from typing import ClassVar
from zoneinfo import ZoneInfo

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Label, Static

from idqueue.clock import Clock, clock_for
from idqueue.config import Settings
from idqueue.domain.metrics import Kpis, Period
from idqueue.report import (
    SUMMARY_ROWS,
    MetricsReport,
    collect,
    customer_rows,
    fmt_csat,
    fmt_duration,
    fmt_pct,
    fmt_share,
    hours,
    summary_delta,
)
from idqueue.safety import one_line
from idqueue.store.db import Store
from idqueue.widgets.key_footer import NARROW_WIDTH, KeyFooter
from idqueue.widgets.trend_chart import TrendChart


class DashboardScreen(Screen[str | None]):
    """KPIs of a month (default: the current one) next to the month before.

    Args:
        store: the store.
        settings: calendar, SLA policies, survey goal, roster.
        clock: the injected clock (``IDQUEUE_NOW`` aware); default from the settings.
        period: the month to show first.

    Dismisses with the id of the breached request the user selected, or None. Below
    ``NARROW_WIDTH`` columns the panels stack in one scrolling column, each at full width.
    """

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW_WIDTH, "-wide")]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,m", "close", "Back to the queue", id="dashboard.close"),
        Binding("left_square_bracket", "previous_month", "Previous month", id="dashboard.previous_month"),
        Binding("right_square_bracket", "next_month", "Next month", id="dashboard.next_month"),
        Binding("r", "reload", "Reload", id="dashboard.reload"),
    ]

    DEFAULT_CSS = """
    DashboardScreen { layout: vertical; }
    DashboardScreen #dash-title { height: 1; padding: 0 1; background: $boost; text-style: bold; width: 1fr; }
    DashboardScreen .dash-panel { border: round $panel-lighten-2; border-title-color: $text-muted; }
    DashboardScreen .dash-panel:focus-within { border: round $accent; }
    DashboardScreen #dash-top { height: 20; }
    DashboardScreen #dash-kpis { width: 80; height: 1fr; }
    DashboardScreen #dash-trends { width: 1fr; }
    DashboardScreen #dash-middle { height: 14; }
    DashboardScreen #dash-by-type { width: 1fr; height: 1fr; }
    DashboardScreen #dash-by-assignee { width: 1fr; height: 1fr; }
    DashboardScreen #dash-side { width: 44; }
    DashboardScreen #dash-sla { height: auto; max-height: 8; }
    DashboardScreen #dash-csat { height: 1fr; }
    DashboardScreen #dash-csat.-goal-met { border-title-color: $success; }
    DashboardScreen #dash-csat.-goal-missed { border-title-color: $error; }
    DashboardScreen #dash-breached { height: 1fr; }
    DashboardScreen #dash-by-customer { height: auto; max-height: 12; }
    DashboardScreen DataTable { background: $surface; scrollbar-size-vertical: 1; }
    DashboardScreen #dash-body { height: 1fr; scrollbar-size-vertical: 1; }
    DashboardScreen.-narrow #dash-title { height: auto; }
    DashboardScreen.-narrow #dash-top, DashboardScreen.-narrow #dash-middle,
    DashboardScreen.-narrow #dash-trends, DashboardScreen.-narrow #dash-side { layout: vertical; height: auto; }
    DashboardScreen.-narrow #dash-kpis, DashboardScreen.-narrow #dash-by-type,
    DashboardScreen.-narrow #dash-by-assignee, DashboardScreen.-narrow #dash-trends,
    DashboardScreen.-narrow #dash-side { width: 1fr; height: auto; max-height: 24; }
    DashboardScreen.-narrow TrendChart { height: 14; }
    DashboardScreen.-narrow #dash-csat { height: 9; }
    DashboardScreen.-narrow #dash-breached { height: auto; max-height: 16; min-height: 4; }
    DashboardScreen .dash-empty { color: $text-muted; padding: 0 1; }
    """

    class Loaded(Message):
        """The worker finished computing a report."""

        def __init__(self, report: MetricsReport) -> None:
            super().__init__()
            self.report = report

    def __init__(
        self, store: Store, settings: Settings, *, clock: Clock | None = None, period: Period | None = None
    ) -> None:
        super().__init__()
        self.store = store
        self.settings = settings
        self.clock = clock or clock_for(settings)
        self.tz = settings.sla.calendar.timezone
        self.period = period or Period.containing(self.clock(), self.tz)
        self.report: MetricsReport | None = None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Label(Text(f"Metrics — {self.period.label} (loading…)"), id="dash-title")
        with VerticalScroll(id="dash-body"):
            yield from self._panels()
        yield KeyFooter(("close", "previous_month", "next_month"))

    def _panels(self) -> ComposeResult:
        with Horizontal(id="dash-top"):
            kpis: DataTable[Text] = DataTable(id="dash-kpis", cursor_type="none", zebra_stripes=True,
                                              classes="dash-panel")
            kpis.border_title = "This month vs last month"
            yield kpis
            with Vertical(id="dash-trends"):
                volume = TrendChart("Requests per week (received / resolved)", kind="bar", id="chart-volume")
                volume.add_class("dash-panel")
                yield volume
                times = TrendChart("Median hours per week (first response, business / resolution)", kind="line",
                                   id="chart-times")
                times.add_class("dash-panel")
                yield times
        with Horizontal(id="dash-middle"):
            by_type: DataTable[Text] = DataTable(id="dash-by-type", cursor_type="none", classes="dash-panel")
            by_type.border_title = "By request type"
            yield by_type
            by_assignee: DataTable[Text] = DataTable(id="dash-by-assignee", cursor_type="none", classes="dash-panel")
            by_assignee.border_title = "By assignee (workload)"
            yield by_assignee
            with Vertical(id="dash-side"):
                sla = Static(Text(""), id="dash-sla", classes="dash-panel", markup=False)
                sla.border_title = "SLA attainment by policy"
                yield sla
                csat = Static(Text(""), id="dash-csat", classes="dash-panel", markup=False)
                csat.border_title = "Customer satisfaction"
                yield csat
        if self.settings.customers:
            by_customer: DataTable[Text] = DataTable(id="dash-by-customer", cursor_type="none", classes="dash-panel")
            by_customer.border_title = "By customer — resolved within 48 h (backlog counts)"
            yield by_customer
        breached: DataTable[Text] = DataTable(id="dash-breached", cursor_type="row", classes="dash-panel")
        breached.border_title = "Requests that breached their SLA — enter shows one in the queue"
        yield breached

    def on_mount(self) -> None:
        self.load()

    # ------------------------------------------------------------------ data
    @work(thread=True, exclusive=True, group="dashboard")
    def load(self) -> None:
        """Compute the report for the current period off the UI thread."""
        report = collect(self.store, self.settings, self.period, now=self.clock())
        self.post_message(self.Loaded(report))

    @on(Loaded)
    def show_report(self, message: Loaded) -> None:
        """Fill every panel from a freshly computed report."""
        report = message.report
        if report.period != self.period:
            return  # a stale result from before the month changed
        self.report = report
        self._title(report)
        self._kpis(report)
        self._trends(report)
        self._by_type(report)
        self._by_assignee(report)
        if self.settings.customers:
            self._by_customer(report)
        self._sla(report.kpis)
        self._csat(report)
        self._breached(report)

    def _title(self, report: MetricsReport) -> None:
        local_now = report.now.astimezone(_zone(report.timezone))
        shown = f"{report.period.label} so far ({report.to_date.label})" if report.to_date else report.period.label
        text = (f"Metrics — {shown} vs {report.previous.label}  ·  "
                f"requests received in each month, status as of {local_now.strftime('%Y-%m-%d %H:%M %Z')}  ·  "
                "[ ] change month")
        self.query_one("#dash-title", Label).update(Text(text))

    def _kpis(self, report: MetricsReport) -> None:
        table = self.query_one("#dash-kpis", DataTable)
        table.clear(columns=True)
        current = _short(report.period.label)
        if report.to_date is not None:
            # Month to date against the same days of the month before, so a count is comparable.
            current = report.to_date.label
            table.border_title = f"{current} vs {report.previous.label} (the same days)"
        else:
            table.border_title = "This month vs last month"
        table.add_column("KPI", width=37)
        table.add_column(Text(current, justify="right"), width=12)
        table.add_column(Text(_short(report.previous.label), justify="right"), width=12)
        table.add_column(Text("Change", justify="right"), width=9)
        k, p = report.kpis, report.previous_kpis
        for label, get, fmt, kind in SUMMARY_ROWS:
            table.add_row(
                Text(label),
                Text(fmt(get(k)), justify="right"),
                Text(fmt(get(p)), justify="right"),
                Text(summary_delta(kind, get(k), get(p)), justify="right"),
            )

    def _trends(self, report: MetricsReport) -> None:
        labels = [w.week.label for w in report.weekly]
        self.query_one("#chart-volume", TrendChart).show(labels, [
            ("received", [float(w.received) for w in report.weekly]),
            ("resolved", [float(w.resolved) for w in report.weekly]),
        ])
        self.query_one("#chart-times", TrendChart).show(labels, [
            ("first response, business h (left)", [hours(w.first_response_median) for w in report.weekly]),
            ("resolution, h (right)", [hours(w.resolution_median) for w in report.weekly]),
        ])

    def _by_type(self, report: MetricsReport) -> None:
        table = self.query_one("#dash-by-type", DataTable)
        table.clear(columns=True)
        for name, width in (("Type", 18), ("Recv", 4), ("Done", 4), ("Open", 4), ("1st resp", 7), ("SLA", 5)):
            table.add_column(Text(name, justify="left" if name == "Type" else "right"), width=width)
        for group, k in report.breakdowns.get("type", {}).items():
            if not k.received:
                continue  # a group that only has ratings (for last month's requests)
            table.add_row(
                Text(one_line(group, 18)),
                *_right(str(k.received), str(k.resolved + k.backlogged), str(k.open + k.pending),
                        fmt_duration(k.first_response_business.median), fmt_pct(k.sla.pct)),
            )

    def _by_assignee(self, report: MetricsReport) -> None:
        table = self.query_one("#dash-by-assignee", DataTable)
        table.clear(columns=True)
        for name, width in (("Member", 13), ("Reqs", 4), ("Open", 4), ("Pend", 4), ("Done", 4), ("Brch", 4),
                            ("Med res", 7)):
            table.add_column(Text(name, justify="left" if name == "Member" else "right"), width=width)
        for m in report.workload:
            table.add_row(
                Text(one_line(report.member(m.member), 13)),
                *_right(str(m.assigned), str(m.open), str(m.pending), str(m.resolved + m.backlogged), str(m.breached),
                        fmt_duration(m.median_resolution)),
            )

    def _by_customer(self, report: MetricsReport) -> None:
        """The 48-hour rule per customer, then overall (the same rows as the report's table)."""
        table = self.query_one("#dash-by-customer", DataTable)
        table.clear(columns=True)
        for name, width in (("Customer", 24), ("Recv", 4), ("Done", 4), ("Open", 4), ("Within 48 h", 14),
                            ("Not due", 7), ("SLA", 5)):
            table.add_column(Text(name, justify="left" if name == "Customer" else "right"), width=width)
        rows = customer_rows(report)
        for n, (name, received, resolved, backlogged, open_, within, not_due, sla, _) in enumerate(rows):
            table.add_row(
                Text(one_line(name, 24), style="bold" if n == len(rows) - 1 else ""),
                *_right(received, str(int(resolved) + int(backlogged)), open_, within, not_due, sla),
            )

    def _sla(self, k: Kpis) -> None:
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(ratio=1, no_wrap=True)
        grid.add_column(justify="right", no_wrap=True)
        grid.add_column(justify="right", no_wrap=True)
        grid.add_row(Text("All policies", style="bold"), Text(_bar(k.sla.pct)), Text(fmt_share(k.sla), style="bold"))
        for a in k.sla_by_policy:
            grid.add_row(Text(one_line(a.policy, 20)), Text(_bar(a.overall.pct)), Text(fmt_share(a.overall)))
        if not k.sla_by_policy:
            grid.add_row(Text("No requests with a policy."), Text(""), Text(""))
        self.query_one("#dash-sla", Static).update(grid)

    def _csat(self, report: MetricsReport) -> None:
        k, p = report.kpis.csat, report.previous_kpis.csat
        widget = self.query_one("#dash-csat", Static)
        widget.set_class(k.meets_goal is True, "-goal-met")
        widget.set_class(k.meets_goal is False, "-goal-missed")
        goal = {True: "goal met", False: "below goal", None: "no ratings yet"}[k.meets_goal]
        widget.border_title = f"CSAT {fmt_pct(k.score)} · n = {k.responses} · {goal} (> {report.csat_goal:g} %)"
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(no_wrap=True)
        grid.add_column(ratio=1, no_wrap=True)
        grid.add_column(justify="right", no_wrap=True)
        top = max(k.counts) or 1
        for value in range(5, 0, -1):
            n = k.counts[value - 1]
            grid.add_row(Text(f"{value} ★"), Text("█" * round(20 * n / top)), Text(str(n)))
        widget.border_subtitle = f"{_short(report.previous.label)}: {fmt_csat(p)}"
        widget.update(grid)

    def _breached(self, report: MetricsReport) -> None:
        table = self.query_one("#dash-breached", DataTable)
        table.clear(columns=True)
        for name, width in (("Key", 8), ("Title", 58), ("Type", 22), ("Status", 12), ("Assignee", 14),
                            ("Clock missed", 14)):
            table.add_column(name, width=width)
        for row, clock in report.breached:
            table.add_row(
                Text(row.key),
                Text(one_line(row.title, 58)),
                Text(one_line(row.type, 22)),
                Text(row.status),
                Text(one_line(report.member(row.assignee), 14) if row.assignee else "—"),
                Text(clock),
                key=row.id,
            )
        if report.breached:
            table.focus(scroll_visible=False)

    # ------------------------------------------------------------------ actions
    @on(DataTable.RowSelected, "#dash-breached")
    def jump_to_request(self, event: DataTable.RowSelected) -> None:
        """Close the dashboard and show the selected request in the queue."""
        self.dismiss(event.row_key.value)

    def action_close(self) -> None:
        """Back to the queue."""
        self.dismiss(None)

    def action_previous_month(self) -> None:
        """Show the month before."""
        self._switch(self.period.previous_month(self.tz))

    def action_next_month(self) -> None:
        """Show the month after (not beyond the current one)."""
        following = Period.containing(self.period.end, self.tz)
        if following.start > self.clock():
            self.notify("This is the current month.", timeout=2)
            return
        self._switch(following)

    def action_reload(self) -> None:
        """Recompute (e.g. after a sync or a survey import)."""
        self.load()

    def _switch(self, period: Period) -> None:
        self.period = period
        self.query_one("#dash-title", Label).update(Text(f"Metrics — {period.label} (loading…)"))
        self.load()


def _right(*cells: str) -> list[Text]:
    return [Text(c, justify="right") for c in cells]


def _bar(pct: float | None, width: int = 10) -> str:
    if pct is None:
        return " " * width
    filled = round(width * pct / 100)
    return "█" * filled + "░" * (width - filled)


def _short(label: str) -> str:
    """``March 2026`` → ``Mar 2026`` for narrow columns (other labels unchanged)."""
    parts = label.split()
    if len(parts) == 2 and parts[1].isdigit():
        return f"{parts[0][:3]} {parts[1]}"
    return label


def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)
