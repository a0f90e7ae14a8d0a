"""One raw RFC 5322 message → :class:`ParsedMail`: headers decoded, the readable body chosen,
quoted history split off, attachments listed, and whether it can ever be a request.

MIME rules: in ``multipart/alternative`` the ``text/plain`` part is preferred; an HTML-only mail
is turned into text by inscriptis (a library made for rendering HTML as text: it lays out block
elements, lists and tables, and never runs markup); RFC 2047 encoded words are decoded; a wrong
or unknown charset never raises (the declared one, then UTF-8, then Windows-1252, with a note);
attachments are listed (name, type, size) and never stored. Header and body text is kept as
received (control characters and markup included): it is data, never interpreted.

Never a request (RFC 3834 and common practice): auto-replies and out-of-office (``Auto-Submitted``
other than ``no``, ``X-Autoreply``, ``X-Autorespond``, ``Precedence: auto_reply/bulk/list/junk``),
bounces (``mailer-daemon``/``postmaster`` senders, ``multipart/report``, an empty ``Return-Path``),
mailing lists (``List-Id``, ``List-Unsubscribe``) and idqueue's own replies (``X-Idqueue-Action``).
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

ACTION_HEADER = "X-Idqueue-Action"
"""The header that carries an outbox action's id on every reply idqueue sends."""

QUOTE_MARKER = "\u2500\u2500 quoted history \u2500\u2500"
"""The line that separates a message's own text from the history it quotes (the detail pane
folds what follows it); ``ParsedMail.quoted_from`` is its offset in ``body``."""

AUTO_PRECEDENCE = frozenset({"auto_reply", "bulk", "list", "junk"})
BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster"})

_QUOTE_START = (
    re.compile(r"^On .{1,300}wrote:\s*$"),  # Gmail, Apple Mail, Thunderbird
    re.compile(r"^Le .{1,300}a écrit\s*:\s*$"),
    re.compile(r"^Am .{1,300}schrieb .{1,200}:\s*$"),
    re.compile(r"^-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^-{2,}\s*Forwarded message\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^_{20,}\s*$"),  # Outlook's rule above "From: … Sent: …"
    re.compile(r"^From: .+$"),  # a header block only counts when Sent:/Date: follows (checked below)
)


@dataclass(frozen=True, slots=True)
class Attachment:
    """An attachment as listed (never stored)."""

    name: str
    type: str
    size: int


@dataclass
class ParsedMail:
    """What idqueue keeps of one message.

    Attributes:
        message_id: the ``Message-ID`` without angle brackets (a stable hash of the message
            when it has none).
        in_reply_to: the ``In-Reply-To`` ids (usually one).
        references: the ``References`` ids, oldest first.
        subject: decoded subject.
        sender: the sender's address (lower-cased), ``From`` (``Sender`` when ``From`` is empty).
        sender_name: the sender's display name (else the address).
        reply_to: ``Reply-To`` addresses (lower-cased).
        to: ``To`` and ``Cc`` addresses (lower-cased).
        date: ``Date`` (None when missing or unreadable).
        body: readable text: the message's own text, then :data:`QUOTE_MARKER` and the quoted history.
        quoted_from: offset of the marker in ``body`` (None: nothing quoted).
        html_only: the text was rendered from HTML.
        attachments: what was attached.
        never_request: why it can never start a request (``auto-reply``, ``bounce``,
            ``mailing list``, ``idqueue``), or None.
        action_id: the outbox action id of a reply idqueue sent.
        notes: decoding problems worked around.
    """

    message_id: str
    in_reply_to: list[str]
    references: list[str]
    subject: str
    sender: str
    sender_name: str
    reply_to: list[str]
    to: list[str]
    date: datetime | None
    body: str
    quoted_from: int | None = None
    html_only: bool = False
    attachments: list[Attachment] = field(default_factory=list)
    never_request: str | None = None
    action_id: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def sender_domain(self) -> str:
        """The sender address's domain (lower-cased)."""
        return self.sender.rpartition("@")[2]

    @property
    def own_text(self) -> str:
        """The body without the quoted history."""
        return self.body if self.quoted_from is None else self.body[: self.quoted_from].rstrip()


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse one raw message; never raises on hostile or broken input."""
    msg = message_from_bytes(raw, policy=compat32)
    notes: list[str] = []
    message_id = _first_id(header_text(msg, "Message-ID")) or _synthetic_id(raw)
    sender_name, sender = parseaddr(header_text(msg, "From") or header_text(msg, "Sender"))
    text, html_only, attachments = _body(msg, notes)
    own, quoted = split_quoted(text)
    body, quoted_from = own, None
    if quoted:
        quoted_from = len(own) + 2 if own else 0
        body = f"{own}\n\n{QUOTE_MARKER}\n{quoted}" if own else f"{QUOTE_MARKER}\n{quoted}"
    parsed = ParsedMail(
        message_id=message_id,
        in_reply_to=message_ids(header_text(msg, "In-Reply-To")),
        references=message_ids(header_text(msg, "References")),
        subject=header_text(msg, "Subject"),
        sender=sender.strip().lower(),
        sender_name=sender_name.strip() or sender.strip(),
        reply_to=[a.lower() for _, a in getaddresses([header_text(msg, "Reply-To")]) if a],
        to=[a.lower() for _, a in getaddresses([header_text(msg, "To"), header_text(msg, "Cc")]) if a],
        date=_date(header_text(msg, "Date")),
        body=body,
        quoted_from=quoted_from,
        html_only=html_only,
        attachments=attachments,
        action_id=header_text(msg, ACTION_HEADER).strip() or None,
        notes=notes,
    )
    parsed.never_request = never_request(msg, parsed)
    return parsed


def header_text(msg: Message, name: str) -> str:
    """A header's value with RFC 2047 encoded words decoded; undecodable words stay as received."""
    value = msg.get(name)
    if value is None:
        return ""
    raw = str(value)
    try:
        decoded = str(make_header(decode_header(raw)))
    except (LookupError, ValueError, UnicodeError, AssertionError):
        decoded = raw
    # Folding whitespace is not content (RFC 5322 §2.2.3); everything else is kept.
    return re.sub(r"\r?\n[ \t]+", " ", decoded).strip()


def message_ids(value: str) -> list[str]:
    """The ``<id>``s of an ``In-Reply-To``/``References`` value, without brackets, in order."""
    found = re.findall(r"<([^<>\s]+)>", value)
    if not found and value.strip() and "@" in value and " " not in value.strip():
        found = [value.strip()]
    return list(dict.fromkeys(found))


def _first_id(value: str) -> str | None:
    ids = message_ids(value)
    return ids[0] if ids else None


def _synthetic_id(raw: bytes) -> str:
    """A stable id for a message without ``Message-ID`` (the same bytes, the same id)."""
    return f"no-message-id.{hashlib.sha256(raw).hexdigest()[:32]}@idqueue.invalid"


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def decode_text(payload: bytes, charset: str | None, notes: list[str]) -> str:
    """Bytes in a declared charset → text, never raising (declared, UTF-8, then Windows-1252)."""
    declared = (charset or "us-ascii").strip().strip('"').lower()
    try:
        codecs.lookup(declared)
    except LookupError:
        notes.append(f"unknown charset {declared[:40]!r}: decoded as UTF-8/Windows-1252")
        declared = ""
    for candidate in (declared, "utf-8"):
        if not candidate:
            continue
        try:
            return payload.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    if declared:
        notes.append(f"text is not valid {declared}: decoded as Windows-1252")
    return payload.decode("cp1252", errors="replace")


def _is_attachment(part: Message) -> bool:
    disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
    if disposition == "attachment":
        return True
    return bool(part.get_filename()) and part.get_content_maintype() != "text"


def _body(msg: Message, notes: list[str]) -> tuple[str, bool, list[Attachment]]:
    """The readable text, whether it came from HTML, and the attachments."""
    plain: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if _is_attachment(part):
            name = _filename(part)
            attachments.append(Attachment(name=name, type=ctype, size=len(data)))
            continue
        if ctype == "text/plain" and plain is None:
            plain = decode_text(data, part.get_content_charset(), notes)
        elif ctype == "text/html" and html is None:
            html = decode_text(data, part.get_content_charset(), notes)
        elif ctype.startswith("message/") or ctype.startswith("text/"):
            continue
        else:
            attachments.append(Attachment(name=_filename(part), type=ctype, size=len(data)))
    if plain is not None and plain.strip():
        return _normalise(plain), False, attachments
    if html is not None:
        return html_to_text(html), True, attachments
    return _normalise(plain or ""), False, attachments


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
        return str(make_header(decode_header(name))) if name else "(unnamed)"
    except (LookupError, ValueError, UnicodeError, AssertionError):
        return str(part.get_filename() or "(unnamed)")


def html_to_text(html: str) -> str:
    """HTML → readable text with inscriptis (layout kept; scripts and styles dropped)."""
    from inscriptis import get_text

    try:
        return _normalise(get_text(html))
    except (ValueError, TypeError, RecursionError):
        return _normalise(html)


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines)


def split_quoted(text: str) -> tuple[str, str]:
    """Split a body into its own text and the quoted history (``"> "`` lines, ``On … wrote:``,
    ``-----Original Message-----``, Outlook's ``From:``/``Sent:`` block); the history is ``""``
    when there is none."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        stripped = line.strip()
        if _starts_quote(lines, i, stripped):
            return "\n".join(lines[:i]).rstrip(), "\n".join(lines[i:]).strip("\n")
    # A trailing block of "> " lines (with blank lines between) is quoted history too.
    end = len(lines)
    start = end
    for i in range(end - 1, -1, -1):
        if lines[i].startswith(">") or (not lines[i].strip() and start < end):
            start = i
        else:
            break
    if start < end and any(line.startswith(">") for line in lines[start:]):
        return "\n".join(lines[:start]).rstrip(), "\n".join(lines[start:]).strip("\n")
    return text, ""


def _starts_quote(lines: list[str], i: int, stripped: str) -> bool:
    for pattern in _QUOTE_START:
        if pattern.match(stripped):
            if stripped.startswith("From: "):
                window = [s.strip() for s in lines[i + 1 : i + 4]]
                return any(s.startswith(("Sent: ", "Date: ")) for s in window)
            return True
    return False


def never_request(msg: Message, parsed: ParsedMail) -> str | None:
    """Why this message can never start a request, or None."""
    if parsed.action_id:
        return "idqueue"
    auto = header_text(msg, "Auto-Submitted").lower()
    if auto and auto.split(";")[0].strip() != "no":
        return "auto-reply"
    if msg.get("X-Autoreply") is not None or msg.get("X-Autorespond") is not None:
        return "auto-reply"
    if header_text(msg, "Precedence").lower() in AUTO_PRECEDENCE:
        return "auto-reply" if header_text(msg, "Precedence").lower() == "auto_reply" else "mailing list"
    local = parsed.sender.partition("@")[0]
    if local in BOUNCE_SENDERS or msg.get_content_type() == "multipart/report":
        return "bounce"
    if msg.get("Return-Path") is not None and header_text(msg, "Return-Path").strip() == "<>":
        return "bounce"
    if msg.get("List-Id") is not None or msg.get("List-Unsubscribe") is not None:
        return "mailing list"
    return None
