"""The backlog card's parameters and text for a request (what the outbox queues for Trello)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from idqueue.config import Settings
from idqueue.domain.models import Person, Request, SourceKind
from idqueue.integrations.trello.backlog import NoBoard, card_plan, trello_safe

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)


def _settings(tmp_path: Path) -> Settings:
    return Settings(db=tmp_path / "db", team={"nick": {"name": "Nick Wood"}}, customers={
        "acme": {"name": "Acme Ltd", "domains": ["acme.com"], "trello_board": "https://trello.com/b/AbCd1234/acme"},
        "nob": {"name": "No Board Inc", "domains": ["nob.com"]},
    })


def _request() -> Request:
    return Request(
        id="email:CAF3@mail.acme.com", key="REQ-7", sources=[SourceKind("email")], title="Export\nfails  with 500",
        body="Hi @support-team,\nthe export fails.\n\n@nick can you look?", requester=Person("jane@acme.com", "Jane Doe"),
        links={"email": "https://mail.example.com/t/CAF3", "slack": "https://acme.slack.com/archives/C1/p1"},
    )


def test_card_for_a_customer_request(tmp_path: Path) -> None:
    plan = card_plan(_request(), _settings(tmp_path), customer="acme", actor="nick", now=NOW)
    assert plan.params == {
        "board": "AbCd1234", "list": "New Issues", "title": "Export fails with 500", "customer": "acme",
        "requester": "Jane Doe", "actor": "nick",
        "links": {"email": "https://mail.example.com/t/CAF3", "slack": "https://acme.slack.com/archives/C1/p1"},
    }
    assert plan.text.startswith("Moved to the backlog by Nick Wood on 2026-03-11.")
    assert "**Requested by:** Jane Doe" in plan.text and "**Customer:** Acme Ltd" in plan.text
    assert "**Email:** https://mail.example.com/t/CAF3" in plan.text
    assert "> Hi `@support-team`," in plan.text and "> `@nick` can you look?" in plan.text
    assert "Acme Ltd's Trello board (New Issues)" in plan.summary


@pytest.mark.parametrize(("customer", "message"), [(None, "has no customer"), ("ghost", "has no customer"),
                                                   ("nob", "customers.nob.trello_board")])
def test_no_board_says_what_to_configure(tmp_path: Path, customer: str | None, message: str) -> None:
    with pytest.raises(NoBoard, match=message):
        card_plan(_request(), _settings(tmp_path), customer=customer, actor=None, now=NOW)


def test_mentions_are_disarmed_but_mail_addresses_kept() -> None:
    assert trello_safe("ask @ana or ana@acme.com") == "ask `@ana` or ana@acme.com"
    assert trello_safe("a\nb", inline=True) == "a b"
