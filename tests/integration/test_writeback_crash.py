"""Crash tests: the dispatcher is a subprocess killed with SIGKILL at each point of a send.

Points (``IDQUEUE_OUTBOX_CRASH_AT``): ``claimed`` (claimed and counted, before the request),
``sent`` (the destination has it, nothing recorded) and ``recorded`` (after recording, before
anything else). After the kill, a restarted dispatcher finishes the work and every action lands
exactly once: no duplicate comment, Slack message, issue, assignment or close.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from outbox_env import ANA, BACKLOG_REPO, CHANNEL, REPO, WritebackEnv, make_env

from idqueue.outbox.models import ActionState
from idqueue.sandbox.runner import Sandbox

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _subprocess_env(env: WritebackEnv, tmp_path: Path, crash: str | None) -> dict[str, str]:
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    out = {k: v for k, v in os.environ.items() if not k.startswith("IDQUEUE_")}
    out.update(env.sb.env())
    out["IDQUEUE_DB"] = str(env.settings.db)
    out["IDQUEUE_CONFIG_FILE"] = str(config)
    out["PYTHONPATH"] = str(ROOT)
    if crash:
        out["IDQUEUE_OUTBOX_CRASH_AT"] = crash
    return out


def _run_dispatcher(env: WritebackEnv, tmp_path: Path, crash: str | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "idqueue.outbox.dispatcher", "--throttle", "0", "--timeout", "5"],
        env=_subprocess_env(env, tmp_path, crash), cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )


def _queue_everything(env: WritebackEnv) -> dict[str, str]:
    """A linked request taken, a Slack-only request backlogged, a GitHub request closed."""
    linked, linked_slack = env.linked_request("Linked request", sync=False)
    slack_only = env.slack_request("Slack-only request", sync=False)
    gh_only = env.github_request("GitHub-only request", sync=False)
    env.sync()
    actions = env.actions()
    actions.take(linked)
    actions.backlog(slack_only)
    actions.close(gh_only)
    return {"linked": linked, "linked_slack": linked_slack, "slack_only": slack_only, "gh_only": gh_only}


def _assert_each_landed_once(env: WritebackEnv, ids: dict[str, str]) -> None:
    actions = env.actions().all()
    assert [a for a in actions if a.state is not ActionState.SENT] == []
    gh, sl = env.sb.github, env.sb.slack
    # One write of each non-idempotent kind per action.
    assert gh.calls.count("POST", f"/repos/{REPO}/issues/*/comments") == 2
    assert gh.calls.count("POST", f"/repos/{BACKLOG_REPO}/issues") == 1
    assert len(sl.calls.api("chat.postMessage")) == 2
    # The destinations hold exactly one of each.
    repo = env.gh.repo(REPO)
    for action in (a for a in actions if a.kind.value == "reply" and a.target == "github"):
        marker = f"idqueue:action={action.id}"
        assert sum(marker in c.body for c in repo.comments) == 1
    for action in (a for a in actions if a.kind.value == "reply" and a.target == "slack"):
        found = [m for m in env.slack.channel(CHANNEL).messages.values()
                 if (m.metadata or {}).get("event_payload", {}).get("action_id") == action.id]
        assert len(found) == 1
    backlog = env.gh.repo(BACKLOG_REPO).issues
    assert len(backlog) == 1
    linked_number = int(ids["linked"].split("#")[1])
    gh_number = int(ids["gh_only"].split("#")[1])
    assert env.gh.issue(REPO, linked_number).assignees == [ANA.github]
    closed = env.gh.issue(REPO, gh_number)
    assert closed.state == "closed"
    closes = [e for e in repo.events if e.issue_number == gh_number and e.event == "closed"]
    assert len(closes) == 1
    assigned = [e for e in repo.events if e.issue_number == linked_number and e.event == "assigned"]
    assert len(assigned) == 1
    # The Slack thread of the backlogged request links the one issue.
    post = next(c for c in sl.calls.api("chat.postMessage") if c.status == 200
                and c.body["metadata"]["event_payload"]["action"] == "backlog")
    assert f"{BACKLOG_REPO}/issues/1|" in post.body["text"]


@pytest.mark.parametrize(
    "crash",
    [
        "claimed:reply:github",  # before the comment request
        "sent:reply:github",  # GitHub has the comment; not recorded
        "sent:reply:slack",  # Slack has the message; not recorded
        "sent:create_issue",  # the backlog issue exists; not recorded
        "sent:close",  # the issue is closed; not recorded
        "recorded:assign",  # recorded, then killed
    ],
)
def test_kill_at_each_point_then_restart_lands_everything_once(
    empty_sandbox: Sandbox, tmp_path: Path, crash: str
) -> None:
    env = make_env(empty_sandbox, tmp_path)
    ids = _queue_everything(env)
    proc = _run_dispatcher(env, tmp_path, crash)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, stderr
    point, _, rest = crash.partition(":")
    kind = rest.partition(":")[0]
    victims = [a for a in env.actions().all() if a.kind.value == kind and a.state is ActionState.SENDING]
    if point in ("claimed", "sent"):
        assert len(victims) == 1  # left mid-send, with the dead process's lease
    # Restart (the dead process's lease is recovered at once: its pid is gone).
    report = env.drain(env.dispatcher())
    assert report.counts["needs_attention"] == 0 and report.counts["failed"] == 0
    _assert_each_landed_once(env, ids)
    if point == "sent":
        recovered = next(a for a in env.actions().all() if a.kind.value == kind and a.attempts == 2)
        assert recovered.result.get("reconciled") is True


def test_restart_as_a_new_process_too(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    env = make_env(empty_sandbox, tmp_path)
    ids = _queue_everything(env)
    first = _run_dispatcher(env, tmp_path, "sent:reply:slack")
    first.communicate(timeout=120)
    assert first.returncode == -signal.SIGKILL
    second = _run_dispatcher(env, tmp_path)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert "needs attention 0" in out
    _assert_each_landed_once(env, ids)


def test_two_processes_on_one_database_send_each_action_once(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    env = make_env(empty_sandbox, tmp_path)
    issues = [env.github_request(f"Request {n}", sync=False) for n in range(8)]
    env.sync()
    for rid in issues:
        env.actions().reply(rid, text=f"Hello {rid}")
    procs = [_run_dispatcher(env, tmp_path) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert env.sb.github.calls.count("POST", "*/comments") == 8
    comments = env.gh.repo(REPO).comments
    assert len(comments) == 8
    assert len({c.issue_number for c in comments}) == 8
    assert all(a.state is ActionState.SENT and a.attempts == 1 for a in env.actions().all())
