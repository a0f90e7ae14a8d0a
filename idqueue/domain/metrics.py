"""Support KPIs over plain request rows: pure functions, no I/O, no clock of their own.

Every metric answers a question from the seeds: how many requests came in and what became of
them, how fast the team answered and resolved them (median and p90, in business hours and on
the wall clock), how often the SLA policies were met, how many were resolved within 48 hours
(moving to the backlog counts, the Made Tech rule), how many were *fulfilled through the
process* (the VA KPI), how often resolved requests came back, who carried the load, and the
satisfaction score (CSAT = share of 4s and 5s, the VA formula, goal > 70 %).

Cohorts. A period's request metrics are about the requests **received** in the period
(``created_at`` inside it), with what is known about them at ``now``: a request received on
31 March and closed on 2 April counts in March. Ratings are counted by the date they were
given. The exact definitions are in each function's docstring and in the README.

The store side (:mod:`idqueue.store.metrics_queries`) pulls :class:`RequestRow` and
:class:`Rating` values with only the columns these functions need.
"""

from __future__ import annotations

import bisect
import calendar
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from idqueue.domain.calendar import AlwaysOn, Calendar

Pause = tuple[datetime, datetime | None]

RESOLVED_STATUSES = frozenset({"closed", "resolved"})
"""Statuses that count as resolved (closing)."""
BACKLOG_STATUS = "backlog"
PENDING_STATUS = "pending"
OPEN_STATUSES = frozenset({"new", "acknowledged", "assigned"})
"""Open and not waiting on the requester."""

GROUP_BY = ("team", "type", "source", "priority", "assignee", "customer")
"""Dimensions a period's metrics can be broken down by."""
UNASSIGNED = "(unassigned)"
NO_TEAM = "(no team)"
UNKNOWN = "(unknown)"
NO_CUSTOMER = "(no customer)"

WITHIN_HOURS = 48.0
"""The Made Tech triage rule: every new request resolved (or backlogged) within 48 hours."""

_WALL = AlwaysOn()
"""The default wall clock (one instance, so per-row caches keyed by calendar are shared)."""

_DECLINED_WORDS = ("not planned", "not_planned", "duplicate", "declin", "out of scope", "won't", "wontfix")


# --------------------------------------------------------------------------- periods


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open interval ``[start, end)`` of time with a human label.

    Months and days are taken in the team's timezone, so "March" starts at local midnight on
    1 March; ``start`` and ``end`` are stored in UTC.
    """

    start: datetime
    end: datetime
    label: str

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("period bounds must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(f"empty period: {self.start} .. {self.end}")

    @classmethod
    def month(cls, year: int, month: int, tz: str) -> Period:
        """The calendar month ``year-month`` in timezone ``tz``."""
        zone = ZoneInfo(tz)
        first = date(year, month, 1)
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        return cls(_local_midnight(first, zone), _local_midnight(nxt, zone), first.strftime("%B %Y"))

    @classmethod
    def parse_month(cls, text: str, tz: str) -> Period:
        """Parse ``YYYY-MM``.

        Raises:
            ValueError: when ``text`` is not a valid ``YYYY-MM``.
        """
        try:
            year_s, month_s = text.strip().split("-")
            year, month = int(year_s), int(month_s)
        except ValueError:
            raise ValueError(f"not a month (YYYY-MM): {text!r}") from None
        if not (1 <= month <= 12 and 1970 <= year <= 9999) or len(year_s) != 4:
            raise ValueError(f"not a month (YYYY-MM): {text!r}")
        return cls.month(year, month, tz)

    @classmethod
    def containing(cls, at: datetime, tz: str) -> Period:
        """The calendar month (in ``tz``) that contains the instant ``at``."""
        local = at.astimezone(ZoneInfo(tz))
        return cls.month(local.year, local.month, tz)

    @classmethod
    def dates(cls, first: date, last: date, tz: str) -> Period:
        """Whole local days ``first`` … ``last`` inclusive.

        Raises:
            ValueError: when ``last`` is before ``first``.
        """
        if last < first:
            raise ValueError(f"--to {last} is before --from {first}")
        zone = ZoneInfo(tz)
        return cls(
            _local_midnight(first, zone),
            _local_midnight(last + timedelta(days=1), zone),
            f"{first.isoformat()} – {last.isoformat()}",
        )

    def previous_month(self, tz: str) -> Period:
        """The calendar month before the one in which this period starts."""
        local = self.start.astimezone(ZoneInfo(tz))
        year, month = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
        return Period.month(year, month, tz)

    def previous(self, tz: str) -> Period:
        """The comparison period: the previous month for a month, else the same length before."""
        local_start = self.start.astimezone(ZoneInfo(tz))
        if local_start.day == 1 and self == Period.month(local_start.year, local_start.month, tz):
            return self.previous_month(tz)
        length = self.end - self.start
        start, end = self.start - length, self.start
        zone = ZoneInfo(tz)
        first = start.astimezone(zone).date()
        last = (end - timedelta(microseconds=1)).astimezone(zone).date()
        return Period(start, end, f"{first.isoformat()} – {last.isoformat()}")

    def contains(self, at: datetime | None) -> bool:
        """True when ``at`` lies in ``[start, end)``."""
        return at is not None and self.start <= at < self.end


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)


def day_span_label(first: date, last: date) -> str:
    """``Mar 1–11`` (one month; ``Mar 1`` for a single day)."""
    head = f"{first.strftime('%b')} {first.day}"
    return head if first == last else f"{head}–{last.day}"


def month_to_date(period: Period, now: datetime, tz: str) -> Period | None:
    """The running part of a calendar month: its 1st through today (local, whole days).

    Returns:
        ``Mar 1–11`` on 11 March for March, or None when ``period`` is not a calendar month
        or does not contain ``now`` (a month that is over, or not begun).
    """
    zone = ZoneInfo(tz)
    first = period.start.astimezone(zone).date()
    if first.day != 1 or period != Period.month(first.year, first.month, tz) or not period.contains(now):
        return None
    today = now.astimezone(zone).date()
    return Period(period.start, min(period.end, _local_midnight(today + timedelta(days=1), zone)),
                  day_span_label(first, today))


def same_days_of_previous_month(first: date, last: date, tz: str) -> Period:
    """The same days of the month before: its 1st through day ``last.day``, or through its last
    day when it is shorter (31 March → 1–28 February, 1–29 in a leap year).

    Args:
        first: the 1st of the running month.
        last: the last day of the running part (today).
        tz: the team's timezone.
    """
    year, month = (first.year - 1, 12) if first.month == 1 else (first.year, first.month - 1)
    start = date(year, month, 1)
    end = date(year, month, min(last.day, calendar.monthrange(year, month)[1]))
    zone = ZoneInfo(tz)
    return Period(_local_midnight(start, zone), _local_midnight(end + timedelta(days=1), zone),
                  day_span_label(start, end))


def comparison_period(period: Period, now: datetime, tz: str) -> Period:
    """What ``period`` is compared with: while a month runs, the same days of the month before
    (``Mar 1–11`` vs ``Feb 1–11``); otherwise :meth:`Period.previous`."""
    running = month_to_date(period, now, tz)
    if running is None:
        return period.previous(tz)
    zone = ZoneInfo(tz)
    last = (running.end - timedelta(microseconds=1)).astimezone(zone).date()
    return same_days_of_previous_month(running.start.astimezone(zone).date(), last, tz)


def weeks_ending(at: datetime, count: int, tz: str) -> list[Period]:
    """``count`` consecutive weeks (Monday 00:00 local) ending with the week that contains ``at``.

    Each week is labelled with its Monday (``Mar 09``).
    """
    zone = ZoneInfo(tz)
    local = at.astimezone(zone).date()
    monday = local - timedelta(days=local.weekday())
    weeks: list[Period] = []
    for back in range(count - 1, -1, -1):
        first = monday - timedelta(weeks=back)
        weeks.append(
            Period(_local_midnight(first, zone), _local_midnight(first + timedelta(days=7), zone),
                   first.strftime("%b %d"))
        )
    return weeks


# --------------------------------------------------------------------------- inputs


@dataclass(slots=True)
class RequestRow:
    """The facts about one request that the metrics need (one row of the store).

    Attributes:
        status: the current status value (``new`` … ``backlog``); deleted requests are never rows.
        source: the systems the request lives in, joined by ``+`` in the registry's order of
            preference (``github``, ``slack``, ``github+slack``): a breakdown "by source" has
            a group per combination of homes.
        team: the requesting team from the intake form, if given.
        via_intake: the request came in through an intake form or bot (intake fields were parsed).
        pauses: intervals in which it was waiting on the requester (the SLA clock's pauses).
        reopened: how many times it was reopened after being resolved.
        customer: the customer's key, None when the request has no customer.
    """

    id: str
    key: str
    title: str
    type: str
    status: str
    created_at: datetime
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    status_reason: str = ""
    source: str = ""
    priority: str = "P3"
    assignee: str | None = None
    team: str | None = None
    requester_id: str | None = None
    url: str | None = None
    sla_policy: str | None = None
    first_response_due: datetime | None = None
    resolution_due: datetime | None = None
    via_intake: bool = False
    pauses: tuple[Pause, ...] = ()
    reopened: int = 0
    customer: str | None = None
    memo: dict[tuple[Any, ...], tuple[Any, Any]] = field(default_factory=dict, compare=False, repr=False)
    """Values already computed for this row, keyed by what they depend on (calendar ids, now):
    a month's report asks for each row's times once per breakdown, and business-time
    arithmetic is the costly part. The calendars are kept with the value so their ``id`` cannot
    be reused by other objects meanwhile. Rows are not to be changed once measured."""


@dataclass(frozen=True, slots=True)
class Rating:
    """One satisfaction rating (1–5) from the survey export or a Slack reaction.

    The request attributes are those of the linked request (None when it is not known), so a
    rating given this month for last month's request still falls in this month's breakdowns.
    """

    uid: str
    rating: int
    at: datetime
    source: str = "survey"
    request_id: str | None = None
    comment: str = ""
    type: str | None = None
    team: str | None = None
    request_source: str | None = None
    priority: str | None = None
    assignee: str | None = None
    customer: str | None = None


# --------------------------------------------------------------------------- statistics


def median(values: Sequence[float]) -> float | None:
    """The median (the mean of the two middle values for an even count); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[mid])
    return (ordered[mid - 1] + ordered[mid]) / 2.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least ``q`` % of values ≤ it.

    Used for p90 because it is always an observed value (a real request's time).
    """
    if not values:
        return None
    if not 0 < q <= 100:
        raise ValueError(f"q must be in (0, 100], got {q}")
    ordered = sorted(values)
    rank = math.ceil(q / 100.0 * len(ordered))
    return float(ordered[max(rank, 1) - 1])


@dataclass(frozen=True, slots=True)
class Durations:
    """Summary of a set of durations, in seconds."""

    count: int = 0
    median: float | None = None
    p90: float | None = None

    @classmethod
    def of(cls, values: Sequence[float]) -> Durations:
        """Count, median and nearest-rank p90 of ``values``."""
        return cls(len(values), median(values), percentile(values, 90))


@dataclass(frozen=True, slots=True)
class Share:
    """``hits`` out of ``total``; ``pct`` is None when there is nothing to divide by."""

    hits: int = 0
    total: int = 0

    @property
    def pct(self) -> float | None:
        """Percentage, or None for 0/0."""
        return 100.0 * self.hits / self.total if self.total else None


@dataclass(frozen=True, slots=True)
class SlaAttainment:
    """How one SLA policy fared over a set of requests.

    A request is *met* when both clocks stopped in time, *breached* when either clock ran
    out (stopped late, or still running past its due time), *running* otherwise.
    """

    policy: str
    requests: int
    met: int
    breached: int
    running: int
    first_response: Share
    resolution: Share

    @property
    def overall(self) -> Share:
        """Met out of decided (met + breached) requests."""
        return Share(self.met, self.met + self.breached)


@dataclass(frozen=True, slots=True)
class Csat:
    """Customer satisfaction: the VA formula, share of 4 and 5 ratings."""

    counts: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    """Number of 1, 2, 3, 4 and 5 ratings."""
    goal: float = 70.0
    """Goal in percent; the score must be above it."""

    @property
    def responses(self) -> int:
        """All ratings."""
        return sum(self.counts)

    @property
    def satisfied(self) -> int:
        """Ratings of 4 or 5."""
        return self.counts[3] + self.counts[4]

    @property
    def score(self) -> float | None:
        """CSAT in percent, or None without responses."""
        return 100.0 * self.satisfied / self.responses if self.responses else None

    @property
    def meets_goal(self) -> bool | None:
        """True when the score is above the goal; None without responses."""
        score = self.score
        return None if score is None else score > self.goal

    @property
    def mean(self) -> float | None:
        """Mean rating (1–5), or None without responses."""
        if not self.responses:
            return None
        return sum((i + 1) * n for i, n in enumerate(self.counts)) / self.responses


def csat_of(ratings: Iterable[Rating], goal: float = 70.0) -> Csat:
    """Count ratings by value; values outside 1–5 are ignored."""
    counts = [0, 0, 0, 0, 0]
    for r in ratings:
        if 1 <= r.rating <= 5:
            counts[r.rating - 1] += 1
    return Csat((counts[0], counts[1], counts[2], counts[3], counts[4]), goal)


# --------------------------------------------------------------------------- per request


def _wall_elapsed(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds(), 0.0)


def working_seconds(cal: Calendar, start: datetime, end: datetime, pauses: Iterable[Pause] = ()) -> float:
    """Working seconds of ``cal`` in ``[start, end)`` minus the working time inside ``pauses``.

    An open pause (end None) runs to ``end``. Pauses must not overlap each other (the SLA
    module's :func:`~idqueue.domain.sla.pause_intervals` guarantees it).
    """
    if end <= start:
        return 0.0
    # The wall clock is plain subtraction; skipping the calendar's checks matters when a
    # report measures tens of thousands of intervals.
    elapsed = _wall_elapsed if isinstance(cal, AlwaysOn) else cal.elapsed
    total = elapsed(start, end)
    for lo, hi in pauses:
        lo = max(lo, start)
        hi = end if hi is None else min(hi, end)
        if hi > lo:
            total -= elapsed(lo, hi)
    # Microsecond rounding keeps hand-computed fixtures exact despite float sums.
    return round(max(total, 0.0), 6)


def first_response_seconds(row: RequestRow, cal: Calendar) -> float | None:
    """Time from creation to the team's first response on ``cal``, pauses excluded.

    None when nobody on the team has answered (a request resolved without an answer has no
    first-response time; it is not counted as an instant answer).
    """
    key = ("first_response", id(cal))
    if key not in row.memo:
        row.memo[key] = (cal, (
            None if row.first_response_at is None
            else working_seconds(cal, row.created_at, row.first_response_at, row.pauses)
        ))
    return row.memo[key][1]  # type: ignore[no-any-return]


def is_resolved(row: RequestRow) -> bool:
    """Closed/resolved or moved to the backlog (the 48-hour rule's notion of resolution)."""
    return row.status in RESOLVED_STATUSES or row.status == BACKLOG_STATUS


def resolution_seconds(row: RequestRow, cal: Calendar) -> float | None:
    """Time from creation to resolution (closing or moving to the backlog), pauses excluded.

    None while the request is not resolved.
    """
    key = ("resolution", id(cal))
    if key not in row.memo:
        row.memo[key] = (cal, (
            None if not is_resolved(row) or row.resolved_at is None
            else working_seconds(cal, row.created_at, row.resolved_at, row.pauses)
        ))
    return row.memo[key][1]  # type: ignore[no-any-return]


def resolved_within(row: RequestRow, now: datetime, hours: float = WITHIN_HOURS) -> bool | None:
    """Was it resolved (closed *or* backlogged) within ``hours`` wall-clock hours of creation?

    True/False once decided; None while it is open and younger than ``hours`` (it may still
    make it). The rule is the Made Tech one as written: plain wall-clock hours, no business
    calendar and no pauses. A request that is still open after ``hours`` is a miss.
    """
    limit = row.created_at + timedelta(hours=hours)
    if is_resolved(row) and row.resolved_at is not None:
        return row.resolved_at <= limit
    return False if now > limit else None


def is_declined(status_reason: str) -> bool:
    """A close that is not a fulfilment: not planned, duplicate, declined, out of scope."""
    reason = status_reason.casefold()
    return any(word in reason for word in _DECLINED_WORDS)


def fulfilled_through_process(row: RequestRow) -> bool:
    """The VA KPI "fulfilled via the Request & Support process".

    True when all three hold:

    1. it came in through the intake (the intake bot's post or a body matching a configured
       intake template, i.e. idqueue parsed intake fields from it);
    2. the team answered it in its thread or issue (it has a first response);
    3. it was resolved in that process: closed as completed, or moved to the backlog.
       Closes as not planned, duplicate, declined or out of scope do not count.
    """
    if not row.via_intake or row.first_response_at is None:
        return False
    if row.status == BACKLOG_STATUS:
        return True
    return row.status in RESOLVED_STATUSES and not is_declined(row.status_reason)


def _clock_outcome(stop: datetime | None, due: datetime | None, now: datetime) -> str:
    if due is None:
        return "running"
    if stop is not None:
        return "met" if stop <= due else "breached"
    return "breached" if due <= now else "running"


def sla_outcome(row: RequestRow, now: datetime) -> tuple[str, str, str]:
    """``(overall, first_response, resolution)`` outcomes: ``met``, ``breached``, ``running`` or ``none``.

    A clock is met when it stopped at or before its due time, breached when it stopped later
    or is still running past it, running otherwise. The first-response clock stops at the
    first response or at the resolution, whichever comes first (as in the SLA module). Overall:
    breached if either clock breached, met if both met, else running; ``none`` for every
    clock when no SLA policy applies.
    """
    if row.sla_policy is None:
        return "none", "none", "none"
    resolved = row.resolved_at if is_resolved(row) else None
    fr_stop = row.first_response_at
    if resolved is not None and (fr_stop is None or resolved < fr_stop):
        fr_stop = resolved
    fr = _clock_outcome(fr_stop, row.first_response_due, now)
    res = _clock_outcome(resolved, row.resolution_due, now)
    if "breached" in (fr, res):
        overall = "breached"
    elif fr == "met" and res == "met":
        overall = "met"
    else:
        overall = "running"
    return overall, fr, res


# --------------------------------------------------------------------------- the KPI set


@dataclass(frozen=True, slots=True)
class Kpis:
    """Every KPI for one set of requests (a period, or one group of a breakdown).

    Attributes:
        received: requests received (created) in the period.
        resolved / backlogged / pending / open: what became of them, as of ``now``; the four
            add up to ``received``. ``open`` is new, acknowledged or assigned.
        first_response_business / first_response_wall: time to first response, in business
            hours of the team calendar / wall-clock hours, pauses excluded (seconds).
        resolution_business / resolution_wall: time to resolution (closing or backlog), same.
        sla: met out of decided requests, all policies; ``sla_by_policy`` per policy.
        within_48h: resolved or backlogged within 48 wall-clock hours, out of decided requests.
        not_yet_due: open requests younger than 48 hours (not decided yet: left out of
            ``within_48h``).
        fulfilled: fulfilled through the process, out of ``received``.
        reopened: reopened at least once, out of requests resolved at least once.
        csat: ratings given in the period.
        breached: requests with a breached SLA clock.
    """

    received: int = 0
    resolved: int = 0
    backlogged: int = 0
    pending: int = 0
    open: int = 0
    first_response_business: Durations = field(default_factory=Durations)
    first_response_wall: Durations = field(default_factory=Durations)
    resolution_business: Durations = field(default_factory=Durations)
    resolution_wall: Durations = field(default_factory=Durations)
    sla: Share = field(default_factory=Share)
    sla_by_policy: tuple[SlaAttainment, ...] = ()
    within_48h: Share = field(default_factory=Share)
    not_yet_due: int = 0
    fulfilled: Share = field(default_factory=Share)
    reopened: Share = field(default_factory=Share)
    csat: Csat = field(default_factory=Csat)
    breached: int = 0


@dataclass(frozen=True, slots=True)
class _Facts:
    """Everything :func:`compute_kpis` needs from one row, computed once per row and clock."""

    fr_business: float | None
    fr_wall: float | None
    res_business: float | None
    res_wall: float | None
    within: bool | None
    fulfilled: bool
    ever_resolved: bool
    outcome: tuple[str, str, str]


def _facts(row: RequestRow, now: datetime, business: Calendar, wall: Calendar, within_hours: float) -> _Facts:
    # A report computes the same row's KPIs for the period and for each of five breakdowns.
    key = ("facts", id(business), id(wall), now, within_hours)
    hit = row.memo.get(key)
    if hit is not None:
        return hit[1]  # type: ignore[no-any-return]
    facts = _Facts(
        first_response_seconds(row, business),
        first_response_seconds(row, wall),
        resolution_seconds(row, business),
        resolution_seconds(row, wall),
        resolved_within(row, now, within_hours),
        fulfilled_through_process(row),
        is_resolved(row) or row.reopened > 0,
        sla_outcome(row, now),
    )
    row.memo[key] = ((business, wall), facts)
    return facts


def compute_kpis(
    rows: Iterable[RequestRow],
    ratings: Iterable[Rating] = (),
    *,
    now: datetime,
    business: Calendar,
    wall: Calendar | None = None,
    csat_goal: float = 70.0,
    within_hours: float = WITHIN_HOURS,
) -> Kpis:
    """Compute every KPI for ``rows`` (already restricted to the period's received requests).

    Args:
        rows: the cohort (see :func:`received_in`).
        ratings: the ratings given in the period (see :func:`rated_in`).
        now: the injected clock; decides which open requests already missed a target.
        business: the team's business calendar (``calendar_from_config(cfg, "business")``).
        wall: the wall clock (default :class:`~idqueue.domain.calendar.AlwaysOn`).
        csat_goal: CSAT goal in percent.
        within_hours: the triage rule's hours (48).
    """
    wall = wall or _WALL
    received = resolved = backlogged = pending = open_ = 0
    fr_b: list[float] = []
    fr_w: list[float] = []
    res_b: list[float] = []
    res_w: list[float] = []
    w48 = w48_total = not_due = fulfilled = reopened = ever_resolved = breached = 0
    policies: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for row in rows:
        received += 1
        status = row.status
        if status in RESOLVED_STATUSES:
            resolved += 1
        elif status == BACKLOG_STATUS:
            backlogged += 1
        elif status == PENDING_STATUS:
            pending += 1
        else:
            open_ += 1
        f = _facts(row, now, business, wall, within_hours)
        if f.fr_business is not None:
            fr_b.append(f.fr_business)
        if f.fr_wall is not None:
            fr_w.append(f.fr_wall)
        if f.res_business is not None:
            res_b.append(f.res_business)
        if f.res_wall is not None:
            res_w.append(f.res_wall)
        if f.within is not None:
            w48_total += 1
            w48 += f.within
        else:
            not_due += 1
        fulfilled += f.fulfilled
        if f.ever_resolved:
            ever_resolved += 1
            reopened += row.reopened > 0
        if row.sla_policy is not None:
            policies[row.sla_policy].append(f.outcome)
        breached += f.outcome[0] == "breached"

    by_policy = tuple(_attainment(name, outcomes) for name, outcomes in sorted(policies.items()))
    met = sum(p.met for p in by_policy)
    missed = sum(p.breached for p in by_policy)
    return Kpis(
        received=received,
        resolved=resolved,
        backlogged=backlogged,
        pending=pending,
        open=open_,
        first_response_business=Durations.of(fr_b),
        first_response_wall=Durations.of(fr_w),
        resolution_business=Durations.of(res_b),
        resolution_wall=Durations.of(res_w),
        sla=Share(met, met + missed),
        sla_by_policy=by_policy,
        within_48h=Share(w48, w48_total),
        not_yet_due=not_due,
        fulfilled=Share(fulfilled, received),
        reopened=Share(reopened, ever_resolved),
        csat=csat_of(ratings, csat_goal),
        breached=breached,
    )


def _attainment(policy: str, outcomes: list[tuple[str, str, str]]) -> SlaAttainment:
    def share(index: int) -> Share:
        decided = [o[index] for o in outcomes if o[index] in ("met", "breached")]
        return Share(sum(o == "met" for o in decided), len(decided))

    return SlaAttainment(
        policy=policy,
        requests=len(outcomes),
        met=sum(o[0] == "met" for o in outcomes),
        breached=sum(o[0] == "breached" for o in outcomes),
        running=sum(o[0] == "running" for o in outcomes),
        first_response=share(1),
        resolution=share(2),
    )


# --------------------------------------------------------------------------- selections


def received_in(rows: Iterable[RequestRow], period: Period) -> list[RequestRow]:
    """The period's cohort: rows created in ``[period.start, period.end)``."""
    return [r for r in rows if period.start <= r.created_at < period.end]


def rated_in(ratings: Iterable[Rating], period: Period) -> list[Rating]:
    """Ratings given in the period."""
    return [r for r in ratings if period.start <= r.at < period.end]


def group_key(obj: RequestRow | Rating, by: str) -> str:
    """The group of a row or rating for a breakdown dimension (see :data:`GROUP_BY`)."""
    if by == "type":
        return obj.type or UNKNOWN
    if by == "team":
        return (obj.team or "").strip() or NO_TEAM
    if by == "source":
        value = obj.source if isinstance(obj, RequestRow) else obj.request_source
        return value or UNKNOWN
    if by == "priority":
        return obj.priority or UNKNOWN
    if by == "assignee":
        return obj.assignee or UNASSIGNED
    if by == "customer":
        return obj.customer or NO_CUSTOMER
    raise ValueError(f"cannot group by {by!r}; choose one of {', '.join(GROUP_BY)}")


def breakdown(
    rows: Iterable[RequestRow],
    ratings: Iterable[Rating],
    by: str,
    *,
    now: datetime,
    business: Calendar,
    wall: Calendar | None = None,
    csat_goal: float = 70.0,
    within_hours: float = WITHIN_HOURS,
) -> dict[str, Kpis]:
    """KPIs per group of ``by``, largest groups first (ties by name).

    Ratings whose request is unknown appear only in the overall numbers, never in a group.
    The keyword arguments are those of :func:`compute_kpis`.
    """
    groups: dict[str, list[RequestRow]] = defaultdict(list)
    rated: dict[str, list[Rating]] = defaultdict(list)
    for row in rows:
        groups[group_key(row, by)].append(row)
    for rating in ratings:
        if rating.request_id is not None:
            rated[group_key(rating, by)].append(rating)
    names = sorted(set(groups) | set(rated), key=lambda g: (-len(groups.get(g, ())), g.casefold()))
    return {
        name: compute_kpis(
            groups.get(name, []), rated.get(name, []), now=now, business=business, wall=wall,
            csat_goal=csat_goal, within_hours=within_hours,
        )
        for name in names
    }


@dataclass(frozen=True, slots=True)
class MemberLoad:
    """Workload of one team member (or ``(unassigned)``) over a period's requests."""

    member: str
    assigned: int
    open: int
    pending: int
    resolved: int
    backlogged: int
    breached: int
    median_resolution: float | None
    """Median wall-clock seconds to resolution of their resolved requests."""


def workload(rows: Iterable[RequestRow], *, now: datetime, wall: Calendar | None = None) -> list[MemberLoad]:
    """Requests per current assignee: how many, what became of them, how fast; busiest first."""
    wall = wall or _WALL
    by_member: dict[str, list[RequestRow]] = defaultdict(list)
    for row in rows:
        by_member[row.assignee or UNASSIGNED].append(row)
    loads = []
    for member, mine in by_member.items():
        times = [t for r in mine if (t := resolution_seconds(r, wall)) is not None]
        loads.append(
            MemberLoad(
                member=member,
                assigned=len(mine),
                open=sum(r.status in OPEN_STATUSES for r in mine),
                pending=sum(r.status == PENDING_STATUS for r in mine),
                resolved=sum(r.status in RESOLVED_STATUSES for r in mine),
                backlogged=sum(r.status == BACKLOG_STATUS for r in mine),
                breached=sum(sla_outcome(r, now)[0] == "breached" for r in mine),
                median_resolution=median(times),
            )
        )
    # Unassigned last: it is not a person's load.
    loads.sort(key=lambda m: (m.member == UNASSIGNED, -m.assigned, m.member.casefold()))
    return loads


@dataclass(frozen=True, slots=True)
class WeekPoint:
    """One week of the trend charts (requests received that week)."""

    week: Period
    received: int
    resolved: int
    """Of those, resolved or backlogged by now."""
    first_response_median: float | None
    """Median business seconds to first response."""
    resolution_median: float | None
    """Median wall-clock seconds to resolution."""


def weekly_series(
    rows: Iterable[RequestRow], weeks: Sequence[Period], *, business: Calendar, wall: Calendar | None = None
) -> list[WeekPoint]:
    """Volume and response-time medians per week, by week of creation."""
    wall = wall or _WALL
    buckets: list[list[RequestRow]] = [[] for _ in weeks]
    starts = [w.start for w in weeks]
    for row in rows:
        i = bisect.bisect_right(starts, row.created_at) - 1
        if i >= 0 and row.created_at < weeks[i].end:
            buckets[i].append(row)
    points = []
    for week, mine in zip(weeks, buckets, strict=True):
        fr = [t for r in mine if (t := first_response_seconds(r, business)) is not None]
        res = [t for r in mine if (t := resolution_seconds(r, wall)) is not None]
        points.append(WeekPoint(week, len(mine), sum(is_resolved(r) for r in mine), median(fr), median(res)))
    return points


def breached_requests(rows: Iterable[RequestRow], now: datetime) -> list[tuple[RequestRow, str]]:
    """Requests whose SLA was breached, with which clock (``first response``, ``resolution``, ``both``).

    Open ones first (they can still be acted on), then oldest first.
    """
    out: list[tuple[RequestRow, str]] = []
    for row in rows:
        overall, fr, res = sla_outcome(row, now)
        if overall != "breached":
            continue
        which = "both" if fr == res == "breached" else ("first response" if fr == "breached" else "resolution")
        out.append((row, which))
    out.sort(key=lambda pair: (is_resolved(pair[0]), pair[0].created_at, pair[0].key))
    return out
