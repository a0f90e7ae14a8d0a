"""Store figures: upsert throughput and queue-window queries at 10k and 50k requests."""

from __future__ import annotations

import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import cpu_loop_ms, median_ms
from idqueue.config import Settings
from idqueue.domain.assemble import make_assembler
from idqueue.domain.models import Person, SourceItem, SourceKind
from idqueue.integrations.registry import rulebook
from idqueue.store.db import Store
from idqueue.store.queue import QueueQuery, facets, fetch_window

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
WORDS = ["mock", "auth", "staging", "data", "pull", "review", "sign-in", "USiP", "error", "token",
         "ID.me", "Login.gov", "onboarding", "export", "bug", "feature", "請求", "🚀", "outage", "help"]
TYPES = ["Data request", "Authentication help", "Pull request review", "Bug fix", "Feature request", "Other"]


def synthetic_items(n: int, start: int = 0) -> list[SourceItem]:
    rnd = random.Random(start + n)
    items = []
    for i in range(start, start + n):
        created = NOW - timedelta(minutes=rnd.randint(1, 60 * 24 * 400))
        closed = rnd.random() < 0.3
        title = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(4, 10)))
        items.append(SourceItem(
            id=f"gh:bench/repo#{i + 1}", source=SourceKind("github"), title=title,
            body=f"**Issue Type:** {rnd.choice(TYPES)}\n**Team Name:** Team {i % 40}\n\n{title}",
            url=f"https://github.com/bench/repo/issues/{i + 1}", created_at=created, updated_at=created,
            requester=Person(f"user{i % 500}", f"User {i % 500}"), state="closed" if closed else "open",
            closed_at=created + timedelta(hours=5) if closed else None,
            assignees=[f"member{i % 5}"] if rnd.random() < 0.4 else [],
        ))
    items[len(items) // 2].title = "zanzibar unique rare term"
    return items






def run() -> list[tuple[str, float, str]]:
    rows: list[tuple[str, float, str]] = [("baseline CPU loop before the store figures (ms)", cpu_loop_ms(), "—")]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db=Path(tmp) / "b.db", now=NOW.isoformat())
        store = Store.open(settings.db)
        assembler = make_assembler(settings, NOW, rules=rulebook(settings))
        loaded = 0
        for size in (10_000, 50_000):
            items = synthetic_items(size - loaded, loaded)
            started = time.perf_counter()
            for k in range(0, len(items), 100):
                store.apply("bench", items=items[k:k + 100], assembler=assembler, now=NOW)
            per_s = len(items) / (time.perf_counter() - started)
            loaded = size
            rows.append((f"upsert + assemble, {size // 1000}k total (requests/s)", per_s, ""))
            label = f"{size // 1000}k"
            target = "≤ 250 ms" if size == 10_000 else "≤ 400 ms"
            rows.append((f"queue window 200 rows, default order, {label} (ms)",
                         median_ms(lambda: fetch_window(store, QueueQuery(), now=NOW, limit=200)), target))
            rows.append((f"sort by title, 200 rows, {label} (ms)",
                         median_ms(lambda: fetch_window(store, QueueQuery(sort="title"), now=NOW, limit=200)), target))
            rows.append((f"filter type + priority, {label} (ms)", median_ms(lambda: fetch_window(
                store, QueueQuery(types=("Bug Fix",), priorities=("P2",)), now=NOW, limit=200)), target))
            rows.append((f"search rare term, {label} (ms)", median_ms(
                lambda: fetch_window(store, QueueQuery(search="zanzibar"), now=NOW, limit=200)), target))
            rows.append((f"search common term, {label} (ms)", median_ms(
                lambda: fetch_window(store, QueueQuery(search="auth"), now=NOW, limit=200)), target))
            rows.append((f"pane facet counts, {label} (ms)", median_ms(lambda: facets(store, QueueQuery(), now=NOW)), target))
    return rows
