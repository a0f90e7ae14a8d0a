"""Email sync: the initial sync of a 10,000-message support mailbox, and the cost of an idle poll.

The mailbox (the loopback IMAP server, in this process, so its serving time is included) holds
2,000 threads of 5 messages: the customer's first mail and replies in ``INBOX``, the team's
replies in ``Sent``. The initial sync is timed twice: the reader alone, from login to the last
batch (parsing, threading and the cursors of every batch; the batches collected in memory), and
the whole ``sync --once`` path (the sync engine committing every batch to SQLite and assembling
2,000 requests). The idle poll counts the IMAP commands a poll with nothing new sends.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from idqueue.config import Settings
from idqueue.integrations.email.emulator import MailServers
from idqueue.integrations.email.source import EmailSource

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
THREADS = 2000
PER_THREAD = 5
SUPPORT = "support@example.com"


def _message(mid: str, sender: str, subject: str, refs: list[str], body: str) -> bytes:
    lines = [f"From: {sender}", f"To: {SUPPORT}", f"Subject: {subject}", f"Message-ID: <{mid}>",
             "Date: Thu, 26 Nov 2026 09:00:00 +0000", "MIME-Version: 1.0",
             "Content-Type: text/plain; charset=utf-8"]
    if refs:
        lines += [f"In-Reply-To: <{refs[-1]}>", "References: " + " ".join(f"<{r}>" for r in refs)]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


def _seed(mail: MailServers) -> None:
    start = NOW - timedelta(days=60)
    for t in range(THREADS):
        refs: list[str] = []
        customer = f"user{t % 97}@customer{t % 13}.example"
        for n in range(PER_THREAD):
            mid = f"t{t}.m{n}@{'example.com' if n % 2 else f'customer{t % 13}.example'}"
            team = n % 2 == 1
            folder = "Sent" if team else "INBOX"
            sender = SUPPORT if team else customer
            subject = f"{'Re: ' if n else ''}Problem number {t}"
            body = f"Message {n} of thread {t}.\n\n" + "Some detail about the problem. " * 20
            when = start + timedelta(minutes=t * 40 + n * 7)
            mail.store.deliver(folder, _message(mid, sender, subject, refs, body), when=when)
            refs.append(mid)


def run() -> list[tuple[str, float, str]]:
    """The figures: (label, value, target)."""
    with tempfile.TemporaryDirectory() as tmp, MailServers(address=SUPPORT) as mail:
        _seed(mail)
        settings = Settings(db=Path(tmp) / "q.db", email=mail.settings_overrides(history_days=365, fetch_batch=500))
        source = EmailSource(settings, clock=lambda: NOW)
        cursors: dict[str, Any] = {}
        items = events = 0
        started = time.perf_counter()
        for batch in source.fetch(cursors):
            items += len(batch.items)
            events += len(batch.events)
            cursors.update(batch.cursors)
        initial = time.perf_counter() - started
        if items != THREADS or events != THREADS * (PER_THREAD - 1):
            raise AssertionError(f"expected {THREADS} threads and {THREADS * (PER_THREAD - 1)} replies, "
                                 f"got {items} and {events}")
        mail.imap.calls.clear()
        for _ in source.fetch(cursors):
            pass
        idle_commands = len(mail.imap.calls)
        source.close()
        stored = _sync_into_store(settings)
    return [
        (f"email initial sync, {THREADS * PER_THREAD} messages, reader (s)", initial, "<= 60 s"),
        (f"email initial sync, {THREADS * PER_THREAD} messages, into the store (s)", stored, "<= 60 s"),
        ("email idle poll, IMAP commands for 2 folders", float(idle_commands), "<= 3 per folder"),
    ]


def _sync_into_store(settings: Settings) -> float:
    """Seconds for the sync engine's first poll of the mailbox into a new database."""
    from idqueue.store.db import Store
    from idqueue.sync import SyncEngine

    cfg = settings.model_copy(update={"db": settings.db.with_name("store.db"), "now": NOW.isoformat()})
    store = Store.open(cfg.db)
    engine = SyncEngine(store, [EmailSource(cfg, clock=lambda: NOW)], cfg)
    started = time.perf_counter()
    report = engine.poll()
    seconds = time.perf_counter() - started
    requests = store.count()
    store.close()
    if report.errors:
        raise AssertionError(f"the sync failed: {report.errors}")
    if requests != THREADS:
        raise AssertionError(f"expected {THREADS} requests, got {requests}")
    return seconds


def main() -> int:
    """Print the figures (``make bench``)."""
    for label, value, target in run():
        print(f"{label:<58} {value:>12.1f}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
