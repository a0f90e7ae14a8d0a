"""How a Jira issue folds into a request (pure: items and events in, a request out)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from idqueue.config import Settings, TeamMember
from idqueue.domain.assemble import make_assembler
from idqueue.domain.models import (
    EventKind,
    Person,
    Request,
    SourceItem,
    SourceKind,
    Status,
    TimelineEvent,
)
from idqueue.integrations import registry
from idqueue.integrations.jira.convert import history_to_events
from idqueue.integrations.jira.planner import flatten_markdown, parse_jira_id

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
ID = "jira:site.example/ID-7"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db=tmp_path / "q.db", now=NOW.isoformat(),
                    team={"ana": TeamMember(name="Ana Reyes", slack="U0ANA", jira="acc-ana")})


def _item(**raw: Any) -> SourceItem:
    state = "closed" if raw.get("status_category") == "done" else "open"
    fields: dict[str, Any] = {"labels": raw.pop("labels", []), "assignees": raw.pop("assignees", [])}
    return SourceItem(id=ID, source=SourceKind("jira"), title="Cannot sign in", body="Sign-in fails on staging.",
                      url="https://site.example/browse/ID-7", created_at=NOW - timedelta(hours=3),
                      updated_at=NOW - timedelta(hours=1), requester=Person("cust-1", "Marcus Lee"), state=state,
                      closed_at=NOW - timedelta(hours=1) if state == "closed" else None,
                      raw={"status": "Open", "status_category": "new", "pending": False, "priority": "Medium", **raw},
                      **fields)


def _comment(kind: EventKind, actor: str, minutes: int) -> TimelineEvent:
    return TimelineEvent(uid=f"jira-comment:site.example/{minutes}", item_id=ID, kind=kind,
                         at=NOW - timedelta(hours=3) + timedelta(minutes=minutes), actor_id=actor, actor_name=actor,
                         body="Looking", url=None, source=SourceKind("jira"), is_bot=False, data={})


def _fold(settings: Settings, item: SourceItem, events: list[TimelineEvent] | None = None) -> Request:
    return make_assembler(settings, NOW, rules=registry.rulebook(settings))([item], events or [], {})


@pytest.mark.parametrize(("raw", "status"), [
    ({}, Status.NEW),
    ({"status": "Resolved", "status_category": "done", "resolution": "Done"}, Status.CLOSED),
    ({"status": "Waiting for customer", "status_category": "indeterminate", "pending": True}, Status.PENDING),
    ({"status": "Backlog"}, Status.BACKLOG),
    ({"status": "In Progress", "status_category": "indeterminate", "assignees": ["acc-ana"]}, Status.ASSIGNED),
])
def test_status_from_the_status_and_its_category(settings: Settings, raw: dict[str, Any], status: Status) -> None:
    request = _fold(settings, _item(**raw))
    assert request.status is status
    assert request.source == "jira"


def test_assignee_by_account_id_is_the_roster_key(settings: Settings) -> None:
    assert _fold(settings, _item(assignees=["acc-ana"])).assignee == "ana"
    assert _fold(settings, _item(assignees=["acc-stranger"])).assignee == "acc-stranger"


def test_internal_notes_are_never_a_response(settings: Settings) -> None:
    note = _fold(settings, _item(), [_comment(EventKind.NOTE, "acc-ana", 10)])
    assert note.first_response_at is None
    reply = _fold(settings, _item(), [_comment(EventKind.NOTE, "acc-ana", 10), _comment(EventKind.COMMENT, "acc-ana", 20)])
    assert reply.first_response_at == NOW - timedelta(hours=3) + timedelta(minutes=20)


@pytest.mark.parametrize(("name", "chosen", "label"), [
    ("Highest", None, "priority:P1"), ("High", None, "priority:P2"), ("Low", None, "priority:P4"),
    ("Medium", None, None), ("Custom", None, None),
    # Jira's default is P3 only when idqueue recorded choosing it (the idqueue.priority property),
    # and only while the issue still has that priority.
    ("Medium", "Medium", "priority:P3"), ("Medium", "High", None), ("High", "Medium", "priority:P2"),
])
def test_a_chosen_priority_is_a_priority_label(settings: Settings, name: str, chosen: str | None,
                                               label: str | None) -> None:
    request = _fold(settings, _item(priority=name, chosen_priority=chosen, labels=["mfa"]))
    assert request.labels == ["mfa", *([label] if label else [])]
    if label:
        assert request.priority == label.split(":")[1] and "label priority:" in request.priority_reason


def test_markdown_is_flattened_for_jira() -> None:
    assert flatten_markdown("Take our [survey](https://example.org/s) **today**") == \
        "Take our survey (https://example.org/s) today"
    assert flatten_markdown("[https://x.example/a](https://x.example/a)") == "https://x.example/a"
    assert parse_jira_id(ID) == ("site.example", "ID-7")
    with pytest.raises(ValueError):
        parse_jira_id("gh:a/b#1")


def test_an_issue_of_the_backlog_project_is_backlog_until_done(settings: Settings) -> None:
    settings = settings.model_copy(update={"jira": settings.jira.model_copy(
        update={"project": "ID", "backlog_project": "IDB"})})
    assert _fold(settings, _item(key="IDB-3", status="Open")).status is Status.BACKLOG
    assert _fold(settings, _item(key="ID-3", status="Open")).status is Status.NEW
    done = _item(key="IDB-3", status="Done", status_category="done", resolution="Done")
    assert _fold(settings, done).status is Status.CLOSED


def test_a_priority_change_is_the_labels_event(settings: Settings) -> None:
    entry = {"id": "9", "created": "2026-03-11T12:00:00.000+0000", "author": {"accountId": "acc-ana"},
             "items": [{"field": "priority", "fieldId": "priority", "fromString": "Medium", "toString": "Highest"}]}
    events = history_to_events(entry, ID, "site.example", settings)
    assert [(e.kind, e.data["label"]) for e in events] == [(EventKind.LABELED, "priority:P1")]
    again = {**entry, "id": "10", "items": [{"field": "priority", "fromString": "Highest", "toString": "Low"}]}
    assert [(e.kind, e.data["label"]) for e in history_to_events(again, ID, "site.example", settings)] == [
        (EventKind.UNLABELED, "priority:P1"), (EventKind.LABELED, "priority:P4")]
    # The manual priority counts from its event: the SLA clock before it ran on the rules' priority.
    request = _fold(settings, _item(priority="Highest"), events)
    assert request.priority == "P1"


def _slack_item(links: list[str]) -> SourceItem:
    return SourceItem(id="slack:C1/1700000000.000100", source=SourceKind("slack"), title="Need a test user",
                      body="Please add a test user", url="https://ws.slack.com/archives/C1/p1700000000000100",
                      created_at=NOW - timedelta(hours=5), updated_at=NOW - timedelta(hours=5),
                      requester=Person("U0REQ", "Marcus Lee"), state="open", links=links)


def _backlogged_event() -> TimelineEvent:
    return TimelineEvent(uid="slack-backlog:1", item_id="slack:C1/1700000000.000100", kind=EventKind.BACKLOG,
                         at=NOW - timedelta(hours=4), actor_id="U0ANA", actor_name="Ana Reyes", body="",
                         url=None, source=SourceKind("slack"), is_bot=False, data={})


@pytest.mark.parametrize(("raw", "state"), [
    ({"status": "Backlog"}, "Backlog"),
    ({"status": "In Progress", "status_category": "indeterminate"}, "In Progress"),
    ({"status": "Done", "status_category": "done", "resolution": "Done"}, "Done"),
    ({"status": "Closed", "status_category": "done", "resolution": "Won't Do"}, "Closed (Won't Do)"),
])
def test_a_backlog_item_shows_its_status_and_never_leads(settings: Settings, raw: dict[str, Any], state: str) -> None:
    backlog = _item(backlog_item=True, key="IDB-3", priority="Highest", labels=["infra"], assignees=["acc-ben"], **raw)
    slack = _slack_item([backlog.id])
    request = make_assembler(settings, NOW, rules=registry.rulebook(settings))(
        [backlog, slack], [_backlogged_event()], {})
    assert request.id == slack.id and request.source == "slack" and request.sources == ["slack", "jira"]
    assert request.status is Status.BACKLOG, "the Slack request is never closed by its backlog issue"
    assert request.backlog_state == state
    assert request.links["jira"] == backlog.url
    assert request.assignee is None and "infra" not in request.labels and request.priority != "P1"
    assert request.listed


def test_a_backlog_item_alone_is_not_a_request(settings: Settings) -> None:
    assert not _fold(settings, _item(backlog_item=True, key="IDB-3")).listed
    assert _fold(settings, _item(key="ID-7")).listed
