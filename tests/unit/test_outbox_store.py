"""The outbox tables: ordering per request, leases, recovery, retry and drop."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from idqueue.outbox.models import Action, ActionError, ActionKind, ActionState
from idqueue.outbox.store import OutboxStore
from idqueue.store.db import Store

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)


def _action(aid: str, request: str = "gh:o/r#1", *, group: str = "g1", kind: ActionKind = ActionKind.REPLY,
            target: str = "github") -> Action:
    return Action(
        id=aid, request_id=request, kind=kind, target=target, params={"n": aid}, text=f"text {aid}",
        state=ActionState.QUEUED, attempts=0, last_error=None, next_attempt_at=None, created_at=NOW,
        sent_at=None, group_id=group, summary=f"summary {aid}",
    )


@pytest.fixture
def outbox(db_target: str | Path) -> OutboxStore:
    return OutboxStore(Store.open(db_target))


def _claim(outbox: OutboxStore, owner: str = "me", *, now: datetime = NOW, lease: float = 60,
           targets: set[str] | None = None, dead: bool = False) -> Action | None:
    claim = outbox.claim(owner, now=now, lease_seconds=lease, targets=targets, owner_dead=lambda _o: dead)
    return claim.action if claim else None


def test_migration_creates_the_outbox(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db.sqlite")
    assert store.migrate() >= 2
    tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"outbox", "outbox_log"} <= tables


def test_insert_select_and_find(outbox: OutboxStore) -> None:
    outbox.insert([_action("abcd23def456"), _action("abcd99000111", "slack:C1/1.2")])
    assert [a.id for a in outbox.select()] == ["abcd23def456", "abcd99000111"]
    assert [a.id for a in outbox.select(request_ids=["slack:C1/1.2"])] == ["abcd99000111"]
    assert outbox.find("abcd2").id == "abcd23def456"
    with pytest.raises(ActionError, match="several"):
        outbox.find("abcd")
    with pytest.raises(ActionError, match="no outbox action"):
        outbox.find("abc")  # prefixes need 4 characters
    with pytest.raises(ActionError, match="no outbox action"):
        outbox.find("zzzz")
    first = outbox.get("abcd23def456")
    assert first is not None and first.params == {"n": "abcd23def456"} and first.seq == 1
    assert [e.outcome for e in outbox.log("abcd23def456")] == ["queued"]
    assert outbox.unsent_count() == 2


def test_order_is_kept_per_request_but_requests_do_not_wait_for_each_other(outbox: OutboxStore) -> None:
    outbox.insert([_action("a1", "r1"), _action("a2", "r1"), _action("b1", "r2")])
    assert _claim(outbox).id == "a1"  # type: ignore[union-attr]
    # a1 is being sent (live lease): a2 waits, b1 goes.
    assert _claim(outbox, "other").id == "b1"  # type: ignore[union-attr]
    assert _claim(outbox, "other") is None
    assert outbox.mark_sent("a1", "me", now=NOW, result={"ok": 1})
    assert _claim(outbox).id == "a2"  # type: ignore[union-attr]


def test_waiting_and_stopped_actions_hold_their_request(outbox: OutboxStore) -> None:
    outbox.insert([_action("a1", "r1"), _action("a2", "r1"), _action("b1", "r2"), _action("b2", "r2")])
    a1 = _claim(outbox)
    assert a1 is not None
    outbox.reschedule("a1", "me", now=NOW, next_at=NOW + timedelta(seconds=30), error="rate limited")
    b1 = _claim(outbox)
    assert b1 is not None and b1.id == "b1"
    outbox.give_up("b1", "me", now=NOW, state=ActionState.NEEDS_ATTENTION, error="403")
    assert _claim(outbox) is None  # a1 not due, b1 needs the user
    assert outbox.next_due() == NOW + timedelta(seconds=30)
    again = _claim(outbox, now=NOW + timedelta(seconds=30))
    assert again is not None and again.id == "a1" and again.attempts == 2


def test_expired_or_dead_leases_are_recovered(outbox: OutboxStore) -> None:
    outbox.insert([_action("a1")])
    first = outbox.claim("p1", now=NOW, lease_seconds=60, targets=None, owner_dead=lambda _o: False)
    assert first is not None and not first.recovered and first.action.attempts == 1
    assert _claim(outbox, "p2", now=NOW + timedelta(seconds=59)) is None
    expired = outbox.claim("p2", now=NOW + timedelta(seconds=60), lease_seconds=60, targets=None,
                           owner_dead=lambda _o: False)
    assert expired is not None and expired.recovered and expired.action.attempts == 2
    # The old owner can no longer record anything.
    assert not outbox.mark_sent("a1", "p1", now=NOW, result={})
    assert outbox.mark_sent("a1", "p2", now=NOW, result={"ok": True})
    assert [e.outcome for e in outbox.log("a1")] == ["queued", "claimed", "recovered", "lease-lost", "sent"]


def test_a_dead_owner_is_recovered_before_its_lease_expires(outbox: OutboxStore) -> None:
    outbox.insert([_action("a1")])
    _claim(outbox, "host:1:x")
    claim = outbox.claim("p2", now=NOW, lease_seconds=60, targets=None, owner_dead=lambda o: o == "host:1:x")
    assert claim is not None and claim.recovered


def test_targets_without_a_writer_wait(outbox: OutboxStore) -> None:
    outbox.insert([_action("s1", "r1", target="slack"), _action("g1", "r1"), _action("g2", "r2")])
    assert _claim(outbox, targets={"github"}).id == "g2"  # type: ignore[union-attr]


def test_retry_and_force(outbox: OutboxStore) -> None:
    outbox.insert([_action("a1")])
    _claim(outbox)
    outbox.give_up("a1", "me", now=NOW, state=ActionState.NEEDS_ATTENTION, error="conflict: x")
    retried = outbox.retry("a1", now=NOW, force=True)
    assert retried.state is ActionState.QUEUED and retried.params["force"] is True
    _claim(outbox)
    outbox.mark_sent("a1", "me", now=NOW, result={})
    with pytest.raises(ActionError, match="already sent"):
        outbox.retry("a1", now=NOW)


def test_drop_cascades_to_the_rest_of_the_verb_only(outbox: OutboxStore) -> None:
    outbox.insert([_action("a1", group="g1"), _action("a2", group="g1"), _action("a3", group="g1"),
                   _action("b1", group="g2")])
    _claim(outbox)
    outbox.mark_sent("a1", "me", now=NOW, result={})
    with pytest.raises(ActionError, match="already sent"):
        outbox.drop("a1", now=NOW)
    dropped = outbox.drop("a2", now=NOW)
    assert [a.id for a in dropped] == ["a2", "a3"]
    states = {a.id: a.state for a in outbox.select()}
    assert states == {"a1": ActionState.SENT, "a2": ActionState.DROPPED, "a3": ActionState.DROPPED,
                      "b1": ActionState.QUEUED}


def test_cannot_drop_what_is_being_sent(outbox: OutboxStore) -> None:
    outbox.insert([_action("a1")])
    _claim(outbox)
    with pytest.raises(ActionError, match="being sent"):
        outbox.drop("a1", now=NOW)
    assert outbox.drop("a1", now=NOW + timedelta(minutes=5))[0].state is ActionState.DROPPED


def test_concurrent_claimers_never_share_an_action(db_target: str | Path) -> None:
    path = db_target
    OutboxStore(Store.open(path)).insert([_action(f"a{i:02d}", f"r{i}") for i in range(40)])
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(owner: str) -> None:
        box = OutboxStore(Store.open(path))
        while True:
            action = _claim(box, owner)
            if action is None:
                return
            with lock:
                claimed.append(action.id)
            assert box.mark_sent(action.id, owner, now=NOW, result={})

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(claimed) == [f"a{i:02d}" for i in range(40)]
