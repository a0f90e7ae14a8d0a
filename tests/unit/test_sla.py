"""SLA engine: table-driven with a frozen clock (no wall-clock reads anywhere)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from idqueue.config import CalendarConfig, SlaConfig, SlaPolicy
from idqueue.domain.models import EventKind, Person, Request, SourceKind, Status, TimelineEvent
from idqueue.domain.sla import (
    compute_sla,
    describe_remaining,
    describe_target,
    impacts_production,
    pause_intervals,
    select_policy,
)

NY = ZoneInfo("America/New_York")
H = 3600.0
M = 60.0
REQUESTER = Person("alice", "Alice Requester")
CFG = SlaConfig(calendar=CalendarConfig(holidays=[date(2026, 7, 3)]))


def ny(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=NY)


# 2026-03-02 is a Monday; 2026-02-27 a Friday.
MON = (2026, 3, 2)
TUE = (2026, 3, 3)
WED = (2026, 3, 4)
MON_10 = ny(*MON, 10)




def make_request(
    type: str = "Help Request",
    created: datetime = MON_10,
    *,
    fr: datetime | None = None,
    resolved: datetime | None = None,
    status: Status = Status.NEW,
    fields: dict[str, str] | None = None,
    priority: str = "P3",
) -> Request:
    return Request(
        id="gh:va/identity#1",
        key="REQ-1",
        sources=[SourceKind("github")],
        title="Need help",
        body="",
        requester=REQUESTER,
        type=type,
        fields=fields or {},
        status=status,
        priority=priority,
        created_at=created.astimezone(UTC),
        updated_at=created.astimezone(UTC),
        first_response_at=fr,
        resolved_at=resolved,
    )


_seq = 0


def ev(kind: EventKind, at: datetime, actor: str = "bob", *, label: str | None = None, bot: bool = False) -> TimelineEvent:
    global _seq
    _seq += 1
    return TimelineEvent(
        uid=f"e{_seq}",
        item_id="gh:va/identity#1",
        kind=kind,
        at=at,
        actor_id=actor,
        is_bot=bot,
        data={"label": label} if label else {},
    )


@dataclass
class Case:
    id: str
    request: Request
    now: datetime
    events: list[TimelineEvent] = field(default_factory=list)
    expect: dict[str, Any] = field(default_factory=dict)
    reason: str = ""  # exact reason, when given


CASES = [
    # -- first response, business hours -------------------------------------------------
    Case("standard ok", make_request(), ny(*MON, 12),
         expect={"state": "ok", "policy": "Standard", "remaining_seconds": 6 * H,
                 "first_response_due": ny(*TUE, 10), "due_at": ny(*TUE, 10),
                 "at_risk_at": ny(*MON, 16), "resolution_due": ny(*WED, 10)},
         reason="Standard policy: first response within 1 business day; 6h 00m left."),
    Case("standard at risk at 75 %", make_request(), ny(*MON, 16),
         expect={"state": "at_risk", "remaining_seconds": 2 * H}),
    Case("standard just under the at-risk line", make_request(), ny(*MON, 15, 59),
         expect={"state": "ok"}),
    Case("standard breached overnight", make_request(), ny(*TUE, 10, 30),
         expect={"state": "breached", "remaining_seconds": -30 * M, "due_at": ny(*TUE, 10)},
         reason="Standard policy: first response within 1 business day; overdue 30m."),
    Case("breached exactly at the due time", make_request(), ny(*TUE, 10),
         expect={"state": "breached", "remaining_seconds": 0.0}),
    Case("engineering at risk", make_request("Bug Fix"), ny(*MON, 10, 45),
         expect={"state": "at_risk", "policy": "Engineering", "remaining_seconds": 15 * M,
                 "due_at": ny(*MON, 11), "at_risk_at": ny(*MON, 10, 45)},
         reason="Engineering policy: first response within 1 business hour; 15m left."),
    Case("engineering over a weekend: worst clock (48 h) wins",
         make_request("Bug Fix", ny(2026, 2, 27, 16, 30)), ny(*MON, 9, 15),
         expect={"state": "breached", "remaining_seconds": 15 * M, "due_at": ny(*MON, 9, 30),
                 "resolution_due": ny(2026, 3, 1, 16, 30)},
         reason="Engineering policy: first response within 1 business hour; 15m left; "
                "resolution within 48 h; overdue 16h 45m."),
    Case("created at night: clock starts at opening", make_request("Bug Fix", ny(*MON, 20)), ny(*TUE, 8, 59),
         expect={"state": "ok", "remaining_seconds": H, "due_at": ny(*TUE, 10)}),
    Case("production impact: 1 business hour", make_request(fields={"impacts_production": "Yes"}), ny(*MON, 10, 30),
         expect={"state": "ok", "policy": "Urgent (production)", "remaining_seconds": 30 * M,
                 "due_at": ny(*MON, 11)}),
    Case("P1 priority: 1 business hour", make_request(priority="P1"), ny(*MON, 10, 30),
         expect={"policy": "Urgent priority", "remaining_seconds": 30 * M}),
    Case("holiday skipped", make_request("Bug Fix", ny(2026, 7, 2, 16, 30)), ny(2026, 7, 6, 9),
         expect={"remaining_seconds": 30 * M, "first_response_due": ny(2026, 7, 6, 9, 30)}),
    Case("DST spring forward", make_request(created=ny(2026, 3, 6, 15)), ny(2026, 3, 9, 14),
         expect={"remaining_seconds": H, "first_response_due": ny(2026, 3, 9, 15),
                 "resolution_due": ny(2026, 3, 8, 16)}),  # 48 real hours: 15:00 EST → 16:00 EDT
    Case("DST fall back", make_request(created=ny(2026, 10, 30, 15)), ny(2026, 11, 2, 14),
         expect={"remaining_seconds": H, "first_response_due": ny(2026, 11, 2, 15),
                 "resolution_due": ny(2026, 11, 1, 14)}),
    # -- met vs breached, resolution -----------------------------------------------------
    Case("first response met, resolution running", make_request("Bug Fix", fr=ny(*MON, 10, 40)), ny(*MON, 12),
         expect={"state": "ok", "remaining_seconds": 46 * H, "due_at": ny(*WED, 10),
                 "first_response_due": ny(*MON, 11)},
         reason="Engineering policy: resolution within 48 h; 46h 00m left."),
    Case("late first response stays breached", make_request("Bug Fix", fr=ny(*MON, 11, 30)), ny(*MON, 12),
         expect={"state": "breached", "remaining_seconds": 46 * H},
         reason="Engineering policy: resolution within 48 h; 46h 00m left; "
                "first response missed its target (1 business hour) by 30m."),
    Case("both met", make_request(fr=ny(*MON, 11), resolved=ny(*TUE, 15), status=Status.CLOSED), ny(2026, 3, 6),
         expect={"state": "met", "remaining_seconds": None, "due_at": None, "at_risk_at": None,
                 "first_response_due": ny(*TUE, 10), "resolution_due": ny(*WED, 10)},
         reason="Standard policy: first response and resolution met their targets (1 business day, 48 h)."),
    Case("48 h rule: backlog at 47 h is resolved in time",
         make_request(fr=ny(*MON, 11), resolved=ny(*WED, 9), status=Status.BACKLOG), ny(2026, 3, 6),
         expect={"state": "met"}),
    Case("48 h rule: backlog at 49 h is breached",
         make_request(fr=ny(*MON, 11), resolved=ny(*WED, 11), status=Status.BACKLOG), ny(2026, 3, 6),
         expect={"state": "breached", "remaining_seconds": None},
         reason="Standard policy: resolution missed its target (48 h) by 1h 00m."),
    Case("48 h rule: backlog event when resolved_at is missing",
         make_request(fr=ny(*MON, 11), status=Status.BACKLOG), ny(2026, 3, 6),
         events=[ev(EventKind.BACKLOG, ny(*WED, 9, 30))], expect={"state": "met"}),
    Case("48 h rule runs over the weekend", make_request(created=ny(2026, 2, 27, 10), fr=ny(2026, 2, 27, 10, 30)),
         ny(2026, 3, 1, 10, 1), expect={"state": "breached", "remaining_seconds": -M}),
    Case("48 h rule: at risk after 36 h", make_request(created=ny(2026, 2, 27, 10), fr=ny(2026, 2, 27, 10, 30)),
         ny(2026, 2, 28, 22), expect={"state": "at_risk", "remaining_seconds": 12 * H}),
    Case("closed without a response stops both clocks",
         make_request(resolved=ny(*MON, 12), status=Status.CLOSED), ny(2026, 3, 20),
         expect={"state": "met"}),
    Case("resolution in the future of now is not known yet",
         make_request(fr=ny(*MON, 11), resolved=ny(*TUE, 12), status=Status.CLOSED), ny(*MON, 12),
         expect={"state": "ok", "remaining_seconds": 46 * H}),
    Case("open for 13 months", make_request(created=ny(2025, 10, 15, 11)), ny(2026, 11, 20, 11),
         expect={"state": "breached", "first_response_due": ny(2025, 10, 16, 11)}),
    # -- pause / resume -----------------------------------------------------------------
    Case("pending label pauses the clock", make_request(), ny(*MON, 15),
         events=[ev(EventKind.LABELED, ny(*MON, 11), label="Pending")],
         expect={"state": "paused", "remaining_seconds": 7 * H, "first_response_due": None,
                 "resolution_due": None, "due_at": None, "at_risk_at": None},
         reason="Standard policy: clock paused while waiting on the requester; "
                "first response within 1 business day, 7h 00m left."),
    Case("requester reply resumes", make_request(), ny(*TUE, 11),
         events=[ev(EventKind.LABELED, ny(*MON, 11), label="pending"),
                 ev(EventKind.COMMENT, ny(*TUE, 10), actor="alice")],
         expect={"state": "ok", "remaining_seconds": 6 * H, "first_response_due": ny(*TUE, 17),
                 "resolution_due": ny(2026, 3, 5, 9)}),
    Case("RESUMED event resumes", make_request(), ny(*TUE, 11),
         events=[ev(EventKind.PENDING, ny(*MON, 11)), ev(EventKind.RESUMED, ny(*TUE, 10))],
         expect={"state": "ok", "remaining_seconds": 6 * H}),
    Case("removing the label resumes", make_request(), ny(*TUE, 11),
         events=[ev(EventKind.LABELED, ny(*MON, 11), label="waiting-on-requester"),
                 ev(EventKind.UNLABELED, ny(*TUE, 10), label="Waiting-On-Requester")],
         expect={"state": "ok", "remaining_seconds": 6 * H}),
    Case("a teammate's comment does not resume", make_request(), ny(*TUE, 11),
         events=[ev(EventKind.PENDING, ny(*MON, 11)), ev(EventKind.COMMENT, ny(*TUE, 10), actor="carol")],
         expect={"state": "paused", "remaining_seconds": 7 * H}),
    Case("a bot posting as the requester does not resume", make_request(), ny(*TUE, 11),
         events=[ev(EventKind.PENDING, ny(*MON, 11)), ev(EventKind.MESSAGE, ny(*TUE, 10), actor="alice", bot=True)],
         expect={"state": "paused"}),
    Case("status pending without an event pauses from now", make_request(status=Status.PENDING), ny(*MON, 12),
         expect={"state": "paused", "remaining_seconds": 6 * H}),
    Case("a pause at night gives nothing back on business hours", make_request(), ny(*TUE, 9, 30),
         events=[ev(EventKind.PENDING, ny(*MON, 18)), ev(EventKind.RESUMED, ny(*TUE, 8))],
         expect={"state": "at_risk", "first_response_due": ny(*TUE, 10), "remaining_seconds": 30 * M}),
    Case("breached before the pause stays breached", make_request("Bug Fix"), ny(*MON, 15),
         events=[ev(EventKind.PENDING, ny(*MON, 11, 30))],
         expect={"state": "breached", "remaining_seconds": -30 * M, "due_at": ny(*MON, 11)}),
    Case("pause after the response only stops the resolution clock",
         make_request(fr=ny(*MON, 11)), ny(*WED, 12),
         events=[ev(EventKind.PENDING, ny(*MON, 12)), ev(EventKind.COMMENT, ny(*WED, 11), actor="alice")],
         expect={"state": "ok", "remaining_seconds": 45 * H, "resolution_due": ny(2026, 3, 6, 9)}),
    # -- no SLA -------------------------------------------------------------------------
    Case("deleted", make_request(status=Status.DELETED), ny(*MON, 12), expect={"state": "none", "policy": None}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_compute_sla(case: Case) -> None:
    info = compute_sla(case.request, case.events, CFG, now=case.now)
    got = {key: getattr(info, key) for key in case.expect}
    assert got == case.expect
    if case.reason:
        assert info.reason == case.reason


def test_no_policy_means_no_sla() -> None:
    cfg = SlaConfig(policies=[SlaPolicy(name="Bugs only", types=["Bug Fix"])])
    info = compute_sla(make_request(), [], cfg, now=ny(*MON, 12))
    assert info.state == "none"
    assert info.due_at is None


def test_at_risk_ratio_is_configurable() -> None:
    cfg = SlaConfig(at_risk_ratio=0.5)
    assert compute_sla(make_request(), [], cfg, now=ny(*MON, 14)).state == "at_risk"
    assert compute_sla(make_request(), [], CFG, now=ny(*MON, 14)).state == "ok"


def test_business_resolution_calendar_and_always_on_team() -> None:
    business = SlaConfig(policies=[SlaPolicy(name="Biz", resolution=16, resolution_calendar="business")])
    info = compute_sla(make_request(fr=ny(*MON, 11)), [], business, now=ny(*MON, 12))
    assert info.due_at == ny(2026, 3, 4, 10)  # two business days
    assert "2 business days" in info.reason
    always = SlaConfig(calendar=CalendarConfig(always_on=True))
    info = compute_sla(make_request(created=ny(2026, 2, 28, 10)), [], always, now=ny(2026, 2, 28, 12))
    assert info.first_response_due == ny(2026, 2, 28, 18)  # 8 hours on a Saturday
    assert info.remaining_seconds == 6 * H


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_sla(make_request(), [], CFG, now=datetime(2026, 3, 2, 12))


# ---------------------------------------------------------------------------------------

PAUSE_CASES = [
    ("pending then resumed", [ev(EventKind.PENDING, ny(*MON, 11)), ev(EventKind.RESUMED, ny(*MON, 12))],
     [(ny(*MON, 11), ny(*MON, 12))]),
    ("duplicate pending keeps the first start",
     [ev(EventKind.PENDING, ny(*MON, 11)), ev(EventKind.LABELED, ny(*MON, 11, 30), label="pending"),
      ev(EventKind.RESUMED, ny(*MON, 12))],
     [(ny(*MON, 11), ny(*MON, 12))]),
    ("resume without pause is ignored", [ev(EventKind.RESUMED, ny(*MON, 11))], []),
    ("other labels are ignored", [ev(EventKind.LABELED, ny(*MON, 11), label="bug")], []),
    ("still pending at now", [ev(EventKind.PENDING, ny(*MON, 11)), ev(EventKind.RESUMED, ny(*MON, 14))],
     [(ny(*MON, 11), None)]),
    ("unsorted log", [ev(EventKind.MESSAGE, ny(*MON, 12), actor="alice"), ev(EventKind.PENDING, ny(*MON, 11))],
     [(ny(*MON, 11), ny(*MON, 12))]),
    ("two pauses",
     [ev(EventKind.PENDING, ny(*MON, 9)), ev(EventKind.COMMENT, ny(*MON, 10), actor="alice"),
      ev(EventKind.UNLABELED, ny(*MON, 10, 30), label="pending"),
      ev(EventKind.PENDING, ny(*MON, 11)), ev(EventKind.RESUMED, ny(*MON, 12))],
     [(ny(*MON, 9), ny(*MON, 10)), (ny(*MON, 11), ny(*MON, 12))]),
]


@pytest.mark.parametrize(("why", "events", "expected"), PAUSE_CASES, ids=[c[0] for c in PAUSE_CASES])
def test_pause_intervals(why: str, events: list[TimelineEvent], expected: list[tuple[datetime, datetime | None]]) -> None:
    assert pause_intervals(make_request(), events, CFG, now=ny(*MON, 13)) == expected


def test_pause_label_stored_as_github_label_object() -> None:
    event = ev(EventKind.LABELED, ny(*MON, 11))
    event.data = {"label": {"name": "Pending", "color": "ededed"}}
    assert pause_intervals(make_request(), [event], CFG, now=ny(*MON, 13)) == [(ny(*MON, 11), None)]


POLICY_CASES = [
    ("Help Request", "P3", {}, "Standard"),
    ("Bug Fix", "P3", {}, "Engineering"),
    ("bug fix", "P3", {}, "Engineering"),
    ("PR Review", "P2", {}, "Engineering"),
    ("Help Request", "P1", {}, "Urgent priority"),
    ("Data Pull", "P3", {"impacts_production": "Yes"}, "Urgent (production)"),
    ("Data Pull", "P3", {"impacts_production": "yes - sign-in is down"}, "Urgent (production)"),
    ("Data Pull", "P3", {"impacts_production": "No"}, "Standard"),
    ("Data Pull", "P3", {"impacts_production": "_No response_"}, "Standard"),
]


@pytest.mark.parametrize(("type_", "priority", "fields", "name"), POLICY_CASES)
def test_select_policy(type_: str, priority: str, fields: dict[str, str], name: str) -> None:
    policy = select_policy(make_request(type_, fields=fields, priority=priority), CFG.policies)
    assert policy is not None
    assert policy.name == name


def test_select_policy_none_and_negative_filter() -> None:
    assert select_policy(make_request(), []) is None
    not_prod = [SlaPolicy(name="Not prod", impacts_production=False)]
    assert select_policy(make_request(), not_prod) is not None
    assert select_policy(make_request(fields={"impacts_production": "**Yes**"}), not_prod) is None
    assert impacts_production(make_request(fields={"impacts_production": "TRUE"}))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0m"), (30, "1m"), (45 * M, "45m"), (3 * H + 10 * M, "3h 10m"), (-(2 * H + 5 * M), "-2h 05m"),
     (-20, "-1m"), (99 * H + 59 * M, "99h 59m"), (130 * H + 5 * M, "130h"), (-2340 * H, "-2340h")],
)
def test_describe_remaining(seconds: float, text: str) -> None:
    assert describe_remaining(seconds) == text


@pytest.mark.parametrize(
    ("hours", "kind", "text"),
    [(1, "business", "1 business hour"), (8, "business", "1 business day"), (16, "business", "2 business days"),
     (4, "business", "4 business hours"), (0.5, "business", "0.5 business hours"), (48, "24x7", "48 h")],
)
def test_describe_target(hours: float, kind: Any, text: str) -> None:
    assert describe_target(hours, kind, CalendarConfig()) == text
