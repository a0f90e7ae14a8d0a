"""SLA clocks, computed on read from a request's event log and an injected "now".

Each request gets two clocks from the first matching :class:`~idqueue.config.SlaPolicy`:

* **first response** — from ``created_at`` until ``first_response_at`` (or until the request
  is resolved without an answer), on business hours by default;
* **resolution** — from ``created_at`` until ``resolved_at``; closing *and* moving to the
  backlog both count as resolved (the 48-hour triage rule), on the 24×7 wall clock by default.

A clock consumes budget only in working time of its calendar and not while the request is
pending (waiting on the requester): budget used = working time in ``[created, stop or now)``
minus working time inside the pause intervals. Pauses come from the event log (see
:func:`pause_intervals`), so the result only depends on the events and ``now``; nothing reads
the wall clock.

Per clock the state is ``ok`` → ``at_risk`` (≥ ``at_risk_ratio`` of the budget used) →
``breached`` (budget gone while still running) or, once stopped, ``met``/``breached``; a
running clock inside an open pause is ``paused``. The request's :class:`SlaInfo` combines
both (see :func:`compute_sla`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from idqueue.config import CalendarConfig, SlaConfig, SlaPolicy
from idqueue.domain.calendar import Calendar, calendar_from_config
from idqueue.domain.intake import impacts_production as intake_impacts_production
from idqueue.domain.models import EventKind, Request, SlaInfo, Status, TimelineEvent

ClockName = Literal["first_response", "resolution"]
PauseInterval = tuple[datetime, datetime | None]

_RESOLVED_STATUSES = frozenset({Status.CLOSED, Status.RESOLVED, Status.BACKLOG})
_CLOCK_LABEL: dict[ClockName, str] = {"first_response": "first response", "resolution": "resolution"}


def impacts_production(request: Request) -> bool:
    """True when the intake field "impacts production" says yes.

    Accepts the loose values intake forms produce: ``Yes``, ``yes - sign-in is down``,
    ``**Yes**``, ``true``, ``y`` (read by :func:`idqueue.domain.intake.impacts_production`).
    """
    return intake_impacts_production(request.fields) is True


@lru_cache(maxsize=256)
def _folded(values: tuple[str, ...]) -> frozenset[str]:
    """Casefolded filter values (policies are matched for every request of a sync)."""
    return frozenset(v.casefold() for v in values)


def select_policy(
    request: Request, policies: list[SlaPolicy], customer_policies: Mapping[str, str] | None = None
) -> SlaPolicy | None:
    """The SLA policy of a request.

    Precedence: the policy its customer names (``customers.<key>.sla_policy``, through
    ``customer_policies``) wins over everything; else the first policy whose type, priority
    and "impacts production" filters all match. Empty ``types``/``priorities`` and
    ``impacts_production = None`` match anything. Types and priorities compare
    case-insensitively.

    Args:
        request: the request (``customer``, ``type``, ``priority``, ``fields``).
        policies: the configured policies, in order.
        customer_policies: customer key → policy name, for customers that have one.
    """
    if request.customer is not None and customer_policies:
        name = customer_policies.get(request.customer)
        if name is not None:
            named = next((p for p in policies if p.name == name), None)
            if named is not None:
                return named
    req_type = request.type.casefold()
    req_priority = request.priority.casefold()
    impacts = impacts_production(request)
    for policy in policies:
        if policy.types and req_type not in _folded(tuple(policy.types)):
            continue
        if policy.priorities and req_priority not in _folded(tuple(policy.priorities)):
            continue
        if policy.impacts_production is not None and policy.impacts_production != impacts:
            continue
        return policy
    return None


def _event_label(event: TimelineEvent) -> str:
    """The label name of a LABELED/UNLABELED event, whichever way the adapter stored it."""
    for key in ("label", "name"):
        value = event.data.get(key)
        if isinstance(value, dict):
            value = value.get("name")
        if isinstance(value, str) and value:
            return value
    return event.body


def pause_intervals(
    request: Request, events: list[TimelineEvent], cfg: SlaConfig, *, now: datetime
) -> list[PauseInterval]:
    """The intervals in which the request was pending (waiting on the requester).

    Derived from the events up to ``now``, in time order:

    * ``PENDING``, or ``LABELED`` with one of ``cfg.pending_labels`` (case-insensitive),
      starts a pause;
    * ``RESUMED``, ``UNLABELED`` of a pending label, or a ``MESSAGE``/``COMMENT`` by the
      requester (not a bot) ends it.

    A pause that is still running is returned with ``None`` as its end. When the request's
    status is ``pending`` but the log shows no open pause (the status was set locally and
    the event has not arrived yet), an open pause starting at ``now`` is added: the clock
    shows as paused, but no past working time is given back without evidence.

    Returns:
        Non-overlapping ``(start, end)`` intervals in time order, all in UTC.
    """
    pending_labels = {label.casefold() for label in cfg.pending_labels}
    requester_id = request.requester.id if request.requester else None
    intervals: list[PauseInterval] = []
    paused_since: datetime | None = None
    # sorted() is stable, so events at the same instant keep the log's order.
    now = now.astimezone(UTC)
    for event in sorted(events, key=lambda e: e.at.astimezone(UTC)):
        at = event.at.astimezone(UTC)
        if at > now:
            break
        kind = event.kind
        starts = kind == EventKind.PENDING or (
            kind == EventKind.LABELED and _event_label(event).casefold() in pending_labels
        )
        ends = (
            kind == EventKind.RESUMED
            or (kind == EventKind.UNLABELED and _event_label(event).casefold() in pending_labels)
            or (
                kind in (EventKind.MESSAGE, EventKind.COMMENT)
                and requester_id is not None
                and event.actor_id == requester_id
                and not event.is_bot
            )
        )
        if starts and paused_since is None:
            paused_since = at
        elif ends and paused_since is not None:
            if at > paused_since:
                intervals.append((paused_since, at))
            paused_since = None
    if paused_since is None and request.status == Status.PENDING:
        paused_since = now
    if paused_since is not None:
        intervals.append((paused_since, None))
    return intervals


@dataclass(frozen=True, slots=True)
class ClockStatus:
    """One SLA clock at a given moment.

    Attributes:
        name: ``first_response`` or ``resolution``.
        budget: the target in working seconds of the clock's calendar.
        stopped: when the clock stopped (response / resolution), or None while running.
        used: working seconds consumed, pauses excluded.
        remaining: ``budget - used`` (negative once breached).
        due: when the budget runs out given the pauses so far; None while paused.
        at_risk_at: when ``at_risk_ratio`` of the budget is used; None while paused before it.
        state: ``ok``, ``at_risk``, ``breached``, ``met`` or ``paused``.
    """

    name: ClockName
    budget: float
    stopped: datetime | None
    used: float
    remaining: float
    due: datetime | None
    at_risk_at: datetime | None
    state: str

    @property
    def running(self) -> bool:
        """True until the clock is stopped."""
        return self.stopped is None


def _clip_pauses(
    pauses: list[PauseInterval], start: datetime, stop: datetime | None
) -> list[PauseInterval]:
    """Pauses restricted to ``[start, stop)``; open pauses are closed at ``stop`` if any."""
    clipped: list[PauseInterval] = []
    for lo, hi in pauses:
        lo = max(lo, start)
        if stop is not None:
            if lo >= stop:
                continue
            hi = stop if hi is None else min(hi, stop)
        if hi is not None and hi <= lo:
            continue
        clipped.append((lo, hi))
    return clipped


def _point_after(
    cal: Calendar, start: datetime, budget: float, pauses: list[PauseInterval]
) -> datetime | None:
    """When ``budget`` working seconds have run, skipping pauses; None if an open pause comes first."""
    cursor, left = start, budget
    for lo, hi in pauses:
        if hi is not None and hi <= cursor:
            continue
        if lo > cursor:
            work = cal.elapsed(cursor, lo)
            if work >= left:
                return cal.add(cursor, left)
            left -= work
        if hi is None:
            return None
        cursor = max(cursor, hi)
    return cal.add(cursor, max(left, 0.0))


def _evaluate(
    name: ClockName,
    cal: Calendar,
    *,
    start: datetime,
    budget: float,
    stop: datetime | None,
    pauses: list[PauseInterval],
    now: datetime,
    at_risk_ratio: float,
) -> ClockStatus:
    """Evaluate one clock on one budget at ``now`` (see :func:`evaluate_clock`).

    Args:
        name: which clock this is.
        cal: the calendar the budget is counted in.
        start: when the clock started (the request's creation).
        budget: the target, in working seconds.
        stop: when the clock stopped; a stop after ``now`` is not known yet and ignored.
        pauses: from :func:`pause_intervals`.
        now: the injected clock.
        at_risk_ratio: share of the budget after which the clock is at risk.
    """
    start = start.astimezone(UTC)
    now = now.astimezone(UTC)
    stopped = stop.astimezone(UTC) if stop is not None and stop <= now else None
    end = max(stopped if stopped is not None else now, start)
    effective = _clip_pauses(pauses, start, stopped)
    used = cal.elapsed(start, end)
    for lo, hi in effective:
        used -= cal.elapsed(lo, min(hi if hi is not None else end, end))
    # Rounding to the microsecond removes float noise from the sums, so comparisons with the
    # budget (met exactly on time, at-risk exactly at the line) are exact.
    used = round(max(used, 0.0), 6)
    remaining = round(budget - used, 6)
    due = _point_after(cal, start, budget, effective)
    at_risk_at = _point_after(cal, start, budget * at_risk_ratio, effective)
    paused = stopped is None and any(hi is None for _, hi in effective)
    if stopped is not None:
        state = "met" if remaining >= 0 else "breached"
    elif remaining <= 0:
        state = "breached"
    elif paused:
        state = "paused"
    elif used >= round(budget * at_risk_ratio, 6):
        state = "at_risk"
    else:
        state = "ok"
    return ClockStatus(name, budget, stopped, used, remaining, due, at_risk_at, state)


@dataclass(frozen=True, slots=True)
class BudgetSwitch:
    """A change of SLA policy part-way through a clock's life (a priority override).

    Attributes:
        at: when the new policy took effect.
        budget: the new policy's target for this clock, in working seconds of ``cal``.
        cal: the new policy's calendar for this clock.
    """

    at: datetime
    budget: float
    cal: Calendar


def evaluate_clock(
    name: ClockName,
    cal: Calendar,
    *,
    start: datetime,
    budget: float,
    stop: datetime | None,
    pauses: list[PauseInterval],
    now: datetime,
    at_risk_ratio: float,
    switch: BudgetSwitch | None = None,
) -> ClockStatus:
    """Evaluate one clock at ``now``.

    With a ``switch``, the policy changes at ``switch.at`` and applies from then on, never to
    the past: a clock that stopped before the change keeps its old result (a first response
    met under the old policy stays met), and a clock still running at the change keeps the
    *share* of its budget already used and carries it to the new budget (half of a P3 budget
    used → half of the P1 budget left from the change). A clock breached before the change
    stays breached.

    Args:
        name: which clock this is.
        cal: the calendar the budget is counted in.
        start: when the clock started (the request's creation).
        budget: the target, in working seconds.
        stop: when the clock stopped; a stop after ``now`` is not known yet and ignored.
        pauses: from :func:`pause_intervals`.
        now: the injected clock.
        at_risk_ratio: share of the budget after which the clock is at risk.
        switch: a policy change (see above), or None.
    """
    base = _evaluate(name, cal, start=start, budget=budget, stop=stop, pauses=pauses, now=now,
                     at_risk_ratio=at_risk_ratio)
    if switch is None:
        return base
    start, now, at = start.astimezone(UTC), now.astimezone(UTC), switch.at.astimezone(UTC)
    if at <= start:
        return _evaluate(name, switch.cal, start=start, budget=switch.budget, stop=stop, pauses=pauses, now=now,
                         at_risk_ratio=at_risk_ratio)
    if at > now or (base.stopped is not None and base.stopped <= at):
        return base
    before = _evaluate(name, cal, start=start, budget=budget, stop=at, pauses=pauses, now=now,
                       at_risk_ratio=at_risk_ratio)
    share = before.used / budget if budget > 0 else 1.0
    carried = round(share * switch.budget, 6)
    after = _evaluate(name, switch.cal, start=at, budget=switch.budget - carried, stop=stop, pauses=pauses, now=now,
                      at_risk_ratio=at_risk_ratio)
    used = round(carried + after.used, 6)
    remaining = round(switch.budget - used, 6)
    risk_line = round(switch.budget * at_risk_ratio, 6)
    effective = _clip_pauses(pauses, at, after.stopped)
    if carried >= risk_line:
        at_risk_at = before.at_risk_at
    else:
        at_risk_at = _point_after(switch.cal, at, risk_line - carried, effective)
    due = before.due if share >= 1 else after.due
    if after.stopped is not None:
        state = "met" if remaining >= 0 else "breached"
    elif remaining <= 0:
        state = "breached"
    elif after.state == "paused":
        state = "paused"
    elif used >= risk_line:
        state = "at_risk"
    else:
        state = "ok"
    return ClockStatus(name, switch.budget, after.stopped, used, remaining, due, at_risk_at, state)


def _previous_policy(
    request: Request, cfg: SlaConfig, policy: SlaPolicy, since: tuple[datetime, str] | None,
    customer_policies: Mapping[str, str] | None = None,
) -> SlaPolicy | None:
    """The policy in force before a manual priority change, when it differs from ``policy``."""
    if since is None or since[1].casefold() == request.priority.casefold():
        return None
    previous = select_policy(replace(request, priority=since[1]), cfg.policies, customer_policies)
    return previous if previous is not None and previous != policy else None


def _resolution_time(request: Request, events: list[TimelineEvent]) -> datetime | None:
    """``resolved_at``, or for a closed/backlogged request without it, the last such event."""
    if request.resolved_at is not None:
        return request.resolved_at
    if request.status not in _RESOLVED_STATUSES:
        return None
    closing = [e.at.astimezone(UTC) for e in events if e.kind in (EventKind.CLOSED, EventKind.BACKLOG)]
    return max(closing) if closing else request.updated_at


def describe_remaining(seconds: float) -> str:
    """A short countdown: ``45m``, ``3h 10m``, ``130h``; negative means overdue (``-2h 05m``).

    Minutes round up (away from zero), so ``0m`` only shows at exactly zero and a clock with
    30 seconds left still reads ``1m``.
    """
    sign = "-" if seconds < 0 else ""
    minutes = int(-(-abs(seconds) // 60))
    hours, mins = divmod(minutes, 60)
    if hours == 0:
        return f"{sign}{mins}m"
    if hours < 100:
        return f"{sign}{hours}h {mins:02d}m"
    return f"{sign}{hours}h"


def _hours_of(t: time) -> float:
    return t.hour + t.minute / 60 + t.second / 3600 + t.microsecond / 3_600_000_000


def describe_target(hours: float, kind: Literal["business", "24x7"], calendar: CalendarConfig) -> str:
    """A target in words: ``1 business hour``, ``1 business day``, ``48 h``."""
    if kind == "24x7" or calendar.always_on:
        return f"{hours:g} h"
    day = _hours_of(calendar.end) - _hours_of(calendar.start)
    if day > 0 and hours >= day and (hours / day).is_integer():
        days = int(hours / day)
        return f"{days} business day" + ("s" if days != 1 else "")
    return f"{hours:g} business hour" + ("s" if hours != 1 else "")


def _clock_phrase(clock: ClockStatus, target: str) -> str:
    label = _CLOCK_LABEL[clock.name]
    if clock.state == "met":
        return f"{label} met (target {target})"
    if clock.state == "breached" and not clock.running:
        return f"{label} missed its target ({target}) by {describe_remaining(-clock.remaining)}"
    if clock.state == "breached":
        return f"{label} within {target}; overdue {describe_remaining(-clock.remaining)}"
    left = f"{describe_remaining(clock.remaining)} left"
    if clock.state == "paused":
        return f"clock paused while waiting on the requester; {label} within {target}, {left}"
    return f"{label} within {target}; {left}"


def _overall_state(fr: ClockStatus, res: ClockStatus, running: ClockStatus | None) -> str:
    """The worst of the two clocks (see :func:`compute_sla`)."""
    clocks = (fr, res)
    if any(c.state == "breached" for c in clocks):
        return "breached"
    if running is None:
        return "met"
    if running.state == "paused":
        return "paused"
    if any(c.state == "at_risk" for c in clocks):
        return "at_risk"
    return "ok"


def _detail(fr: ClockStatus, res: ClockStatus, running: ClockStatus | None, state: str,
            targets: dict[str, str]) -> str:
    """The reason's sentence: the running clock, and the other one when it is worse."""
    if running is None:
        if state == "met":
            return (f"first response and resolution met their targets ({targets['first_response']}, "
                    f"{targets['resolution']})")
        return "; ".join(_clock_phrase(c, targets[c.name]) for c in (fr, res) if c.state == "breached")
    detail = _clock_phrase(running, targets[running.name])
    other = res if running is fr else fr
    # Show the other clock only when it is the reason for a worse state than the running
    # clock's own.
    if other.state == "breached" and running.state != "breached":
        detail += "; " + _clock_phrase(other, targets[other.name])
    elif other.running and other.state == "at_risk" and running.state == "ok":
        detail += f"; {_CLOCK_LABEL[other.name]} at risk ({describe_remaining(other.remaining)} left)"
    return detail


def compute_sla(
    request: Request,
    events: list[TimelineEvent],
    cfg: SlaConfig,
    *,
    now: datetime,
    priority_since: tuple[datetime, str] | None = None,
    customer_policies: Mapping[str, str] | None = None,
) -> SlaInfo:
    """The request's SLA at ``now``.

    The caller has already set ``created_at``, ``first_response_at``, ``resolved_at`` and
    ``status``. ``resolved_at`` covers closing *and* moving to the backlog; a request that
    is reopened should have it cleared. When a closed/backlogged request has no
    ``resolved_at``, the last ``CLOSED``/``BACKLOG`` event (else ``updated_at``) is used.

    The first-response clock stops at the first response, or at the resolution when the
    request was resolved without one. The *running clock* is the first-response clock while
    it runs, else the resolution clock; ``due_at``, ``at_risk_at`` and ``remaining_seconds``
    describe it (None once both clocks stopped).

    ``state`` is the worst of the two clocks: ``breached`` if either clock breached (a late
    first response stays visible until the end), else ``met`` once both stopped, else
    ``paused`` while pending, else ``at_risk`` if either running clock is at risk, else
    ``ok``. ``none`` when no policy applies or the request was deleted.

    Args:
        request: the request (its ``type``, ``priority`` and ``fields`` select the policy).
        events: its timeline (any order; events after ``now`` are ignored).
        cfg: policies, calendar, at-risk ratio, pending labels.
        now: the injected clock (timezone-aware).
        priority_since: ``(when, previous priority)`` when ``request.priority`` was set by hand
            (an override or a ``priority:Pn`` label) at ``when``: the policy of the previous
            priority governs the clocks before that moment and the current one from then on
            (see :func:`evaluate_clock`), so a change never rewrites the past.
        customer_policies: customer key → SLA policy name; a request of such a customer gets
            that policy whatever its type and priority (see :func:`select_policy`).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if request.status == Status.DELETED:
        return SlaInfo(state="none", reason="Deleted: no SLA.")
    policy = select_policy(request, cfg.policies, customer_policies)
    if policy is None:
        return SlaInfo(state="none", reason="No SLA policy applies to this request.")

    now = now.astimezone(UTC)
    pauses = pause_intervals(request, events, cfg, now=now)
    resolved = _resolution_time(request, events)
    responded = request.first_response_at
    # Comparisons below must be on UTC: aware datetimes sharing a ZoneInfo compare by wall
    # time, which is wrong inside a DST fall-back hour.
    resolved = resolved.astimezone(UTC) if resolved is not None else None
    responded = responded.astimezone(UTC) if responded is not None else None
    if resolved is not None and (responded is None or resolved < responded):
        responded = resolved

    fr_kind, res_kind = policy.first_response_calendar, policy.resolution_calendar
    previous = _previous_policy(request, cfg, policy, priority_since, customer_policies)
    changed_at = priority_since[0].astimezone(UTC) if previous is not None and priority_since else None

    def clock(name: ClockName, stop: datetime | None) -> ClockStatus:
        kind, hours = (fr_kind, policy.first_response) if name == "first_response" else (res_kind, policy.resolution)
        cal, budget = calendar_from_config(cfg.calendar, kind), hours * 3600.0
        if previous is None or changed_at is None:
            return evaluate_clock(name, cal, start=request.created_at, budget=budget, stop=stop, pauses=pauses,
                                  now=now, at_risk_ratio=cfg.at_risk_ratio)
        old_kind, old_hours = ((previous.first_response_calendar, previous.first_response) if name == "first_response"
                               else (previous.resolution_calendar, previous.resolution))
        return evaluate_clock(
            name, calendar_from_config(cfg.calendar, old_kind), start=request.created_at, budget=old_hours * 3600.0,
            stop=stop, pauses=pauses, now=now, at_risk_ratio=cfg.at_risk_ratio,
            switch=BudgetSwitch(changed_at, budget, cal),
        )

    fr = clock("first_response", responded)
    res = clock("resolution", resolved)
    targets = {
        "first_response": describe_target(policy.first_response, fr_kind, cfg.calendar),
        "resolution": describe_target(policy.resolution, res_kind, cfg.calendar),
    }

    running = fr if fr.running else res if res.running else None
    state = _overall_state(fr, res, running)
    detail = _detail(fr, res, running, state, targets)

    since = ""
    if previous is not None and changed_at is not None and changed_at <= now:
        local = changed_at.astimezone(ZoneInfo(cfg.calendar.timezone))
        since = f" It applies from the priority change on {local:%d %b %H:%M}; {previous.name} before."
    return SlaInfo(
        state=state,
        first_response_due=fr.due,
        resolution_due=res.due,
        remaining_seconds=running.remaining if running else None,
        at_risk_at=running.at_risk_at if running else None,
        due_at=running.due if running else None,
        policy=policy.name,
        reason=f"{policy.name} policy: {detail}.{since}",
    )
