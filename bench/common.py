"""Helpers shared by the benchmark modules."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def cpu_loop_once_ms() -> float:
    """One run of a fixed CPU loop: how busy/slow the machine is right now."""
    started = time.perf_counter()
    sum(i * i for i in range(300_000))
    return (time.perf_counter() - started) * 1000


def cpu_loop_ms(runs: int = 5) -> float:
    """Median of :func:`cpu_loop_once_ms` over ``runs`` (report beside the figures it calibrates)."""
    return statistics.median(cpu_loop_once_ms() for _ in range(runs))


def median_ms(fn: Callable[[], object], runs: int = 7) -> float:
    """Median wall time of ``fn()`` in milliseconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)
