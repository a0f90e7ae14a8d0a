"""End to end in a real terminal: tmux runs ``idqueue demo``, keys are sent, the screen is read.

The demo starts the sandbox emulators in-process with a frozen clock and a fresh database; the
test assigns the first request to Ben and waits until the outbox has sent it to the GitHub
emulator and the row shows the new assignee. Waits poll ``capture-pane`` with a deadline
(no fixed sleeps); the private tmux server is killed in ``finally``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

TMUX = shutil.which("tmux")
NOW = "2026-03-11T15:30:00Z"
WIDTH, HEIGHT = 160, 50
ROW_RE = re.compile(r"\b(REQ-\d+)\b")


class Tmux:
    """A private tmux server (``-L``) with one detached session."""

    def __init__(self, tmp: Path) -> None:
        assert TMUX is not None
        self.socket = f"idqueue-e2e-{uuid.uuid4().hex[:10]}"
        self.session = "idqueue"
        self.tmp = tmp

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert TMUX is not None
        return subprocess.run([TMUX, "-L", self.socket, *args], capture_output=True, text=True, check=check,
                              timeout=30)

    def start(self, command: list[str], env: dict[str, str]) -> None:
        exports = " ".join(f"{k}={_quote(v)}" for k, v in env.items())
        # Textual draws on stderr, so it is not redirected; a crash stays visible (remain-on-exit).
        shell = f"env -i {exports} {' '.join(_quote(c) for c in command)}"
        self.run("-f", "/dev/null", "new-session", "-d", "-s", self.session, "-x", str(WIDTH), "-y", str(HEIGHT),
                 shell)
        self.run("set-option", "-t", self.session, "remain-on-exit", "on")

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session).stdout

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.session, *keys)

    def pane_dead(self) -> bool:
        out = self.run("display-message", "-p", "-t", self.session, "#{pane_dead}", check=False)
        return out.returncode != 0 or out.stdout.strip() == "1"

    def kill(self) -> None:
        self.run("kill-server", check=False)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def wait_until(tmux: Tmux, check: Callable[[str], bool], what: str, timeout: float = 60.0) -> str:
    """Poll the screen until ``check(screen)`` holds; fail with the last screen after ``timeout``."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux.screen()
        if check(screen):
            return screen
        if tmux.pane_dead():
            screen = tmux.screen()
            if check(screen):
                return screen
            break
        time.sleep(0.2)  # polling interval of a bounded wait, not a wait for something to happen
    raise AssertionError(f"timed out waiting for {what}\n--- screen ---\n{screen}")


def first_row(screen: str) -> tuple[str, str]:
    """(key, line) of the first queue row on screen."""
    for line in screen.splitlines():
        match = ROW_RE.search(line)
        if match:
            return match.group(1), line
    raise AssertionError(f"no queue row on screen:\n{screen}")


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")
def test_demo_in_tmux_assign_reaches_the_sandbox(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    env = {
        "IDQUEUE_NOW": NOW,
        "IDQUEUE_DB": str(tmp_path / "unused.db"),
        "IDQUEUE_CONFIG_FILE": str(config),
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "HOME": str(tmp_path),
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }
    tmux = Tmux(tmp_path)
    try:
        tmux.start([sys.executable, "-m", "idqueue", "demo"], env)
        screen = wait_until(tmux, lambda s: "SANDBOX" in s and ROW_RE.search(s) is not None
                            and "synced" in s, "the synced queue", timeout=90)
        assert "Open queue" in screen
        assert "GitHub ok" in screen and "Slack ok" in screen
        assert "Sign-in modal closes immediately on iOS Safari" in screen
        assert "[bold red]pwn[/] [@click=app.quit]x[/]" in screen  # hostile title shown literally
        key, line = first_row(screen)
        assert "Ben Okafor" not in line

        tmux.keys("a")
        wait_until(tmux, lambda s: "Assign " in s and "on triage" in s, "the assign picker")
        tmux.keys("b", "e", "n", "Enter")  # type to filter, Enter assigns the (only) match

        def assigned(s: str) -> bool:
            row = next((ln for ln in s.splitlines() if re.search(rf"\b{key}\b", ln)), "")
            # "→Ben Okafor" is the pending display; the plain name means GitHub confirmed it.
            return "Ben Okafor" in row and "→" not in row and "outbox: all sent" in s

        screen = wait_until(tmux, assigned, f"{key} assigned to Ben and sent", timeout=90)
        assert "Assign " not in screen.split("\n", 3)[-1][:200]  # the picker closed

        tmux.keys("q")
        wait_until(tmux, lambda s: tmux.pane_dead(), "idqueue to quit", timeout=30)
    finally:
        tmux.kill()
