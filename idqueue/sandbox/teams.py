"""The sandbox teams ``idqueue demo --team NAME`` and ``idqueue sandbox --team NAME`` start.

Each team is a class with ``start(seed=, now=, slack_profile=)`` returning a running sandbox
with ``settings_overrides()``, ``env()`` and ``stop()``, named ``"module:Class"`` so that listing
the teams (``--help``) imports no emulator.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["SANDBOX_TEAMS", "start_team"]

SANDBOX_TEAMS: dict[str, str] = {
    "identity": "idqueue.sandbox.runner:Sandbox",
    "identity-jira": "idqueue.sandbox.identity_jira:IdentityJiraSandbox",
}
"""Team name → ``"module:Class"`` of its sandbox."""


def start_team(team: str, **kwargs: Any) -> Any:
    """Start the sandbox of ``team`` with ``start``'s arguments (``seed``, ``now``, ``slack_profile``).

    Raises:
        KeyError: no such team.
    """
    module, _, name = SANDBOX_TEAMS[team].partition(":")
    return getattr(importlib.import_module(module), name).start(**kwargs)
