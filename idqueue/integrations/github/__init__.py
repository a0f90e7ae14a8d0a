"""GitHub: issue polling over httpx with ETags (``source``) and write-backs (``writer``).

``INTEGRATION`` is its entry in the registry (:mod:`idqueue.integrations.registry`); importing
this package imports nothing else of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from idqueue.integrations.registry import Integration

if TYPE_CHECKING:
    from idqueue.config import Settings


def _configured(settings: Settings) -> bool:
    return settings.github.token is not None and bool(settings.github.repos)


def _writable(settings: Settings) -> bool:
    return settings.github.token is not None


INTEGRATION = Integration(
    name="github",
    display="GitHub",
    code="GH",
    id_prefix="gh:",
    home_noun="GitHub issue",
    roster_field="github",
    configured=_configured,
    writable=_writable,
    source="idqueue.integrations.github.source:GitHubSource",
    writer="idqueue.integrations.github.writer:GitHubWriter",
    checks="idqueue.integrations.github.checks:doctor_checks",
    scopes="idqueue.integrations.github.checks:scope_lines",
    fold="idqueue.integrations.github.fold:GitHubRules",
    verbs=frozenset({"reply", "assign", "label", "close", "reopen", "pending", "priority", "backlog"}),
    backlog_noun="the backlog issue",
    planner="idqueue.integrations.github.planner:PLANNER",
    backlog="idqueue.integrations.github.backlog:GitHubBacklog",
)
