"""``idqueue serve`` as its users run it: real processes on the sandbox's emulators.

* One service polls the sandbox; another process's ``idqueue list --json`` sees the queue;
  ``/healthz`` and ``/metrics`` answer; SIGTERM stops it cleanly.
* Two services on one database: one is active, the other a standby. SIGKILL the active one while
  it sends the outbox: the standby takes over, polls resume, and every queued action reaches its
  destination exactly once (counted at the emulators).

The two-service test is parametrized over the team database (:func:`team_database`): a SQLite
file (the services elect a leader by a file lock) and PostgreSQL (``IDQUEUE_DATABASE_URL``, an
advisory lock), on a throwaway cluster the tests start.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from outbox_env import BACKLOG_REPO, CHANNEL, REPO, WritebackEnv, make_env
from polling import eventually

from idqueue.outbox.models import ActionKind, ActionState
from idqueue.sandbox.runner import Sandbox
from idqueue.service.leader import FileLeadership, lock_path
from idqueue.store.db import Store
from idqueue.team_state import describe_service, read_service_state

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60.0
TAKEOVER_BOUND = 10.0
"""The requirement: a standby is active, and polling, within 10 s of the active service's death."""


@dataclass
class TeamDatabase:
    """Where the services keep the team's store, as environment variables and as an open store."""

    env: dict[str, str]
    open_store: Callable[[], Store]


def team_database(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> TeamDatabase:
    """The shared database of a test's services, by kind: ``sqlite`` (a file in ``tmp_path``).

    A PostgreSQL case takes its URL from the ``pg_url`` fixture (``request.getfixturevalue``) and
    returns ``{"IDQUEUE_DATABASE_URL": url}`` with a function that opens that store.
    """
    if kind == "sqlite":
        db = tmp_path / "team.db"
        return TeamDatabase({"IDQUEUE_DB": str(db)}, lambda: Store.open(db))
    if kind == "postgres":
        url = request.getfixturevalue("pg_url")
        return TeamDatabase({"IDQUEUE_DATABASE_URL": url, "IDQUEUE_DB": str(tmp_path / "unused.db")},
                            lambda: Store.open(url))
    raise ValueError(f"no team database of kind {kind!r} (request: {request.node.name})")


@dataclass
class Service:
    """One ``idqueue serve`` process; its log is a file (read while it runs)."""

    proc: subprocess.Popen[bytes]
    log: Path
    port: int = 0

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def healthz(self) -> dict[str, Any] | None:
        try:
            resp = httpx.get(self.url("/healthz"), timeout=5)
        except httpx.HTTPError:
            return None
        body: dict[str, Any] = resp.json()
        body["status"] = resp.status_code
        return body

    def metrics(self) -> str:
        return httpx.get(self.url("/metrics"), timeout=5).text


def _env(sb: Sandbox, tmp_path: Path, database: TeamDatabase) -> dict[str, str]:
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    out = {k: v for k, v in os.environ.items() if not k.startswith("IDQUEUE_")}
    out.update(sb.env())
    out.update(database.env)
    out["IDQUEUE_CONFIG_FILE"] = str(config)
    out["PYTHONPATH"] = str(ROOT)
    return out


@pytest.fixture
def services() -> Iterator[list[Service]]:
    started: list[Service] = []
    yield started
    for n, service in enumerate(started, 1):
        if service.proc.poll() is None:
            service.proc.kill()
        service.proc.wait(timeout=30)
        print(f"--- service {n} log ---\n{service.text()}")  # shown when the test failed


def _start(services: list[Service], env: dict[str, str], tmp_path: Path) -> Service:
    log = tmp_path / f"serve-{len(services) + 1}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "idqueue", "serve", "--port", "0"], env=env, cwd=str(ROOT),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    service = Service(proc, log)
    services.append(service)
    found = _eventually(lambda: proc.poll() is not None or re.search(r"listening on http://127\.0\.0\.1:(\d+)",
                                                                       service.text()))
    assert proc.poll() is None, service.text()
    service.port = int(found.group(1))
    return service


_eventually = partial(eventually, timeout=WAIT)


def _role(service: Service, role: str) -> bool:
    health = service.healthz()
    return health is not None and health["role"] == role


def _polled(service: Service) -> bool:
    health = service.healthz()
    return health is not None and health["role"] == "active" and health["last_poll"] is not None


def test_serve_polls_the_sandbox_and_clients_read_the_queue(sandbox: Sandbox, tmp_path: Path,
                                                           services: list[Service],
                                                           request: pytest.FixtureRequest) -> None:
    database = team_database("sqlite", tmp_path, request)
    env = _env(sandbox, tmp_path, database)
    service = _start(services, env, tmp_path)
    _eventually(lambda: _polled(service), what="the first poll")
    listed = subprocess.run([sys.executable, "-m", "idqueue", "list", "--json"], env=env, cwd=str(ROOT),
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    queue = json.loads(listed.stdout)
    assert len(queue) > 20 and {item["source"] for item in queue} >= {"github", "slack"}
    health = service.healthz()
    assert health is not None and health["status"] == 200 and health["ok"] is True
    assert {name: s["state"] for name, s in health["sources"].items()} == {"github": "ok", "slack": "ok"}
    text = service.metrics()
    for name in ("idqueue_poll_duration_seconds_bucket", "idqueue_polls_total", "idqueue_api_calls_total",
                 "idqueue_outbox_actions", "idqueue_leader 1.0", "idqueue_webhook_deliveries"):
        assert name in text, name
    assert re.search(r'idqueue_polls_total\{integration="github",outcome="ok"\} [1-9]', text)
    log = service.text()
    assert "serve: active (leader)" in log and "GitHub: fetched" in log
    service.proc.send_signal(signal.SIGTERM)
    assert service.proc.wait(timeout=60) == 0, service.text()
    assert "serve: stopped" in service.text()
    assert FileLeadership(lock_path(tmp_path / "team.db")).try_acquire()  # released on the way out
    # The clients are told it stopped (not left to guess from a stale heartbeat).
    store = database.open_store()
    try:
        state = read_service_state(store)
    finally:
        store.close()
    assert state is not None and state.stopped_at is not None
    line, ok = describe_service(state, datetime.now(UTC))
    assert line.startswith("the team service was stopped on ") and not ok


def _queue_work(env: WritebackEnv) -> None:
    """Eleven actions over five requests: comments, Slack messages, a new backlog issue, a close."""
    linked, _slack = env.linked_request("Linked request", sync=False)
    slack_only = env.slack_request("Slack-only request", sync=False)
    gh_only = env.github_request("GitHub-only request", sync=False)
    more = [env.github_request(f"Question {n}", sync=False) for n in range(2)]
    env.sync()
    actions = env.actions()
    actions.take(linked)
    actions.backlog(slack_only)
    actions.close(gh_only)
    for request_id in more:
        actions.reply(request_id, text="Thanks, we are on it.")


def _assert_each_landed_once(env: WritebackEnv) -> None:
    actions = env.actions().all()
    assert [(a.summary, a.state) for a in actions if a.state is not ActionState.SENT] == []
    gh, sl = env.sb.github, env.sb.slack
    replies = [a for a in actions if a.kind is ActionKind.REPLY]
    gh_replies = [a for a in replies if a.target == "github"]
    slack_replies = [a for a in replies if a.target == "slack"]
    created = [a for a in actions if a.kind is ActionKind.CREATE_ISSUE]
    closes = [a for a in actions if a.kind is ActionKind.CLOSE]
    # One write per non-idempotent action, counted at the emulators ...
    assert gh.calls.count("POST", f"/repos/{REPO}/issues/*/comments") == len(gh_replies) == 4
    assert gh.calls.count("POST", f"/repos/{BACKLOG_REPO}/issues") == len(created) == 1
    assert len([c for c in sl.calls.api("chat.postMessage") if c.status == 200]) == len(slack_replies) == 2
    # ... and exactly one of each at the destinations.
    comments = env.gh.repo(REPO).comments
    for action in gh_replies:
        assert sum(f"idqueue:action={action.id}" in c.body for c in comments) == 1
    messages = env.slack.channel(CHANNEL).messages.values()
    for action in slack_replies:
        assert len([m for m in messages
                    if (m.metadata or {}).get("event_payload", {}).get("action_id") == action.id]) == 1
    assert len(env.gh.repo(BACKLOG_REPO).issues) == 1
    assert len(closes) == 1
    number = int(closes[0].request_id.split("#")[1])
    assert len([e for e in env.gh.repo(REPO).events if e.issue_number == number and e.event == "closed"]) == 1


OUTBOX_TIMINGS = {"IDQUEUE_OUTBOX__REQUEST_TIMEOUT": "5", "IDQUEUE_OUTBOX__INFLIGHT_HORIZON": "1",
                  "IDQUEUE_OUTBOX__LEASE_SECONDS": "30"}
"""A write cut off by the kill is looked for upstream a few seconds later (not after the default 110 s)."""


@pytest.mark.parametrize("death", ["sigkill-between-sends", "dies-mid-send"])
@pytest.mark.parametrize("database_kind", ["sqlite", "postgres"])
def test_the_standby_takes_over_when_the_active_service_is_killed(
        live_sandbox: Sandbox, tmp_path: Path, services: list[Service], database_kind: str, death: str,
        request: pytest.FixtureRequest) -> None:
    """``dies-mid-send``: the active service kills itself (SIGKILL) right after Slack accepted a
    message and before recording it; the standby must find that message, not post it again."""
    database = team_database(database_kind, tmp_path, request)
    env = make_env(live_sandbox, tmp_path, now=None)
    env.store.close()
    env.store = database.open_store()
    env_vars = {**_env(live_sandbox, tmp_path, database), **OUTBOX_TIMINGS}
    crash = {"IDQUEUE_OUTBOX_CRASH_AT": "sent:reply:slack"} if death == "dies-mid-send" else {}
    first = _start(services, {**env_vars, **crash}, tmp_path)
    _eventually(lambda: _polled(first), what="the first service's first poll")
    second = _start(services, env_vars, tmp_path)
    _eventually(lambda: _role(second, "standby"), what="the second service on standby")
    assert "serve: standby; waiting for the active service" in second.text()
    _queue_work(env)
    total = len(env.actions().all())
    if crash:
        _eventually(lambda: first.proc.poll() is not None, what="the first service's crash")
        killed = time.monotonic()
    else:
        # The active service sends about one action a second: kill it after two have landed.
        _eventually(lambda: len(env.writes()) >= 2, what="the first writes")
        first.proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
    assert first.proc.wait(timeout=30) == -signal.SIGKILL
    sent_by_first = len(env.actions().all([ActionState.SENT]))
    assert 0 < sent_by_first < total  # the standby has work left to finish
    _eventually(lambda: _role(second, "active"), what="the takeover")
    active_after = time.monotonic() - killed
    _eventually(lambda: _polled(second), what="the new leader's first poll")
    polling_after = time.monotonic() - killed
    print(f"takeover: active after {active_after:.2f} s, polling after {polling_after:.2f} s")
    assert active_after < TAKEOVER_BOUND and polling_after < TAKEOVER_BOUND
    assert re.search(r"serve: took over after \d+\.\d s", second.text())
    _eventually(lambda: all(a.state is ActionState.SENT for a in env.actions().all()), what="every action sent")
    _assert_each_landed_once(env)
    print(f"outbox: {sent_by_first} of {total} actions sent by the first service, the rest by the second")
    if crash:  # the message the first service posted but did not record was found, not re-posted
        assert any(a.result.get("reconciled") for a in env.actions().all())
    health = second.healthz()
    assert health is not None and health["outbox"]["due"] == 0 and health["outbox"]["failed"] == 0


def test_serve_without_integrations_or_on_a_busy_port_says_so_in_one_line(
        empty_sandbox: Sandbox, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    import socket

    database = team_database("sqlite", tmp_path, request)
    env = _env(empty_sandbox, tmp_path, database)
    bare = {k: v for k, v in env.items() if not k.startswith(("IDQUEUE_GITHUB", "IDQUEUE_SLACK"))}
    nothing = subprocess.run([sys.executable, "-m", "idqueue", "serve"], env=bare, cwd=str(ROOT),
                             capture_output=True, text=True, timeout=120)
    assert nothing.returncode == 1
    assert nothing.stderr.startswith("idqueue: no sources configured") and nothing.stderr.count("\n") == 1
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = subprocess.run([sys.executable, "-m", "idqueue", "serve", "--port", str(port)], env=env,
                               cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert taken.returncode == 1
    assert f"idqueue: cannot serve on 127.0.0.1:{port}: " in taken.stderr
    assert "Traceback" not in taken.stderr


def test_serve_takes_signed_webhooks_and_refuses_forged_ones(sandbox: Sandbox, tmp_path: Path,
                                                            services: list[Service],
                                                            request: pytest.FixtureRequest) -> None:
    """The receivers are mounted on the service: a signed GitHub delivery wakes a poll, a forged
    one is refused, and /metrics counts both."""
    from idqueue.service.webhooks import hub_signature

    secret = "webhook-secret-for-the-test"
    env = _env(sandbox, tmp_path, team_database("sqlite", tmp_path, request))
    env["IDQUEUE_WEBHOOKS__GITHUB_SECRET"] = secret
    service = _start(services, env, tmp_path)
    _eventually(lambda: _polled(service), what="the first poll")
    body = json.dumps({"action": "edited", "issue": {"number": 1, "title": "forged title"},
                       "repository": {"full_name": "va-identity/support"}}).encode()
    headers = {"X-GitHub-Event": "issues", "X-GitHub-Delivery": "d-1", "Content-Type": "application/json"}
    forged = httpx.post(service.url("/hooks/github"), content=body, timeout=10,
                        headers={**headers, "X-Hub-Signature-256": hub_signature(body, "not-the-secret")})
    assert forged.status_code == 401
    signed = httpx.post(service.url("/hooks/github"), content=body, timeout=10,
                        headers={**headers, "X-Hub-Signature-256": hub_signature(body, secret)})
    assert signed.status_code == 200
    _eventually(lambda: re.search(r'idqueue_early_polls_total [1-9]', service.metrics()), what="an early poll")
    text = service.metrics()
    assert re.search(r'idqueue_webhook_deliveries_total\{outcome="accepted",system="github"\} 1\.0', text), text
    assert re.search(r'idqueue_webhook_deliveries_total\{outcome="refused_signature",system="github"\} 1\.0', text)
    assert secret not in service.text()


def test_serve_web_serves_the_browser_view_behind_sign_in(sandbox: Sandbox, tmp_path: Path,
                                                          services: list[Service],
                                                          request: pytest.FixtureRequest) -> None:
    secret = "a-team-secret-of-some-length"
    env = _env(sandbox, tmp_path, team_database("sqlite", tmp_path, request))
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "idqueue", "serve", "--port", "0", "--web",
                                 "--web-port", "0"], env={**env, "IDQUEUE_WEB__SECRET": secret}, cwd=str(ROOT),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    service = Service(proc, log)
    services.append(service)
    found = _eventually(lambda: proc.poll() is not None or re.search(r"browser view on (http://\S+)", service.text()))
    assert proc.poll() is None, service.text()
    url = found.group(1)
    assert httpx.get(url, timeout=10).status_code == 401
    signed_in = httpx.get(url, params={"token": secret}, timeout=10)
    assert signed_in.status_code == 200 and signed_in.cookies
    assert secret not in service.text()
    # Without sign-in configured, --web refuses to start, in one line.
    refused = subprocess.run([sys.executable, "-m", "idqueue", "serve", "--port", "0", "--web"], env=env,
                             cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
