"""``idqueue sync --once`` and ``idqueue doctor`` against emulator faults.

A fault either is waited out (the poll succeeds, the wait went through the injected sleep) or
makes the command exit non-zero with one clear line per failing source: no traceback, no
token. Either way the store is never half-written and nothing already stored is lost.

The sources are built with short client timeouts and a recording ``sleep`` (their
constructors take them; ``build_sources`` uses the production defaults), so no test waits
for a real Retry-After.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from sandbox_world import World, start_world

import idqueue.sync
from idqueue.cli import cli  # import the CLI first: it registers the command modules
from idqueue.config import Settings
from idqueue.domain.homes import Rulebook
from idqueue.domain.models import github_id
from idqueue.integrations.base import Source
from idqueue.integrations.github.source import GitHubSource
from idqueue.integrations.slack.source import SlackSource
from idqueue.sandbox import seed as seed_mod
from idqueue.sandbox.github_emulator import GITHUB_TOKEN
from idqueue.sandbox.runner import Sandbox
from idqueue.sandbox.slack_emulator import SLACK_TOKEN
from idqueue.store.db import Store

NOW = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)  # a Tuesday afternoon in New York
REPO = seed_mod.SUPPORT_REPO
TABLES = ("requests", "items", "events", "aliases", "item_links", "local_state")
BAD_GITHUB_TOKEN = "ghp_notTheSandboxToken1234567890abcdef"
BAD_SLACK_TOKEN = "xoxb-0000000000-not-the-sandbox-token"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Shared by the tests that change nothing in the emulators (faults are cleared after each)."""
    shared = start_world(tmp_path_factory.mktemp("faults"), NOW)
    try:
        yield shared
    finally:
        shared.sb.stop()


@pytest.fixture
def own_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A sandbox of its own, for tests that add issues."""
    mine = start_world(tmp_path_factory.mktemp("own"), NOW)
    try:
        yield mine
    finally:
        mine.sb.stop()


@dataclass
class Case:
    """One test's copy of the synced database, its CLI environment and recorded sleeps."""

    sb: Sandbox
    db: Path
    env: dict[str, str | None]
    sleeps: list[float]

    def sync(self) -> Result:
        return CliRunner().invoke(cli, ["sync", "--once", "--quiet"], env=self.env)

    def checksum(self) -> str:
        return checksum(self.db)


def checksum(db: Path) -> str:
    """A digest of every row that matters (cursors excluded: a failed poll may keep a page)."""
    conn = sqlite3.connect(db)
    try:
        digest = hashlib.sha256()
        for table in TABLES:
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1"):
                digest.update(repr(tuple(row)).encode())
        return digest.hexdigest()
    finally:
        conn.close()


def fast_sources(sleeps: list[float], clients: list[httpx.Client]) -> Callable[[Settings], list[Source]]:
    """``build_sources`` with 0.5 s (GitHub) / 1 s (Slack) timeouts, a 5 s longest wait and
    a sleep that only records."""

    def build(settings: Settings) -> list[Source]:
        sources: list[Source] = []
        if settings.github.token and settings.github.repos:
            client = httpx.Client(timeout=httpx.Timeout(0.5, connect=0.5), follow_redirects=False)
            clients.append(client)
            sources.append(GitHubSource(settings, client=client, sleep=sleeps.append, max_wait=5.0))
        if settings.slack.token and settings.slack.channels:
            sources.append(SlackSource(settings, sleep=sleeps.append, max_wait=5.0, timeout=1.0))
        return sources

    return build


def make_case(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Case]:
    db = tmp_path / "idqueue.db"
    src, dst = sqlite3.connect(world.golden), sqlite3.connect(db)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    sleeps: list[float] = []
    clients: list[httpx.Client] = []
    monkeypatch.setattr(idqueue.sync, "build_sources", fast_sources(sleeps, clients))
    env: dict[str, str | None] = {
        **world.sb.env(),
        "IDQUEUE_DB": str(db),
        "IDQUEUE_CONFIG_FILE": str(world.config),
        "GITHUB_TOKEN": None,
        "GH_TOKEN": None,
        "SLACK_BOT_TOKEN": None,
    }
    try:
        yield Case(world.sb, db, env, sleeps)
    finally:
        world.sb.github.faults.clear()
        world.sb.slack.faults.clear()
        for client in clients:
            client.close()


@pytest.fixture
def case(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Case]:
    """A copy of the shared synced database, with fast sources."""
    yield from make_case(world, tmp_path, monkeypatch)


@pytest.fixture
def own_case(own_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Case]:
    """Like ``case``, on a sandbox the test may change."""
    yield from make_case(own_world, tmp_path, monkeypatch)


def assert_clean_output(result: Result) -> None:
    """No traceback and no token anywhere in what the user sees."""
    text = result.output
    assert "Traceback" not in text
    for token in (GITHUB_TOKEN, SLACK_TOKEN, BAD_GITHUB_TOKEN, BAD_SLACK_TOKEN):
        assert token not in text


def add_fault(sb: Sandbox, where: str, match: str, kind: str | None = None, **kwargs: Any) -> None:
    faults = sb.github.faults if where == "github" else sb.slack.faults
    faults.add(match, kind, **kwargs)


# --------------------------------------------------------------------------- waited out


@pytest.mark.parametrize(
    ("where", "match", "kind", "kwargs", "min_wait"),
    [
        ("github", "GET /repos/*/issues", None, {"status": 429, "headers": {"Retry-After": "1"}}, 1.0),
        ("github", "GET /repos/*/issues", "secondary_limit", {"retry_after": 1}, 1.0),
        ("github", "GET /repos/*/issues", None, {"status": 502}, 0.0),
        ("github", "GET /repos/*/issues/comments", "timeout", {"seconds": 2.0}, 0.0),
        ("slack", "conversations.history", "ratelimited", {"retry_after": 1}, 1.0),
        ("slack", "conversations.history", None, {"status": 502}, 0.0),
        ("slack", "conversations.history", "timeout", {"seconds": 2.0}, 0.0),
    ],
    ids=["gh-429", "gh-secondary", "gh-502", "gh-timeout", "slack-429", "slack-502", "slack-timeout"],
)
def test_transient_faults_are_waited_out(
    case: Case, where: str, match: str, kind: str | None, kwargs: dict[str, Any], min_wait: float
) -> None:
    before = case.checksum()
    add_fault(case.sb, where, match, kind, **kwargs)
    result = case.sync()
    assert_clean_output(result)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["GitHub", "Slack"]
    faults = case.sb.github.faults if where == "github" else case.sb.slack.faults
    assert faults.pending == []  # the fault was hit…
    assert case.sleeps and max(case.sleeps) >= min_wait  # …and waited out through the injected sleep
    assert case.checksum() == before


# --------------------------------------------------------------------------- failing polls


@pytest.mark.parametrize(
    ("where", "match", "kind", "kwargs", "message"),
    [
        ("github", "GET /repos/*/issues", "rate_limit", {}, "rate limit"),
        ("github", "GET /repos/*/issues", "secondary_limit", {}, "rate limit"),
        ("github", "GET /repos/*/issues", None, {"status": 502, "times": -1}, "unavailable"),
        ("github", "GET /repos/*/issues/comments", "timeout", {"seconds": 2.0, "times": -1}, "in time"),
        ("github", "/*", "auth", {"times": -1}, "token"),
        ("slack", "conversations.history", "ratelimited", {"retry_after": 30, "times": -1}, "rate limit"),
        ("slack", "conversations.history", None, {"status": 502, "times": -1}, "502"),
        ("slack", "*", "auth", {"times": -1}, "token"),
    ],
    ids=["gh-primary-limit", "gh-secondary-no-wait", "gh-502", "gh-timeout", "gh-401",
         "slack-429-long", "slack-502", "slack-invalid-auth"],
)
def test_persistent_faults_fail_with_one_line_per_source(
    case: Case, where: str, match: str, kind: str | None, kwargs: dict[str, Any], message: str
) -> None:
    before = case.checksum()
    add_fault(case.sb, where, match, kind, **kwargs)
    result = case.sync()
    assert_clean_output(result)
    assert result.exit_code == 1
    failing, healthy = ("GitHub", "Slack") if where == "github" else ("Slack", "GitHub")
    errors = result.stderr.splitlines()
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"{failing}: FAILED — ")
    assert message in errors[0].lower()
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [healthy]  # the other one ran
    assert case.sleeps == [] or max(case.sleeps) <= 5.0  # never a wait beyond max_wait
    assert case.checksum() == before


def test_both_sources_failing_give_two_lines(case: Case) -> None:
    before = case.checksum()
    case.env.update(IDQUEUE_GITHUB_TOKEN=BAD_GITHUB_TOKEN, IDQUEUE_SLACK_TOKEN=BAD_SLACK_TOKEN)
    result = case.sync()
    assert_clean_output(result)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("GitHub: FAILED — ") and "401" in lines[0]
    assert lines[1].startswith("Slack: FAILED — ") and "invalid_auth" in lines[1]
    assert case.checksum() == before


def test_a_real_process_prints_one_line_per_failing_source(world: World, tmp_path: Path) -> None:
    """Outside pytest no logging handler is installed: library warnings must not reach the
    terminal a second time (Python's last-resort handler would print them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDQUEUE_")
           and k not in ("GITHUB_TOKEN", "GH_TOKEN", "SLACK_BOT_TOKEN")}
    env.update(world.sb.env())
    env.update(IDQUEUE_DB=str(tmp_path / "p.db"), IDQUEUE_CONFIG_FILE=str(world.config),
               IDQUEUE_GITHUB_TOKEN=BAD_GITHUB_TOKEN, IDQUEUE_SLACK_TOKEN=BAD_SLACK_TOKEN)
    proc = subprocess.run(
        [sys.executable, "-m", "idqueue", "sync", "--once"], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert [line.split(" — ")[0] for line in lines] == ["GitHub: FAILED", "Slack: FAILED"], proc.stderr
    for token in (BAD_GITHUB_TOKEN, BAD_SLACK_TOKEN, GITHUB_TOKEN, SLACK_TOKEN):
        assert token not in proc.stderr


def test_no_sources_is_a_one_line_error(case: Case) -> None:
    case.env.update(IDQUEUE_GITHUB_TOKEN="", IDQUEUE_SLACK_TOKEN="")
    result = case.sync()
    assert result.exit_code == 1
    assert result.stderr.startswith("idqueue: no sources configured") and len(result.stderr.splitlines()) == 1


# --------------------------------------------------------------------------- partial polls


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return [tuple(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def assert_consistent(db: Path) -> None:
    """Every item belongs to a request that lists it; every event belongs to a stored item."""
    assert rows(db, "SELECT id FROM items WHERE request_id IS NULL OR request_id NOT IN (SELECT id FROM requests)") == []
    assert rows(db, "SELECT uid FROM events WHERE item_id NOT IN (SELECT id FROM items)") == []
    listed = {i for (ids,) in rows(db, "SELECT item_ids FROM requests") for i in json.loads(ids)}
    assert listed == {i for (i,) in rows(db, "SELECT id FROM items")}


def test_a_poll_cut_short_keeps_whole_batches_and_converges(own_case: Case, tmp_path: Path) -> None:
    case = own_case
    gh = case.sb.github.state
    requester = seed_mod.REQUESTERS[2]
    at = NOW - timedelta(minutes=1)
    issue = gh.add_issue(REPO, "Mock auth returns 500 on review instances",
                         seed_mod.va_body("Test User / Mock Auth", requester, "Every mock auth user fails.", False),
                         user=requester.github, labels=[seed_mod.LABEL], created_at=at - timedelta(minutes=20))
    gh.add_comment(REPO, issue.number, "Looking now.", user="dev-patel", at=at)
    old = rows(case.db, "SELECT * FROM requests ORDER BY id")
    add_fault(case.sb, "github", "GET /repos/*/issues/comments", None, status=502, times=-1)
    result = case.sync()
    assert result.exit_code == 1 and "GitHub: FAILED" in result.stderr
    assert_consistent(case.db)
    # The issues page was committed as a whole; the comment (a later list) was not.
    new = rows(case.db, "SELECT * FROM requests ORDER BY id")
    assert [r for r in new if r[0] != github_id(REPO, issue.number)] == old
    partial = rows(case.db, f"SELECT status FROM requests WHERE id='{github_id(REPO, issue.number)}'")
    assert partial in ([], [("new",)])

    case.sb.github.faults.clear()
    result = case.sync()
    assert result.exit_code == 0, result.output
    assert_consistent(case.db)
    # The result equals a clean sync of the same data into an empty database.
    fresh = tmp_path / "fresh.db"
    result = CliRunner().invoke(cli, ["sync", "--once", "-q"], env={**case.env, "IDQUEUE_DB": str(fresh)})
    assert result.exit_code == 0, result.output
    columns = "id, status, type, assignee, first_response_at, resolved_at, sla_state, priority, item_ids"
    assert rows(case.db, f"SELECT {columns} FROM requests ORDER BY id") == rows(
        fresh, f"SELECT {columns} FROM requests ORDER BY id")
    done = rows(case.db, f"SELECT status, first_response_at FROM requests WHERE id='{github_id(REPO, issue.number)}'")
    assert done and done[0][0] == "acknowledged" and done[0][1] is not None


def test_a_store_failure_rolls_the_batch_back(own_case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    case = own_case
    gh = case.sb.github.state
    requester = seed_mod.REQUESTERS[4]
    issue = gh.add_issue(REPO, "Please rotate our staging secret",
                         seed_mod.va_body("Task Request", requester, "It expires Friday.", False),
                         user=requester.github, labels=[seed_mod.LABEL], created_at=NOW - timedelta(minutes=3))
    before = case.checksum()
    real = idqueue.sync.make_assembler

    def broken(settings: Settings, now: datetime, *, rules: Rulebook) -> Any:
        assemble = real(settings, now, rules=rules)

        def run(items: Any, events: Any, local: Any) -> Any:
            if any(i.id == github_id(REPO, issue.number) for i in items):
                raise sqlite3.OperationalError("disk I/O error")
            return assemble(items, events, local)

        return run

    monkeypatch.setattr(idqueue.sync, "make_assembler", broken)
    result = case.sync()
    assert_clean_output(result)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "GitHub: FAILED — unexpected error: OperationalError: disk I/O error"
    ]
    assert case.checksum() == before  # the whole batch was rolled back
    monkeypatch.setattr(idqueue.sync, "make_assembler", real)
    result = case.sync()
    assert result.exit_code == 0, result.output
    assert rows(case.db, f"SELECT status FROM requests WHERE id='{github_id(REPO, issue.number)}'") == [("new",)]


# --------------------------------------------------------------------------- doctor


def test_doctor_on_the_sandbox(world: World, tmp_path: Path) -> None:
    env = {**world.sb.env(), "IDQUEUE_DB": str(tmp_path / "d.db"), "IDQUEUE_CONFIG_FILE": str(world.config),
           "GITHUB_TOKEN": None, "GH_TOKEN": None, "SLACK_BOT_TOKEN": None}
    result = CliRunner().invoke(cli, ["doctor"], env=env)
    assert_clean_output(result)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.split() == ["github", "ok"] for line in lines)
    assert any(line.split() == ["slack", "ok"] for line in lines)
    assert "integrity  ok" in result.stdout


def test_doctor_with_a_bad_token(world: World, tmp_path: Path) -> None:
    env = {**world.sb.env(), "IDQUEUE_DB": str(tmp_path / "d.db"), "IDQUEUE_CONFIG_FILE": str(world.config),
           "GITHUB_TOKEN": None, "GH_TOKEN": None, "SLACK_BOT_TOKEN": None,
           "IDQUEUE_GITHUB_TOKEN": BAD_GITHUB_TOKEN}
    result = CliRunner().invoke(cli, ["doctor"], env=env)
    assert_clean_output(result)
    assert result.exit_code == 1
    failed = [line for line in result.output.splitlines() if "FAILED" in line]
    assert failed == ["github       FAILED: GitHub rejected the token (401 Bad credentials)"]
    assert any(line.split() == ["slack", "ok"] for line in result.stdout.splitlines())


# --------------------------------------------------------------------------- Slack names after an outage


def test_user_names_recover_after_a_users_info_outage(world: World, tmp_path: Path) -> None:
    sb = world.sb
    settings = Settings(**sb.settings_overrides(), db=tmp_path / "u.db", now=NOW.isoformat())
    store = Store.open(settings.db)
    sources: list[Source] = [GitHubSource(settings, sleep=lambda _s: None),
                             SlackSource(settings, sleep=lambda _s: None)]
    engine = idqueue.sync.SyncEngine(store, sources, settings)
    sb.slack.faults.add("users.info", status=502, times=-1)
    try:
        engine.poll()
    finally:
        sb.slack.faults.clear()
    for _ in range(5):
        engine.poll()
    unknown_requests = store.count("requester_name LIKE 'unknown user%' OR fields LIKE '%unknown user (%'")
    unknown_events = store.conn.execute(
        "SELECT COUNT(*) FROM events WHERE actor_name LIKE 'unknown user%' OR body LIKE '%unknown user (%'"
    ).fetchone()[0]
    assert (unknown_requests, unknown_events) == (0, 0)
