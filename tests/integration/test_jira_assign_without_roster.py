"""Assigning people who are not on the roster (or have no ``jira`` field) on Jira.

The identity-jira sandbox, the CLI and the real client: ``idqueue assign`` looks the person up
with Jira's assignable-user search for the issue (``GET /rest/api/3/user/assignable/search``),
takes only an exact match (email, display name, account id) and refuses anything else with one
line naming the candidates, before anything is queued. The assignment is written once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_jira_writeback_cli import NOW, Env, _new_jira_request

from idqueue.sandbox.identity_jira import IdentityJiraSandbox

SEARCH = "/rest/api/3/user/assignable/search"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setenv("IDQUEUE_OUTBOX_THROTTLE", "0")
    with IdentityJiraSandbox.start(seed=True, now=NOW) as sb:
        st = sb.jira.state
        st.user("acc-mia", "Mia Krystof", email="mia.krystof@example.gov")
        st.user("acc-alex-1", "Alex Morgan", email="alex.morgan@example.gov")
        st.user("acc-alex-2", "Alex Morgan", email="alex.morgan@contractor.example")
        st.user("acc-pat", "Pat Quinn", email="pat.quinn@example.gov").email_hidden = True
        yield Env(sb, tmp_path)


def _writes(env: Env) -> list[Any]:
    return [c for c in env.sb.jira.calls.all() if c.method in ("POST", "PUT")]


def _searches(env: Env) -> list[dict[str, str]]:
    return [dict(c.query) for c in env.sb.jira.calls.all() if c.method == "GET" and c.path == SEARCH]


@pytest.mark.parametrize(("typed", "account"), [
    ("mia.krystof@example.gov", "acc-mia"),
    ("Mia Krystof", "acc-mia"),
    ("@mia  krystof", "acc-mia"),
    ("acc-mia", "acc-mia"),
    ("pat.quinn@example.gov", "acc-pat"),  # the profile hides the address; Jira matched all of it
])
def test_someone_off_the_roster_is_found_and_assigned_once(env: Env, typed: str, account: str) -> None:
    request = _new_jira_request(env)
    rid, key = request["id"], request["id"].rsplit("/", 1)[1]
    env.sb.jira.calls.clear()
    env.ok("assign", rid, typed)
    assert {q.get("issueKey") for q in _searches(env)} == {key}
    assert env.jira_writes(key, "/assignee") == 1
    assert env.issue(rid).assignee == account
    assert env.item(rid)["assignee"] == account and env.item(rid)["status"] == "assigned"
    env.ok("sync", "--once")
    assert env.item(rid)["assignee"] == account
    # Again: already theirs, nothing is written.
    result = env.cli("assign", rid, typed)
    assert result.exit_code == 0 and "nothing to do" in result.output
    assert env.jira_writes(key, "/assignee") == 1


@pytest.mark.parametrize(("typed", "says"), [
    ("mia", ["'mia' names no Jira user exactly", "Mia Krystof <mia.krystof@example.gov>",
             "type the full name, email address or account id"]),
    ("Alex Morgan", ["'Alex Morgan' matches 2 Jira users who can be assigned",
                     "Alex Morgan <alex.morgan@example.gov>", "Alex Morgan <alex.morgan@contractor.example>",
                     "give the email address or account id"]),
    ("mallory", ["'mallory' cannot be assigned", "no Jira user who can be assigned it matches",
                 "roster: ana, ben"]),
])
def test_no_or_several_matches_are_one_clear_line_and_nothing_is_queued(env: Env, typed: str,
                                                                        says: list[str]) -> None:
    request = _new_jira_request(env)
    env.sb.jira.calls.clear()
    result = env.cli("assign", request["id"], typed)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("idqueue:")]
    assert len(errors) == 1, result.output
    for part in says:
        assert part in errors[0]
    assert _writes(env) == []
    assert "queued" not in env.ok("show", request["id"])


def test_a_member_without_a_jira_field_is_found_by_their_roster_email(env: Env) -> None:
    request = _new_jira_request(env)
    rid, key = request["id"], request["id"].rsplit("/", 1)[1]
    team = {k: (m.model_copy(update={"jira": None}) if k == "ben" else m) for k, m in env.settings.team.items()}
    env.settings = env.settings.model_copy(update={"team": team})
    env.sb.jira.calls.clear()
    env.ok("assign", rid, "ben")
    assert [q.get("query") for q in _searches(env)] == ["ben.okafor@example.gov"] * len(_searches(env))
    assert env.issue(rid).assignee == "acc-ben" and env.jira_writes(key, "/assignee") == 1

