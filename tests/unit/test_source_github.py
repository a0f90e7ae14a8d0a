"""GitHub source: pure converters on recorded payloads (no network).

The payloads follow GitHub's official examples (``tests/specs/github-issues.openapi.json``,
examples ``issue``, ``issue-items``, ``issue-comment``), trimmed to the fields that matter.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from idqueue.config import GitHubConfig, Settings, SlaConfig
from idqueue.domain.models import EventKind
from idqueue.integrations.github.api import clamp_wait
from idqueue.integrations.github.convert import (
    comment_to_event,
    issue_event_to_events,
    issue_to_item,
    parse_marker,
    slack_links,
)
from idqueue.integrations.github.cursor import months_before
from idqueue.integrations.github.rules import comment_on_pull_request, is_pull_request

REPO = "octocat/Hello-World"


def _user(login: str = "octocat", *, kind: str = "User") -> dict[str, Any]:
    return {
        "login": login,
        "id": 1,
        "node_id": "MDQ6VXNlcjE=",
        "avatar_url": "https://github.com/images/error/octocat_happy.gif",
        "url": f"https://api.github.com/users/{login}",
        "html_url": f"https://github.com/{login}",
        "type": kind,
        "site_admin": False,
    }


# Recorded from the official "issue" example (labels/assignees/milestone trimmed).
ISSUE: dict[str, Any] = {
    "id": 1,
    "node_id": "MDU6SXNzdWUx",
    "url": "https://api.github.com/repos/octocat/Hello-World/issues/1347",
    "repository_url": "https://api.github.com/repos/octocat/Hello-World",
    "html_url": "https://github.com/octocat/Hello-World/issues/1347",
    "number": 1347,
    "state": "open",
    "title": "Found a bug",
    "body": "I'm having a problem with this.",
    "user": _user(),
    "labels": [
        {"id": 208045946, "name": "bug", "color": "f29513", "default": True, "description": "Something isn't working"}
    ],
    "assignee": _user(),
    "assignees": [_user(), _user("hubot")],
    "milestone": None,
    "locked": True,
    "active_lock_reason": "too heated",
    "comments": 0,
    "closed_at": None,
    "created_at": "2011-04-22T13:33:48Z",
    "updated_at": "2011-04-22T13:33:48Z",
    "closed_by": None,
    "author_association": "COLLABORATOR",
    "state_reason": None,
}

# The "issue-items" example is a pull request listed as an issue.
PULL_REQUEST: dict[str, Any] = {
    **ISSUE,
    "number": 1348,
    "id": 2,
    "html_url": "https://github.com/octocat/Hello-World/pull/1348",
    "pull_request": {
        "url": "https://api.github.com/repos/octocat/Hello-World/pulls/1348",
        "html_url": "https://github.com/octocat/Hello-World/pull/1348",
        "diff_url": "https://github.com/octocat/Hello-World/pull/1348.diff",
        "patch_url": "https://github.com/octocat/Hello-World/pull/1348.patch",
    },
}

# The official "issue-comment" example.
COMMENT: dict[str, Any] = {
    "id": 1,
    "node_id": "MDEyOklzc3VlQ29tbWVudDE=",
    "url": "https://api.github.com/repos/octocat/Hello-World/issues/comments/1",
    "html_url": "https://github.com/octocat/Hello-World/issues/1347#issuecomment-1",
    "body": "Me too",
    "user": _user(),
    "created_at": "2011-04-14T16:00:49Z",
    "updated_at": "2011-04-14T16:00:49Z",
    "issue_url": "https://api.github.com/repos/octocat/Hello-World/issues/1347",
    "author_association": "COLLABORATOR",
}


def _event(event: str, **extra: Any) -> dict[str, Any]:
    """A repo-wide issue event (``GET /repos/{o}/{r}/issues/events``)."""
    data: dict[str, Any] = {
        "id": 6430295168,
        "node_id": "LOE_lADODwFebM5HwC0kzwAAAAF_RoSA",
        "url": "https://api.github.com/repos/octocat/Hello-World/issues/events/6430295168",
        "actor": _user("ana-reyes"),
        "event": event,
        "commit_id": None,
        "commit_url": None,
        "created_at": "2024-04-05T12:00:00Z",
        "performed_via_github_app": None,
        "issue": copy.deepcopy(ISSUE),
    }
    data.update(extra)
    return data


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    for key in ("IDQUEUE_CONFIG_FILE", "IDQUEUE_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN",
                "IDQUEUE_GITHUB_REPOS", "IDQUEUE_GITHUB_LABEL", "IDQUEUE_NOW"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return Settings(
        github=GitHubConfig(repos=[REPO], bot_logins=["intake-bot"], backlog_label="backlog"),
        sla=SlaConfig(pending_labels=["pending", "waiting-on-requester"]),
    )


# --------------------------------------------------------------------------- issues


def test_issue_to_item_maps_every_field(settings: Settings) -> None:
    item = issue_to_item(ISSUE, REPO, settings)
    assert item.id == "gh:octocat/Hello-World#1347"
    assert item.source == "github"
    assert item.title == "Found a bug"
    assert item.body == "I'm having a problem with this."
    assert item.url == "https://github.com/octocat/Hello-World/issues/1347"
    assert item.created_at == datetime(2011, 4, 22, 13, 33, 48, tzinfo=UTC)
    assert item.updated_at == item.created_at
    assert item.requester is not None
    assert (item.requester.id, item.requester.name, item.requester.is_bot) == ("octocat", "octocat", False)
    assert item.state == "open" and item.state_reason is None and item.closed_at is None
    assert item.assignees == ["octocat", "hubot"]
    assert item.labels == ["bug"]
    assert item.links == []
    assert item.raw == {"number": 1347, "repo": REPO, "comments": 0, "author_association": "COLLABORATOR"}


def test_closed_issue_and_null_body(settings: Settings) -> None:
    raw = {**ISSUE, "state": "closed", "state_reason": "not_planned", "closed_at": "2011-04-23T10:00:00Z",
           "body": None, "updated_at": "2011-04-23T10:00:00Z"}
    item = issue_to_item(raw, REPO, settings)
    assert item.body == ""
    assert item.state == "closed"
    assert item.state_reason == "not_planned"
    assert item.closed_at == datetime(2011, 4, 23, 10, tzinfo=UTC)
    assert item.updated_at > item.created_at


def test_bot_requester_by_type_or_configured_login(settings: Settings) -> None:
    by_type = issue_to_item({**ISSUE, "user": _user("va-bot[bot]", kind="Bot")}, REPO, settings)
    by_login = issue_to_item({**ISSUE, "user": _user("intake-bot")}, REPO, settings)
    human = issue_to_item(ISSUE, REPO, settings)
    assert by_type.requester is not None and by_type.requester.is_bot
    assert by_login.requester is not None and by_login.requester.is_bot
    assert human.requester is not None and not human.requester.is_bot


def test_issue_body_slack_permalinks_become_links(settings: Settings) -> None:
    body = (
        "Requested in Slack: https://dsva.slack.com/archives/C0123ABC/p1712345678000100\n"
        "Same again <https://dsva.slack.com/archives/C0123ABC/p1712345678000100|thread>\n"
        "and a reply: https://dsva.slack.com/archives/C0999/p1712345999000200?thread_ts=1712345000.000300&cid=C0999"
    )
    item = issue_to_item({**ISSUE, "body": body}, REPO, settings)
    assert item.links == ["slack:C0123ABC/1712345678.000100", "slack:C0999/1712345000.000300"]


def test_pull_requests_are_recognised() -> None:
    assert is_pull_request(PULL_REQUEST)
    assert not is_pull_request(ISSUE)
    assert not is_pull_request({**ISSUE, "pull_request": None})


# --------------------------------------------------------------------------- links and markers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://ws.slack.com/archives/C0123/p1712345678000100", ["slack:C0123/1712345678.000100"]),
        # Trailing zeros are identity: the ts stays a string, never a float.
        ("https://ws.slack.com/archives/C1/p1712345678000010", ["slack:C1/1712345678.000010"]),
        ("https://ws.enterprise.slack.com/archives/G0PRIV/p1700000000123456", ["slack:G0PRIV/1700000000.123456"]),
        ("(see https://ws.slack.com/archives/C0123/p1712345678000100).", ["slack:C0123/1712345678.000100"]),
        ("https://github.com/o/r/issues/1 and https://example.org/archives/C1/p1712345678000100", []),
        ("", []),
    ],
)
def test_slack_links(text: str, expected: list[str]) -> None:
    assert slack_links(text) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Thanks!", {}),
        ("On it.\n<!-- idqueue:action=a1b2 -->", {"idqueue_action": "a1b2"}),
        ("Created.\n<!-- idqueue:action=42 automation=1 -->", {"idqueue_action": "42", "idqueue_automation": True}),
        ("<!--idqueue:action=x-1 actor=ana automation=0-->", {"idqueue_action": "x-1", "idqueue_actor": "ana"}),
        ("<!-- something else -->", {}),
    ],
)
def test_parse_marker(body: str, expected: dict[str, Any]) -> None:
    assert parse_marker(body) == expected


# --------------------------------------------------------------------------- comments


def test_comment_to_event(settings: Settings) -> None:
    ev = comment_to_event(COMMENT, REPO, settings)
    assert ev.uid == "gh-comment:1"
    assert ev.item_id == "gh:octocat/Hello-World#1347"
    assert ev.kind is EventKind.COMMENT
    assert ev.at == datetime(2011, 4, 14, 16, 0, 49, tzinfo=UTC)
    assert (ev.actor_id, ev.actor_name) == ("octocat", "octocat")
    assert ev.body == "Me too"
    assert ev.url == "https://github.com/octocat/Hello-World/issues/1347#issuecomment-1"
    assert ev.source == "github"
    assert ev.is_bot is False
    assert ev.data == {"edited": False}


def test_edited_bot_comment_with_marker(settings: Settings) -> None:
    raw = {
        **COMMENT,
        "id": 99,
        "updated_at": "2011-04-14T17:00:00Z",
        "user": _user("github-actions[bot]", kind="Bot"),
        "body": "Your request was created.\n\n<!-- idqueue:action=7f3a automation=1 -->",
    }
    ev = comment_to_event(raw, REPO, settings)
    assert ev.is_bot
    assert ev.data == {"edited": True, "idqueue_action": "7f3a", "idqueue_automation": True}
    configured = comment_to_event({**COMMENT, "user": _user("intake-bot")}, REPO, settings)
    assert configured.is_bot


def test_pull_request_comment_is_recognised() -> None:
    pr_comment = {**COMMENT, "html_url": "https://github.com/octocat/Hello-World/pull/1348#issuecomment-5"}
    assert comment_on_pull_request(pr_comment)
    assert not comment_on_pull_request(COMMENT)


def test_comment_without_issue_url_is_rejected(settings: Settings) -> None:
    with pytest.raises(ValueError):
        comment_to_event({**COMMENT, "issue_url": None}, REPO, settings)


# --------------------------------------------------------------------------- issue events


def test_assignment_events(settings: Settings) -> None:
    [assigned] = issue_event_to_events(_event("assigned", assignee=_user("ben-okafor")), REPO, settings)
    assert assigned.uid == "gh-event:6430295168"
    assert assigned.kind is EventKind.ASSIGNED
    assert assigned.item_id == "gh:octocat/Hello-World#1347"
    assert assigned.data == {"assignee": "ben-okafor"}
    assert assigned.actor_id == "ana-reyes"
    assert assigned.at == datetime(2024, 4, 5, 12, tzinfo=UTC)
    assert assigned.url == "https://github.com/octocat/Hello-World/issues/1347#event-6430295168"
    [unassigned] = issue_event_to_events(_event("unassigned", assignee=_user("ben-okafor")), REPO, settings)
    assert unassigned.kind is EventKind.UNASSIGNED


def test_label_events_and_pending(settings: Settings) -> None:
    plain = issue_event_to_events(_event("labeled", label={"name": "bug", "color": "f00"}), REPO, settings)
    assert [(e.uid, e.kind, e.data) for e in plain] == [
        ("gh-event:6430295168", EventKind.LABELED, {"label": "bug"})
    ]
    pending = issue_event_to_events(_event("labeled", label={"name": "Waiting-On-Requester"}), REPO, settings)
    assert [(e.uid, e.kind) for e in pending] == [
        ("gh-event:6430295168", EventKind.LABELED),
        ("gh-event:6430295168:pending", EventKind.PENDING),
    ]
    resumed = issue_event_to_events(_event("unlabeled", label={"name": "pending"}), REPO, settings)
    assert [(e.uid, e.kind) for e in resumed] == [
        ("gh-event:6430295168", EventKind.UNLABELED),
        ("gh-event:6430295168:pending", EventKind.RESUMED),
    ]


def test_removing_the_filter_label_flags_the_unlabeled_event(settings: Settings) -> None:
    labelled = settings.model_copy(update={"github": settings.github.model_copy(update={"label": "Identity"})})
    [removed] = issue_event_to_events(_event("unlabeled", label={"name": "identity"}), REPO, labelled)
    assert removed.data == {"label": "identity", "filter_label_removed": True}
    [other] = issue_event_to_events(_event("unlabeled", label={"name": "bug"}), REPO, labelled)
    assert other.data == {"label": "bug"}
    [added] = issue_event_to_events(_event("labeled", label={"name": "Identity"}), REPO, labelled)
    assert added.data == {"label": "Identity"}
    # Without a filter label, no label removal retires an issue.
    [plain] = issue_event_to_events(_event("unlabeled", label={"name": "identity"}), REPO, settings)
    assert plain.data == {"label": "identity"}


def test_backlog_label_gives_backlog_event(settings: Settings) -> None:
    events = issue_event_to_events(_event("labeled", label={"name": "backlog"}), REPO, settings)
    assert [(e.uid, e.kind) for e in events] == [
        ("gh-event:6430295168", EventKind.LABELED),
        ("gh-event:6430295168:backlog", EventKind.BACKLOG),
    ]
    removed = issue_event_to_events(_event("unlabeled", label={"name": "backlog"}), REPO, settings)
    assert [e.kind for e in removed] == [EventKind.UNLABELED]


def test_close_and_reopen_events(settings: Settings) -> None:
    [closed] = issue_event_to_events(_event("closed", state_reason="not_planned"), REPO, settings)
    assert closed.kind is EventKind.CLOSED and closed.data == {"state_reason": "not_planned"}
    [reopened] = issue_event_to_events(_event("reopened"), REPO, settings)
    assert reopened.kind is EventKind.REOPENED


@pytest.mark.parametrize("name", ["mentioned", "subscribed", "referenced", "renamed", "milestoned"])
def test_other_events_are_ignored(settings: Settings, name: str) -> None:
    assert issue_event_to_events(_event(name), REPO, settings) == []


def test_bot_actor_events(settings: Settings) -> None:
    [ev] = issue_event_to_events(_event("closed", actor=_user("stale[bot]", kind="Bot")), REPO, settings)
    assert ev.is_bot


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (datetime(2026, 3, 11, 15, 30, tzinfo=UTC), 13, datetime(2025, 2, 11, 15, 30, tzinfo=UTC)),
        (datetime(2026, 3, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2024, 3, 31, tzinfo=UTC), 1, datetime(2024, 2, 29, tzinfo=UTC)),
        (datetime(2026, 1, 15, tzinfo=UTC), 12, datetime(2025, 1, 15, tzinfo=UTC)),
    ],
)
def test_months_before(moment: datetime, months: int, expected: datetime) -> None:
    assert months_before(moment, months) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7.0), ("0", 1.0), ("-3", 1.0), ("soon", 1.0), ("", 1.0), ("nan", 1.0), (2.5, 2.5), (None, 1.0)],
)
def test_clamp_wait_never_hot_loops(value: Any, expected: float) -> None:
    assert clamp_wait(value) == expected


# --------------------------------------------------------------------------- the official examples


def _spec_examples() -> dict[str, Any]:
    path = Path(__file__).resolve().parents[1] / "specs" / "github-issues.openapi.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return dict(data["components"]["examples"])


def test_official_examples_convert(settings: Settings) -> None:
    examples = _spec_examples()
    issue = examples["issue"]["value"]
    item = issue_to_item(issue, REPO, settings)
    assert item.id == f"gh:{REPO}#{issue['number']}"
    assert item.labels == [label["name"] for label in issue["labels"]]
    # The list example is a pull request: the adapter must not queue it.
    assert all(is_pull_request(row) for row in examples["issue-items"]["value"])
    comment = examples["issue-comment"]["value"]
    ev = comment_to_event(comment, REPO, settings)
    assert ev.uid == f"gh-comment:{comment['id']}" and ev.body == comment["body"]
