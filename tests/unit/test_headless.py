"""The import contracts in pyproject.toml hold: the layers, and a core that never imports Textual.

``make check`` runs the same contracts (``lint-imports``); this keeps them in the test suite too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _lint_imports(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("lint-imports is missing: install the dev extras (pip install -e '.[dev]')")
    return subprocess.run(
        [exe, "--no-logo", "--no-cache", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("contract", ["layers", "headless-core", "headless-service"])
def test_import_contract_is_kept(contract: str) -> None:
    result = _lint_imports("--contract", contract)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout
