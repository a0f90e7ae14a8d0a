"""The identity-jira seed: the identity month carried over to Jira, request by request.

Both sandboxes are seeded with the same ``now``; each GitHub support issue and its Jira issue are
read by their real sources (GitHub and Jira, httpx against the emulators) and compared home by
home: open or closed and why, assignee, pending, backlog, Slack link, number of comments.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from idqueue.config import Settings
from idqueue.domain.models import EventKind, SourceItem, TimelineEvent
from idqueue.integrations.github.source import GitHubSource
from idqueue.integrations.jira.emulator import JIRA_EMAIL, JIRA_TOKEN, JiraEmulator, JiraState
from idqueue.integrations.jira.source import JiraSource
from idqueue.integrations.loopback import Clock
from idqueue.sandbox import seed as seed_mod
from idqueue.sandbox.github_emulator import GITHUB_TOKEN, GitHubEmulator, GitHubState
from idqueue.sandbox.jira_seed import account_of, seed_identity_jira
from idqueue.sandbox.slack_emulator import SlackState

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)


def _read(source: Any) -> tuple[dict[str, SourceItem], list[TimelineEvent]]:
    items: dict[str, SourceItem] = {}
    events: dict[str, TimelineEvent] = {}  # upserted by uid, as the store does
    for batch in source.fetch({}):
        items.update((i.id, i) for i in batch.items)
        events.update((e.uid, e) for e in batch.events)
    source.close()
    return items, sorted(events.values(), key=lambda e: (e.at, e.uid))


def test_identity_jira_holds_the_same_requests(tmp_path: Path) -> None:
    clock = Clock(NOW)
    gh_state = GitHubState(now=clock)
    month = seed_mod.seed_month(gh_state, SlackState(now=clock), NOW)
    jira_state = JiraState(now=clock)
    seeded = seed_identity_jira(jira_state, SlackState(now=clock), NOW)
    assert [r.key for r in seeded.month.requests] == [r.key for r in month.requests]
    gh_emu, jira_emu = GitHubEmulator(gh_state, now=clock).start(), JiraEmulator(jira_state, now=clock).start()
    try:
        gh_items, gh_events = _read(GitHubSource(Settings(
            db=tmp_path / "a.sqlite", github={"token": GITHUB_TOKEN, "base_url": gh_emu.url,
                                              "repos": [seed_mod.SUPPORT_REPO], "label": seed_mod.LABEL}),
            clock=clock, sleep=lambda _s: None))
        jira_items, jira_events = _read(JiraSource(Settings(
            db=tmp_path / "b.sqlite", jira={"base_url": jira_emu.origin, "email": JIRA_EMAIL, "api_token": JIRA_TOKEN,
                                            "project": "ID", "page_size": 100}), clock=clock, sleep=lambda _s: None))
    finally:
        gh_emu.stop()
        jira_emu.stop()
    assert len(seeded.issue_of) == len(gh_items) > 30
    assert len(jira_items) == len(gh_items)
    for gh_id, key in seeded.issue_of.items():
        gh, jira = gh_items[gh_id], jira_items[f"jira:127.0.0.1/{key}"]
        where = f"{gh_id} / {key}"
        assert jira.title == gh.title, where
        assert jira.state == gh.state and jira.state_reason == gh.state_reason, where
        # Jira has one assignee: the latest of the GitHub issue's (a handover keeps both there).
        assert set(jira.assignees) <= {account_of(a) for a in gh.assignees}, where
        assert bool(jira.assignees) == bool(gh.assignees), where
        assert jira.links == gh.links, where
        assert jira.raw["pending"] == (seed_mod.PENDING_LABEL in gh.labels), where
        assert (jira.raw["status"] == "Backlog") == (seed_mod.BACKLOG_LABEL in gh.labels and gh.state == "open"), where
        gh_comments = [e for e in gh_events if e.item_id == gh_id and e.kind is EventKind.COMMENT]
        jira_comments = [e for e in jira_events if e.item_id == jira.id and e.kind is EventKind.COMMENT]
        assert [e.at for e in jira_comments] == [e.at for e in gh_comments], where
        assert [e.actor_id for e in jira_comments] == [account_of(str(e.actor_id)) for e in gh_comments], where
