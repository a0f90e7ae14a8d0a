"""The loopback IMAP server's wire answers, checked against the shapes of RFC 3501 §6-§7
(RFC 9051 alike) and RFC 2177 (IDLE), RFC 4315 (APPENDUID): a raw-socket transcript."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest

from idqueue.integrations.email.emulator import PASSWORD, MailServers

RAW = b"From: a@x.example\r\nSubject: hi\r\nMessage-ID: <m1@x.example>\r\n\r\nbody\r\n"


class Wire:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            self.buf += chunk
        out, _, self.buf = self.buf.partition(b"\r\n")
        return out

    def exact(self, size: int) -> bytes:
        while len(self.buf) < size:
            self.buf += self.sock.recv(65536)
        out, self.buf = self.buf[:size], self.buf[size:]
        return out

    def cmd(self, text: str | bytes, tag: str) -> list[bytes]:
        self.sock.sendall((text if isinstance(text, bytes) else text.encode()) + b"\r\n")
        lines: list[bytes] = []
        while True:
            line = self.line()
            m = re.search(rb"\{(\d+)\}$", line)
            if m:
                line += b"\r\n" + self.exact(int(m.group(1))) + self.line()
            lines.append(line)
            if line.startswith(tag.encode() + b" "):
                return lines


@pytest.fixture
def wire() -> Iterator[tuple[Wire, MailServers]]:
    with MailServers(address="support@example.com") as mail:
        mail.store.deliver("INBOX", RAW)
        w = Wire(mail.imap.port)
        assert w.line().startswith(b"* OK [CAPABILITY IMAP4rev1 ")  # greeting, RFC 3501 §7.1.1
        yield w, mail


def test_transcript(wire: tuple[Wire, MailServers]) -> None:
    w, mail = wire
    assert w.cmd("a001 CAPABILITY", "a001") == [
        b"* CAPABILITY IMAP4rev1 IDLE UIDPLUS LITERAL+ UNSELECT", b"a001 OK CAPABILITY completed"]
    assert w.cmd("a002 SELECT INBOX", "a002")[-1] == b"a002 BAD not authenticated"
    assert w.cmd(f'a003 LOGIN "support@example.com" "{PASSWORD}x"', "a003")[-1].startswith(
        b"a003 NO [AUTHENTICATIONFAILED]")
    assert w.cmd(f'a004 LOGIN "support@example.com" "{PASSWORD}"', "a004")[-1].startswith(b"a004 OK")
    validity = mail.store.folder("INBOX").uidvalidity  # type: ignore[union-attr]
    assert w.cmd("A142 SELECT INBOX", "A142") == [
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)", b"* 1 EXISTS", b"* 0 RECENT",
        f"* OK [UIDVALIDITY {validity}] UIDs valid".encode(), b"* OK [UIDNEXT 2] predicted next UID",
        b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] flags",
        b"A142 OK [READ-WRITE] SELECT completed"]
    assert w.cmd("a005 UID SEARCH UID 1:*", "a005") == [b"* SEARCH 1", b"a005 OK SEARCH completed"]
    assert w.cmd('a006 UID SEARCH HEADER Message-ID "<nope@x>"', "a006")[0] == b"* SEARCH"
    fetched = w.cmd("a007 UID FETCH 1 (FLAGS RFC822.SIZE BODY.PEEK[])", "a007")
    assert fetched[0] == b"* 1 FETCH (UID 1 FLAGS () RFC822.SIZE %d BODY[] {%d}\r\n" % (len(RAW), len(RAW)) + RAW + b")"
    assert w.cmd('a008 STATUS "Sent" (UIDNEXT MESSAGES)', "a008")[0] == b'* STATUS "Sent" (UIDNEXT 1 MESSAGES 0)'
    # APPEND with a synchronising literal: the server asks for it with "+" (RFC 3501 §7.5).
    w.sock.sendall(b'a009 APPEND "Sent" (\\Seen) {%d}\r\n' % len(RAW))
    assert w.line().startswith(b"+ ")
    sent = mail.store.folder("Sent")
    assert w.cmd(RAW, "a009") == [f"a009 OK [APPENDUID {sent.uidvalidity} 1] APPEND completed".encode()]  # type: ignore[union-attr]
    # IDLE (RFC 2177): continuation, untagged EXISTS on new mail, DONE ends it.
    w.sock.sendall(b"a010 IDLE\r\n")
    assert w.line() == b"+ idling"
    mail.store.deliver("INBOX", RAW)
    assert w.line() == b"* 2 EXISTS"
    assert w.cmd("DONE", "a010") == [b"a010 OK IDLE terminated"]
    assert w.cmd("a011 LOGOUT", "a011") == [b"* BYE logging out", b"a011 OK LOGOUT completed"]
    assert "[redacted]" in [c.path for c in mail.imap.calls if c.method == "LOGIN"]
