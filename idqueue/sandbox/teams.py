"""The sandbox teams ``idqueue demo --team NAME`` and ``idqueue sandbox --team NAME`` start.

Each team is a class with ``start(seed=, now=, slack_profile=)`` returning a running sandbox
with ``settings_overrides()``, ``env()`` and ``stop()``, named ``"module:Class"`` so that listing
the teams (``--help``) imports no emulator: the emulators' modules (and their server libraries)
are imported when a sandbox starts.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any

__all__ = ["SANDBOX_TEAMS", "TEAMS", "TEAMS_HELP", "start_sandbox"]

SANDBOX_TEAMS: dict[str, str] = {
    "identity": "idqueue.sandbox.runner:Sandbox",
    "identity-jira": "idqueue.sandbox.identity_jira:IdentityJiraSandbox",
    "consultancy": "idqueue.sandbox.consultancy:ConsultancySandbox",
}
"""Team name → ``"module:Class"`` of its sandbox."""

TEAMS = tuple(SANDBOX_TEAMS)

TEAMS_HELP = ("identity: Slack + GitHub; identity-jira: Slack + Jira (the identity team after its move to Jira); "
              "consultancy: a support mailbox + the customers' Trello boards.")


def start_sandbox(team: str, *, now: datetime | None = None, seed: bool = True,
                  slack_profile: str = "internal") -> Any:
    """Start the sandbox of ``team`` (seeded, frozen at ``now`` when given).

    Raises:
        KeyError: no such team.
    """
    module, _, name = SANDBOX_TEAMS[team].partition(":")
    return getattr(importlib.import_module(module), name).start(seed=seed, now=now, slack_profile=slack_profile)
