"""Replies to email requests: SMTP (:mod:`.smtp`) From the support address, filed in the sent
folder with IMAP ``APPEND``.

A reply threads in the requester's mail client: ``Subject: Re: <the thread's subject>`` (never
``Re: Re:``), ``In-Reply-To`` = the thread's last message, ``References`` = that message's
references plus its id (RFC 5322 §3.6.4). The thread is read from the mailbox and the sent folder
(``UID SEARCH HEADER``), so the reply answers the latest message even when the local store is
behind. Header values never carry CR/LF (each is folded to one line: no header injection).

Exactly once: the ``Message-ID`` is derived from the outbox action (``<idqueue.<action id>@<the
support address's domain>>``) and the action id travels in ``X-Idqueue-Action``. A blind copy
goes to the support address itself (``email.bcc_self``), so a reply that left over SMTP is in
the mailbox even when the process died before filing it in the sent folder: :meth:`reconcile`
looks for the Message-ID in the sent folder, then in the mailbox (filing the copy it finds there)
before any resend. :func:`~idqueue.integrations.base.before_write` runs right before the SMTP
transaction; a timeout or a connection lost during it is :class:`TimedOut` (it may have been
accepted).
"""

from __future__ import annotations

import os
import re
import signal
import smtplib
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, formataddr, parseaddr
from typing import TYPE_CHECKING, Any

from idqueue.config import Settings
from idqueue.domain.actions import Action, ActionKind
from idqueue.domain.assemble import make_assembler
from idqueue.integrations.base import (
    AuthError,
    NotFound,
    SourceError,
    TimedOut,
    Unavailable,
    ValidationFailed,
    before_write,
)
from idqueue.integrations.email import imap, smtp
from idqueue.integrations.email.convert import mid_url, root_of
from idqueue.integrations.email.local_state import (
    STATE_KINDS,
    check_state,
    record_state,
    recorded,
    state_uid,
)
from idqueue.integrations.email.parse import ACTION_HEADER, ParsedMail, parse_mail
from idqueue.integrations.registry import rulebook

if TYPE_CHECKING:
    from idqueue.store.db import Store

CRASH_ENV = "IDQUEUE_OUTBOX_CRASH_AT"
"""The outbox's crash-test hook; this writer adds the point ``smtp-sent`` (the SMTP server
accepted the reply, it is not filed in the sent folder yet)."""
MAX_REFERENCES = 20
"""``References`` keeps the thread's first id and the latest ones up to this many."""


def reply_message_id(action_id: str, address: str) -> str:
    """The deterministic Message-ID (without brackets) of an action's reply."""
    domain = address.rpartition("@")[2] or "idqueue.invalid"
    return f"idqueue.{action_id}@{domain}"


def one_line(value: str) -> str:
    """A header value on one line: CR, LF and other control characters become spaces."""
    return " ".join("".join(" " if (ord(c) < 32 or ord(c) == 127) else c for c in value).split())


def checked_address(value: str) -> str:
    """A bare address (``name@domain``), or :class:`ValidationFailed`: a recipient is never a way
    to add a header or a second recipient."""
    text = value.strip()
    _, addr = parseaddr(text)
    display = text[: -len(addr) - 2] if text.endswith(f"<{addr}>") else None
    unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', "", display) if display is not None else None
    single = text == addr or (unquoted is not None and not any(c in unquoted for c in "<>@,;"))
    if (not single or addr.count("@") != 1 or any(c.isspace() or c in ",;<>\"" for c in addr)
            or any(ord(c) < 32 or ord(c) == 127 for c in value)):
        raise ValidationFailed(f"{one_line(value)[:80]!r} is not one email address", source="email")
    return addr


def reply_subject(subject: str) -> str:
    """``Re: <subject>`` unless it already starts with a reply prefix."""
    clean = one_line(subject) or "(no subject)"
    return clean if clean.lower().startswith(("re:", "re :", "aw:", "sv:")) else f"Re: {clean}"


def _crash_hook(point: str, action: Action) -> None:
    spec = os.environ.get(CRASH_ENV, "")
    want, _, rest = spec.partition(":")
    kind, _, target = rest.partition(":")
    if want == point and (not kind or kind == action.kind.value) and (not target or target == action.target):
        os.kill(os.getpid(), signal.SIGKILL)


class EmailWriter:
    """Carries ``reply`` actions on email requests, and records their state actions (assign,
    close, backlog, …: :mod:`.local_state`) in idqueue's database.

    Action params: ``thread`` (the root Message-ID; default: from the request id), optional
    ``to`` (a list; default: the thread's first sender who is not the team, its ``Reply-To``
    first), ``subject`` (used when no message of the thread is left in the folders), ``cc``,
    ``html`` (an HTML alternative of ``text``).

    Args:
        settings: the configuration (``email`` section, team name).
        clock: "now" for the ``Date`` header.
        timeout: seconds to wait for the SMTP and IMAP servers.
    """

    target = "email"
    store: Store | None = None
    """idqueue's database, where state actions are recorded (:meth:`bind_store`)."""

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] | None = None,
                 timeout: float | None = None) -> None:
        self.settings = settings
        self.cfg = settings.email
        self.clock = clock or (lambda: datetime.now(UTC))
        self.timeout = self.cfg.timeout if timeout is None else timeout
        self.team_addresses = {a.lower() for a in [self.cfg.address, *(m.email for m in settings.team.values())] if a}

    def close(self) -> None:
        """Nothing to release (one connection per send)."""

    def bind_store(self, store: Store) -> None:
        """The database that holds email requests' assignee and status (the dispatcher's store)."""
        self.store = store

    # ------------------------------------------------------------------ send
    def send(self, action: Action, *, maybe_sent: bool) -> dict[str, Any]:
        """Send one reply and file it in the sent folder; record a state action in idqueue's database."""
        if action.kind in STATE_KINDS:
            return self._record(action)
        if action.kind is not ActionKind.REPLY:
            raise ValidationFailed(f"email carries replies and state actions, not {action.kind.value}",
                                   source="email")
        if not self.cfg.address or not self.cfg.smtp_host:
            raise ValidationFailed("email.address and email.smtp_host must be set to send replies", source="email")
        root = str(action.params.get("thread") or root_of(action.request_id))
        try:
            thread = self._thread(root)
        except TimedOut as exc:  # a read: nothing was written, no in-flight wait is needed
            raise Unavailable(exc.title, source="email") from None
        except NotFound:
            if not action.params.get("to"):
                raise
            thread = []  # the thread was moved away: answer the given address with the given subject
        message, recipients = self.build(action, root, thread)
        before_write()
        refused = self._smtp(message, recipients)
        _crash_hook("smtp-sent", action)
        result = self._result(message, recipients)
        if refused:
            result["refused"] = refused  # sent to the others: retrying would send it twice to them
        if not self.cfg.server_saves_sent:
            try:
                self._file(message)
            except SourceError as exc:
                if self.cfg.bcc_self:
                    raise  # the retry finds the blind copy and files it (reconcile)
                result["note"] = f"sent, but not filed in {self.cfg.sent_mailbox}: {exc.title}"
        return result

    def _result(self, message: EmailMessage, recipients: list[str]) -> dict[str, Any]:
        mid = str(message["Message-ID"]).strip("<>")
        return {"message_id": mid, "url": mid_url(mid), "to": [r for r in recipients if r != self.cfg.address],
                "subject": str(message["Subject"])}

    def build(self, action: Action, root: str, thread: list[ParsedMail]) -> tuple[EmailMessage, list[str]]:
        """The reply and its envelope recipients (the requester, Cc, and the blind copy)."""
        address = self.cfg.address or ""
        first = next((m for m in thread if m.message_id == root), thread[0] if thread else None)
        last = thread[-1] if thread else None
        to = [str(a) for a in action.params.get("to") or []]
        requester = next((m for m in thread if m.sender not in self.team_addresses), None)
        if not to and requester is not None:
            to = requester.reply_to or [requester.sender]
        to = [checked_address(a) for a in to if a and a.lower() != address.lower()]
        if not to:
            raise ValidationFailed("the thread has no requester address to reply to", source="email")
        cc = [checked_address(str(a)) for a in action.params.get("cc") or []]
        msg = EmailMessage(policy=SMTP_POLICY)
        msg["From"] = formataddr((one_line(self.cfg.display_name or self.settings.team_name), address))
        msg["To"] = ", ".join(to)
        if cc:
            msg["Cc"] = ", ".join(cc)
        msg["Subject"] = reply_subject(first.subject if first is not None else str(action.params.get("subject") or ""))
        msg["Date"] = format_datetime(self.clock().astimezone(UTC))
        msg["Message-ID"] = f"<{reply_message_id(action.id, address)}>"
        parent = last.message_id if last is not None else root
        chain = [*(last.references if last is not None else []), parent]
        if root not in chain:
            chain.insert(0, root)
        chain = list(dict.fromkeys(chain))
        if len(chain) > MAX_REFERENCES:
            chain = [chain[0], *chain[-(MAX_REFERENCES - 1):]]
        msg["In-Reply-To"] = f"<{one_line(parent)}>"
        msg["References"] = " ".join(f"<{one_line(i)}>" for i in chain)
        msg[ACTION_HEADER] = action.id
        if action.automation:
            msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: automatic mail, never answered automatically
        msg.set_content(action.text or "")
        html = action.params.get("html")
        if isinstance(html, str) and html:
            msg.add_alternative(html, subtype="html")
        recipients = list(dict.fromkeys([*to, *cc, *([address] if self.cfg.bcc_self else [])]))
        return msg, recipients

    def _record(self, action: Action) -> dict[str, Any]:
        """A state action: nothing goes upstream (a mail has no such field); its event goes into
        idqueue's database here, before the outbox marks it sent, so it is never lost. Without
        a bound store the dispatcher's mirror records it."""
        result: dict[str, Any] = {"local": str(action.params.get("action") or action.kind.value),
                                  "event": state_uid(action)}
        if self.store is None:
            return result
        check_state(self.store, action)
        before_write()
        now = self.clock()
        record_state(self.store, self.settings, action, now=now,
                     assembler=make_assembler(self.settings, now, rules=rulebook(self.settings)))
        return result

    # ------------------------------------------------------------------ IMAP
    def _thread(self, root: str) -> list[ParsedMail]:
        """The thread's messages from the mailbox and the sent folder, oldest first."""
        found: dict[str, tuple[tuple[datetime, int], ParsedMail]] = {}
        with imap.session(self.cfg, timeout=self.timeout) as client:
            for folder in dict.fromkeys([self.cfg.mailbox, self.cfg.sent_mailbox]):
                client.select_folder(folder, readonly=True)
                uids = set(client.search(["HEADER", "Message-ID", f"<{root}>"]))
                uids |= set(client.search(["HEADER", "References", f"<{root}>"]))
                uids |= set(client.search(["HEADER", "In-Reply-To", f"<{root}>"]))
                if not uids:
                    continue
                for data in client.fetch(sorted(uids), ["INTERNALDATE", "BODY.PEEK[]"]).values():
                    raw = data.get(b"BODY[]")
                    if isinstance(raw, bytes):
                        mail = parse_mail(raw)
                        when = data.get(b"INTERNALDATE")
                        at = when if isinstance(when, datetime) else datetime.now(UTC)
                        arrived = at if at.tzinfo else at.replace(tzinfo=UTC)
                        # Ties (same second) go by the chain: a reply references more messages.
                        found.setdefault(mail.message_id, ((arrived, len(mail.references)), mail))
        if not found:
            raise NotFound(f"no message of the thread <{root}> is in {self.cfg.mailbox} or "
                           f"{self.cfg.sent_mailbox}", source="email")
        return [mail for _, mail in sorted(found.values(), key=lambda pair: pair[0])]

    def _file(self, message: EmailMessage) -> None:
        """APPEND the sent reply to the sent folder (marked read)."""
        host = self.cfg.imap_host or ""
        with imap.session(self.cfg, timeout=self.timeout) as client:
            imap.guarded(host, "APPEND", lambda: client.append(
                self.cfg.sent_mailbox, message.as_bytes(), flags=[b"\\Seen"], msg_time=self.clock()))

    def reconcile(self, action: Action, *, since: datetime) -> dict[str, Any] | None:
        """Find an earlier attempt's reply by its Message-ID (unique to the action, so ``since``
        needs no time filter): in the sent folder, else its blind copy in the mailbox (then filed
        in the sent folder)."""
        if action.kind in STATE_KINDS:
            if self.store is not None and recorded(self.store, action):
                return {"local": str(action.params.get("action") or action.kind.value), "event": state_uid(action)}
            return None
        if action.kind is not ActionKind.REPLY or not self.cfg.address:
            return None
        mid = reply_message_id(action.id, self.cfg.address)
        with imap.session(self.cfg, timeout=self.timeout) as client:
            for folder in dict.fromkeys([self.cfg.sent_mailbox, self.cfg.mailbox]):
                uids = imap.find_message(client, folder, mid)
                if not uids:
                    continue
                data = client.fetch(uids[:1], ["BODY.PEEK[]"])
                raw = next(iter(data.values())).get(b"BODY[]")
                if folder != self.cfg.sent_mailbox and not self.cfg.server_saves_sent and isinstance(raw, bytes):
                    client.append(self.cfg.sent_mailbox, raw, flags=[b"\\Seen"], msg_time=self.clock())
                mail = parse_mail(raw) if isinstance(raw, bytes) else None
                return {"message_id": mid, "url": mid_url(mid), "to": mail.to if mail else [],
                        "subject": mail.subject if mail else "", "found_in": folder}
        return None

    # ------------------------------------------------------------------ SMTP
    def _smtp(self, message: EmailMessage, recipients: list[str]) -> list[str]:
        """Send; returns the recipients the server refused while accepting the others."""
        cfg = self.cfg
        host = cfg.smtp_host or ""
        phase = "connect"
        try:
            with smtp.connect(cfg, timeout=self.timeout) as server:
                phase = "send"
                refused = server.send_message(message, from_addr=cfg.address, to_addrs=recipients)
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthError(smtp.refused_login_text(host, exc), source="email") from None
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise ValidationFailed(f"SMTP server {host} refused the addresses ({type(exc).__name__})",
                                   source="email") from None
        except smtplib.SMTPResponseException as exc:
            text = f"SMTP server {host} answered {exc.smtp_code} during {phase}"
            if 400 <= exc.smtp_code < 500:
                raise Unavailable(text, source="email") from None
            raise ValidationFailed(text, source="email") from None
        except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
            if phase == "send":
                raise TimedOut(f"SMTP server {host} did not confirm the reply ({type(exc).__name__}); "
                               "it may have been sent", source="email") from None
            raise Unavailable(f"SMTP server {host} is unreachable ({phase})", source="email") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise Unavailable(f"SMTP server {host} failed ({phase}: {type(exc).__name__})", source="email") from None
        return sorted(refused)
