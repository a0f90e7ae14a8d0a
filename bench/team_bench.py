"""Team mode: one ``idqueue serve`` and N client TUIs on one PostgreSQL store.

* **API calls a minute** at the emulators with 1 client and with 20 clients on one service
  (PERFORMANCE.md: equal — clients never call upstream). Same measuring window, same service.
* **A Slack event to a painted row in every client**: a requester's message is posted in the
  intake channel; Slack Socket Mode tells the service, which polls, writes the store and
  notifies; every client (the real app, headless) reloads and draws the row. Each client prints
  when the row was drawn (``bench.team_client``); the latencies over all clients and events give
  the median and p95 (target: median ≤ 1 s, p95 ≤ 2 s).

Needs the PostgreSQL server binaries (``tests/pg_cluster.py``); says so and skips without them.
``TEAM_BENCH_CLIENTS``, ``TEAM_BENCH_EVENTS`` and ``TEAM_BENCH_POLLS`` shrink a trial run;
``make bench`` uses the defaults (20 clients, 8 events, 3 polls).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

import httpx

from bench.common import cpu_loop_ms
from idqueue.sandbox.runner import Sandbox
from idqueue.sandbox.seed import REQUESTERS, intake_text

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = int(os.environ.get("TEAM_BENCH_CLIENTS", "20"))
EVENTS = int(os.environ.get("TEAM_BENCH_EVENTS", "8"))
POLLS = int(os.environ.get("TEAM_BENCH_POLLS", "3"))
"""The API calls are counted from the end of one service poll to the end of this many more, so
each count covers whole polls (a fixed window would catch one poll more or less by chance)."""
POLL_INTERVAL = 10
CHANNEL = "C0IDENTITY"
INTAKE_BOT = "B0IDBOT01"
"""The identity team's intake bot: its form posts are requests."""
REQUESTER = REQUESTERS[0]


class Client:
    """A ``bench.team_client`` process and what it printed."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.team_client"], env=env, cwd=str(ROOT),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.ready = False
        self.painted: dict[int, float] = {}
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[bytes] | None) -> None:
        assert stream is not None
        for raw in stream:
            try:
                line: dict[str, Any] = json.loads(raw)
            except ValueError:
                continue
            if "ready" in line:
                self.ready = True
            elif "event" in line:
                self.painted[int(line["event"])] = float(line["painted"])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _calls(sb: Sandbox) -> int:
    return sb.github.calls.count() + sb.slack.calls.count()


def _start_service(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], int]:
    out = log.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "idqueue", "serve", "--port", "0"], env=env, cwd=str(ROOT),
                            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    found: list[int] = []

    def listening() -> bool:
        hit = re.search(r"listening on http://127\.0\.0\.1:(\d+)", log.read_text(errors="replace"))
        if hit:
            found.append(int(hit.group(1)))
        return bool(hit) or proc.poll() is not None

    _wait(listening, 60, "the service to listen")
    if not found:
        raise RuntimeError(f"the service did not start: {log.read_text(errors='replace')[-500:]}")
    port = found[0]

    def polled() -> bool:
        try:
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return False
        return bool(health.get("role") == "active" and health.get("last_poll"))

    _wait(polled, 120, "the service's first poll")
    return proc, port


def _last_poll(port: int) -> str | None:
    try:
        health: dict[str, Any] = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return None
    return health.get("last_poll")


def _calls_a_minute(sb: Sandbox, port: int) -> float:
    """API calls at the emulators a minute, over :data:`POLLS` whole polls of the service."""
    seen = [_last_poll(port)]

    def next_poll() -> bool:
        now = _last_poll(port)
        if now is not None and now != seen[-1]:
            seen.append(now)
            return True
        return False

    _wait(next_poll, POLL_INTERVAL * 3, "a poll to end")
    before, started = _calls(sb), time.monotonic()
    for _ in range(POLLS):
        _wait(next_poll, POLL_INTERVAL * 3, "a poll to end")
    return (_calls(sb) - before) * 60.0 / (time.monotonic() - started)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run() -> list[tuple[str, float, str]]:
    sys.path.insert(0, str(ROOT / "tests"))
    from pg_cluster import missing_reason, start_cluster

    reason = missing_reason()
    if reason:
        raise RuntimeError(f"team benchmark skipped: {reason}")
    rows: list[tuple[str, float, str]] = [("baseline CPU loop before the team figures (ms)", cpu_loop_ms(), "—")]
    cluster = start_cluster()
    sb = Sandbox.start(seed=True)
    clients: list[Client] = []
    service: subprocess.Popen[bytes] | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="idqueue-team-bench-") as tmp:
            config = Path(tmp) / "config.toml"
            config.write_text("", encoding="utf-8")
            base = {k: v for k, v in os.environ.items() if not k.startswith("IDQUEUE_")}
            url = cluster.new_database("team")
            shared = {**base, "IDQUEUE_DATABASE_URL": url, "IDQUEUE_CONFIG_FILE": str(config),
                      "IDQUEUE_UI__POLL_INTERVAL": str(POLL_INTERVAL), "PYTHONPATH": str(ROOT)}
            service_env = {**shared, **sb.env()}
            client_env = {**shared, **{k: v for k, v in sb.env().items() if "TOKEN" not in k}}
            service, port = _start_service(service_env, Path(tmp) / "serve.log")

            clients.append(Client(client_env))
            _wait(lambda: all(c.ready for c in clients), 120, "the first client's queue")
            one = _calls_a_minute(sb, port)
            clients.extend(Client(client_env) for _ in range(CLIENTS - 1))
            _wait(lambda: all(c.ready for c in clients), 300, f"{CLIENTS} clients' queues")
            many = _calls_a_minute(sb, port)
            rows.append(("team: API calls a minute, 1 client", one, "—"))
            rows.append((f"team: API calls a minute, {CLIENTS} clients", many, "equal to 1 client"))

            posted: dict[int, float] = {}
            for event in range(1, EVENTS + 1):
                posted[event] = time.time()
                details = f"bench-event-{event}: cannot sign in to the portal"
                sb.slack.state.post(CHANNEL, INTAKE_BOT, intake_text("Bug Fix", REQUESTER, details, False))
                _wait(lambda event=event: all(event in c.painted for c in clients), 60,
                      f"event {event} in every client")
                time.sleep(1.0)
            latencies = [c.painted[e] - posted[e] for c in clients for e in posted]
            rows.append((f"team: Slack event → row painted, median ({CLIENTS} clients, ms)",
                         statistics.median(latencies) * 1000, "≤ 1000"))
            rows.append(("team: Slack event → row painted, p95 (ms)", _percentile(latencies, 0.95) * 1000, "≤ 2000"))
    finally:
        for client in clients:
            client.stop()
        if service is not None:
            service.terminate()
            try:
                service.wait(timeout=30)
            except subprocess.TimeoutExpired:
                service.kill()
        sb.stop()
        cluster.stop()
    return rows


def main() -> int:
    try:
        rows = run()
    except RuntimeError as exc:
        print(exc)
        return 0 if "skipped" in str(exc) else 1
    for label, value, target in rows:
        print(f"{label:<58} {value:>12.1f}  {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
