"""Slack: polling (``source``), Socket Mode events (``socket``) and write-backs (``writer``).

``INTEGRATION`` is its entry in the registry (:mod:`idqueue.integrations.registry`); importing
this package imports nothing else of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from idqueue.integrations.registry import Integration

if TYPE_CHECKING:
    from idqueue.config import Settings


def _configured(settings: Settings) -> bool:
    return settings.slack.token is not None and bool(settings.slack.channels)


def _writable(settings: Settings) -> bool:
    return settings.slack.token is not None


INTEGRATION = Integration(
    name="slack",
    display="Slack",
    code="S",
    id_prefix="slack:",
    home_noun="Slack thread",
    roster_field="slack",
    configured=_configured,
    writable=_writable,
    source="idqueue.integrations.slack.source:SlackSource",
    writer="idqueue.integrations.slack.writer:SlackWriter",
    checks="idqueue.integrations.slack.checks:doctor_checks",
    scopes="idqueue.integrations.slack.checks:scope_lines",
    fold="idqueue.integrations.slack.fold:SlackRules",
    text_format="mrkdwn",
    verbs=frozenset({"reply", "assign", "close", "reopen", "pending", "backlog"}),
    planner="idqueue.integrations.slack.planner:PLANNER",
)
