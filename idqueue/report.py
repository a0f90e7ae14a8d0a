"""The monthly KPI report: collected once, rendered as Markdown, CSV, JSON or HTML.

:func:`collect` runs the period's queries (:mod:`idqueue.store.metrics_queries`) and the pure
metric functions (:mod:`idqueue.domain.metrics`) and returns a :class:`MetricsReport`; the
dashboard screen shows the same object. The renderers are pure functions of it:

* ``md`` — headings and tables, for a wiki page or an issue comment;
* ``csv`` — long format ``section,group,metric,value``, for a spreadsheet;
* ``json`` — the document described by :data:`REPORT_SCHEMA` (JSON Schema, draft 2020-12);
* ``html`` — one self-contained page (inline CSS and SVG charts, no scripts, no external
  assets), so it can be published as is: the seed's "publish monthly metrics".

Untrusted text (titles, team names, assignees) is escaped for each format; CSV cells that a
spreadsheet would run as formulas are neutralised.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from idqueue.domain.calendar import AlwaysOn, calendar_from_config
from idqueue.domain.metrics import (
    GROUP_BY,
    Csat,
    Durations,
    Kpis,
    MemberLoad,
    Period,
    Rating,
    RequestRow,
    Share,
    WeekPoint,
    breached_requests,
    breakdown,
    comparison_period,
    compute_kpis,
    month_to_date,
    rated_in,
    received_in,
    weekly_series,
    weeks_ending,
    workload,
)
from idqueue.domain.models import iso
from idqueue.safety import one_line
from idqueue.store.metrics_queries import fetch_ratings, fetch_rows

if TYPE_CHECKING:
    from idqueue.config import Settings
    from idqueue.store.db import Store

Format = Literal["md", "csv", "json", "html"]
FORMATS: tuple[Format, ...] = ("md", "csv", "json", "html")
SCHEMA_ID = "idqueue.report/1"
TREND_WEEKS = 8
"""Weeks in the trend: about the two months compared, so the report reads no further back."""


@dataclass(frozen=True)
class MetricsReport:
    """Everything the report and the dashboard show for one period.

    Attributes:
        period / previous: the period and the one it is compared with (while a month runs:
            the same days of the month before, see :func:`comparison_period`).
        to_date: while the period is the running month, its days so far (``Mar 1–11``).
        kpis / previous_kpis: their KPIs.
        breakdowns: dimension (``type``, ``assignee``, ``source``, ``priority``, ``team``,
            ``customer``) → group → KPIs, for the period.
        workload: per assignee, for the period.
        weekly: the trend, the ``weeks`` weeks up to the period's last (or current) week.
        breached: the period's requests with a breached SLA clock, and which clock.
        member_names: roster key → display name.
        customer_names: customer key → display name (empty when no customers are configured:
            the text reports then leave the customer section out).
    """

    team_name: str
    timezone: str
    now: datetime
    period: Period
    previous: Period
    kpis: Kpis
    previous_kpis: Kpis
    to_date: Period | None
    breakdowns: dict[str, dict[str, Kpis]]
    workload: list[MemberLoad]
    weekly: list[WeekPoint]
    breached: list[tuple[RequestRow, str]]
    member_names: dict[str, str]
    csat_goal: float
    customer_names: dict[str, str] = field(default_factory=dict)

    def member(self, key: str) -> str:
        """Display name of a roster key (the key itself when unknown)."""
        return self.member_names.get(key, key)

    def customer(self, key: str) -> str:
        """Display name of a customer group (the key itself, or ``(no customer)``, when unknown)."""
        return self.customer_names.get(key, key)


def collect(
    store: Store, settings: Settings, period: Period, *, now: datetime, weeks: int = TREND_WEEKS
) -> MetricsReport:
    """Query the store and compute the report for ``period`` (compared with the one before).

    Args:
        store: the store.
        settings: calendar, SLA policies, survey goal, roster names.
        period: the period to report on.
        now: the injected clock (``idqueue.clock.now(settings)``).
        weeks: how many weeks the trend shows.
    """
    tz = settings.sla.calendar.timezone
    previous = period.previous(tz)
    week_list = trend_weeks(period, now, weeks, tz)
    rows = fetch_rows(
        store, min(period.start, previous.start, week_list[0].start), max(period.end, week_list[-1].end),
        now=now, sla=settings.sla,
    )
    ratings = fetch_ratings(store, min(period.start, previous.start), max(period.end, previous.end))
    return build_report(rows, ratings, settings, period, now=now, weeks=weeks)


def trend_weeks(period: Period, now: datetime, weeks: int, tz: str) -> list[Period]:
    """The trend's weeks: ``weeks`` weeks ending with the period's last week (or this week)."""
    return weeks_ending(min(now, period.end - timedelta(microseconds=1)), weeks, tz)


def build_report(
    rows: list[RequestRow],
    ratings: list[Rating],
    settings: Settings,
    period: Period,
    *,
    now: datetime,
    weeks: int = TREND_WEEKS,
) -> MetricsReport:
    """Compute the report from rows and ratings already fetched (pure).

    ``rows`` must cover the period, the previous period and the trend weeks; ``ratings`` the
    period and the previous one (extra rows and ratings are ignored).
    """
    tz = settings.sla.calendar.timezone
    previous = comparison_period(period, now, tz)
    business = calendar_from_config(settings.sla.calendar, "business")
    wall = AlwaysOn()
    goal = settings.survey.goal
    cohort = received_in(rows, period)
    rated = rated_in(ratings, period)

    def kpis(subset: list[RequestRow], given: list[Rating]) -> Kpis:
        return compute_kpis(subset, given, now=now, business=business, wall=wall, csat_goal=goal)

    return MetricsReport(
        team_name=settings.team_name,
        timezone=tz,
        now=now,
        period=period,
        previous=previous,
        kpis=kpis(cohort, rated),
        previous_kpis=kpis(received_in(rows, previous), rated_in(ratings, previous)),
        to_date=month_to_date(period, now, tz),
        breakdowns={
            by: breakdown(cohort, rated, by, now=now, business=business, wall=wall, csat_goal=goal)
            for by in GROUP_BY
        },
        workload=workload(cohort, now=now, wall=wall),
        weekly=weekly_series(rows, trend_weeks(period, now, weeks, tz), business=business, wall=wall),
        breached=breached_requests(cohort, now),
        member_names={key: m.name for key, m in settings.team.items()},
        csat_goal=goal,
        customer_names={key: c.name for key, c in settings.customers.items()},
    )


# --------------------------------------------------------------------------- formatting


def hours(seconds: float | None) -> float | None:
    """Seconds → hours rounded to 0.01 (None stays None)."""
    return None if seconds is None else round(seconds / 3600.0, 2)


def fmt_duration(seconds: float | None) -> str:
    """``42 min``, ``3.5 h``; ``—`` when there is no value."""
    if seconds is None:
        return "—"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def fmt_pct(value: float | None) -> str:
    """``83 %``; ``—`` for no value."""
    return "—" if value is None else f"{value:.0f} %"


def fmt_share(share: Share) -> str:
    """``83 % (10/12)``; ``— (0/0)`` when there is nothing to count."""
    return f"{fmt_pct(share.pct)} ({share.hits}/{share.total})"


def fmt_csat(csat: Csat) -> str:
    """``75 % of 12`` (share of 4–5 ratings and the sample size), ``no ratings`` when empty."""
    if not csat.responses:
        return "no ratings"
    return f"{fmt_pct(csat.score)} of {csat.responses}"


def fmt_delta(now_value: float | None, before: float | None, unit: str = "") -> str:
    """The change from ``before`` to ``now_value``: ``+3``, ``−1.5 h``, ``±0``; empty when unknown."""
    if now_value is None or before is None:
        return ""
    delta = now_value - before
    if abs(delta) < 0.05:
        return "±0"
    sign = "+" if delta > 0 else "−"
    number = f"{abs(delta):.0f}" if float(delta).is_integer() or unit == " pp" else f"{abs(delta):.1f}"
    return f"{sign}{number}{unit}"


# Rows of the "this period vs previous" summary: (label, value getter, formatter, delta kind).
# The delta kind tells how to compare: "count", "hours", "pct" (percentage points) or "".
SummaryRow = tuple[str, Callable[[Kpis], Any], Callable[[Any], str], str]
SUMMARY_ROWS: list[SummaryRow] = [
    ("Requests received", lambda k: k.received, str, "count"),
    ("Resolved", lambda k: k.resolved, str, "count"),
    ("Backlogged", lambda k: k.backlogged, str, "count"),
    ("Pending (waiting on requester)", lambda k: k.pending, str, "count"),
    ("Open", lambda k: k.open, str, "count"),
    ("First response, median (business)", lambda k: k.first_response_business.median, fmt_duration, "hours"),
    ("First response, p90 (business)", lambda k: k.first_response_business.p90, fmt_duration, "hours"),
    ("First response, median (wall clock)", lambda k: k.first_response_wall.median, fmt_duration, "hours"),
    ("Resolution, median (business)", lambda k: k.resolution_business.median, fmt_duration, "hours"),
    ("Resolution, median (wall clock)", lambda k: k.resolution_wall.median, fmt_duration, "hours"),
    ("Resolution, p90 (wall clock)", lambda k: k.resolution_wall.p90, fmt_duration, "hours"),
    ("SLA attainment", lambda k: k.sla, fmt_share, "pct"),
    ("Resolved within 48 h (backlog counts)", lambda k: k.within_48h, fmt_share, "pct"),
    ("Fulfilled through the process", lambda k: k.fulfilled, fmt_share, "pct"),
    ("Reopen rate", lambda k: k.reopened, fmt_share, "pct"),
    ("CSAT (4–5 ratings)", lambda k: k.csat, fmt_csat, "csat"),
]


def summary_delta(kind: str, now_value: Any, before: Any) -> str:
    """The change column of a summary row."""
    if kind == "count":
        return fmt_delta(float(now_value), float(before))
    if kind == "hours":
        return fmt_delta(hours(now_value), hours(before), " h")
    if kind == "pct":
        return fmt_delta(now_value.pct, before.pct, " pp")
    if kind == "csat":
        return fmt_delta(now_value.score, before.score, " pp")
    return ""


# --------------------------------------------------------------------------- JSON


def _durations(d: Durations) -> dict[str, Any]:
    return {"count": d.count, "median": hours(d.median), "p90": hours(d.p90)}


def _share(s: Share) -> dict[str, Any]:
    return {"count": s.hits, "of": s.total, "pct": None if s.pct is None else round(s.pct, 1)}


def kpis_json(k: Kpis) -> dict[str, Any]:
    """One KPI set as JSON (hours rounded to 0.01, percentages to 0.1)."""
    return {
        "received": k.received,
        "resolved": k.resolved,
        "backlogged": k.backlogged,
        "pending": k.pending,
        "open": k.open,
        "first_response_hours": {
            "business": _durations(k.first_response_business),
            "wall_clock": _durations(k.first_response_wall),
        },
        "resolution_hours": {
            "business": _durations(k.resolution_business),
            "wall_clock": _durations(k.resolution_wall),
        },
        "sla": {
            **_share(k.sla),
            "by_policy": [
                {
                    "policy": p.policy,
                    "requests": p.requests,
                    "met": p.met,
                    "breached": p.breached,
                    "running": p.running,
                    "attainment": _share(p.overall),
                    "first_response": _share(p.first_response),
                    "resolution": _share(p.resolution),
                }
                for p in k.sla_by_policy
            ],
        },
        "resolved_within_48h": {**_share(k.within_48h), "not_yet_due": k.not_yet_due},
        "fulfilled_through_process": _share(k.fulfilled),
        "reopened": _share(k.reopened),
        "breached": k.breached,
        "csat": {
            "responses": k.csat.responses,
            "satisfied": k.csat.satisfied,
            "pct": None if k.csat.score is None else round(k.csat.score, 1),
            "goal_pct": k.csat.goal,
            "meets_goal": k.csat.meets_goal,
            "ratings": {str(i + 1): n for i, n in enumerate(k.csat.counts)},
        },
    }


def _period_json(p: Period, tz: str) -> dict[str, Any]:
    return {"label": p.label, "start": iso(p.start), "end": iso(p.end), "timezone": tz}


def report_json(report: MetricsReport) -> dict[str, Any]:
    """The report as a JSON-ready dict (see :data:`REPORT_SCHEMA`)."""
    return {
        "schema": SCHEMA_ID,
        "team": report.team_name,
        "generated_at": iso(report.now),
        "period": _period_json(report.period, report.timezone),
        "previous_period": _period_json(report.previous, report.timezone),
        "summary": kpis_json(report.kpis),
        "previous": kpis_json(report.previous_kpis),
        "breakdowns": {
            by: [
                {"group": name, **({"name": report.customer(name)} if by == "customer" else {}), **kpis_json(k)}
                for name, k in groups.items()
            ]
            for by, groups in report.breakdowns.items()
        },
        "workload": [
            {
                "member": m.member,
                "name": report.member(m.member),
                "assigned": m.assigned,
                "open": m.open,
                "pending": m.pending,
                "resolved": m.resolved,
                "backlogged": m.backlogged,
                "breached": m.breached,
                "median_resolution_hours": hours(m.median_resolution),
            }
            for m in report.workload
        ],
        "weekly": [
            {
                "week_start": w.week.start.astimezone(_zone(report.timezone)).date().isoformat(),
                "received": w.received,
                "resolved": w.resolved,
                "first_response_median_hours": hours(w.first_response_median),
                "resolution_median_hours": hours(w.resolution_median),
            }
            for w in report.weekly
        ],
        "breached": [
            {
                "id": row.id,
                "key": row.key,
                "title": row.title,
                "type": row.type,
                "priority": row.priority,
                "status": row.status,
                "assignee": row.assignee,
                "created_at": iso(row.created_at),
                "clock": clock,
                "url": row.url,
            }
            for row, clock in report.breached
        ],
    }


def _zone(tz: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(tz)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_NUM = {"type": "number"}
_INT = {"type": "integer", "minimum": 0}
_DURATIONS = {
    "type": "object",
    "required": ["count", "median", "p90"],
    "additionalProperties": False,
    "properties": {"count": _INT, "median": _nullable(_NUM), "p90": _nullable(_NUM)},
}
_SHARE = {
    "type": "object",
    "required": ["count", "of", "pct"],
    "properties": {"count": _INT, "of": _INT, "pct": _nullable({"type": "number", "minimum": 0, "maximum": 100})},
}
_PERIOD = {
    "type": "object",
    "required": ["label", "start", "end", "timezone"],
    "additionalProperties": False,
    "properties": {
        "label": {"type": "string"},
        "start": {"type": "string", "format": "date-time"},
        "end": {"type": "string", "format": "date-time"},
        "timezone": {"type": "string"},
    },
}
_KPIS = {
    "type": "object",
    "required": [
        "received", "resolved", "backlogged", "pending", "open", "first_response_hours", "resolution_hours",
        "sla", "resolved_within_48h", "fulfilled_through_process", "reopened", "breached", "csat",
    ],
    "properties": {
        "received": _INT,
        "resolved": _INT,
        "backlogged": _INT,
        "pending": _INT,
        "open": _INT,
        "first_response_hours": {
            "type": "object",
            "required": ["business", "wall_clock"],
            "properties": {"business": _DURATIONS, "wall_clock": _DURATIONS},
        },
        "resolution_hours": {
            "type": "object",
            "required": ["business", "wall_clock"],
            "properties": {"business": _DURATIONS, "wall_clock": _DURATIONS},
        },
        "sla": {
            "allOf": [_SHARE],
            "required": ["by_policy"],
            "properties": {
                "by_policy": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["policy", "requests", "met", "breached", "running", "attainment",
                                     "first_response", "resolution"],
                        "properties": {
                            "policy": {"type": "string"},
                            "requests": _INT,
                            "met": _INT,
                            "breached": _INT,
                            "running": _INT,
                            "attainment": _SHARE,
                            "first_response": _SHARE,
                            "resolution": _SHARE,
                        },
                    },
                }
            },
        },
        "resolved_within_48h": {"allOf": [_SHARE], "properties": {"not_yet_due": _INT}},
        "fulfilled_through_process": _SHARE,
        "reopened": _SHARE,
        "breached": _INT,
        "csat": {
            "type": "object",
            "required": ["responses", "satisfied", "pct", "goal_pct", "meets_goal", "ratings"],
            "properties": {
                "responses": _INT,
                "satisfied": _INT,
                "pct": _nullable({"type": "number", "minimum": 0, "maximum": 100}),
                "goal_pct": _NUM,
                "meets_goal": {"type": ["boolean", "null"]},
                "ratings": {
                    "type": "object",
                    "required": ["1", "2", "3", "4", "5"],
                    "additionalProperties": False,
                    "properties": {str(i): _INT for i in range(1, 6)},
                },
            },
        },
    },
}

REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://idqueue.invalid/schemas/report-1.json",
    "title": "idqueue KPI report",
    "type": "object",
    "required": [
        "schema", "team", "generated_at", "period", "previous_period", "summary", "previous",
        "breakdowns", "workload", "weekly", "breached",
    ],
    "additionalProperties": False,
    "properties": {
        "schema": {"const": SCHEMA_ID},
        "team": {"type": "string"},
        "generated_at": {"type": "string", "format": "date-time"},
        "period": _PERIOD,
        "previous_period": _PERIOD,
        "summary": _KPIS,
        "previous": _KPIS,
        "breakdowns": {
            "type": "object",
            "required": list(GROUP_BY),
            "additionalProperties": False,
            "properties": {
                by: {
                    "type": "array",
                    "items": {"allOf": [_KPIS], "required": ["group"], "properties": {"group": {"type": "string"}}},
                }
                for by in GROUP_BY
            },
        },
        "workload": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["member", "name", "assigned", "open", "pending", "resolved", "backlogged", "breached",
                             "median_resolution_hours"],
                "properties": {
                    "member": {"type": "string"},
                    "name": {"type": "string"},
                    "assigned": _INT,
                    "open": _INT,
                    "pending": _INT,
                    "resolved": _INT,
                    "backlogged": _INT,
                    "breached": _INT,
                    "median_resolution_hours": _nullable(_NUM),
                },
            },
        },
        "weekly": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["week_start", "received", "resolved", "first_response_median_hours",
                             "resolution_median_hours"],
                "properties": {
                    "week_start": {"type": "string", "format": "date"},
                    "received": _INT,
                    "resolved": _INT,
                    "first_response_median_hours": _nullable(_NUM),
                    "resolution_median_hours": _nullable(_NUM),
                },
            },
        },
        "breached": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "key", "title", "type", "priority", "status", "assignee", "created_at", "clock",
                             "url"],
                "properties": {
                    "id": {"type": "string"},
                    "key": {"type": "string"},
                    "title": {"type": "string"},
                    "type": {"type": "string"},
                    "priority": {"type": "string"},
                    "status": {"type": "string"},
                    "assignee": {"type": ["string", "null"]},
                    "created_at": {"type": "string", "format": "date-time"},
                    "clock": {"enum": ["first response", "resolution", "both"]},
                    "url": {"type": ["string", "null"]},
                },
            },
        },
    },
}
"""JSON Schema (draft 2020-12) of ``idqueue report --format json``."""


def render_json(report: MetricsReport) -> str:
    """The JSON report (UTF-8 text, indented)."""
    return json.dumps(report_json(report), ensure_ascii=False, indent=2) + "\n"


# --------------------------------------------------------------------------- Markdown

# What can change a table cell's meaning: pipes (columns), brackets (links), angle brackets
# (HTML), emphasis and code markers, and the backslash itself.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def md_text(text: str) -> str:
    """Untrusted text made inert in Markdown: one line, Markdown punctuation escaped."""
    return _MD_SPECIAL.sub(r"\\\1", one_line(text, 120))


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _md_section(
    title: str, header: Sequence[str], rows: Sequence[Sequence[str]], *, empty: str | None = None
) -> list[str]:
    """A report section: its heading, then its table, or the sentence ``empty`` when there are no rows."""
    lines = ["", f"## {title}", ""]
    if not rows and empty is not None:
        return [*lines, empty]
    return lines + _md_table(header, rows)


def breakdown_rows(groups: dict[str, Kpis], name: Callable[[str], str] = str) -> list[list[str]]:
    """Rows of a breakdown table: group, received, resolved, backlogged, open+pending, FR median, SLA, CSAT."""
    return [
        [
            name(group),
            str(k.received),
            str(k.resolved),
            str(k.backlogged),
            str(k.open + k.pending),
            fmt_duration(k.first_response_business.median),
            fmt_pct(k.sla.pct),
            fmt_csat(k.csat),
        ]
        for group, k in groups.items()
    ]


BREAKDOWN_HEADER = ["Received", "Resolved", "Backlogged", "Open", "First response (median, business)", "SLA", "CSAT"]
SLA_HEADER = ["Policy", "Requests", "Met", "Breached", "Running", "Attainment", "First response", "Resolution"]
WORKLOAD_HEADER = ["Member", "Assigned", "Open", "Pending", "Resolved", "Backlogged", "Breached", "Median resolution"]
BREACHED_HEADER = ["Request", "Title", "Type", "Status", "Assignee", "Clock"]
NO_SLA_POLICY = "No requests with an SLA policy in this period."
CUSTOMER_HEADER = ["Customer", "Received", "Resolved", "Backlogged", "Open", "Within 48 h", "Not yet due", "SLA",
                   "CSAT"]
"""The customer table: the 48-hour rule per customer next to the usual counts."""


def customer_rows(report: MetricsReport) -> list[list[str]]:
    """Rows of the customer table (the overall line last); empty without configured customers."""
    if not report.customer_names:
        return []
    groups = report.breakdowns.get("customer", {})
    rows = [(report.customer(name), k) for name, k in groups.items() if k.received]
    rows.append(("All requests", report.kpis))
    return [
        [name, str(k.received), str(k.resolved), str(k.backlogged), str(k.open + k.pending),
         fmt_share(k.within_48h), str(k.not_yet_due), fmt_pct(k.sla.pct), fmt_csat(k.csat)]
        for name, k in rows
    ]


BREAKDOWN_TITLES = {
    "type": "By request type",
    "assignee": "By assignee",
    "team": "By requesting team",
    "source": "By source",
    "priority": "By priority",
}


def render_md(report: MetricsReport) -> str:
    """The Markdown report."""
    k, p = report.kpis, report.previous_kpis
    shown = report.to_date.label if report.to_date else report.period.label
    lines = [
        f"# {md_text(report.team_name)} support metrics — {report.period.label}",
        "",
        f"Requests received {shown} (compared with {report.previous.label}); status as of "
        f"{report.now.astimezone(_zone(report.timezone)).strftime('%Y-%m-%d %H:%M %Z')}. "
        f"Business hours follow the team calendar ({report.timezone}).",
        "",
        "## Summary",
        "",
    ]
    rows = []
    for label, get, fmt, kind in SUMMARY_ROWS:
        rows.append([label, fmt(get(k)), fmt(get(p)), summary_delta(kind, get(k), get(p))])
    lines += _md_table(["KPI", shown, report.previous.label, "Change"], rows)
    goal = "met" if k.csat.meets_goal else ("not met" if k.csat.meets_goal is False else "no ratings yet")
    lines += ["", f"CSAT goal: above {report.csat_goal:g} % — {goal}."]

    lines += _md_section(
        "SLA attainment by policy",
        SLA_HEADER,
        [
            [md_text(a.policy), str(a.requests), str(a.met), str(a.breached), str(a.running),
             fmt_share(a.overall), fmt_share(a.first_response), fmt_share(a.resolution)]
            for a in k.sla_by_policy
        ],
        empty=NO_SLA_POLICY,
    )
    lines += _md_section(
        "Satisfaction",
        ["Rating", "1", "2", "3", "4", "5", "Responses", "CSAT"],
        [["Count", *(str(n) for n in k.csat.counts), str(k.csat.responses), fmt_pct(k.csat.score)]],
    )
    for by in ("type", "assignee", "team", "source", "priority"):
        name = (lambda g: md_text(report.member(g))) if by == "assignee" else md_text
        lines += _md_section(
            BREAKDOWN_TITLES[by],
            [BREAKDOWN_TITLES[by].removeprefix("By ").capitalize(), *BREAKDOWN_HEADER],
            breakdown_rows(report.breakdowns.get(by, {}), name),
            empty="No requests.",
        )
    if report.customer_names:
        lines += _md_section(
            "By customer (the 48-hour rule)",
            CUSTOMER_HEADER,
            [[md_text(row[0]), *row[1:]] for row in customer_rows(report)],
        )
    lines += _md_section(
        "Workload per team member",
        WORKLOAD_HEADER,
        [
            [md_text(report.member(m.member)), str(m.assigned), str(m.open), str(m.pending), str(m.resolved),
             str(m.backlogged), str(m.breached), fmt_duration(m.median_resolution)]
            for m in report.workload
        ],
        empty="No requests.",
    )
    lines += _md_section(
        "Weekly trend",
        ["Week of", "Received", "Resolved", "First response (median, business)", "Resolution (median, wall clock)"],
        [
            [w.week.label, str(w.received), str(w.resolved), fmt_duration(w.first_response_median),
             fmt_duration(w.resolution_median)]
            for w in report.weekly
        ],
    )
    lines += _md_section(
        "Requests that breached their SLA",
        BREACHED_HEADER,
        [
            [_md_link(row.key, row.url), md_text(row.title), md_text(row.type), row.status,
             md_text(report.member(row.assignee)) if row.assignee else "—", clock]
            for row, clock in report.breached
        ],
        empty="None.",
    )
    lines += ["", "Definitions: see the README section “Metrics”.", ""]
    return "\n".join(lines)


def _safe_url(url: str | None) -> str | None:
    if url and re.match(r"^https?://[^\s<>\"'`]+$", url):
        return url
    return None


def _md_link(key: str, url: str | None) -> str:
    safe = _safe_url(url)
    label = md_text(key)
    return f"[{label}](<{safe}>)" if safe else label


# --------------------------------------------------------------------------- CSV


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    text = one_line(str(value))
    # A leading = + - @ makes spreadsheets evaluate the cell: keep it text. Negative numbers
    # are our own values and stay numbers.
    if text[:1] in ("=", "+", "-", "@") and not re.fullmatch(r"-\d+(\.\d+)?", text):
        return "'" + text
    return text


def _flat(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        out: list[tuple[str, Any]] = []
        for k, v in value.items():
            if k == "by_policy":
                continue
            out += _flat(f"{prefix}.{k}" if prefix else str(k), v)
        return out
    return [(prefix, value)]


def render_csv(report: MetricsReport) -> str:
    """Long-format CSV: ``section,group,metric,value``, one number per line."""
    data = report_json(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "group", "metric", "value"])

    def emit(section: str, group: str, metric: str, value: Any) -> None:
        writer.writerow([section, _csv_cell(group), metric, _csv_cell(value)])

    emit("period", "", "label", data["period"]["label"])
    emit("period", "", "start", data["period"]["start"])
    emit("period", "", "end", data["period"]["end"])
    for section in ("summary", "previous"):
        for metric, value in _flat("", data[section]):
            emit(section, "", metric, value)
        for policy in data[section]["sla"]["by_policy"]:
            for metric, value in _flat("", {k: v for k, v in policy.items() if k != "policy"}):
                emit(f"{section}.sla_policy", policy["policy"], metric, value)
    for by, groups in data["breakdowns"].items():
        for group in groups:
            for metric, value in _flat("", {k: v for k, v in group.items() if k not in ("group", "name")}):
                emit(f"by_{by}", group["group"], metric, value)
    for m in data["workload"]:
        for metric in ("assigned", "open", "pending", "resolved", "backlogged", "breached", "median_resolution_hours"):
            emit("workload", m["member"], metric, m[metric])
    for w in data["weekly"]:
        for metric in ("received", "resolved", "first_response_median_hours", "resolution_median_hours"):
            emit("weekly", w["week_start"], metric, w[metric])
    for b in data["breached"]:
        emit("breached", b["key"], "clock", b["clock"])
        emit("breached", b["key"], "title", b["title"])
    return out.getvalue()


# --------------------------------------------------------------------------- HTML

_CSS = """
:root { --fg:#1d2330; --muted:#5b6577; --line:#d9dee7; --bg:#ffffff; --panel:#f6f8fb;
        --accent:#2f6fdb; --accent2:#8fb3f0; --good:#1f8a4c; --bad:#c0392b; --warn:#b7791f; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       background: var(--bg); margin: 0; padding: 28px 36px 48px; max-width: 1180px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 30px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
p.sub { color: var(--muted); margin: 0 0 18px; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 26px; font-weight: 650; margin-top: 2px; }
.card .prev { color: var(--muted); font-size: 12px; }
.good { color: var(--good); } .bad { color: var(--bad); }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.charts.three { grid-template-columns: 1fr 1fr 1fr; }
.chart { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.chart h3 { font-size: 14px; margin: 0 0 6px; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.bar { display: inline-block; height: 9px; background: var(--accent); border-radius: 2px; vertical-align: middle; }
.legend { color: var(--muted); font-size: 12px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; vertical-align: middle; }
footer { color: var(--muted); font-size: 12px; margin-top: 28px; }
svg text { font: 11px system-ui, sans-serif; fill: #5b6577; }
"""


def _e(text: Any) -> str:
    return html.escape(one_line(str(text)), quote=True)


def _nice_max(value: float) -> float:
    """The top of a chart's axis: four ticks of a "nice" step (1, 2 or 5 × 10ⁿ) covering ``value``."""
    if value <= 0:
        return 1.0
    raw = value / 4
    magnitude: float = 10.0 ** math.floor(math.log10(raw))
    step: float = next(m * magnitude for m in (1, 2, 5, 10) if raw <= m * magnitude + 1e-12)
    return 4 * step


def _svg_open_with_y_axis(
    width: int, height: int, *, left: int, right: int, top: int, plot_h: float, top_value: float, unit: str
) -> list[str]:
    """A chart's opening ``<svg>`` tag and its y axis: five grid lines, each with its value."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img">']
    for i in range(5):
        tick = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d9dee7"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{tick:g}{_e(unit)}</text>')
    return parts


def _svg_x_labels(labels: Sequence[str], x_of: Callable[[int], float], height: int) -> list[str]:
    """The labels under a chart, thinned to about six; the latest (rightmost) is always labelled."""
    n = max(len(labels), 1)
    step = max(1, math.ceil(n / 6))
    return [
        f'<text x="{x_of(i):.1f}" y="{height - 14}" text-anchor="middle">{_e(label)}</text>'
        for i, label in enumerate(labels)
        if (n - 1 - i) % step == 0
    ]


def svg_bars(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[float], str]], *, width: int = 520, height: int = 200,
    unit: str = "",
) -> str:
    """A grouped bar chart as inline SVG (series: name, values, colour)."""
    left, right, top, bottom = 36, 8, 10, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((v for _, values, _ in series for v in values), default=0))
    n = max(len(labels), 1)
    slot = plot_w / n
    bar_w = max(2.0, slot * 0.8 / max(len(series), 1))
    parts = _svg_open_with_y_axis(width, height, left=left, right=right, top=top, plot_h=plot_h,
                                  top_value=top_value, unit=unit)
    for s, (name, values, colour) in enumerate(series):
        for i, value in enumerate(values):
            h = plot_h * value / top_value
            x = left + i * slot + slot * 0.1 + s * bar_w
            y = top + plot_h - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{_e(name)} {_e(labels[i])}: {value:g}</title></rect>"
            )
    parts += _svg_x_labels(labels, lambda i: left + i * slot + slot / 2, height)
    parts.append("</svg>")
    return "".join(parts)


def svg_lines(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None], str]], *, width: int = 520,
    height: int = 200, unit: str = "",
) -> str:
    """A line chart as inline SVG; None values leave gaps."""
    left, right, top, bottom = 40, 24, 10, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((v for _, values, _ in series for v in values if v is not None), default=0))
    n = max(len(labels), 1)
    slot = plot_w / max(n - 1, 1)
    parts = _svg_open_with_y_axis(width, height, left=left, right=right, top=top, plot_h=plot_h,
                                  top_value=top_value, unit=unit)
    for name, values, colour in series:
        run: list[str] = []
        runs: list[list[str]] = []
        for i, value in enumerate(values):
            if value is None:
                if run:
                    runs.append(run)
                run = []
                continue
            x = left + i * slot
            y = top + plot_h - plot_h * value / top_value
            run.append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                f"<title>{_e(name)} {_e(labels[i])}: {value:.1f}{_e(unit)}</title></circle>"
            )
        if run:
            runs.append(run)
        for points in runs:
            if len(points) > 1:
                parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" stroke-width="2"/>')
    parts += _svg_x_labels(labels, lambda i: left + i * slot, height)
    parts.append("</svg>")
    return "".join(parts)


def _hbar(pct: float | None, colour: str = "var(--accent)") -> str:
    if pct is None:
        return ""
    return f'<span class="bar" style="width:{max(pct, 0.5) * 1.2:.0f}px;background:{colour}"></span>'


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    head = "".join(
        f'<th class="num">{_e(h)}</th>' if i >= numeric_from else f"<th>{_e(h)}</th>" for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>" + "".join(
            f'<td class="num">{cell}</td>' if i >= numeric_from else f"<td>{cell}</td>" for i, cell in enumerate(row)
        ) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _card(label: str, value: str, previous: str, tone: str = "") -> str:
    cls = f' class="value {tone}"' if tone else ' class="value"'
    return (
        f'<div class="card"><div class="label">{_e(label)}</div><div{cls}>{_e(value)}</div>'
        f'<div class="prev">{_e(previous)}</div></div>'
    )


def render_html(report: MetricsReport) -> str:
    """The self-contained HTML report (inline CSS + SVG, no scripts or external assets)."""
    k, p = report.kpis, report.previous_kpis
    prev = report.previous.label
    csat_tone = "" if k.csat.meets_goal is None else ("good" if k.csat.meets_goal else "bad")
    cards = "".join([
        _card("Requests received", str(k.received), f"{prev}: {p.received}"),
        _card("First response (median, business)", fmt_duration(k.first_response_business.median),
              f"{prev}: {fmt_duration(p.first_response_business.median)}"),
        _card("Resolution (median, wall clock)", fmt_duration(k.resolution_wall.median),
              f"{prev}: {fmt_duration(p.resolution_wall.median)}"),
        _card("SLA attainment", fmt_pct(k.sla.pct), f"{k.sla.hits}/{k.sla.total} · {prev}: {fmt_pct(p.sla.pct)}"),
        _card("Resolved within 48 h", fmt_pct(k.within_48h.pct),
              f"{k.within_48h.hits}/{k.within_48h.total} · {prev}: {fmt_pct(p.within_48h.pct)}"),
        _card("Fulfilled through the process", fmt_pct(k.fulfilled.pct),
              f"{k.fulfilled.hits}/{k.fulfilled.total} · {prev}: {fmt_pct(p.fulfilled.pct)}"),
        _card("Reopen rate", fmt_pct(k.reopened.pct), f"{k.reopened.hits}/{k.reopened.total} · {prev}: "
              f"{fmt_pct(p.reopened.pct)}"),
        _card(f"CSAT (goal > {report.csat_goal:g} %)", fmt_pct(k.csat.score),
              f"n = {k.csat.responses} · {prev}: {fmt_pct(p.csat.score)} (n = {p.csat.responses})", csat_tone),
    ])
    labels = [w.week.label for w in report.weekly]
    volume = svg_bars(labels, [
        ("received", [float(w.received) for w in report.weekly], "#2f6fdb"),
        ("resolved", [float(w.resolved) for w in report.weekly], "#8fb3f0"),
    ], width=360)
    first_response = svg_lines(labels, [
        ("first response (business h)", [hours(w.first_response_median) for w in report.weekly], "#2f6fdb"),
    ], unit="h", width=360)
    resolution = svg_lines(labels, [
        ("resolution (wall-clock h)", [hours(w.resolution_median) for w in report.weekly], "#b7791f"),
    ], unit="h", width=360)
    csat_chart = svg_bars([str(i) for i in range(1, 6)], [
        ("ratings", [float(n) for n in k.csat.counts], "#1f8a4c"),
    ], width=360, height=160)

    summary_rows = [
        [_e(label), _e(fmt(get(k))), _e(fmt(get(p))), _e(summary_delta(kind, get(k), get(p)))]
        for label, get, fmt, kind in SUMMARY_ROWS
    ]
    sla_rows = [
        [_e(a.policy), str(a.requests), str(a.met), str(a.breached), str(a.running),
         f"{_hbar(a.overall.pct)} {_e(fmt_share(a.overall))}", _e(fmt_share(a.first_response)),
         _e(fmt_share(a.resolution))]
        for a in k.sla_by_policy
    ]
    sections: list[str] = []
    for by in ("type", "assignee", "team", "source", "priority"):
        groups = report.breakdowns.get(by, {})
        name: Callable[[str], str] = report.member if by == "assignee" else str
        rows = [[_e(cell) for cell in row] for row in breakdown_rows(groups, name)]
        title = BREAKDOWN_TITLES[by]
        sections.append(
            f"<h2>{_e(title)}</h2>"
            + (_html_table([title.removeprefix("By ").capitalize(), *BREAKDOWN_HEADER], rows) if rows else
               "<p>No requests.</p>")
        )
    if report.customer_names:
        rows = [[_e(cell) for cell in row] for row in customer_rows(report)]
        sections.append("<h2>By customer (the 48-hour rule)</h2>" + _html_table(CUSTOMER_HEADER, rows))
    workload_rows = [
        [_e(report.member(m.member)), str(m.assigned), str(m.open), str(m.pending), str(m.resolved),
         str(m.backlogged), str(m.breached), _e(fmt_duration(m.median_resolution))]
        for m in report.workload
    ]
    breached_rows = []
    for row, clock in report.breached:
        url = _safe_url(row.url)
        key = f'<a href="{html.escape(url, quote=True)}">{_e(row.key)}</a>' if url else _e(row.key)
        breached_rows.append([
            key, _e(row.title), _e(row.type), _e(row.status),
            _e(report.member(row.assignee)) if row.assignee else "—", _e(clock),
        ])
    local_now = report.now.astimezone(_zone(report.timezone))
    goal_text = {True: "met", False: "not met", None: "no ratings yet"}[k.csat.meets_goal]
    body = f"""
<h1>{_e(report.team_name)} support metrics — {_e(report.period.label)}</h1>
<p class="sub">Requests received {_e(report.period.label)}, compared with {_e(prev)}; status as of
{_e(local_now.strftime("%Y-%m-%d %H:%M %Z"))}. Business hours follow the team calendar ({_e(report.timezone)}).</p>
<div class="cards">{cards}</div>
<h2>Trend</h2>
<div class="charts three">
<div class="chart"><h3>Requests per week</h3>{volume}
<div class="legend"><i style="background:#2f6fdb"></i>received<i style="background:#8fb3f0"></i>of which resolved</div></div>
<div class="chart"><h3>First response, median (business hours)</h3>{first_response}</div>
<div class="chart"><h3>Resolution, median (wall-clock hours)</h3>{resolution}</div>
</div>
<h2>Summary</h2>
{_html_table(["KPI", report.period.label, prev, "Change"], summary_rows)}
<h2>SLA attainment by policy</h2>
{_html_table(SLA_HEADER, sla_rows) if sla_rows else f"<p>{NO_SLA_POLICY}</p>"}
<h2>Customer satisfaction</h2>
<div class="charts"><div class="chart"><h3>Ratings (1–5), n = {k.csat.responses}</h3>{csat_chart}</div>
<div class="chart"><h3>CSAT {_e(fmt_pct(k.csat.score))}</h3>
<p>Share of 4 and 5 ratings among {k.csat.responses} responses; goal above {report.csat_goal:g} % — {_e(goal_text)}.
{_e(prev)}: {_e(fmt_csat(p.csat))}.</p></div></div>
{"".join(sections)}
<h2>Workload per team member</h2>
{_html_table(WORKLOAD_HEADER, workload_rows) if workload_rows else "<p>No requests.</p>"}
<h2>Requests that breached their SLA</h2>
{_html_table(BREACHED_HEADER, breached_rows, numeric_from=99) if breached_rows else "<p>None.</p>"}
<footer>Generated by idqueue at {_e(iso(report.now))}. Definitions of every KPI are in the idqueue README (“Metrics”).</footer>
"""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{_e(report.team_name)} support metrics — {_e(report.period.label)}</title>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>\n"
    )


RENDERERS: dict[str, Callable[[MetricsReport], str]] = {
    "md": render_md,
    "csv": render_csv,
    "json": render_json,
    "html": render_html,
}


def render(report: MetricsReport, fmt: str) -> str:
    """Render in one of :data:`FORMATS`.

    Raises:
        ValueError: for an unknown format.
    """
    try:
        return RENDERERS[fmt](report)
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}") from None
