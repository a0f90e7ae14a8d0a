"""IMAP IDLE in the TUI: new mail in the support inbox reaches the queue without a key press.

The poll interval is an hour, so only the mailbox's IDLE push (the email integration's ``live``
watcher in the registry) can start the second poll. Waits are bounded, never fixed sleeps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from tui_helpers import SIZE, settle, wait_for

from idqueue.app import IdqueueApp
from idqueue.commands.tui_cmds import sandbox_settings
from idqueue.sandbox.consultancy import ConsultancySandbox
from idqueue.screens.queue import QueueScreen

HOUR = 3600


async def test_new_mail_appears_without_pressing_refresh(tmp_path: Path) -> None:
    with ConsultancySandbox.start(seed=True) as sb:
        settings = sandbox_settings(sb, tmp_path / "live.db", {"ui": {"poll_interval": HOUR}})
        app = IdqueueApp.build(settings, sandbox=True, live=True)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen), what="queue screen")
            screen = app.screen
            assert isinstance(screen, QueueScreen)
            poller = screen.poller
            await wait_for(pilot, lambda: poller.polls >= 1 and not poller.running, timeout=60, what="first poll")
            await wait_for(pilot, lambda: any(w.live for w in poller.watchers), timeout=30, what="IMAP IDLE")
            await settle(pilot)
            total, polls = screen.table.total, poller.polls

            mail = EmailMessage()
            mail["From"] = "Dana Ortiz <dana@acme-rail.example>"
            mail["To"] = sb.mail.address
            mail["Subject"] = "Timetable export is empty"
            mail["Message-ID"] = "<idle-test-1@acme-rail.example>"
            mail["Date"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
            mail.set_content("Since this morning the timetable export downloads an empty file.")
            sb.mail.store.deliver(sb.mail.mailbox, mail.as_bytes())

            await wait_for(pilot, lambda: screen.table.total == total + 1, timeout=60, what="the new mail in the queue")
            await settle(pilot)
            assert "email:idle-test-1@acme-rail.example" in screen.table.new_ids
            assert poller.polls >= polls + 1 and poller.early_polls >= 1  # started by the push, not the hour
