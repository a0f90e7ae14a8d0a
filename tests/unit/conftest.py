"""Fixtures shared by the unit tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN", "SLACK_BOT_TOKEN")


@pytest.fixture
def isolated_settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Settings read explicit values only: no user config file, no IDQUEUE_* or tokens from the shell.

    Returns:
        The (empty) config file ``IDQUEUE_CONFIG_FILE`` now points at.
    """
    for key in list(os.environ):
        if key.startswith("IDQUEUE_") or key in _TOKEN_VARIABLES:
            monkeypatch.delenv(key)
    config = tmp_path / "config.toml"
    config.write_text("")
    monkeypatch.setenv("IDQUEUE_CONFIG_FILE", str(config))
    return config
