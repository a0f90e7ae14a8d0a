"""Regenerate the README screenshots from the sandbox: ``python -m idqueue.screenshots DIR``.

Starts the seeded emulators with a frozen clock, syncs them into a temporary database, then
drives the TUI headlessly (``App.run_test``) through a few scenes and saves each as an SVG.
The output is deterministic for a given seed and code version.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
"""The frozen instant of every screenshot (a Wednesday afternoon in the team's business hours)."""
SIZE = (160, 50)

Scene = Callable[[Pilot[Any]], Awaitable[None]]


async def _wait(pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 20.0) -> None:
    waited = 0.0
    while not predicate():
        if waited > timeout:
            raise TimeoutError("the screen did not settle")
        await pilot.pause(0.02)
        waited += 0.02


async def _settle(pilot: Pilot[Any]) -> None:
    await pilot.pause()
    await asyncio.gather(*[w.wait() for w in list(pilot.app.workers)], return_exceptions=True)
    await pilot.pause()


async def _ready(pilot: Pilot[Any]) -> None:
    from idqueue.screens.queue import QueueScreen

    app = pilot.app
    await _wait(pilot, lambda: isinstance(app.screen, QueueScreen))
    screen = app.screen
    assert isinstance(screen, QueueScreen)
    await _wait(pilot, lambda: screen.table.loaded and screen.table.cursor_row is not None)
    await _settle(pilot)


async def _go_to(pilot: Pilot[Any], needle: str) -> None:
    screen = pilot.app.queue  # type: ignore[attr-defined]
    row = next(r for r in screen.table.loaded_rows() if needle in r.request.title)
    screen.table.go_to(row.id)
    await _wait(pilot, lambda: screen.table.cursor_id == row.id)
    await _settle(pilot)


async def _modal(pilot: Pilot[Any], key: str, name: str) -> None:
    await pilot.press(key)
    await _wait(pilot, lambda: type(pilot.app.screen).__name__ == name)
    await pilot.pause(0.1)


async def scene_queue(pilot: Pilot[Any]) -> None:
    """The queue in triage order."""
    await pilot.press("down")


async def scene_filtered(pilot: Pilot[Any]) -> None:
    """Pane filters combined: breached + P2, shown in the header."""
    from idqueue.widgets.facet_pane import FacetPane

    screen = pilot.app.queue  # type: ignore[attr-defined]
    screen.query_one("#sla-pane", FacetPane).post_message(FacetPane.Toggled("sla", "breached"))
    await _settle(pilot)
    screen.query_one("#priority-pane", FacetPane).post_message(FacetPane.Toggled("priority", "P2"))
    await _settle(pilot)


async def scene_grouped(pilot: Pilot[Any]) -> None:
    """Grouped by request type."""
    await pilot.press("g")
    await _settle(pilot)
    await pilot.press("home")
    await _settle(pilot)


async def scene_detail(pilot: Pilot[Any]) -> None:
    """The detail pane on the right with the merged timeline."""
    await pilot.press("v")
    await _go_to(pilot, "Cannot sign in to staging with DS Logon")


async def scene_assign(pilot: Pilot[Any]) -> None:
    """The assign picker."""
    await _go_to(pilot, "Test user for staging with LOA3")
    await _modal(pilot, "a", "AssignScreen")


async def scene_take(pilot: Pilot[Any]) -> None:
    """The take preview (assign me + the "assigned" message)."""
    await _go_to(pilot, "Test user for staging with LOA3")
    await _modal(pilot, "t", "PlanScreen")


async def _reply(pilot: Pilot[Any], target: str) -> None:
    await _go_to(pilot, "Test user for staging with LOA3")
    await _modal(pilot, "r", "ReplyScreen")
    reply = pilot.app.screen
    keys = [*reply.order, "\x00free"]  # type: ignore[attr-defined]
    reply.query_one("#templates").highlighted = keys.index("assigned")  # type: ignore[attr-defined]
    await pilot.pause()
    for _ in range(3):  # ctrl+t cycles Slack → GitHub → Both
        if reply.target == target:  # type: ignore[attr-defined]
            break
        await pilot.press("ctrl+t")
        await pilot.pause()


async def scene_reply_slack(pilot: Pilot[Any]) -> None:
    """A reply previewed as a Slack thread message."""
    await _reply(pilot, "slack")


async def scene_reply_github(pilot: Pilot[Any]) -> None:
    """The same reply previewed as a GitHub comment."""
    await _reply(pilot, "github")


async def scene_help(pilot: Pilot[Any]) -> None:
    """Every key and its binding id."""
    await _modal(pilot, "question_mark", "HelpScreen")


async def scene_pending(pilot: Pilot[Any]) -> None:
    """Actions queued in the outbox show as pending (↑) until Slack/GitHub confirm them."""
    await _go_to(pilot, "Test user for staging with LOA3")
    await _modal(pilot, "t", "PlanScreen")
    await pilot.press("y")
    await _wait(pilot, lambda: type(pilot.app.screen).__name__ == "QueueScreen")
    await _settle(pilot)
    await pilot.press("up")
    await _settle(pilot)


class _RefusingGitHub:
    """A GitHub writer that refuses assignments like a token without admin rights (403), and
    "sends" everything else; Slack writes "succeed". Only for the outbox scene: no network."""

    def __init__(self, target: str, now: datetime) -> None:
        self.target = target
        self.now = now

    def send(self, action: Any, *, maybe_sent: bool) -> dict[str, Any]:
        from github import GithubException

        from idqueue.integrations.base import RateLimited
        from idqueue.integrations.github.api import map_github_error

        if self.target == "github" and action.kind.value == "assign":
            raise map_github_error(GithubException(403, {"message": "Must have admin rights to Repository."}, {}),
                                   f"assign @{action.params.get('login')} on {action.params.get('repo')}"
                                   f"#{action.params.get('number')}", now=self.now)
        if self.target == "github" and action.kind.value == "reply":
            raise RateLimited("GitHub secondary rate limit while trying to comment", source="github",
                              until=self.now + timedelta(minutes=4))
        return {}

    def close(self) -> None:
        """Nothing to release."""


async def scene_outbox(pilot: Pilot[Any]) -> None:
    """The outbox (O): a refused assignment waits for you, a comment waits out a rate limit."""
    from idqueue.integrations import registry
    from idqueue.outbox.dispatcher import Dispatcher

    app: Any = pilot.app
    ctx = app.ctx
    screen = app.queue
    done = [r for r in screen.table.loaded_rows() if "Please update the Identity docs link" in r.request.title]
    other = next(r for r in screen.table.loaded_rows()
                 if registry.home_of(r.request, "github") and not r.request.assignee)
    ctx.actions.take(done[0].id)  # Erin Walsh has it: a reassignment
    ctx.actions.reply(other.id, template="acknowledge", target="github")
    now = ctx.clock()
    writers: dict[str, Any] = {t: _RefusingGitHub(t, now) for t in registry.names()}
    Dispatcher(ctx.store, ctx.settings, writers=writers, clock=ctx.clock, sleep=lambda _s: None,
               throttle=0).run_once()
    screen._refresh_outbox()
    await _settle(pilot)
    await _modal(pilot, "O", "OutboxScreen")
    await _wait(pilot, lambda: app.screen.loaded)
    await _settle(pilot)


async def scene_goto(pilot: Pilot[Any]) -> None:
    """The go-to prompt (``:``) with a GitHub issue number typed."""
    from textual.widgets import Input

    await _modal(pilot, "colon", "GoToScreen")
    pilot.app.screen.query_one(Input).value = "#35"
    await pilot.pause(0.1)


async def scene_dashboard(pilot: Pilot[Any]) -> None:
    """The metrics dashboard: this month vs last, trends, breakdowns, SLA, CSAT, breaches."""
    await _modal(pilot, "m", "DashboardScreen")
    await _settle(pilot)
    await pilot.pause(0.3)


async def scene_unread(pilot: Pilot[Any]) -> None:
    """Read marks: a request looked at before its requester wrote again (◆), its new message."""
    from datetime import timedelta

    from idqueue.domain.models import parse_iso

    app = pilot.app
    store = app.ctx.store  # type: ignore[attr-defined]
    rid, last = store.conn.execute(
        "SELECT id, last_outside_at FROM requests WHERE is_open = 1 AND last_outside_at > created_at "
        "ORDER BY seq LIMIT 1").fetchone()
    written = parse_iso(last)
    assert written is not None
    store.mark_seen(rid, written - timedelta(minutes=1))
    screen = app.queue  # type: ignore[attr-defined]
    screen.table.go_to(rid)
    await _wait(pilot, lambda: screen.table.cursor_id == rid and screen.table.cursor_row.request.unread)
    await _wait(pilot, lambda: "◆ new" in screen.detail.text())
    line = next(n for n, text in enumerate(screen.detail.text().splitlines()) if "◆ new" in text)
    screen.detail.scroll_to(y=max(0, line - 4), animate=False)
    await _settle(pilot)


async def scene_consultancy_detail(pilot: Pilot[Any]) -> None:
    """A customer's mail thread: the quoted history collapsed, the Trello card's list."""
    screen = pilot.app.queue  # type: ignore[attr-defined]
    row = next((r for r in screen.table.loaded_rows() if r.request.backlog_state), None)
    if row is not None:
        screen.table.go_to(row.id)
        await _wait(pilot, lambda: screen.table.cursor_id == row.id)
    await _settle(pilot)


SCENES: dict[str, Scene] = {
    "queue": scene_queue,
    "filtered": scene_filtered,
    "grouped": scene_grouped,
    "detail": scene_detail,
    "assign": scene_assign,
    "take": scene_take,
    "reply-slack": scene_reply_slack,
    "reply-github": scene_reply_github,
    "help": scene_help,
    "dashboard": scene_dashboard,
    "pending": scene_pending,
    "outbox": scene_outbox,
    "goto": scene_goto,
    "unread": scene_unread,
    "queue-80x24": scene_queue,
    "reply-80x24": scene_reply_slack,
    "dashboard-100x30": scene_dashboard,
    "jira-queue": scene_queue,
    "consultancy-queue": scene_queue,
    "consultancy-queue-80x24": scene_queue,
    "consultancy-detail": scene_consultancy_detail,
    "consultancy-dashboard": scene_dashboard,
}
"""Each scene starts from its own copy of the synced database, so scenes that act do not leak."""

SCENE_TEAMS: dict[str, str] = {
    "jira-queue": "identity-jira",
    "consultancy-queue": "consultancy",
    "consultancy-queue-80x24": "consultancy",
    "consultancy-detail": "consultancy",
    "consultancy-dashboard": "consultancy",
}
"""The sandbox team a scene is shot on (``identity`` when not listed)."""

SIZES: dict[str, tuple[int, int]] = {"queue-80x24": (80, 24), "reply-80x24": (80, 24), "dashboard-100x30": (100, 30),
                                     "consultancy-queue-80x24": (80, 24)}
"""Scenes shot in a smaller terminal than :data:`SIZE` (the narrow layouts)."""


async def _shoot(settings: Any, db: Path, name: str, scene: Scene, out: Path, health: dict[str, Any]) -> Path:
    from textual.widgets import Input, TextArea

    from idqueue.app import IdqueueApp
    from idqueue.store.db import Store

    store = Store.open(db, key_prefix=settings.ui.key_prefix)
    # The emulators are stopped by now: show the health of the sync that filled the database,
    # and never poll or send.
    # A still frame: the cursor's rest never turns into a read mark while a scene is shot.
    settings = settings.model_copy(update={"ui": settings.ui.model_copy(update={"read_after": 3600.0})})
    app = IdqueueApp.build(settings, store=store, sandbox=True, live=False)
    if app.ctx.engine is not None:
        app.ctx.engine.health = health
    app.ctx.dispatcher = None
    target = out / f"{name}.svg"
    async with app.run_test(size=SIZES.get(name, SIZE)) as pilot:
        await _ready(pilot)
        await scene(pilot)
        await pilot.pause()
        app.clear_notifications()
        for widget in app.screen.query(Input):
            widget.cursor_blink = False
        for area in app.screen.query(TextArea):
            area.cursor_blink = False
        await pilot.pause()
        app.save_screenshot(target.name, str(out))
    store.close()
    return target


def _copy_db(src: Path, dst: Path) -> None:
    """Copy a SQLite database (the backup API also copies what is still in the WAL file)."""
    source, target = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def _synced(team: str, db: Path) -> tuple[Any, dict[str, Any]]:
    """Start ``team``'s seeded sandbox at :data:`NOW`, sync it into ``db`` and stop it; return
    the settings and the sync's health."""
    from idqueue.commands.tui_cmds import sandbox_settings
    from idqueue.sandbox.teams import start_sandbox
    from idqueue.store.db import Store
    from idqueue.sync import SyncEngine, build_sources

    sb = start_sandbox(team, seed=True, now=NOW)
    try:
        settings = sandbox_settings(sb, db, {"now": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")})
        store = Store.open(db, key_prefix=settings.ui.key_prefix)
        engine = SyncEngine(store, build_sources(settings), settings)
        engine.poll()
        health = dict(engine.health)
        store.close()
    finally:
        sb.stop()
    return settings, health


def generate(out: Path, names: list[str] | None = None) -> list[Path]:
    """Write the screenshots into ``out``; returns their paths."""
    from idqueue.outbox import service

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    wanted = [n for n in SCENES if not names or n in names]
    teams = list(dict.fromkeys(SCENE_TEAMS.get(n, "identity") for n in wanted))
    with tempfile.TemporaryDirectory(prefix="idqueue-shots-") as tmp:
        # The screenshots show the defaults, whatever the user's own config.toml says.
        (Path(tmp) / "config.toml").write_text("")
        previous = os.environ.get("IDQUEUE_CONFIG_FILE")
        os.environ["IDQUEUE_CONFIG_FILE"] = str(Path(tmp) / "config.toml")
        real_new_id = service.new_id
        try:
            synced = {team: (Path(tmp) / f"{team}.db", *_synced(team, Path(tmp) / f"{team}.db")) for team in teams}
            for name in wanted:
                db, settings, health = synced[SCENE_TEAMS.get(name, "identity")]
                scene_db = Path(tmp) / f"scene-{name}.db"
                _copy_db(db, scene_db)
                # Outbox action ids are random; a screenshot that shows one must not change every run.
                counter = iter(range(1, 1_000_000))
                service.new_id = lambda prefix="", c=counter: f"{prefix}{next(c):012x}"  # type: ignore[misc]
                written.append(asyncio.run(_shoot(settings.model_copy(update={"db": scene_db}), scene_db, name,
                                                  SCENES[name], out, health)))
        finally:
            service.new_id = real_new_id
            if previous is None:
                os.environ.pop("IDQUEUE_CONFIG_FILE", None)
            else:
                os.environ["IDQUEUE_CONFIG_FILE"] = previous
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m idqueue.screenshots DIR [NAME ...]``."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m idqueue.screenshots DIR [NAME ...]", file=sys.stderr)
        return 2
    for path in generate(Path(args[0]), args[1:] or None):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
