"""A request's homes come from the registry: a system idqueue has never heard of, registered with
its descriptor only (the generic fold rules), assembles, shows in the queue, in ``list --json``
and in the report's breakdown by source — no code outside its registry entry names it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from idqueue.cli import cli
from idqueue.commands.base import Context
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
from idqueue.integrations.registry import Integration
from idqueue.store.db import Store
from idqueue.widgets.rows import make_row, source_text

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)

TOY = Integration(
    name="toy",
    display="Toy Tracker",
    code="TY",
    id_prefix="toy:",
    home_noun="Toy ticket",
    roster_field="email",  # the tracker knows people by e-mail address
    configured=lambda _settings: False,
    writable=lambda _settings: False,
)


@pytest.fixture
def toy() -> Iterator[Integration]:
    with registry.registered(TOY) as integration:
        yield integration


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        db=tmp_path / "q.db",
        now=NOW.isoformat(),
        team={"ana": TeamMember(name="Ana Reyes", github="ana-reyes", slack="U0ANA", email="ana@example.org")},
    )


def toy_item(n: int, *, assignees: tuple[str, ...] = (), state: str = "open", links: tuple[str, ...] = (),
             system: str = "toy") -> SourceItem:
    created = NOW - timedelta(hours=n)
    return SourceItem(
        id=f"{system}:T-{n}", source=SourceKind(system), title=f"Toy ticket {n}", body="Cannot sign in.",
        url=f"https://toy.example/T-{n}", created_at=created, updated_at=created,
        requester=Person("rita@example.org", "Rita Requester"), state=state, assignees=list(assignees),
        links=list(links),
    )


def gh_item(n: int, *, links: tuple[str, ...] = ()) -> SourceItem:
    created = NOW - timedelta(hours=2)
    return SourceItem(
        id=f"gh:va/support#{n}", source=SourceKind("github"), title="Issue filed for the ticket", body="",
        url=f"https://github.com/va/support/issues/{n}", created_at=created, updated_at=created,
        requester=Person("intake-bot", "intake-bot"), links=list(links),
    )


def build(settings: Settings, items: list[SourceItem], events: list[TimelineEvent] | None = None) -> Request:
    return make_assembler(settings, NOW, rules=registry.rulebook(settings))(items, events or [], {})


def test_a_request_made_only_of_toy_items_assembles_with_the_generic_rules(
    toy: Integration, settings: Settings
) -> None:
    request = build(settings, [toy_item(3, assignees=("ana@example.org", "zed@example.org"))])
    assert (request.id, request.source, request.sources) == ("toy:T-3", "toy", ["toy"])
    assert request.links == {"toy": "https://toy.example/T-3"} and request.url == "https://toy.example/T-3"
    # Assignees map to roster keys through the system's roster field; the others stay as given.
    assert request.assignees == ["ana", "zed@example.org"]
    assert (request.status, request.status_reason) == (Status.ASSIGNED, "assigned to ana")
    assert request.requester is not None and request.requester.name == "Rita Requester"

    closed = build(settings, [toy_item(3, state="closed")])
    assert (closed.status, closed.resolved_at) == (Status.CLOSED, NOW - timedelta(hours=3))

    # Without assignees on the item, idqueue's own action events decide.
    at = NOW - timedelta(hours=1)
    events = [
        TimelineEvent("toy-ev:1", "toy:T-3", EventKind.ASSIGNED, at, data={"assignee": "ana"}),
        TimelineEvent("toy-ev:2", "toy:T-3", EventKind.BACKLOG, at + timedelta(minutes=1)),
    ]
    backlogged = build(settings, [toy_item(3)], events)
    assert (backlogged.status, backlogged.assignees) == (Status.BACKLOG, ["ana"])


def test_an_item_of_an_unregistered_system_still_assembles(settings: Settings) -> None:
    request = build(settings, [toy_item(1, system="jira")])
    assert (request.id, request.sources, request.status) == ("jira:T-1", ["jira"], Status.NEW)


def test_homes_follow_the_registry_order_and_the_column_shows_their_codes(
    toy: Integration, settings: Settings
) -> None:
    alone = build(settings, [toy_item(5)])
    assert source_text(alone) == make_row(alone, settings).source == "TY"
    # With a GitHub issue filed for it, GitHub (first in the registry) is the primary home and
    # keeps state; the toy's requester is the human who asked, the bot only filed the issue.
    both = build(settings, [toy_item(5, links=("gh:va/support#9",)), gh_item(9)])
    assert (both.id, both.sources) == ("gh:va/support#9", ["github", "toy"])
    assert source_text(both) == "GH+TY"
    assert set(both.links) == {"github", "toy"}
    assert [home.name for home, _ in registry.homes_of(both)] == ["github", "toy"]


def _store_with_toy_requests(settings: Settings) -> None:
    store = Store.open(settings.db)
    try:
        store.apply("toy", items=[toy_item(4), toy_item(6, state="closed")],
                    assembler=make_assembler(settings, NOW, rules=registry.rulebook(settings)), now=NOW)
    finally:
        store.close()


def _run(settings: Settings, *args: str) -> Any:
    ctx = Context()
    ctx.use_settings(settings)
    result = CliRunner().invoke(cli, list(args), obj=ctx)
    assert result.exit_code == 0, result.output
    return result


def test_toy_requests_in_list_json_and_the_source_filters(toy: Integration, settings: Settings) -> None:
    _store_with_toy_requests(settings)
    listed = json.loads(_run(settings, "list", "--json", "--all").stdout)
    assert {(i["id"], i["source"], tuple(i["sources"])) for i in listed} == {
        ("toy:T-4", "toy", ("toy",)), ("toy:T-6", "toy", ("toy",))
    }
    assert next(i for i in listed if i["id"] == "toy:T-4")["links"] == {"toy": "https://toy.example/T-4"}
    by_code = json.loads(_run(settings, "list", "--json", "--source", "ty").stdout)
    assert [i["id"] for i in by_code] == ["toy:T-4"]
    assert json.loads(_run(settings, "list", "--json", "--source", "github").stdout) == []
    searched = json.loads(_run(settings, "list", "--json", "--all", "--search", "source:toy").stdout)
    assert sorted(i["id"] for i in searched) == ["toy:T-4", "toy:T-6"]
    header, *lines = _run(settings, "list").stdout.splitlines()
    assert [line[header.index("SRC"):].split()[0] for line in lines] == ["TY"]


def test_an_unknown_source_is_one_line_naming_the_known_ones(toy: Integration, settings: Settings) -> None:
    ctx = Context()
    ctx.use_settings(settings)
    result = CliRunner().invoke(cli, ["list", "--source", "zendesk"], obj=ctx)
    assert result.exit_code == 2
    known = ", ".join(registry.names())
    assert result.stderr.strip() == f"idqueue: --source 'zendesk' is not one of: {known}"
    assert known.endswith(", toy")


def test_the_report_breaks_down_by_the_toy_source(toy: Integration, settings: Settings) -> None:
    _store_with_toy_requests(settings)
    report = json.loads(_run(settings, "report", "--month", "2026-03", "--format", "json").stdout)
    groups = {g["group"]: g["received"] for g in report["breakdowns"]["source"]}
    assert groups == {"toy": 2}


def test_the_last_message_from_outside_the_team(toy: Integration, settings: Settings) -> None:
    """What makes a read request unread: the requester's (or a stranger's) latest message, never
    the team's, a bot's, idqueue's own post or an internal note."""
    at = NOW - timedelta(hours=2)

    def message(n: int, actor: str, *, kind: EventKind = EventKind.COMMENT, **data: Any) -> TimelineEvent:
        return TimelineEvent(f"toy-c:{n}", "toy:T-3", kind, at + timedelta(minutes=n), actor_id=actor, data=data)

    team = [message(1, "rita@example.org"), message(2, "ana@example.org"), message(3, "ana@example.org")]
    assert build(settings, [toy_item(3)], team).last_outside_at == at + timedelta(minutes=1)
    stranger = [*team, message(4, "sam@example.org")]
    assert build(settings, [toy_item(3)], stranger).last_outside_at == at + timedelta(minutes=4)
    ours = [*team, message(5, "rita@example.org", kind=EventKind.NOTE),
            message(6, "rita@example.org", idqueue_automation=True),
            TimelineEvent("toy-c:7", "toy:T-3", EventKind.COMMENT, at + timedelta(minutes=7), actor_id="ci-bot",
                          is_bot=True)]
    assert build(settings, [toy_item(3)], ours).last_outside_at == at + timedelta(minutes=1)
    assert build(settings, [toy_item(3)]).last_outside_at is None
