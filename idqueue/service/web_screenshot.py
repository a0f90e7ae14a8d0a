"""Drive ``idqueue web`` in headless Chromium: the README's browser screenshot and its timings.

``python -m idqueue.service.web_screenshot DIR`` starts ``idqueue web --sandbox`` (the seeded
identity month at a frozen instant) with a one-off secret, signs in from Chromium, waits for
the queue's rows in the terminal and saves ``DIR/web-queue.png``. ``--runs N`` also measures
page-open → first rows N times and each session's memory.

Playwright (a development dependency) drives the system's Chromium (``chromium`` on the
``PATH``); no browser is downloaded. The terminal draws on a canvas, so its text is read from
xterm.js's own buffer: :func:`expose_terminal` makes textual-serve's front end publish its
terminal object to the page.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NOW = "2026-03-11T15:30:00Z"
"""The frozen instant of the screenshot (the same as the TUI screenshots')."""
VIEWPORT = {"width": 1440, "height": 900}
_HOOK = re.compile(r"const (\w+)=new (\w+)\((\w+),\{ping:(\w+)\}\);")


class BrowserUnavailable(RuntimeError):
    """No Chromium on this machine (or Playwright is not installed)."""


@dataclass
class WebServer:
    """A running ``idqueue web`` (see :func:`running_web`)."""

    url: str
    secret: str
    process: subprocess.Popen[str]

    def session_rss_kib(self) -> list[int]:
        """Resident memory of each browser session's idqueue process (KiB), from ``/proc``."""
        return [_rss(pid) for pid in _descendants(self.process.pid) if _is_session(pid)]


@contextmanager
def running_web(*, tokens: dict[str, str] | None = None, extra_env: dict[str, str] | None = None,
                timeout: float = 120.0) -> Iterator[WebServer]:
    """Start ``idqueue web --sandbox --port 0`` with a fresh secret (and personal ``tokens``),
    yield it once it listens, stop it afterwards."""
    secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="idqueue-web-shot-") as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text("", encoding="utf-8")
        env = {**os.environ, "IDQUEUE_CONFIG_FILE": str(config), "IDQUEUE_NOW": NOW,
               "IDQUEUE_WEB__SECRET": secret, **(extra_env or {})}
        if tokens:
            import json

            env["IDQUEUE_WEB__TOKENS"] = json.dumps(tokens)
        process = subprocess.Popen([sys.executable, "-m", "idqueue", "web", "--sandbox", "--port", "0"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp)
        try:
            yield WebServer(_wait_for_url(process, timeout), secret, process)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_url(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        seen.append(line.rstrip())
        found = re.search(r"idqueue web: (http://\S+)", line)
        if found:
            return found.group(1)
    raise RuntimeError("idqueue web did not start: " + " | ".join(seen[-5:]))


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (the system's) driven by Playwright.

    Raises:
        BrowserUnavailable: Playwright or a ``chromium`` executable is missing.
    """
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        raise BrowserUnavailable("no chromium on the PATH (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BrowserUnavailable("playwright is not installed (pip install -e '.[dev]')") from exc
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def expose_terminal(page: Any) -> None:
    """Make textual-serve's front end publish its terminal as ``window.__idqueueTerminals``.

    The script is served by idqueue unchanged; only this page's copy is patched on the way in.
    """

    def patch(route: Any) -> None:
        response = route.fetch()
        body = response.text()
        if not _HOOK.search(body):
            raise RuntimeError("textual-serve's textual.js changed: cannot find where it creates the terminal")
        body = _HOOK.sub(lambda m: m.group(0) + f"(window.__idqueueTerminals=window.__idqueueTerminals||[]).push({m.group(1)});",
                         body, count=1)
        route.fulfill(response=response, body=body)

    page.route("**/static/js/textual.js", patch)


def screen_text(page: Any) -> list[str]:
    """The terminal's visible lines, as xterm.js holds them."""
    lines: list[str] = page.evaluate("""() => {
        const terms = window.__idqueueTerminals || [];
        if (!terms.length) return [];
        const buffer = terms[0].terminal.buffer.active;
        const out = [];
        for (let i = 0; i < terms[0].terminal.rows; i++) {
            const line = buffer.getLine(buffer.viewportY + i);
            out.push(line ? line.translateToString(true) : "");
        }
        return out;
    }""")
    return lines


def wait_for_text(page: Any, needle: str | re.Pattern[str], *, timeout: float = 60.0) -> list[str]:
    """Wait until the terminal shows ``needle``; return the screen's lines then."""
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        lines = screen_text(page)
        text = "\n".join(lines)
        if (needle.search(text) if isinstance(needle, re.Pattern) else needle in text):
            return lines
        page.wait_for_timeout(50)
    raise TimeoutError(f"the terminal never showed {needle!r}; last screen:\n" + "\n".join(lines))


QUEUE_ROW = re.compile(r"REQ-\d+")
"""A queue row's short key."""


def open_queue(browser: Any, server: WebServer, *, token: str | None = None) -> tuple[Any, float]:
    """Sign in with ``token`` (default: the shared secret) in a new page and wait for the queue's
    rows; return the page and the seconds from opening the page to the first rows."""
    page = browser.new_page(viewport=VIEWPORT)
    expose_terminal(page)
    start = time.monotonic()
    page.goto(f"{server.url}?token={token or server.secret}")
    # The sign-in answer sets the cookie and moves on to the clean address by itself.
    page.wait_for_url(lambda url: "token=" not in url)
    page.wait_for_load_state("load")
    wait_for_text(page, QUEUE_ROW)
    elapsed = time.monotonic() - start
    page.locator(".xterm-helper-textarea").focus()
    return page, elapsed


def shoot(out_dir: Path, *, runs: int = 0) -> dict[str, Any]:
    """Save ``web-queue.png`` in ``out_dir``; with ``runs``, also time that many fresh sessions.

    Returns:
        ``path``, ``first_rows_s`` (each run's seconds) and ``session_rss_mib``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "web-queue.png"
    timings: list[float] = []
    rss: list[float] = []
    with running_web() as server, chromium() as browser:
        page, first = open_queue(browser, server)
        wait_for_text(page, "read-only")
        page.wait_for_timeout(500)  # the queue's last repaint (SLA clocks, footer) settles
        page.screenshot(path=str(path))
        timings.append(first)
        rss += [kib / 1024 for kib in server.session_rss_kib()]
        page.close()
        for _ in range(runs):
            page, first = open_queue(browser, server)
            timings.append(first)
            rss += [kib / 1024 for kib in server.session_rss_kib()]
            page.close()
    return {"path": path, "first_rows_s": timings, "session_rss_mib": rss}


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            out += children
            todo += children
    return out


def _is_session(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return cmdline[1:3] == [b"-m", b"idqueue"] and len([c for c in cmdline if c]) == 3


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main(argv: list[str]) -> int:
    """``python -m idqueue.service.web_screenshot DIR [--runs N]``."""
    if not argv or argv[0].startswith("-"):
        print("usage: python -m idqueue.service.web_screenshot DIR [--runs N]", file=sys.stderr)
        return 2
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 0
    try:
        result = shoot(Path(argv[0]), runs=runs)
    except BrowserUnavailable as exc:
        print(f"web screenshot skipped: {exc}", file=sys.stderr)
        return 0
    print(f"wrote {result['path']}")
    if runs:
        times = result["first_rows_s"][1:]
        print(f"page open → first rows: median {statistics.median(times):.2f} s over {len(times)} sessions "
              f"(first session {result['first_rows_s'][0]:.2f} s)")
        if result["session_rss_mib"]:
            print(f"per-session memory (RSS): median {statistics.median(result['session_rss_mib']):.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
