"""Metric functions on hand-computed fixtures (business time, pauses, backlog, empty months).

The team calendar is the default: America/New_York, 9:00–17:00, Monday–Friday. In February
2026 New York is UTC−5, so the business day is 14:00Z–22:00Z; Feb 2 2026 is a Monday.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from idqueue.config import CalendarConfig
from idqueue.domain.calendar import AlwaysOn, calendar_from_config
from idqueue.domain.metrics import (
    UNASSIGNED,
    Csat,
    Durations,
    Period,
    Rating,
    RequestRow,
    Share,
    breached_requests,
    breakdown,
    compute_kpis,
    csat_of,
    first_response_seconds,
    fulfilled_through_process,
    group_key,
    median,
    percentile,
    rated_in,
    received_in,
    resolution_seconds,
    resolved_within,
    sla_outcome,
    weekly_series,
    weeks_ending,
    working_seconds,
    workload,
)

TZ = "America/New_York"
BUSINESS = calendar_from_config(CalendarConfig(), "business")
WALL = AlwaysOn()
H = 3600.0
NOW = datetime(2026, 2, 27, 20, 0, tzinfo=UTC)  # Friday 15:00 local
FEB = Period.month(2026, 2, TZ)


def z(text: str) -> datetime:
    """``"02-02 15:00"`` → 2026-02-02T15:00Z."""
    return datetime.strptime(f"2026-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def fixture_rows() -> list[RequestRow]:
    """Six February requests (A–F) and one from January (G); expected values in the tests."""
    return [
        # A: answered after 1.5 h, closed the next morning (24 h wall, 8 business h); met.
        RequestRow(id="gh:o/r#1", key="REQ-1", title="A", type="Bug Fix", status="closed",
                   status_reason="closed: completed", created_at=z("02-02 15:00"),
                   first_response_at=z("02-02 16:30"), resolved_at=z("02-03 15:00"), assignee="ana",
                   team="Appeals", source="both", priority="P2", via_intake=True, sla_policy="Standard",
                   first_response_due=z("02-03 15:00"), resolution_due=z("02-04 15:00")),
        # B: Friday 16:00 local, answered Monday 10:00 (2 business h, 66 wall h), backlogged
        # Monday 15:00 local (7 business h, 71 wall h); both Engineering clocks breached.
        RequestRow(id="gh:o/r#2", key="REQ-2", title="B", type="Bug Fix", status="backlog",
                   status_reason="moved to the backlog", created_at=z("02-06 21:00"),
                   first_response_at=z("02-09 15:00"), resolved_at=z("02-09 20:00"), assignee="ben",
                   team="Appeals", source="github", priority="P2", via_intake=True, sla_policy="Engineering",
                   first_response_due=z("02-06 22:00"), resolution_due=z("02-08 21:00")),
        # C: answered after 30 min, pending for 24 h (8 business h), closed: 5 h either way
        # once the pause is taken out; reopened once before; not from the intake form.
        RequestRow(id="slack:C1/1.0", key="REQ-3", title="C", type="Data Pull", status="closed",
                   status_reason="closed", created_at=z("02-10 14:00"), first_response_at=z("02-10 14:30"),
                   resolved_at=z("02-11 19:00"), assignee="ana", source="slack", priority="P3",
                   via_intake=False, sla_policy="Standard", first_response_due=z("02-10 22:00"),
                   resolution_due=z("02-13 14:00"), pauses=((z("02-10 15:00"), z("02-11 15:00")),), reopened=1),
        # D: closed as not planned after 3 h without an answer.
        RequestRow(id="gh:o/r#4", key="REQ-4", title="D", type="Other", status="closed",
                   status_reason="closed: not planned", created_at=z("02-16 15:00"),
                   resolved_at=z("02-16 18:00"), source="github", priority="P4", via_intake=True,
                   sla_policy="Standard", first_response_due=z("02-17 15:00"), resolution_due=z("02-18 15:00")),
        # E: answered in 20 min, still open after 4 days: resolution breached, 48 h missed.
        RequestRow(id="gh:o/r#5", key="REQ-5", title="E", type="Data Pull", status="assigned",
                   created_at=z("02-23 15:00"), first_response_at=z("02-23 15:20"), assignee="ben",
                   source="github", priority="P3", via_intake=True, sla_policy="Standard",
                   first_response_due=z("02-24 15:00"), resolution_due=z("02-25 15:00")),
        # F: today, answered in 10 min, pending since 14:30Z (open pause); no SLA policy.
        RequestRow(id="gh:o/r#6", key="REQ-6", title="F", type="Help Request", status="pending",
                   created_at=z("02-27 14:00"), first_response_at=z("02-27 14:10"), assignee="chloe",
                   source="github", priority="P3", via_intake=True, pauses=((z("02-27 14:30"), None),)),
        # G: January, outside the period.
        RequestRow(id="gh:o/r#7", key="REQ-7", title="G", type="Bug Fix", status="closed",
                   created_at=z("01-30 15:00"), resolved_at=z("01-30 16:00"), via_intake=True),
    ]


def fixture_ratings() -> list[Rating]:
    return [
        Rating("survey:1", 5, z("02-04 05:00"), request_id="gh:o/r#1", type="Bug Fix", assignee="ana"),
        Rating("survey:2", 4, z("02-12 05:00"), request_id="slack:C1/1.0", type="Data Pull", assignee="ana"),
        Rating("survey:3", 3, z("02-13 05:00")),  # not linked to a request
        Rating("slack:x:U1", 5, z("02-20 12:00"), source="slack", request_id="gh:o/r#2", type="Bug Fix",
               assignee="ben"),
        Rating("survey:5", 1, z("01-31 12:00"), request_id="gh:o/r#7", type="Bug Fix"),  # January
    ]


def feb_kpis():  # type: ignore[no-untyped-def]
    rows = received_in(fixture_rows(), FEB)
    return compute_kpis(rows, rated_in(fixture_ratings(), FEB), now=NOW, business=BUSINESS, wall=WALL)


# --------------------------------------------------------------------------- periods


def test_month_boundaries_are_local_midnights_across_dst() -> None:
    march = Period.month(2026, 3, TZ)
    assert march.start == datetime(2026, 3, 1, 5, 0, tzinfo=UTC)  # EST
    assert march.end == datetime(2026, 4, 1, 4, 0, tzinfo=UTC)  # EDT
    assert march.label == "March 2026"
    december = Period.month(2025, 12, TZ)
    assert december.end == datetime(2026, 1, 1, 5, 0, tzinfo=UTC)
    assert FEB.contains(datetime(2026, 3, 1, 4, 59, tzinfo=UTC))
    assert not FEB.contains(datetime(2026, 3, 1, 5, 0, tzinfo=UTC))


def test_parse_month_and_containing() -> None:
    assert Period.parse_month("2026-02", TZ) == FEB
    for bad in ("2026-13", "26-02", "2026/02", "February", ""):
        with pytest.raises(ValueError):
            Period.parse_month(bad, TZ)
    # 03:00Z on 1 March is still 28 February in New York.
    assert Period.containing(datetime(2026, 3, 1, 3, 0, tzinfo=UTC), TZ) == FEB


def test_date_ranges_and_previous_periods() -> None:
    fortnight = Period.dates(date(2026, 2, 1), date(2026, 2, 14), TZ)
    assert fortnight.start == FEB.start
    assert fortnight.end == datetime(2026, 2, 15, 5, 0, tzinfo=UTC)
    assert fortnight.label == "2026-02-01 – 2026-02-14"
    before = fortnight.previous(TZ)
    assert before.end == fortnight.start and before.end - before.start == timedelta(days=14)
    assert before.label == "2026-01-18 – 2026-01-31"
    assert FEB.previous(TZ) == Period.month(2026, 1, TZ)
    assert Period.month(2026, 1, TZ).previous(TZ) == Period.month(2025, 12, TZ)
    with pytest.raises(ValueError):
        Period.dates(date(2026, 2, 2), date(2026, 2, 1), TZ)


def test_weeks_start_on_local_mondays() -> None:
    weeks = weeks_ending(NOW, 4, TZ)
    assert [w.label for w in weeks] == ["Feb 02", "Feb 09", "Feb 16", "Feb 23"]
    assert weeks[0].start == datetime(2026, 2, 2, 5, 0, tzinfo=UTC)
    assert all(a.end == b.start for a, b in itertools.pairwise(weeks))


# --------------------------------------------------------------------------- statistics


def test_median_and_nearest_rank_p90() -> None:
    assert median([]) is None and percentile([], 90) is None
    assert median([3.0]) == 3.0
    assert median([4.0, 1.0, 3.0]) == 3.0
    assert median([1.0, 2.0, 3.0, 10.0]) == 2.5
    values = [float(v) for v in range(1, 11)]  # 1..10
    assert percentile(values, 90) == 9.0  # ceil(0.9 * 10) = 9th value
    assert percentile(values[:5], 90) == 5.0  # ceil(4.5) = 5th
    assert percentile([7.0], 90) == 7.0
    with pytest.raises(ValueError):
        percentile(values, 0)


def test_csat_is_share_of_four_and_five_with_goal_strictly_above() -> None:
    ratings = [Rating(f"r{i}", v, NOW) for i, v in enumerate([5, 4, 3, 5, 4, 2, 5, 1, 4, 5])]
    csat = csat_of(ratings)
    assert csat.counts == (1, 1, 1, 3, 4)
    assert csat.responses == 10 and csat.satisfied == 7
    assert csat.score == 70.0
    assert csat.meets_goal is False  # the VA goal is "> 70 %"
    assert csat.mean == pytest.approx(3.8)
    assert Csat().score is None and Csat().meets_goal is None
    assert csat_of([Rating("x", 9, NOW)]).responses == 0


# --------------------------------------------------------------------------- per request


def test_business_and_wall_time_over_a_weekend_and_a_pause() -> None:
    friday_4pm, monday_10am = z("02-06 21:00"), z("02-09 15:00")
    assert working_seconds(BUSINESS, friday_4pm, monday_10am) == 2 * H
    assert working_seconds(WALL, friday_4pm, monday_10am) == 66 * H
    # A pause from Friday 16:30 local to Monday 9:30 local leaves 30 + 30 minutes of business time.
    pause = ((z("02-06 21:30"), z("02-09 14:30")),)
    assert working_seconds(BUSINESS, friday_4pm, monday_10am, pause) == 1 * H
    assert working_seconds(WALL, friday_4pm, monday_10am, pause) == 1 * H
    # An open pause runs to the end of the interval.
    assert working_seconds(WALL, friday_4pm, monday_10am, ((z("02-09 14:00"), None),)) == 65 * H
    assert working_seconds(WALL, monday_10am, friday_4pm) == 0.0


def test_business_time_across_the_dst_change() -> None:
    # Friday 6 March 16:00 EST → Monday 9 March 10:00 EDT: 2 business hours, 65 real hours.
    start, end = datetime(2026, 3, 6, 21, 0, tzinfo=UTC), datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
    assert working_seconds(BUSINESS, start, end) == 2 * H
    assert working_seconds(WALL, start, end) == 65 * H


def test_first_response_and_resolution_times_exclude_pauses() -> None:
    a, b, c, d, e, f, _ = fixture_rows()
    assert first_response_seconds(a, BUSINESS) == 1.5 * H
    assert resolution_seconds(a, BUSINESS) == 8 * H and resolution_seconds(a, WALL) == 24 * H
    assert first_response_seconds(b, BUSINESS) == 2 * H and first_response_seconds(b, WALL) == 66 * H
    # Backlog is a resolution.
    assert resolution_seconds(b, BUSINESS) == 7 * H and resolution_seconds(b, WALL) == 71 * H
    assert resolution_seconds(c, BUSINESS) == 5 * H and resolution_seconds(c, WALL) == 5 * H
    assert first_response_seconds(d, BUSINESS) is None
    assert resolution_seconds(e, WALL) is None and resolution_seconds(f, WALL) is None


def test_resolved_within_48_hours_counts_backlog_and_waits_for_young_requests() -> None:
    base = RequestRow(id="x", key="K", title="t", type="Other", status="backlog", created_at=z("02-02 15:00"))
    base.resolved_at = base.created_at + timedelta(hours=48)
    assert resolved_within(base, NOW) is True  # exactly on the line
    base.resolved_at += timedelta(seconds=1)
    assert resolved_within(base, NOW) is False
    young = RequestRow(id="y", key="K", title="t", type="Other", status="new", created_at=NOW - timedelta(hours=47))
    assert resolved_within(young, NOW) is None
    assert resolved_within(young, NOW + timedelta(hours=2)) is False
    rows = fixture_rows()
    assert [resolved_within(r, NOW) for r in rows[:6]] == [True, False, True, True, False, None]


def test_fulfilled_through_the_process() -> None:
    assert [fulfilled_through_process(r) for r in fixture_rows()[:6]] == [True, True, False, False, False, False]
    dup = RequestRow(id="x", key="K", title="t", type="Other", status="closed", status_reason="closed: duplicate",
                     created_at=NOW, first_response_at=NOW, via_intake=True)
    assert not fulfilled_through_process(dup)


def test_sla_outcomes() -> None:
    a, b, c, d, e, f, _ = fixture_rows()
    assert sla_outcome(a, NOW) == ("met", "met", "met")
    assert sla_outcome(b, NOW) == ("breached", "breached", "breached")
    assert sla_outcome(c, NOW) == ("met", "met", "met")
    # D: resolved without an answer; the first-response clock stopped at the close.
    assert sla_outcome(d, NOW) == ("met", "met", "met")
    assert sla_outcome(e, NOW) == ("breached", "met", "breached")
    assert sla_outcome(f, NOW) == ("none", "none", "none")
    # Still running before the due time; an answer exactly at the due time is met.
    assert sla_outcome(e, z("02-24 12:00"))[2] == "running"
    on_time = RequestRow(id="x", key="K", title="t", type="Other", status="new", created_at=z("02-02 15:00"),
                         first_response_at=z("02-02 16:00"), sla_policy="P", first_response_due=z("02-02 16:00"))
    assert sla_outcome(on_time, NOW) == ("running", "met", "running")


# --------------------------------------------------------------------------- the KPI set


def test_february_kpis_match_the_hand_computed_values() -> None:
    k = feb_kpis()
    assert (k.received, k.resolved, k.backlogged, k.pending, k.open) == (6, 3, 1, 1, 1)
    # First response: 10 min, 20 min, 30 min, 1.5 h, 2 h business; B was 66 h on the wall clock.
    assert k.first_response_business == Durations(5, 0.5 * H, 2 * H)
    assert k.first_response_wall == Durations(5, 0.5 * H, 66 * H)
    # Resolution (A, B backlogged, C paused, D): 3, 5, 7, 8 business h; 3, 5, 24, 71 wall h.
    assert k.resolution_business == Durations(4, 6 * H, 8 * H)
    assert k.resolution_wall == Durations(4, 14.5 * H, 71 * H)
    assert k.sla == Share(3, 5)
    standard, engineering = sorted(k.sla_by_policy, key=lambda p: p.policy != "Standard")
    assert (standard.requests, standard.met, standard.breached, standard.running) == (4, 3, 1, 0)
    assert standard.first_response == Share(4, 4) and standard.resolution == Share(3, 4)
    assert (engineering.requests, engineering.met, engineering.breached) == (1, 0, 1)
    assert k.within_48h == Share(3, 5) and k.within_48h.pct == 60.0
    assert k.fulfilled == Share(2, 6)
    assert k.reopened == Share(1, 4) and k.reopened.pct == 25.0
    assert k.csat.counts == (0, 0, 1, 1, 2)
    assert k.csat.score == 75.0 and k.csat.meets_goal is True
    assert k.breached == 2


def test_an_empty_month_has_zeros_and_no_values_not_errors() -> None:
    k = compute_kpis([], [], now=NOW, business=BUSINESS)
    assert (k.received, k.resolved, k.backlogged, k.pending, k.open, k.breached) == (0, 0, 0, 0, 0, 0)
    assert k.first_response_business == Durations(0, None, None)
    assert k.sla.pct is None and k.within_48h.pct is None and k.fulfilled.pct is None and k.reopened.pct is None
    assert k.csat.score is None and k.csat.meets_goal is None and k.sla_by_policy == ()
    march = Period.month(2026, 3, TZ)
    assert received_in(fixture_rows(), march) == []
    assert weekly_series([], weeks_ending(NOW, 2, TZ), business=BUSINESS)[0].received == 0


def test_breakdown_by_type_carries_linked_ratings_only() -> None:
    rows = received_in(fixture_rows(), FEB)
    groups = breakdown(rows, rated_in(fixture_ratings(), FEB), "type", now=NOW, business=BUSINESS)
    assert list(groups) == ["Bug Fix", "Data Pull", "Help Request", "Other"]
    assert groups["Bug Fix"].received == 2 and groups["Bug Fix"].csat.counts == (0, 0, 0, 0, 2)
    assert groups["Data Pull"].csat.counts == (0, 0, 0, 1, 0)
    # The unlinked 3 is in the overall CSAT but in no group.
    assert sum(g.csat.responses for g in groups.values()) == 3
    by_assignee = breakdown(rows, [], "assignee", now=NOW, business=BUSINESS)
    assert by_assignee[UNASSIGNED].received == 1
    assert group_key(rows[2], "team") == "(no team)" and group_key(rows[0], "source") == "both"
    with pytest.raises(ValueError):
        group_key(rows[0], "colour")


def test_workload_per_member() -> None:
    loads = workload(received_in(fixture_rows(), FEB), now=NOW)
    assert [m.member for m in loads] == ["ana", "ben", "chloe", UNASSIGNED]
    ana, ben, chloe, nobody = loads
    assert (ana.assigned, ana.resolved, ana.open, ana.median_resolution) == (2, 2, 0, 14.5 * H)
    assert (ben.assigned, ben.backlogged, ben.open, ben.breached) == (2, 1, 1, 2)
    assert (chloe.pending, chloe.median_resolution) == (1, None)
    assert nobody.resolved == 1


def test_weekly_series_by_week_of_creation() -> None:
    points = weekly_series(fixture_rows(), weeks_ending(NOW, 4, TZ), business=BUSINESS)
    assert [(p.received, p.resolved) for p in points] == [(2, 2), (1, 1), (1, 1), (2, 0)]
    assert points[0].first_response_median == 1.75 * H  # 1.5 h and 2 h
    assert points[0].resolution_median == 47.5 * H  # 24 h and 71 h
    assert points[3].first_response_median == 0.25 * H and points[3].resolution_median is None


def test_breached_requests_open_first_with_the_clock() -> None:
    out = breached_requests(received_in(fixture_rows(), FEB), NOW)
    assert [(r.key, clock) for r, clock in out] == [("REQ-5", "resolution"), ("REQ-2", "both")]


def _local(day: date, hour: int = 15) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(TZ))


@pytest.mark.parametrize(("today", "current", "previous", "prev_first", "prev_last"), [
    (date(2026, 3, 11), "Mar 1–11", "Feb 1–11", date(2026, 2, 1), date(2026, 2, 11)),
    (date(2026, 3, 31), "Mar 1–31", "Feb 1–28", date(2026, 2, 1), date(2026, 2, 28)),  # 31st → short month
    (date(2028, 3, 31), "Mar 1–31", "Feb 1–29", date(2028, 2, 1), date(2028, 2, 29)),  # leap year
    (date(2028, 3, 29), "Mar 1–29", "Feb 1–29", date(2028, 2, 1), date(2028, 2, 29)),
    (date(2026, 3, 29), "Mar 1–29", "Feb 1–28", date(2026, 2, 1), date(2026, 2, 28)),
    (date(2026, 5, 31), "May 1–31", "Apr 1–30", date(2026, 4, 1), date(2026, 4, 30)),
    (date(2026, 1, 15), "Jan 1–15", "Dec 1–15", date(2025, 12, 1), date(2025, 12, 15)),  # across the year
    (date(2026, 4, 1), "Apr 1", "Mar 1", date(2026, 3, 1), date(2026, 3, 1)),
])
def test_month_to_date_is_compared_with_the_same_days_of_the_month_before(
    today: date, current: str, previous: str, prev_first: date, prev_last: date,
) -> None:
    from idqueue.domain.metrics import comparison_period, month_to_date

    month = Period.month(today.year, today.month, TZ)
    now = _local(today)
    running = month_to_date(month, now, TZ)
    assert running is not None and running.label == current
    assert running.start == month.start
    assert running.end == Period.dates(today, today, TZ).end  # through today, whole days
    before = comparison_period(month, now, TZ)
    expected = Period.dates(prev_first, prev_last, TZ)
    assert (before.start, before.end, before.label) == (expected.start, expected.end, previous)


def test_a_month_that_is_over_or_not_a_month_is_compared_as_before() -> None:
    from idqueue.domain.metrics import comparison_period, month_to_date

    now = _local(date(2026, 3, 11))
    assert month_to_date(FEB, now, TZ) is None
    assert comparison_period(FEB, now, TZ) == Period.month(2026, 1, TZ)
    fortnight = Period.dates(date(2026, 3, 1), date(2026, 3, 14), TZ)  # contains now, but not a month
    assert month_to_date(fortnight, now, TZ) is None
    assert comparison_period(fortnight, now, TZ) == fortnight.previous(TZ)
    assert month_to_date(Period.month(2026, 4, TZ), now, TZ) is None  # not begun
