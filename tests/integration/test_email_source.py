"""The email source with IMAPClient against the loopback IMAP server: first sync, threading (with
the broken-threading fallback), the team's responses from the inbox and the sent folder,
never-a-request mail, UIDVALIDITY resync without duplicates, faults, IDLE.

Batches are committed the way the sync engine commits them (items and events upserted by id,
cursors stored with each batch; a failed fetch keeps what earlier batches committed)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from idqueue.config import Settings
from idqueue.integrations.base import AuthError, SourceError, Unavailable
from idqueue.integrations.email.emulator import MailServers
from idqueue.integrations.email.source import EmailSource

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
SUPPORT = "support@example.com"


def mail(mid: str, *, sender: str = "Ada <ada@acme.example>", subject: str = "Login broken",
         body: str = "The login page fails.", to: str = SUPPORT, **headers: str) -> bytes:
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", f"Message-ID: <{mid}>",
             "Date: Wed, 11 Mar 2026 09:00:00 +0000"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


@pytest.fixture
def servers() -> Iterator[MailServers]:
    with MailServers(address=SUPPORT) as s:
        yield s


def settings_for(servers: MailServers, tmp_path: Path, **email: Any) -> Settings:
    return Settings(db=tmp_path / "q.db", now=NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    email=servers.settings_overrides(**email),
                    team={"nick": {"name": "Nick Wood", "email": "nick@example.com"}})


def at(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


class Store:
    """What the sync engine keeps of a source: items, events and cursors, upserted per batch."""

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}
        self.events: dict[str, Any] = {}
        self.saved: dict[str, Any] = {}
        self.writes = 0

    @classmethod
    def open(cls, _path: Path) -> Store:
        return cls()

    def cursors(self, _source: str) -> dict[str, Any]:
        return dict(self.saved)


class Report:
    def __init__(self) -> None:
        self.errors: list[SourceError] = []
        self.notes: list[str] = []


def poll(settings: Settings, store: Store) -> Report:
    report = Report()
    source = EmailSource(settings, clock=lambda: NOW)
    try:
        for batch in source.fetch(store.cursors("email")):
            store.items.update({i.id: i for i in batch.items})
            store.events.update({e.uid: e for e in batch.events})
            store.saved.update(batch.cursors)
            store.writes += 1
            report.notes += batch.stats.notes
    except SourceError as exc:
        report.errors.append(exc)
    finally:
        source.close()
    return report


def items(store: Store) -> dict[str, Any]:
    return dict(store.items)


def events(store: Store) -> dict[str, Any]:
    return {uid: (e.item_id, e.actor_id, e.is_bot) for uid, e in store.events.items()}


def test_first_sync_threads_and_responses(servers: MailServers, tmp_path: Path) -> None:
    st = servers.store
    st.deliver("INBOX", mail("a1@acme.example"), when=at(6))
    st.deliver("INBOX", mail("a2@acme.example", subject="Re: Login broken", body="Still failing",
                             In_Reply_To="<a1@acme.example>", References="<a1@acme.example>"), when=at(5))
    # The team's reply, found in the sent folder (a roster member's address).
    st.deliver("Sent", mail("t1@example.com", sender="Nick <nick@example.com>", to="ada@acme.example",
                            subject="Re: Login broken", References="<a1@acme.example> <a2@acme.example>"), when=at(4))
    # Broken threading: a reply without References, same subject, same customer domain.
    st.deliver("INBOX", mail("a3@acme.example", sender="Bo <bo@acme.example>", subject="RE: login  broken"), when=at(3))
    # Same subject from another customer is another request.
    st.deliver("INBOX", mail("c1@other.example", sender="cy@other.example", subject="Re: Login broken"), when=at(2))
    settings = settings_for(servers, tmp_path)
    store = Store.open(settings.db)
    report = poll(settings, store)
    assert not report.errors
    assert set(items(store)) == {"email:a1@acme.example", "email:c1@other.example"}
    first = items(store)["email:a1@acme.example"]
    assert first.requester.id == "ada@acme.example" and first.title == "Login broken"
    assert events(store) == {
        "email-msg:a2@acme.example": ("email:a1@acme.example", "ada@acme.example", False),
        "email-msg:t1@example.com": ("email:a1@acme.example", "nick@example.com", False),
        "email-msg:a3@acme.example": ("email:a1@acme.example", "bo@acme.example", False),
    }
    cursors = store.cursors("email")
    assert cursors["folder:INBOX"]["uid"] == 4 and cursors["folder:Sent"]["uid"] == 1


def test_never_requests_are_skipped_but_auto_replies_in_a_thread_are_bot_events(
        servers: MailServers, tmp_path: Path) -> None:
    st = servers.store
    st.deliver("INBOX", mail("ooo@acme.example", Auto_Submitted="auto-replied"), when=at(9))
    st.deliver("INBOX", mail("b@mx.example", sender="MAILER-DAEMON@mx.example"), when=at(8))
    st.deliver("INBOX", mail("l@news.example", sender="news@news.example", List_Id="<n.news.example>"), when=at(8))
    st.deliver("INBOX", mail("own@example.com", sender=SUPPORT, X_Idqueue_Action="abc"), when=at(8))
    st.deliver("INBOX", mail("r1@acme.example"), when=at(7))
    st.deliver("INBOX", mail("r2@acme.example", Auto_Submitted="auto-replied", In_Reply_To="<r1@acme.example>"),
               when=at(6))
    settings = settings_for(servers, tmp_path)
    store = Store.open(settings.db)
    report = poll(settings, store)
    assert not report.errors
    assert set(items(store)) == {"email:r1@acme.example"}
    assert events(store)["email-msg:r2@acme.example"][2] is True


def test_incremental_poll_and_uidvalidity_resync_without_duplicates(servers: MailServers, tmp_path: Path) -> None:
    st = servers.store
    st.deliver("INBOX", mail("x1@acme.example"), when=at(5))
    settings = settings_for(servers, tmp_path)
    store = Store.open(settings.db)
    poll(settings, store)
    servers.imap.calls.clear()
    poll(settings, store)  # nothing new: STATUS per folder, no SELECT or FETCH
    names = [c.method for c in servers.imap.calls]
    assert names.count("STATUS") == 2 and "UID FETCH" not in names and "EXAMINE" not in names
    st.deliver("INBOX", mail("x2@acme.example", In_Reply_To="<x1@acme.example>"), when=at(1))
    poll(settings, store)
    assert set(events(store)) == {"email-msg:x2@acme.example"}
    old = store.cursors("email")["folder:INBOX"]["uidvalidity"]
    new = st.renumber("INBOX")
    assert new != old
    report = poll(settings, store)
    assert any("UIDVALIDITY" in n for n in report.notes)
    assert store.cursors("email")["folder:INBOX"]["uidvalidity"] == new
    assert set(items(store)) == {"email:x1@acme.example"} and set(events(store)) == {"email-msg:x2@acme.example"}


def test_wrong_password_is_an_auth_error_without_the_password(servers: MailServers, tmp_path: Path) -> None:
    settings = settings_for(servers, tmp_path, password="not-the-right-one")
    source = EmailSource(settings, clock=lambda: NOW)
    with pytest.raises(AuthError) as err:
        list(source.fetch({}))
    assert "not-the-right-one" not in str(err.value) and "IMAP login refused" in str(err.value)


@pytest.mark.parametrize("kind", ["drop_after_apply", "timeout"])
def test_dropped_or_slow_server_is_unavailable_and_nothing_half_committed(
        servers: MailServers, tmp_path: Path, kind: str) -> None:
    servers.store.deliver("INBOX", mail("d1@acme.example"), when=at(2))
    servers.imap.faults.add("UID FETCH", kind, seconds=3.0, drop=True)
    settings = settings_for(servers, tmp_path, timeout=1.0)
    store = Store.open(settings.db)
    report = poll(settings, store)
    assert report.errors and isinstance(report.errors[0], Unavailable)
    assert items(store) == {}
    report = poll(settings, store)  # the next poll reconnects and reads it
    assert not report.errors and set(items(store)) == {"email:d1@acme.example"}


def test_idle_reports_new_mail(servers: MailServers, tmp_path: Path) -> None:
    settings = settings_for(servers, tmp_path)
    source = EmailSource(settings, clock=lambda: NOW)
    try:
        assert source.wait_for_change(0.2) is False
        timer = threading.Timer(0.2, lambda: servers.store.deliver("INBOX", mail("i1@acme.example")))
        timer.start()
        assert source.wait_for_change(10.0) is True
        timer.join()
    finally:
        source.close()
    assert "IDLE" in [c.method for c in servers.imap.calls]


def test_watcher_calls_back_on_new_mail_and_survives_a_dropped_connection(servers: MailServers, tmp_path: Path) -> None:
    from idqueue.integrations.email.idle import MailWatcher

    settings = settings_for(servers, tmp_path)
    arrived = threading.Event()
    watcher = MailWatcher(settings, arrived.set, slice_seconds=0.1, retry_delays=[0.1])
    with watcher:
        _wait_until(lambda: watcher.live)
        servers.store.deliver("INBOX", mail("w1@acme.example"))
        assert arrived.wait(10.0)
        arrived.clear()
        servers.imap.drop_connections()  # the server restarts under the watcher: it reconnects
        _wait_until(lambda: [c.method for c in servers.imap.calls].count("LOGIN") >= 2 and watcher.live)
        servers.store.deliver("INBOX", mail("w2@acme.example"))
        assert arrived.wait(10.0)
    assert watcher.events == 2 and watcher.supported is True and not watcher.live


def _wait_until(condition: Any, timeout: float = 10.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        done.wait(0.02)
    raise AssertionError("condition not met in time")


def test_consultancy_seed_reads_back_as_its_summary(tmp_path: Path) -> None:
    from idqueue.integrations.email.seed import ROSTER, seed_mailbox
    from idqueue.integrations.email.seed import SUPPORT as DESK

    with MailServers(address=DESK) as desk:
        summary = seed_mailbox(desk.store, NOW)
        team = {key: {"name": name, "email": address} for key, (name, address) in ROSTER.items()}
        settings = Settings(db=tmp_path / "q.db", email=desk.settings_overrides(), team=team)
        store = Store()
        report = poll(settings, store)
    assert not report.errors
    assert len(store.items) == summary.requests
    team_events = {e.item_id for e in store.events.values() if e.data.get("team")}
    assert len(team_events) == summary.answered
    assert sum("not a request" in n for n in report.notes) == summary.never_requests
    welsh = store.items[f"email:html-1@{'globex-health.example'}"]
    assert "Welsh" in welsh.body and "<b>" not in welsh.body
    assert any(e.item_id == welsh.id and e.actor_id == "ana@globex-health.example" for e in store.events.values())
    charset = store.events["email-msg:csv-3@initech.example"]
    assert "ça marche" in charset.body and charset.data.get("notes")
    auto = store.events["email-msg:sso-3@acme-rail.example"]
    assert auto.is_bot
    fwd = store.items["email:fwd-1@acme-rail.example"]
    assert fwd.requester is not None and fwd.requester.id == "tom@acme-rail.example"


def test_missing_folder_is_not_found(servers: MailServers, tmp_path: Path) -> None:
    from idqueue.integrations.base import NotFound

    settings = settings_for(servers, tmp_path, sent_mailbox="Sent Items")
    report = poll(settings, Store())
    assert report.errors and isinstance(report.errors[0], NotFound)
    assert "'Sent Items' does not exist" in str(report.errors[0])


@pytest.mark.parametrize("cursor", [{"uidvalidity": "x", "uid": 3}, {"uid": True}, "garbage", {"uidvalidity": 1001, "uid": -1}])
def test_unusable_cursor_reads_from_the_start(servers: MailServers, tmp_path: Path, cursor: Any) -> None:
    servers.store.deliver("INBOX", mail("u1@acme.example"), when=at(1))
    store = Store()
    store.saved["folder:INBOX"] = cursor
    report = poll(settings_for(servers, tmp_path), store)
    assert not report.errors and set(store.items) == {"email:u1@acme.example"}
