"""A loopback SMTP server (aiosmtpd) that delivers into the loopback IMAP :class:`MailStore`.

Mail to the support address lands in its ``INBOX`` (so a blind copy the writer sends to itself
is found there); mail to anyone else is kept in :attr:`SmtpServer.outside` (the outside world,
for tests to read). With ``saves_sent`` the server also files every message it accepts from the
support login in the sent folder, as Gmail and Microsoft 365 do.

``AUTH PLAIN``/``LOGIN`` is offered without TLS (loopback only). Faults
(:class:`~idqueue.integrations.loopback.FaultSet`, matched by SMTP verb: ``"AUTH"``, ``"DATA"``):
``auth`` (535, or the answer in ``error``), ``timeout`` (a slow server: stall ``seconds`` before accepting, or drop with
``drop=True``; a client that gives up first leaves nothing delivered, as aiosmtpd cancels the
transaction), ``apply_then_stall`` (deliver at once, answer ``seconds`` late: a reply that lands
although the client timed out), ``drop_after_apply`` (deliver, then cut the connection before
answering) and ``error`` (a ``451`` temporary failure).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import warnings
from dataclasses import dataclass
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from idqueue.integrations.email.imap_server import MailStore
from idqueue.integrations.loopback import Call, CallLog, FaultSet


@dataclass(frozen=True, slots=True)
class Delivered:
    """One message the sink accepted for a recipient outside the mailbox."""

    mail_from: str
    rcpt_to: tuple[str, ...]
    raw: bytes


class _Controller(Controller):
    """aiosmtpd's threaded controller bound to an ephemeral port (``port=0``)."""

    def _trigger_server(self) -> None:
        server: Any = self.server
        if self.port == 0 and server is not None:
            self.port = int(server.sockets[0].getsockname()[1])
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SmtpServer:
    """The loopback SMTP server.

    Args:
        store: where mail for the support address is delivered.
        users: login → password (AUTH).
        address: the support address (its mail goes to ``mailbox``).
        mailbox: the folder mail to the support address is delivered to.
        sent_mailbox: where ``saves_sent`` files accepted mail.
        saves_sent: file each accepted message in ``sent_mailbox`` (the server keeps sent mail).
    """

    def __init__(self, store: MailStore, users: dict[str, str], *, address: str, mailbox: str = "INBOX",
                 sent_mailbox: str = "Sent", saves_sent: bool = False) -> None:
        self.store = store
        self.users = dict(users)
        self.address = address.lower()
        self.mailbox = mailbox
        self.sent_mailbox = sent_mailbox
        self.saves_sent = saves_sent
        self.calls = CallLog()
        self.faults = FaultSet()
        self.outside: list[Delivered] = []
        self._lock = threading.Lock()
        self._controller: _Controller | None = None

    @property
    def host(self) -> str:
        """Always ``127.0.0.1``."""
        return "127.0.0.1"

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        assert self._controller is not None, "not started"
        return int(self._controller.port)

    def start(self) -> Self:
        """Serve on ``127.0.0.1`` (ephemeral port) in aiosmtpd's thread."""
        # AUTH without TLS is what a loopback server wants; aiosmtpd warns about it (and about its
        # own deprecated attribute) on every session.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
        controller = _Controller(
            _Handler(self), hostname="127.0.0.1", port=0, authenticator=self._authenticate,
            auth_require_tls=False, auth_required=True, ready_timeout=10.0,
        )
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def sent_to_outside(self) -> list[Delivered]:
        """A snapshot of the mail delivered outside the mailbox."""
        with self._lock:
            return list(self.outside)

    def log(self, verb: str, detail: str, fault: str | None = None, status: int = 250) -> None:
        """Record one SMTP command."""
        self.calls.append(Call(method=verb, path=detail, query={}, headers={}, body=None, status=status, fault=fault))

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        fault = self.faults.take("AUTH", "", "AUTH")
        if fault is not None and fault.kind == "auth":
            self.log("AUTH", mechanism, "auth", 535)
            # ``error`` is the server's full answer, e.g. Exchange Online's "535 5.7.139 …".
            return AuthResult(success=False, handled=False, message=fault.error)
        ok = (isinstance(auth_data, LoginPassword)
              and self.users.get(auth_data.login.decode("utf-8", "replace")) == auth_data.password.decode("utf-8", "replace"))
        self.log("AUTH", mechanism, None, 235 if ok else 535)
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def deliver(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> None:
        """Deliver an accepted message: to the mailbox, the outside world and (``saves_sent``) the sent folder."""
        outside = [r for r in rcpt_tos if r.lower() != self.address]
        if len(outside) != len(rcpt_tos):
            self.store.deliver(self.mailbox, raw)
        if outside:
            with self._lock:
                self.outside.append(Delivered(mail_from, tuple(outside), raw))
        if self.saves_sent and mail_from.lower() == self.address:
            self.store.deliver(self.sent_mailbox, raw, flags=["\\Seen"])


class _Handler:
    """aiosmtpd's handler hooks."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        sink = self.server
        fault = sink.faults.take("DATA", "", "DATA")
        raw = envelope.original_content or b""
        if fault is not None and fault.kind == "timeout":
            await asyncio.sleep(fault.seconds)
            if fault.drop:
                sink.log("DATA", "", "timeout", 0)
                _cut(session, server)
                return "421 connection dropped"
        if fault is not None and fault.kind == "error":
            sink.log("DATA", "", "error", 451)
            return "451 4.3.0 temporary failure"
        sink.deliver(str(envelope.mail_from or ""), [str(r) for r in envelope.rcpt_tos], raw)
        if fault is not None and fault.kind == "apply_then_stall":
            await asyncio.sleep(fault.seconds)  # accepted at once, answered late (or never)
        if fault is not None and fault.kind == "drop_after_apply":
            sink.log("DATA", "", "drop_after_apply", 0)
            _cut(session, server)
            return "421 connection dropped"
        sink.log("DATA", f"{len(raw)} bytes", None, 250)
        return "250 2.0.0 OK: queued"


def _cut(session: Session, server: SMTP) -> None:
    transport: Any = server.transport
    if transport is not None:
        transport.abort()
