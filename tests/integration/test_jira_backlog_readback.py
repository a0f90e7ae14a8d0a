"""A Slack request's Jira backlog issue, read back: the identity-jira sandbox, the CLI, the real client.

A Slack-only request moved to the backlog becomes one issue in the backlog project (``IDB``).
Someone then works on that issue in Jira (In Progress, then Done); each ``sync --once`` shows the
issue's status on the request (``backlog_state``, ``links.jira``) while the request stays a Slack
request in the backlog: the issue is never a request of its own nor its primary home. Both with
the default JQL (``project = ID``: the backlog project is read through the incremental backlog
search) and with a JQL that covers the backlog project too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from test_jira_writeback_cli import NOW, Env

from idqueue.integrations.jira.emulator import JIssue
from idqueue.sandbox.identity_jira import JIRA_SITE, IdentityJiraSandbox
from idqueue.sandbox.jira_seed import BACKLOG_PROJECT, PROJECT

HOST = JIRA_SITE.split("//", 1)[1]


def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jql: str | None) -> Iterator[Env]:
    monkeypatch.setenv("IDQUEUE_OUTBOX_THROTTLE", "0")
    with IdentityJiraSandbox.start(seed=True, now=NOW) as sb:
        # A Jira Software backlog project's workflow ends in "Done".
        sb.jira.state.statuses["Done"] = (10900, "done")
        env = Env(sb, tmp_path)
        if jql is not None:
            env.settings = env.settings.model_copy(
                update={"jira": env.settings.jira.model_copy(update={"jql": jql})})
        yield env


@pytest.fixture(params=[None, f"project in ({PROJECT}, {BACKLOG_PROJECT}) ORDER BY updated DESC"],
                ids=["default-jql", "jql-covers-backlog"])
def env(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    yield from _env(tmp_path, monkeypatch, request.param)


def _backlogged(env: Env) -> tuple[dict[str, Any], JIssue]:
    """Sync, move a Slack-only request to the Jira backlog, sync again: the request and its issue."""
    env.ok("sync", "--once")
    request = next(i for i in env.items() if i["source"] == "slack" and i["status"] in ("new", "acknowledged")
                   and set(i["links"]) == {"slack"})
    env.ok("backlog", request["id"])
    issues = [i for i in env.sb.jira.state.issues.values() if i.project == BACKLOG_PROJECT]
    assert len(issues) == 1
    env.ok("sync", "--once")
    return request, issues[0]


def _show(env: Env, rid: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(env.ok("show", rid, "--json"))
    return data


def _searches(env: Env) -> list[str]:
    return [str((c.body or {}).get("jql")) for c in env.sb.jira.calls.all()
            if c.method == "POST" and c.path.endswith("/search/jql")]


def _assert_slack_request_with_backlog_item(env: Env, rid: str, state: str, issue: JIssue) -> dict[str, Any]:
    items = env.items()
    issue_id = f"jira:{HOST}/{issue.key}"
    assert not [i for i in items if i["id"] == issue_id], "the backlog issue is never a request of its own"
    assert not [i for i in items if issue.key in i["id"]]
    mine = [i for i in items if issue_id in i["item_ids"]]
    assert [i["id"] for i in mine] == [rid], "the issue belongs to the Slack request only"
    item = mine[0]
    assert item["source"] == "slack" and item["status"] == "backlog"
    assert item["backlog_state"] == state
    assert item["links"]["jira"] == f"{JIRA_SITE}/browse/{issue.key}"
    shown = _show(env, rid)
    assert shown["id"] == rid and shown["backlog_state"] == state and shown["status"] == "backlog"
    return shown


def test_backlog_issue_transitions_show_on_the_slack_request(env: Env) -> None:
    request, issue = _backlogged(env)
    rid = request["id"]
    _assert_slack_request_with_backlog_item(env, rid, "Backlog", issue)

    ben = "acc-ben"
    env.sb.jira.state.set_status(issue.key, "In Progress", actor=ben, at=NOW + timedelta(minutes=5))
    env.sb.jira.state.set_assignee(issue.key, ben, actor=ben, at=NOW + timedelta(minutes=5))
    env.ok("sync", "--once")
    shown = _assert_slack_request_with_backlog_item(env, rid, "In Progress", issue)
    assert shown["assignee"] is None, "the backlog issue's assignee is not the request's"
    moves = [e for e in shown["timeline"] if e["source"] == "jira" and e["kind"] == "edited"]
    assert any("from Backlog to In Progress" in (e["body"] or "") for e in moves)

    env.sb.jira.state.add_comment(issue.key, "Picked up in sprint 12", author=ben, at=NOW + timedelta(minutes=6))
    env.sb.jira.state.set_status(issue.key, "Done", actor=ben, at=NOW + timedelta(minutes=9))
    env.ok("sync", "--once")
    shown = _assert_slack_request_with_backlog_item(env, rid, "Done", issue)
    notes = [e for e in shown["timeline"] if e["source"] == "jira" and e["kind"] == "note"]
    assert [e["body"] for e in notes] == ["Picked up in sprint 12"], "backlog comments are notes, not responses"
    # A resolution that says more than the status name is shown with it.
    env.sb.jira.state.set_status(issue.key, "In Progress", at=NOW + timedelta(minutes=12))
    env.sb.jira.state.set_status(issue.key, "Closed", resolution="Won't Do", at=NOW + timedelta(minutes=13))
    env.ok("sync", "--once")
    _assert_slack_request_with_backlog_item(env, rid, "Closed (Won't Do)", issue)


def test_reading_back_is_incremental(env: Env) -> None:
    request, issue = _backlogged(env)
    env.sb.jira.calls.clear()
    env.ok("sync", "--once")  # nothing changed
    searches = _searches(env)
    assert not [q for q in searches if q.startswith("key in")], "an idle poll reads no issue in full"
    assert len(searches) <= 2
    assert all("updated >=" in q for q in searches)

    env.sb.jira.state.set_status(issue.key, "In Progress", at=NOW + timedelta(minutes=5))
    # Someone else's issue in the backlog project changes too: it is not read in full.
    other = env.sb.jira.state.add_issue(BACKLOG_PROJECT, "Refactor the token cache", issue_type="Task",
                                        status="Backlog", at=NOW + timedelta(minutes=6))
    env.sb.jira.calls.clear()
    env.ok("sync", "--once")
    full_reads = [q for q in _searches(env) if "updated >=" not in q]
    if env.settings.jira.jql is None:
        assert full_reads == [f"key in ({issue.key}) ORDER BY key ASC"]
        assert not [i for i in env.items() if other.key in i["id"]]
    assert env.item(request["id"])["backlog_state"] == "In Progress"


def test_actions_on_the_request_leave_the_backlog_issue_alone(env: Env) -> None:
    request, issue = _backlogged(env)
    writes_before = [c for c in env.sb.jira.calls.all() if c.method in ("POST", "PUT")]
    env.ok("assign", request["id"], "ben")
    writes = [c for c in env.sb.jira.calls.all() if c.method in ("POST", "PUT")]
    assert writes == writes_before, "assigning the Slack request does not touch its backlog issue"
    assert issue.assignee is None
    env.ok("reply", request["id"], "--template", "acknowledge")
    assert [c for c in env.sb.jira.calls.all() if c.method in ("POST", "PUT")] == writes_before
    # Sent to Jira on purpose, a reply is a comment on the backlog issue.
    env.ok("reply", request["id"], "--target", "jira", "--text", "Scheduled for sprint 12")
    assert len(issue.comments) == 1
