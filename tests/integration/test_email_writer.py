"""Email replies through the real outbox Dispatcher with smtplib and IMAPClient against the loopback
SMTP (aiosmtpd) and IMAP servers: a reply that threads (headers checked), no header injection,
filing in the sent folder, faults, and exactly once through timeouts and SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from idqueue.config import Settings
from idqueue.domain.actions import Action, ActionKind, ActionState
from idqueue.integrations.email.emulator import MailServers
from idqueue.integrations.email.writer import EmailWriter, reply_message_id
from idqueue.outbox.dispatcher import Dispatcher
from idqueue.outbox.store import OutboxStore
from idqueue.store.db import Store

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
SUPPORT = "support@example.com"
ROOT = Path(__file__).resolve().parents[2]


def raw(mid: str, *, sender: str = "Ada <ada@acme.example>", subject: str = "Login broken",
        **headers: str) -> bytes:
    lines = [f"From: {sender}", f"To: {SUPPORT}", f"Subject: {subject}", f"Message-ID: <{mid}>",
             "Date: Wed, 11 Mar 2026 09:00:00 +0000"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\nbody\r\n").encode()


@pytest.fixture
def servers() -> Iterator[MailServers]:
    with MailServers(address=SUPPORT) as s:
        s.store.deliver("INBOX", raw("a1@acme.example", Reply_To="help@acme.example"))
        s.store.deliver("INBOX", raw("a2@acme.example", subject="Re: Login broken",
                                     In_Reply_To="<a1@acme.example>", References="<a1@acme.example>"))
        yield s


def settings_for(servers: MailServers, tmp_path: Path, **email: Any) -> Settings:
    return Settings(db=tmp_path / "q.db", now=NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), team_name="Made Tech Support",
                    email=servers.settings_overrides(**email))


def queue_reply(store: Store, text: str = "We are on it.", *, thread: str = "a1@acme.example",
                **params: Any) -> Action:
    action = Action(
        id=uuid.uuid4().hex, request_id=f"email:{thread}", kind=ActionKind.REPLY, target="email",
        params={"thread": thread, **params}, text=text, state=ActionState.QUEUED, attempts=0, last_error=None,
        next_attempt_at=None, created_at=NOW, sent_at=None, group_id=uuid.uuid4().hex, summary="reply by email",
    )
    OutboxStore(store).insert([action])
    return action


def dispatcher(store: Store, settings: Settings, *, timeout: float = 5.0, now: datetime = NOW) -> Dispatcher:
    writer = EmailWriter(settings, clock=lambda: now, timeout=timeout)
    return Dispatcher(store, settings, writers={"email": writer}, clock=lambda: now, sleep=lambda _s: None,
                      request_timeout=timeout, inflight_horizon=0.0)


def delivered(servers: MailServers) -> list[Any]:
    return [message_from_bytes(d.raw, policy=default_policy) for d in servers.smtp.sent_to_outside()]


def test_reply_threads_and_is_filed_in_sent(servers: MailServers, tmp_path: Path) -> None:
    settings = settings_for(servers, tmp_path)
    store = Store.open(settings.db)
    action = queue_reply(store)
    report = dispatcher(store, settings).run_once()
    assert report.counts["sent"] == 1, report.summary()
    [out] = servers.smtp.sent_to_outside()
    assert out.rcpt_to == ("help@acme.example",)  # the requester's Reply-To
    [msg] = delivered(servers)
    mid = reply_message_id(action.id, SUPPORT)
    assert msg["Message-ID"] == f"<{mid}>"
    assert msg["Subject"] == "Re: Login broken"
    assert msg["In-Reply-To"] == "<a2@acme.example>"
    assert msg["References"] == "<a1@acme.example> <a2@acme.example>"
    assert msg["From"] == "Made Tech Support <support@example.com>"
    assert msg["X-Idqueue-Action"] == action.id and msg.get_content().strip() == "We are on it."
    assert len(servers.store.find("Sent", mid)) == 1  # filed by APPEND
    assert len(servers.store.find("INBOX", mid)) == 1  # the blind copy
    stored = OutboxStore(store).get(action.id)
    assert stored is not None and stored.result["message_id"] == mid


def test_header_injection_is_impossible(servers: MailServers, tmp_path: Path) -> None:
    # A subject that decodes to CR LF + "Bcc:" is folded to one line; a recipient with one is refused.
    servers.store.deliver("INBOX", raw("evil@acme.example", subject="=?UTF-8?B?aGkNCkJjYzogdmljdGltQGV2aWwuZXhhbXBsZQ==?="))
    settings = settings_for(servers, tmp_path)
    store = Store.open(settings.db)
    queue_reply(store, thread="evil@acme.example")
    assert dispatcher(store, settings).run_once().counts["sent"] == 1
    [out] = servers.smtp.sent_to_outside()
    headers = out.raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in headers and out.rcpt_to == ("ada@acme.example",)
    assert b"Subject: Re: hi Bcc: victim@evil.example" in headers
    bad = queue_reply(store, thread="a1@acme.example", cc=["boss@acme.example\r\nBcc: victim@evil.example"])
    [stopped] = dispatcher(store, settings).run_once().needs_attention
    assert stopped.id == bad.id and "is not one email address" in (stopped.last_error or "")
    assert len(servers.smtp.sent_to_outside()) == 1


@pytest.mark.parametrize("value", ["a@x.example, b@y.example", "a@x.example\nBcc: b@y.example", "not-an-address",
                                   "<a@x.example> b@y.example"])
def test_checked_address_refuses_anything_but_one_address(value: str) -> None:
    from idqueue.integrations.base import ValidationFailed
    from idqueue.integrations.email.writer import checked_address

    with pytest.raises(ValidationFailed):
        checked_address(value)
    assert checked_address("Ada Lovelace <ada@acme.example>") == "ada@acme.example"
    assert checked_address('"Lovelace, Ada" <ada@acme.example>') == "ada@acme.example"


def test_no_double_re_and_server_that_saves_sent(tmp_path: Path) -> None:
    with MailServers(address=SUPPORT, saves_sent=True) as s:
        s.store.deliver("INBOX", raw("r1@acme.example", subject="RE: Invoice"))
        settings = settings_for(s, tmp_path, bcc_self=False)
        store = Store.open(settings.db)
        action = queue_reply(store, thread="r1@acme.example")
        assert dispatcher(store, settings).run_once().counts["sent"] == 1
        [msg] = [message_from_bytes(d.raw, policy=default_policy) for d in s.smtp.sent_to_outside()]
        assert msg["Subject"] == "RE: Invoice"
        assert len(s.store.find("Sent", reply_message_id(action.id, SUPPORT))) == 1  # the server's copy only


def test_wrong_password_needs_attention_without_the_password(servers: MailServers, tmp_path: Path) -> None:
    settings = settings_for(servers, tmp_path)
    servers.smtp.faults.add("AUTH", "auth", times=-1)  # smtplib tries each mechanism
    store = Store.open(settings.db)
    queue_reply(store)
    report = dispatcher(store, settings).run_once()
    [action] = report.needs_attention
    assert "SMTP login refused" in (action.last_error or "")
    assert "loopback-app-password" not in (action.last_error or "")
    assert servers.smtp.sent_to_outside() == []


def test_answer_lost_after_accept_then_retry_sends_once(servers: MailServers, tmp_path: Path) -> None:
    settings = settings_for(servers, tmp_path)
    servers.smtp.faults.add("DATA", "drop_after_apply")
    store = Store.open(settings.db)
    action = queue_reply(store)
    d = dispatcher(store, settings, timeout=2.0)
    first = d.run_once()
    assert first.counts["retrying"] == 1
    OutboxStore(store).retry(action.id, now=NOW, force=True)
    second = d.run_once()
    assert second.counts["sent"] == 1, second.summary()
    assert len(servers.smtp.sent_to_outside()) == 1  # accepted once; the retry found its blind copy
    sent = OutboxStore(store).get(action.id)
    assert sent is not None and sent.result.get("reconciled") is True
    assert len(servers.store.find("Sent", reply_message_id(action.id, SUPPORT))) == 1


def _subprocess(servers: MailServers, settings: Settings, crash: str | None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDQUEUE_")}
    env.update(servers.env())
    config = settings.db.parent / "config.toml"
    config.write_text("", encoding="utf-8")
    env.update({"IDQUEUE_DB": str(settings.db), "IDQUEUE_CONFIG_FILE": str(config), "PYTHONPATH": str(ROOT),
                "IDQUEUE_NOW": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")})
    if crash:
        env["IDQUEUE_OUTBOX_CRASH_AT"] = crash
    return subprocess.Popen([sys.executable, "-m", "idqueue.outbox.dispatcher", "--throttle", "0", "--timeout", "5"],
                            env=env, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("crash", ["claimed:reply:email", "smtp-sent:reply:email", "sent:reply:email"])
def test_sigkill_at_each_point_then_restart_sends_once(servers: MailServers, tmp_path: Path, crash: str) -> None:
    settings = settings_for(servers, tmp_path)
    store = Store.open(settings.db)
    action = queue_reply(store)
    proc = _subprocess(servers, settings, crash)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err
    assert OutboxStore(store).get(action.id).state is ActionState.SENDING  # type: ignore[union-attr]
    expected_before = 0 if crash.startswith("claimed") else 1
    assert len(servers.smtp.sent_to_outside()) == expected_before
    filed_before = 0 if crash.startswith(("claimed", "smtp-sent")) else 1
    assert len(servers.store.find("Sent", reply_message_id(action.id, SUPPORT))) == filed_before
    # Restart once the killed write's in-flight horizon has passed (the dead process's lease is
    # recovered at once: its pid is gone).
    report = dispatcher(store, settings, now=NOW + timedelta(hours=1)).run_once()
    assert report.counts["sent"] == 1, report.summary()
    final = OutboxStore(store).get(action.id)
    assert final is not None and final.state is ActionState.SENT
    assert len(servers.smtp.sent_to_outside()) == 1
    mid = reply_message_id(action.id, SUPPORT)
    assert len(servers.store.find("Sent", mid)) == 1
    if expected_before:
        assert final.result.get("reconciled") is True


def test_slow_server_times_out_then_the_late_reply_is_found_not_resent(servers: MailServers, tmp_path: Path) -> None:
    settings = settings_for(servers, tmp_path)
    servers.smtp.faults.add("DATA", "apply_then_stall", seconds=2.0)  # accepted, but answered too late
    store = Store.open(settings.db)
    action = queue_reply(store)
    first = dispatcher(store, settings, timeout=0.5).run_once()
    [retrying] = first.retrying
    assert "may have been sent" in (retrying.last_error or "")
    assert len(servers.smtp.sent_to_outside()) == 1
    second = dispatcher(store, settings, now=NOW + timedelta(hours=1)).run_once()
    assert second.counts["sent"] == 1, second.summary()
    assert len(servers.smtp.sent_to_outside()) == 1
    assert OutboxStore(store).get(action.id).result.get("reconciled") is True  # type: ignore[union-attr]


def test_slow_server_that_never_accepts_is_sent_on_retry(servers: MailServers, tmp_path: Path) -> None:
    settings = settings_for(servers, tmp_path)
    servers.smtp.faults.add("DATA", "timeout", seconds=2.0)  # stalls before accepting; the client gives up
    store = Store.open(settings.db)
    queue_reply(store)
    assert dispatcher(store, settings, timeout=0.5).run_once().counts["retrying"] == 1
    second = dispatcher(store, settings, now=NOW + timedelta(hours=1)).run_once()
    assert second.counts["sent"] == 1, second.summary()
    assert len(servers.smtp.sent_to_outside()) == 1


def test_html_alternative_and_automation_marking(servers: MailServers, tmp_path: Path) -> None:
    settings = settings_for(servers, tmp_path)
    store = Store.open(settings.db)
    queue_reply(store, "Closed, thanks.", html="<p>Closed, <b>thanks</b>.</p>", automation=True)
    assert dispatcher(store, settings).run_once().counts["sent"] == 1
    [msg] = delivered(servers)
    assert msg.get_content_type() == "multipart/alternative"
    assert msg.get_body(("plain",)).get_content().strip() == "Closed, thanks."  # type: ignore[union-attr]
    assert "<b>thanks</b>" in msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert msg["Auto-Submitted"] == "auto-generated"


def test_reply_to_an_unknown_thread_needs_attention(servers: MailServers, tmp_path: Path) -> None:
    settings = settings_for(servers, tmp_path)
    store = Store.open(settings.db)
    queue_reply(store, thread="gone@acme.example")
    [action] = dispatcher(store, settings).run_once().needs_attention
    assert "no message of the thread <gone@acme.example> is in INBOX or Sent" in (action.last_error or "")
    assert servers.smtp.sent_to_outside() == []
    # With the address and subject given (the stored request's), the reply still goes out.
    OutboxStore(store).drop(action.id, now=NOW)
    queue_reply(store, thread="gone@acme.example", to=["ada@acme.example"], subject="Old request")
    assert dispatcher(store, settings).run_once().counts["sent"] == 1
    [msg] = delivered(servers)
    assert (msg["To"], msg["Subject"], msg["In-Reply-To"]) == ("ada@acme.example", "Re: Old request",
                                                              "<gone@acme.example>")


def test_thread_started_by_the_team_replies_to_the_customer(servers: MailServers, tmp_path: Path) -> None:
    servers.store.deliver("Sent", raw("out1@example.com", sender=f"Desk <{SUPPORT}>", subject="Your renewal"))
    servers.store.deliver("INBOX", raw("in2@acme.example", subject="Re: Your renewal",
                                       In_Reply_To="<out1@example.com>", References="<out1@example.com>"))
    settings = settings_for(servers, tmp_path)
    store = Store.open(settings.db)
    queue_reply(store, thread="out1@example.com")
    assert dispatcher(store, settings).run_once().counts["sent"] == 1
    [msg] = delivered(servers)
    assert (msg["To"], msg["In-Reply-To"]) == ("ada@acme.example", "<in2@acme.example>")


def test_sent_reply_event_matches_what_the_source_reads_back(servers: MailServers, tmp_path: Path) -> None:
    from idqueue.integrations.email.convert import sent_reply_event
    from idqueue.integrations.email.source import EmailSource

    settings = settings_for(servers, tmp_path)
    store = Store.open(settings.db)
    action = queue_reply(store, "Done, thanks.")
    assert dispatcher(store, settings).run_once().counts["sent"] == 1
    sent = OutboxStore(store).get(action.id)
    assert sent is not None
    local = sent_reply_event(item="email:a1@acme.example", message_id=sent.result["message_id"], text="Done, thanks.",
                             at=NOW, sender=SUPPORT, sender_name="Made Tech Support", action_id=action.id)
    source = EmailSource(settings, clock=lambda: NOW)
    try:
        read = {e.uid: e for batch in source.fetch({}) for e in batch.events}
    finally:
        source.close()
    back = read[local.uid]
    assert (back.item_id, back.actor_id, back.body, back.data["idqueue_action"], back.data["team"]) == (
        local.item_id, local.actor_id, local.body, local.data["idqueue_action"], True)


def test_slow_imap_before_sending_is_a_plain_retry(servers: MailServers, tmp_path: Path) -> None:
    settings = settings_for(servers, tmp_path)
    servers.imap.faults.add("UID SEARCH", "timeout", seconds=3.0, drop=True)
    store = Store.open(settings.db)
    queue_reply(store)
    [action] = dispatcher(store, settings, timeout=0.5).run_once().retrying
    assert "did not answer in time" in (action.last_error or "") and servers.smtp.sent_to_outside() == []
    assert OutboxStore(store).timeouts(action.id) == 0  # not a write that may still land
