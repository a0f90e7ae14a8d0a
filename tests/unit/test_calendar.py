"""Business-hour arithmetic: nights, weekends, holidays, DST changes, long spans."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idqueue.config import CalendarConfig
from idqueue.domain.calendar import AlwaysOn, BusinessCalendar, calendar_from_config

NY = ZoneInfo("America/New_York")
H = 3600.0
# Friday 2026-07-03 is the observed Independence Day; Friday 2026-12-25 is Christmas.
HOLIDAYS = (date(2026, 7, 3), date(2026, 12, 25))
PROPS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow])


def ny(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """A New York wall-clock time (2026-03-08 and 2026-11-01 are the DST changes)."""
    return datetime(y, m, d, hh, mm, tzinfo=NY)


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


@pytest.fixture
def cal() -> BusinessCalendar:
    return BusinessCalendar("America/New_York", time(9), time(17), range(5), HOLIDAYS)


# ---------------------------------------------------------------------------------------
# elapsed()

ELAPSED_CASES = [
    # (why, start, end, business hours)
    ("inside one day", ny(2026, 3, 2, 10), ny(2026, 3, 2, 12, 30), 2.5),
    ("before opening to after closing", ny(2026, 3, 2, 7), ny(2026, 3, 2, 19), 8),
    ("across a night", ny(2026, 3, 2, 16), ny(2026, 3, 3, 10), 2),
    ("only night", ny(2026, 3, 2, 17), ny(2026, 3, 3, 9), 0),
    ("across a weekend", ny(2026, 2, 27, 16), ny(2026, 3, 2, 10), 2),
    ("inside a weekend", ny(2026, 2, 28, 10), ny(2026, 3, 1, 16), 0),
    ("across a holiday and weekend", ny(2026, 7, 2, 16), ny(2026, 7, 6, 10), 2),
    ("on the holiday", ny(2026, 12, 25, 9), ny(2026, 12, 25, 17), 0),
    ("across spring-forward weekend", ny(2026, 3, 6, 16), ny(2026, 3, 9, 10), 2),
    ("across fall-back weekend", ny(2026, 10, 30, 16), ny(2026, 11, 2, 10), 2),
    ("whole plain week", ny(2026, 2, 2), ny(2026, 2, 9), 40),
    ("whole week with spring forward", ny(2026, 3, 2), ny(2026, 3, 9), 40),
    ("whole week with fall back", ny(2026, 10, 26), ny(2026, 11, 2), 40),
    ("week with the July holiday", ny(2026, 6, 29), ny(2026, 7, 6), 32),
    ("four weeks", ny(2026, 2, 2, 12), ny(2026, 3, 2, 12), 160),
    ("end before start", ny(2026, 3, 3, 12), ny(2026, 3, 2, 12), 0),
    ("empty interval", ny(2026, 3, 3, 12), ny(2026, 3, 3, 12), 0),
]


@pytest.mark.parametrize(("why", "start", "end", "hours"), ELAPSED_CASES, ids=[c[0] for c in ELAPSED_CASES])
def test_elapsed(cal: BusinessCalendar, why: str, start: datetime, end: datetime, hours: float) -> None:
    assert cal.elapsed(start, end) == hours * H


def test_elapsed_uses_local_hours_not_utc_hours(cal: BusinessCalendar) -> None:
    # 9:00 New York is 14:00 UTC in winter and 13:00 UTC in summer: Monday 2026-03-09
    # (first day of EDT) opens at 13:00 UTC, so 13:00–14:00 UTC is a business hour.
    assert cal.elapsed(utc(2026, 3, 9, 13), utc(2026, 3, 9, 14)) == H
    assert cal.elapsed(utc(2026, 3, 2, 13), utc(2026, 3, 2, 14)) == 0


# ---------------------------------------------------------------------------------------
# add()

ADD_CASES = [
    # (why, start, business hours, due)
    ("inside one day", ny(2026, 3, 2, 10), 1, ny(2026, 3, 2, 11)),
    ("over the night", ny(2026, 3, 2, 16, 30), 1, ny(2026, 3, 3, 9, 30)),
    ("ends exactly at closing", ny(2026, 3, 6, 16), 1, ny(2026, 3, 6, 17)),
    ("over a weekend", ny(2026, 2, 27, 16, 30), 1, ny(2026, 3, 2, 9, 30)),
    ("starting on a Saturday", ny(2026, 2, 28, 12), 1, ny(2026, 3, 2, 10)),
    ("starting before opening", ny(2026, 3, 2, 7), 8, ny(2026, 3, 2, 17)),
    ("one business day from mid-morning", ny(2026, 3, 2, 10), 8, ny(2026, 3, 3, 10)),
    ("over a holiday", ny(2026, 7, 2, 16, 30), 1, ny(2026, 7, 6, 9, 30)),
    ("over Christmas", ny(2026, 12, 24, 16, 30), 1, ny(2026, 12, 28, 9, 30)),
    ("over spring forward", ny(2026, 3, 6, 15), 8, ny(2026, 3, 9, 15)),
    ("over fall back", ny(2026, 10, 30, 16, 30), 1, ny(2026, 11, 2, 9, 30)),
    ("two weeks", ny(2026, 2, 2, 9), 80, ny(2026, 2, 13, 17)),
    ("zero on a Sunday", ny(2026, 3, 1, 12), 0, ny(2026, 3, 1, 12)),
]


@pytest.mark.parametrize(("why", "start", "hours", "due"), ADD_CASES, ids=[c[0] for c in ADD_CASES])
def test_add(cal: BusinessCalendar, why: str, start: datetime, hours: float, due: datetime) -> None:
    result = cal.add(start, hours * H)
    assert result == due
    assert result.tzinfo is UTC


def test_add_over_spring_forward_lands_on_local_time_not_utc(cal: BusinessCalendar) -> None:
    # Mon 2026-03-09 15:00 EDT is 19:00 UTC; a calendar fixed to UTC offsets would say 20:00.
    assert cal.add(ny(2026, 3, 6, 15), 8 * H) == utc(2026, 3, 9, 19)


def test_business_day_is_eight_hours_on_dst_days() -> None:
    every_day = BusinessCalendar("America/New_York", time(9), time(17), range(7))
    for day in (date(2026, 3, 8), date(2026, 11, 1)):
        start = datetime.combine(day, time(0), tzinfo=NY)
        assert every_day.elapsed(start, start + timedelta(days=1)) == 8 * H


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 8), 3), (date(2026, 11, 1), 5), (date(2026, 3, 1), 4)],
    ids=["spring-forward loses an hour", "fall-back gains an hour", "plain Sunday"],
)
def test_window_spanning_the_dst_change_counts_real_time(day: date, hours: float) -> None:
    # 01:00–05:00 local contains the 02:00 change: real elapsed time is 3 h / 5 h.
    night = BusinessCalendar("America/New_York", time(1), time(5), range(7))
    start = datetime.combine(day, time(0), tzinfo=NY)
    assert night.elapsed(start, start + timedelta(days=1)) == hours * H
    assert night.elapsed(start, night.add(start, hours * H)) == hours * H
    assert night.add(start, hours * H) == datetime.combine(day, time(5), tzinfo=NY)


def test_always_on_counts_real_hours_across_dst() -> None:
    clock = AlwaysOn()
    # Sat 12:00 EST + 48 real hours = Mon 13:00 EDT.
    assert clock.add(ny(2026, 3, 7, 12), 48 * H) == ny(2026, 3, 9, 13)
    assert clock.elapsed(ny(2026, 3, 7, 12), ny(2026, 3, 9, 12)) == 47 * H
    assert clock.elapsed(ny(2026, 3, 9), ny(2026, 3, 8)) == 0
    assert clock.is_working(ny(2026, 3, 8, 3))


IS_WORKING_CASES = [
    (ny(2026, 3, 2, 9), True),
    (ny(2026, 3, 2, 16, 59), True),
    (ny(2026, 3, 2, 17), False),
    (ny(2026, 3, 2, 8, 59), False),
    (ny(2026, 3, 7, 12), False),  # Saturday
    (ny(2026, 7, 3, 12), False),  # holiday
    (utc(2026, 3, 9, 13, 30), True),  # 9:30 EDT
    (utc(2026, 3, 6, 13, 30), False),  # 8:30 EST
]


@pytest.mark.parametrize(("at", "working"), IS_WORKING_CASES)
def test_is_working(cal: BusinessCalendar, at: datetime, working: bool) -> None:
    assert cal.is_working(at) is working


# ---------------------------------------------------------------------------------------
# Long spans and efficiency


def reference_elapsed(cal: BusinessCalendar, start: datetime, end: datetime) -> float:
    """Day-by-day reference built straight from zoneinfo, without week skipping."""
    total = timedelta(0)
    a, b = start.astimezone(UTC), end.astimezone(UTC)
    day = a.astimezone(NY).date() - timedelta(days=1)
    while day <= b.astimezone(NY).date():
        if day.weekday() in cal.workdays and day not in HOLIDAYS:
            lo = datetime.combine(day, cal.start, tzinfo=NY).astimezone(UTC)
            hi = datetime.combine(day, cal.end, tzinfo=NY).astimezone(UTC)
            lo, hi = max(lo, a), min(hi, b)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total.total_seconds()


def test_thirteen_month_span_is_exact_and_skips_weeks(cal: BusinessCalendar, monkeypatch: pytest.MonkeyPatch) -> None:
    start, end = ny(2025, 10, 15, 11, 17), ny(2026, 11, 20, 15, 45)
    lookups = 0
    original = BusinessCalendar._window

    def counting(self: BusinessCalendar, day: date) -> tuple[datetime, datetime] | None:
        nonlocal lookups
        lookups += 1
        return original(self, day)

    monkeypatch.setattr(BusinessCalendar, "_window", counting)
    hours = cal.elapsed(start, end)
    # ~400 days: per-day lookups only around the ends, holidays and the DST weeks.
    assert lookups < 60
    assert hours == reference_elapsed(cal, start, end)
    lookups = 0
    assert cal.add(start, hours) == end.astimezone(UTC)
    assert lookups < 60


def test_invalid_calendars_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone"):
        BusinessCalendar("Mars/Olympus_Mons")
    with pytest.raises(ValueError, match="before end"):
        BusinessCalendar("UTC", time(17), time(9))
    with pytest.raises(ValueError, match="workday"):
        BusinessCalendar("UTC", workdays=())
    with pytest.raises(ValueError, match="timezone-aware"):
        BusinessCalendar().elapsed(datetime(2026, 1, 1), datetime(2026, 1, 2))
    with pytest.raises(ValueError, match=">= 0"):
        BusinessCalendar().add(ny(2026, 1, 1), -1)


def test_calendar_from_config() -> None:
    cfg = CalendarConfig(holidays=list(HOLIDAYS))
    business = calendar_from_config(cfg)
    assert isinstance(business, BusinessCalendar)
    assert calendar_from_config(CalendarConfig(holidays=list(HOLIDAYS))) is business  # cached
    assert not business.is_working(ny(2026, 7, 3, 12))
    assert isinstance(calendar_from_config(cfg, "24x7"), AlwaysOn)
    assert isinstance(calendar_from_config(CalendarConfig(always_on=True)), AlwaysOn)
    london = calendar_from_config(CalendarConfig(timezone="Europe/London", workdays=[0, 1, 2, 3]))
    assert not london.is_working(datetime(2026, 3, 6, 12, tzinfo=UTC))  # Friday off
    assert london.is_working(datetime(2026, 3, 30, 8, tzinfo=UTC))  # 9:00 BST


# ---------------------------------------------------------------------------------------
# Properties

instants = st.integers(0, 60 * 24 * 400).map(lambda m: ny(2025, 12, 1) + timedelta(minutes=m))
budgets = st.integers(0, 60 * 8 * 60).map(lambda m: m * 60.0)
PROP_CAL = BusinessCalendar("America/New_York", time(9), time(17), range(5), HOLIDAYS)


@PROPS
@given(start=instants, seconds=budgets)
def test_add_then_elapsed_round_trips(start: datetime, seconds: float) -> None:
    due = PROP_CAL.add(start, seconds)
    assert due >= start
    assert PROP_CAL.elapsed(start, due) == seconds
    if seconds:
        # Earliest instant: a minute earlier the budget is not used up yet.
        assert PROP_CAL.elapsed(start, due - timedelta(minutes=1)) < seconds


@PROPS
@given(a=instants, b=instants, c=instants)
def test_elapsed_is_additive_and_matches_reference(a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    assert PROP_CAL.elapsed(a, b) + PROP_CAL.elapsed(b, c) == PROP_CAL.elapsed(a, c)
    assert PROP_CAL.elapsed(a, c) == reference_elapsed(PROP_CAL, a, c)
