"""A Slack request and a Jira issue that name each other are one request (real clients, emulators).

The Slack reader finds Jira issue URLs and keys of the configured projects through the
registry's link recognisers (Slack names no other system); the Jira reader finds the Slack
permalink in an issue's description or remote links.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from idqueue.cli import Context, cli
from idqueue.config import Settings
from idqueue.integrations.jira.adf import from_text
from idqueue.sandbox import seed as seed_mod
from idqueue.sandbox.identity_jira import IdentityJiraSandbox
from idqueue.sandbox.jira_seed import PROJECT, account_of

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
REQUESTER = seed_mod.REQUESTERS[0]


@pytest.fixture
def sb() -> Iterator[IdentityJiraSandbox]:
    with IdentityJiraSandbox.start(seed=False, now=NOW) as sandbox:
        yield sandbox


def _synced(sb: IdentityJiraSandbox, tmp: Path) -> list[dict[str, Any]]:
    ctx = Context()
    ctx.use_settings(Settings(**sb.settings_overrides(), db=tmp / "db.sqlite", now=NOW.isoformat()))
    runner = CliRunner()
    try:
        assert runner.invoke(cli, ["sync", "--once"], obj=ctx, catch_exceptions=False).exit_code == 0
        result = runner.invoke(cli, ["list", "--all", "--json"], obj=ctx, catch_exceptions=False)
    finally:
        if ctx._store is not None:
            ctx._store.close()
    assert result.exit_code == 0, result.output
    return list(json.loads(result.output))


def _issue(sb: IdentityJiraSandbox, text: str = "") -> str:
    issue = sb.jira.state.add_issue(PROJECT, "Cannot sign in to staging", description=from_text(text),
                                    reporter=account_of(REQUESTER.github), at=NOW - timedelta(hours=2))
    return issue.key


def _post(sb: IdentityJiraSandbox, text: str) -> str:
    # A human message a teammate marked with the intake reaction: a request.
    message = sb.slack.state.post(seed_mod.CHANNEL, REQUESTER.slack, text, at=NOW - timedelta(hours=3))
    message.reactions["ticket"] = [seed_mod.ROSTER[1].slack]
    return f"{sb.slack.state.workspace_url}archives/{seed_mod.CHANNEL}/p{message.ts.replace('.', '')}"


@pytest.mark.parametrize("how", ["url", "key"])
def test_slack_message_naming_a_jira_issue(sb: IdentityJiraSandbox, tmp_path: Path, how: str) -> None:
    key = _issue(sb)
    ref = f"<{sb.jira.origin}/browse/{key}|{key}>" if how == "url" else key
    _post(sb, f"Filed {ref} for the staging sign-in problem, can someone look?")
    items = _synced(sb, tmp_path)
    assert len(items) == 1, items
    assert items[0]["source"] == "jira" and set(items[0]["links"]) == {"jira", "slack"}


def test_other_projects_keys_do_not_link(sb: IdentityJiraSandbox, tmp_path: Path) -> None:
    key = _issue(sb)
    _post(sb, f"Is this like OPS-{key.split('-')[1]} from last week? Sign-in fails on staging.")
    items = _synced(sb, tmp_path)
    assert sorted(i["source"] for i in items) == ["jira", "slack"]


@pytest.mark.parametrize("where", ["description", "remote link"])
def test_jira_issue_carrying_the_slack_permalink(sb: IdentityJiraSandbox, tmp_path: Path, where: str) -> None:
    permalink = _post(sb, "Sign-in fails on staging for our test users, help please")
    key = _issue(sb, f"From Slack: {permalink}" if where == "description" else "Sign-in fails on staging")
    if where == "remote link":
        sb.jira.state.issue(key).remote_links.append(
            {"id": 1, "self": "x", "globalId": permalink, "object": {"url": permalink, "title": "Slack thread"}})
    items = _synced(sb, tmp_path)
    assert len(items) == 1, items
    assert items[0]["id"].endswith(f"/{key}") and set(items[0]["links"]) == {"jira", "slack"}
