"""Metrics figures: a month's KPI report over 50k historical requests (target ≤ 500 ms).

The database is synthetic but shaped like a real one: 50,000 requests over 13 months (85 %
resolved, some backlogged, pending and reopened), one or two source items each, a timeline
with the events the metrics read (requester replies, labels, pauses, reopenings, closing
messages with 1–5 reactions) plus ordinary replies they skip, and 5,000 survey ratings.
What is timed is :func:`idqueue.report.collect` for one month — the same call ``idqueue
report`` and the dashboard make: the month, the month before, the weekly trend and every
breakdown. A fixed CPU loop is timed alongside as a baseline for how busy the machine was.
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import cpu_loop_once_ms
from idqueue.config import Settings
from idqueue.domain.metrics import Period
from idqueue.report import collect
from idqueue.store.codec import iso_us
from idqueue.store.db import Store

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
N_REQUESTS = 50_000
N_RATINGS = 5_000
TYPES = ["PR Review", "Data Pull", "Test User / Mock Auth", "Sign-in Service / USiP", "Bug Fix",
         "Feature Request", "Task Request", "Help Request", "Other"]
TEAMS = ["Appeals", "Caregivers", "MHV on VA.gov", "Lighthouse APIs", "Platform", "VA Mobile", "Facilities"]
MEMBERS = ["ana", "ben", "chloe", "dev", "erin", None]
POLICIES = ["Urgent (production)", "Engineering", "Standard"]


def build(path: Path, n: int = N_REQUESTS, seed: int = 7) -> Store:
    """Create the synthetic history at ``path``."""
    rng = random.Random(seed)
    store = Store.open(path)
    span = 396 * 24 * 3600  # 13 months
    requests, items, events, ratings = [], [], [], []
    for i in range(n):
        created = NOW - timedelta(seconds=rng.randint(3600, span))
        rid = f"gh:va/support#{i + 1}" if i % 3 else f"slack:C0ID/{1_700_000_000 + i}.000100"
        requester = f"U{rng.randint(1, 400):04d}"
        responded = created + timedelta(minutes=rng.randint(3, 600)) if rng.random() < 0.92 else None
        roll = rng.random()
        if roll < 0.75:
            status, resolved = "closed", created + timedelta(hours=rng.uniform(0.5, 140))
        elif roll < 0.85:
            status, resolved = "backlog", created + timedelta(hours=rng.uniform(1, 60))
        else:
            status, resolved = rng.choice(["new", "acknowledged", "assigned", "pending"]), None
        if resolved is not None and resolved > NOW:
            status, resolved = "assigned", None
        fields = {"team": rng.choice(TEAMS), "issue_type": "Data Request"} if rng.random() < 0.7 else {}
        policy = rng.choice(POLICIES)
        budget = 1 if policy != "Standard" else 8
        requests.append((
            rid, i + 1, f"REQ-{i + 1}", "github" if rid.startswith("gh:") else "slack", "[]",
            f"Request {i}: sign-in trouble on staging with ID.me", "body", requester, "Requester",
            rng.choice(TYPES), json.dumps(fields), status, "closed: completed" if status == "closed" else "",
            int(status in ("new", "acknowledged", "assigned", "pending")), rng.choice(MEMBERS),
            rng.choice(["P1", "P2", "P3", "P4"]), 3, iso_us(created), iso_us(resolved or created),
            iso_us(responded), iso_us(resolved), policy, "met",
            iso_us(created + timedelta(hours=budget * 1.6)), iso_us(created + timedelta(hours=48)),
        ))
        items.append((rid, rid.split(":")[0].replace("gh", "github"), rid, "{}", iso_us(created)))
        ev = 0

        def add(kind: str, at: datetime, actor: str | None, data: dict[str, object] | None = None,
                is_bot: int = 0, rid: str = rid) -> None:
            nonlocal ev
            ev += 1
            events.append((f"{rid}:e{ev}", rid, kind, iso_us(at), actor, "", "", None, "github", is_bot,
                           json.dumps(data or {})))

        add("labeled", created, requester, {"label": "Identity"})
        if responded is not None:
            add("comment", responded, rng.choice(["ana-reyes", "ben-okafor", "chloe-park"]))
        add("comment", created + timedelta(minutes=rng.randint(5, 3000)), requester)
        if rng.random() < 0.1:
            start = created + timedelta(hours=rng.uniform(1, 10))
            add("pending", start, "ana-reyes")
            add("resumed", start + timedelta(hours=rng.uniform(1, 30)), requester)
        if resolved is not None and rng.random() < 0.03:
            add("reopened", resolved - timedelta(hours=1), requester)
        if status == "closed" and resolved is not None and rng.random() < 0.2:
            name = ["one", "two", "three", "four", "five"][rng.choices(range(5), weights=(1, 1, 2, 5, 6))[0]]
            add("message", resolved + timedelta(seconds=30), "B0IDBOT", {"reactions": {name: [requester]}}, is_bot=1)
    for j in range(N_RATINGS):
        target = rng.randrange(n)
        at = NOW - timedelta(seconds=rng.randint(3600, span))
        ratings.append((f"survey:{j}", "survey", rng.choices(range(1, 6), weights=(1, 1, 2, 5, 6))[0], iso_us(at),
                        f"REQ-{target + 1}", requests[target][0], "", iso_us(NOW)))
    with store.write() as conn:
        conn.executemany(
            "INSERT INTO requests(id, seq, key, source, sources, title, body, requester_id, requester_name, type, "
            "fields, status, status_reason, is_open, assignee, priority, priority_rank, created_at, updated_at, "
            "first_response_at, resolved_at, sla_policy, sla_state, first_response_due, resolution_due) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            requests,
        )
        conn.executemany("INSERT INTO items(id, source, request_id, data, updated_at) VALUES (?,?,?,?,?)", items)
        conn.executemany(
            "INSERT INTO events(uid, item_id, kind, at, actor_id, actor_name, body, url, source, is_bot, data) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            events,
        )
        conn.executemany(
            "INSERT INTO ratings(uid, source, rating, at, request_ref, request_id, comment, imported_at) "
            "VALUES (?,?,?,?,?,?,?,?)",
            ratings,
        )
    store.conn.execute("ANALYZE")
    return store


def run() -> list[tuple[str, float, str]]:
    """Build the history once, then time one month's report (median of 5 after a cold run)."""
    settings = Settings(now=NOW.isoformat())
    month = Period.month(2026, 2, settings.sla.calendar.timezone)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        store = build(Path(tmp) / "metrics.db")
        built = time.perf_counter() - started
        store.close()
        store = Store.open(Path(tmp) / "metrics.db")
        t0 = time.perf_counter()
        report = collect(store, settings, month, now=NOW)
        cold = (time.perf_counter() - t0) * 1000
        times, baseline = [], []
        for _ in range(5):
            baseline.append(cpu_loop_once_ms())
            t0 = time.perf_counter()
            collect(store, settings, month, now=NOW)
            times.append((time.perf_counter() - t0) * 1000)
        store.close()
    return [
        (f"metrics: build {N_REQUESTS // 1000}k-request history (s, setup)", built, "—"),
        (f"metrics: month report, {report.kpis.received} of {N_REQUESTS // 1000}k requests, first run (ms)",
         cold, "≤ 500 ms"),
        (f"metrics: month report over {N_REQUESTS // 1000}k requests, median of 5 (ms)",
         statistics.median(times), "≤ 500 ms"),
        ("metrics: baseline CPU loop in the same run, median of 5 (ms)", statistics.median(baseline), "—"),
    ]


if __name__ == "__main__":
    for name, value, target in run():
        print(f"{name:<70} {value:>10.1f}  {target}")
