"""The table's data layer: the id order, groups, row fetches and the snapshot's cursor rules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from idqueue.clock import clock_for
from idqueue.store.db import Store
from idqueue.store.queue import (
    QueueQuery,
    fetch_ids,
    fetch_window,
    group_counts,
    open_load,
    order_index,
)
from idqueue.widgets.rows import QueueData

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
SyncedMonth = Any  # the ``synced_month`` fixture (tests/tui/conftest.py)


def open_store(month_db: Path, synced_month: SyncedMonth) -> tuple[Store, Any]:
    settings = synced_month.settings.model_copy(update={"db": month_db})
    return Store.open(month_db, key_prefix=settings.ui.key_prefix), settings


def test_order_index_matches_the_windowed_query(month_db: Path, synced_month: SyncedMonth) -> None:
    store, _ = open_store(month_db, synced_month)
    for query in (QueueQuery(), QueueQuery(sort="age", descending=True), QueueQuery(include_closed=True),
                  QueueQuery(priorities=("P2",), sort="title"), QueueQuery(search="sign")):
        ids, groups = order_index(store, query, now=NOW)
        assert ids == [r.id for r in fetch_window(store, query, now=NOW, limit=-1)]
        assert groups == []


def test_groups_are_contiguous_runs_in_order(month_db: Path, synced_month: SyncedMonth) -> None:
    store, _ = open_store(month_db, synced_month)
    for group in ("type", "priority", "sla", "assignee"):
        query = QueueQuery(group=group)
        ids, groups = order_index(store, query, now=NOW)
        assert sum(n for _, n in groups) == len(ids)
        assert len({label for label, _ in groups}) == len(groups)  # each group once: contiguous
        assert groups == group_counts(store, query, now=NOW)
    _, by_priority = order_index(store, QueueQuery(group="priority"), now=NOW)
    assert [label for label, _ in by_priority] == sorted(label for label, _ in by_priority)


def test_fetch_ids_evaluates_sla_at_now(month_db: Path, synced_month: SyncedMonth) -> None:
    store, _ = open_store(month_db, synced_month)
    window = fetch_window(store, QueueQuery(), now=NOW, limit=10)
    found = fetch_ids(store, [r.id for r in window] + ["gh:nope/nope#1"], now=NOW)
    assert set(found) == {r.id for r in window}
    assert all(found[r.id].sla.state == r.sla.state for r in window)


def test_open_load_counts_open_assigned(month_db: Path, synced_month: SyncedMonth) -> None:
    store, _ = open_store(month_db, synced_month)
    load = open_load(store)
    every = fetch_window(store, QueueQuery(), now=NOW, limit=-1)
    for key, n in load.items():  # each of a request's assignees carries it (not only the first)
        assert n == sum(1 for r in every if key in {r.assignee, *r.assignees})
    assert sum(load.values()) > sum(1 for r in every if r.assignee), "the seed has a request with two assignees"


def test_snapshot_keeps_the_anchor_or_the_position(month_db: Path, synced_month: SyncedMonth) -> None:
    store, settings = open_store(month_db, synced_month)
    data = QueueData(store, settings, clock=clock_for(settings), page_size=5)
    full = data.snapshot(QueueQuery(), visible=3)
    anchor = full.ids[7]
    snap = data.snapshot(QueueQuery(sort="title"), anchor_id=anchor, anchor_pos=7, visible=3)
    assert snap.ids[snap.cursor] == anchor
    assert set(snap.pages) == {p for p in range(len(snap.ids) // 5 + 1)
                               if p * 5 <= snap.cursor + 3 and (p + 1) * 5 > snap.cursor - 3}
    gone = data.snapshot(QueueQuery(priorities=("P4",)), anchor_id=full.ids[0], anchor_pos=99, visible=3)
    assert gone.cursor == max(len(gone.ids) - 1, 0)  # clamped position when the anchor is filtered out
    rows = data.rows([anchor, "gh:nope/nope#1"])
    assert rows[0] is not None and rows[0].id == anchor and rows[1] is None
