"""Start-up against a plain Textual app showing the same rows, in the same terminal.

``idqueue`` is started the way a user starts it (the console entry point, no sub-command, a
10k-request database, no tokens), and so is a baseline: a plain Textual app (header, a
``DataTable`` with the same first 50 rows read from the same database with ``sqlite3``,
footer). Each child process reports the moment its first frame with rows reached the terminal:
a frame rendered while Textual batches updates (``App.batch_update``, which covers the whole
start-up until the first screen and its widgets are mounted) is dropped by ``App._display``,
so it does not count.
Both run in a real terminal (a detached tmux session at 160×50) when tmux exists, else
headless. Runs alternate between the two so a busy moment of the machine hits both.

Run directly: ``.venv/bin/python -m bench.startup_bench``.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.tui_bench import NOW_ISO, make_db

RUNS = 7
SIZE = (160, 50)
_SESSIONS = itertools.count()

# Patches App._display before idqueue is imported, then runs the real entry point. The first
# frame written to the terminal that shows the queue with its cursor row ends the run.
CHILD_IDQUEUE = r"""
import json, os, sys, time
t0, out, headless = float(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
from textual.app import App
real = App._display
done = []
def display(self, screen, renderable):
    real(self, screen, renderable)
    table = getattr(screen, "table", None) if type(screen).__name__ == "QueueScreen" else None
    # A frame rendered inside a batch is dropped by App._display, never written.
    if not done and renderable is not None and not self._batch_count and table is not None \
            and table.loaded and table.cursor_row is not None:
        done.append(time.time() - t0)
        with open(out + ".tmp", "w") as fh:  # atomic: the parent stops tmux once it sees the file
            json.dump({"paint": done[0]}, fh)
        os.replace(out + ".tmp", out)
        self.call_later(self.exit)
App._display = display
if headless:
    real_run = App.run
    App.run = lambda self, *a, **k: real_run(self, headless=True, size=(160, 50))
sys.argv = ["idqueue"]
from idqueue.cli import main
main()
"""

CHILD_BASELINE = r"""
import json, os, sqlite3, sys, time
t0, out, headless, db = float(sys.argv[1]), sys.argv[2], sys.argv[3] == "1", sys.argv[4]
from textual.app import App
from textual.widgets import DataTable, Footer, Header

class Plain(App):
    def compose(self):
        yield Header()
        yield DataTable()
        yield Footer()

    def on_mount(self):
        table = self.query_one(DataTable)
        table.add_columns("Key", "Title", "Type", "Priority", "Status", "Assignee")
        conn = sqlite3.connect(db)
        rows = conn.execute("SELECT key, title, type, priority, status, COALESCE(assignee, '') "
                            "FROM requests WHERE is_open = 1 ORDER BY seq LIMIT 50").fetchall()
        table.add_rows(rows)

done = []
app = Plain()
real = app._display
def display(screen, renderable):
    real(screen, renderable)
    if not done and renderable is not None and not app._batch_count and app.query_one(DataTable).row_count:
        done.append(time.time() - t0)
        with open(out + ".tmp", "w") as fh:  # atomic: the parent stops tmux once it sees the file
            json.dump({"paint": done[0]}, fh)
        os.replace(out + ".tmp", out)
        app.call_later(app.exit)
app._display = display
app.run(headless=headless, size=(160, 50) if headless else None)
"""


def _run_child(args: list[str], out: Path, env: dict[str, str], tmux: str | None) -> float:
    out.unlink(missing_ok=True)
    t0 = time.time()
    argv = [sys.executable, "-c", args[0], str(t0), str(out), "0" if tmux else "1", *args[1:]]
    if tmux:
        session = f"idqueue-bench-{os.getpid()}-{next(_SESSIONS)}"
        command = " ".join(_quote(a) for a in argv)
        subprocess.run([tmux, "-L", session, "new-session", "-d", "-s", session, "-x", str(SIZE[0]),
                        "-y", str(SIZE[1]), f"env {_env_prefix(env)} {command}"], check=True)
        try:
            deadline = time.time() + 60
            while not out.exists() and time.time() < deadline:
                time.sleep(0.002)
        finally:
            subprocess.run([tmux, "-L", session, "kill-server"], capture_output=True)
    else:
        subprocess.run(argv, env=env, check=True, capture_output=True, timeout=60)
    if not out.exists():
        raise RuntimeError("the child never painted")
    # The file may be seen while being written: read until it parses.
    for _ in range(100):
        try:
            return float(json.loads(out.read_text())["paint"])
        except (ValueError, KeyError):
            time.sleep(0.005)
    raise RuntimeError("unreadable child result")


def _quote(value: str) -> str:
    import shlex

    return shlex.quote(value)


def _env_prefix(env: dict[str, str]) -> str:
    keys = [k for k in env if k.startswith("IDQUEUE_") or k in ("PYTHONPATH", "TERM")]
    return " ".join(f"{k}={_quote(env[k])}" for k in keys)


def measure(runs: int = RUNS) -> dict[str, list[float]]:
    """First-paint seconds of idqueue and of the baseline, ``runs`` alternating runs each."""
    tmux = shutil.which("tmux")
    # Measure the installed app as a user starts it: with its bytecode compiled, as a wheel
    # install (or any second start) has it. Environments that set PYTHONDONTWRITEBYTECODE
    # would otherwise make every start compile the package from source.
    import compileall

    import idqueue

    compileall.compile_dir(str(Path(idqueue.__file__).parent), quiet=1)
    with tempfile.TemporaryDirectory(prefix="idqueue-startup-bench-") as tmp:
        folder = Path(tmp)
        db = make_db(folder / "10k.db", 10_000)
        config = folder / "config.toml"
        config.write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IDQUEUE_", "GITHUB_", "GH_", "SLACK_"))}
        env.update({"IDQUEUE_DB": str(db), "IDQUEUE_CONFIG_FILE": str(config), "IDQUEUE_NOW": NOW_ISO,
                    "TERM": "xterm-256color"})
        out = folder / "paint.json"
        result: dict[str, list[float]] = {"idqueue": [], "baseline": [], "tmux": [1.0 if tmux else 0.0]}
        # One warm-up each: the first start of a process reads the files from disk.
        _run_child([CHILD_IDQUEUE], out, env, tmux)
        _run_child([CHILD_BASELINE, str(db)], out, env, tmux)
        for _ in range(runs):
            result["baseline"].append(_run_child([CHILD_BASELINE, str(db)], out, env, tmux))
            result["idqueue"].append(_run_child([CHILD_IDQUEUE], out, env, tmux))
    return result


def run() -> list[tuple[str, float, str]]:
    """``(name, value, target)`` rows for ``make bench``."""
    got = measure()
    where = "tmux 160×50" if got["tmux"][0] else "headless 160×50"
    base = statistics.median(got["baseline"]) * 1000
    ours = statistics.median(got["idqueue"]) * 1000
    return [
        (f"baseline: plain Textual app, same 50 rows, start → paint, {where} (ms)", round(base, 1), "anchor"),
        (f"idqueue start → first queue paint, 10k cached, {where} (ms)", round(ours, 1), "≤ 700"),
        ("start-up ratio idqueue / plain Textual app (median)", round(ours / base, 2), "≤ 1.8"),
    ]


def main() -> None:
    """Print the figures."""
    for name, value, target in run():
        print(f"{name:<72} {value:>9}  {target}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
