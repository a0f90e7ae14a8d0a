"""Shared plumbing for the loopback emulators (every integration's): HTTP server, request log, fault injection, clock.

Each emulator is a :class:`EmulatorServer` subclass that implements :meth:`EmulatorServer.route`
(the normal answer) and :meth:`EmulatorServer.fault_response` (its API's flavour of the special
fault kinds). The server is stdlib ``ThreadingHTTPServer`` bound to ``127.0.0.1`` on an ephemeral
port, so parallel test workers never collide.
"""

from __future__ import annotations

import fnmatch
import json
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self

REDACTED = "[redacted]"


class Clock:
    """An injectable clock: real time by default, or frozen at a given instant.

    A frozen clock only moves when told to (:meth:`advance`, :meth:`set`), which is what tests
    use to cross rate-limit windows without sleeping.

    Args:
        now: the frozen start instant; ``None`` follows the wall clock.
    """

    def __init__(self, now: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._frozen = now.astimezone(UTC) if now is not None else None
        self._offset = timedelta(0)

    def __call__(self) -> datetime:
        with self._lock:
            base = self._frozen if self._frozen is not None else datetime.now(UTC)
            return base + self._offset

    @property
    def frozen(self) -> bool:
        """True when the clock only moves on :meth:`advance`/:meth:`set`."""
        return self._frozen is not None

    def advance(self, delta: timedelta | float) -> datetime:
        """Move the clock forward by ``delta`` (a timedelta or seconds); returns the new now."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        with self._lock:
            self._offset += step
        return self()

    def set(self, when: datetime) -> None:
        """Freeze the clock at ``when``."""
        with self._lock:
            self._frozen = when.astimezone(UTC)
            self._offset = timedelta(0)


def as_clock(now: Callable[[], datetime] | datetime | None) -> Callable[[], datetime]:
    """Normalise a ``now`` argument (callable, instant or None) into a clock callable."""
    if now is None or isinstance(now, datetime):
        return Clock(now)
    return now


# --------------------------------------------------------------------------- request log


@dataclass(slots=True)
class Call:
    """One request the emulator received (the Authorization header and tokens are redacted)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int = 0
    """Final HTTP status; 0 when the connection was dropped without a response."""
    fault: str | None = None
    """The fault kind (or status) injected into this call, if any."""


class CallLog:
    """A thread-safe list of :class:`Call` with small query helpers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []

    def append(self, call: Call) -> None:
        """Record a call."""
        with self._lock:
            self._calls.append(call)

    def all(self) -> list[Call]:
        """A snapshot copy of every call so far."""
        with self._lock:
            return list(self._calls)

    def __iter__(self) -> Iterator[Call]:
        return iter(self.all())

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)

    def __getitem__(self, index: int) -> Call:
        with self._lock:
            return self._calls[index]

    def clear(self) -> None:
        """Forget every recorded call."""
        with self._lock:
            self._calls.clear()

    def calls_to(self, method: str, path: str) -> list[Call]:
        """Calls whose method equals ``method`` (``*`` for any) and whose path matches a glob."""
        want = method.upper()
        return [
            c
            for c in self.all()
            if (want == "*" or c.method == want) and fnmatch.fnmatchcase(c.path, path)
        ]

    def count(self, method: str = "*", path: str = "*") -> int:
        """How many calls match (see :meth:`calls_to`)."""
        return len(self.calls_to(method, path))

    def api(self, name: str) -> list[Call]:
        """Slack: calls of one Web API method (``chat.postMessage``), any HTTP verb."""
        return [c for c in self.all() if c.path.rsplit("/", 1)[-1] == name]

    def filter(self, predicate: Callable[[Call], bool]) -> list[Call]:
        """Calls for which ``predicate`` is true."""
        return [c for c in self.all() if predicate(c)]

    @property
    def last(self) -> Call | None:
        """The most recent call, if any."""
        with self._lock:
            return self._calls[-1] if self._calls else None


# --------------------------------------------------------------------------- faults


@dataclass(slots=True)
class Fault:
    """One injection rule.

    ``match`` is ``"METHOD /path/glob"``, ``"/path/glob"`` (any method) or, for Slack, a Web
    API method name glob (``"chat.postMessage"``). ``kind`` is ``None`` for a plain status
    answer, or one of the special kinds listed in :data:`FAULT_KINDS`.
    """

    match: str
    kind: str | None = None
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    """Remaining uses; a negative number means forever."""
    seconds: float = 2.0
    """``timeout``: how long to stall before applying the request and answering (or dropping):
    a write the server applies late. ``apply_then_stall``: how long to hold the answer after
    applying the write at once."""
    retry_after: int | None = None
    """Seconds for ``Retry-After`` (rate-limit kinds)."""
    drop: bool = False
    """``timeout``: close the connection after stalling instead of answering."""
    variant: str = "truncated"
    """``malformed``: ``truncated`` (cut JSON) or ``content_type`` (HTML with a 200).
    ``non_utf8``: the text after which the bytes ``0xFF 0xFE`` (never valid UTF-8) are put
    into the normal answer, e.g. a message's or issue's title."""
    error: str | None = None
    """Slack: the ``error`` string of an ``ok: false`` answer."""
    hits: int = 0
    """How many requests this rule has answered so far."""

    def matches(self, method: str, path: str, api_name: str | None) -> bool:
        """True when this rule applies to a request."""
        pattern = self.match.strip()
        if " " in pattern:
            want_method, _, path_glob = pattern.partition(" ")
            if want_method.upper() not in ("*", method.upper()):
                return False
            return fnmatch.fnmatchcase(path, path_glob.strip())
        if pattern.startswith("/"):
            return fnmatch.fnmatchcase(path, pattern)
        return api_name is not None and fnmatch.fnmatchcase(api_name, pattern)


FAULT_KINDS = frozenset(
    {
        "rate_limit",
        "secondary_limit",
        "timeout",
        "malformed",
        "drop_after_apply",
        "apply_then_stall",
        "auth",
        "ratelimited",
        "error",
        "non_utf8",
    }
)


class FaultSet:
    """Thread-safe injection rules, consumed first-added first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []

    def add(
        self,
        match: str,
        kind: str | None = None,
        *,
        status: int | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        seconds: float = 2.0,
        retry_after: int | None = None,
        drop: bool = False,
        variant: str = "truncated",
        error: str | None = None,
    ) -> Fault:
        """Add a rule; returns it (its ``hits`` counts uses).

        Args:
            match: ``"METHOD /path/glob"``, ``"/path/glob"`` or a Slack method name glob.
            kind: a special kind (``rate_limit``, ``secondary_limit``, ``timeout`` (stall, then
                apply and answer: a late write), ``apply_then_stall`` (apply at once, answer after
                the stall: a late answer), ``malformed``, ``drop_after_apply``, ``auth``,
                ``ratelimited``, ``error``, ``non_utf8``) or None for a plain ``status``/``body`` answer.
            status: HTTP status for a plain answer (or to override a kind's default).
            body: JSON-able body (or ``bytes``) for a plain answer.
            headers: extra response headers.
            times: how many requests the rule answers; negative = forever.
            seconds: stall time for ``timeout`` and ``apply_then_stall``.
            retry_after: ``Retry-After`` seconds for rate-limit kinds.
            drop: for ``timeout`` and ``apply_then_stall``, drop the connection after stalling.
            variant: for ``malformed``, ``truncated`` or ``content_type``; for ``non_utf8``, the
                text after which the invalid bytes go.
            error: Slack ``error`` string (kind ``error``, e.g. ``channel_not_found``).
        """
        if kind is not None and kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        if kind is None and status is None and error is None:
            raise ValueError("a fault needs a kind, a status or an error")
        if kind is None and error is not None:
            kind = "error"
        rule = Fault(
            match=match,
            kind=kind,
            status=status,
            body=body,
            headers=dict(headers or {}),
            times=times,
            seconds=seconds,
            retry_after=retry_after,
            drop=drop,
            variant=variant,
            error=error,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, method: str, path: str, api_name: str | None = None) -> Fault | None:
        """Consume one use of the first rule matching this request, if any."""
        with self._lock:
            for rule in self._rules:
                if rule.times != 0 and rule.matches(method, path, api_name):
                    if rule.times > 0:
                        rule.times -= 1
                    rule.hits += 1
                    return rule
        return None

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    @property
    def pending(self) -> list[Fault]:
        """Rules with uses left."""
        with self._lock:
            return [r for r in self._rules if r.times != 0]


# --------------------------------------------------------------------------- HTTP plumbing


@dataclass(slots=True)
class Request:
    """A parsed incoming request."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Header names lower-cased."""
    raw_body: bytes
    body: Any
    """Parsed JSON, a form dict, or None."""
    base: str
    """``http://host:port`` as the client addressed us (for absolute Link URLs)."""
    raw_query: str = ""

    def param(self, name: str, default: str | None = None) -> str | None:
        """A query or form/JSON body parameter as a string."""
        if name in self.query:
            return self.query[name]
        if isinstance(self.body, dict) and name in self.body:
            value = self.body[name]
            if value is None:
                return default
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, list | dict):
                return json.dumps(value)
            return str(value)
        return default


@dataclass(slots=True)
class Response:
    """What a handler answers. ``drop`` closes the connection without any response."""

    status: int = 200
    body: Any = None
    """JSON-able value, ``bytes`` (sent as-is) or None (no body)."""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON, as both APIs send it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _redact_headers(headers: dict[str, str]) -> dict[str, str]:
    out = {}
    for key, value in headers.items():
        out[key] = REDACTED if key in ("authorization", "cookie") else value
    return out


def _redact_body(body: Any) -> Any:
    if isinstance(body, dict) and "token" in body:
        body = dict(body)
        body["token"] = REDACTED
    return body


class EmulatorServer:
    """Base class: a loopback HTTP server with a request log and fault rules.

    Args:
        now: the clock (a callable returning an aware datetime).
        api_prefix: path prefix of the API root (``""`` for GitHub, ``"/api/"`` for Slack).
    """

    api_prefix: str = ""
    secret_params: tuple[str, ...] = ("token",)
    """Query parameters that carry credentials: never kept in the request log."""

    def __init__(self, *, now: Callable[[], datetime] | datetime | None = None) -> None:
        self.now: Callable[[], datetime] = as_clock(now)
        self.calls = CallLog()
        self.faults = FaultSet()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._conn_lock = threading.Lock()
        self._conns: set[Any] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind ``127.0.0.1`` on a free port and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        handler = _make_handler(self)
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        # Stalled "timeout" handlers must not block stop().
        httpd.block_on_close = False
        self._httpd = httpd
        self._stopping.clear()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name=f"{type(self).__name__}-http",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        self._stopping.set()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        # Keep-alive connections outlive the listening socket: cut them so a stopped emulator
        # really looks down to clients that hold a pooled connection.
        with self._conn_lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            try:
                conn.shutdown(2)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._httpd is None:
            raise RuntimeError("emulator is not running")
        return int(self._httpd.server_address[1])

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The API root clients are configured with."""
        return self.origin + (self.api_prefix or "")

    # -- hooks for subclasses -----------------------------------------------------------------

    def api_name(self, path: str) -> str | None:
        """The RPC method name of a path (Slack); None for REST APIs."""
        return None

    def route(self, req: Request) -> Response:  # pragma: no cover - abstract
        """Answer a request normally."""
        raise NotImplementedError

    def upgrade(self, req: Request, handler: BaseHTTPRequestHandler) -> Response | None:
        """A WebSocket handshake (``Upgrade: websocket``): serve it on ``handler``'s connection and
        return None when done, or return the HTTP answer that refuses it (the default: 404).

        Implementations record the handshake with :meth:`record` themselves.
        """
        self.record(req, 404)
        return Response(status=404, body=b"Not Found", headers={"Content-Type": "text/plain"})

    def record(self, req: Request, status: int, fault: str | None = None) -> None:
        """Log a request that bypassed :meth:`dispatch` (a WebSocket handshake), tokens redacted."""
        call = Call(method=req.method, path=req.path, query=dict(req.query), headers=_redact_headers(req.headers),
                    body=_redact_body(req.body), status=status, fault=fault)
        for key in ("token", "ticket"):
            call.query.pop(key, None)
        self.calls.append(call)

    def fault_response(self, fault: Fault, req: Request) -> Response:
        """Build the answer for a special fault kind or a plain status fault."""
        body = fault.body if fault.body is not None else {"message": "injected fault"}
        return Response(status=fault.status or 500, body=body, headers=dict(fault.headers))

    # -- dispatch -----------------------------------------------------------------------------

    def stall(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` unless the server is stopping; True if it stopped."""
        return self._stopping.wait(seconds)

    def dispatch(self, req: Request) -> tuple[Response, str | None]:
        """Apply a matching fault, else route. Returns the response and the fault label."""
        fault = self.faults.take(req.method, req.path, self.api_name(req.path))
        if fault is None:
            return self.route(req), None
        label = fault.kind or str(fault.status)
        if fault.kind == "timeout":
            if self.stall(fault.seconds) or fault.drop:
                return Response(drop=True), label
            return self.route(req), label
        if fault.kind == "apply_then_stall":
            resp = self.route(req)  # the write happens now; the answer comes late (or never)
            if self.stall(fault.seconds) or fault.drop:
                return Response(drop=True), label
            return resp, label
        if fault.kind == "drop_after_apply":
            self.route(req)  # the write happens; only the answer is lost
            return Response(drop=True), label
        if fault.kind == "malformed":
            good = self.route(req)
            payload = good.body if isinstance(good.body, bytes) else json_bytes(good.body or {})
            headers = {k: v for k, v in good.headers.items() if k.lower() != "etag"}
            if fault.variant == "content_type":
                headers["Content-Type"] = "text/html; charset=utf-8"
                return Response(
                    status=fault.status or 200,
                    body=b"<html><body><h1>Unicorn!</h1>This page is taking too long.</body></html>",
                    headers=headers,
                ), label
            cut = max(1, len(payload) // 2)
            return Response(status=fault.status or good.status, body=payload[:cut], headers=headers), label
        if fault.kind == "non_utf8":
            return _non_utf8(self.route(req), fault.variant), label
        return self.fault_response(fault, req), label


NON_UTF8 = b"\xff\xfe"
"""Bytes the ``non_utf8`` fault puts into an answer (neither can start a UTF-8 sequence)."""


def _non_utf8(good: Response, after: str) -> Response:
    """The normal answer with :data:`NON_UTF8` right after the first ``after`` (JSON-encoded)."""
    payload = good.body if isinstance(good.body, bytes) else json_bytes(good.body or {})
    needle = json.dumps(after, ensure_ascii=False)[1:-1].encode("utf-8")
    at = payload.find(needle)
    if at < 0:
        return good
    at += len(needle)
    headers = {k: v for k, v in good.headers.items() if k.lower() != "etag"}
    return Response(status=good.status, body=payload[:at] + NON_UTF8 + payload[at:], headers=headers)


class _Handler(BaseHTTPRequestHandler):
    """One HTTP exchange with an emulator (``emulator`` is set per server by :func:`_make_handler`)."""

    emulator: ClassVar[EmulatorServer]
    protocol_version = "HTTP/1.1"
    server_version = "idqueue-sandbox/1.0"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without TCP_NODELAY the second waits for the
        # client's delayed ACK (about 40 ms a request on Linux loopback).
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        with self.emulator._conn_lock:
            self.emulator._conns.add(self.connection)

    def finish(self) -> None:
        with self.emulator._conn_lock:
            self.emulator._conns.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log (it would also show query tokens)."""

    def _handle(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        body = _parse_body(raw, headers.get("content-type", ""))
        host = headers.get("host") or f"127.0.0.1:{self.emulator.port}"
        req = Request(
            method=self.command.upper(),
            path=urllib.parse.unquote(parsed.path),
            query=query,
            headers=headers,
            raw_body=raw,
            body=body,
            base=f"http://{host}",
            raw_query=parsed.query,
        )
        if headers.get("upgrade", "").lower() == "websocket":
            self._upgrade(req)
            return
        try:
            resp, fault = self.emulator.dispatch(req)
        except Exception as exc:  # a bug in the emulator must surface as a 500, not a hang
            resp, fault = Response(status=500, body={"message": f"emulator error: {type(exc).__name__}: {exc}"}), None
        call = Call(
            method=req.method,
            path=req.path,
            query=dict(query),
            headers=_redact_headers(headers),
            body=_redact_body(body),
            status=0 if resp.drop else resp.status,
            fault=fault,
        )
        for name in self.emulator.secret_params:
            call.query.pop(name, None)
        self.emulator.calls.append(call)
        if resp.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        self._send(resp)

    def _upgrade(self, req: Request) -> None:
        # Either the emulator serves the WebSocket to its end, or it refuses with an HTTP
        # answer; the connection is not reused in both cases.
        self.close_connection = True
        try:
            refusal = self.emulator.upgrade(req, self)
        except Exception as exc:
            refusal = Response(status=500, body={"message": f"emulator error: {type(exc).__name__}: {exc}"})
        if refusal is not None:
            self._send(refusal)

    def _send(self, resp: Response) -> None:
        if resp.body is None:
            payload = b""
        elif isinstance(resp.body, bytes):
            payload = resp.body
        else:
            payload = json_bytes(resp.body)
        self.send_response(resp.status)
        headers = dict(resp.headers)
        if resp.body is not None and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json; charset=utf-8"
        for key, value in headers.items():
            self.send_header(key, value)
        if resp.status != 304:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD" and resp.status != 304:
            try:
                self.wfile.write(payload)
            except OSError:
                pass

    do_GET = _handle
    do_POST = _handle
    do_PATCH = _handle
    do_PUT = _handle
    do_DELETE = _handle
    do_HEAD = _handle


def _make_handler(emulator: EmulatorServer) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_Handler,), {"emulator": emulator})


def _parse_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type or text[:1] in "[{":
        try:
            return json.loads(text)
        except ValueError:
            return text
    if "x-www-form-urlencoded" in content_type or "=" in text:
        return {k: v[-1] for k, v in urllib.parse.parse_qs(text, keep_blank_values=True).items()}
    return text
