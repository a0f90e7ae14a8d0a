"""The deployment files the README points to stay runnable: the systemd unit passes
``systemd-analyze verify`` and both it and the container start ``idqueue serve`` with options
the command accepts."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "idqueue-serve.service"
CONTAINERFILE = ROOT / "deploy" / "Containerfile"


def _accepted(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``idqueue`` with ``argv`` plus ``--help``: click refuses unknown options before help."""
    return subprocess.run([sys.executable, "-m", "idqueue", *argv, "--help"], capture_output=True, text=True,
                          timeout=60, cwd=str(ROOT))


def test_the_systemd_unit_verifies_and_runs_a_command_idqueue_accepts(tmp_path: Path) -> None:
    text = UNIT.read_text(encoding="utf-8")
    exec_start = re.search(r"^ExecStart=(.+)$", text, re.M)
    assert exec_start is not None
    argv = shlex.split(exec_start.group(1))
    assert argv[0].endswith("/idqueue") and argv[1] == "serve"
    assert _accepted(argv[1:]).returncode == 0
    # Settings and secrets come from the environment file, never from the unit itself.
    assert "EnvironmentFile=" in text and not re.search(r"^(Environment=|ExecStart=).*IDQUEUE_", text, re.M)
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed: the unit's syntax is not verified here")
    local = tmp_path / UNIT.name
    local.write_text(text.replace(argv[0], shutil.which("true") or "/bin/true"), encoding="utf-8")
    verified = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60)
    problems = [ln for ln in verified.stderr.splitlines() if UNIT.name in ln]
    assert verified.returncode == 0 and not problems, verified.stderr


def test_the_container_recipe_starts_the_service_with_accepted_options() -> None:
    text = CONTAINERFILE.read_text(encoding="utf-8")
    entry = re.search(r"^ENTRYPOINT (\[.*\])$", text, re.M)
    assert entry is not None
    argv = json.loads(entry.group(1))
    assert argv[:2] == ["idqueue", "serve"]
    assert _accepted(argv[1:]).returncode == 0
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.M)
    for copied in re.findall(r"^COPY (\S+)", text, re.M):
        assert (ROOT / copied).exists(), copied
