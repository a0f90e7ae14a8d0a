"""Fencing tokens, in-flight horizons and the writers' reconcile hook, with scripted writers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from idqueue.config import ConfigError, Settings, load_settings
from idqueue.outbox.dispatcher import RECONCILE_MARGIN, Dispatcher
from idqueue.outbox.models import (
    Action,
    ActionKind,
    ActionState,
    LeaseLost,
    TimedOut,
    before_write,
    fenced,
)
from idqueue.outbox.store import OutboxStore
from idqueue.store.db import Store

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def _action(aid: str = "a1", request: str = "gh:o/r#1") -> Action:
    return Action(
        id=aid, request_id=request, kind=ActionKind.REPLY, target="github", params={"repo": "o/r", "number": 1},
        text="hello", state=ActionState.QUEUED, attempts=0, last_error=None, next_attempt_at=None, created_at=NOW,
        sent_at=None, group_id="g", summary=f"do {aid}",
    )


@pytest.fixture
def store(db_target: str | Path) -> Store:
    return Store.open(db_target)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db=tmp_path / "db.sqlite", outbox={"request_timeout": 20, "inflight_horizon": 90,
                                                       "lease_seconds": 180})


def _claim(box: OutboxStore, owner: str, now: datetime, *, dead: bool = False) -> Action | None:
    claim = box.claim(owner, now=now, lease_seconds=60, targets=None, owner_dead=lambda _o: dead)
    return claim.action if claim else None


# --------------------------------------------------------------------------- the store


def test_every_claim_bumps_the_fence_and_only_the_current_token_passes(store: Store) -> None:
    box = OutboxStore(store)
    box.insert([_action()])
    first = _claim(box, "p1", NOW)
    assert first is not None and first.fence == 1 and first.first_attempt_at == NOW
    assert box.fence("a1", "p1", 1, now=NOW + timedelta(seconds=30), lease_seconds=60)  # renewed
    # p1 is paused past its renewed lease; p2 takes over.
    second = _claim(box, "p2", NOW + timedelta(seconds=91))
    assert second is not None and second.fence == 2 and second.first_attempt_at == NOW
    later = NOW + timedelta(seconds=95)
    assert not box.fence("a1", "p1", 1, now=later, lease_seconds=60)
    assert not box.mark_sent("a1", "p1", now=later, result={}, token=1)
    assert box.fence("a1", "p2", 2, now=later, lease_seconds=60)
    assert box.mark_sent("a1", "p2", now=later, result={"ok": True}, token=2)


def test_a_write_in_flight_holds_the_action_even_from_a_dead_owner(store: Store) -> None:
    box = OutboxStore(store)
    box.insert([_action()])
    assert _claim(box, "p1", NOW) is not None
    assert box.fence("a1", "p1", 1, now=NOW, lease_seconds=60, inflight_until=NOW + timedelta(seconds=110))
    # The owner died mid-request: its lease does not matter, the request may still be applied.
    assert _claim(box, "p2", NOW + timedelta(seconds=100), dead=True) is None
    assert box.next_due() == NOW + timedelta(seconds=110)
    taken = _claim(box, "p2", NOW + timedelta(seconds=110), dead=True)
    assert taken is not None and taken.fence == 2


def test_a_write_that_answered_frees_a_dead_owners_action_at_once(store: Store) -> None:
    box = OutboxStore(store)
    box.insert([_action()])
    assert _claim(box, "p1", NOW) is not None
    box.fence("a1", "p1", 1, now=NOW, lease_seconds=60, inflight_until=NOW + timedelta(seconds=110))
    assert box.landed("a1", "p1", 1)
    assert _claim(box, "p2", NOW + timedelta(seconds=1), dead=True) is not None


def test_a_user_retry_does_not_race_a_write_in_flight(store: Store) -> None:
    box = OutboxStore(store)
    box.insert([_action()])
    assert _claim(box, "p1", NOW) is not None
    box.give_up("a1", "p1", now=NOW, state=ActionState.FAILED, error="timed out", token=1,
                inflight_until=NOW + timedelta(seconds=90))
    box.retry("a1", now=NOW + timedelta(seconds=1))
    assert _claim(box, "p1", NOW + timedelta(seconds=2)) is None
    assert box.next_due() == NOW + timedelta(seconds=90)
    assert _claim(box, "p1", NOW + timedelta(seconds=90)) is not None


# --------------------------------------------------------------------------- the dispatcher


class TakenOverWriter:
    """Sends after another dispatcher took the action over (this one was paused in between)."""

    target = "github"

    def __init__(self, box: OutboxStore, clock: Clock) -> None:
        self.box, self.clock = box, clock
        self.written: list[str] = []

    def send(self, action: Action, *, maybe_sent: bool) -> dict[str, Any]:
        self.clock.now += timedelta(seconds=500)  # the pause
        assert self.box.claim("other", now=self.clock(), lease_seconds=180, targets=None,
                              owner_dead=lambda _o: False) is not None
        before_write()  # the writer's check right before its POST
        self.written.append(action.id)
        return {"ok": True}

    def close(self) -> None:
        pass


def test_a_sender_taken_over_mid_send_neither_writes_nor_records(store: Store, settings: Settings) -> None:
    box = OutboxStore(store)
    box.insert([_action()])
    clock = Clock()
    writer = TakenOverWriter(box, clock)
    report = Dispatcher(store, settings, writers={"github": writer}, clock=clock, sleep=lambda _s: None).run_once()
    assert writer.written == [] and report.counts == {"sent": 0, "retrying": 0, "failed": 0, "needs_attention": 0}
    row = box.get("a1")
    assert row is not None and row.state is ActionState.SENDING and row.fence == 2  # the other one's
    assert [e.outcome for e in box.log("a1")][-2:] == ["recovered", "lease-lost"]


class ReconcilingWriter:
    target = "github"

    def __init__(self, found: dict[str, Any] | None, script: list[Any] | None = None) -> None:
        self.found = found
        self.script = list(script or [])
        self.lookups: list[datetime] = []
        self.sends: list[bool] = []

    def reconcile(self, action: Action, *, since: datetime) -> dict[str, Any] | None:
        self.lookups.append(since)
        return self.found

    def send(self, action: Action, *, maybe_sent: bool) -> dict[str, Any]:
        self.sends.append(maybe_sent)
        outcome = self.script.pop(0) if self.script else {"comment": {"id": 1}}
        if isinstance(outcome, Exception):
            raise outcome
        return dict(outcome)

    def close(self) -> None:
        pass


def test_a_timeout_waits_the_horizon_from_the_failure_then_looks_since_the_first_attempt(
    store: Store, settings: Settings
) -> None:
    box = OutboxStore(store)
    box.insert([_action()])
    clock = Clock()

    class SlowWriter(ReconcilingWriter):
        def send(self, action: Action, *, maybe_sent: bool) -> dict[str, Any]:
            clock.now += timedelta(seconds=20)  # the request's own timeout
            return super().send(action, maybe_sent=maybe_sent)

    writer = SlowWriter({"comment": {"id": 9}}, [TimedOut("slow")])
    d = Dispatcher(store, settings, writers={"github": writer}, clock=clock, sleep=lambda _s: None)
    assert d.run_once().counts["retrying"] == 1
    row = box.get("a1")
    assert row is not None and row.next_attempt_at == NOW + timedelta(seconds=20 + 90)  # from the timeout
    clock.now = NOW + timedelta(seconds=109)
    assert d.run_once().counts["sent"] == 0
    clock.now = NOW + timedelta(seconds=110)
    report = d.run_once()
    assert report.counts["sent"] == 1 and writer.sends == [False]  # found upstream, not resent
    assert writer.lookups == [NOW - RECONCILE_MARGIN]
    sent = box.get("a1")
    assert sent is not None and sent.result == {"comment": {"id": 9}, "reconciled": True}


def test_not_found_upstream_is_sent_with_maybe_sent(store: Store, settings: Settings) -> None:
    box = OutboxStore(store)
    box.insert([_action()])
    box.claim("gone:1:x", now=NOW, lease_seconds=60, targets=None, owner_dead=lambda _o: False)
    clock = Clock()
    clock.now = NOW + timedelta(seconds=61)
    writer = ReconcilingWriter(None)
    report = Dispatcher(store, settings, writers={"github": writer}, clock=clock, sleep=lambda _s: None).run_once()
    assert report.counts["sent"] == 1 and writer.lookups and writer.sends == [True]


def test_before_write_outside_a_dispatch_does_nothing_and_inside_runs_the_guard() -> None:
    before_write()
    calls: list[int] = []
    with fenced(lambda: calls.append(1)):
        before_write()
    before_write()
    assert calls == [1]

    def lost() -> None:
        raise LeaseLost("taken over")

    with fenced(lost), pytest.raises(LeaseLost):
        before_write()


# --------------------------------------------------------------------------- settings


def test_outbox_settings_from_the_environment_and_their_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[outbox]\nrequest_timeout = 5\ninflight_horizon = 10\nlease_seconds = 30\n", encoding="utf-8")
    monkeypatch.setenv("IDQUEUE_CONFIG_FILE", str(config))
    monkeypatch.setenv("IDQUEUE_OUTBOX__LEASE_SECONDS", "40")
    loaded = load_settings()
    assert (loaded.outbox.request_timeout, loaded.outbox.inflight_horizon, loaded.outbox.lease_seconds) == (5, 10, 40)
    monkeypatch.setenv("IDQUEUE_OUTBOX__LEASE_SECONDS", "12")
    with pytest.raises(ConfigError, match="lease_seconds"):
        load_settings()
