"""The environment of an ``idqueue`` CLI run (``CliRunner``) pointed at a running sandbox."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def sandbox_cli_env(sb: Any, folder: Path) -> dict[str, str | None]:
    """The sandbox's ``IDQUEUE_*`` exports, a fresh database (``folder/q.db``) and an empty
    config file; the machine's own ``IDQUEUE_*`` variables and tokens (a developer's) removed.

    Args:
        sb: a started sandbox (any team's: it has ``env()``).
        folder: where the database and the config file go.
    """
    config = folder / "config.toml"
    config.write_text("", encoding="utf-8")
    cleared: dict[str, str | None] = {
        k: None for k in os.environ if k.startswith(("IDQUEUE_", "GITHUB_TOKEN", "GH_TOKEN", "SLACK_"))
    }
    return {**cleared, **sb.env(), "IDQUEUE_DB": str(folder / "q.db"), "IDQUEUE_CONFIG_FILE": str(config)}
