"""Bring a stored request's SLA clock up to "now" without re-reading its timeline.

The store keeps absolute due times; the remaining *working* time at any moment is the working
time between now and the due time on the running clock's calendar.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from idqueue.config import SlaConfig
from idqueue.domain.calendar import calendar_from_config
from idqueue.domain.models import Request


def remaining_at(request: Request, cfg: SlaConfig, *, now: datetime) -> float | None:
    """Working seconds left on the running clock at ``now`` (negative when overdue), or None."""
    sla = request.sla
    if sla.due_at is None or sla.state in ("met", "none", "paused"):
        return None
    policy = next((p for p in cfg.policies if p.name == sla.policy), None)
    running_first = request.first_response_at is None
    kind: Literal["business", "24x7"] = "business"
    if policy is not None:
        kind = policy.first_response_calendar if running_first else policy.resolution_calendar
    calendar = calendar_from_config(cfg.calendar, kind)
    if now <= sla.due_at:
        return calendar.elapsed(now, sla.due_at)
    return -calendar.elapsed(sla.due_at, now)
