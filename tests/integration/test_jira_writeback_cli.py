"""Jira write-back end to end: the identity-jira sandbox, the CLI, the real Jira client.

``sync --once`` reads the Jira issues (and the Slack threads linked to them) into the store;
``assign``, ``reply`` and ``close`` go through the outbox and the Jira writer to the emulator,
which must show exactly one assignment, one comment per message and one transition; the next
sync reads them back into ``list --json``. A Slack-only request moved to the backlog becomes one
issue in the backlog project with a remote link to its thread, and the thread gets the link.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from idqueue.cli import Context, cli
from idqueue.config import Settings
from idqueue.integrations.jira.emulator import JIssue
from idqueue.sandbox import seed as seed_mod
from idqueue.sandbox.identity_jira import JIRA_SITE, IdentityJiraSandbox
from idqueue.sandbox.jira_seed import BACKLOG_PROJECT

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
BEN = seed_mod.ROSTER[1]


class Env:
    """The sandbox, settings with a fresh database, and a CLI runner on them."""

    def __init__(self, sb: IdentityJiraSandbox, tmp: Path, **extra: Any) -> None:
        self.sb = sb
        self.settings = Settings(**sb.settings_overrides(), db=tmp / "jira.sqlite",
                                 now=NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), **extra)

    def cli(self, *args: str) -> Result:
        ctx = Context()
        ctx.use_settings(self.settings)
        try:
            return CliRunner().invoke(cli, list(args), obj=ctx, catch_exceptions=False)
        finally:
            if ctx._store is not None:
                ctx._store.close()

    def ok(self, *args: str) -> str:
        result = self.cli(*args)
        assert result.exit_code == 0, result.output
        return result.output

    def items(self) -> list[dict[str, Any]]:
        return list(json.loads(self.ok("list", "--all", "--json")))

    def item(self, rid: str) -> dict[str, Any]:
        return next(i for i in self.items() if i["id"] == rid)

    def issue(self, rid: str) -> JIssue:
        return self.sb.jira.state.issue(rid.rsplit("/", 1)[1])

    def jira_writes(self, key: str, suffix: str) -> int:
        return sum(1 for c in self.sb.jira.calls.all()
                   if c.method in ("POST", "PUT") and c.path.endswith(f"/issue/{key}{suffix}"))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setenv("IDQUEUE_OUTBOX_THROTTLE", "0")
    with IdentityJiraSandbox.start(seed=True, now=NOW) as sb:
        yield Env(sb, tmp_path)


def _new_jira_request(env: Env) -> dict[str, Any]:
    env.ok("sync", "--once")
    return next(i for i in env.items() if i["source"] == "jira" and i["status"] == "new" and not i["assignee"]
                and i["links"].keys() == {"jira"})


def test_sync_lists_jira_requests(env: Env) -> None:
    env.ok("sync", "--once")
    items = env.items()
    jira = [i for i in items if i["source"] == "jira"]
    assert len(jira) > 30
    host = JIRA_SITE.split("//", 1)[1]  # the site the sandbox names (its API is on loopback)
    assert all(i["id"].startswith(f"jira:{host}/ID-") for i in jira)
    assert any("slack" in i["links"] for i in jira), "a Jira issue carrying a Slack permalink links its thread"
    assert {i["status"] for i in jira} >= {"new", "assigned", "pending", "closed", "backlog"}


def test_assign_reply_close_each_write_once(env: Env) -> None:
    request = _new_jira_request(env)
    rid, key = request["id"], request["id"].rsplit("/", 1)[1]
    comments_before = len(env.issue(rid).comments)

    env.ok("assign", rid, "ben")
    assert env.jira_writes(key, "/assignee") == 1
    assert env.issue(rid).assignee == f"acc-{BEN.key}"
    # The local store shows what was sent at once (before any sync reads it back).
    assert env.item(rid)["assignee"] == BEN.key and env.item(rid)["status"] == "assigned"
    after_assign = len(env.issue(rid).comments)  # the "assigned" automation message, if any
    assert after_assign - comments_before == env.jira_writes(key, "/comment") <= 1

    env.ok("reply", rid, "--template", "acknowledge")
    assert env.jira_writes(key, "/comment") == after_assign - comments_before + 1
    assert len(env.issue(rid).comments) == after_assign + 1

    env.ok("close", rid)
    assert env.jira_writes(key, "/transitions") == 1
    issue = env.issue(rid)
    assert issue.status == "Resolved" and issue.resolution is not None
    assert env.item(rid)["status"] == "closed"

    env.ok("sync", "--once")
    item = env.item(rid)
    assert item["status"] == "closed"
    assert item["assignee"] == BEN.key
    assert item["first_response_at"] is not None
    # Nothing was sent twice by the extra sync and dispatch rounds.
    assert env.jira_writes(key, "/assignee") == 1 and env.jira_writes(key, "/transitions") == 1
    assert len(env.issue(rid).comments) == len(issue.comments)


def test_internal_note_is_not_a_response(env: Env, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "note.md").write_text('+++\nkey = "triage_note"\ntitle = "Note for the team"\ninternal = true\n'
                                       "+++\nChecked the logs: this is the known staging outage.\n", encoding="utf-8")
    env.settings = env.settings.model_copy(update={"templates_dir": templates})
    request = _new_jira_request(env)
    rid = request["id"]
    env.ok("reply", rid, "--template", "triage_note")
    note = env.issue(rid).comments[-1]
    assert note.public is False  # a JSM internal note
    env.ok("sync", "--once")
    item = env.item(rid)
    assert item["first_response_at"] is None and item["status"] == "new"


def test_slack_only_request_backlogged_to_jira(env: Env) -> None:
    env.ok("sync", "--once")
    request = next(i for i in env.items() if i["source"] == "slack" and i["status"] in ("new", "acknowledged")
                   and set(i["links"]) == {"slack"})
    rid = request["id"]
    channel, ts = rid.removeprefix("slack:").split("/")
    out = env.ok("backlog", rid)
    assert "IDB" in out or "backlog" in out
    created = [c for c in env.sb.jira.calls.all() if c.method == "POST" and c.path.endswith("/rest/api/3/issue")]
    assert len(created) == 1
    issues = [i for i in env.sb.jira.state.issues.values() if i.project == BACKLOG_PROJECT]
    assert len(issues) == 1
    backlog = issues[0]
    assert backlog.summary == request["title"]
    assert [link["object"]["url"] for link in backlog.remote_links] == [request["url"]]
    messages = env.sb.slack.state.channels[channel].messages
    thread = [messages[r] for r in messages[ts].replies]
    browse = f"{JIRA_SITE}/browse/{backlog.key}"
    assert sum(browse in m.text for m in thread) == 1
    env.ok("sync", "--once")
    assert env.item(rid)["status"] == "backlog"
    # Another sync and dispatch send nothing again.
    env.ok("sync", "--once")
    assert len([c for c in env.sb.jira.calls.all() if c.method == "POST" and c.path.endswith("/rest/api/3/issue")]) == 1


def test_member_without_a_jira_account_is_one_clear_line(env: Env) -> None:
    """Ben has no ``jira`` field and Jira knows no one by his roster email: one line, nothing written."""
    request = _new_jira_request(env)
    team = {k: (m.model_copy(update={"jira": None, "email": "ben@elsewhere.example"}) if k == BEN.key else m)
            for k, m in env.settings.team.items()}
    env.settings = env.settings.model_copy(update={"team": team})
    env.sb.jira.calls.clear()
    result = env.cli("assign", request["id"], "ben")
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert f"has no Jira account in the roster (team.{BEN.key}.jira" in result.output
    assert "'ben@elsewhere.example' cannot be assigned" in result.output
    assert [c for c in env.sb.jira.calls.all() if c.method in ("POST", "PUT")] == []


def test_taking_a_request_you_already_have_sends_nothing(env: Env) -> None:
    request = _new_jira_request(env)
    env.ok("assign", request["id"], "ben")
    env.sb.jira.calls.clear()
    result = env.cli("assign", request["id"], "ben")
    assert result.exit_code == 0 and "already assigned to Ben Okafor; nothing to do" in result.output
    assert [c for c in env.sb.jira.calls.all() if c.method in ("POST", "PUT")] == []


def test_p3_chosen_on_purpose_survives_jiras_default_priority(env: Env, tmp_path: Path) -> None:
    """P3 is Jira's default "Medium", which otherwise means nobody chose: idqueue records its
    choice on the issue (``idqueue.priority``), so the next poll — and a teammate's own idqueue
    with a fresh database — read P3; a cleared override reads as no choice again."""
    request = next(i for i in (_new_jira_request(env), *env.items())
                   if i["source"] == "jira" and i["status"] != "closed" and i["priority"] in ("P1", "P2"))
    rid, key = request["id"], request["id"].rsplit("/", 1)[1]
    env.ok("priority", rid, "P3")
    assert env.issue(rid).priority == "Medium"
    assert env.issue(rid).properties["idqueue.priority"] == {"name": "Medium"}
    env.ok("sync", "--once")
    assert env.item(rid)["priority"] == "P3"
    teammate = Env(env.sb, tmp_path / "teammate")
    teammate.ok("sync", "--once")
    assert teammate.item(rid)["priority"] == "P3" and "priority:P3" in teammate.ok("show", rid)
    # Someone raises it in Jira: the recorded choice no longer matches, Jira's value wins.
    env.sb.jira.state.set_fields(key, priority="High")
    teammate.ok("sync", "--once")
    assert teammate.item(rid)["priority"] == "P2"
    env.ok("priority", rid, "auto")
    assert env.issue(rid).properties["idqueue.priority"] == {"name": None}
