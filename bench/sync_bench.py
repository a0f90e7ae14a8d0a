"""Initial sync of 10k GitHub issues + 10k Slack messages from the emulators (target ≤ 30 s).

The emulators run in this process, so the wall time includes serving the pages. Boxes are
noisy: the process CPU time of the sync and a fixed CPU loop timed in the same run show how
busy the machine was (compare runs by the ratio sync / loop, not by the wall time alone).
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import cpu_loop_ms
from idqueue.config import Settings
from idqueue.sandbox import seed as seed_mod
from idqueue.sandbox.runner import Sandbox
from idqueue.store.db import Store
from idqueue.sync import SyncEngine, build_sources

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)




def run() -> list[tuple[str, float, str]]:
    rows: list[tuple[str, float, str]] = []
    with Sandbox.start(seed=False, now=NOW) as sb, tempfile.TemporaryDirectory() as tmp:
        seed_mod.seed_bulk(sb.github.state, sb.slack.state, n_issues=10_000, n_messages=10_000, now=NOW)
        settings = Settings(**sb.settings_overrides(), db=Path(tmp) / "bench.db", now=NOW.isoformat())
        store = Store.open(settings.db)
        engine = SyncEngine(store, build_sources(settings), settings)
        loop_before = cpu_loop_ms()
        started, cpu_started = time.perf_counter(), time.process_time()
        report = engine.poll()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        loop = (loop_before + cpu_loop_ms()) / 2
        for source in report.sources:
            if source.error is not None:
                raise RuntimeError(source.summary())
        rows.append(("initial sync 10k issues + 10k Slack messages (s)", elapsed, "≤ 30 s"))
        rows.append(("  process CPU time during the sync, emulators included (s)", cpu, ""))
        rows.append(("  baseline CPU loop in the same run, median of 5 (ms)", loop, "—"))
        rows.append(("  requests stored", float(store.count()), ""))
        gh_before = len(sb.github.calls)
        started = time.perf_counter()
        engine.poll()
        rows.append(("idle re-poll (s)", time.perf_counter() - started, ""))
        idle = sb.github.calls[gh_before:]
        counted = [c for c in idle if c.status != 304 and "rate_limit" not in c.path]
        rows.append(("idle GitHub poll: requests counted against rate limit", float(len(counted)), "0 (ETag → 304)"))
    return rows
