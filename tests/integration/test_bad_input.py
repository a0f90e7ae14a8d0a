"""Every bad input gets one clear line on stderr and a meaningful exit code, never a traceback.

The table runs the real entry point (:func:`idqueue.cli.main`, what the ``idqueue`` script
calls) in-process on a database synced from the seeded sandbox; Ctrl-C and the read-only
database run it as a real subprocess. Databases are damaged for real: pages overwritten in the
file, a write lock held by a second connection, a schema version from the future, a database
filled to its ``max_page_count``.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sandbox_world import World, start_world

import idqueue.sync
from idqueue.cli import main
from idqueue.config import Settings
from idqueue.integrations.loopback import Request, Response
from idqueue.sandbox import seed as seed_mod
from idqueue.sandbox.runner import Sandbox
from idqueue.store.db import Store
from idqueue.store.schema import MIGRATIONS

NOW = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    world = start_world(tmp_path_factory.mktemp("bad-input"), NOW)
    try:
        yield world
    finally:
        world.sb.stop()


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    """Run the real entry point in-process; it always ends with ``sys.exit``."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    code = exit_info.value.code
    return Outcome(code if isinstance(code, int) else 1, captured.out, captured.err)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, world: World) -> dict[str, Any]:
    """A clean environment: an empty config file, a copy of the synced database, frozen now."""
    for name in list(os.environ):
        if name.startswith("IDQUEUE_") or name in ("GITHUB_TOKEN", "GH_TOKEN", "SLACK_BOT_TOKEN"):
            monkeypatch.delenv(name)
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    db = tmp_path / "idqueue.db"
    shutil.copy(world.golden, db)
    monkeypatch.setenv("IDQUEUE_CONFIG_FILE", str(config))
    monkeypatch.setenv("IDQUEUE_DB", str(db))
    monkeypatch.setenv("IDQUEUE_NOW", NOW.isoformat())
    # An open, not pending GitHub request: an action on it really has something to do.
    with sqlite3.connect(db) as conn:
        (key,) = conn.execute("SELECT key FROM requests WHERE is_open = 1 AND status <> 'pending' "
                              "AND source = 'github' AND assignee IS NULL ORDER BY seq LIMIT 1").fetchone()
    return {"config": config, "db": db, "tmp": tmp_path, "mp": monkeypatch, "key": key}


# --------------------------------------------------------------------------- ways to break things


def _config(text: str) -> Callable[[dict[str, Any]], None]:
    def setup(e: dict[str, Any]) -> None:
        e["config"].write_text(text, encoding="utf-8")
    return setup


def _setenv(name: str, value: str | None = None) -> Callable[[dict[str, Any]], None]:
    def setup(e: dict[str, Any]) -> None:
        e["mp"].setenv(name, value if value is not None else str(e["tmp"]))
    return setup


def _newer_schema(e: dict[str, Any]) -> None:
    conn = sqlite3.connect(e["db"])
    conn.execute("PRAGMA user_version=99")
    conn.close()


def _corrupt(e: dict[str, Any]) -> None:
    corrupt_pages(e["db"], ("requests", "events", "requests_fts_data"))


def corrupt_pages(db: Path, tables: tuple[str, ...]) -> None:
    """Overwrite part of every leaf page of ``tables`` (the schema page stays intact)."""
    conn = sqlite3.connect(db)
    marks = ",".join("?" * len(tables))
    pages = [r[0] for r in conn.execute(
        f"SELECT pageno FROM dbstat WHERE name IN ({marks}) AND pagetype='leaf'", tables)]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    assert pages
    with db.open("r+b") as fh:
        for page in pages:
            fh.seek((page - 1) * size + 8)
            fh.write(b"\xa5" * 64)


NO_TEXT = ""


@dataclass
class Case:
    name: str
    args: list[str]
    code: int
    expect: str
    setup: Callable[[dict[str, Any]], None] = field(default=lambda e: None)


CASES = [
    Case("newer schema", ["list"], 2,
         f"this database was written by a newer idqueue (schema 99 > {len(MIGRATIONS)}); upgrade idqueue",
         _newer_schema),
    Case("unknown automation key", ["list"], 2, "automation.on_asign: unknown key (did you mean 'on_assign'?)",
         _config("[automation]\non_asign = false\n")),
    Case("unknown github key", ["list"], 2, "github.lable: unknown key (did you mean 'label'?)",
         _config('[github]\nlable = "Identity"\n')),
    Case("config file is a folder", ["list"], 2, "is a folder, not a TOML file", _setenv("IDQUEUE_CONFIG_FILE")),
    Case("IDQUEUE_NOW not a date", ["list"], 2, "now: 'notadate' is not an ISO 8601 date-time",
         _setenv("IDQUEUE_NOW", "notadate")),
    Case("huge request number", ["show", "99999999999999999999999999"], 1,
         "no request '99999999999999999999999999'"),
    Case("rota far future", ["rota", "--date", "9999-12-31"], 2, "9999-12-31 is outside 1970-01-01"),
    Case("report whole calendar", ["report", "--from", "0001-01-01", "--to", "9999-12-31"], 2,
         "0001-01-01 is outside 1970-01-01"),
    Case("list limit 0", ["list", "--limit", "0"], 2, "Invalid value for '--limit': 0 is not in the range x>=1"),
    Case("list limit negative", ["list", "--limit", "-5"], 2, "-5 is not in the range x>=1"),
    Case("show on a damaged db", ["show", "REQ-3"], 1, "the database is damaged", _corrupt),
    Case("search on a damaged db", ["list", "--search", "login"], 1, "run `idqueue db check`", _corrupt),
    Case("report on a damaged db", ["report", "--format", "json"], 1, "run `idqueue db check`", _corrupt),
    Case("unknown command", ["bogus"], 2, "No such command 'bogus' (see `idqueue --help`)"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_one_line(case: Case, env: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    case.setup(env)
    result = run(case.args, capsys)
    assert "Traceback" not in result.err + result.out
    assert result.code == case.code, result.err
    assert len(result.err_lines) == 1, result.err
    assert result.err_lines[0].startswith("idqueue: ")
    assert case.expect in result.err_lines[0]


def test_a_newer_schema_is_never_written(env: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    fresh = env["tmp"] / "future.db"
    conn = sqlite3.connect(fresh)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    before = fresh.read_bytes()
    env["mp"].setenv("IDQUEUE_DB", str(fresh))
    assert run(["assign", "REQ-1", "ana", "--no-send"], capsys).code == 2
    assert fresh.read_bytes() == before  # no migration ran: no table, same version


def test_unknown_env_key_names_the_variable(env: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    env["mp"].setenv("IDQUEUE_SLA__AT_RISK_RATIOO", "0.5")
    result = run(["list"], capsys)
    assert result.code == 2
    assert result.err_lines == [
        "idqueue: invalid configuration: sla.at_risk_ratioo: unknown key (did you mean 'at_risk_ratio'?) "
        "(from IDQUEUE_SLA__AT_RISK_RATIOO)"
    ]


def test_a_token_pasted_into_a_setting_is_not_echoed(env: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    classic = "0123456789abcdef0123456789abcdef01234567"
    env["mp"].setenv("IDQUEUE_GITHUB_REPOS", classic)
    result = run(["list"], capsys)
    assert result.code == 2 and classic not in result.err and "[redacted]" in result.err
    env["mp"].delenv("IDQUEUE_GITHUB_REPOS")
    env["config"].write_text('[email]\npassword = "hunter22"\n[sla.calendar]\ntimezone = "hunter22"\n')
    result = run(["list"], capsys)
    assert result.code == 2 and "hunter22" not in result.err


# --------------------------------------------------------------------------- locks and damage


def test_an_action_on_a_locked_database(env: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    env["mp"].setenv("IDQUEUE_BUSY_TIMEOUT", "0.2")
    holder = sqlite3.connect(env["db"], isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process's long write
    try:
        result = run(["close", env["key"], "--no-send"], capsys)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "Traceback" not in result.err
    assert result.code == 1
    assert result.err_lines == [
        "idqueue: the database is locked by another idqueue process (a long write); try again in a moment"
    ]
    assert run(["close", env["key"], "--no-send"], capsys).code == 0  # the lock is gone: it works


def test_db_check_reports_damage_and_recovery(env: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    healthy = run(["db", "check"], capsys)
    assert healthy.code == 0 and "ok" in healthy.out
    corrupt_pages(env["db"], ("events",))
    before = env["db"].read_bytes()
    damaged = run(["db", "check"], capsys)
    assert damaged.code == 1
    assert "DAMAGED" in damaged.out
    assert "idqueue sync --once" in damaged.out and ".damaged" in damaged.out
    assert env["db"].read_bytes() == before  # read-only


def test_an_action_on_a_read_only_database(env: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    db: Path = env["db"]
    if os.geteuid() == 0:  # root ignores file modes: make the file immutable instead
        made = subprocess.run(["chattr", "+i", str(db)], capture_output=True, check=False)
        if made.returncode != 0:
            pytest.skip("running as root without chattr support: cannot make a read-only file")
    else:
        db.chmod(0o444)
    try:
        result = run(["close", env["key"], "--no-send"], capsys)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(db)], check=False)
        db.chmod(0o644)
    assert "Traceback" not in result.err
    assert result.code == 1
    assert result.err_lines[0].endswith(
        "the database is read-only (check the file's and its folder's permissions)")
    assert len(result.err_lines) == 1


# --------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_prints_interrupted_and_exits_130(world: World, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[ui]\npoll_interval = 3600\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDQUEUE_")}
    env.update(world.sb.env())
    env.update(IDQUEUE_DB=str(tmp_path / "c.db"), IDQUEUE_CONFIG_FILE=str(config), IDQUEUE_NOW=NOW.isoformat(),
               PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "idqueue", "sync", "--quiet"], env=env, cwd=str(ROOT),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # one poll done: it now waits for the next
        assert first.startswith("GitHub:") or first.startswith("Slack:"), first
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert [line for line in err.splitlines() if line.strip()] == ["idqueue: interrupted"]


# --------------------------------------------------------------------------- a full database


def test_a_full_database_after_a_send_never_resends(
    world: World, env: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GitHub comment is posted, then the database is full (``max_page_count`` at its size,
    free pages used up): the send is recorded, nothing is posted twice, and the next command
    that needs room says the disk is full in one line."""
    for name, value in world.sb.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("IDQUEUE_OUTBOX_THROTTLE", "0")
    conns: list[sqlite3.Connection] = []
    filled = threading.Event()
    real_open = Store.open.__func__  # type: ignore[attr-defined]

    def open_and_keep(cls: type[Store], *args: Any, **kwargs: Any) -> Store:
        store = real_open(cls, *args, **kwargs)
        conns.append(store.conn)  # the command's own connection (this thread's)
        if filled.is_set():  # the disk is still full for every later command
            pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
            store.conn.execute(f"PRAGMA max_page_count={pages}")
        return store

    monkeypatch.setattr(Store, "open", classmethod(open_and_keep))
    gh = world.sb.github
    real_route = gh.route

    def route_then_fill(req: Request) -> Response:
        resp = real_route(req)
        if req.method == "POST" and req.path.endswith("/comments") and not filled.is_set():
            fill_database(conns[0])
            filled.set()
        return resp

    monkeypatch.setattr(gh, "route", route_then_fill)
    before = _comment_posts(world)
    result = run(["reply", env["key"], "--template", "acknowledge", "--yes"], capsys)
    assert filled.is_set()
    assert "Traceback" not in result.err
    assert _comment_posts(world) == before + 1
    states = dict(sqlite3.connect(env["db"]).execute(
        "SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    assert set(states) == {"sent"}  # every action of the reply is recorded as sent
    # Run again while full: nothing is resent, and the next write explains the disk.
    again = run(["outbox", "--send"], capsys)
    assert _comment_posts(world) == before + 1
    assert "Traceback" not in again.err
    queue_more = run(["reply", env["key"], "--text", "A long answer. " * 2000, "--no-send", "--yes"], capsys)
    assert queue_more.code == 1
    assert queue_more.err_lines == [
        "idqueue: the disk is full (or the database reached its size limit); free some space and retry"
    ]
    assert _comment_posts(world) == before + 1


def fill_database(conn: sqlite3.Connection) -> None:
    """Make the database full: no new page allowed, the free pages used up by a filler table."""
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages}")
    conn.execute("CREATE TABLE IF NOT EXISTS filler(b BLOB)")
    for size in (2048, 256, 16):
        try:
            while True:
                conn.execute("INSERT INTO filler VALUES (zeroblob(?))", (size,))
        except sqlite3.OperationalError as exc:
            assert "full" in str(exc)


def _comment_posts(world: World) -> int:
    return sum(1 for c in world.sb.github.calls if c.method == "POST" and c.path.endswith("/comments"))


# --------------------------------------------------------------------------- bytes that are not UTF-8


def _a_slack_request_ts(sb: Sandbox, tmp_path: Path) -> str:
    """The ts of a Slack request in the channel (found by a clean sync into a scratch store)."""
    settings = Settings(**sb.settings_overrides(), db=tmp_path / "scratch.db", now=NOW.isoformat())
    store = Store.open(settings.db)
    idqueue.sync.SyncEngine(store, idqueue.sync.build_sources(settings), settings).poll()
    ids = [r.id for r in store.list_requests(open_only=False, now=NOW) if r.id.startswith(f"slack:{seed_mod.CHANNEL}/")]
    store.close()
    assert ids
    return ids[0].rsplit("/", 1)[1]


def test_non_utf8_bytes_block_one_item_not_the_source(tmp_path: Path) -> None:
    sb = Sandbox.start(seed=True, now=NOW)
    try:
        repo = sb.github.state.repo(seed_mod.SUPPORT_REPO)
        issue = sorted(repo.issues.values(), key=lambda i: i.number)[0]
        message = sb.slack.state.message(seed_mod.CHANNEL, _a_slack_request_ts(sb, tmp_path))
        sb.github.faults.add("GET /repos/*/issues", "non_utf8", variant=issue.title, times=-1)
        # The thread re-check reads the parent again through conversations.replies: both carry it.
        for method in ("conversations.history", "conversations.replies"):
            sb.slack.faults.add(method, "non_utf8", variant=message.text, times=-1)
        settings = Settings(**sb.settings_overrides(), db=tmp_path / "u.db", now=NOW.isoformat())
        store = Store.open(settings.db)
        report = idqueue.sync.SyncEngine(store, idqueue.sync.build_sources(settings), settings).poll()
        assert not report.errors, [e.title for e in report.errors]
        summaries = {s.name: s.summary() for s in report.sources}
        gh_line = next(line for name, line in summaries.items() if name.lower() == "github")
        slack_line = next(line for name, line in summaries.items() if name.lower() == "slack")
        assert "not UTF-8 at byte" in gh_line and f"#{issue.number}" in gh_line
        assert "not UTF-8 at byte" in slack_line and f"ts {message.ts}" in slack_line
        gh_req = store.get_request(f"gh:{seed_mod.SUPPORT_REPO}#{issue.number}")
        assert gh_req is not None and gh_req.title.startswith(issue.title) and "\ufffd" in gh_req.title
        slack_req = store.get_request(f"slack:{seed_mod.CHANNEL}/{message.ts}")
        assert slack_req is not None
        assert "\ufffd" in slack_req.body or "\ufffd" in slack_req.title
        # The rest synced: every other issue of the repo is there, untouched.
        others = [i for i in repo.issues.values() if i.number != issue.number and not i.pull_request]
        assert others
        for other in others:
            found = store.get_request(f"gh:{seed_mod.SUPPORT_REPO}#{other.number}")
            if found is not None:
                assert "\ufffd" not in found.title
        assert store.count() >= 50
        store.close()
    finally:
        sb.stop()


# --------------------------------------------------------------------------- doctor and scopes


def _doctor(sb: Sandbox, env: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> Outcome:
    for name, value in sb.env().items():
        env["mp"].setenv(name, value)
    return run(["doctor"], capsys)


def test_doctor_reports_missing_github_scopes(
    world: World, env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    gh = world.sb.github
    try:
        gh.scopes = "read:user"
        limited = _doctor(world.sb, env, capsys)
        gh.scopes = ""
        none = _doctor(world.sb, env, capsys)
        gh.scopes = "repo"
        full = _doctor(world.sb, env, capsys)
    finally:
        gh.scopes = "repo"
    for result in (limited, none):
        assert result.code == 1
        assert "Traceback" not in result.err
        missing = [line.strip() for line in result.out.splitlines() if line.strip().startswith("missing")]
        assert len(missing) == 1 and "scope repo (or public_repo" in missing[0]
        assert "disables replies, assignment, labels" in missing[0]
    assert "token has: read:user" in limited.out and "token has: none" in none.out
    assert full.code == 0 and "scope check repo: every feature available" in full.out


def test_doctor_checks_a_fine_grained_token_by_a_real_call(
    world: World, env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    gh = world.sb.github
    try:
        gh.scopes = None  # fine-grained: no X-OAuth-Scopes header
        result = _doctor(world.sb, env, capsys)
    finally:
        gh.scopes = "repo"
    assert result.code == 0, result.out
    assert f"fine-grained token: issues readable in {seed_mod.SUPPORT_REPO}" in result.out
    reads = [c for c in gh.calls if c.path == f"/repos/{seed_mod.SUPPORT_REPO}/issues" and c.query.get("per_page") == "1"]
    assert reads


def test_doctor_reports_missing_slack_scopes(
    world: World, env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    slack = world.sb.slack
    full = slack.scopes
    try:
        slack.scopes = "channels:history,channels:read"
        result = _doctor(world.sb, env, capsys)
    finally:
        slack.scopes = full
    assert result.code == 1
    missing = [line.strip() for line in result.out.splitlines() if line.strip().startswith("missing")]
    assert missing == [
        "missing    scope chat:write — disables replies and automatic messages in Slack threads",
        "missing    scope reactions:write — disables the taken/done/backlog reactions on Slack requests",
        "missing    scope users:read — disables requester and teammate names (Slack ids are shown instead)",
    ]


def test_a_closed_output_pipe_is_quiet(world: World, tmp_path: Path) -> None:
    """``idqueue list --all | head -1``: the reader leaves early; no traceback, no noise."""
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDQUEUE_")}
    env.update(IDQUEUE_DB=str(world.golden), IDQUEUE_CONFIG_FILE=str(config), IDQUEUE_NOW=NOW.isoformat(),
               PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "idqueue", "list", "--all"], env=env, cwd=str(ROOT),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line: every write fails (EPIPE)
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert err == ""
    assert proc.returncode in (0, 1)
