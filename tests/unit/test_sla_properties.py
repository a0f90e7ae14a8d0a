"""Properties of the SLA engine (hypothesis, derandomized so runs are reproducible).

* While a clock runs, the remaining time never increases as ``now`` advances.
* Pausing never makes a request breach earlier: adding pause intervals never moves a due
  time earlier and never leaves less time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idqueue.config import CalendarConfig, SlaConfig
from idqueue.domain.models import EventKind, Person, Request, SourceKind, TimelineEvent
from idqueue.domain.sla import compute_sla

NY = ZoneInfo("America/New_York")
REQUESTER = Person("alice", "Alice")
CONFIGS = {
    "business": SlaConfig(calendar=CalendarConfig(holidays=[date(2026, 7, 3), date(2026, 11, 26)])),
    "24x7": SlaConfig(calendar=CalendarConfig(always_on=True)),
}
PROPS = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow])

# Creation times over a year that includes both 2026 DST changes; minute resolution.
created_at = st.integers(0, 60 * 24 * 365).map(lambda m: datetime(2026, 1, 1, tzinfo=NY) + timedelta(minutes=m))
minutes = st.integers(0, 60 * 24 * 21)
# Sorted distinct offsets (minutes after creation), paired up into disjoint pauses.
pause_offsets = st.lists(st.integers(0, 60 * 24 * 14), unique=True, max_size=10).map(
    lambda xs: [(a, b) for a, b in zip(sorted(xs)[::2], sorted(xs)[1::2], strict=False)]
)
starters = st.sampled_from(["pending", "label"])
enders = st.sampled_from(["resumed", "requester", "unlabel"])
# How each of (up to) five pauses starts and ends.
pause_kinds = st.lists(st.tuples(starters, enders), min_size=5, max_size=5)
request_types = st.sampled_from(["Help Request", "Bug Fix"])
calendars = st.sampled_from(sorted(CONFIGS))


def make_request(type_: str, created: datetime, *, responded: bool) -> Request:
    return Request(
        id="slack:C1/1.0",
        key="REQ-1",
        sources=[SourceKind("slack")],
        title="t",
        body="",
        requester=REQUESTER,
        type=type_,
        created_at=created.astimezone(UTC),
        first_response_at=created.astimezone(UTC) if responded else None,
    )


def pause_events(created: datetime, pairs: list[tuple[int, int]], how: list[tuple[str, str]]) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    for i, ((a, b), (start, end)) in enumerate(zip(pairs, how, strict=False)):
        t0, t1 = created + timedelta(minutes=a), created + timedelta(minutes=b)
        if start == "pending":
            events.append(TimelineEvent(f"p{i}", "slack:C1/1.0", EventKind.PENDING, t0, actor_id="bob"))
        else:
            events.append(TimelineEvent(f"p{i}", "slack:C1/1.0", EventKind.LABELED, t0, actor_id="bob",
                                        data={"label": "pending"}))
        if end == "resumed":
            events.append(TimelineEvent(f"r{i}", "slack:C1/1.0", EventKind.RESUMED, t1, actor_id="bob"))
        elif end == "requester":
            events.append(TimelineEvent(f"r{i}", "slack:C1/1.0", EventKind.MESSAGE, t1, actor_id="alice"))
        else:
            events.append(TimelineEvent(f"r{i}", "slack:C1/1.0", EventKind.UNLABELED, t1, actor_id="bob",
                                        data={"label": "Pending"}))
    return events


@PROPS
@given(
    type_=request_types,
    calendar=calendars,
    responded=st.booleans(),
    created=created_at,
    pairs=pause_offsets,
    how=pause_kinds,
    nows=st.lists(minutes, min_size=2, max_size=6),
)
def test_remaining_never_increases_while_the_clock_runs(
    type_: str, calendar: str, responded: bool, created: datetime,
    pairs: list[tuple[int, int]], how: list[tuple[str, str]], nows: list[int],
) -> None:
    # responded=False: the first-response clock runs throughout; True: it stopped at once
    # and the resolution clock is the running one. Either way the running clock is fixed.
    request = make_request(type_, created, responded=responded)
    events = pause_events(created, pairs, how)
    previous: float | None = None
    for offset in sorted(nows):
        info = compute_sla(request, events, CONFIGS[calendar], now=created + timedelta(minutes=offset))
        assert info.remaining_seconds is not None
        if previous is not None:
            assert info.remaining_seconds <= previous
        previous = info.remaining_seconds
        if info.state == "paused":
            assert info.due_at is None
        elif info.due_at is not None and info.at_risk_at is not None:
            assert info.at_risk_at <= info.due_at


@PROPS
@given(
    type_=request_types,
    calendar=calendars,
    responded=st.booleans(),
    created=created_at,
    pairs=pause_offsets,
    keep=st.lists(st.booleans(), min_size=5, max_size=5),
    how=pause_kinds,
    after=minutes,
)
def test_pausing_never_moves_a_due_time_earlier(
    type_: str, calendar: str, responded: bool, created: datetime, pairs: list[tuple[int, int]],
    keep: list[bool], how: list[tuple[str, str]], after: int,
) -> None:
    request = make_request(type_, created, responded=responded)
    base_pairs = [p for p, k in zip(pairs, keep, strict=False) if k]
    base_how = [h for h, k in zip(how, keep, strict=False) if k]
    # Evaluate after every pause has ended, so all due times are known.
    last = max((b for _, b in pairs), default=0)
    now = created + timedelta(minutes=last + after)
    cfg = CONFIGS[calendar]
    fewer = compute_sla(request, pause_events(created, base_pairs, base_how), cfg, now=now)
    more = compute_sla(request, pause_events(created, pairs, how), cfg, now=now)

    for attr in ("due_at", "first_response_due", "resolution_due", "at_risk_at"):
        a, b = getattr(fewer, attr), getattr(more, attr)
        assert (a is None) == (b is None), attr
        if a is not None:
            assert b >= a, attr
    assert fewer.remaining_seconds is not None and more.remaining_seconds is not None
    assert more.remaining_seconds >= fewer.remaining_seconds
    if more.state == "breached":
        assert fewer.state == "breached"
