"""The queue in a browser: textual-serve runs one idqueue TUI per browser session.

Every browser tab that connects opens a websocket; the server starts ``python -m idqueue`` for
it with Textual's web driver (textual-serve's :class:`~textual_serve.app_service.AppService`),
on the same configuration and database as the server itself, and relays the terminal stream.

Nobody gets in without signing in (:class:`WebAuth`): the shared secret or a personal token
(once, as ``?token=…`` or through the sign-in form; then an HttpOnly, SameSite=Strict cookie
signed by the server), or the name an authenticating reverse proxy puts in the configured
``trusted_header``. The person's session runs as them (``IDQUEUE_ME``) when they are on the
roster, and read-only (``IDQUEUE_READ_ONLY=1``) otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import html
import json
import logging
import os
import shlex
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

from idqueue.config import Settings, WebConfig
from idqueue.service.net import is_loopback

__all__ = [
    "COOKIE",
    "Person",
    "WebAuth",
    "WebError",
    "WebRunner",
    "build_web_app",
    "check_can_start",
    "is_loopback",
    "session_env",
]

log = logging.getLogger("idqueue.web")

COOKIE = "idqueue_session"
"""The session cookie's name."""

STATIC = Path(str(files("textual_serve") / "static"))
"""textual-serve's front end: xterm.js, its CSS and the Roboto Mono font."""

PAGE = Path(__file__).with_name("web_page.html")
"""The page that hosts the terminal (textual-serve's, with relative URLs and no outside fonts)."""

_HIDDEN_FROM_SESSIONS = ("IDQUEUE_WEB__",)
"""Server-only variables (the sign-in secrets) that a session's process never needs."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WebError(Exception):
    """The web view cannot start as configured (one line for the user)."""


@dataclass(frozen=True)
class Person:
    """Who a browser session belongs to.

    Attributes:
        name: how they signed in (a roster key, the proxy's user name, or ``viewer``).
        member: their roster key when they are on the roster, else None (read-only).
    """

    name: str
    member: str | None

    @property
    def read_only(self) -> bool:
        """Only a roster member may act."""
        return self.member is None


# ---------------------------------------------------------------------------- who may start
def check_can_start(settings: Settings, *, host: str, insecure_no_auth: bool) -> None:
    """Refuse a web view that anyone could open.

    Raises:
        WebError: no sign-in is configured (and open access was not asked for on loopback).
    """
    web_cfg = settings.web
    configured = web_cfg.secret is not None or bool(web_cfg.tokens) or web_cfg.trusted_header is not None
    if insecure_no_auth:
        if not is_loopback(host):
            raise WebError(f"--insecure-no-auth only listens on loopback (127.0.0.1), not on {host}")
        return
    if not configured:
        raise WebError("the web view needs sign-in: set [web] secret (IDQUEUE_WEB__SECRET), [web.tokens] or "
                       "[web] trusted_header behind an authenticating proxy (see README: The queue in a browser)")


# ---------------------------------------------------------------------------- sign-in
class WebAuth:
    """Signs people in and recognises them again on every request.

    Args:
        web: the ``[web]`` settings.
        roster: the team's roster keys → their members (for the proxy's user names).
        open_as: with no sign-in configured (``--insecure-no-auth`` on loopback), everyone is
            this person.
    """

    def __init__(self, web: WebConfig, roster: Mapping[str, Any], *, open_as: Person | None = None) -> None:
        self.web = web
        self.roster = roster
        self.open_as = open_as
        material = [b"idqueue-web-session"]
        if web.secret is not None:
            material.append(web.secret.get_secret_value().encode())
        material += [f"{k}={v.get_secret_value()}".encode() for k, v in sorted(web.tokens.items())]
        # Changing any secret or token signs every browser out.
        self._key = hashlib.sha256(b"\0".join(material)).digest()

    @property
    def uses_tokens(self) -> bool:
        """Whether a secret or personal tokens are configured (the sign-in form is offered)."""
        return self.web.secret is not None or bool(self.web.tokens)

    def from_token(self, token: str) -> Person | None:
        """The person a secret or token signs in, compared in constant time; None if neither."""
        given = token.strip().encode()
        found: Person | None = None
        # Every candidate is compared (no early exit), so timing tells nothing about which matched.
        for key, value in sorted(self.web.tokens.items()):
            if hmac.compare_digest(given, value.get_secret_value().encode()):
                found = Person(key, key)
        if self.web.secret is not None and hmac.compare_digest(given, self.web.secret.get_secret_value().encode()):
            found = found or Person("viewer", None)
        return found

    def from_header(self, headers: Mapping[str, str]) -> Person | None:
        """The person the trusted proxy names (only when ``trusted_header`` is configured)."""
        if self.web.trusted_header is None:
            return None
        user = headers.get(self.web.trusted_header, "").strip()
        if not user:
            return None
        return Person(user, self.member_named(user))

    def member_named(self, user: str) -> str | None:
        """The roster key of a proxy's user name: the key itself, or a member's email or GitHub login."""
        if user in self.roster:
            return user
        low = user.lower()
        for key, member in self.roster.items():
            if low in {(getattr(member, "email", None) or "").lower(), (getattr(member, "github", None) or "").lower()}:
                return str(key)
        return None

    def cookie_for(self, person: Person, *, now: float | None = None) -> str:
        """A signed cookie value naming ``person`` until ``session_days`` from now."""
        expires = int((now if now is not None else time.time()) + self.web.session_days * 86400)
        body = _b64(json.dumps({"n": person.name, "m": person.member, "x": expires}, separators=(",", ":")).encode())
        return f"{body}.{_b64(self._sign(body))}"

    def from_cookie(self, value: str, *, now: float | None = None) -> Person | None:
        """The person a cookie names, if its signature holds, it has not expired and the member
        still has a token."""
        body, _, mac = value.partition(".")
        try:
            if not hmac.compare_digest(_unb64(mac), self._sign(body)):
                return None
            data = json.loads(_unb64(body))
        except (ValueError, TypeError):
            return None
        if not isinstance(data, dict) or int(data.get("x", 0)) < (now if now is not None else time.time()):
            return None
        member = data.get("m")
        if member is not None and member not in self.web.tokens:
            return None
        return Person(str(data.get("n", "viewer")), member)

    def person(self, request: web.Request) -> Person | None:
        """Who sent ``request``: the trusted proxy's header first, then the session cookie."""
        if self.open_as is not None:
            return self.open_as
        return self.from_header(request.headers) or (
            self.from_cookie(request.cookies[COOKIE]) if COOKIE in request.cookies else None)

    def _sign(self, body: str) -> bytes:
        return hmac.new(self._key, body.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ---------------------------------------------------------------------------- one session's process
def session_env(base: Mapping[str, str], person: Person | None) -> dict[str, str]:
    """The environment of one browser session's idqueue process.

    Args:
        base: the server's environment plus what points at its configuration and database.
        person: who signed in; None keeps the configuration's own ``me`` (open access on loopback).
    """
    env = {k: v for k, v in base.items() if not k.startswith(_HIDDEN_FROM_SESSIONS)}
    env.pop("IDQUEUE_READ_ONLY", None)
    if person is not None:
        env["IDQUEUE_ME"] = person.member or ""
        if person.read_only:
            env["IDQUEUE_READ_ONLY"] = "1"
    return env


class _SessionService(AppService):
    """textual-serve's app process with this session's own environment."""

    def __init__(self, command: str, *, env: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(command, **kwargs)
        self._env = dict(env)

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        # textual-serve's own variables (the web driver, the size, colours) on top of this
        # session's environment instead of the server's.
        textual_vars = {k: v for k, v in super()._build_environment(width, height).items()
                        if k not in os.environ or os.environ[k] != v}
        return {**self._env, **textual_vars}

    async def run(self) -> None:
        """Relay the process's output; when it ends (quit, or it could not start), end the
        browser's session too, so the page says so instead of waiting for a first frame."""
        await super().run()
        with contextlib.suppress(Exception):
            await self.remote_close()


# ---------------------------------------------------------------------------- the web application
class _WebView:
    """The aiohttp handlers: sign-in, the page, textual-serve's static files, the websocket."""

    def __init__(self, auth: WebAuth, *, command: str, env: Mapping[str, str], title: str, max_sessions: int) -> None:
        self.auth = auth
        self.command = command
        self.env = dict(env)
        self.title = title
        self.max_sessions = max_sessions
        self.sockets: set[web.WebSocketResponse] = set()
        self.downloads = DownloadManager()

    @web.middleware
    async def require_person(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every request but the sign-in itself needs a signed-in person."""
        if request.path == "/login" or (request.path == "/" and "token" in request.query):
            return await handler(request)
        person = self.auth.person(request)
        if person is None:
            if request.path == "/" and request.method == "GET":
                return self._login_page(status=401)
            raise web.HTTPUnauthorized(text="idqueue: sign in first\n")
        return await handler(request)

    async def index(self, request: web.Request) -> web.StreamResponse:
        """The page; ``?token=…`` signs in first and then reloads the page without it."""
        if "token" in request.query:
            person = self.auth.from_token(request.query["token"])
            if person is None:
                return self._login_page(status=401, error="That link's token is not valid.")
            rest = {k: v for k, v in request.query.items() if k != "token"}
            return self._signed_in(request, person, "./" + (f"?{urlencode(rest)}" if rest else ""))
        text = PAGE.read_text(encoding="utf-8").replace("{{ title }}", html.escape(self.title))
        return web.Response(text=text, content_type="text/html", headers=_NO_STORE)

    async def login(self, request: web.Request) -> web.StreamResponse:
        """The sign-in form's POST."""
        form = await request.post()
        person = self.auth.from_token(str(form.get("token", "")))
        if person is None:
            return self._login_page(status=401, error="That secret is not valid.")
        return self._signed_in(request, person, "./")

    def _signed_in(self, request: web.Request, person: Person, target: str) -> web.Response:
        # A 200 page that moves on by itself rather than a 303: a SameSite=Strict cookie set in a
        # redirect that followed a link from another site (chat, mail) is not sent on the
        # redirected request, which would land on the sign-in form again.
        page = (f'<!doctype html><meta http-equiv="refresh" content="0;url={html.escape(target)}">'
                f'<title>{html.escape(self.title)}</title><p>Signed in. <a href="{html.escape(target)}">Open the queue</a>')
        response = web.Response(text=page, content_type="text/html", headers=_NO_STORE)
        secure = request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"
        response.set_cookie(COOKIE, self.auth.cookie_for(person), httponly=True, samesite="Strict", secure=secure,
                            path="/", max_age=int(self.auth.web.session_days * 86400))
        return response

    def _login_page(self, *, status: int, error: str = "") -> web.Response:
        if not self.auth.uses_tokens:
            return web.Response(status=status, text="idqueue: sign in through the proxy first\n")
        message = f'<p class="error">{html.escape(error)}</p>' if error else ""
        page = _LOGIN_PAGE.replace("{{ title }}", html.escape(self.title)).replace("{{ message }}", message)
        return web.Response(status=status, text=page, content_type="text/html", headers=_NO_STORE)

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """One browser session: start its idqueue process and relay the terminal both ways."""
        if not _same_origin(request):
            raise web.HTTPForbidden(text="idqueue: the page must come from this server\n")
        if len(self.sockets) >= self.max_sessions:
            raise web.HTTPServiceUnavailable(text=f"idqueue: {self.max_sessions} browser sessions are open already\n")
        person: Person | None = None if self.auth.open_as is not None else self.auth.person(request)
        socket = web.WebSocketResponse(heartbeat=15)
        await socket.prepare(request)
        self.sockets.add(socket)
        service = _SessionService(self.command, env=session_env(self.env, person), write_bytes=socket.send_bytes,
                                  write_str=socket.send_str, close=socket.close, download_manager=self.downloads)
        try:
            await service.start(_int(request.query.get("width"), 80), _int(request.query.get("height"), 24))
            try:
                await _relay(socket, service)
            finally:
                await service.stop()
        except asyncio.CancelledError:
            await socket.close()
        finally:
            self.sockets.discard(socket)
        return socket

    async def close_sockets(self, app: web.Application) -> None:
        """On shutdown: end every session (each session's process quits when its socket goes)."""
        for socket in list(self.sockets):
            await socket.close(code=1001, message=b"idqueue is shutting down")


_NO_STORE = {"Cache-Control": "no-store"}

_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · {{ title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { background: #0c181f; color: #e0e0e0; font-family: monospace; display: flex; justify-content: center; }
form { margin-top: 15vh; padding: 2em; background: #12232d; }
input, button { font: inherit; padding: .4em; margin-top: .6em; }
.error { color: #ff7b72; }
</style></head>
<body><form method="post" action="login">
<h1>{{ title }}</h1>
{{ message }}
<label for="token">Team secret or personal token</label><br>
<input id="token" name="token" type="password" autocomplete="current-password" autofocus size="40"><br>
<button type="submit">Sign in</button>
</form></body></html>
"""


def _same_origin(request: web.Request) -> bool:
    """A websocket must come from a page of this server (no cross-site websocket hijacking).

    Browsers always send ``Origin`` on a websocket; it must name the host the browser asked
    for (``Host``, or ``X-Forwarded-Host`` behind a proxy that rewrites ``Host``).
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser (a browser always sends it): cookies are what guard this
    netloc = urlsplit(origin).netloc.lower()
    hosts = {request.headers.get("Host", "").lower(), request.headers.get("X-Forwarded-Host", "").lower()}
    return bool(netloc) and netloc in hosts


async def _relay(socket: web.WebSocketResponse, service: AppService) -> None:
    """Browser → process: keys, resizes, focus, pings (textual-serve's envelope format)."""
    async for message in socket:
        if message.type != WSMsgType.TEXT:
            continue
        try:
            envelope = message.json()
        except ValueError:
            continue
        if not isinstance(envelope, list) or not envelope:
            continue
        kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
        if kind == "stdin" and isinstance(data, str):
            await service.send_bytes(data.encode("utf-8"))
        elif kind == "resize" and isinstance(data, dict):
            await service.set_terminal_size(_int(data.get("width"), 80), _int(data.get("height"), 24))
        elif kind == "ping":
            await socket.send_json(["pong", data])
        elif kind == "blur":
            await service.blur()
        elif kind == "focus":
            await service.focus()


def _int(value: Any, default: int) -> int:
    try:
        return max(1, min(int(value), 1000))
    except (TypeError, ValueError):
        return default


def session_command() -> str:
    """The shell command textual-serve runs for each session: this Python's idqueue TUI."""
    return shlex.join([sys.executable, "-m", "idqueue"])


def server_env(settings: Settings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The server's environment, pointed explicitly at its configuration file and database.

    A session's process may start in another working directory; the absolute paths keep it on
    the same files. ``IDQUEUE_DATABASE_URL`` and every other variable pass through as they are.
    """
    env = dict(os.environ)
    if settings.config_file is not None:
        env["IDQUEUE_CONFIG_FILE"] = str(Path(settings.config_file).resolve())
    env["IDQUEUE_DB"] = str(Path(settings.db).expanduser().resolve())
    env.update(extra or {})
    return env


def build_web_app(settings: Settings, *, insecure_no_auth: bool = False, env: Mapping[str, str] | None = None,
                  command: str | None = None) -> web.Application:
    """The web view as an aiohttp application (``idqueue web``; ``idqueue serve --web`` mounts it too).

    Args:
        settings: the server's configuration (``[web]``, the roster, the database).
        insecure_no_auth: no sign-in; every session runs as the configuration's own ``me``
            (only for a server that listens on loopback: call :func:`check_can_start` first).
        env: extra variables for the sessions' processes (the sandbox's, say).
        command: the session command (default: this Python's ``idqueue``).
    """
    open_as = Person("local", settings.me) if insecure_no_auth and not _auth_configured(settings.web) else None
    auth = WebAuth(settings.web, settings.team, open_as=open_as)
    view = _WebView(auth, command=command or session_command(), env=server_env(settings, env),
                    title=f"idqueue · {settings.team_name}", max_sessions=settings.web.max_sessions)
    app = web.Application(middlewares=[view.require_person])
    app.add_routes([
        web.get("/", view.index),
        web.post("/login", view.login),
        web.get("/ws", view.websocket),
        web.static("/static", STATIC),
    ])
    app.on_shutdown.append(view.close_sockets)
    return app


def _auth_configured(web_cfg: WebConfig) -> bool:
    return web_cfg.secret is not None or bool(web_cfg.tokens) or web_cfg.trusted_header is not None


class WebRunner:
    """Starts and stops the web view inside a running event loop (for ``idqueue serve --web``).

    Args:
        app: from :func:`build_web_app`.
        host: the address to listen on.
        port: the port (0: any free one; see :attr:`port` after :meth:`start`).
    """

    def __init__(self, app: web.Application, *, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner = web.AppRunner(app, access_log=None)

    async def start(self) -> None:
        """Listen; :attr:`port` is the real port afterwards."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """End every session and stop listening."""
        await self._runner.cleanup()

    @property
    def url(self) -> str:
        """The address to open (``localhost`` for a wildcard host)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/"
