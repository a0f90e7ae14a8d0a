"""The assign picker with an EMPTY roster (Pilot, live sandbox, real clients against the emulators).

It lists the people GitHub says can be assigned in the request's repository, or the members of
a Slack-only request's channel; picking one (or typing a login / ``@name``) assigns them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import OptionList
from tui_helpers import SIZE, first_sync, settle, wait_for

from idqueue.app import IdqueueApp
from idqueue.commands.tui_cmds import sandbox_settings
from idqueue.config import RotaConfig
from idqueue.domain.models import Request
from idqueue.integrations.registry import home_of
from idqueue.sandbox import seed as seed_mod
from idqueue.sandbox.base import SandboxServers
from idqueue.sandbox.runner import Sandbox
from idqueue.screens.assign import AssignScreen
from idqueue.screens.queue import QueueScreen


def _app(sandbox: SandboxServers, tmp_path: Path) -> IdqueueApp:
    """The app on a sandbox (any team's) with the roster, ``me`` and the rota emptied."""
    settings = sandbox_settings(sandbox, tmp_path / "noroster.db",
                                {"now": "2026-03-11T15:30:00Z", "ui": {"poll_interval": 600}})
    settings = settings.model_copy(update={"team": {}, "me": None, "rota": RotaConfig()})
    return IdqueueApp.build(settings, sandbox=True, live=True)


async def _open_picker(pilot: Pilot[Any], app: IdqueueApp, request: Request) -> AssignScreen:
    screen = app.queue
    screen.table.go_to(request.id)
    await wait_for(pilot, lambda: screen.table.cursor_id == request.id, what="cursor")
    await settle(pilot)
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, AssignScreen), timeout=30, what="picker")
    picker = app.screen
    assert isinstance(picker, AssignScreen)
    await wait_for(pilot, lambda: picker.query_one("#members", OptionList).option_count > 0, what="options")
    return picker


def _shown(picker: AssignScreen) -> list[str]:
    options = picker.query_one("#members", OptionList)
    return [str(options.get_option_at_index(i).prompt).strip() for i in range(options.option_count)]


async def test_picker_without_roster_lists_assignable_users_and_members(sandbox: Sandbox, tmp_path: Path) -> None:
    app = _app(sandbox, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await first_sync(pilot)
        rows = [r.request for r in screen.table.loaded_rows()]

        # A GitHub request: the repository's assignable users (GET /repos/{owner}/{repo}/assignees).
        gh_request = next(r for r in rows if home_of(r, "github") and not r.assignee)
        picker = await _open_picker(pilot, app, gh_request)
        shown = _shown(picker)
        assert {m.github for m in seed_mod.ROSTER} <= {line.split()[0] for line in shown}
        assert not any("marcus-lee-va" in line for line in shown)  # a requester, not assignable
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen))

        # A Slack-only request: the channel's members (conversations.members), people only.
        sl_request = next(r for r in rows if not home_of(r, "github") and home_of(r, "slack") and not r.assignee)
        picker = await _open_picker(pilot, app, sl_request)
        shown = _shown(picker)
        assert any(line.startswith("Alex Morgan") and "U0NEWHIRE" in line for line in shown)
        assert any(line.startswith("Ana Reyes") for line in shown)
        assert not any("ID Bot" in line or "idqueue" in line for line in shown)

        # Pick the newcomer by filtering: the thread message that assigns them reaches Slack.
        await pilot.press(*"alex", "enter")
        channel, ts = home_of(sl_request, "slack").removeprefix("slack:").split("/")  # type: ignore[union-attr]

        def assigned_in_thread() -> bool:
            thread = sandbox.slack.state.channel(channel).messages[ts].replies
            messages = [sandbox.slack.state.message(channel, r) for r in thread]
            return any("<@U0NEWHIRE>" in m.text for m in messages)

        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen), what="back to the queue")
        await wait_for(pilot, assigned_in_thread, timeout=60, what="the assignment in the Slack thread")


async def test_picker_without_roster_takes_a_typed_login_and_refuses_strangers(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    app = _app(sandbox, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await first_sync(pilot)
        gh_request = next(r.request for r in screen.table.loaded_rows() if home_of(r.request, "github")
                          and not r.request.assignee)
        await _open_picker(pilot, app, gh_request)
        await pilot.press(*"mallory", "enter")
        await wait_for(pilot, lambda: any("'mallory' cannot be assigned" in n.message for n in app._notifications),
                       timeout=30, what="the refusal")
        assert app.ctx.actions.for_request(gh_request.id) == []

        await _open_picker(pilot, app, gh_request)
        await pilot.press(*"@dev-patel", "enter")
        repo, number = home_of(gh_request, "github").removeprefix("gh:").split("#")  # type: ignore[union-attr]
        await wait_for(pilot, lambda: sandbox.github.state.issue(repo, int(number)).assignees == ["dev-patel"],
                       timeout=60, what="assigned on GitHub")
