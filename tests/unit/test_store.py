"""The store, on SQLite and on PostgreSQL (``db_target``): idempotent upserts, atomic batches, linking, aliases, queue windows."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from idqueue.domain.models import (
    EventKind,
    Person,
    Request,
    SlaInfo,
    SourceItem,
    SourceKind,
    Status,
    TimelineEvent,
)
from idqueue.store.db import Store
from idqueue.store.queue import QueueQuery, count, facets, fetch_window, position_of

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


def simple_assembler(items: list[SourceItem], events: list[TimelineEvent], local: dict[str, str]) -> Request:
    """A minimal assembler: canonical = GitHub item, status from item state, SLA from fields."""
    gh = [i for i in items if i.source == "github" and i.state != "deleted"]
    live = gh or [i for i in items if i.state != "deleted"]
    first = (live or items)[0]
    status = Status.DELETED if not live else (Status.CLOSED if first.state == "closed" else Status.NEW)
    due = first.raw.get("due")
    return Request(
        id=first.id,
        key="",
        sources=sorted({i.source for i in items}, key=lambda s: s.value),
        title=first.title,
        body=first.body,
        requester=first.requester,
        type=first.raw.get("type", "Other"),
        status=status,
        assignee=first.assignees[0] if first.assignees else None,
        assignees=list(first.assignees),
        priority=first.raw.get("priority", "P3"),
        created_at=min(i.created_at for i in items),
        updated_at=max(i.updated_at for i in items),
        item_ids=sorted(i.id for i in items),
        snoozed_until=datetime.fromisoformat(local["snoozed_until"].replace("Z", "+00:00")) if local.get("snoozed_until") else None,
        last_outside_at=datetime.fromisoformat(first.raw["outside"]) if first.raw.get("outside") else None,
        sla=SlaInfo(
            state="ok" if due else "none",
            due_at=datetime.fromisoformat(due) if due else None,
            at_risk_at=datetime.fromisoformat(first.raw["risk"]) if first.raw.get("risk") else None,
        ),
    )


def gh_item(n: int, *, title: str = "Issue", links: list[str] | None = None, **raw: object) -> SourceItem:
    created = NOW - timedelta(hours=n)
    return SourceItem(
        id=f"gh:va/support#{n}",
        source=SourceKind("github"),
        title=f"{title} {n}",
        body=f"body of {n}",
        url=f"https://github.com/va/support/issues/{n}",
        created_at=created,
        updated_at=created,
        requester=Person("req", "Requester"),
        links=links or [],
        raw=dict(raw),
    )


def slack_item(ts: str, *, links: list[str] | None = None, title: str = "Slack ask") -> SourceItem:
    created = datetime.fromtimestamp(float(ts), UTC)
    return SourceItem(
        id=f"slack:C1/{ts}",
        source=SourceKind("slack"),
        title=title,
        body="please help",
        url=f"https://x.slack.com/archives/C1/p{ts.replace('.', '')}",
        created_at=created,
        updated_at=created,
        requester=Person("U9", "Sam"),
        links=links or [],
    )


@pytest.fixture
def store(db_target: str | Path) -> Store:
    return Store.open(db_target)


def apply(store: Store, **kw: object) -> object:
    return store.apply("test", assembler=simple_assembler, now=NOW, **kw)  # type: ignore[arg-type]


def test_open_sets_wal_and_schema_version(tmp_path: Path) -> None:
    # SQLite only: WAL and PRAGMA user_version are properties of the SQLite file.
    store = Store.open(tmp_path / "idq.db")
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] >= 1
    assert store.quick_check() == "ok"


def test_reapplying_the_same_batch_is_idempotent(store: Store) -> None:
    items = [gh_item(i) for i in range(1, 6)]
    ev = TimelineEvent("gh-comment:1", items[0].id, EventKind.COMMENT, NOW, "ana", "Ana", "hi")
    first = apply(store, items=items, events=[ev])
    second = apply(store, items=items, events=[ev])
    assert len(first.created) == 5 and not first.updated  # type: ignore[attr-defined]
    assert not second.created and len(second.updated) == 5  # type: ignore[attr-defined]
    assert store.count() == 5
    assert len(store.timeline("gh:va/support#1")) == 1
    keys = sorted(r.key for r in store.list_requests(now=NOW))
    assert keys == sorted(f"REQ-{i}" for i in range(1, 6))


def test_a_failing_batch_leaves_nothing_behind(store: Store) -> None:
    apply(store, items=[gh_item(1)], cursors={"since": "a"})

    def boom(items: list[SourceItem], events: list[TimelineEvent], local: dict[str, str]) -> Request:
        raise RuntimeError("assembler exploded")

    with pytest.raises(RuntimeError):
        store.apply("test", items=[gh_item(2), gh_item(1, title="Changed")], cursors={"since": "b"},
                    assembler=boom, now=NOW)
    assert store.count() == 1
    assert store.get_request("gh:va/support#1").title == "Issue 1"  # type: ignore[union-attr]
    assert store.cursors("test") == {"since": "a"}


def test_linked_items_become_one_request_either_direction(store: Store) -> None:
    # Slack first (the bot posts), then the GitHub issue that links back to it.
    apply(store, items=[slack_item("1764150000.000100")])
    assert store.count() == 1
    key_before = store.get_request("slack:C1/1764150000.000100").key  # type: ignore[union-attr]
    apply(store, items=[gh_item(7, links=["slack:C1/1764150000.000100"])])
    assert store.count() == 1
    merged = store.get_request("slack:C1/1764150000.000100")
    assert merged is not None and merged.id == "gh:va/support#7"
    assert merged.key == key_before  # the short key survives the merge
    assert set(merged.item_ids) == {"gh:va/support#7", "slack:C1/1764150000.000100"}
    assert store.get_request(key_before).id == merged.id  # type: ignore[union-attr]
    # The other direction: the Slack message links to an existing issue.
    apply(store, items=[gh_item(8)])
    apply(store, items=[slack_item("1764150001.000200", links=["gh:va/support#8"])])
    assert store.count() == 2
    assert store.get_request("slack:C1/1764150001.000200").id == "gh:va/support#8"  # type: ignore[union-attr]


def test_merged_timeline_spans_both_homes(store: Store) -> None:
    sl = slack_item("1764150000.000100")
    gh = gh_item(7, links=[sl.id])
    events = [
        TimelineEvent("slack:C1/1764150100.000100", sl.id, EventKind.MESSAGE, NOW - timedelta(hours=1),
                      "U1", "Ana", "on it", source=SourceKind("slack")),
        TimelineEvent("gh-comment:5", gh.id, EventKind.COMMENT, NOW, "ana", "ana", "fixed"),
    ]
    apply(store, items=[sl, gh], events=events)
    timeline = store.timeline(gh.id)
    assert [e.uid for e in timeline] == ["slack:C1/1764150100.000100", "gh-comment:5"]


def test_events_of_unknown_items_are_dropped(store: Store) -> None:
    ev = TimelineEvent("gh-comment:9", "gh:va/support#999", EventKind.COMMENT, NOW, "x", "x", "pr comment")
    apply(store, events=[ev])
    assert store.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


def test_deleted_item_retires_request(store: Store) -> None:
    apply(store, items=[slack_item("1764150000.000100")])
    apply(store, deleted_items=["slack:C1/1764150000.000100"])
    request = store.get_request("slack:C1/1764150000.000100")
    assert request is not None and request.status is Status.DELETED
    assert store.list_requests(now=NOW) == []


def test_hostile_text_is_stored_byte_exact(store: Store) -> None:
    hostile = "[bold red]pwn[/] [@click=app.quit]x[/] \x1b[2J\x1b]52;c;aGk=\x07 <!channel> \u202eabc 漢字 👩‍💻"
    item = gh_item(1)
    item.title = hostile
    item.body = hostile * 3
    apply(store, items=[item])
    got = store.get_request(item.id)
    assert got is not None and got.title == hostile and got.body == hostile * 3


def test_queue_order_urgent_then_breached_then_at_risk_then_priority_then_age(store: Store) -> None:
    past, soon, later = (NOW - timedelta(hours=1)).isoformat(), (NOW + timedelta(hours=1)).isoformat(), (NOW + timedelta(days=3)).isoformat()
    items = [
        gh_item(1, priority="P4"),  # no SLA, P4, oldest
        gh_item(2, priority="P1"),  # no SLA, P1: the urgent lane leads whatever its clock says
        gh_item(3, due=later, risk=later),  # ok
        gh_item(4, due=soon, risk=past),  # at risk, due soon
        gh_item(5, due=past, risk=past),  # breached
        gh_item(6, due=later, risk=past),  # at risk, due later
    ]
    apply(store, items=items)
    order = [r.id.rsplit("#", 1)[1] for r in fetch_window(store, QueueQuery(), now=NOW)]
    assert order == ["2", "5", "4", "6", "3", "1"]
    states = {r.id.rsplit("#", 1)[1]: r.sla.state for r in fetch_window(store, QueueQuery(), now=NOW)}
    assert states["5"] == "breached" and states["4"] == "at_risk" and states["3"] == "ok"
    # As time passes the same stored rows change state without a rebuild.
    later_now = NOW + timedelta(days=4)
    assert fetch_window(store, QueueQuery(sla_states=("breached",)), now=later_now)[0].sla.state == "breached"
    assert count(store, QueueQuery(sla_states=("breached",)), now=later_now) == 4


def test_filters_combine_and_facets_count(store: Store) -> None:
    items = [gh_item(i, priority="P1" if i % 2 else "P3", type="Bug Fix" if i < 4 else "Data Pull") for i in range(1, 9)]
    items[0].assignees = ["ana"]
    items[1].assignees = ["ben"]
    apply(store, items=items)
    q = QueueQuery(priorities=("P1",), types=("Bug Fix",))
    # Same priority: the older request first.
    assert [r.id for r in fetch_window(store, q, now=NOW)] == ["gh:va/support#3", "gh:va/support#1"]
    f = facets(store, q, now=NOW)
    assert f.total == 2
    assert f.priority == {"P1": 2, "P3": 1}  # priority pane ignores its own filter
    assert f.type == {"Bug Fix": 2, "Data Pull": 2}
    mine = QueueQuery(mine="ana")
    assert "gh:va/support#2" not in [r.id for r in fetch_window(store, mine, now=NOW)]
    assert count(store, mine, now=NOW) == 7


def test_full_text_search_and_window_position(store: Store) -> None:
    items = [gh_item(i, title="Routine") for i in range(1, 300)]
    items[150].title = "Mock auth broken on staging"
    apply(store, items=items)
    hits = fetch_window(store, QueueQuery(search="mock AUTH"), now=NOW)
    assert [r.id for r in hits] == [items[150].id]
    assert fetch_window(store, QueueQuery(search='"); DROP TABLE requests; --'), now=NOW) == []
    window = fetch_window(store, QueueQuery(sort="key"), now=NOW, offset=100, limit=50)
    assert len(window) == 50 and window[0].key == "REQ-101"
    assert position_of(store, QueueQuery(sort="key"), items[150].id, now=NOW) == 150


def test_snooze_hides_until_time(store: Store) -> None:
    apply(store, items=[gh_item(1), gh_item(2)])
    store.set_local("gh:va/support#1", snoozed_until=NOW + timedelta(hours=2))
    apply(store, items=[gh_item(1)])  # rebuild picks up the local state
    assert [r.id for r in store.list_requests(now=NOW)] == ["gh:va/support#2"]
    assert len(store.list_requests(now=NOW + timedelta(hours=3))) == 2


def test_two_writers_serialize(db_target: str | Path) -> None:
    path = db_target
    Store.open(path)
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        s = Store(path)
        try:
            for i in range(20):
                s.apply("t", items=[gh_item(offset + i)], assembler=simple_assembler, now=NOW)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k * 100,)) for k in range(1, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    check = Store(path)
    assert check.count() == 60
    seqs = [r[0] for r in check.conn.execute("SELECT seq FROM requests ORDER BY seq")]
    assert seqs == list(range(1, 61))  # writers took turns: every short key once


def test_reopen_after_crash_with_hot_wal(tmp_path: Path) -> None:
    # SQLite only: a hot WAL file left by a dead process.
    path = tmp_path / "crash.db"
    store = Store.open(path)
    apply(store, items=[gh_item(1)])
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("BEGIN IMMEDIATE")
    raw.execute("DELETE FROM requests")  # uncommitted, then the "process" dies
    del raw
    reopened = Store.open(path)
    assert reopened.quick_check() == "ok"
    assert reopened.count() == 1


def test_resolve_short_key_and_number(store: Store) -> None:
    apply(store, items=[gh_item(1)])
    assert store.resolve_id("req-1") == "gh:va/support#1"
    assert store.resolve_id("1") == "gh:va/support#1"
    assert store.resolve_id("nope") is None


def test_a_split_keeps_both_requests(store: Store) -> None:
    sl = slack_item("1764150000.000100")
    gh = gh_item(7, links=[sl.id])
    apply(store, items=[sl, gh])
    assert store.count() == 1
    key = store.get_request(gh.id).key  # type: ignore[union-attr]
    # The link disappears (e.g. the permalink was edited out): two requests again.
    apply(store, items=[slack_item("1764150000.000100"), gh_item(7)])
    assert store.count() == 2
    github_side = store.get_request(gh.id)
    slack_side = store.get_request(sl.id)
    assert github_side is not None and slack_side is not None
    assert github_side.id == gh.id and slack_side.id == sl.id
    assert github_side.key == key  # the canonical id keeps its short key
    assert slack_side.key != key
    assert store.conn.execute("SELECT COUNT(*) FROM items WHERE request_id NOT IN (SELECT id FROM requests)").fetchone()[0] == 0


def test_merge_leaves_no_stale_search_entry(store: Store) -> None:
    apply(store, items=[slack_item("1764150000.000100", title="zebra crossing")])
    apply(store, items=[gh_item(7, title="Other words")])
    apply(store, items=[gh_item(7, title="Other words", links=["slack:C1/1764150000.000100"])])
    seqs = {r[0] for r in store.conn.execute("SELECT seq FROM requests")}
    fts = {r[0] for r in store.conn.execute("SELECT rowid FROM requests_fts")}
    assert fts == seqs


def test_windows_page_through_the_whole_order(store: Store) -> None:
    from idqueue.store.codec import iso_us
    from idqueue.store.queue import _BUCKET_SQL, order_index

    def at(n: int, hours: int) -> str:  # due times running against the numbers (and so the ages)
        return (NOW + timedelta(hours=hours, minutes=-n)).isoformat()

    def clocks(n: int) -> dict[str, str]:
        return [{}, {"due": at(n, -3)}, {"due": at(n, 1), "risk": at(n, -1)}, {"due": at(n, 30), "risk": at(n, 2)},
                {"due": at(n, 30)}][n % 5]

    items = [gh_item(n, title=f"t{n % 7}", priority=f"P{1 + n % 4}", **clocks(n)) for n in range(1, 41)]
    apply(store, items=items)
    for sort in ("rank", "title", "sla", "priority"):
        for descending in (False, True):
            query = QueueQuery(sort=sort, descending=descending)
            whole = [r.id for r in fetch_window(store, query, now=NOW, limit=-1)]
            pages = [r.id for k in range(0, 42, 6) for r in fetch_window(store, query, now=NOW, offset=k, limit=6)]
            assert len(whole) == 40 and pages == whole == order_index(store, query, now=NOW)[0], (sort, descending)
    # The rank order's due key is the due time of buckets -1..1 (evaluated without re-evaluating
    # the bucket): the same order as the nested form.
    nested = (f"SELECT id FROM requests WHERE is_open = 1 ORDER BY {_BUCKET_SQL}, "
              f"CASE WHEN ({_BUCKET_SQL}) <= 1 THEN sla_due_at END NULLS FIRST, priority_rank, created_at, seq")
    expected = [row[0] for row in store.conn.execute(nested, {"now": iso_us(NOW)})]
    assert [r.id for r in fetch_window(store, QueueQuery(), now=NOW, limit=-1)] == expected


def test_refresh_statistics_gives_the_planner_statistics(store: Store) -> None:
    """After a big import the planner's statistics exist at once (``ANALYZE``; sampled on SQLite)."""
    apply(store, items=[gh_item(n) for n in range(1, 30)], events=[], cursors={})  # below autoanalyze

    def analysed() -> bool:
        if store.dialect.is_postgres:
            row = store.conn.execute(
                "SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL FROM pg_stat_user_tables"
                " WHERE relname = 'requests'").fetchone()
            return bool(row[0])
        tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return "sqlite_stat1" in tables and bool(
            store.conn.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'requests'").fetchone()[0])

    assert not analysed()
    store.refresh_statistics()
    assert analysed()
    assert store.get_request("gh:va/support#7") is not None  # nothing else changed
