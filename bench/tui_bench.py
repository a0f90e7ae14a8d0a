"""TUI benchmarks against PERFORMANCE.md: ``run() -> [(name, value, target)]``.

Datasets: synthetic requests at 10k and 50k cached (about 70 % open), realistic titles with
some emoji/CJK, written straight into the ``requests`` table (the queue only reads that table).
Terminal: 160×50, headless. Paint times are taken when the compositor hands a frame to the
driver (``App._display``), i.e. after the frame is rendered; headless mode skips only the write
to a terminal. Medians of several runs; a plain Textual app and a bare SQL window are measured
in the same run as baselines, since boxes are noisy.

Run directly: ``.venv/bin/python bench/tui_bench.py``.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
NOW_ISO = "2026-03-11T15:30:00Z"
SIZE = (160, 50)
RUNS = 5
ROSTER = {
    "ana": {"name": "Ana Reyes", "github": "ana-reyes", "slack": "U0ANA"},
    "ben": {"name": "Ben Okafor", "github": "ben-okafor", "slack": "U0BEN"},
    "chloe": {"name": "Chloe Park", "github": "chloe-park", "slack": "U0CHLOE"},
    "dev": {"name": "Dev Patel", "github": "dev-patel", "slack": "U0DEV"},
    "erin": {"name": "Erin Walsh", "github": "erin-walsh", "slack": "U0ERIN"},
}
TYPES = ["PR Review", "Data Pull", "Test User / Mock Auth", "Sign-in Service / USiP", "Bug Fix",
         "Feature Request", "Task Request", "Help Request", "Other"]
WORDS = ("sign-in", "staging", "test user", "Login.gov", "ID.me", "callback", "error", "data pull", "MHV",
         "review", "onboarding", "client secret", "redirect", "session", "timeout", "USiP", "LOA3", "token")
FLAVOUR = ("", "", "", "", " 🚀", " — 测试用户", " (ログイン)", " 👩‍💻", " ✅")


def _settings(db: Path) -> Any:
    from idqueue.config import Settings

    values: dict[str, Any] = {"db": db, "now": NOW_ISO, "team": ROSTER, "me": "ana", "rota": {"weekly": list(ROSTER)}}
    return Settings(**values)


# --------------------------------------------------------------------------- dataset
def make_db(path: Path, n: int, *, seed: int = 7) -> Path:
    """Write ``n`` synthetic requests (about 70 % open) into a fresh store."""
    from idqueue.domain.models import Person, Request, SlaInfo, SourceKind, Status
    from idqueue.store.db import PRIORITY_RANK, Store

    rng = random.Random(seed)
    store = Store.open(path)
    open_statuses = [Status.NEW, Status.ACKNOWLEDGED, Status.ASSIGNED, Status.PENDING]
    closed_statuses = [Status.CLOSED, Status.RESOLVED, Status.BACKLOG]
    with store.write() as conn:
        for seq in range(1, n + 1):
            created = NOW - timedelta(minutes=rng.randint(5, 60 * 24 * 395))
            is_open = rng.random() < 0.7
            status = rng.choice(open_statuses if is_open else closed_statuses)
            due = created + timedelta(hours=rng.choice([1, 8, 48]))
            state = "met" if not is_open else ("breached" if due < NOW else "ok")
            kind = rng.random()
            sources = [SourceKind("github")] if kind < 0.5 else [SourceKind("slack")] if kind < 0.7 else \
                [SourceKind("github"), SourceKind("slack")]
            rid = f"gh:va-identity/support#{seq}" if SourceKind("github") in sources else f"slack:C0BENCH/{seq}.000100"
            words = rng.sample(WORDS, 4)
            title = f"{words[0].capitalize()} {words[1]} fails with {words[2]} on {words[3]}{rng.choice(FLAVOUR)}"
            request = Request(
                id=rid, key=f"REQ-{seq}", sources=sources, title=title,
                body=f"Hi team, {title.lower()}. Steps: open {words[0]}, then {words[1]}.",
                requester=Person(f"user{seq % 400}", f"Requester {seq % 400}"),
                type=rng.choice(TYPES), type_reason="synthetic", status=status,
                assignee=rng.choice([None, None, *ROSTER]), priority=rng.choice(["P1", "P2", "P3", "P3", "P4"]),
                priority_reason="synthetic", created_at=created, updated_at=created,
                url=f"https://github.com/va-identity/support/issues/{seq}", item_ids=[rid],
                sla=SlaInfo(state=state, due_at=due if is_open else None,
                            at_risk_at=due - timedelta(minutes=15) if is_open else None,
                            first_response_due=due, policy="Standard"),
            )
            assert request.priority in PRIORITY_RANK
            store._write_request(conn, request, seq)  # bulk load: the queue only reads this table
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return path


# --------------------------------------------------------------------------- cold start (subprocess)
CHILD_APP = r"""
import json, os, resource, sys, time
t0 = float(sys.argv[2])
from idqueue.app import IdqueueApp
from bench_settings import settings_for
app = IdqueueApp.build(settings_for(sys.argv[1]), live=False, poll=False)
result = {}
real = app._display
def display(screen, renderable):
    real(screen, renderable)
    table = getattr(screen, "table", None) if type(screen).__name__ == "QueueScreen" else None
    if "paint" not in result and table is not None and table.loaded and table.cursor_row is not None:
        result["paint"] = time.time() - t0
        app.call_later(app.exit)
app._display = display
app.run(headless=True, size=(160, 50))
# VmHWM is this process's own peak: ru_maxrss would carry over the parent's peak across
# fork + exec on Linux, so a large `make bench` parent would inflate it.
try:
    with open("/proc/self/status") as fh:
        hwm = next(line for line in fh if line.startswith("VmHWM:"))
    result["rss_mb"] = int(hwm.split()[1]) / 1024
except (OSError, StopIteration):
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(result))
"""

CHILD_BASELINE = r"""
import json, resource, sys, time
t0 = float(sys.argv[1])
from textual.app import App
from textual.widgets import Footer, Header, Static
class Plain(App):
    def compose(self):
        yield Header()
        yield Static("hello " * 2000)
        yield Footer()
app = Plain()
result = {}
real = app._display
def display(screen, renderable):
    real(screen, renderable)
    if "paint" not in result and renderable is not None:
        result["paint"] = time.time() - t0
        app.call_later(app.exit)
app._display = display
app.run(headless=True, size=(160, 50))
print(json.dumps(result))
"""

SETTINGS_MODULE = f'''
from pathlib import Path
from idqueue.config import Settings
ROSTER = {ROSTER!r}
def settings_for(db):
    return Settings(db=Path(db), now={NOW_ISO!r}, team=ROSTER, me="ana", rota={{"weekly": list(ROSTER)}})
'''


def _child(script: str, args: list[str], folder: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": f"{folder}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", script, *args, str(t0)] if args else
                         [sys.executable, "-c", script, str(t0)],
                         capture_output=True, text=True, timeout=120, env=env, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def cold_start(db: Path, folder: Path, runs: int = RUNS) -> tuple[list[float], list[float]]:
    """(first-paint seconds, peak RSS MB) per run of a fresh process."""
    paints, rss = [], []
    for _ in range(runs):
        result = _child(CHILD_APP, [str(db)], folder)
        paints.append(result["paint"])
        rss.append(result["rss_mb"])
    return paints, rss


def baseline_cold_start(folder: Path, runs: int = RUNS) -> list[float]:
    """A plain Textual app's first paint, same machine, same run."""
    return [_child(CHILD_BASELINE, [], folder)["paint"] for _ in range(runs)]


# --------------------------------------------------------------------------- interactive (in process)
async def _interactive(db: Path, label: str, *, cursor_runs: int = 40) -> dict[str, list[float]]:
    import asyncio

    from textual import events

    from idqueue.app import IdqueueApp
    from idqueue.screens.queue import QueueScreen
    from idqueue.widgets.poller import Poller, PollResult

    app = IdqueueApp.build(_settings(db), live=False, poll=False)
    paints: list[tuple[float, int, int]] = []  # (time, cursor, reload shown)
    real = app._display

    def display(screen: Any, renderable: Any) -> None:
        real(screen, renderable)
        if renderable is not None and isinstance(screen, QueueScreen):
            paints.append((time.perf_counter(), screen.table.cursor, screen.table.applied_generation))

    app._display = display  # type: ignore[method-assign]
    out: dict[str, list[float]] = {"cursor": [], "scroll": [], "sort": [], "filter": [], "search": [], "poll": []}
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        while not (isinstance(screen, QueueScreen) and screen.table.loaded and screen.table.cursor_row):
            await pilot.pause(0.01)
            screen = app.screen
        assert isinstance(screen, QueueScreen)
        table = screen.table
        await pilot.pause(0.2)
        await _idle(app)

        async def key_to_paint(key: str) -> float:
            before = table.cursor
            n = len(paints)
            t0 = time.perf_counter()
            event = events.Key(key, None)
            event.set_sender(app)
            app._driver.send_message(event)  # type: ignore[union-attr]
            while not any(p[1] != before for p in paints[n:]):
                await asyncio.sleep(0.0005)
            return next(p[0] for p in paints[n:] if p[1] != before) - t0

        async def reload_to_paint(change: Any) -> float:
            target = table._generation + 1
            n = len(paints)
            t0 = time.perf_counter()
            change()
            while not any(p[2] >= target for p in paints[n:]):
                await asyncio.sleep(0.0005)
            paint = next(p[0] for p in paints[n:] if p[2] >= target)
            await _idle(app)
            await pilot.pause(0.02)
            return paint - t0

        # Cursor moves inside the viewport: down/up within the visible rows.
        for i in range(cursor_runs):
            out["cursor"].append(await key_to_paint("down" if i % 2 == 0 else "up"))
            await pilot.pause(0.02)
        # Cursor moves that scroll one line: start at the last visible row.
        await pilot.press("home")
        for _ in range(table.size.height - 2):
            await key_to_paint("down")
        await _idle(app)
        for _ in range(cursor_runs):
            out["scroll"].append(await key_to_paint("down"))
            await pilot.pause(0.02)
        await _idle(app)
        # Sort, filter and search: each change re-queries and repaints.
        for sort in ("age", "title", "sla", "priority", "requester", "rank"):
            out["sort"].append(await reload_to_paint(lambda s=sort: screen._set_sort(s)))
        q = screen.query_state
        for change in (q.with_(priorities=("P1",)), q.with_(types=("Bug Fix",)), q.with_(sla_states=("breached",)),
                       q.with_(priorities=("P2",), types=("Data Pull",)), q):
            out["filter"].append(await reload_to_paint(lambda c=change: screen._apply_query(c)))
        for term in ("callback", "login", "staging timeout", "onboarding", ""):
            out["search"].append(await reload_to_paint(lambda t=term: screen._apply_query(q.with_(search=t))))
        # A poll that changed 100 requests: the store is updated, then the Polled message arrives.
        store = app.ctx.store
        for run in range(RUNS):
            await pilot.press("home", "down", "down", "down")
            await _idle(app)
            keep = table.cursor_id
            rows = store.conn.execute("SELECT id FROM requests WHERE is_open=1 ORDER BY random() LIMIT 100")
            ids = [r[0] for r in rows]
            with store.write() as conn:
                conn.executemany("UPDATE requests SET title = title || ' (edited)', updated_at = ? WHERE id = ?",
                                 [(NOW_ISO, i) for i in ids])
            result = PollResult(changed=ids)
            out["poll"].append(await reload_to_paint(lambda r=result: screen.post_message(Poller.Polled(r))))
            assert table.cursor_id == keep, f"{label}: the poll moved the cursor (run {run})"
    return out


async def _idle(app: Any) -> None:
    """Wait for every worker; cancelled (superseded) workers are fine."""
    import asyncio

    await asyncio.gather(*[w.wait() for w in list(app.workers)], return_exceptions=True)


def interactive(db: Path, label: str) -> dict[str, list[float]]:
    """Key→paint and reload→paint timings in a headless app on ``db``."""
    import asyncio

    return asyncio.run(_interactive(db, label))


def sql_window_baseline(db: Path, runs: int = RUNS) -> list[float]:
    """A bare 200-row SQL window in rank order (what any reload costs at least)."""
    from idqueue.store.db import Store
    from idqueue.store.queue import QueueQuery, fetch_window

    store = Store.open(db)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fetch_window(store, QueueQuery(sort="title"), now=NOW, limit=200)
        times.append(time.perf_counter() - t0)
    store.close()
    return times


# --------------------------------------------------------------------------- report
def _ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 1)


def run() -> list[tuple[str, float, str]]:
    """Measure everything; returns ``(name, value, target)`` rows (times in ms, memory in MB)."""
    previous = os.environ.get("IDQUEUE_CONFIG_FILE")
    try:
        return _run()
    finally:
        if previous is None:
            os.environ.pop("IDQUEUE_CONFIG_FILE", None)
        else:
            os.environ["IDQUEUE_CONFIG_FILE"] = previous


def _run() -> list[tuple[str, float, str]]:
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="idqueue-tui-bench-") as tmp:
        folder = Path(tmp)
        config = folder / "config.toml"
        config.write_text("")
        os.environ["IDQUEUE_CONFIG_FILE"] = str(config)  # never read the user's own config
        (folder / "bench_settings.py").write_text(SETTINGS_MODULE)
        db10 = make_db(folder / "10k.db", 10_000)
        db50 = make_db(folder / "50k.db", 50_000)

        base = baseline_cold_start(folder)
        paints10, rss10 = cold_start(db10, folder)
        paints50, rss50 = cold_start(db50, folder)
        rows.append(("baseline: plain Textual app, cold start → first paint (ms, median)", _ms(base), "anchor"))
        rows.append(("cold start → first queue paint, 10k cached (ms, median)", _ms(paints10), "≤ 700"))
        rows.append(("cold start → first queue paint, 50k cached (ms, median)", _ms(paints50), "—"))

        sql10 = sql_window_baseline(db10)
        sql50 = sql_window_baseline(db50)
        rows.append(("baseline: bare SQL 200-row window sorted by title, 10k (ms, median)", _ms(sql10), "anchor"))
        rows.append(("baseline: bare SQL 200-row window sorted by title, 50k (ms, median)", _ms(sql50), "anchor"))

        i10 = interactive(db10, "10k")
        rows.append(("cursor move inside the viewport, key → paint, 10k (ms, median)", _ms(i10["cursor"]), "≤ 16"))
        rows.append(("cursor move that scrolls one line, 10k (ms, median)", _ms(i10["scroll"]), "≤ 50"))
        rows.append(("all cursor keys, 10k (ms, p95)", _p95(i10["cursor"] + i10["scroll"]), "≤ 60"))
        for what in ("sort", "filter", "search"):
            rows.append((f"{what} and repaint, 10k (ms, median)", _ms(i10[what]), "≤ 250"))
        rows.append(("apply a 100-request poll, cursor kept, 10k (ms, median)", _ms(i10["poll"]), "≤ 250"))

        i50 = interactive(db50, "50k")
        for what in ("sort", "filter", "search"):
            rows.append((f"{what} and repaint, 50k (ms, median)", _ms(i50[what]), "≤ 400"))
        rows.append(("cursor move that scrolls one line, 50k (ms, median)", _ms(i50["scroll"]), "≤ 50"))
        rows.append(("apply a 100-request poll, cursor kept, 50k (ms, median)", _ms(i50["poll"]), "—"))

        rows.append(("peak RSS after first paint, 10k cached (MB, max)", round(max(rss10), 1), "≤ 120"))
        rows.append(("peak RSS after first paint, 50k cached (MB, max)", round(max(rss50), 1), "≤ 160"))
    return rows


def main() -> None:
    """Print the table."""
    rows = run()
    width = max(len(name) for name, _, _ in rows)
    print(f"{'measure'.ljust(width)}  {'value':>9}  target")
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {value:>9}  {target}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
