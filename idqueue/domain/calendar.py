"""Working-time calendars for SLA clocks: business hours in a team timezone, or 24×7.

A calendar answers three questions about *working time*:

* :meth:`Calendar.elapsed` — how many working seconds lie in ``[start, end)``;
* :meth:`Calendar.add` — the instant at which ``seconds`` of working time after ``start``
  have elapsed (the due time of a budget);
* :meth:`Calendar.is_working` — whether an instant falls inside working hours.

:class:`BusinessCalendar` works in the team's timezone (``zoneinfo``): each working day is
the local window ``[start, end)`` converted to UTC, so a 9:00–17:00 day is 8 hours on DST
change days too, and the windows move with the offset (9:00 is 14:00 UTC in winter and
13:00 UTC in summer in New York). :class:`AlwaysOn` is the 24×7 wall clock: real elapsed
seconds, so "48 h" across a DST change is 48 real hours.

Cost is O(days spanned) at worst and O(weeks) for long spans: whole weeks without a holiday
and without a UTC-offset change are counted in one step.

Every datetime in and out is timezone-aware; results are in UTC.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from idqueue.config import CalendarConfig

_ONE_DAY = timedelta(days=1)
_ONE_WEEK = timedelta(days=7)
# The per-day window cache is bounded so a long-running TUI cannot grow it without limit;
# 20 000 days is 55 years of calendar, far more than any queue spans.
_MAX_CACHED_DAYS = 20_000


class Calendar(Protocol):
    """Working-time arithmetic; :class:`BusinessCalendar` and :class:`AlwaysOn` implement it."""

    def add(self, start: datetime, seconds: float) -> datetime:
        """The earliest instant at which ``seconds`` of working time after ``start`` elapsed."""
        ...

    def elapsed(self, start: datetime, end: datetime) -> float:
        """Working seconds in ``[start, end)`` (0 when ``end <= start``)."""
        ...

    def is_working(self, at: datetime) -> bool:
        """True when ``at`` falls inside working time."""
        ...


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return value.astimezone(UTC)


class AlwaysOn:
    """The 24×7 wall clock: every second counts.

    Used for the 48-hour triage rule and for teams with ``always_on = true``.
    """

    def add(self, start: datetime, seconds: float) -> datetime:
        """``start + seconds`` in UTC.

        Raises:
            ValueError: when ``start`` is naive or ``seconds`` is negative.
        """
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        return _utc(start, "start") + timedelta(seconds=seconds)

    def elapsed(self, start: datetime, end: datetime) -> float:
        """Real seconds in ``[start, end)`` (0 when ``end <= start``)."""
        delta = _utc(end, "end") - _utc(start, "start")
        return max(delta.total_seconds(), 0.0)

    def is_working(self, at: datetime) -> bool:
        """Always True."""
        _utc(at, "at")
        return True

    def __repr__(self) -> str:
        return "AlwaysOn()"


class BusinessCalendar:
    """Business hours on working days in one IANA timezone, minus holidays.

    Args:
        timezone: IANA name, e.g. ``America/New_York``.
        start: local start of the business day.
        end: local end of the business day (after ``start``; overnight shifts are not supported).
        workdays: working weekdays, Monday = 0.
        holidays: local dates that are days off.

    Raises:
        ValueError: on an unknown timezone, ``start >= end``, no workdays or a weekday outside
            0–6.
    """

    def __init__(
        self,
        timezone: str = "America/New_York",
        start: time = time(9, 0),
        end: time = time(17, 0),
        workdays: Iterable[int] = (0, 1, 2, 3, 4),
        holidays: Iterable[date] = (),
    ) -> None:
        try:
            self.tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {timezone!r}") from exc
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError("business hours are local wall-clock times without tzinfo")
        if start >= end:
            raise ValueError(f"business day start {start} must be before end {end}")
        days = frozenset(workdays)
        if not days:
            raise ValueError("at least one workday is needed")
        if not days <= set(range(7)):
            raise ValueError(f"workdays must be 0 (Monday) … 6 (Sunday), got {sorted(days)}")
        self.timezone = timezone
        self.start = start
        self.end = end
        self.workdays = days
        self._holidays = sorted(set(holidays))
        self._holiday_set = frozenset(self._holidays)
        # Wall-clock length of a business day; the real length differs only on the rare day
        # whose window contains a UTC-offset change.
        self._nominal = timedelta(
            hours=end.hour - start.hour,
            minutes=end.minute - start.minute,
            seconds=end.second - start.second,
            microseconds=end.microsecond - start.microsecond,
        )
        self._nominal_week = self._nominal * len(days)
        self._windows: dict[date, tuple[datetime, datetime] | None] = {}
        self._weeks: dict[date, timedelta | None] = {}

    def __repr__(self) -> str:
        return (
            f"BusinessCalendar({self.timezone!r}, {self.start}, {self.end}, "
            f"workdays={sorted(self.workdays)}, holidays={len(self._holidays)})"
        )

    # -- per-day and per-week building blocks -------------------------------------------

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        """The UTC window ``[start, end)`` of a local date, or None on a day off."""
        try:
            return self._windows[day]
        except KeyError:
            pass
        window: tuple[datetime, datetime] | None = None
        if day.weekday() in self.workdays and day not in self._holiday_set:
            # Attaching the ZoneInfo to the local wall time picks the offset in force at that
            # moment on that date, which is what makes DST days come out right.
            lo = datetime.combine(day, self.start, tzinfo=self.tz).astimezone(UTC)
            hi = datetime.combine(day, self.end, tzinfo=self.tz).astimezone(UTC)
            window = (lo, hi) if hi > lo else None
        if len(self._windows) >= _MAX_CACHED_DAYS:
            self._windows.clear()
        self._windows[day] = window
        return window

    def _day_length(self, day: date) -> timedelta:
        window = self._window(day)
        return window[1] - window[0] if window else timedelta(0)

    def _uniform_week(self, monday: date) -> timedelta | None:
        """Working time of the week starting ``monday`` if it is a plain week, else None.

        A plain week has no holiday and the same UTC offset at both ends, so every working
        day has its nominal length. (A zone would need two offset changes within one week
        for this to be wrong; no current IANA zone does that.)
        """
        try:
            return self._weeks[monday]
        except KeyError:
            pass
        result: timedelta | None = self._nominal_week
        next_monday = monday + _ONE_WEEK
        i = bisect.bisect_left(self._holidays, monday)
        if i < len(self._holidays) and self._holidays[i] < next_monday:
            result = None
        else:
            first = datetime.combine(monday, time(0), tzinfo=self.tz).utcoffset()
            last = datetime.combine(next_monday, time(0), tzinfo=self.tz).utcoffset()
            if first != last:
                result = None
        if len(self._weeks) >= _MAX_CACHED_DAYS:
            self._weeks.clear()
        self._weeks[monday] = result
        return result

    def _full_days(self, first: date, last: date) -> timedelta:
        """Working time of the whole local days ``first`` … ``last`` (inclusive)."""
        total = timedelta(0)
        day = first
        while day <= last:
            if day.weekday() == 0 and day + timedelta(days=6) <= last:
                week = self._uniform_week(day)
                if week is not None:
                    total += week
                    day += _ONE_WEEK
                    continue
            total += self._day_length(day)
            day += _ONE_DAY
        return total

    def _overlap(self, day: date, lo: datetime, hi: datetime) -> timedelta:
        window = self._window(day)
        if window is None:
            return timedelta(0)
        a, b = max(lo, window[0]), min(hi, window[1])
        return b - a if b > a else timedelta(0)

    def _local_date(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    # -- the Calendar protocol -------------------------------------------------------------

    def elapsed_delta(self, start: datetime, end: datetime) -> timedelta:
        """Working time in ``[start, end)`` as an exact :class:`~datetime.timedelta`."""
        lo, hi = _utc(start, "start"), _utc(end, "end")
        if hi <= lo:
            return timedelta(0)
        d0, d1 = self._local_date(lo), self._local_date(hi)
        if d0 == d1:
            return self._overlap(d0, lo, hi)
        return (
            self._overlap(d0, lo, hi)
            + self._full_days(d0 + _ONE_DAY, d1 - _ONE_DAY)
            + self._overlap(d1, lo, hi)
        )

    def elapsed(self, start: datetime, end: datetime) -> float:
        """Working seconds in ``[start, end)`` (0 when ``end <= start``).

        Raises:
            ValueError: when either datetime is naive.
        """
        return self.elapsed_delta(start, end).total_seconds()

    def add(self, start: datetime, seconds: float) -> datetime:
        """The earliest instant at which ``seconds`` of working time after ``start`` elapsed.

        A budget that runs out exactly at the end of a business day is due at that end
        (17:00), not at the next morning. ``seconds == 0`` returns ``start`` itself.

        Raises:
            ValueError: when ``start`` is naive or ``seconds`` is negative.
        """
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        at = _utc(start, "start")
        left = timedelta(seconds=seconds)
        if not left:
            return at
        day = self._local_date(at)
        window = self._window(day)
        if window is not None and at < window[1]:
            begin = max(at, window[0])
            available = window[1] - begin
            if left <= available:
                return begin + left
            left -= available
        day += _ONE_DAY
        while True:
            if day.weekday() == 0:
                week = self._uniform_week(day)
                # Strictly greater: when the budget ends inside (or exactly at the end of)
                # this week we need the day-by-day walk to find the instant.
                if week is not None and left > week:
                    left -= week
                    day += _ONE_WEEK
                    continue
            window = self._window(day)
            if window is not None:
                available = window[1] - window[0]
                if left <= available:
                    return window[0] + left
                left -= available
            day += _ONE_DAY

    def is_working(self, at: datetime) -> bool:
        """True when ``at`` is inside a business window (start inclusive, end exclusive)."""
        moment = _utc(at, "at")
        window = self._window(self._local_date(moment))
        return window is not None and window[0] <= moment < window[1]


@lru_cache(maxsize=32)
def _cached_calendar(
    timezone: str,
    start: time,
    end: time,
    workdays: tuple[int, ...],
    holidays: tuple[date, ...],
) -> BusinessCalendar:
    return BusinessCalendar(timezone, start, end, workdays, holidays)


_ALWAYS_ON = AlwaysOn()


def calendar_from_config(
    cfg: CalendarConfig, kind: Literal["business", "24x7"] = "business"
) -> Calendar:
    """The calendar a clock should run on.

    Args:
        cfg: the team's business hours.
        kind: ``"24x7"`` for the wall clock (e.g. the 48-hour triage rule); ``"business"``
            for business hours, unless the team is ``always_on``.

    Calendars are cached by value, so repeated calls for every request in the queue share
    one instance and its per-day cache.

    Raises:
        ValueError: when the business hours are invalid (unknown timezone, start >= end, …).
    """
    if kind == "24x7" or cfg.always_on:
        return _ALWAYS_ON
    return _cached_calendar(
        cfg.timezone, cfg.start, cfg.end, tuple(sorted(set(cfg.workdays))), tuple(sorted(set(cfg.holidays)))
    )
