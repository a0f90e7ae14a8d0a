"""Assigning with an EMPTY roster, end to end against the emulators with the real clients.

``idqueue assign`` checks a GitHub login with the repository's assignees endpoint and a Slack
user id or ``@name`` with ``users.info`` / ``users.list`` before it queues anything; the write
reaches the emulator, and the next poll reads the assignee back into ``list --json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from outbox_env import BEN, CHANNEL, REPO, REQUESTER, WritebackEnv, make_env, run_cli

from idqueue.config import TeamMember
from idqueue.sandbox.runner import Sandbox

NEWHIRE = "U0NEWHIRE"  # Alex Morgan (@alexm): in the workspace and the channel, on no roster


@pytest.fixture
def env(empty_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WritebackEnv:
    monkeypatch.setenv("IDQUEUE_OUTBOX_THROTTLE", "0")
    return _without_roster(make_env(empty_sandbox, tmp_path))


def _without_roster(env: WritebackEnv, **team: Any) -> WritebackEnv:
    """The sandbox settings with only ``team`` as the roster (none by default) and no ``me``."""
    env.settings = env.settings.model_copy(update={"team": team, "me": None, "rota": type(env.settings.rota)()})
    return env


def _json(env: WritebackEnv, *args: str) -> Any:
    result = run_cli(env, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _item(env: WritebackEnv, rid: str) -> dict[str, Any]:
    return next(i for i in _json(env, "list", "--all") if i["id"] == rid)


def _fails_with_one_line(env: WritebackEnv, *args: str) -> str:
    env.clear_calls()
    result = run_cli(env, *args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("idqueue:")]
    assert len(errors) == 1, result.output
    assert env.writes() == []
    return errors[0]


@pytest.mark.parametrize("typed", ["ben-okafor", "@ben-okafor"])
def test_assign_by_github_login(env: WritebackEnv, typed: str) -> None:
    rid = env.github_request()
    env.clear_calls()
    result = run_cli(env, "assign", rid, typed)
    assert result.exit_code == 0, result.output
    assert "the roster is empty" not in result.output
    calls = [(c.method, c.path) for c in env.sb.github.calls.all()]
    assert calls[0] == ("GET", f"/repos/{REPO}/assignees/ben-okafor")  # checked before queueing
    assert ("POST", f"/repos/{REPO}/issues/1/assignees") in calls
    assert env.gh.issue(REPO, 1).assignees == [BEN.github]
    comment = next(c for c in env.sb.github.calls.all() if c.method == "POST" and c.path.endswith("/comments"))
    assert "assigned to @ben-okafor" in comment.body["body"]
    env.sync()
    item = _item(env, rid)
    assert item["assignee"] == "ben-okafor" and item["assignees"] == ["ben-okafor"]
    assert item["status"] == "assigned"


def test_unknown_github_login_is_one_clear_line(env: WritebackEnv) -> None:
    rid = env.github_request()
    line = _fails_with_one_line(env, "assign", rid, "mallory")
    assert line == (f"idqueue: 'mallory' cannot be assigned in {REPO}: not on the roster and not a GitHub login "
                    "with access to the repository")
    # The requester is a GitHub user, but not one the repository can assign.
    assert "cannot be assigned" in _fails_with_one_line(env, "assign", rid, REQUESTER.github)
    assert "lives on GitHub" in _fails_with_one_line(env, "assign", rid, NEWHIRE)
    assert env.gh.issue(REPO, 1).assignees == []


@pytest.mark.parametrize("typed", [NEWHIRE, "@alexm", "@Alex Morgan"])
def test_assign_slack_only_request_by_slack_id_or_name(env: WritebackEnv, typed: str) -> None:
    rid = env.slack_request()
    _, ts = rid.removeprefix("slack:").split("/")
    env.clear_calls()
    result = run_cli(env, "assign", rid, typed)
    assert result.exit_code == 0, result.output
    posts = env.posts()
    assert len(posts) == 1
    body = posts[0].body
    assert body["channel"] == CHANNEL and body["thread_ts"] == ts
    assert f"<@{NEWHIRE}>" in body["text"]  # the thread message names the person (a real mention)
    assert body["metadata"]["event_payload"]["assignee"] == NEWHIRE
    env.sync()
    item = _item(env, rid)
    assert item["assignee"] == NEWHIRE and item["assignees"] == [NEWHIRE]
    shown = _json(env, "show", rid)
    assert shown["assignees"] == [NEWHIRE]


def test_unknown_slack_user_is_one_clear_line(env: WritebackEnv) -> None:
    rid = env.slack_request()
    assert "no Slack user has that name" in _fails_with_one_line(env, "assign", rid, "@nobody")
    assert "not an active Slack user" in _fails_with_one_line(env, "assign", rid, "U0NOBODY")
    # A bot is not a person to assign.
    assert "not an active Slack user" in _fails_with_one_line(env, "assign", rid, "U0IDBOT")


def test_multiple_github_assignees_are_kept(env: WritebackEnv) -> None:
    rid = env.github_request(assignees=(BEN.github, "chloe-park"))
    item = _item(env, rid)
    assert item["assignees"] == [BEN.github, "chloe-park"] and item["assignee"] == BEN.github
    assert _json(env, "show", rid)["assignees"] == [BEN.github, "chloe-park"]


def test_roster_keys_where_people_are_on_the_roster(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    env = _without_roster(make_env(empty_sandbox, tmp_path), ben=TeamMember(name="Ben Okafor", github=BEN.github))
    rid = env.github_request(assignees=("chloe-park", BEN.github))
    item = _item(env, rid)
    assert item["assignees"] == ["chloe-park", "ben"] and item["assignee"] == "chloe-park"
