"""``make bench``: run every benchmark module and print the figures against PERFORMANCE.md."""

from __future__ import annotations

import importlib
import sys
import time

MODULES = ["bench.sync_bench", "bench.thread_bench", "bench.store_bench", "bench.tui_bench", "bench.startup_bench",
           "bench.metrics_bench", "bench.trello_bench"]


def main() -> int:
    print(f"{'benchmark':<58} {'measured':>12}  target")
    print("-" * 90)
    failed = 0
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            print(f"{name}: not available ({exc})")
            continue
        started = time.perf_counter()
        try:
            rows = module.run()
        except Exception as exc:
            failed += 1
            print(f"{name}: FAILED: {exc!r}")
            continue
        for label, value, target in rows:
            print(f"{label:<58} {value:>12.1f}  {target}")
        print(f"  ({name} took {time.perf_counter() - started:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
