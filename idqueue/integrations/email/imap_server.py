"""A loopback IMAP4rev1 server: the subset idqueue's email source and writer use.

Commands (RFC 3501; RFC 9051 where it differs): ``CAPABILITY``, ``NOOP``, ``LOGIN``, ``LOGOUT``,
``SELECT``/``EXAMINE`` (``UIDVALIDITY``, ``UIDNEXT``, ``EXISTS``), ``LIST``, ``STATUS``,
``APPEND`` (with ``APPENDUID``, RFC 4315), ``UID SEARCH`` (``ALL``, ``UID``, ``SINCE``,
``HEADER``), ``UID FETCH`` (``UID``, ``FLAGS``, ``INTERNALDATE``, ``RFC822.SIZE``,
``BODY[]``/``BODY.PEEK[]``), ``IDLE`` (RFC 2177), ``CLOSE``/``UNSELECT``. Plain TCP on
``127.0.0.1`` and an ephemeral port (``security = "none"``).

Mail lives in a :class:`MailStore` that tests and the sandbox seed directly, and that the
loopback SMTP server delivers into. Faults reuse :class:`~idqueue.integrations.loopback.FaultSet`,
matched by command name (``"LOGIN"``, ``"UID FETCH"``, ``"*"``): ``auth`` (``LOGIN`` refused),
``timeout`` (stall ``seconds``, then answer, or drop with ``drop=True``: a slow server),
``drop_after_apply`` (do it, then cut the connection) and ``error`` (a ``NO`` answer).

Why not pymap (the pure-Python IMAP server, 0.36.7, alpha, last change 2024-04): it runs, but its
``dict`` backend keeps each user's mail in a cache created at that user's first login, filled
only through its asyncio internals (``MailboxData.append`` with its own message objects, on its
event loop); ``UIDVALIDITY`` is a private attribute drawn from the clock at folder creation; and
it has no way to refuse a login, drop a connection or stall on a chosen command. The tests need
all three, synchronously, from another thread. This subset is small, and the transcript test
checks it against the RFCs' answer shapes.
"""

from __future__ import annotations

import contextlib
import select
import socket
import socketserver
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime
from typing import Any, Self

from idqueue.integrations.email.imap_wire import (
    Literal,
    WireError,
    literal_size,
    quote,
    sequence_set,
    tokenize,
)
from idqueue.integrations.loopback import Call, CallLog, Fault, FaultSet, as_clock

CAPABILITIES = "IMAP4rev1 IDLE UIDPLUS LITERAL+ UNSELECT"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def imap_date(moment: datetime) -> str:
    """RFC 3501 ``date-time`` (``06-Dec-2026 17:00:00 +0000``)."""
    m = moment.astimezone(UTC)
    return f"{m.day:02d}-{MONTHS[m.month - 1]}-{m.year:04d} {m:%H:%M:%S} +0000"


def _parse_imap_date(text: str) -> datetime:
    day, month, rest = text.strip().split("-", 2)
    year, _, clock_zone = rest.partition(" ")
    when = datetime.strptime(f"{day}-{month}-{year} {clock_zone}", "%d-%b-%Y %H:%M:%S %z")
    return when.astimezone(UTC)


@dataclass
class StoredMessage:
    """One message in a folder."""

    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)
    internaldate: datetime = field(default_factory=lambda: datetime.now(UTC))

    def header(self, name: str) -> str:
        """One header's value (empty when absent)."""
        parsed = BytesHeaderParser().parsebytes(self.raw)
        return str(parsed.get(name, ""))


@dataclass
class Folder:
    """One mailbox: UIDs are strictly ascending and never reused within a ``uidvalidity``."""

    name: str
    uidvalidity: int
    uidnext: int = 1
    messages: list[StoredMessage] = field(default_factory=list)


class MailStore:
    """The server's mail, shared by IMAP sessions, the SMTP sink and tests (thread-safe).

    Args:
        folders: the folders to create (``INBOX`` always exists).
        now: the clock stamped as ``INTERNALDATE`` on delivery.
    """

    def __init__(self, folders: Iterable[str] = ("INBOX", "Sent"), *, now: Callable[[], datetime] | None = None) -> None:
        self.now = as_clock(now)
        self._cond = threading.Condition()
        self._folders: dict[str, Folder] = {}
        self._next_validity = 1000
        self.version = 0
        for name in ("INBOX", *folders):
            self.add_folder(name)

    def add_folder(self, name: str) -> Folder:
        """Create a folder (no-op when it exists)."""
        with self._cond:
            if name not in self._folders:
                self._next_validity += 1
                self._folders[name] = Folder(name, self._next_validity)
            return self._folders[name]

    def folder(self, name: str) -> Folder | None:
        """The folder, or None (``INBOX`` is case-insensitive)."""
        with self._cond:
            return self._folders.get("INBOX" if name.upper() == "INBOX" else name)

    def names(self) -> list[str]:
        """Every folder's name."""
        with self._cond:
            return list(self._folders)

    def deliver(self, folder: str, raw: bytes, *, flags: Iterable[str] = (), when: datetime | None = None) -> int:
        """Add a message; returns its UID. Sessions in IDLE are woken."""
        with self._cond:
            box = self.folder(folder)
            if box is None:
                raise KeyError(folder)
            uid = box.uidnext
            box.uidnext += 1
            box.messages.append(StoredMessage(uid, raw, set(flags), (when or self.now()).astimezone(UTC)))
            self.version += 1
            self._cond.notify_all()
            return uid

    def messages(self, folder: str) -> list[StoredMessage]:
        """A snapshot of a folder's messages."""
        with self._cond:
            box = self.folder(folder)
            return list(box.messages) if box is not None else []

    def find(self, folder: str, message_id: str) -> list[StoredMessage]:
        """Messages of a folder whose ``Message-ID`` contains ``message_id``."""
        return [m for m in self.messages(folder) if message_id in m.header("Message-ID")]

    def renumber(self, folder: str) -> int:
        """Give a folder a new ``UIDVALIDITY`` and new UIDs (as a server does after a rebuild)."""
        with self._cond:
            box = self.folder(folder)
            if box is None:
                raise KeyError(folder)
            self._next_validity += 1
            box.uidvalidity = self._next_validity
            for i, message in enumerate(box.messages, start=1):
                message.uid = i
            box.uidnext = len(box.messages) + 1
            self.version += 1
            self._cond.notify_all()
            return box.uidvalidity

    def wait(self, version: int, timeout: float) -> int:
        """Wait until the store changes past ``version`` (or ``timeout``); the current version."""
        with self._cond:
            self._cond.wait_for(lambda: self.version != version, timeout=timeout)
            return self.version


class _Dropped(Exception):
    """The connection is cut (fault, or the client went away)."""


class _Session:
    """One client connection (runs in its own thread)."""

    def __init__(self, server: ImapServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.buffer = b""
        self.user: str | None = None
        self.selected: Folder | None = None
        self.readonly = False

    # -- I/O ---------------------------------------------------------------------------------
    def send(self, text: str | bytes) -> None:
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        try:
            self.sock.sendall(data)
        except OSError:
            raise _Dropped from None

    def _recv(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except OSError:
            raise _Dropped from None
        if not chunk:
            raise _Dropped
        self.buffer += chunk

    def read_line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._recv()
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def read_exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._recv()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def read_command(self) -> list[bytes | Literal]:
        """One command with its literals (``+`` continuation for synchronising ones)."""
        parts: list[bytes | Literal] = []
        line = self.read_line()
        while True:
            found = literal_size(line)
            if found is None:
                parts.append(line)
                return parts
            size, plus = found
            parts.append(line[: line.rfind(b"{")])
            if not plus:
                self.send("+ Ready for literal data\r\n")
            parts.append(Literal(self.read_exact(size)))
            line = self.read_line()

    # -- loop --------------------------------------------------------------------------------
    def run(self) -> None:
        self.send(f"* OK [CAPABILITY {CAPABILITIES}] idqueue loopback IMAP ready\r\n")
        while not self.server.stopping.is_set():
            parts = self.read_command()
            try:
                tokens = tokenize(parts)
            except WireError as exc:
                self.send(f"* BAD {exc}\r\n")
                continue
            if len(tokens) < 2 or not isinstance(tokens[0], str) or not isinstance(tokens[1], str):
                self.send("* BAD missing tag or command\r\n")
                continue
            tag, name, args = tokens[0], tokens[1].upper(), tokens[2:]
            if name == "UID" and args and isinstance(args[0], str):
                name, args = f"UID {args[0].upper()}", args[1:]
            if self.handle(tag, name, args):
                return

    def handle(self, tag: str, name: str, args: list[Any]) -> bool:
        """Run one command (after faults); True when the session ends."""
        verb, _, rest = name.partition(" ")
        fault = self.server.faults.take(verb, rest, name)
        self.server.log(name, args, fault)
        if fault is not None:
            outcome = self.apply_fault(fault, tag, name, args)
            if outcome is not None:
                return outcome
        return self.dispatch(tag, name, args)

    def apply_fault(self, fault: Fault, tag: str, name: str, args: list[Any]) -> bool | None:
        if fault.kind == "auth":
            self.send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n")
            return False
        if fault.kind == "error":
            self.send(f"{tag} NO [UNAVAILABLE] {fault.error or 'temporary failure'}\r\n")
            return False
        if fault.kind == "timeout":
            if self.server.stopping.wait(fault.seconds) or fault.drop:
                raise _Dropped
            return None
        if fault.kind == "drop_after_apply":
            self.dispatch(tag, name, args, answer=False)
            raise _Dropped
        return None

    def dispatch(self, tag: str, name: str, args: list[Any], *, answer: bool = True) -> bool:
        handler = _COMMANDS.get(name)
        if handler is None:
            self.send(f"{tag} BAD unknown command {name}\r\n")
            return False
        needs_auth = name not in ("CAPABILITY", "NOOP", "LOGOUT", "LOGIN")
        if needs_auth and self.user is None:
            self.send(f"{tag} BAD not authenticated\r\n")
            return False
        if name.startswith("UID ") and self.selected is None:
            self.send(f"{tag} BAD no mailbox selected\r\n")
            return False
        try:
            return handler(self, tag, args, answer)
        except (WireError, ValueError, IndexError, TypeError) as exc:
            self.send(f"{tag} BAD {exc}\r\n")
            return False

    # -- commands ----------------------------------------------------------------------------
    def capability(self, tag: str, args: list[Any], answer: bool) -> bool:
        self.send(f"* CAPABILITY {CAPABILITIES}\r\n{tag} OK CAPABILITY completed\r\n")
        return False

    def noop(self, tag: str, args: list[Any], answer: bool) -> bool:
        if self.selected is not None:
            self.send(f"* {len(self.selected.messages)} EXISTS\r\n")
        self.send(f"{tag} OK NOOP completed\r\n")
        return False

    def logout(self, tag: str, args: list[Any], answer: bool) -> bool:
        self.send(f"* BYE logging out\r\n{tag} OK LOGOUT completed\r\n")
        return True

    def login(self, tag: str, args: list[Any], answer: bool) -> bool:
        user, password = (_text(a) for a in args[:2])
        if self.server.users.get(user) != password:
            self.send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials\r\n")
            return False
        self.user = user
        self.send(f"{tag} OK [CAPABILITY {CAPABILITIES}] LOGIN completed\r\n")
        return False

    def select(self, tag: str, args: list[Any], answer: bool, *, readonly: bool = False) -> bool:
        box = self.server.store.folder(_text(args[0]))
        if box is None:
            self.selected = None
            self.send(f"{tag} NO [NONEXISTENT] no such mailbox\r\n")
            return False
        self.selected, self.readonly = box, readonly
        mode = "READ-ONLY" if readonly else "READ-WRITE"
        self.send(
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
            f"* {len(box.messages)} EXISTS\r\n* 0 RECENT\r\n"
            f"* OK [UIDVALIDITY {box.uidvalidity}] UIDs valid\r\n"
            f"* OK [UIDNEXT {box.uidnext}] predicted next UID\r\n"
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] flags\r\n"
            f"{tag} OK [{mode}] {'EXAMINE' if readonly else 'SELECT'} completed\r\n"
        )
        return False

    def examine(self, tag: str, args: list[Any], answer: bool) -> bool:
        return self.select(tag, args, answer, readonly=True)

    def close(self, tag: str, args: list[Any], answer: bool) -> bool:
        self.selected = None
        self.send(f"{tag} OK CLOSE completed\r\n")
        return False

    def list_folders(self, tag: str, args: list[Any], answer: bool) -> bool:
        pattern = _text(args[1]) if len(args) > 1 else "*"
        import fnmatch

        for name in self.server.store.names():
            if fnmatch.fnmatchcase(name, pattern.replace("%", "*")):
                attrs = "\\HasNoChildren" + (" \\Sent" if name == "Sent" else "")
                self.send(f"* LIST ({attrs}) \"/\" {quote(name)}\r\n")
        self.send(f"{tag} OK LIST completed\r\n")
        return False

    def status(self, tag: str, args: list[Any], answer: bool) -> bool:
        name = _text(args[0])
        box = self.server.store.folder(name)
        if box is None:
            self.send(f"{tag} NO [NONEXISTENT] no such mailbox\r\n")
            return False
        values = {"MESSAGES": len(box.messages), "UIDNEXT": box.uidnext, "UIDVALIDITY": box.uidvalidity,
                  "UNSEEN": sum("\\Seen" not in m.flags for m in box.messages), "RECENT": 0}
        items = " ".join(f"{item} {values[item.upper()]}" for item in args[1] if item.upper() in values)
        self.send(f"* STATUS {quote(name)} ({items})\r\n{tag} OK STATUS completed\r\n")
        return False

    def append(self, tag: str, args: list[Any], answer: bool) -> bool:
        name = _text(args[0])
        rest = args[1:]
        flags: list[str] = rest.pop(0) if rest and isinstance(rest[0], list) else []
        when = _parse_imap_date(rest.pop(0)) if rest and isinstance(rest[0], str) else None
        if not rest or not isinstance(rest[0], bytes):
            raise WireError("APPEND needs a message literal")
        box = self.server.store.folder(name)
        if box is None:
            self.send(f"{tag} NO [TRYCREATE] no such mailbox\r\n")
            return False
        uid = self.server.store.deliver(box.name, rest[0], flags=[str(f) for f in flags], when=when)
        if answer:
            self.send(f"{tag} OK [APPENDUID {box.uidvalidity} {uid}] APPEND completed\r\n")
        return False

    def uid_search(self, tag: str, args: list[Any], answer: bool) -> bool:
        assert self.selected is not None
        found = [m.uid for m in self.selected.messages if _matches(m, args, self.selected.uidnext - 1)]
        self.send(f"* SEARCH{''.join(f' {u}' for u in found)}\r\n{tag} OK SEARCH completed\r\n")
        return False

    def uid_fetch(self, tag: str, args: list[Any], answer: bool) -> bool:
        assert self.selected is not None
        box = self.selected
        largest = box.messages[-1].uid if box.messages else 0
        ranges = sequence_set(_text(args[0]), largest)
        items = args[1] if isinstance(args[1], list) else [args[1]]
        wanted = [str(i).upper() for i in items]
        for seq, message in enumerate(list(box.messages), start=1):
            if any(lo <= message.uid <= hi for lo, hi in ranges):
                self.send(_fetch_response(seq, message, wanted))
                if not self.readonly and any(w.startswith("BODY[") for w in wanted):
                    message.flags.add("\\Seen")
        self.send(f"{tag} OK FETCH completed\r\n")
        return False

    def idle(self, tag: str, args: list[Any], answer: bool) -> bool:
        box = self.selected
        seen = len(box.messages) if box is not None else 0
        version = self.server.store.version
        self.send("+ idling\r\n")  # after noting what the client knows: mail from now on is announced
        while not self.server.stopping.is_set():
            if b"\r\n" in self.buffer:
                break
            ready, _, _ = select.select([self.sock], [], [], 0.05)
            if ready:
                self._recv()
                continue
            version = self.server.store.wait(version, 0.05)
            if box is not None and len(box.messages) != seen:
                seen = len(box.messages)
                self.send(f"* {seen} EXISTS\r\n")
        line = self.read_line()
        if line.strip().upper() != b"DONE":
            self.send(f"{tag} BAD expected DONE\r\n")
            return False
        self.send(f"{tag} OK IDLE terminated\r\n")
        return False


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    raise WireError("expected a string")


def _matches(message: StoredMessage, criteria: list[Any], largest: int) -> bool:
    """Whether a message matches every search key (the subset: ALL, UID, SINCE, HEADER, NOT DELETED)."""
    i = 0
    while i < len(criteria):
        key = _text(criteria[i]).upper()
        if key == "ALL":
            i += 1
        elif key == "UID":
            ranges = sequence_set(_text(criteria[i + 1]), largest)
            if not any(lo <= message.uid <= hi for lo, hi in ranges):
                return False
            i += 2
        elif key == "SINCE":
            day = datetime.strptime(_text(criteria[i + 1]), "%d-%b-%Y").replace(tzinfo=UTC).date()
            if message.internaldate.date() < day:
                return False
            i += 2
        elif key == "HEADER":
            name, value = _text(criteria[i + 1]), _text(criteria[i + 2])
            if value.lower() not in message.header(name).lower():
                return False
            i += 3
        elif key == "NOT" and i + 1 < len(criteria) and _text(criteria[i + 1]).upper() == "DELETED":
            if "\\Deleted" in message.flags:
                return False
            i += 2
        elif key == "CHARSET":
            i += 2
        else:
            raise WireError(f"unsupported search key {key}")
    return True


def _fetch_response(seq: int, message: StoredMessage, wanted: list[str]) -> bytes:
    parts: list[bytes] = [f"UID {message.uid}".encode()]
    for item in wanted:
        if item == "UID":
            continue
        if item == "FLAGS":
            parts.append(f"FLAGS ({' '.join(sorted(message.flags))})".encode())
        elif item == "INTERNALDATE":
            parts.append(f'INTERNALDATE "{imap_date(message.internaldate)}"'.encode())
        elif item == "RFC822.SIZE":
            parts.append(f"RFC822.SIZE {len(message.raw)}".encode())
        elif item in ("BODY[]", "BODY.PEEK[]", "RFC822"):
            name = "RFC822" if item == "RFC822" else "BODY[]"
            parts.append(f"{name} {{{len(message.raw)}}}\r\n".encode() + message.raw)
        else:
            raise WireError(f"unsupported fetch item {item}")
    return f"* {seq} FETCH (".encode() + b" ".join(parts) + b")\r\n"


_COMMANDS: dict[str, Callable[[_Session, str, list[Any], bool], bool]] = {
    "CAPABILITY": _Session.capability,
    "NOOP": _Session.noop,
    "LOGOUT": _Session.logout,
    "LOGIN": _Session.login,
    "SELECT": _Session.select,
    "EXAMINE": _Session.examine,
    "CLOSE": _Session.close,
    "UNSELECT": _Session.close,
    "LIST": _Session.list_folders,
    "STATUS": _Session.status,
    "APPEND": _Session.append,
    "UID SEARCH": _Session.uid_search,
    "UID FETCH": _Session.uid_fetch,
    "IDLE": _Session.idle,
}


class ImapServer:
    """The loopback IMAP server over a :class:`MailStore`.

    Args:
        store: the mail (shared with the SMTP sink and the seed).
        users: login → password.
    """

    def __init__(self, store: MailStore, users: dict[str, str]) -> None:
        self.store = store
        self.users = dict(users)
        self.calls = CallLog()
        self.faults = FaultSet()
        self.stopping = threading.Event()
        self._server: socketserver.ThreadingTCPServer | None = None
        self._thread: threading.Thread | None = None
        self._socks: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def host(self) -> str:
        """Always ``127.0.0.1``."""
        return "127.0.0.1"

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        assert self._server is not None, "not started"
        return int(self._server.server_address[1])

    def log(self, name: str, args: list[Any], fault: Fault | None) -> None:
        """Record a command (``LOGIN``'s password is redacted)."""
        shown = ["[redacted]"] if name == "LOGIN" else [a if isinstance(a, str) else "…" for a in args]
        self.calls.append(Call(method=name, path=" ".join(str(a) for a in shown[:4]), query={}, headers={},
                               body=None, status=0, fault=(fault.kind if fault else None)))

    def start(self) -> Self:
        """Listen on ``127.0.0.1`` (ephemeral port) in a daemon thread."""
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                with server._lock:
                    server._socks.add(sock)
                try:
                    _Session(server, sock).run()
                except _Dropped:
                    pass
                finally:
                    with server._lock:
                        server._socks.discard(sock)
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)

        tcp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        tcp.daemon_threads = True
        tcp.block_on_close = False
        self._server = tcp
        self.stopping.clear()
        self._thread = threading.Thread(target=tcp.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name="imap-loopback")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open session (idempotent)."""
        self.stopping.set()
        tcp, self._server = self._server, None
        if tcp is not None:
            tcp.shutdown()
            tcp.server_close()
        with self._lock:
            socks, self._socks = list(self._socks), set()
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def drop_connections(self) -> None:
        """Cut every open session (the server restarted under its clients)."""
        with self._lock:
            socks = list(self._socks)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def message_date(raw: bytes) -> datetime | None:
    """The ``Date`` header of a raw message as an aware datetime (None when missing or bad)."""
    value = BytesHeaderParser().parsebytes(raw).get("Date")
    if not value:
        return None
    try:
        when = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
