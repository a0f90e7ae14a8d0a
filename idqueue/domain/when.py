"""Natural snooze times: ``3h``, ``2d``, ``tomorrow``, ``monday 9am``, ``2026-03-20 14:00``.

Times are read in the team's timezone and business calendar (``sla.calendar``): a day without
a time means the start of the business day, and a day-based time (``tomorrow``, ``2d``, a
weekday, a date) that lands on a weekend or a holiday moves to the next working day, so a
snoozed request comes back when someone is there to see it. ``3h`` and ``45m`` are exact.
Every caller shows the resolved time before it is used (:func:`describe_when`).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from idqueue.config import CalendarConfig

__all__ = ["EXAMPLES", "describe_when", "parse_when"]

EXAMPLES = "3h · 2d · tomorrow · monday 9am · fri 14:00 · 2026-03-20 · 2026-03-20 14:00"
"""What the inputs look like (hints and error messages)."""

_RELATIVE = re.compile(
    r"^(?:in\s+)?(\d+)\s*(m|min|mins|minutes?|h|hr|hrs|hours?|d|days?|w|wk|weeks?)$", re.IGNORECASE
)
_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$", re.IGNORECASE)
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ t](.+))?$", re.IGNORECASE)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _clock_time(text: str) -> time | None:
    """``9``, ``9am``, ``9:30 pm``, ``14:00``, ``noon`` → a time of day (None if not one)."""
    text = text.strip().lower()
    if text in ("noon", "midday"):
        return time(12, 0)
    m = _TIME.match(text)
    if m is None:
        return None
    hour, minute, half = int(m[1]), int(m[2] or 0), (m[3] or "").lower()
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _working(day: date, cal: CalendarConfig) -> bool:
    return cal.always_on or (day.weekday() in cal.workdays and day not in cal.holidays)


def _next_working(day: date, cal: CalendarConfig) -> date:
    for _ in range(370):
        if _working(day, cal):
            return day
        day += timedelta(days=1)
    return day


def _weekday(word: str) -> int | None:
    word = word.lower()
    if len(word) < 3:
        return None
    return next((n for n, name in enumerate(_WEEKDAYS) if name.startswith(word)), None)


def _on_day(day: date, at: str, cal: CalendarConfig, tz: ZoneInfo, *, move: bool) -> datetime:
    """``day`` at the time in ``at`` (default: the start of the business day), aware."""
    when = cal.start if not at.strip() else _clock_time(at)
    if when is None:
        raise ValueError(f"{at.strip()!r} is not a time of day (9am, 14:00)")
    if move:
        day = _next_working(day, cal)
    return datetime.combine(day, when, tzinfo=tz)


def _parse(text: str, now: datetime, cal: CalendarConfig, tz: ZoneInfo) -> datetime | None:
    local = now.astimezone(tz)
    today = local.date()
    m = _RELATIVE.match(text)
    if m:
        n, unit = int(m[1]), m[2][0].lower()
        if unit in "mh":
            return now + timedelta(minutes=n) if unit == "m" else now + timedelta(hours=n)
        days = n * (7 if unit == "w" else 1)
        moved = (local + timedelta(days=days)).replace(tzinfo=None)
        if _working(moved.date(), cal):
            return moved.replace(tzinfo=tz)
        return _on_day(moved.date(), "", cal, tz, move=True)
    m = _DATE.match(text)
    if m:
        try:
            day = date.fromisoformat(m[1])
        except ValueError:
            return None
        rest = m[2] or ""
        if rest and ("+" in rest or rest.upper().endswith("Z") or rest.count(":") == 2):
            try:
                parsed = datetime.fromisoformat(f"{m[1]}T{rest}")
            except ValueError:
                return None
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
        return _on_day(day, rest, cal, tz, move=not rest)
    word, _, rest = text.partition(" ")
    word = word.lower()
    if word == "next" and rest:
        word, _, rest = rest.partition(" ")
        word = word.lower()
    if word == "tomorrow":
        return _on_day(today + timedelta(days=1), rest, cal, tz, move=not rest)
    if word == "today" and rest:
        return _on_day(today, rest, cal, tz, move=False)
    weekday = _weekday(word)
    if weekday is not None:
        ahead = (weekday - today.weekday()) % 7 or 7
        return _on_day(today + timedelta(days=ahead), rest, cal, tz, move=False)
    at = _clock_time(text)
    if at is not None:
        moment = datetime.combine(today, at, tzinfo=tz)
        return moment if moment > local else moment + timedelta(days=1)
    return None


def parse_when(text: str, now: datetime, calendar: CalendarConfig) -> datetime:
    """The UTC instant a natural-language snooze time means.

    Args:
        text: ``3h``, ``45m``, ``2d``, ``1w``, ``in 3 hours``, ``tomorrow``, ``tomorrow 2pm``,
            ``monday``, ``next fri 9:30``, ``14:00`` (today, else tomorrow), ``2026-03-20``,
            ``2026-03-20 14:00`` or a full ISO 8601 time with an offset.
        now: the current time (aware).
        calendar: the team's timezone and business calendar.

    Raises:
        ValueError: not understood, or not in the future (a one-line message for the user).
    """
    cleaned = " ".join(text.strip().split())
    if not cleaned:
        raise ValueError(f"say when, e.g. {EXAMPLES}")
    tz = ZoneInfo(calendar.timezone)
    when = _parse(cleaned, now, calendar, tz)
    if when is None:
        raise ValueError(f"cannot read {cleaned!r} as a time; try {EXAMPLES}")
    when = when.astimezone(UTC)
    if when <= now:
        raise ValueError(f"{cleaned!r} is {describe_when(when, now, calendar.timezone)}: that is not in the future")
    return when


def describe_when(when: datetime, now: datetime, timezone: str) -> str:
    """``Thu 12 Mar 09:00 EDT (in 17h 30m)``: the resolved time, in the team's timezone."""
    local = when.astimezone(ZoneInfo(timezone))
    seconds = (when - now).total_seconds()
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    span = f"{days}d {hours}h" if days else f"{hours}h {mins:02d}m" if hours else f"{mins}m"
    rel = f"in {span}" if seconds >= 0 else f"{span} ago"
    return f"{local:%a %d %b %H:%M} {local.tzname()} ({rel})"
