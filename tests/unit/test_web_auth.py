"""The web view's sign-in, identities and session environments (aiohttp's test server; no browser).

The browser end to end is in ``tests/e2e/test_web_browser.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from idqueue.config import ConfigError, load_settings
from idqueue.service.web import (
    COOKIE,
    Person,
    WebAuth,
    WebError,
    build_web_app,
    check_can_start,
    is_loopback,
    session_env,
)

SECRET = "s" * 24
ANA = "a" * 20
TEAM = {"ana": {"name": "Ana Reyes", "github": "areyes", "email": "ana@example.gov"},
        "ben": {"name": "Ben Ode"}}


@pytest.fixture(autouse=True)
def _no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "config.toml"
    empty.write_text("")
    monkeypatch.setenv("IDQUEUE_CONFIG_FILE", str(empty))
    for name in list(os.environ):
        if name.startswith("IDQUEUE_WEB__") or name in ("IDQUEUE_ME", "IDQUEUE_READ_ONLY", "IDQUEUE_TEAM"):
            monkeypatch.delenv(name)


def settings(**web: Any) -> Any:
    return load_settings(team=TEAM, web=web, db=Path("queue.db"))


# ---------------------------------------------------------------------------- starting
@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.5"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.4", "example.org"])
def test_other_hosts(host: str) -> None:
    assert not is_loopback(host)


def test_no_sign_in_refuses_to_start() -> None:
    with pytest.raises(WebError, match=r"needs sign-in: set \[web\] secret"):
        check_can_start(settings(), host="127.0.0.1", insecure_no_auth=False)
    with pytest.raises(WebError, match="only listens on loopback"):
        check_can_start(settings(), host="0.0.0.0", insecure_no_auth=True)
    check_can_start(settings(), host="127.0.0.1", insecure_no_auth=True)
    check_can_start(settings(secret=SECRET), host="0.0.0.0", insecure_no_auth=False)
    check_can_start(settings(trusted_header="X-Forwarded-User"), host="0.0.0.0", insecure_no_auth=False)


def test_the_command_says_so_in_one_line_and_exits_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDQUEUE_WEB__")}
    done = subprocess.run([sys.executable, "-m", "idqueue", "web", "--host", "0.0.0.0"], env=env,
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("idqueue: the web view needs sign-in")


def test_config_rejects_short_secrets_and_strangers_tokens() -> None:
    with pytest.raises(ConfigError, match="at least 16"):
        settings(secret="short")
    with pytest.raises(ConfigError, match="'zoe' is not in \\[team\\]"):
        settings(tokens={"zoe": ANA})
    with pytest.raises(ConfigError, match="not an HTTP header"):
        settings(trusted_header="X User")


# ---------------------------------------------------------------------------- identities
def test_tokens_name_people() -> None:
    auth = WebAuth(settings(secret=SECRET, tokens={"ana": ANA}).web, TEAM)
    assert auth.from_token(SECRET) == Person("viewer", None)
    assert auth.from_token(ANA) == Person("ana", "ana")
    assert auth.from_token(ANA[:-1]) is None
    assert auth.from_token("") is None


def test_cookie_round_trip_expiry_and_tampering() -> None:
    web = settings(secret=SECRET, tokens={"ana": ANA}).web
    auth = WebAuth(web, TEAM)
    value = auth.cookie_for(Person("ana", "ana"), now=1000.0)
    assert SECRET not in value and ANA not in value
    assert auth.from_cookie(value, now=1000.0) == Person("ana", "ana")
    assert auth.from_cookie(value, now=1000.0 + web.session_days * 86400 + 1) is None
    _, _, mac = value.partition(".")
    forged = WebAuth(web, TEAM).cookie_for(Person("viewer", None), now=1000.0).partition(".")[0]
    assert auth.from_cookie(f"{forged}.{mac}", now=1000.0) is None
    assert auth.from_cookie("garbage", now=1000.0) is None
    # Changing the secret signs everyone out.
    other = WebAuth(settings(secret="t" * 24, tokens={"ana": ANA}).web, TEAM)
    assert other.from_cookie(value, now=1000.0) is None
    # A member whose token is removed is signed out too.
    assert WebAuth(settings(secret=SECRET).web, TEAM).from_cookie(value, now=1000.0) is None


def test_trusted_header_only_when_configured() -> None:
    auth = WebAuth(settings(secret=SECRET).web, TEAM)
    assert auth.from_header({"X-Forwarded-User": "ana"}) is None
    proxied = settings(trusted_header="X-Forwarded-User")
    auth = WebAuth(proxied.web, proxied.team)
    assert auth.from_header({"X-Forwarded-User": "ana"}) == Person("ana", "ana")
    assert auth.from_header({"X-Forwarded-User": "ANA@example.gov"}) == Person("ANA@example.gov", "ana")
    assert auth.from_header({"X-Forwarded-User": "areyes"}) == Person("areyes", "ana")
    assert auth.from_header({"X-Forwarded-User": "lead@example.gov"}) == Person("lead@example.gov", None)
    assert auth.from_header({}) is None


def test_session_env_runs_as_the_person() -> None:
    base = {"IDQUEUE_DB": "/q.db", "IDQUEUE_WEB__SECRET": SECRET, "IDQUEUE_READ_ONLY": "0",
            "IDQUEUE_DATABASE_URL": "postgresql://x", "IDQUEUE_ME": "ben"}
    member = session_env(base, Person("ana", "ana"))
    assert member["IDQUEUE_ME"] == "ana" and "IDQUEUE_READ_ONLY" not in member
    assert "IDQUEUE_WEB__SECRET" not in member
    assert member["IDQUEUE_DATABASE_URL"] == "postgresql://x" and member["IDQUEUE_DB"] == "/q.db"
    viewer = session_env(base, Person("lead@example.gov", None))
    assert viewer["IDQUEUE_ME"] == "" and viewer["IDQUEUE_READ_ONLY"] == "1"
    assert session_env(base, None)["IDQUEUE_ME"] == "ben"


def test_session_env_loads_as_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a viewer's process reads: nobody as ``me``, read-only."""
    for key, value in session_env({"IDQUEUE_ME": "ana"}, Person("lead", None)).items():
        monkeypatch.setenv(key, value)
    loaded = load_settings(team=TEAM)
    assert loaded.me is None and loaded.read_only


# ---------------------------------------------------------------------------- over HTTP
async def client_for(app_settings: Any, **kwargs: Any) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = TestClient(TestServer(build_web_app(app_settings, **kwargs)))
    await client.start_server()
    return client


async def test_everything_needs_sign_in() -> None:
    client = await client_for(settings(secret=SECRET))
    try:
        page = await client.get("/")
        assert page.status == 401 and 'name="token"' in await page.text()
        for path in ("/static/js/textual.js", "/ws", "/static/css/xterm.css"):
            assert (await client.get(path)).status == 401, path
        assert COOKIE not in client.session.cookie_jar.filter_cookies(client.make_url("/"))
    finally:
        await client.close()


async def test_token_link_sets_a_strict_cookie_and_drops_the_token() -> None:
    client = await client_for(settings(secret=SECRET))
    try:
        signed = await client.get(f"/?token={SECRET}&fontsize=20", allow_redirects=False)
        assert signed.status == 200
        header = signed.headers["Set-Cookie"]
        assert "HttpOnly" in header and "SameSite=Strict" in header and SECRET not in header
        assert 'url=./?fontsize=20"' in await signed.text()
        page = await client.get("/")
        assert page.status == 200 and "textual-terminal" in await page.text()
        assert (await client.get("/static/js/textual.js")).status == 200
        assert "googleapis" not in await page.text()  # nothing is loaded from outside
    finally:
        await client.close()


async def test_login_form_and_wrong_secret() -> None:
    client = await client_for(settings(secret=SECRET))
    try:
        wrong = await client.post("/login", data={"token": "nope"})
        assert wrong.status == 401 and "not valid" in await wrong.text()
        assert (await client.get("/")).status == 401
        right = await client.post("/login", data={"token": SECRET})
        assert right.status == 200
        assert (await client.get("/")).status == 200
    finally:
        await client.close()


async def test_websocket_from_another_site_is_refused() -> None:
    client = await client_for(settings(trusted_header="X-Forwarded-User"))
    try:
        headers = {"X-Forwarded-User": "ana", "Origin": "https://evil.example", "Upgrade": "websocket",
                   "Connection": "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                   "Sec-WebSocket-Version": "13"}
        assert (await client.get("/ws", headers=headers)).status == 403
        assert (await client.get("/", headers={"X-Forwarded-User": "ana"})).status == 200
        assert (await client.get("/")).status == 401  # no header, no way in
    finally:
        await client.close()


async def test_runner_for_the_team_service() -> None:
    """``WebRunner`` (what ``idqueue serve --web`` starts in its own loop) on any free port."""
    from aiohttp import ClientSession, CookieJar

    from idqueue.service.web import WebRunner

    runner = WebRunner(build_web_app(settings(secret=SECRET)), host="127.0.0.1", port=0)
    await runner.start()
    try:
        assert runner.port > 0 and runner.url == f"http://127.0.0.1:{runner.port}/"
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:  # unsafe: an IP host
            async with http.get(runner.url) as page:
                assert page.status == 401
            async with http.get(f"{runner.url}?token={SECRET}") as signed:
                assert signed.status == 200
            async with http.get(runner.url) as page:
                assert page.status == 200
    finally:
        await runner.stop()


async def test_insecure_no_auth_opens_without_sign_in() -> None:
    client = await client_for(settings(), insecure_no_auth=True)
    try:
        assert (await client.get("/")).status == 200
        assert (await client.get("/static/js/textual.js")).status == 200
    finally:
        await client.close()


async def test_a_session_whose_process_ends_closes_the_browser_socket() -> None:
    """A session that cannot start (or quits) ends the page's websocket: the page says "Session ended"."""
    import shlex

    from aiohttp import WSMsgType

    failing = shlex.join([sys.executable, "-c", "import sys; print('idqueue: cannot start', file=sys.stderr); sys.exit(3)"])
    client = await client_for(settings(secret=SECRET), command=failing)
    try:
        assert (await client.get(f"/?token={SECRET}")).status == 200
        socket = await client.ws_connect("/ws?width=80&height=24")
        message = await socket.receive(timeout=30)
        assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
    finally:
        await client.close()
