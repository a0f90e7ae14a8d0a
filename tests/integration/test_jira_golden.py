"""The golden comparison: the identity team's month read from Slack + GitHub and from Slack + Jira.

Both sandboxes are seeded at the same instant with the same month; the identity-jira one carries
every GitHub support issue over to a Jira issue. Both are synced by the production sources into
their own store, and every request must come out the same: type, priority and SLA state (and
status). A request is matched by its Slack thread (same id in both) or by the GitHub issue its
Jira issue was carried over from.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import idqueue.sync
from idqueue.config import Settings
from idqueue.domain.models import Request
from idqueue.integrations import registry
from idqueue.sandbox.identity_jira import JIRA_SITE, IdentityJiraSandbox
from idqueue.sandbox.runner import Sandbox
from idqueue.store.db import Store

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)

pytestmark = pytest.mark.xdist_group("jira_golden")


def _sync(sb: Any, db: Path) -> dict[str, Request]:
    settings = Settings(**sb.settings_overrides(), db=db, now=NOW.isoformat())
    store = Store.open(settings.db)
    try:
        report = idqueue.sync.SyncEngine(store, idqueue.sync.build_sources(settings), settings).poll()
        assert not report.errors, report.errors
        return {r.id: r for r in store.list_requests(now=NOW, open_only=False)}
    finally:
        store.close()


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Request], dict[str, Request], dict[str, str]]:
    tmp = tmp_path_factory.mktemp("golden")
    with Sandbox.start(seed=True, now=NOW) as identity:
        github = _sync(identity, tmp / "identity.db")
    with IdentityJiraSandbox.start(seed=True, now=NOW) as moved:
        jira = _sync(moved, tmp / "identity-jira.db")
        assert moved.seeded is not None
        host = JIRA_SITE.split("//", 1)[1]  # the site the sandbox names (its API is on loopback)
        jira_of = {gh: f"jira:{host}/{key}" for gh, key in moved.seeded.issue_of.items()}
    return github, jira, jira_of


def _twin(request: Request, jira_of: dict[str, str]) -> str:
    """The id of the same request in the identity-jira store."""
    gh = registry.home_of(request, "github")
    return jira_of[gh] if gh is not None else request.id


def test_every_request_has_its_twin(both: tuple[dict[str, Request], dict[str, Request], dict[str, str]]) -> None:
    github, jira, jira_of = both
    assert len(github) > 40
    assert {_twin(r, jira_of) for r in github.values()} == set(jira)
    linked = [r for r in jira.values() if [str(s) for s in r.sources] == ["jira", "slack"]]
    assert len(linked) >= 5, "Slack threads and the Jira issues carrying their permalinks are one request"
    assert all(r.source == "jira" for r in jira.values() if r.id.startswith("jira:"))


def test_same_types_priorities_and_sla_states(
    both: tuple[dict[str, Request], dict[str, Request], dict[str, str]],
) -> None:
    github, jira, jira_of = both
    differences = []
    for request in github.values():
        twin = jira[_twin(request, jira_of)]
        ours = (request.title, request.type, request.priority, request.sla.state, request.status,
                request.first_response_at, request.resolved_at)
        theirs = (twin.title, twin.type, twin.priority, twin.sla.state, twin.status, twin.first_response_at,
                  twin.resolved_at)
        # Jira has one assignee: the latest of a GitHub issue's (a handover keeps both there).
        if ours != theirs or set(twin.assignees) - set(request.assignees) or bool(twin.assignee) != bool(
                request.assignee):
            differences.append(f"{request.id}: {ours} != {twin.id}: {theirs}")
    assert not differences, "\n".join(differences)
    # Not a vacuous match: the month has every SLA state and several priorities and types.
    assert {r.sla.state for r in jira.values()} >= {"ok", "at_risk", "breached", "met"}
    assert len({r.priority for r in jira.values()}) >= 3
    assert len({r.type for r in jira.values()}) >= 6
