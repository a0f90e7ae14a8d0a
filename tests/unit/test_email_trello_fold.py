"""How email threads and Trello cards fold into requests, and email state actions kept exactly
once in idqueue's database (pure assembly; a temp store; the writer with no SMTP involved)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from idqueue.config import Settings
from idqueue.domain.actions import Action, ActionKind, ActionState
from idqueue.domain.assemble import assemble, make_assembler
from idqueue.domain.homes import TeamIndex
from idqueue.domain.models import EventKind, Person, SourceItem, SourceKind, Status, TimelineEvent
from idqueue.integrations.base import ConflictError
from idqueue.integrations.email.local_state import state_uid
from idqueue.integrations.email.planner import markdown_to_plain
from idqueue.integrations.email.writer import EmailWriter
from idqueue.integrations.registry import rulebook
from idqueue.store.db import Store

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
SUPPORT = "support@madetech.example"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db=tmp_path / "q.db", now="2026-03-11T15:30:00Z",
                    team={"nick": {"name": "Nick Wood", "email": "Nick.Wood@MadeTech.example"}},
                    email={"address": SUPPORT, "imap_host": "127.0.0.1", "smtp_host": "127.0.0.1"})


def _mail(mid: str = "m1@acme.example", at: datetime = NOW - timedelta(hours=5)) -> SourceItem:
    return SourceItem(id=f"email:{mid}", source=SourceKind("email"), title="Help", body="Please help",
                      url=f"mid:{mid}", created_at=at, updated_at=at,
                      requester=Person(id="jane@acme.example", name="Jane"), raw={"from": "jane@acme.example"})


def _card(links: list[str], state: str = "Up next") -> SourceItem:
    return SourceItem(id="trello:c1", source=SourceKind("trello"), title="Help", body="card",
                      url="https://trello.com/c/abc/1-help", created_at=NOW - timedelta(hours=2),
                      updated_at=NOW - timedelta(hours=1), requester=None, state="open", links=links,
                      raw={"backlog_state": state})


def _reply(actor: str, at: datetime, uid: str = "email-msg:r1") -> TimelineEvent:
    return TimelineEvent(uid=uid, item_id="email:m1@acme.example", kind=EventKind.MESSAGE, at=at, actor_id=actor,
                         actor_name=actor, body="On it", url=None, source=SourceKind("email"))


def test_roster_email_matches_case_insensitively(settings: Settings) -> None:
    rules = rulebook(settings)
    team = TeamIndex(settings, rules.rules)
    assert team.member("nick.wood@madetech.example") == "nick"
    request = assemble([_mail()], [_reply("nick.wood@madetech.example", NOW - timedelta(hours=4))], {},
                       settings=settings, now=NOW, rules=rules)
    assert request.first_response_at == NOW - timedelta(hours=4)
    assert request.requester is not None and request.requester.id == "jane@acme.example"
    assert request.source == "email"


def test_the_support_address_is_the_team_and_the_requester_is_not(settings: Settings) -> None:
    rules = rulebook(settings)
    own = assemble([_mail()], [_reply("jane@acme.example", NOW - timedelta(hours=4), "email-msg:r0"),
                               _reply(SUPPORT, NOW - timedelta(hours=3))], {}, settings=settings, now=NOW, rules=rules)
    assert own.first_response_at == NOW - timedelta(hours=3)
    assert own.status is Status.ACKNOWLEDGED


def test_a_card_folds_into_its_request_and_never_stands_alone(settings: Settings) -> None:
    rules = rulebook(settings)
    alone = assemble([_card(["email:m1@acme.example"])], [], {}, settings=settings, now=NOW, rules=rules)
    assert not alone.listed
    both = assemble([_card(["email:m1@acme.example"]), _mail()], [], {}, settings=settings, now=NOW, rules=rules)
    assert both.listed and both.id == "email:m1@acme.example" and both.source == "email"
    assert both.links["trello"] == "https://trello.com/c/abc/1-help"
    assert both.backlog_state == "Up next"


def test_a_card_only_group_is_kept_but_not_listed(settings: Settings) -> None:
    store = Store.open(settings.db)
    assembler = make_assembler(settings, NOW, rules=rulebook(settings))
    store.apply("trello", items=[_card(["email:m1@acme.example"])], assembler=assembler, now=NOW)
    assert store.list_requests(now=NOW) == []
    store.apply("email", items=[_mail()], assembler=assembler, now=NOW)
    [request] = store.list_requests(now=NOW)
    assert request.id == "email:m1@acme.example" and request.backlog_state == "Up next"
    assert store.get_request(request.id) is not None and store.get_request(request.id).backlog_state == "Up next"  # type: ignore[union-attr]
    store.close()


def test_markdown_becomes_plain_text() -> None:
    assert markdown_to_plain("See the [backlog card](https://t.example/c/1) **now**.") == \
        "See the backlog card (https://t.example/c/1) now."
    assert markdown_to_plain("[https://x.example](https://x.example)") == "https://x.example"


def _action(kind: ActionKind, **params: object) -> Action:
    return Action(id="a1b2c3d4e5f6", request_id="email:m1@acme.example", kind=kind, target="email",
                  params={"item": "email:m1@acme.example", "actor": "nick", **params}, text=None,
                  state=ActionState.SENDING, attempts=1, last_error=None, next_attempt_at=None, created_at=NOW,
                  sent_at=None, group_id="g1", summary="")


def test_a_state_action_is_recorded_once_and_found_on_retry(settings: Settings) -> None:
    store = Store.open(settings.db)
    store.apply("email", items=[_mail()], assembler=make_assembler(settings, NOW, rules=rulebook(settings)), now=NOW)
    writer = EmailWriter(settings, clock=lambda: NOW)
    action = _action(ActionKind.ASSIGN, assignee="nick", check={"assignee": None, "status": "open"})
    assert writer.reconcile(action, since=NOW) is None  # no store bound: nothing to look in
    writer.bind_store(store)
    assert writer.reconcile(action, since=NOW) is None
    result = writer.send(action, maybe_sent=False)
    assert result["event"] == state_uid(action)
    # A crash before the outbox recorded "sent": the retry finds the event instead of writing again.
    assert writer.reconcile(action, since=NOW) == result
    request = store.get_request("email:m1@acme.example")
    assert request is not None and request.assignee == "nick" and request.status is Status.ASSIGNED
    assert [e.kind for e in store.timeline(request.id)].count(EventKind.ASSIGNED) == 1
    # Someone else changed it since this close was queued: a conflict, nothing recorded.
    stale = _action(ActionKind.CLOSE, check={"assignee": None, "status": "open"}, reason="closed: completed")
    stale.id = "f0f0f0f0f0f0"
    with pytest.raises(ConflictError):
        writer.send(stale, maybe_sent=False)
    assert store.get_request(request.id).status is Status.ASSIGNED  # type: ignore[union-attr]
    store.close()
