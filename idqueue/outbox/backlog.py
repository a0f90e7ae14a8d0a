"""Which backlog destination a request goes to when it cannot be backlogged in place.

The destinations are registered by their integrations (``INTEGRATION.backlog``, see
:mod:`idqueue.integrations.backlog`): an issue in the GitHub backlog repository today. The
configuration picks one with ``[backlog] destination = "<integration>"``; left empty, the first
registered integration that can be one and that the settings let write (else the first that
can be one at all), which is GitHub.
"""

from __future__ import annotations

from idqueue.config import Settings
from idqueue.integrations import registry
from idqueue.integrations.backlog import BacklogDestination
from idqueue.outbox.models import ActionError

__all__ = ["BacklogDestination", "backlog_destination", "destinations"]


def destinations() -> list[registry.Integration]:
    """The registered integrations that can keep a backlog, in registry order."""
    return [i for i in registry.integrations() if i.backlog is not None]


def backlog_destination(settings: Settings) -> BacklogDestination:
    """The configured backlog destination.

    Raises:
        ActionError: ``[backlog] destination`` names no integration that can keep a backlog, or
            none is registered.
    """
    able = destinations()
    wanted = settings.backlog.destination.strip()
    if wanted:
        chosen = next((i for i in able if i.name == wanted), None)
        if chosen is None:
            names = ", ".join(i.name for i in able) or "none"
            raise ActionError(f"backlog.destination {wanted!r} cannot keep a backlog (registered: {names})")
    else:
        writable = {i.name for i in registry.writable(settings)}
        chosen = next((i for i in able if i.name in writable), able[0] if able else None)
        if chosen is None:
            raise ActionError("no integration can keep a backlog: set [backlog] destination")
    destination = chosen.build_backlog(settings)
    if chosen.backlog_noun:
        destination.noun = chosen.backlog_noun  # the registry's word for it wins
    return destination
