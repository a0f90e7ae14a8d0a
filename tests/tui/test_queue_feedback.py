"""Feedback the queue gives: no browser, refresh, quitting with unsent actions, a request that
leaves under the cursor."""

from __future__ import annotations

from typing import Any

import pytest
from tui_helpers import SIZE, failed_take, ready, scripted, settle, wait_for

from idqueue.app import IdqueueApp
from idqueue.integrations.registry import home_of
from idqueue.screens.queue import QueueScreen
from idqueue.widgets.poller import Poller, PollResult


def messages(app: IdqueueApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_open_without_a_browser_says_so_and_copies_the_link(make_app: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("idqueue.screens.queue._has_browser", lambda: False)
    app: IdqueueApp = make_app()
    opened: list[str] = []
    app.open_url = lambda url, **_: opened.append(url)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        url = app.queue.table.cursor_row.request.url  # type: ignore[union-attr]
        await pilot.press("o")
        await pilot.pause()
        assert opened == []
        assert app.clipboard == url
        assert any("No browser found" in m and str(url) in m for m in messages(app))


async def test_refresh_says_it_is_syncing(make_app: Any) -> None:
    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("R")
        await pilot.pause()
        assert any(m in ("Syncing now…", "A sync is already running.", "Queue re-read.") for m in messages(app))


async def test_quitting_with_unsent_actions_says_what_happens_to_them(make_app: Any,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    app: IdqueueApp = make_app()
    scripted(app)
    failed_take(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.queue.quit_message() is not None, what="outbox counted")
        await pilot.press("q")
        await pilot.pause()
    text = " ".join(capsys.readouterr().err.split())
    assert "failed action" in text and "not sent yet" in text and "idqueue outbox" in text


async def test_quitting_with_nothing_unsent_prints_nothing(make_app: Any, capsys: pytest.CaptureFixture[str]) -> None:
    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert "not sent yet" not in capsys.readouterr().err


async def test_a_request_closed_elsewhere_under_the_cursor_is_announced(make_app: Any) -> None:
    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        await pilot.press("down", "down")
        await settle(pilot)
        table = screen.table
        gone, key = table.cursor_id, table.cursor_row.key  # type: ignore[union-attr]
        with app.ctx.store.write() as conn:
            conn.execute("UPDATE requests SET is_open = 0, status = 'closed' WHERE id = ?", (gone,))
        screen.post_message(Poller.Polled(PollResult(changed=[str(gone)])))
        await wait_for(pilot, lambda: table.cursor_id != gone, what="reload")
        await settle(pilot)
        assert any(m.startswith(f"{key} left the queue") for m in messages(app))


async def test_composer_free_text_preview_is_the_mrkdwn_sent_and_esc_asks(make_app: Any) -> None:
    from idqueue.outbox.models import ActionKind
    from idqueue.screens.confirm import ConfirmScreen
    from idqueue.screens.reply import ReplyScreen

    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        # A request with a Slack thread, so the composer can target Slack.
        rid = next(r.id for r in app.queue.table.loaded_rows() if home_of(r.request, "slack"))
        app.queue.table.go_to(rid)
        await settle(pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplyScreen), what="composer")
        reply = app.screen
        assert isinstance(reply, ReplyScreen)
        if reply.target != "slack":
            await pilot.press("ctrl+t")
        await pilot.press("end", "enter")  # free text
        await pilot.pause()
        await pilot.press(*"**Done** see [docs](https://example.org/a)")
        await pilot.pause()
        assert reply.sent_text == "*Done* see <https://example.org/a|docs>"
        await pilot.press("escape")  # a typed draft is not thrown away without asking
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="discard question")
        await pilot.press("n")  # keep it: the composer closes, and the next one restores the draft
        await wait_for(pilot, lambda: app.screen is app.queue, what="back in the queue")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplyScreen), what="composer again")
        reply = app.screen
        assert isinstance(reply, ReplyScreen)
        await pilot.pause()
        assert reply.text.startswith("**Done**") and reply.target == "slack"
        # The outbox's own plan posts exactly the previewed text.
        steps = app.ctx.actions.plan_reply(str(rid), text=reply.text, target="slack")
        assert [st.text for st in steps if st.kind is ActionKind.REPLY] == [reply.sent_text]


async def test_switching_templates_keeps_the_chosen_target(make_app: Any) -> None:
    from idqueue.domain.models import SourceKind
    from idqueue.screens.reply import ReplyScreen

    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = app.queue.table
        both = next(r for r in table.loaded_rows() if {SourceKind("slack"), SourceKind("github")} <= set(r.request.sources))
        table.go_to(both.id)
        await wait_for(pilot, lambda: table.cursor_id == both.id, what="cursor")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplyScreen), what="composer")
        reply = app.screen
        assert isinstance(reply, ReplyScreen)
        options = reply.query_one("#templates")
        keys = [*reply.order, "\x00free"]
        options.highlighted = keys.index("acknowledge")  # type: ignore[attr-defined]
        await pilot.pause()
        if reply.target != "github":
            await pilot.press("ctrl+t")
            await pilot.pause()
        assert reply.target == "github"
        options.highlighted = keys.index("created")  # type: ignore[attr-defined]  # Slack only
        await pilot.pause()
        assert reply.target == "slack"
        options.highlighted = keys.index("need_more_info")  # type: ignore[attr-defined]
        await pilot.pause()
        assert reply.target == "github"


async def test_take_preview_says_the_message_once_with_names_not_slack_ids(make_app: Any) -> None:
    from idqueue.screens.plan import PlanScreen
    from idqueue.widgets.steps_view import StepsView

    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, PlanScreen), what="take preview")
        await pilot.pause()  # not settle(): the take worker is waiting for this dialog's answer
        view = app.screen.query_one(StepsView)
        rendered = "\n".join(str(part) for part in view.render_steps().renderables)  # type: ignore[attr-defined]
        messages = [s for s in view.steps if getattr(s, "text", None)]
        assert messages, "take posts a message"
        for step in messages:
            first = next(line.strip() for line in str(step.text).splitlines() if line.strip())
            words = " ".join(first.split()[:4])
            assert rendered.count(words) == 1, f"the message is shown more than once: {words!r}\n{rendered}"
        assert "<@U" not in rendered
