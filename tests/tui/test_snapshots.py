"""Snapshot tests (pytest-textual-snapshot) on the synced sandbox month with a frozen clock.

Update after a deliberate visual change: ``.venv/bin/pytest tests/tui/test_snapshots.py --snapshot-update``
and look at the SVGs under ``tests/tui/__snapshots__/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, ClassVar

from textual.pilot import Pilot
from tui_helpers import SIZE, failed_take, no_blink, ready, scripted, settle, wait_for

from idqueue.app import IdqueueApp
from idqueue.domain.models import SourceKind
from idqueue.integrations.base import AuthError, Batch, RateLimited, Source
from idqueue.screens.assign import AssignScreen
from idqueue.screens.help import HelpScreen
from idqueue.screens.outbox import OutboxScreen
from idqueue.screens.plan import PlanScreen
from idqueue.screens.queue import QueueScreen
from idqueue.screens.reply import ReplyScreen
from idqueue.sync import SyncEngine
from idqueue.widgets.facet_pane import FacetPane

NOW_FIELD = "2026-03-11T15:30:00Z"


async def finish(pilot: Pilot[Any]) -> None:
    """Stable frame: no toasts, no blinking cursor, everything painted."""
    pilot.app.clear_notifications()
    no_blink(pilot)
    await pilot.pause()


async def go_to(pilot: Pilot[Any], needle: str) -> None:
    screen = pilot.app.queue
    row = next(r for r in screen.table.loaded_rows() if needle in r.request.title + r.request.body)
    screen.table.go_to(row.id)
    await wait_for(pilot, lambda: screen.table.cursor_id == row.id, what="cursor")
    await settle(pilot)


async def toggle(pilot: Pilot[Any], pane: str, facet: str, value: str) -> None:
    screen = pilot.app.queue
    screen.query_one(pane, FacetPane).post_message(FacetPane.Toggled(facet, value))
    await pilot.pause()
    await settle(pilot)


def test_queue(snap_compare: Any, make_app: Any) -> None:
    """The queue in triage order: breached first, then at risk, with the panes and the detail."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await finish(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_filter_priority_pane(snap_compare: Any, make_app: Any) -> None:
    """Priority P2 chosen in the Priority pane; the header shows the filter."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await toggle(pilot, "#priority-pane", "priority", "P2")
        await finish(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_filter_sla_pane(snap_compare: Any, make_app: Any) -> None:
    """SLA state "at risk" chosen in the SLA · Age pane."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await toggle(pilot, "#sla-pane", "sla", "at_risk")
        await finish(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_filter_age_bucket(snap_compare: Any, make_app: Any) -> None:
    """Age bucket "1–2d" chosen in the SLA · Age pane."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await toggle(pilot, "#sla-pane", "age", "1–2d")
        await finish(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_filter_type_pane_combined(snap_compare: Any, make_app: Any) -> None:
    """Type "Bug Fix" chosen in the Type pane, combined with priority P2."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await toggle(pilot, "#type-pane", "type", "Bug Fix")
        await toggle(pilot, "#priority-pane", "priority", "P2")
        await finish(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_grouped_by_type(snap_compare: Any, make_app: Any) -> None:
    """Grouping by request type (g)."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("g")
        await settle(pilot)
        await finish(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_detail_pane(snap_compare: Any, make_app: Any) -> None:
    """Detail on the right (v): fields, intake fields, why, SLA clocks and the merged timeline."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("v")
        await go_to(pilot, "Cannot sign in to staging with DS Logon")
        await finish(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_assign_picker(snap_compare: Any, make_app: Any) -> None:
    """The assign picker: open load per member, who is on triage, typed filter."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, AssignScreen))
        await pilot.pause()
        await finish(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def _reply(target: str) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await go_to(pilot, "Test user for staging with LOA3")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReplyScreen))
        reply = pilot.app.screen
        assert isinstance(reply, ReplyScreen)
        keys = [*reply.order, "\x00free"]
        reply.query_one("#templates").highlighted = keys.index("target_date")
        await pilot.pause()
        for _ in range(3):  # ctrl+t cycles Slack → GitHub → Both
            if reply.target == target:
                break
            await pilot.press("ctrl+t")
            await pilot.pause()
        await pilot.pause()
        await finish(pilot)

    return run_before


def test_reply_preview_slack(snap_compare: Any, make_app: Any) -> None:
    """Reply preview as Slack mrkdwn in the thread; the missing due date is highlighted, Send disabled."""
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_reply("slack"))


def test_reply_preview_github(snap_compare: Any, make_app: Any) -> None:
    """The same reply previewed as a GitHub comment (Markdown link syntax)."""
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_reply("github"))


def test_help(snap_compare: Any, make_app: Any) -> None:
    """Every key with its binding id."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        await finish(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


class FailingSource(Source):
    """A source whose every poll fails with a given error."""

    kind: ClassVar[SourceKind] = SourceKind("github")

    def __init__(self, kind: SourceKind, error: Exception) -> None:
        self.kind = kind  # type: ignore[misc]
        self.name = kind.value
        self.error = error

    def fetch(self, cursors: dict[str, Any]) -> Iterator[Batch]:
        raise self.error


def test_error_state(snap_compare: Any, make_app: Any) -> None:
    """GitHub refuses the token and Slack rate-limits: the status bar and toasts say so, the queue stays."""
    app: IdqueueApp = make_app()
    now = app.ctx.clock()
    sources = [
        FailingSource(SourceKind("github"), AuthError("Bad credentials (401): check IDQUEUE_GITHUB_TOKEN")),
        FailingSource(SourceKind("slack"), RateLimited("Slack asked us to slow down (429)", until=now + timedelta(minutes=7))),
    ]
    app.ctx.engine = SyncEngine(app.ctx.store, sources, app.ctx.settings, clock=app.ctx.clock)

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        screen = pilot.app.queue
        assert isinstance(screen, QueueScreen)
        await pilot.press("R")
        await wait_for(pilot, lambda: screen.poller.polls == 1, what="failing poll")
        await settle(pilot)
        no_blink(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_hostile_text_is_literal(snap_compare: Any, make_app: Any) -> None:
    """Rich markup in a title, ANSI/OSC escapes in a body, RTL override, CJK and emoji: all inert text."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("v")
        await go_to(pilot, "[@click=app.quit]")
        await finish(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_outbox_screen(snap_compare: Any, make_app: Any) -> None:
    """The outbox (O): GitHub refused the assignment (403) so it needs attention, the rest of the
    verb waits behind it; the detail shows the whole reason."""
    import idqueue.outbox.service as service

    app: IdqueueApp = make_app()
    scripted(app)
    ids = iter(range(1, 100))
    real = service.new_id
    service.new_id = lambda prefix="": f"{prefix}{next(ids):012x}"  # action ids are random: pin them
    try:
        failed_take(app)
    finally:
        service.new_id = real

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("O")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, OutboxScreen), what="outbox")
        screen = pilot.app.screen
        assert isinstance(screen, OutboxScreen)
        await wait_for(pilot, lambda: screen.loaded, what="rows")
        await settle(pilot)
        await finish(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_take_reassign_preview(snap_compare: Any, make_app: Any) -> None:
    """Take on a request Erin Walsh has: the warning line and the "Reassign (y)" button."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await go_to(pilot, "Please update the Identity docs link in the header")
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, PlanScreen), what="plan")
        await finish(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def _looked_at_before_the_last_reply(app: IdqueueApp) -> list[str]:
    """Mark the requests whose requester wrote again as read just before that message."""
    store = app.ctx.store
    with_replies = store.conn.execute(
        "SELECT id, last_outside_at FROM requests WHERE is_open = 1 AND last_outside_at IS NOT NULL "
        "AND last_outside_at > created_at ORDER BY seq").fetchall()
    assert with_replies, "the seeded month has a requester who wrote again"
    for rid, last in with_replies:
        store.mark_seen(rid, datetime.fromisoformat(last.replace("Z", "+00:00")) - timedelta(minutes=1))
    return [rid for rid, _ in with_replies]


def test_unread_detail(snap_compare: Any, make_app: Any) -> None:
    """The detail of an unread request marks the messages written since the last look (◆ new)."""
    app = make_app(read_after=3600.0)  # the frame before the cursor's rest counts as a read
    (rid, *_) = _looked_at_before_the_last_reply(app)

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        table = pilot.app.queue.table
        table.go_to(rid)
        await wait_for(pilot, lambda: table.cursor_id == rid, what="cursor on the unread request")
        await settle(pilot)
        detail = pilot.app.queue.detail
        await wait_for(pilot, lambda: "◆ new" in detail.text(), what="new messages marked")
        line = next(n for n, text in enumerate(detail.text().splitlines()) if "◆ new" in text)
        detail.scroll_to(y=max(0, line - 4), animate=False)
        await settle(pilot)
        await finish(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_unread_rows(snap_compare: Any, make_app: Any) -> None:
    """Read marks: a request looked at before its requester's latest message shows bold with ◆."""
    app = make_app(read_after=3600.0)  # a still frame: no read mark is written meanwhile
    with_replies = _looked_at_before_the_last_reply(app)

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        table = pilot.app.queue.table
        await wait_for(pilot, lambda: sum(r.request.unread for r in table.loaded_rows()) == len(with_replies),
                       what="unread rows")
        await finish(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
