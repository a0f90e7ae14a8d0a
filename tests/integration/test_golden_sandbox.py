"""Golden behaviour of a sync: the seeded sandbox through the real ``idqueue sync --once``.

The test pins what ``list --json --all`` and ``show --json`` print for every request after one
sync of the seeded sandbox on its frozen clock, against a committed golden file. It exists so a
restructuring of the sources, writers or store can prove it changed nothing a user sees.

Regenerate the golden file after an *intended* change of behaviour, and review its diff::

    IDQUEUE_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/integration/test_golden_sandbox.py

Nothing is normalised, because nothing in this output depends on the run: the sandbox runs on
a frozen clock (``IDQUEUE_NOW``), its seed is fixed, and neither the temporary database path
nor the emulators' random loopback ports appear in ``list``/``show`` output (links use the
configured web and workspace URLs). If a future field carries one of them, normalise only
that field here and say why.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cli_env import sandbox_cli_env
from click.testing import CliRunner, Result

from idqueue.cli import Context, cli
from idqueue.sandbox.runner import Sandbox

SANDBOX_NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
"""The frozen instant of ``tests/conftest.py``'s sandbox fixtures."""
GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden" / "sandbox_sync.json"
UPDATE = os.environ.get("IDQUEUE_UPDATE_GOLDEN") == "1"


def _run(env: dict[str, str | None], *args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env, obj=Context())
    assert result.exit_code == 0, f"idqueue {' '.join(args)} failed:\n{result.output}"
    return result


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``list --json --all`` and ``show --json`` of every request after one sync."""
    folder = tmp_path_factory.mktemp("golden")
    sb = Sandbox.start(seed=True, now=SANDBOX_NOW)
    # Shield the run from the machine's own variables (tokens, a developer's IDQUEUE_*).
    env = sandbox_cli_env(sb, folder)
    try:
        _run(env, "sync", "--once", "--quiet")
        listed = json.loads(_run(env, "list", "--json", "--all").stdout)
        shown = {
            row["id"]: json.loads(_run(env, "show", row["id"], "--json").stdout)
            for row in listed
        }
        yield {"list": listed, "show": shown}
    finally:
        sb.stop()


def test_sync_of_the_seeded_sandbox_matches_the_golden_file(output: dict[str, Any]) -> None:
    got = json.dumps(output, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if UPDATE:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(got, encoding="utf-8")
    assert GOLDEN.exists(), f"no golden file; create it with IDQUEUE_UPDATE_GOLDEN=1 ({GOLDEN.name})"
    want = GOLDEN.read_text(encoding="utf-8")
    if got != want:
        diff = difflib.unified_diff(
            want.splitlines(), got.splitlines(), "golden", "this run", lineterm="", n=2
        )
        lines = list(diff)
        shown = "\n".join(lines[:200]) + (f"\n… {len(lines) - 200} more diff lines" if len(lines) > 200 else "")
        pytest.fail(
            "sync output differs from the golden file (IDQUEUE_UPDATE_GOLDEN=1 regenerates it "
            f"after an intended change):\n{shown}",
            pytrace=False,
        )
