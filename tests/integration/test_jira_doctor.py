"""``idqueue doctor`` with Jira configured (a subprocess, settings from the environment only)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from idqueue.integrations.jira.emulator import JIRA_EMAIL, JIRA_TOKEN, JiraEmulator

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def emu() -> Iterator[JiraEmulator]:
    emu = JiraEmulator()
    emu.state.add_project("ID", "Identity support")
    emu.state.add_issue("ID", "Cannot sign in")
    emu.start()
    yield emu
    emu.stop()


def doctor(emu: JiraEmulator, tmp_path: Path, token: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDQUEUE_")}
    env.update({"IDQUEUE_DB": str(tmp_path / "db.sqlite"), "IDQUEUE_CONFIG_FILE": str(config),
                "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "PYTHONPATH": str(ROOT),
                "IDQUEUE_JIRA__BASE_URL": emu.origin, "IDQUEUE_JIRA__EMAIL": JIRA_EMAIL,
                "IDQUEUE_JIRA__API_TOKEN": token, "IDQUEUE_JIRA__PROJECT": "ID"})
    return subprocess.run([sys.executable, "-m", "idqueue", "doctor"], env=env, cwd=str(ROOT), capture_output=True,
                          text=True, timeout=60, check=False)


def test_doctor_checks_token_project_and_transitions(emu: JiraEmulator, tmp_path: Path) -> None:
    result = doctor(emu, tmp_path, JIRA_TOKEN)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "REST v3 (Cloud)" in result.stdout
    assert "jira requests project ok: ID" in result.stdout
    assert "jira transitions     ok" in result.stdout


def test_doctor_says_tokens_expire(emu: JiraEmulator, tmp_path: Path) -> None:
    result = doctor(emu, tmp_path, "revoked-token-0001")
    assert result.returncode == 1
    assert "FAILED: Jira refused the credentials (HTTP 401)" in result.stdout
    assert "expire within a year" in result.stdout
    assert "revoked-token-0001" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
