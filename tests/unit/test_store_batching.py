"""The batched store path gives exactly the store the plain per-request path gave.

``Store.apply`` and ``Store._rebuild`` read and write a whole batch at once (one query for the
links of every touched item, one for their rows, events and local state; requests rows kept in
step with the batch's own deletes and writes; unchanged rows and search entries left alone).
:class:`ReferenceStore` keeps the straightforward version — one statement per item, event and
request, every request and search entry rewritten — and random sequences of batches (merges,
splits, duplicates inside a batch, deletions, local state, rebuilds, clock refreshes) must leave
both databases identical, row for row, with the same created/updated reports.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from idqueue.config import Settings
from idqueue.domain.assemble import make_assembler
from idqueue.domain.models import (
    EventKind,
    Person,
    Request,
    SourceItem,
    SourceKind,
    TimelineEvent,
)
from idqueue.integrations.registry import rulebook
from idqueue.store.db import (
    PRIORITY_RANK,
    ApplyResult,
    Assembler,
    LocalState,
    Store,
    _dumps,
    _event_from_row,
    _ts,
    item_from_json,
    item_to_json,
)

NOW = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)
# GitHub and Slack ids alternate; a run starts with the first few and reaches further each
# step, so late batches still create requests (after merges that deleted others).
POOL = [i for n in range(1, 13) for i in (f"gh:va/support#{n}", f"slack:C1/17000000{n:02d}.000100")]
BODIES = [
    "**Issue Type:** Data Request\n**Team Name:** Facilities\n",
    "*Type:* Bug fix\n*Requested by:* <@U9>\n*Details:* login is down on prod",
    "### Issue Type\n\nPR Review\n\n### Impacts production?\n\nYes",
    "please help with mock auth",
    "nothing to see here",
]
TITLES = ["Sign-in broken", "Data pull for Q3", "outage on staging", "Question", "請求 🚀"]


class ReferenceStore(Store):
    """The per-request store path the batched one replaced, kept as the oracle."""

    def apply(
        self,
        source: str,
        *,
        items: Sequence[SourceItem] = (),
        events: Sequence[TimelineEvent] = (),
        deleted_items: Sequence[str] = (),
        deleted_events: Sequence[str] = (),
        cursors: dict[str, Any] | None = None,
        assembler: Assembler,
        now: datetime,
    ) -> ApplyResult:
        result = ApplyResult()
        with self._lock, self.write() as conn:
            touched: dict[str, None] = {}
            for item in items:
                conn.execute(
                    "INSERT INTO items(id, source, data, updated_at, deleted) VALUES (?,?,?,?,0) "
                    "ON CONFLICT(id) DO UPDATE SET data=excluded.data, updated_at=excluded.updated_at, deleted=0",
                    (item.id, item.source.value, item_to_json(item), _ts(item.updated_at)),
                )
                conn.execute("DELETE FROM item_links WHERE from_id=?", (item.id,))
                conn.executemany(
                    "INSERT OR IGNORE INTO item_links(from_id, to_id) VALUES (?,?)",
                    [(item.id, link) for link in item.links if link != item.id],
                )
                touched[item.id] = None
            batch_ids = {item.id for item in items}
            known: dict[str, bool] = {}
            for ev in events:
                if ev.item_id not in batch_ids:
                    if ev.item_id not in known:
                        known[ev.item_id] = bool(
                            conn.execute("SELECT 1 FROM items WHERE id=?", (ev.item_id,)).fetchone()
                        )
                    if not known[ev.item_id]:
                        continue
                conn.execute(
                    "INSERT INTO events(uid, item_id, kind, at, actor_id, actor_name, body, url, source, is_bot, data) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(uid) DO UPDATE SET item_id=excluded.item_id, "
                    "kind=excluded.kind, at=excluded.at, actor_id=excluded.actor_id, actor_name=excluded.actor_name, "
                    "body=excluded.body, url=excluded.url, is_bot=excluded.is_bot, data=excluded.data",
                    (
                        ev.uid, ev.item_id, ev.kind.value, _ts(ev.at), ev.actor_id, ev.actor_name, ev.body,
                        ev.url, ev.source.value, int(ev.is_bot), _dumps(ev.data),
                    ),
                )
                touched[ev.item_id] = None
            for item_id in deleted_items:
                if conn.execute("UPDATE items SET deleted=1 WHERE id=?", (item_id,)).rowcount:
                    touched[item_id] = None
            for uid in deleted_events:
                row = conn.execute("DELETE FROM events WHERE uid=? RETURNING item_id", (uid,)).fetchone()
                if row:
                    touched[row["item_id"]] = None
            if cursors:
                self.set_cursors(conn, source, cursors, now)
            self._rebuild(conn, touched, assembler, result)
        return result

    def _rebuild(
        self, conn: sqlite3.Connection, touched: Iterable[str], assembler: Assembler, result: ApplyResult
    ) -> None:
        done: set[str] = set()
        for item_id in touched:
            if item_id in done:
                continue
            component = self._component(conn, item_id)
            done.update(component)
            marks = ",".join("?" * len(component))
            rows = conn.execute(
                f"SELECT id, data, deleted, request_id FROM items WHERE id IN ({marks})", component
            ).fetchall()
            if not rows:
                continue
            items = [item_from_json(r["data"]) for r in rows]
            deleted = {r["id"] for r in rows if r["deleted"]}
            for it in items:
                if it.id in deleted:
                    it.state = "deleted"
            old_ids = {r["request_id"] for r in rows if r["request_id"]}
            events = [
                _event_from_row(r)
                for r in conn.execute(
                    f"SELECT * FROM events WHERE item_id IN ({marks}) ORDER BY at, uid", component
                )
            ]
            local = LocalState()
            for r in conn.execute(f"SELECT * FROM local_state WHERE item_id IN ({marks})", component):
                for key in ("snoozed_until", "priority_override"):
                    if r[key]:
                        local[key] = r[key]
            request = assembler(items, events, local)
            seq: int | None = None
            if old_ids:
                candidates = conn.execute(
                    f"SELECT id, seq FROM requests WHERE id IN ({','.join('?' * len(old_ids))})",
                    sorted(old_ids),
                ).fetchall()
                # A request whose other items live on (a split) keeps its row and key.
                old_rows = [
                    r for r in candidates
                    if r["id"] == request.id or not conn.execute(
                        f"SELECT 1 FROM items WHERE request_id=? AND id NOT IN ({marks})", [r["id"], *component]
                    ).fetchone()
                ]
                if old_rows:
                    seq = min(r["seq"] for r in old_rows)
                for r in old_rows:
                    if r["id"] != request.id:
                        self._delete_request(conn, r["id"], r["seq"])
                    elif r["seq"] != seq:
                        conn.execute("DELETE FROM requests_fts WHERE rowid=?", (r["seq"],))
            existed = seq is not None and request.id in old_ids
            if seq is None:
                seq = int(conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM requests").fetchone()[0])
            request.key = f"{self.key_prefix}-{seq}"
            _reference_write(conn, request, seq)
            conn.executemany("UPDATE items SET request_id=? WHERE id=?", [(request.id, i) for i in component])
            conn.executemany(
                "INSERT INTO aliases(alias, request_id) VALUES (?,?) "
                "ON CONFLICT(alias) DO UPDATE SET request_id=excluded.request_id",
                [(i, request.id) for i in component],
            )
            (result.updated if existed else result.created).append(request.id)


def _reference_write(conn: sqlite3.Connection, r: Request, seq: int) -> None:
    sla = r.sla
    values = {
        "id": r.id, "seq": seq, "key": r.key,
        "source": r.source.value,
        "sources": _dumps([s.value for s in r.sources]), "title": r.title, "body": r.body,
        "requester_id": r.requester.id if r.requester else None,
        "requester_name": r.requester.name if r.requester else None,
        "type": r.type, "type_reason": r.type_reason, "fields": _dumps(r.fields), "status": r.status.value,
        "status_reason": r.status_reason, "is_open": int(r.status.is_open), "assignee": r.assignee,
        "labels": _dumps(r.labels), "priority": r.priority, "priority_rank": PRIORITY_RANK.get(r.priority, 3),
        "priority_reason": r.priority_reason, "priority_override": r.priority_override,
        "created_at": _ts(r.created_at), "updated_at": _ts(r.updated_at),
        "first_response_at": _ts(r.first_response_at), "resolved_at": _ts(r.resolved_at), "url": r.url,
        "links": _dumps(r.links), "item_ids": _dumps(r.item_ids), "sla_state": sla.state,
        "sla_policy": sla.policy, "sla_reason": sla.reason, "first_response_due": _ts(sla.first_response_due),
        "resolution_due": _ts(sla.resolution_due), "sla_due_at": _ts(sla.due_at),
        "sla_at_risk_at": _ts(sla.at_risk_at), "sla_remaining": sla.remaining_seconds,
        "snoozed_until": _ts(r.snoozed_until), "assignees": _dumps(r.assignees),
        "last_outside_at": _ts(r.last_outside_at),
    }
    cols = ",".join(values)
    updates = ",".join(f"{c}=excluded.{c}" for c in values if c != "id")
    conn.execute(
        f"INSERT INTO requests({cols}) VALUES ({','.join('?' * len(values))}) "
        f"ON CONFLICT(id) DO UPDATE SET {updates}",
        list(values.values()),
    )
    conn.execute("DELETE FROM requests_fts WHERE rowid=?", (seq,))
    conn.execute(
        "INSERT INTO requests_fts(rowid, title, body, fields, requester) VALUES (?,?,?,?,?)",
        (seq, r.title, r.body[:100_000], " ".join(f"{k} {v}" for k, v in r.fields.items()),
         r.requester.name if r.requester else ""),
    )


def snapshot(store: Store, *, search_text: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the store keeps, in a fixed order (search entries too, and a few searches).

    ``search_text=False`` compares only which requests have a search entry, not its text (the
    backends index the text differently: FTS5 columns, a PostgreSQL ``tsvector``).
    """
    conn = store.conn
    tables = {
        "items": "id", "item_links": "from_id, to_id", "events": "uid", "requests": "id",
        "aliases": "alias", "local_state": "item_id",
    }
    out = {name: [tuple(r) for r in conn.execute(f"SELECT * FROM {name} ORDER BY {order}")]
           for name, order in tables.items()}
    out["cursors"] = [tuple(r) for r in conn.execute("SELECT source, key, value FROM cursors ORDER BY source, key")]
    columns = "rowid, title, body, fields, requester" if search_text else "rowid"
    out["fts"] = [tuple(r) for r in conn.execute(f"SELECT {columns} FROM requests_fts ORDER BY rowid")]
    for term in ("data", "outage", "sam", "facilities"):
        out[f"match:{term}"] = [tuple(r) for r in conn.execute(
            f"{store.dialect.fts_seqs('?')} ORDER BY rowid", (store.dialect.fts_query(term),))]
    return out


def random_item(rng: random.Random, item_id: str, at: datetime, pool: list[str]) -> SourceItem:
    github = item_id.startswith("gh:")
    created = NOW - timedelta(hours=rng.randint(1, 400))
    return SourceItem(
        id=item_id,
        source=SourceKind("github") if github else SourceKind("slack"),
        title=rng.choice(TITLES),
        body=rng.choice(BODIES),
        url=f"https://example.test/{item_id}",
        created_at=created,
        updated_at=max(created, at - timedelta(minutes=rng.randint(0, 90))),
        requester=rng.choice([Person("U9", "Sam"), Person("octo", "Octo"), None]),
        state=rng.choice(["open", "open", "closed"]) if github else "open",
        closed_at=at if github and rng.random() < 0.3 else None,
        assignees=rng.choice([[], ["ana"]]),
        labels=rng.choice([[], ["Identity"], ["backlog"], ["priority:P1"]]) if github else [],
        # Links make merges (and, when dropped later, splits); a self-link is ignored.
        links=rng.sample([*pool, item_id], rng.choice([0, 0, 1, 1, 2])),
    )


def random_event(rng: random.Random, at: datetime, pool: list[str]) -> TimelineEvent:
    item_id = rng.choice([*pool, "gh:other/repo#9"])  # the last one is never stored: dropped
    kind = rng.choice([EventKind.COMMENT, EventKind.MESSAGE, EventKind.LABELED, EventKind.CLOSED, EventKind.ASSIGNED])
    return TimelineEvent(
        uid=f"ev{rng.randint(1, 12)}",
        item_id=item_id,
        kind=kind,
        at=at - timedelta(minutes=rng.randint(0, 3000)),
        actor_id=rng.choice(["ana", "U9", "octo", "B0IDBOT"]),
        actor_name="Someone",
        body=rng.choice(["thanks", "on it", "outage again"]),
        source=SourceKind("github") if item_id.startswith("gh:") else SourceKind("slack"),
        data=rng.choice([{}, {"label": "pending"}, {"assignee": "ana"}]),
    )


@pytest.mark.parametrize("seed", range(24))
def test_batched_path_matches_the_per_request_path(
    seed: int, tmp_path: Path, isolated_settings_env: Path, db_target: str | Path
) -> None:
    settings = Settings(slack={"intake_bot_ids": ["B0IDBOT"]}, github={"bot_logins": ["octo"]})
    rng = random.Random(seed)
    fast = Store.open(db_target)  # on each backend; the reference stays on SQLite
    slow = ReferenceStore.open(tmp_path / "slow.db")
    same_backend = fast.dialect is slow.dialect
    now = NOW
    for step in range(14):
        now += timedelta(minutes=rng.choice([5, 45, 300]))
        assembler = make_assembler(settings, now, rules=rulebook(settings))
        roll = rng.random()
        pool = POOL[: 4 + 2 * step]
        if roll < 0.7 or step < 2:
            ids = [rng.choice(pool) for _ in range(rng.randint(1, 8))]  # repeats on purpose
            batch: dict[str, Any] = {
                "items": [random_item(rng, i, now, pool) for i in ids],
                "events": [random_event(rng, now, pool) for _ in range(rng.randint(0, 5))],
                "deleted_items": [rng.choice(pool)] if rng.random() < 0.15 else [],
                "deleted_events": [f"ev{rng.randint(1, 12)}"] if rng.random() < 0.2 else [],
                "cursors": {"page": step} if rng.random() < 0.5 else None,
            }
            results = [
                store.apply("test", assembler=assembler, now=now, **batch) for store in (fast, slow)
            ]
            assert (results[0].created, results[0].updated) == (results[1].created, results[1].updated)
        elif roll < 0.8:
            rows = fast.conn.execute("SELECT id FROM requests ORDER BY seq").fetchall()
            if rows:
                target = rng.choice(rows)[0]
                value = rng.choice([{"priority_override": "P1"}, {"snoozed_until": now + timedelta(days=1)}])
                for store in (fast, slow):
                    store.set_local(target, **value)
                    store.rebuild(target, assembler)
        elif roll < 0.9:
            open_only = rng.random() < 0.5
            assert fast.rebuild_all(assembler, open_only=open_only) == slow.rebuild_all(assembler, open_only=open_only)
        else:
            assert fast.refresh_crossed(assembler, now=now) == slow.refresh_crossed(assembler, now=now)
        assert snapshot(fast, search_text=same_backend) == snapshot(slow, search_text=same_backend), (
            f"seed {seed}, step {step}"
        )
