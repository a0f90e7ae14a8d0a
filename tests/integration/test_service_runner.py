"""The team service in-process on the sandbox: it polls when active, waits when standby, and its
endpoints say so (``/healthz``, ``/metrics``), with the real readers and the aiohttp app."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from polling import eventually

from idqueue.config import Settings
from idqueue.sandbox.runner import Sandbox
from idqueue.service.http import build_app
from idqueue.service.leader import FileLeadership, lock_path
from idqueue.service.metrics import ServiceMetrics
from idqueue.service.runner import Role, ServiceRunner
from idqueue.store.db import Store

WAIT = 30.0


_eventually = partial(eventually, timeout=WAIT)


def _settings(sb: Sandbox, db: Path, **overrides: Any) -> Settings:
    data = {**sb.settings_overrides(), **overrides}
    return Settings(db=db, now=sb.clock().isoformat(), **data)


@pytest.fixture
def make_runner(tmp_path: Path) -> Iterator[Callable[..., ServiceRunner]]:
    made: list[ServiceRunner] = []

    def make(settings: Settings, **kwargs: Any) -> ServiceRunner:
        store = Store.open(settings.db)
        kwargs.setdefault("interval", 3600)
        kwargs.setdefault("retry_every", 0.1)
        kwargs.setdefault("check_every", 0.1)
        runner = ServiceRunner(settings, store, FileLeadership(lock_path(settings.db)), **kwargs)
        made.append(runner)
        runner.start()
        return runner

    yield make
    for runner in made:
        runner.stop()


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        metric, _, rest = key.partition("{")
        found = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if metric == name and found == want:
            return float(value)
    return 0.0


def test_the_active_service_polls_and_a_burst_of_wakes_makes_one_poll(
        sandbox: Sandbox, tmp_path: Path, make_runner: Callable[..., ServiceRunner]) -> None:
    settings = _settings(sandbox, tmp_path / "team.db")
    runner = make_runner(settings)
    _eventually(lambda: runner.polls >= 1)
    assert runner.role is Role.ACTIVE
    assert runner.store.count() > 40  # the seeded month arrived
    health = runner.health()
    assert health.ok and set(health.sources) == {"github", "slack"}
    assert all(s["state"] == "ok" for s in health.sources.values())
    for _ in range(30):
        runner.wake("github")
    _eventually(lambda: runner.polls >= 2)
    assert runner.metrics.wakeups.labels("github")._value.get() == 30
    # Thirty wake-ups made one early poll, or two when the poll they started was still reading
    # GitHub when the last of them came — never thirty.
    runner.stop()
    assert 2 <= runner.polls <= 3
    assert runner.role is Role.STOPPED


def test_a_second_service_on_the_same_database_waits_and_takes_over(
        sandbox: Sandbox, tmp_path: Path, make_runner: Callable[..., ServiceRunner]) -> None:
    settings = _settings(sandbox, tmp_path / "team.db")
    active = make_runner(settings)
    _eventually(lambda: active.polls >= 1)
    sandbox.github.calls.clear()
    standby = make_runner(settings)
    _eventually(lambda: standby.role is Role.STANDBY)
    health = standby.health()
    assert health.ok and health.role is Role.STANDBY
    assert {s["state"] for s in health.sources.values()} == {"standby"}
    active.stop()  # a clean stop releases the lock at once
    _eventually(lambda: standby.polls >= 1)
    assert standby.role is Role.ACTIVE and standby.takeover_seconds is not None
    assert sandbox.github.calls.all()  # it polls now


async def test_healthz_and_metrics_answer(sandbox: Sandbox, tmp_path: Path,
                                          make_runner: Callable[..., ServiceRunner]) -> None:
    settings = _settings(sandbox, tmp_path / "team.db")
    metrics = ServiceMetrics(webhook_stats=lambda: {"github": {"accepted": 2, "bad_signature": 1}})
    runner = make_runner(settings, metrics=metrics)
    _eventually(lambda: runner.polls >= 1)
    async with TestClient(TestServer(build_app(runner, metrics))) as client:
        resp = await client.get("/healthz")
        assert resp.status == 200
        body = await resp.json()
        assert body["role"] == "active" and body["ok"] is True
        assert body["sources"]["github"]["state"] == "ok" and body["sources"]["slack"]["last_sync"]
        assert body["outbox"] == {"due": 0, "failed": 0, "needs_attention": 0, "queued": 0, "sending": 0}
        resp = await client.get("/metrics")
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
        text = await resp.text()
    assert _metric(text, "idqueue_leader") == 1
    for system in ("github", "slack"):
        assert _metric(text, "idqueue_polls_total", integration=system, outcome="ok") == 1
        assert _metric(text, "idqueue_poll_duration_seconds_count", integration=system) == 1
        assert 0 < _metric(text, "idqueue_poll_duration_seconds_sum", integration=system) < 60
        assert _metric(text, "idqueue_api_calls_total", integration=system) >= 1
    github_calls = [c for c in sandbox.github.calls.all() if c.path.startswith("/repos/")]
    assert _metric(text, "idqueue_api_calls_total", integration="github") == len(github_calls)
    assert _metric(text, "idqueue_outbox_actions", state="queued") == 0
    assert "idqueue_outbox_sent_total" in text or "# TYPE idqueue_outbox_sent counter" in text
    assert _metric(text, "idqueue_webhook_deliveries_total", system="github", outcome="bad_signature") == 1
    assert sandbox.github.url not in text and "xoxb-" not in text  # nothing of the settings


async def test_a_standby_is_healthy_but_not_active(sandbox: Sandbox, tmp_path: Path,
                                                   make_runner: Callable[..., ServiceRunner]) -> None:
    settings = _settings(sandbox, tmp_path / "team.db")
    active = make_runner(settings)
    _eventually(lambda: active.role is Role.ACTIVE)
    standby = make_runner(settings)
    _eventually(lambda: standby.role is Role.STANDBY)
    async with TestClient(TestServer(build_app(standby, standby.metrics))) as client:
        resp = await client.get("/healthz")
        assert resp.status == 200 and (await resp.json())["role"] == "standby"
        assert (await client.get("/healthz?role=active")).status == 503
        assert _metric(await (await client.get("/metrics")).text(), "idqueue_leader") == 0


async def test_healthz_fails_when_no_poll_succeeds(sandbox: Sandbox, tmp_path: Path,
                                                   make_runner: Callable[..., ServiceRunner]) -> None:
    overrides = sandbox.settings_overrides()
    settings = _settings(sandbox, tmp_path / "team.db",
                         github={**overrides["github"], "token": "ghp_refused0000000000000000000000000000"},
                         slack={**overrides["slack"], "token": "xoxb-refused-0000", "app_token": None})
    runner = make_runner(settings, interval=0.2)
    _eventually(lambda: runner.polls >= 2)
    async with TestClient(TestServer(build_app(runner, runner.metrics))) as client:
        resp = await _eventually_async(client, "/healthz", 503)
        body = await resp.json()
    assert body["role"] == "active" and body["ok"] is False
    assert any("no successful poll" in p for p in body["problems"])
    assert {s["state"] for s in body["sources"].values()} == {"auth_failed"}
    text = str(body)
    assert "ghp_refused" not in text and "xoxb-refused" not in text
    assert runner.metrics.polls.labels("github", "auth_failed")._value.get() >= 2


async def test_healthz_fails_when_the_database_cannot_be_read(
        sandbox: Sandbox, tmp_path: Path, make_runner: Callable[..., ServiceRunner]) -> None:
    settings = _settings(sandbox, tmp_path / "team.db")
    runner = make_runner(settings)
    _eventually(lambda: runner.polls >= 1)
    runner.stop()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.db}{suffix}").unlink(missing_ok=True)
    settings.db.write_bytes(b"this is not a database" * 100)
    async with TestClient(TestServer(build_app(runner, runner.metrics))) as client:
        resp = await client.get("/healthz")
        body = await resp.json()
    assert resp.status == 503
    assert any(p.startswith("database unreachable") for p in body["problems"])


async def _eventually_async(client: TestClient, path: str, status: int) -> Any:
    import asyncio

    deadline = time.monotonic() + WAIT
    while True:
        resp = await client.get(path)
        if resp.status == status or time.monotonic() > deadline:
            return resp
        await asyncio.sleep(0.05)


def test_a_slack_event_makes_the_active_service_poll_at_once(
        sandbox: Sandbox, tmp_path: Path, make_runner: Callable[..., ServiceRunner]) -> None:
    from idqueue.sandbox import seed as seed_mod

    settings = _settings(sandbox, tmp_path / "team.db")
    runner = make_runner(settings)  # an hour between polls: only the event can start the next one
    _eventually(lambda: runner.polls >= 1)
    hub = sandbox.slack.socket
    assert hub.wait_for(lambda h: h.hellos >= 1, timeout=WAIT)
    posted = sandbox.slack.state.post(seed_mod.CHANNEL, "U0REQ01", "*Type:* Help Request\n*Details:* seen live")
    _eventually(lambda: runner.store.get_request(f"slack:{seed_mod.CHANNEL}/{posted.ts}") is not None)
    _eventually(lambda: runner.polls >= 2)
    assert runner.metrics.wakeups.labels("slack")._value.get() >= 1
    assert runner.metrics.early_polls._value.get() >= 1
    runner.stop()
    assert hub.wait_for(lambda h: h.connections == 0, timeout=WAIT)  # no outside I/O once stopped
