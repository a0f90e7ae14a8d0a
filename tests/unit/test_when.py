"""Natural snooze times in the team's timezone and business calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from idqueue.config import CalendarConfig
from idqueue.domain.when import describe_when, parse_when

CAL = CalendarConfig(timezone="America/New_York", holidays=[date(2026, 3, 17)])
FRIDAY = datetime(2026, 3, 13, 19, 30, tzinfo=UTC)  # Fri 13 Mar 15:30 EDT
WEDNESDAY = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)  # Wed 11 Mar 11:30 EDT


@pytest.mark.parametrize(("text", "now", "local"), [
    ("3h", FRIDAY, "Fri 13 Mar 18:30"),
    ("45m", FRIDAY, "Fri 13 Mar 16:15"),
    ("in 3 hours", FRIDAY, "Fri 13 Mar 18:30"),
    ("tomorrow", WEDNESDAY, "Thu 12 Mar 09:00"),
    ("tomorrow", FRIDAY, "Mon 16 Mar 09:00"),  # Saturday is not a working day
    ("tomorrow 2pm", FRIDAY, "Sat 14 Mar 14:00"),  # an explicit time is kept as asked
    ("2d", WEDNESDAY, "Fri 13 Mar 11:30"),
    ("2d", FRIDAY, "Mon 16 Mar 09:00"),
    ("1w", WEDNESDAY, "Wed 18 Mar 11:30"),
    ("monday 9am", WEDNESDAY, "Mon 16 Mar 09:00"),
    ("mon", FRIDAY, "Mon 16 Mar 09:00"),
    ("next fri 9:30", WEDNESDAY, "Fri 13 Mar 09:30"),
    ("14:00", WEDNESDAY, "Wed 11 Mar 14:00"),
    ("9am", WEDNESDAY, "Thu 12 Mar 09:00"),  # already past today: tomorrow
    ("2026-03-17", WEDNESDAY, "Wed 18 Mar 09:00"),  # a holiday moves to the next working day
    ("2026-03-20 14:00", WEDNESDAY, "Fri 20 Mar 14:00"),
    ("2026-03-20T14:00:00Z", WEDNESDAY, "Fri 20 Mar 10:00"),
])
def test_natural_times_resolve_in_the_team_calendar(text: str, now: datetime, local: str) -> None:
    when = parse_when(text, now, CAL)
    assert when.tzinfo is UTC
    assert describe_when(when, now, CAL.timezone).startswith(f"{local} ")


@pytest.mark.parametrize(("text", "message"), [
    ("", "say when"),
    ("yesterday", "cannot read 'yesterday'"),
    ("13pm", "cannot read"),
    ("2026-03-01", "not in the future"),
    ("2026-02-30", "cannot read"),
])
def test_bad_times_say_why_in_one_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_when(text, WEDNESDAY, CAL)
    assert "\n" not in str(info.value)


def test_describe_says_how_far_away() -> None:
    assert describe_when(parse_when("tomorrow", WEDNESDAY, CAL), WEDNESDAY, CAL.timezone) == \
        "Thu 12 Mar 09:00 EDT (in 21h 30m)"
