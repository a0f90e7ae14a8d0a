"""Which backlog destination a request goes to when it cannot be backlogged in place.

The destinations are registered by their integrations (``INTEGRATION.backlog``, see
:mod:`idqueue.integrations.backlog`): an issue in the GitHub backlog repository today. The
configuration picks one with ``[backlog] destination = "<integration>"``; left empty, the first
registered integration that can be one and that the settings let write (else the first that
can be one at all), which is GitHub.
"""

from __future__ import annotations

from idqueue.config import Settings
from idqueue.domain.models import Request
from idqueue.integrations import registry
from idqueue.integrations.backlog import BacklogDestination
from idqueue.outbox.models import ActionError

__all__ = ["BacklogDestination", "backlog_destination", "destinations"]


def destinations() -> list[registry.Integration]:
    """The registered integrations that can keep a backlog, in registry order."""
    return [i for i in registry.integrations() if i.backlog is not None]


def backlog_destination(settings: Settings, request: Request | None = None) -> BacklogDestination:
    """The backlog destination (of ``request``, when given).

    ``[backlog] destination`` wins when set. Otherwise the first writable destination that
    claims the request (:meth:`BacklogDestination.claims`: its customer's Trello board) gets
    it, else the first writable one, else the first registered one.

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
        writable = [i for i in able if i.name in {w.name for w in registry.writable(settings)}]
        if request is not None:
            for integration in writable:
                destination = _built(integration, settings)
                if destination.claims(request):
                    return destination
        chosen = writable[0] if writable else (able[0] if able else None)
        if chosen is None:
            raise ActionError("no integration can keep a backlog: set [backlog] destination")
    return _built(chosen, settings)


def _built(chosen: registry.Integration, settings: Settings) -> BacklogDestination:
    destination = chosen.build_backlog(settings)
    if chosen.backlog_noun:
        destination.noun = chosen.backlog_noun  # the registry's word for it wins
    return destination
