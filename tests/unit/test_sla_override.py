"""A manual priority change applies from its moment on, never to the past (SLA engine + assembler)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from outbox_env import BEN, REPO, WritebackEnv, make_env

from idqueue.config import CalendarConfig, SlaConfig, SlaPolicy
from idqueue.domain.models import Request, SourceKind, Status
from idqueue.domain.sla import compute_sla
from idqueue.sandbox.runner import Sandbox

H = 3600.0
# Mon 9 Mar 2026, 09:00 in New York (EDT, UTC-4).
CREATED = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
DEFAULTS = SlaConfig()  # Standard: 8 business hours to first response; P1: 1 business hour; 48 h resolution
FAST = SlaConfig(policies=[
    SlaPolicy(name="P1", priorities=["P1"], first_response=1.0, resolution=8.0),
    SlaPolicy(name="Standard", first_response=8.0, resolution=48.0),
], calendar=CalendarConfig(always_on=True))


def request(priority: str, *, fr: datetime | None = None) -> Request:
    return Request(
        id="gh:va/identity#1", key="REQ-1", sources=[SourceKind("github")], title="Need help", body="", requester=None,
        type="Help Request", fields={}, status=Status.ACKNOWLEDGED if fr else Status.NEW, priority=priority,
        created_at=CREATED, updated_at=CREATED, first_response_at=fr,
    )


def test_answered_request_made_p1_keeps_its_met_first_response() -> None:
    # Answered after 6 business hours: met under Standard (8 h), late under P1 (1 h).
    answered = CREATED + timedelta(hours=6)
    override_at = CREATED + timedelta(hours=25)
    now = CREATED + timedelta(hours=31)
    req = request("P1", fr=answered)
    whole_life = compute_sla(req, [], DEFAULTS, now=now)
    assert whole_life.state == "breached"  # what the override did before: a positive countdown shown as breached
    fixed = compute_sla(req, [], DEFAULTS, now=now, priority_since=(override_at, "P3"))
    assert fixed.state == "ok"
    assert fixed.remaining_seconds == pytest.approx(17 * H)  # the 48 h resolution clock: 31 h used
    assert "missed" not in fixed.reason
    assert "from the priority change on 10 Mar 10:00; Standard before" in fixed.reason


def test_running_clock_keeps_its_share_of_the_budget() -> None:
    override_at = CREATED + timedelta(hours=12)  # 12 of 48 h used: a quarter
    now = override_at + timedelta(hours=1)
    sla = compute_sla(request("P1", fr=CREATED + timedelta(minutes=30)), [], FAST, now=now,
                      priority_since=(override_at, "P3"))
    # A quarter of P1's 8 h is carried over: 6 h left at the override, 5 h an hour later.
    assert sla.remaining_seconds == pytest.approx(5 * H)
    assert sla.due_at == override_at + timedelta(hours=6)
    assert sla.resolution_due == override_at + timedelta(hours=6)
    assert sla.at_risk_at == override_at + timedelta(hours=4)  # 75 % of 8 h = 6 h; 2 h carried
    assert sla.state == "ok"


def test_lowering_the_priority_gives_more_time_from_then_on() -> None:
    override_at = CREATED + timedelta(hours=4)  # half of P1's 8 h used
    now = override_at + timedelta(hours=1)
    sla = compute_sla(request("P3", fr=CREATED + timedelta(minutes=30)), [], FAST, now=now,
                      priority_since=(override_at, "P1"))
    assert sla.remaining_seconds == pytest.approx(23 * H)  # half of 48 h = 24 h left at the change
    assert sla.state == "ok"


def test_a_clock_breached_before_the_change_stays_breached() -> None:
    override_at = CREATED + timedelta(hours=50)  # the 48 h budget ran out 2 h earlier
    now = override_at + timedelta(hours=1)
    sla = compute_sla(request("P4", fr=CREATED + timedelta(minutes=30)), [], FAST, now=now,
                      priority_since=(override_at, "P1"))
    assert sla.state == "breached"
    assert sla.due_at == CREATED + timedelta(hours=8)  # when it breached under P1


def test_a_change_in_the_future_or_to_the_same_policy_changes_nothing() -> None:
    now = CREATED + timedelta(hours=2)
    req = request("P1", fr=CREATED + timedelta(minutes=30))
    plain = compute_sla(request("P3", fr=CREATED + timedelta(minutes=30)), [], FAST, now=now)
    later = compute_sla(req, [], FAST, now=now, priority_since=(now + timedelta(hours=1), "P3"))
    assert (later.state, later.remaining_seconds) == (plain.state, plain.remaining_seconds)
    same = compute_sla(request("P3"), [], FAST, now=now, priority_since=(CREATED + timedelta(hours=1), "P3"))
    assert same == compute_sla(request("P3"), [], FAST, now=now)


def test_a_priority_label_counts_from_its_labeled_event(tmp_path: Path, empty_sandbox: Sandbox) -> None:
    env = make_env(empty_sandbox, tmp_path)
    rid = _answered_request(env)
    env.sb.clock.advance(timedelta(hours=20))
    env.gh.add_labels(REPO, 1, ["priority:P1"], actor=BEN.github)
    env.sync()
    request_ = env.store.get_request(rid)
    assert request_ is not None and request_.priority == "P1"
    assert request_.sla.state != "breached", request_.sla.reason
    assert "from the priority change" in request_.sla.reason


def test_override_through_the_actions_records_its_time(tmp_path: Path, empty_sandbox: Sandbox) -> None:
    env = make_env(empty_sandbox, tmp_path)
    rid = _answered_request(env)
    env.sb.clock.advance(timedelta(hours=20))
    env.actions().set_priority(rid, "P1")
    request_ = env.store.get_request(rid)
    assert request_ is not None and request_.priority == "P1"
    assert request_.sla.state == "ok", request_.sla.reason
    assert env.store.local_of(rid)["priority_override_at"] == env.clock()
    env.actions().set_priority(rid, "auto")
    back = env.store.get_request(rid)
    assert back is not None and back.priority_override is None
    assert env.store.local_of(rid)["priority_override_at"] is None


def _answered_request(env: WritebackEnv) -> str:
    """A GitHub request answered by a teammate 3 business hours after it came in (late for P1)."""
    rid = env.github_request("Where is the sign-in guide?", "I cannot find the page about the guide.")
    env.sb.clock.advance(timedelta(hours=3))
    env.gh.add_comment(REPO, 1, "Looking into it.", user=BEN.github)
    env.sync()
    request_ = env.store.get_request(rid)
    assert request_ is not None and request_.first_response_at is not None and request_.priority != "P1"
    return rid

