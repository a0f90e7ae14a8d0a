"""The core never imports textual (STYLE.md habit 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "idqueue"
CORE = ["domain", "integrations", "store", "sandbox", "outbox", "sync.py", "config.py", "clock.py", "safety.py"]


def _core_files() -> list[Path]:
    files: list[Path] = []
    for name in CORE:
        path = ROOT / name
        if path.is_dir():
            files.extend(sorted(path.rglob("*.py")))
        elif path.exists():
            files.append(path)
    return files


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_does_not_import_textual(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            assert name.split(".")[0] not in {"textual", "textual_plotext"}, f"{path} imports {name}"
