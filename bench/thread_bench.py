"""The thread-check cost of one Slack poll with 500 open requests older than the lookback window.

Every open request's thread is re-checked each poll (``conversations.replies``), within
``slack.thread_checks_per_minute`` × ``ui.poll_interval`` / 60 calls. Measured, in the same
run, against a baseline poll that checks no open threads (the lookback scan and the 5-thread
rotation only: what a poll cost before open threads were re-checked). Figures are medians of
5 polls; the emulator runs in this process, so its serving time is included.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import cpu_loop_ms
from idqueue.config import Settings
from idqueue.integrations.slack.source import SlackSource
from idqueue.sandbox import seed as seed_mod
from idqueue.sandbox.runner import Sandbox
from idqueue.store.db import Store
from idqueue.sync import SyncEngine

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
OPEN = 500
RUNS = 5


class _NoThreadChecks(SlackSource):
    """The baseline: the same source without the store's hints (no open-thread checks)."""

    wants_hints = False


def _seed(sb: Sandbox) -> None:
    st = sb.slack.state
    start = NOW - timedelta(days=10)
    for i in range(OPEN):
        user = seed_mod.REQUESTERS[i % len(seed_mod.REQUESTERS)].slack
        st.post(seed_mod.CHANNEL, user, f"*Type:* Help Request\n*Details:* old open question {i}",
                at=start + timedelta(minutes=i))


def _settings(sb: Sandbox, db: Path, per_minute: float) -> Settings:
    overrides: dict[str, Any] = sb.settings_overrides()
    overrides["slack"] = {**overrides["slack"], "channels": [seed_mod.CHANNEL],
                          "thread_checks_per_minute": per_minute}
    return Settings(**overrides, db=db, now=NOW.isoformat())


def _polls(sb: Sandbox, engine: SyncEngine) -> tuple[float, float, int]:
    """Median seconds and conversations.replies calls of RUNS polls, and the last one's skipped threads."""
    seconds: list[float] = []
    calls: list[int] = []
    skipped = 0
    for _ in range(RUNS):
        sb.clock.advance(timedelta(minutes=1))
        before = len(sb.slack.calls.api("conversations.replies"))
        started = time.perf_counter()
        report = engine.poll()
        seconds.append(time.perf_counter() - started)
        calls.append(len(sb.slack.calls.api("conversations.replies")) - before)
        skipped = report.sources[0].stats.threads_skipped
        if report.errors:
            raise RuntimeError(report.sources[0].summary())
    return statistics.median(seconds), float(statistics.median(calls)), skipped


def run() -> list[tuple[str, float, str]]:
    rows: list[tuple[str, float, str]] = []
    with Sandbox.start(seed=False, now=NOW) as sb, tempfile.TemporaryDirectory() as tmp:
        _seed(sb)
        loop_before = cpu_loop_ms()
        cases = (
            ("baseline, no thread checks", 50.0, _NoThreadChecks),
            ("budget 50/min (Tier 3)", 50.0, SlackSource),
            ("budget 600/min (all 500)", 600.0, SlackSource),
        )
        for n, (label, per_minute, kind) in enumerate(cases):
            settings = _settings(sb, Path(tmp) / f"threads{n}.db", per_minute)
            store = Store.open(settings.db)
            engine = SyncEngine(store, [kind(settings, clock=sb.clock)], settings, clock=sb.clock)
            engine.poll()  # the initial sync
            seconds, calls, skipped = _polls(sb, engine)
            store.close()
            rows.append((f"{OPEN} open Slack threads: poll, {label} (s)", seconds, "—"))
            rows.append(("  conversations.replies calls a poll", calls,
                         "≤ budget" if kind is SlackSource else "—"))
            if kind is SlackSource:
                rows.append(("  open threads left unchecked (said in the summary)", float(skipped), ""))
        rows.append(("  baseline CPU loop in the same run, median of 5 (ms)",
                     (loop_before + cpu_loop_ms()) / 2, "—"))
    return rows
