"""Bring a stored request's SLA clock up to "now" without re-reading its timeline.

The store keeps absolute due times; the remaining *working* time at any moment is the working
time between now and the due time on the running clock's calendar.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from idqueue.config import SlaConfig
from idqueue.domain.calendar import calendar_from_config
from idqueue.domain.models import Request


def remaining_at(request: Request, cfg: SlaConfig, *, now: datetime) -> float | None:
    """Working seconds left on the running clock at ``now`` (negative when overdue), or None."""
    sla = request.sla
    if sla.due_at is None or sla.state in ("met", "none", "paused"):
        return None
    calendar = calendar_from_config(cfg.calendar, _kind(request, cfg))
    if now <= sla.due_at:
        return calendar.elapsed(now, sla.due_at)
    return -calendar.elapsed(sla.due_at, now)


@dataclass(frozen=True)
class LiveClock:
    """A running SLA clock at one moment, for display.

    Attributes:
        remaining: working seconds left (negative when overdue), or None.
        overdue: wall-clock seconds since the due time, when it has passed.
        resumes_at: set when ``now`` is outside the clock's working hours (the clock is not
            counting down): when it counts again.
    """

    remaining: float | None
    overdue: float | None = None
    resumes_at: datetime | None = None


def live_clock(request: Request, cfg: SlaConfig, *, now: datetime) -> LiveClock:
    """The running clock of ``request`` at ``now`` (time left, overdue, paused between hours)."""
    sla = request.sla
    if sla.due_at is None or sla.state in ("met", "none", "paused"):
        return LiveClock(None)
    calendar = calendar_from_config(cfg.calendar, _kind(request, cfg))
    if now > sla.due_at:
        return LiveClock(-calendar.elapsed(sla.due_at, now), overdue=(now - sla.due_at).total_seconds())
    resumes = None
    if not calendar.is_working(now):
        # The next working instant: one working second on, less that second.
        resumes = calendar.add(now, 1) - timedelta(seconds=1)
    return LiveClock(calendar.elapsed(now, sla.due_at), resumes_at=resumes)


def describe_clock(seconds: float) -> str:
    """Time left or overdue in the units of the age column: ``45m``, ``3h 05m``, ``22h``, ``3d 10h``,
    ``12d`` (from ten days on, hours no longer matter and would not fit the column).

    Overdue (negative) reads ``3d 10h over`` rather than carrying a minus sign. Minutes round up
    (away from zero), so a clock with 30 seconds left reads ``1m``.
    """
    minutes = int(-(-abs(seconds) // 60))
    hours, mins = divmod(minutes, 60)
    if hours == 0:
        text = f"{mins}m"
    elif hours < 10:
        text = f"{hours}h {mins:02d}m"
    elif hours < 48:
        text = f"{hours}h"
    else:
        days, rest = divmod(hours, 24)
        text = f"{days}d {rest}h" if rest and days < 10 else f"{days}d"
    return f"{text} over" if seconds < 0 else text


def _kind(request: Request, cfg: SlaConfig) -> Literal["business", "24x7"]:
    policy = next((p for p in cfg.policies if p.name == request.sla.policy), None)
    if policy is None:
        return "business"
    return policy.first_response_calendar if request.first_response_at is None else policy.resolution_calendar


def sla_cell(
    request: Request, clock: LiveClock, *, now: datetime, labels: Mapping[str, str]
) -> tuple[str, str]:
    """The SLA column of one request at ``now``: ``(text, state)``, the same in the TUI and the CLI.

    A running clock shows its time (``⏸ 1h 54m`` while business hours are over), an overdue
    one ``3d 10h over``; a request whose other clock broke reads "Breached", never a time left
    in the breached colour.

    Args:
        request: the request.
        clock: :func:`live_clock` of it at ``now`` (callers may cache it).
        now: the current time.
        labels: the words for states without a time (``SLA_LABELS``).
    """
    sla = request.sla
    state = sla.state
    if state in ("ok", "at_risk"):
        if sla.due_at is not None and sla.due_at <= now:
            state = "breached"
        elif state == "ok" and sla.at_risk_at is not None and sla.at_risk_at <= now:
            state = "at_risk"
    if state in ("met", "paused"):
        return state, state
    if state == "none" or sla.due_at is None:
        return ("breached", "breached") if state == "breached" else ("—", "none")
    if clock.remaining is None:
        return labels.get(state, state), state
    if clock.overdue is not None:
        return describe_clock(-clock.overdue), "breached"
    if state == "breached":
        return labels["breached"], state  # another clock broke; never a time left in red
    text = describe_clock(clock.remaining)
    return (f"⏸ {text}" if clock.resumes_at is not None else text), state
