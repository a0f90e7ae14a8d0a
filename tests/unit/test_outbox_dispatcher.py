"""The dispatcher with scripted writers: outcomes, backoff, reconciliation flags, local updates."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from idqueue.config import Settings
from idqueue.domain.models import (
    Person,
    Request,
    SourceItem,
    SourceKind,
    Status,
    TimelineEvent,
)
from idqueue.integrations.base import AuthError, RateLimited, Unavailable, ValidationFailed
from idqueue.outbox import dispatcher as dispatcher_mod
from idqueue.outbox.dispatcher import Dispatcher, owner_dead
from idqueue.outbox.models import (
    LINK_PLACEHOLDER,
    Action,
    ActionKind,
    ActionState,
    ConflictError,
    TimedOut,
)
from idqueue.outbox.store import OutboxStore
from idqueue.store.db import Store

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class ScriptedWriter:
    """Answers from a script: a dict result, or an exception to raise, per call."""

    def __init__(self, target: str, script: list[Any] | None = None) -> None:
        self.target = target
        self.script = list(script or [])
        self.calls: list[tuple[str, bool, str | None]] = []

    def send(self, action: Action, *, maybe_sent: bool) -> dict[str, Any]:
        self.calls.append((action.id, maybe_sent, action.text))
        outcome = self.script.pop(0) if self.script else {"ok": True}
        if isinstance(outcome, Exception):
            raise outcome
        return dict(outcome)

    def close(self) -> None:
        pass


def _action(aid: str, *, request: str = "gh:o/r#1", kind: ActionKind = ActionKind.REPLY, target: str = "github",
            params: dict[str, Any] | None = None, text: str | None = "hello", group: str = "g") -> Action:
    return Action(
        id=aid, request_id=request, kind=kind, target=target, params=params or {"repo": "o/r", "number": 1},
        text=text, state=ActionState.QUEUED, attempts=0, last_error=None, next_attempt_at=None, created_at=NOW,
        sent_at=None, group_id=group, summary=f"do {aid}",
    )


def _simple_assembler(settings: Settings, now: datetime) -> Callable[..., Request]:
    def assemble(items: list[SourceItem], events: list[TimelineEvent], local: dict[str, str]) -> Request:
        first = sorted(items, key=lambda i: i.source.value)[0]
        assigned = [e for e in events if e.kind.value == "assigned"]
        status = Status.CLOSED if first.state == "closed" else (Status.ASSIGNED if first.assignees or assigned
                                                                else Status.NEW)
        return Request(
            id=first.id, key="", sources=[i.source for i in items], title=first.title, body=first.body,
            requester=first.requester, status=status,
            assignee=first.assignees[0] if first.assignees else (assigned[-1].data.get("assignee") if assigned
                                                                 else None),
            labels=list(first.labels), created_at=first.created_at, updated_at=first.updated_at,
            item_ids=sorted(i.id for i in items),
        )

    return assemble


@pytest.fixture
def store(db_target: str | Path) -> Store:
    return Store.open(db_target)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db=tmp_path / "db.sqlite", me="ana",
                    team={"ana": {"name": "Ana Reyes", "github": "ana-reyes", "slack": "U0ANA"}})


def _dispatcher(store: Store, settings: Settings, writers: dict[str, Any], clock: FakeClock,
                sleeps: list[float] | None = None, **kw: Any) -> Dispatcher:
    return Dispatcher(store, settings, writers=writers, clock=clock,
                      sleep=(sleeps.append if sleeps is not None else (lambda _s: None)),
                      assembler_factory=_simple_assembler, **kw)


def test_sends_in_order_and_throttles_between_writes(store: Store, settings: Settings) -> None:
    OutboxStore(store).insert([_action("a1"), _action("a2"), _action("b1", request="gh:o/r#2")])
    writer = ScriptedWriter("github")
    sleeps: list[float] = []
    report = _dispatcher(store, settings, {"github": writer}, FakeClock(), sleeps).run_once()
    assert [c[0] for c in writer.calls] == ["a1", "a2", "b1"]
    assert [c[1] for c in writer.calls] == [False, False, False]  # first attempts: no reconcile
    assert sleeps == [1.0, 1.0]  # between writes, not before the first
    assert report.counts["sent"] == 3 and report.touched == ["gh:o/r#1", "gh:o/r#2"]


def test_rate_limit_waits_until_then_reconciles(store: Store, settings: Settings) -> None:
    clock = FakeClock()
    OutboxStore(store).insert([_action("a1"), _action("a2")])
    until = NOW + timedelta(seconds=42)
    writer = ScriptedWriter("github", [RateLimited("limited", until=until)])
    d = _dispatcher(store, settings, {"github": writer}, clock)
    report = d.run_once()
    assert report.counts == {"sent": 0, "retrying": 1, "failed": 0, "needs_attention": 0}
    assert report.next_due == until
    assert writer.calls == [("a1", False, "hello")]  # a2 waits behind a1
    clock.now = until
    assert d.run_once().counts["sent"] == 2
    assert writer.calls[1] == ("a1", True, "hello")  # the retry reconciles first


def test_rate_limit_in_the_past_still_waits_a_second(store: Store, settings: Settings) -> None:
    OutboxStore(store).insert([_action("a1")])
    writer = ScriptedWriter("github", [RateLimited("limited", until=NOW - timedelta(seconds=5))])
    report = _dispatcher(store, settings, {"github": writer}, FakeClock()).run_once()
    assert report.retrying[0].next_attempt_at == NOW + timedelta(seconds=1)


def test_transient_backoff_then_failed(store: Store, settings: Settings) -> None:
    clock = FakeClock()
    OutboxStore(store).insert([_action("a1")])
    writer = ScriptedWriter("github", [Unavailable("502")] * 3)
    d = _dispatcher(store, settings, {"github": writer}, clock, max_attempts=3)
    waits = []
    for _ in range(3):
        report = d.run_once()
        if report.next_due:
            waits.append((report.next_due - clock.now).total_seconds())
            clock.now = report.next_due
    assert waits == [2.0, 4.0]
    box = OutboxStore(store)
    action = box.select()[0]
    assert action.state is ActionState.FAILED and action.last_error == "gave up after 3 attempts: 502"
    # A retry by the user gives it a fresh budget.
    box.retry("a1", now=clock.now)
    writer.script = [Unavailable("502 again")]
    report = d.run_once()
    assert report.counts["retrying"] == 1 and report.next_due == clock.now + timedelta(seconds=2)


def test_rate_limits_do_not_use_up_attempts_and_timeouts_wait_longer(store: Store, settings: Settings) -> None:
    clock = FakeClock()
    OutboxStore(store).insert([_action("a1")])
    script: list[Any] = [RateLimited("limited", until=NOW + timedelta(seconds=5))] * 4 + [TimedOut("slow")]
    writer = ScriptedWriter("github", script)
    d = _dispatcher(store, settings, {"github": writer}, clock, max_attempts=3)
    for _ in range(4):
        report = d.run_once()
        assert report.counts["retrying"] == 1, report.summary()
        clock.now = max(clock.now, report.next_due or clock.now)
    report = d.run_once()
    assert report.counts["retrying"] == 1  # the 5th attempt timed out: still retried
    assert report.next_due == clock.now + timedelta(seconds=settings.outbox.inflight_horizon)
    clock.now = report.next_due
    assert d.run_once().counts["sent"] == 1


@pytest.mark.parametrize("error", [AuthError("bad token"), ValidationFailed("422"), ConflictError("ben took it")])
def test_permanent_errors_need_attention(store: Store, settings: Settings, error: Exception) -> None:
    OutboxStore(store).insert([_action("a1"), _action("a2")])
    writer = ScriptedWriter("github", [error])
    report = _dispatcher(store, settings, {"github": writer}, FakeClock()).run_once()
    assert report.counts["needs_attention"] == 1 and len(writer.calls) == 1
    stopped = report.needs_attention[0]
    expected = f"conflict: {error}" if isinstance(error, ConflictError) else str(error)
    assert stopped.last_error == expected


def test_a_bug_in_a_writer_stops_the_action_instead_of_looping(store: Store, settings: Settings) -> None:
    OutboxStore(store).insert([_action("a1")])
    writer = ScriptedWriter("github", [ZeroDivisionError("oops ghp_secret123456789")])
    report = _dispatcher(store, settings, {"github": writer}, FakeClock()).run_once()
    error = report.needs_attention[0].last_error or ""
    assert error.startswith("internal error: ZeroDivisionError") and "ghp_secret" not in error


def test_missing_writer_leaves_actions_queued(store: Store, settings: Settings) -> None:
    OutboxStore(store).insert([_action("s1", target="slack"), _action("g1", request="gh:o/r#2")])
    writer = ScriptedWriter("github")
    report = _dispatcher(store, settings, {"github": writer}, FakeClock()).run_once()
    assert [c[0] for c in writer.calls] == ["g1"]
    assert report.blocked == ["slack writes are not configured (no slack token): actions wait"]
    waiting = OutboxStore(store).get("s1")
    assert waiting is not None and waiting.state is ActionState.QUEUED and waiting.attempts == 0


def test_recovered_claim_is_sent_with_maybe_sent(store: Store, settings: Settings) -> None:
    box = OutboxStore(store)
    box.insert([_action("a1")])
    box.claim("otherhost:123:x", now=NOW, lease_seconds=60, targets=None, owner_dead=lambda _o: False)
    clock = FakeClock()
    writer = ScriptedWriter("github", [{"reconciled": True}])
    d = _dispatcher(store, settings, {"github": writer}, clock, lease_seconds=60)
    assert d.run_once().counts["sent"] == 0  # the other host's lease is still live
    clock.now = NOW + timedelta(seconds=61)
    assert d.run_once().counts["sent"] == 1
    assert writer.calls == [("a1", True, "hello")]
    assert [e.outcome for e in box.log("a1")][-1] == "sent"


def test_link_placeholder_is_filled_from_the_created_item(store: Store, settings: Settings) -> None:
    box = OutboxStore(store)
    create = _action("c1", kind=ActionKind.CREATE_ISSUE, text="body")
    reply = _action("r1", target="slack", text=f"Tracked in <{LINK_PLACEHOLDER}|GitHub issue>.",
                    params={"channel": "C1", "thread_ts": "1.2", "link_from": "c1"})
    box.insert([create, reply])
    gh = ScriptedWriter("github", [{"url": "https://github.com/o/backlog/issues/7"}])
    sl = ScriptedWriter("slack")
    _dispatcher(store, settings, {"github": gh, "slack": sl}, FakeClock()).run_once()
    assert sl.calls[0][2] == "Tracked in <https://github.com/o/backlog/issues/7|GitHub issue>."
    stored = box.get("r1")
    assert stored is not None and LINK_PLACEHOLDER in (stored.text or "")  # the queued text is kept


def test_link_without_a_created_item_needs_attention(store: Store, settings: Settings) -> None:
    box = OutboxStore(store)
    box.insert([_action("r1", target="slack", text=f"<{LINK_PLACEHOLDER}|x>",
                        params={"channel": "C1", "thread_ts": "1.2", "link_from": "gone"})])
    report = _dispatcher(store, settings, {"slack": ScriptedWriter("slack")}, FakeClock()).run_once()
    assert "was not created" in (report.needs_attention[0].last_error or "")


def _seed_items(store: Store, settings: Settings) -> None:
    gh = SourceItem(id="gh:o/r#1", source=SourceKind("github"), title="Issue", body="", url=None, created_at=NOW,
                    updated_at=NOW, requester=Person("req", "Req"), labels=["Identity"])
    sl = SourceItem(id="slack:C1/100.000001", source=SourceKind("slack"), title="Msg", body="", url=None,
                    created_at=NOW, updated_at=NOW, requester=Person("U1", "Req"))
    store.apply("seed", items=[gh, sl], assembler=_simple_assembler(settings, NOW), now=NOW)


def test_local_store_mirrors_a_github_send(store: Store, settings: Settings) -> None:
    _seed_items(store, settings)
    OutboxStore(store).insert([
        _action("a1", kind=ActionKind.ASSIGN, text=None, params={"repo": "o/r", "number": 1, "login": "ana-reyes"}),
        _action("a2", params={"repo": "o/r", "number": 1, "automation": True, "actor": "ana"}),
    ])
    writer = ScriptedWriter("github", [
        {"issue": {"assignees": ["ana-reyes"], "labels": ["Identity"], "state": "open",
                   "updated_at": "2026-03-11T15:31:00Z"}},
        {"comment": {"id": 77, "url": "https://github.com/o/r/issues/1#issuecomment-77",
                     "created_at": "2026-03-11T15:31:01Z", "user": "ana-reyes"}},
    ])
    _dispatcher(store, settings, {"github": writer}, FakeClock()).run_once()
    request = store.get_request("gh:o/r#1")
    assert request is not None and request.assignee == "ana-reyes" and request.status is Status.ASSIGNED
    comment = next(e for e in store.timeline("gh:o/r#1") if e.uid == "gh-comment:77")
    assert comment.data == {"idqueue_action": "a2", "edited": False, "idqueue_automation": True,
                            "idqueue_actor": "ana"}


def test_local_store_mirrors_a_slack_state_message(store: Store, settings: Settings) -> None:
    _seed_items(store, settings)
    OutboxStore(store).insert([_action(
        "s1", request="slack:C1/100.000001", target="slack", text="Assigned to &lt;you&gt;",
        params={"channel": "C1", "thread_ts": "100.000001", "action": "assign", "assignee": "ana", "actor": "ana",
                "automation": True},
    )])
    writer = ScriptedWriter("slack", [{"channel": "C1", "ts": "101.000002", "thread_ts": "100.000001"}])
    _dispatcher(store, settings, {"slack": writer}, FakeClock()).run_once()
    events = {e.uid: e for e in store.timeline("slack:C1/100.000001")}
    assert set(events) == {"slack:C1/101.000002", "slack:C1/101.000002:assign"}
    message = events["slack:C1/101.000002"]
    assert message.body == "Assigned to <you>" and message.data["idqueue_action"] == "s1"
    state = events["slack:C1/101.000002:assign"]
    assert state.kind.value == "assigned" and state.data["assignee"] == "ana" and state.actor_id == "U0ANA"


def test_crash_hook_only_fires_at_the_named_point(monkeypatch: pytest.MonkeyPatch, store: Store,
                                                  settings: Settings) -> None:
    kills: list[tuple[int, int]] = []

    class Killed(Exception):
        pass

    def fake_kill(pid: int, sig: int) -> None:
        kills.append((pid, sig))
        raise Killed

    monkeypatch.setattr(dispatcher_mod.os, "kill", fake_kill)
    monkeypatch.setenv("IDQUEUE_OUTBOX_CRASH_AT", "sent:reply:slack")
    OutboxStore(store).insert([_action("g1"), _action("s1", request="slack:C1/1.2", target="slack",
                                                       params={"channel": "C1", "thread_ts": "1.2"})])
    writers = {"github": ScriptedWriter("github"), "slack": ScriptedWriter("slack")}
    with pytest.raises(Killed):
        _dispatcher(store, settings, writers, FakeClock()).run_once()
    assert len(kills) == 1
    states = {a.id: a.state for a in OutboxStore(store).select()}
    assert states == {"g1": ActionState.SENT, "s1": ActionState.SENDING}  # sent but not recorded


def test_owner_dead() -> None:
    import os
    import socket

    host = socket.gethostname()
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead_pid = int(proc.stdout.strip())
    assert owner_dead(f"{host}:{dead_pid}:abcd")
    assert not owner_dead(f"{host}:{os.getpid()}:abcd")  # ourselves
    assert not owner_dead(f"elsewhere:{dead_pid}:abcd")  # another host: only the lease can tell
    assert not owner_dead("garbage")
