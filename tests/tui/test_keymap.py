"""Keymap validation and the help screen's sections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tui_helpers import SIZE, ready, wait_for

from idqueue.app import IdqueueApp, binding_contexts
from idqueue.commands.tui_cmds import demo
from idqueue.config import ConfigError, check_keymap
from idqueue.screens.help import HelpScreen


def test_an_unknown_binding_id_suggests_the_closest() -> None:
    keymap = {"queue.asign": "A"}
    with pytest.raises(ConfigError, match=r"unknown binding id 'queue.asign' \(did you mean queue.assign\?\)"):
        check_keymap(keymap, binding_contexts(keymap))


def test_a_key_bound_twice_on_one_screen_is_refused() -> None:
    keymap = {"queue.assign": "t"}
    with pytest.raises(ConfigError, match=r"key 't' is bound twice on the queue screen \(.*queue.assign.*\)"):
        check_keymap(keymap, binding_contexts(keymap))


def test_valid_remaps_pass_including_other_screens() -> None:
    keymap = {"queue.assign": "f2", "dashboard.reload": "ctrl+r", "outbox.drop": "x", "reply.send": "ctrl+enter"}
    check_keymap(keymap, binding_contexts(keymap))
    check_keymap({}, binding_contexts({}))  # the built-in keys never conflict with themselves


@pytest.mark.parametrize(("toml", "needle"), [
    ('[ui.keymap]\n"queue.asign" = "A"\n', "did you mean queue.assign?"),
    ('[ui.keymap]\n"queue.assign" = "t"\n', "bound twice"),
])
def test_the_tui_refuses_a_bad_keymap_with_one_line_and_exit_2(tmp_path: Path, toml: str, needle: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(toml)
    result = CliRunner().invoke(demo, [], env={"IDQUEUE_CONFIG_FILE": str(config),
                                                    "IDQUEUE_DB": str(tmp_path / "q.db")})
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in result.output


async def test_help_lists_every_screens_keys(make_app: Any) -> None:
    app: IdqueueApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        sections = {e.section.split(" (")[0] for e in screen.entries}
        assert {"Queue", "Navigation", "App", "Outbox", "Dashboard", "Reply composer"} <= sections
        ids = {e.binding_id for e in screen.entries}
        assert {"dashboard.previous_month", "reply.send", "outbox.drop", "queue.panes"} <= ids
        assert next(e for e in screen.entries if e.binding_id == "dashboard.reload").section == "Dashboard (m)"
