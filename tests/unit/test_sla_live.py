"""Live SLA clocks for display: one unit style, no double negatives, paused between hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from idqueue.config import SlaConfig
from idqueue.domain.models import Person, Request, SlaInfo, SourceKind
from idqueue.domain.sla_live import describe_clock, live_clock

NY = ZoneInfo("America/New_York")
CFG = SlaConfig()


def request_due(due: datetime, state: str = "ok") -> Request:
    created = due - timedelta(days=1)
    return Request(id="gh:va/identity#1", key="REQ-1", sources=[SourceKind("github")], title="t", body="",
                   requester=Person("a", "A"), created_at=created, updated_at=created,
                   sla=SlaInfo(state=state, due_at=due, first_response_due=due))


@pytest.mark.parametrize(("seconds", "text"), [
    (30, "1m"), (45 * 60, "45m"), (3 * 3600 + 5 * 60, "3h 05m"), (22 * 3600 + 10, "22h"),
    (3 * 86400 + 10 * 3600, "3d 10h"), (3 * 86400, "3d"),
    (-(3 * 86400 + 10 * 3600), "3d 10h over"), (-90 * 60, "1h 30m over"),
    (-(44 * 86400 + 19 * 3600), "44d over"), (12 * 86400 + 5 * 3600, "12d"),
])
def test_describe_clock_uses_the_age_units_and_never_a_minus_sign(seconds: float, text: str) -> None:
    assert describe_clock(seconds) == text
    assert "-" not in describe_clock(seconds) and "−" not in describe_clock(seconds)


def test_overdue_is_wall_clock_time_since_the_due_time() -> None:
    due = datetime(2026, 3, 9, 14, 0, tzinfo=NY)  # a Monday afternoon
    now = datetime(2026, 3, 12, 16, 0, tzinfo=NY)
    clock = live_clock(request_due(due.astimezone(UTC), "breached"), CFG, now=now.astimezone(UTC))
    assert clock.overdue == pytest.approx((now - due).total_seconds())
    assert clock.remaining is not None and clock.remaining < 0
    assert describe_clock(-clock.overdue) == "3d 2h over"


def test_a_clock_outside_business_hours_says_when_it_counts_again() -> None:
    due = datetime(2026, 3, 10, 11, 0, tzinfo=NY)  # Tuesday 11:00
    evening = datetime(2026, 3, 9, 20, 0, tzinfo=NY)  # Monday 20:00, after hours
    clock = live_clock(request_due(due.astimezone(UTC)), CFG, now=evening.astimezone(UTC))
    assert clock.resumes_at is not None
    assert clock.resumes_at.astimezone(NY) == datetime(2026, 3, 10, 9, 0, tzinfo=NY)
    assert clock.remaining == pytest.approx(2 * 3600)
    working = live_clock(request_due(due.astimezone(UTC)), CFG, now=datetime(2026, 3, 9, 15, 0, tzinfo=NY))
    assert working.resumes_at is None


@pytest.mark.parametrize(("due_hours", "state", "text"), [
    (2, "ok", "ok 2h 00m"), (-3, "breached", "breached 3h 00m over"), (None, "none", "none"), (None, "met", "met"),
])
def test_the_cli_list_shows_the_state_then_the_cell_only_when_it_has_a_time(
    due_hours: float | None, state: str, text: str
) -> None:
    from idqueue.commands.sync_cmds import sla_text

    now = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)  # a Wednesday afternoon, business hours
    cfg = SlaConfig(calendar={"timezone": "UTC", "start": "00:00", "end": "23:59", "workdays": [0, 1, 2, 3, 4, 5, 6]})
    request = request_due(now + timedelta(hours=due_hours or 1), state)
    if due_hours is None:
        request.sla.due_at = None
    assert sla_text(request, cfg, now) == text
