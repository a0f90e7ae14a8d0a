"""Per-person state in a shared store (team mode): each person's snoozes, drafts and read marks
are their own; priority and customer overrides stay the team's. A single user (no person)
keeps the old behaviour. Every test runs on SQLite and PostgreSQL (``db_target``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from test_store import NOW, gh_item, simple_assembler

from idqueue.store.db import Store
from idqueue.store.queue import QueueQuery, count, fetch_window

ONE, TWO = "gh:va/support#1", "gh:va/support#2"


def _people(target: str | Path) -> tuple[Store, Store]:
    """Ana's and Ben's clients of one database, with two requests in it."""
    ana = Store.open(target)
    ana.person = "ana"
    ben = Store(target)
    ben.person = "ben"
    ana.apply("test", items=[gh_item(1), gh_item(2)], assembler=simple_assembler, now=NOW)  # type: ignore[arg-type]
    return ana, ben


def _queue(store: Store, **kw: object) -> list[str]:
    return [r.id for r in fetch_window(store, QueueQuery(**kw), now=NOW)]  # type: ignore[arg-type]


def test_a_teammates_snooze_does_not_hide_the_request_from_me(db_target: str | Path) -> None:
    ana, ben = _people(db_target)
    ana.set_local(ONE, snoozed_until=NOW + timedelta(hours=2))
    # A sync re-assembles the request: the snooze stays Ana's alone.
    ana.apply("test", items=[gh_item(1)], assembler=simple_assembler, now=NOW)  # type: ignore[arg-type]
    assert _queue(ana) == [TWO]
    assert _queue(ana, only_snoozed=True) == [ONE]
    assert count(ana, QueueQuery(), now=NOW) == 1 and ana.snoozed_count(NOW) == 1
    assert sorted(_queue(ben)) == [ONE, TWO]
    assert _queue(ben, only_snoozed=True) == [] and ben.snoozed_count(NOW) == 0
    mine = ana.get_request(ONE)
    theirs = ben.get_request(ONE)
    assert mine is not None and mine.snoozed_until == NOW + timedelta(hours=2)
    assert theirs is not None and theirs.snoozed_until is None
    assert ana.local_of(ONE)["snoozed_until"] == NOW + timedelta(hours=2)
    assert ben.local_of(ONE)["snoozed_until"] is None
    # The snoozed view in snooze order is Ana's order.
    ana.set_local(TWO, snoozed_until=NOW + timedelta(hours=1))
    assert _queue(ana, only_snoozed=True, sort="snoozed") == [TWO, ONE]
    ana.set_local(TWO, snoozed_until=None)
    # The snooze ends for Ana; Ben's own snooze of the other request is his.
    ben.set_local(TWO, snoozed_until=NOW + timedelta(hours=1))
    ana.set_local(ONE, snoozed_until=None)
    assert sorted(_queue(ana)) == [ONE, TWO]
    assert _queue(ben) == [ONE]


def test_drafts_and_read_marks_are_each_persons_own(db_target: str | Path) -> None:
    ana, ben = _people(db_target)
    ana.set_draft(ONE, {"text": "Hi, I am on it", "saved_at": "2026-11-26T15:00:00Z"})
    assert ana.draft_of(ONE) == {"text": "Hi, I am on it", "saved_at": "2026-11-26T15:00:00Z"}
    assert ben.draft_of(ONE) is None
    ben.set_draft(ONE, {"text": "Ben's answer", "saved_at": "2026-11-26T15:01:00Z"})
    ana.set_draft(ONE, None)
    assert ana.draft_of(ONE) is None
    assert ben.draft_of(ONE) == {"text": "Ben's answer", "saved_at": "2026-11-26T15:01:00Z"}
    ana.set_local(ONE, seen_at=NOW)
    rows = ana.conn.execute("SELECT person, seen_at FROM person_state WHERE seen_at IS NOT NULL").fetchall()
    assert [(r[0], r[1] is not None) for r in rows] == [("ana", True)]


def test_overrides_stay_the_teams(db_target: str | Path) -> None:
    ana, ben = _people(db_target)
    ana.set_local(ONE, priority_override="P1", customer_override="acme")
    assert ben.local_of(ONE)["priority_override"] == "P1"
    assert ben.local_of(ONE)["customer_override"] == "acme"


def test_a_single_user_keeps_the_shared_columns(db_target: str | Path) -> None:
    store = Store.open(db_target)
    assert store.person == ""
    store.apply("test", items=[gh_item(1), gh_item(2)], assembler=simple_assembler, now=NOW)  # type: ignore[arg-type]
    store.set_local(ONE, snoozed_until=NOW + timedelta(hours=2))
    store.set_draft(ONE, {"text": "x"})
    # Exactly as before team mode: the local_state row and the request's own column.
    assert store.conn.execute("SELECT COUNT(*) FROM person_state").fetchone()[0] == 0
    assert store.conn.execute("SELECT snoozed_until FROM requests WHERE id=?", (ONE,)).fetchone()[0]
    assert _queue(store) == [TWO]
    assert store.draft_of(ONE) == {"text": "x"}


def _unread_search(store: Store) -> list[str]:
    from idqueue.domain.query import parse_search

    return _queue(store, search="is:unread", spec=parse_search("is:unread"))


def test_a_read_request_is_unread_again_when_the_requester_writes(db_target: str | Path) -> None:
    """Read marks: once Ana has looked at a request, a later message from outside the team makes
    it unread for her (not for Ben, who never looked, nor once she looks again)."""
    from idqueue.store.queue import fetch_ids

    ana, ben = _people(db_target)
    single = Store(db_target)  # a single user of the same file keeps the marks in local_state

    def unread(store: Store) -> dict[str, bool]:
        window = {r.id: r.unread for r in fetch_window(store, QueueQuery(), now=NOW)}
        assert {i: r.unread for i, r in fetch_ids(store, list(window), now=NOW).items()} == window
        return window

    assert unread(ana) == {ONE: False, TWO: False}  # never looked at: new, not unread
    ana.mark_seen(ONE, NOW)
    single.mark_seen(TWO, NOW)
    assert unread(ana) == {ONE: False, TWO: False}
    later = (NOW + timedelta(minutes=5)).isoformat()
    ana.apply("test", items=[gh_item(1, outside=later), gh_item(2, outside=later)],
              assembler=simple_assembler, now=NOW)  # type: ignore[arg-type]
    assert unread(ana) == {ONE: True, TWO: False}
    assert unread(ben) == {ONE: False, TWO: False}
    assert unread(single) == {ONE: False, TWO: True}
    # The search qualifier finds the same requests, in SQL, on each backend and per person.
    assert (_unread_search(ana), _unread_search(ben), _unread_search(single)) == ([ONE], [], [TWO])
    ana.mark_seen(ONE, NOW + timedelta(minutes=6))
    assert unread(ana) == {ONE: False, TWO: False}
    assert _unread_search(ana) == []
    request = ana.get_request(ONE)
    assert request is not None and request.last_outside_at == NOW + timedelta(minutes=5)
