"""The consultancy desk end to end: the consultancy sandbox (loopback IMAP + SMTP + Trello) driven
through the CLI with the real clients: sync, list, reply over SMTP, backlog to the customer's
Trello board, the card's moves read back, and email state kept in idqueue's database."""

from __future__ import annotations

import email
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_env import sandbox_cli_env
from click.testing import CliRunner, Result

from idqueue.cli import Context, cli
from idqueue.integrations.trello.emulator import TCard
from idqueue.integrations.trello.marker import footer_of
from idqueue.sandbox.consultancy import ConsultancySandbox

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
SLOW = "email:perf-1@globex-health.example"
SSO = "email:sso-1@acme-rail.example"
WELSH = "email:html-1@globex-health.example"
NEVER = ("email:ooo-1@globex-health.example", "email:bounce-1@mx.madetech.example", "email:news-1@news.example")

pytestmark = pytest.mark.xdist_group("consultancy")


class Desk:
    """A running consultancy sandbox and a CLI pointed at it."""

    def __init__(self, sb: ConsultancySandbox, folder: Path, **extra: str | None) -> None:
        self.sb = sb
        self.env = {**sandbox_cli_env(sb, folder), **extra}

    def run(self, *args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(cli, list(args), env=self.env, obj=Context())
        assert result.exit_code == code, f"idqueue {' '.join(args)}:\n{result.output}"
        return result

    def listed(self) -> dict[str, dict[str, Any]]:
        rows = json.loads(self.run("list", "--json", "--all").stdout)
        return {row["id"]: row for row in rows}

    def sent(self, to: str) -> list[email.message.Message]:
        return [email.message_from_bytes(m.raw) for m in self.sb.mail.smtp.sent_to_outside() if to in m.rcpt_to]

    def cards(self, customer: str) -> list[TCard]:
        return list(self.sb.boards[customer].cards.values())


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    sb = ConsultancySandbox.start(now=NOW)
    try:
        yield Desk(sb, tmp_path)
    finally:
        sb.stop()


def _body(msg: email.message.Message) -> str:
    part = msg.get_payload(decode=True)
    assert isinstance(part, bytes)
    return part.decode(msg.get_content_charset() or "utf-8")


def test_desk_end_to_end(desk: Desk) -> None:
    desk.run("sync", "--once", "--quiet")
    rows = desk.listed()
    assert {r["source"] for r in rows.values()} == {"email"}
    assert len(rows) == 7 and all(i.startswith("email:") for i in rows)
    assert not set(NEVER) & set(rows)
    assert rows["email:csv-1@initech.example"]["first_response_at"] is not None  # the support address answered
    assert rows[WELSH]["links"]["trello"].startswith("https://trello.com/c/")
    assert rows[WELSH]["backlog_state"] == "Up next" and rows[WELSH]["status"] == "backlog"
    assert rows[SLOW]["status"] == "new"

    # Reply: one SMTP message in the requester's thread, exactly once.
    desk.run("reply", SLOW, "--template", "acknowledge")
    desk.run("outbox", "--send")
    desk.run("sync", "--once", "--quiet")
    replies = desk.sent("ana@globex-health.example")
    assert len(replies) == 1
    assert replies[0]["In-Reply-To"] == "<perf-1@globex-health.example>"
    assert "<perf-1@globex-health.example>" in replies[0]["References"]
    assert replies[0]["Subject"] == "Re: Appointments list is slow"
    assert "**" not in _body(replies[0]) and "](" not in _body(replies[0])  # plain text
    assert desk.listed()[SLOW]["status"] == "acknowledged"

    # Backlog: one card on the customer's board, linked to the request; the requester is told.
    before = len(desk.cards("acme"))
    desk.run("backlog", SSO)
    desk.run("outbox", "--send")
    new = [c for c in desk.cards("acme") if (footer_of(c.desc) or ("",))[0] == SSO]
    assert len(desk.cards("acme")) == before + 1 and len(new) == 1
    card = new[0]
    told = desk.sent("priya@acme-rail.example")
    assert len(told) == 1 and "the backlog card" in _body(told[0]) and card.short_link in _body(told[0])
    desk.run("sync", "--once", "--quiet")
    row = desk.listed()[SSO]
    assert row["status"] == "backlog" and row["links"]["trello"] == card.url
    assert row["backlog_state"] == "New Issues"
    assert "New Issues" in desk.run("show", SSO).stdout

    # The team moves the card: the next sync shows its list on the request.
    desk.sb.trello.state.move_card(card, "Up next")
    desk.run("sync", "--once", "--quiet")
    assert desk.listed()[SSO]["backlog_state"] == "Up next"
    assert len(desk.cards("acme")) == before + 1  # never created twice


def test_state_lives_in_the_database(desk: Desk) -> None:
    """Assign and close on email requests are recorded once, and survive re-syncs and restarts."""
    desk.run("sync", "--once", "--quiet")
    desk.run("assign", SLOW, "luke")
    desk.run("close", "email:booking-1@acme-rail.example")
    desk.run("outbox", "--send")
    for _ in range(2):
        desk.run("sync", "--once", "--quiet")  # a new process each time: state read from the database
        rows = desk.listed()
        assert rows[SLOW]["assignee"] == "luke" and rows[SLOW]["status"] == "assigned"
        assert rows["email:booking-1@acme-rail.example"]["status"] == "closed"
    shown = json.loads(desk.run("show", SLOW, "--json").stdout)
    assert [e["kind"] for e in shown["timeline"]].count("assigned") == 1
    told = desk.sent("ana@globex-health.example")
    assert len(told) == 1 and "assigned to Luke" in _body(told[0])
    # Already assigned: nothing to do, nothing queued.
    assert "nothing to do" in desk.run("assign", SLOW, "luke").output
    # The other verbs, recorded the same way (no mail without a template).
    for verb, status in (("pending", "pending"), ("resume", "assigned"), ("unassign", "acknowledged")):
        desk.run(verb, SLOW)
        assert desk.listed()[SLOW]["status"] == status, verb
    desk.run("reopen", "email:booking-1@acme-rail.example")
    assert desk.listed()["email:booking-1@acme-rail.example"]["status"] == "acknowledged"
    assert len(desk.sent("ana@globex-health.example")) == 1


def test_cards_without_their_request_are_not_listed(tmp_path: Path) -> None:
    """A backlog card whose mail thread is not read yet is kept but never a request of its own."""
    with ConsultancySandbox.start(now=NOW) as sb:
        desk = Desk(sb, tmp_path, IDQUEUE_EMAIL__IMAP_HOST=None)
        desk.run("sync", "--once", "--quiet")
        assert desk.listed() == {}
        desk.env = {**desk.env, **{k: v for k, v in sb.env().items() if k == "IDQUEUE_EMAIL__IMAP_HOST"}}
        desk.run("sync", "--once", "--quiet")
        rows = desk.listed()
        assert rows[WELSH]["backlog_state"] == "Up next"
        assert not [i for i in rows if i.startswith("trello:")]


def test_backlog_destination_choice(desk: Desk) -> None:
    """A customer's board by default; ``[backlog] destination`` still wins; no customer, one line."""
    desk.run("sync", "--once", "--quiet")
    plan = desk.run("backlog", SLOW, "--dry-run").stdout
    assert "Globex Health's Trello board (New Issues)" in plan
    desk.env.update({"IDQUEUE_BACKLOG__DESTINATION": "github", "IDQUEUE_GITHUB__BACKLOG_REPO": "madetech/backlog"})
    plan = desk.run("backlog", SLOW, "--dry-run").stdout
    assert "create an issue in madetech/backlog" in plan and "Trello" not in plan
    del desk.env["IDQUEUE_BACKLOG__DESTINATION"]
    desk.env["IDQUEUE_CUSTOMERS"] = "{}"
    out = desk.run("backlog", SLOW, code=1).output
    errors = [line for line in out.splitlines() if line.startswith("idqueue:")]
    assert len(errors) == 1 and "no customer" in errors[0] and "Traceback" not in out


def test_a_new_mail_pings_support_in_slack_once(desk: Desk) -> None:
    """The consultancy's "new activity pings #support": the first sync announces nothing (the
    backlog is not news); a customer's new mail is posted to #support once, with its key."""
    first = desk.run("sync", "--once")
    assert "notify: 0 queued for C0SUPPORT" in first.output, first.output
    assert desk.sb.support_messages() == []
    raw = (b"From: Ana Lopez <ana@globex-health.example>\r\nTo: support@madetech.example\r\n"
           b"Subject: Exports time out\r\nMessage-ID: <exports-1@globex-health.example>\r\n"
           b"Date: Wed, 11 Mar 2026 15:31:00 +0000\r\n\r\nThe nightly export has timed out twice.\r\n")
    desk.sb.mail.store.deliver(desk.sb.mail.mailbox, raw, when=NOW + timedelta(minutes=1))
    second = desk.run("sync", "--once")
    assert "notify: 1 queued for C0SUPPORT" in second.output and "outbox: sent 1" in second.output
    key = desk.listed()["email:exports-1@globex-health.example"]["key"]
    (posted,) = desk.sb.support_messages()
    assert key in posted and "Exports time out" in posted and "*Customer:* Globex Health" in posted
    desk.run("sync", "--once")
    assert len(desk.sb.support_messages()) == 1  # re-polls never post it again
    # "Any new activity": the customer writes again in the thread; one reply in #support's thread.
    reply = (b"From: Ana Lopez <ana@globex-health.example>\r\nTo: support@madetech.example\r\n"
             b"Subject: Re: Exports time out\r\nMessage-ID: <exports-2@globex-health.example>\r\n"
             b"In-Reply-To: <exports-1@globex-health.example>\r\nReferences: <exports-1@globex-health.example>\r\n"
             b"Date: Wed, 11 Mar 2026 15:40:00 +0000\r\n\r\nIt failed again <!channel> tonight.\r\n")
    desk.sb.mail.store.deliver(desk.sb.mail.mailbox, reply, when=NOW + timedelta(minutes=10))
    third = desk.run("sync", "--once")
    assert "notify: 1 queued for C0SUPPORT" in third.output, third.output
    messages = desk.sb.support_messages()
    assert len(messages) == 2 and key in messages[1] and "New message on" in messages[1]
    assert "Ana Lopez" in messages[1] and "It failed again" in messages[1] and "<!channel>" not in messages[1]
    channel = desk.sb.slack.state.channels["C0SUPPORT"]
    replies = [m for m in channel.messages.values() if m.is_reply]
    assert len(replies) == 1  # in the thread of the request's first message
    desk.run("sync", "--once")
    assert len(desk.sb.support_messages()) == 2
    doctor = CliRunner().invoke(cli, ["doctor"], env=desk.env, obj=Context())
    assert "the bot is a member of #support (C0SUPPORT)" in doctor.output, doctor.output
