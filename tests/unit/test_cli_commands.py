"""The CLI loads sub-command modules on demand: its table must name every command exactly once."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from typing import Any

import click

import idqueue.commands
from idqueue.cli import COMMAND_MODULES, cli


def test_every_command_module_is_in_the_table_and_nothing_else() -> None:
    found: dict[str, str] = {}
    for info in pkgutil.iter_modules(idqueue.commands.__path__):
        module = importlib.import_module(f"idqueue.commands.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            assert command.name not in found, f"{command.name} is defined twice"
            found[command.name] = info.name
    assert found == COMMAND_MODULES


def test_each_name_resolves_to_its_command() -> None:
    ctx = click.Context(cli)
    for name in COMMAND_MODULES:
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
    assert cli.get_command(ctx, "no-such-command") is None


def test_bare_idqueue_imports_no_sub_command_module_but_the_tui_one() -> None:
    """``idqueue`` alone must not pay for the other commands' imports before its first frame."""
    code = (
        "import sys\n"
        "import idqueue.cli\n"
        "print(sorted(m for m in sys.modules if m.startswith('idqueue.commands.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['idqueue.commands.base']"


def test_building_the_tui_loads_no_api_client(tmp_path: Any) -> None:
    """The first frame needs no API client: they load on the first poll, after it."""
    code = (
        "import sys\n"
        "from idqueue.app import IdqueueApp\n"
        "from idqueue.config import load_settings\n"
        "IdqueueApp.build(load_settings())\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'slack_sdk', 'github', 'httpx', 'plotext'}))\n"
    )
    config = tmp_path / "config.toml"
    config.write_text("")
    env = {"PATH": os.environ.get("PATH", ""), "IDQUEUE_CONFIG_FILE": str(config),
           "IDQUEUE_DB": str(tmp_path / "q.db"), "IDQUEUE_GITHUB_TOKEN": "ghp_" + "x" * 36,
           "IDQUEUE_GITHUB_REPOS": "va-identity/support", "IDQUEUE_SLACK_TOKEN": "xoxb-1-2-abc",
           "IDQUEUE_SLACK_CHANNELS": "C0IDENTITY", "IDQUEUE_SLACK__APP_TOKEN": "xapp-1-abc"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "[]"
