"""The store on PostgreSQL against SQLite, in one run: queue window, sort, filter, search and
facets at 50k requests (PERFORMANCE.md: PostgreSQL within 1.5x of the SQLite figures).

The 50k requests are written into SQLite by the normal sync path, then copied into a throwaway
PostgreSQL cluster with ``idqueue db migrate-to``'s copy (which is timed too). Needs the
PostgreSQL server binaries (``tests/pg_cluster.py`` finds them); skipped without them.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import cpu_loop_ms, median_ms
from bench.store_bench import NOW, synthetic_items
from idqueue.config import Settings
from idqueue.domain.assemble import make_assembler
from idqueue.integrations.registry import rulebook
from idqueue.store.db import Store
from idqueue.store.queue import QueueQuery, facets, fetch_window, order_index

SIZE = 50_000


def _paired_medians(first: Callable[[], object], second: Callable[[], object], runs: int = 7) -> tuple[float, float]:
    """Median milliseconds of each function, their runs alternating (one warm-up each)."""
    first()
    second()
    a, b = [], []
    for _ in range(runs):
        a.append(median_ms(first, runs=1))
        b.append(median_ms(second, runs=1))
    return statistics.median(a), statistics.median(b)


def _queries(store: Store) -> dict[str, Callable[[], object]]:
    return {
        "queue window 200 rows, default order": lambda: fetch_window(store, QueueQuery(), now=NOW, limit=200),
        "order index (all ids), default order": lambda: order_index(store, QueueQuery(), now=NOW),
        "sort by title, 200 rows": lambda: fetch_window(store, QueueQuery(sort="title"), now=NOW, limit=200),
        "filter type + priority": lambda: fetch_window(
            store, QueueQuery(types=("Bug Fix",), priorities=("P2",)), now=NOW, limit=200),
        "search rare term": lambda: fetch_window(store, QueueQuery(search="zanzibar"), now=NOW, limit=200),
        "search common term": lambda: fetch_window(store, QueueQuery(search="auth"), now=NOW, limit=200),
        "pane facet counts": lambda: facets(store, QueueQuery(), now=NOW),
    }


class SkipBenchmark(RuntimeError):
    """PostgreSQL is not available here (the message says why)."""


def run(*, explain: bool = False) -> list[tuple[str, float, str]]:
    """The figures, SQLite and PostgreSQL measured in this run (``explain``: print the plans)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from pg_cluster import missing_reason, start_cluster

    reason = missing_reason()
    if reason:
        raise SkipBenchmark(f"PostgreSQL store benchmark skipped: {reason}")
    from idqueue.store.transfer import copy_to_postgres

    rows: list[tuple[str, float, str]] = [("baseline CPU loop before the PostgreSQL figures (ms)", cpu_loop_ms(), "—")]
    cluster = start_cluster()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(db=Path(tmp) / "b.db", now=NOW.isoformat())
            lite = Store.open(settings.db)
            assembler = make_assembler(settings, NOW, rules=rulebook(settings))
            items = synthetic_items(SIZE)
            for k in range(0, len(items), 100):
                lite.apply("bench", items=items[k:k + 100], assembler=assembler, now=NOW)
            url = cluster.new_database("bench")
            started = time.perf_counter()
            copy_to_postgres(lite, url)
            rows.append((f"migrate-to: copy {SIZE // 1000}k requests into PostgreSQL (s)",
                         time.perf_counter() - started, ""))
            # migrate-to has run VACUUM (ANALYZE) on the copy, as autovacuum would on a server.
            pg = Store.open(url)
            extra = synthetic_items(2_000, SIZE)
            for name, store in (("SQLite", lite), ("PostgreSQL", pg)):
                started = time.perf_counter()
                for k in range(0, len(extra), 100):
                    store.apply("bench", items=extra[k:k + 100], assembler=assembler, now=NOW)
                rows.append((f"upsert + assemble on {name}, +2k at {SIZE // 1000}k (requests/s)",
                             len(extra) / (time.perf_counter() - started), ""))
                # What the sync engine runs after a big import (STATISTICS_AFTER changed requests).
                started = time.perf_counter()
                store.refresh_statistics()
                rows.append((f"refresh planner statistics on {name} at {SIZE // 1000}k (ms)",
                             (time.perf_counter() - started) * 1000, "once per big import"))
            if explain:
                _explain_all(pg)
            lite_q, pg_q = _queries(lite), _queries(pg)
            for label, fn in lite_q.items():
                # Interleaved, so a burst of load on the machine hits both backends alike.
                a, b = _paired_medians(fn, pg_q[label])
                rows.append((f"{label}, SQLite (ms)", a, ""))
                rows.append((f"{label}, PostgreSQL (ms)", b, f"ratio {b / a:.2f}x (target ≤ 1.5x)"))
            pg.close()
            lite.close()
    finally:
        cluster.stop()
    return rows


def _explain_all(store: Store) -> None:
    """Print ``EXPLAIN (ANALYZE, BUFFERS)`` of every statement each query sends to PostgreSQL."""
    raw = store.conn.raw  # type: ignore[attr-defined]
    execute = raw.execute
    sent: list[tuple[str, object]] = []

    def record(sql: str, params: object = None, **kwargs: object) -> object:
        sent.append((sql, params))
        return execute(sql, params, **kwargs)

    for label, fn in _queries(store).items():
        sent.clear()
        raw.execute = record
        try:
            fn()
        finally:
            raw.execute = execute
        for sql, params in sent:
            print(f"-- {label}\n{sql}\n-- {params}")
            for (line,) in execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params):
                print("   ", line)


def main(argv: list[str]) -> int:
    """Print the figures (``--explain``: also the PostgreSQL plans); a clear line when skipped."""
    try:
        rows = run(explain="--explain" in argv)
    except SkipBenchmark as exc:
        print(exc)
        return 0
    for label, value, target in rows:
        print(f"{label:<62} {value:>10.1f}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
