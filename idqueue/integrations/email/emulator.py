"""The loopback support mailbox: the IMAP server and the SMTP server over one :class:`MailStore`.

Used by the tests, the benchmark and (later) the consultancy sandbox::

    with MailServers(address="support@example.com") as mail:
        mail.store.deliver("INBOX", raw_message)
        settings = Settings(email=mail.settings_overrides())
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Self

from idqueue.integrations.email.imap_server import ImapServer, MailStore
from idqueue.integrations.email.smtp_server import SmtpServer

PASSWORD = "loopback-app-password"
"""The sandbox mailbox's password (not a secret: it only opens the loopback servers)."""


class MailServers:
    """A support mailbox on loopback IMAP and SMTP servers.

    Args:
        address: the support address (also the login).
        mailbox: the folder where requests arrive.
        sent_mailbox: the sent folder.
        saves_sent: the SMTP server files sent mail in ``sent_mailbox`` itself.
        now: the clock stamped on delivered mail.
    """

    def __init__(self, *, address: str = "support@example.com", mailbox: str = "INBOX", sent_mailbox: str = "Sent",
                 saves_sent: bool = False, now: Callable[[], datetime] | datetime | None = None) -> None:
        self.address = address
        self.mailbox = mailbox
        self.sent_mailbox = sent_mailbox
        clock = now if callable(now) else None
        self.store = MailStore((mailbox, sent_mailbox), now=clock)
        users = {address: PASSWORD}
        self.imap = ImapServer(self.store, users)
        self.smtp = SmtpServer(self.store, users, address=address, mailbox=mailbox, sent_mailbox=sent_mailbox,
                               saves_sent=saves_sent)

    def start(self) -> Self:
        """Start both servers."""
        self.imap.start()
        self.smtp.start()
        return self

    def stop(self) -> None:
        """Stop both servers (idempotent)."""
        self.imap.stop()
        self.smtp.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def settings_overrides(self, **extra: Any) -> dict[str, Any]:
        """The ``email`` settings section pointing at these servers."""
        data: dict[str, Any] = {
            "imap_host": self.imap.host, "imap_port": self.imap.port, "imap_security": "none",
            "smtp_host": self.smtp.host, "smtp_port": self.smtp.port, "smtp_security": "none",
            "username": self.address, "password": PASSWORD, "address": self.address,
            "mailbox": self.mailbox, "sent_mailbox": self.sent_mailbox,
            "server_saves_sent": self.smtp.saves_sent,
        }
        data.update(extra)
        return data

    def env(self) -> dict[str, str]:
        """The ``IDQUEUE_EMAIL__*`` environment for these servers."""
        return {f"IDQUEUE_EMAIL__{key.upper()}": str(value).lower() if isinstance(value, bool) else str(value)
                for key, value in self.settings_overrides().items()}


def main(argv: list[str] | None = None) -> int:
    """``python -m idqueue.integrations.email.emulator``: a seeded loopback mailbox in the foreground.

    Prints the ``IDQUEUE_EMAIL__*`` lines (shell ``export``s) that point idqueue at it, then
    serves until interrupted (Ctrl-C).
    """
    import argparse
    import shlex
    import signal
    import threading
    from datetime import UTC

    from idqueue.integrations.email.seed import SUPPORT, seed_mailbox

    parser = argparse.ArgumentParser(prog="python -m idqueue.integrations.email.emulator")
    parser.add_argument("--empty", action="store_true", help="start without the consultancy's fortnight")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with MailServers(address=SUPPORT) as mail:
        if not args.empty:
            seed_mailbox(mail.store, datetime.now(UTC))
        for key, value in mail.env().items():
            print(f"export {key}={shlex.quote(value)}")
        print("# serving the loopback mailbox; Ctrl-C stops it", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
