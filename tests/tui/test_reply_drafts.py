"""Reply drafts: what was typed survives closing the composer and restarting the app."""

from __future__ import annotations

from typing import Any

from test_bindings import cursor_request, kinds
from tui_helpers import SIZE, ready, wait_for

from idqueue.outbox.models import ActionKind
from idqueue.screens.confirm import ConfirmScreen
from idqueue.screens.reply import ReplyScreen


async def _free_text(pilot: Any, text: str) -> ReplyScreen:
    reply = await _open(pilot)
    await pilot.press("end", "enter")  # "Free text", into the editor
    await pilot.pause()
    await pilot.press(*text)
    await pilot.pause()
    return reply


async def _open(pilot: Any) -> ReplyScreen:
    await pilot.press("r")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReplyScreen), what="composer")
    reply = pilot.app.screen
    assert isinstance(reply, ReplyScreen)
    await pilot.pause()
    return reply


async def _close_keeping(pilot: Any) -> None:
    await pilot.press("escape")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), what="discard question")
    await pilot.press("n")  # keep draft
    await wait_for(pilot, lambda: pilot.app.screen.__class__.__name__ == "QueueScreen", what="back to the queue")


async def test_free_text_draft_is_kept_restored_and_cleared_by_send(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid, _ = await cursor_request(pilot)
        await _free_text(pilot, "Half a thought")
        await _close_keeping(pilot)
        assert app.ctx.store.draft_of(rid) is not None
        reply = await _open(pilot)
        assert reply.text == "Half a thought"
        assert reply.template_key is None
        assert "Draft restored" in str(reply.query_one("#warnings").render())
        await pilot.press(*" and more")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: ActionKind.REPLY in kinds(app, rid), what="reply queued")
        action = next(a for a in app.ctx.actions.for_request(rid) if a.kind is ActionKind.REPLY)
        assert "Half a thought and more" in (action.text or "")
        await wait_for(pilot, lambda: app.ctx.store.draft_of(rid) is None, what="draft cleared")
        reply = await _open(pilot)  # (the cursor moved on after the reply; nothing kept there either)
        assert reply.restored is None


async def test_discard_forgets_and_ctrl_g_starts_again(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid, _ = await cursor_request(pilot)
        await _free_text(pilot, "Not this")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="discard question")
        await pilot.press("y")  # discard
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "QueueScreen", what="queue")
        assert app.ctx.store.draft_of(rid) is None
        await _free_text(pilot, "Maybe")
        await _close_keeping(pilot)
        reply = await _open(pilot)
        assert reply.text == "Maybe"
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert reply.text == "" and reply.restored is None
        await pilot.press("escape")  # nothing typed any more: closes, and the old draft is gone
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "QueueScreen", what="queue")
        assert app.ctx.store.draft_of(rid) is None


async def test_edited_template_draft_survives_an_app_restart(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rid, _ = await cursor_request(pilot)
        reply = await _open(pilot)
        key, target = reply.template_key, reply.target
        assert key is not None
        await pilot.press("ctrl+e")
        await pilot.pause()
        await pilot.press("end", *" PS: thanks")
        await pilot.pause()
        assert reply.edited
        edited = reply.text
        # The app quits with the composer open: the draft is kept all the same.
    app.ctx.store.close()
    again = make_app()
    async with again.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert (await cursor_request(pilot))[0] == rid
        reply = await _open(pilot)
        assert (reply.template_key, reply.target) == (key, target)
        assert reply.text == edited and reply.edited
        assert reply.restored is not None


async def test_both_target_previews_each_rendering_and_sends_one_message_each(make_app: Any) -> None:
    from tui_helpers import scripted

    from idqueue.domain.models import SourceKind

    app = make_app(dispatch=True)
    writers = scripted(app)
    writers["github"].refuse = False
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = app.queue.table
        row = next(r for r in table.loaded_rows() if {SourceKind("slack"), SourceKind("github")} <= set(r.request.sources))
        table.go_to(row.id)
        await wait_for(pilot, lambda: table.cursor_id == row.id, what="cursor")
        reply = await _free_text(pilot, "**Fixed** in [the docs](https://example.org/d)")
        for _ in range(3):
            if reply.target == "both":
                break
            await pilot.press("ctrl+t")
            await pilot.pause()
        assert reply.target == "both" and reply.targets == ["slack", "github"]
        preview = str(reply.query_one("#preview").render())
        assert "**Fixed** in [the docs](https://example.org/d)" in preview  # GitHub: Markdown
        assert "*Fixed* in <https://example.org/d|the docs>" in preview  # Slack: mrkdwn
        await pilot.press("ctrl+s")
        rid = row.id

        def replies_of() -> list[Any]:
            return [a for a in app.ctx.actions.for_request(rid, unsent_only=False) if a.kind is ActionKind.REPLY]

        await wait_for(pilot, lambda: len(replies_of()) == 2, what="two replies queued")
        replies = {a.target: a for a in replies_of()}
        assert set(replies) == {"github", "slack"}
        assert replies["slack"].text == reply.sent_texts["slack"]
        assert replies["github"].text == reply.sent_texts["github"]
        await wait_for(pilot, lambda: all(replies[t].id in writers[t].sent for t in replies), what="both sent")
        for target, action in replies.items():
            assert writers[target].sent.count(action.id) == 1
