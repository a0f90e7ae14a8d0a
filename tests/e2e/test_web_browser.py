"""End to end in headless Chromium: ``idqueue web --sandbox`` as a browser sees it.

Signing in, the queue's rows in the terminal (read from xterm.js's buffer), the cursor moving
with ``j``, a viewer's read-only refusal, a team member's own session, and every way in that
has no sign-in refused (page, static files, websocket).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from idqueue.screens.access import READ_ONLY_REFUSAL
from idqueue.service.web_screenshot import (
    BrowserUnavailable,
    WebServer,
    chromium,
    open_queue,
    running_web,
    screen_text,
    wait_for_text,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("web-browser")]

ANA_TOKEN = secrets.token_hex(16)
DETAIL_KEY = re.compile(r"(REQ-\d+)\s+P[1-4]\s+[a-z]")
"""The detail pane's second line: key, priority, status (a table row has its age after the key)."""
ROW_KEY = re.compile(r"(REQ-\d+)\s+\d+[mhd]\s")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        with chromium() as found:
            yield found
    except BrowserUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def server(browser: Any) -> Iterator[WebServer]:
    with running_web(tokens={"ana": ANA_TOKEN}) as running:
        yield running


def detail_key(lines: list[str]) -> str | None:
    found = next((m for m in map(DETAIL_KEY.search, lines) if m), None)
    return found.group(1) if found else None


def row_keys(lines: list[str]) -> list[str]:
    return [m.group(1) for m in map(ROW_KEY.search, lines) if m]


def test_no_sign_in_no_queue(browser: Any, server: WebServer) -> None:
    context = browser.new_context()
    page = context.new_page()
    sockets: list[Any] = []
    page.on("websocket", lambda socket: sockets.append(socket))
    response = page.goto(server.url)
    assert response is not None and response.status == 401
    assert page.locator("input[name=token]").count() == 1  # the sign-in form, not the terminal
    assert context.request.get(server.url + "static/js/textual.js").status == 401
    assert context.request.get(server.url + "ws").status == 401
    # A websocket opened by hand from this page is refused before it opens.
    outcome = page.evaluate("""() => new Promise(done => {
        const socket = new WebSocket(location.href.replace(/^http/, "ws") + "ws");
        socket.onopen = () => done("open");
        socket.onerror = () => done("refused");
    })""")
    assert outcome == "refused"
    assert [s.url for s in sockets] == [server.url.replace("http", "ws", 1) + "ws"]
    # A wrong token signs nobody in.
    wrong = page.goto(server.url + "?token=" + "0" * 32)
    assert wrong is not None and wrong.status == 401
    assert "idqueue_session" not in {c["name"] for c in context.cookies()}
    # The form signs in with the right secret, then the page moves on to the queue.
    page.goto(server.url)
    page.fill("input[name=token]", server.secret)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: url.rstrip("/") == server.url.rstrip("/"))
    cookie = next(c for c in context.cookies() if c["name"] == "idqueue_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert server.secret not in cookie["value"]
    context.close()


def test_viewer_sees_the_queue_moves_the_cursor_and_cannot_act(browser: Any, server: WebServer) -> None:
    page, _ = open_queue(browser, server)
    assert "token=" not in page.url  # the secret does not stay in the address bar or history
    lines = wait_for_text(page, DETAIL_KEY)
    keys = row_keys(lines)
    assert len(keys) >= 10, lines
    assert detail_key(lines) == keys[0]
    assert "read-only" in lines[0]
    page.keyboard.press("j")
    lines = wait_for_text(page, re.compile(rf"{keys[1]}\s+P[1-4]\s+[a-z]"))
    assert detail_key(lines) == keys[1]
    page.keyboard.press("ArrowDown")
    lines = wait_for_text(page, re.compile(rf"{keys[2]}\s+P[1-4]\s+[a-z]"))
    page.keyboard.press("t")
    wait_for_text(page, READ_ONLY_REFUSAL)
    assert detail_key(screen_text(page)) == keys[2]  # nothing moved on: nothing was done
    page.close()


def test_team_member_token_opens_their_own_session(browser: Any, server: WebServer) -> None:
    page, _ = open_queue(browser, server, token=ANA_TOKEN)
    lines = wait_for_text(page, DETAIL_KEY)
    assert "read-only" not in lines[0]
    page.keyboard.press("t")  # take: a team member gets the plan to confirm, not a refusal
    lines = wait_for_text(page, re.compile(r"Take|Assign .* to"))
    assert READ_ONLY_REFUSAL not in "\n".join(lines)
    page.keyboard.press("Escape")
    page.close()
