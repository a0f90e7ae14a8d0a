"""``idqueue sandbox`` output in a real bash: every line a shell can take, and a second shell
that evals it can sync and list the sandbox (its own database, the SANDBOX banner)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from idqueue.cli import Context, cli
from idqueue.commands.sync_cmds import export_lines, read_env_file, write_env_file

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDQUEUE_", "GITHUB_", "GH_", "SLACK_"))}
    config = tmp_path / "config.toml"
    config.write_text("")
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", IDQUEUE_CONFIG_FILE=str(config))
    return env


def test_eval_print_env_then_sync_and_list_in_bash(tmp_path: Path) -> None:
    script = """
set -u
eval "$(idqueue sandbox --print-env)" || exit 90
stop() { kill "$idqueue_sandbox_pid"; while kill -0 "$idqueue_sandbox_pid" 2>/dev/null; do sleep 0.05; done; }
trap stop EXIT
idqueue sync --once --quiet >/dev/null || exit 91
idqueue list --limit 3 || exit 92
idqueue list --json > list.json || exit 93
printf '%s\\n' "$IDQUEUE_DB" > db.txt
"""
    run = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=_clean_env(tmp_path), capture_output=True,
                         text=True, timeout=180, check=False)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split()[:2] == ["KEY", "PRI"]  # the header row
    assert len(lines) == 4
    assert "SANDBOX" in run.stderr
    items = json.loads((tmp_path / "list.json").read_text())
    assert len(items) > 20 and all(i["id"].startswith(("gh:", "slack:")) for i in items)
    # The second shell got a database of its own, removed when the sandbox stopped.
    db = Path((tmp_path / "db.txt").read_text().strip())
    assert db.name == "sandbox.db" and not db.parent.exists()


def test_export_lines_and_env_file_survive_a_shell(tmp_path: Path) -> None:
    env = {"IDQUEUE_TEAM": json.dumps({"ana": {"name": "Ana O'Neil $HOME `x`"}}), "IDQUEUE_ME": "ana",
           "IDQUEUE_SLACK_CHANNELS": "C1,C2"}
    dotenv = tmp_path / "sandbox.env"
    write_env_file(dotenv, env)
    assert read_env_file(dotenv) == env
    assert dotenv.stat().st_mode & 0o777 == 0o600
    script = "\n".join(export_lines(env)) + '\nprintf "%s\\n" "$IDQUEUE_TEAM" "$IDQUEUE_SLACK_CHANNELS"\n'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [env["IDQUEUE_TEAM"], "C1,C2"]
    sourced = subprocess.run(["bash", "-c", f'set -a; . "{dotenv}"; printf "%s" "$IDQUEUE_TEAM"'],
                             capture_output=True, text=True, check=True).stdout
    assert sourced == env["IDQUEUE_TEAM"]


def test_tui_in_a_shell_pointed_at_the_sandbox_shows_the_banner(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    from idqueue.app import IdqueueApp

    seen: dict[str, Any] = {}

    def fake_run(self: IdqueueApp, *args: Any, **kwargs: Any) -> None:
        seen["sandbox"] = self.ctx.sandbox
        seen["subtitle"] = self.sub_title

    monkeypatch.setattr(IdqueueApp, "run", fake_run)
    for key in [k for k in os.environ if k.startswith("IDQUEUE_")]:
        monkeypatch.delenv(key)
    (tmp_path / "c.toml").write_text("")
    monkeypatch.setenv("IDQUEUE_CONFIG_FILE", str(tmp_path / "c.toml"))
    monkeypatch.setenv("IDQUEUE_DB", str(tmp_path / "q.db"))
    monkeypatch.setenv("IDQUEUE_SANDBOX", "true")
    result = CliRunner().invoke(cli, [], obj=Context())
    assert result.exit_code == 0, result.output
    assert seen["sandbox"] is True and "SANDBOX" in seen["subtitle"].upper()
