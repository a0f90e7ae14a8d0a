"""The sandbox's teams, by name: what ``idqueue demo --team`` and ``idqueue sandbox --team`` start."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from idqueue.sandbox.consultancy import ConsultancySandbox
    from idqueue.sandbox.runner import Sandbox

__all__ = ["TEAMS", "start_sandbox"]

TEAMS = ("identity", "consultancy")
"""The identity team (Slack + GitHub, the default) and the consultancy (a support mailbox + the
customers' Trello boards)."""


def start_sandbox(team: str, *, now: datetime | None = None, seed: bool = True,
                  slack_profile: str = "internal") -> Sandbox | ConsultancySandbox:
    """Start the sandbox of ``team`` (seeded, frozen at ``now`` when given).

    The emulators' modules (and their server libraries) are imported here, when a sandbox
    starts, not when the CLI starts.
    """
    if team == "consultancy":
        from idqueue.sandbox.consultancy import ConsultancySandbox

        return ConsultancySandbox.start(seed=seed, now=now)
    from idqueue.sandbox.runner import Sandbox

    return Sandbox.start(seed=seed, now=now, slack_profile=slack_profile)
