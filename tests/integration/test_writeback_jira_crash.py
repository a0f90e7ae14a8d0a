"""Crash tests for Jira writes: the dispatcher is a subprocess killed with SIGKILL before the
comment request (``claimed``) or after Jira has it but before anything is recorded (``sent``); a
restarted dispatcher finishes the work and the comment (or backlog issue) exists exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from idqueue.integrations.jira.emulator import JIRA_EMAIL, JIRA_TOKEN, JiraEmulator
from idqueue.outbox.models import Action, ActionKind, ActionState
from idqueue.outbox.store import OutboxStore
from idqueue.store.db import Store

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SLACK_URL = "https://identity.slack.com/archives/C0SUPPORT/p1773238200000100"


@pytest.fixture
def emu() -> Iterator[JiraEmulator]:
    emu = JiraEmulator()  # the wall clock: the subprocess has no frozen "now"
    emu.state.add_project("ID", "Identity support")
    emu.state.add_project("BL", "Identity backlog", service_desk=False)
    emu.state.user("cust-1", "Requester One", account_type="customer")
    emu.state.add_issue("ID", "Cannot sign in", reporter="cust-1")
    emu.start()
    yield emu
    emu.stop()


def _env(emu: JiraEmulator, tmp_path: Path, crash: str | None) -> dict[str, str]:
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    out = {k: v for k, v in os.environ.items() if not k.startswith("IDQUEUE_")}
    out.update({
        "IDQUEUE_DB": str(tmp_path / "db.sqlite"), "IDQUEUE_CONFIG_FILE": str(config), "PYTHONPATH": str(ROOT),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "IDQUEUE_JIRA__BASE_URL": emu.origin,
        "IDQUEUE_JIRA__EMAIL": JIRA_EMAIL, "IDQUEUE_JIRA__API_TOKEN": JIRA_TOKEN, "IDQUEUE_JIRA__PROJECT": "ID",
        "IDQUEUE_JIRA__BACKLOG_PROJECT": "BL",
    })
    if crash:
        out["IDQUEUE_OUTBOX_CRASH_AT"] = crash
    return out


def _dispatch(emu: JiraEmulator, tmp_path: Path, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "idqueue.outbox.dispatcher", "--throttle", "0", "--timeout", "5"],
        env=_env(emu, tmp_path, crash), cwd=str(ROOT), capture_output=True, text=True, timeout=120, check=False,
    )


def _queue(tmp_path: Path, kind: ActionKind, text: str, **params: object) -> Action:
    store = Store.open(tmp_path / "db.sqlite")
    action = Action(id=f"act-{kind.value}", request_id="jira:127.0.0.1/ID-1", kind=kind, target="jira",
                    params=dict(params), text=text, state=ActionState.QUEUED, attempts=0, last_error=None,
                    next_attempt_at=None, created_at=datetime.now(UTC), sent_at=None, group_id="g1",
                    summary=f"{kind.value} on Jira")
    OutboxStore(store).insert([action])
    store.close()
    return action


def _state(tmp_path: Path, action: Action) -> Action:
    store = Store.open(tmp_path / "db.sqlite")
    found = OutboxStore(store).get(action.id)
    store.close()
    assert found is not None
    return found


@pytest.mark.parametrize("crash", ["claimed:reply:jira", "sent:reply:jira"])
def test_comment_lands_once_through_sigkill(emu: JiraEmulator, tmp_path: Path, crash: str) -> None:
    action = _queue(tmp_path, ActionKind.REPLY, "We are looking into it.", key="ID-1")
    killed = _dispatch(emu, tmp_path, crash)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert _state(tmp_path, action).state is ActionState.SENDING
    landed = len(emu.state.issue("ID-1").comments)
    assert landed == (1 if crash.startswith("sent") else 0)
    again = _dispatch(emu, tmp_path)
    assert again.returncode == 0, again.stderr
    done = _state(tmp_path, action)
    assert done.state is ActionState.SENT
    comments = emu.state.issue("ID-1").comments
    assert len(comments) == 1 and comments[0].properties["idqueue"] == {"action": action.id}
    assert emu.calls.count("POST", "/rest/api/3/issue/ID-1/comment") == 1


def test_backlog_issue_lands_once_through_sigkill(emu: JiraEmulator, tmp_path: Path) -> None:
    action = _queue(tmp_path, ActionKind.CREATE_ISSUE, "From Slack", title="Data pull",
                    link={"url": SLACK_URL, "title": "Slack thread"})
    killed = _dispatch(emu, tmp_path, "sent:create_issue:jira")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    again = _dispatch(emu, tmp_path)
    assert again.returncode == 0, again.stderr
    assert _state(tmp_path, action).state is ActionState.SENT
    backlog = [i for i in emu.state.issues.values() if i.project == "BL"]
    assert len(backlog) == 1 and len(backlog[0].remote_links) == 1
