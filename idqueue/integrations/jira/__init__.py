"""Jira (Cloud REST v3; Server/Data Center by a PAT): issues of a JQL search as requests
(``source``) and how they fold into one (``fold``), write-backs (``writer``) and how verbs plan
them (``planner``), the backlog destination (``backlog``), the recogniser of its issue URLs and
keys in other systems' text (``refs``), ``doctor`` checks (``checks``), and a loopback emulator
(``emulator``).

``INTEGRATION`` is its entry in the registry (:mod:`idqueue.integrations.registry`); importing
this package imports nothing else of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from idqueue.integrations.registry import Integration

if TYPE_CHECKING:
    from idqueue.config import Settings


def _writable(settings: Settings) -> bool:
    jira = settings.jira
    return bool(jira.base_url) and ((jira.api_token is not None and bool(jira.email)) or jira.pat is not None)


def _configured(settings: Settings) -> bool:
    return _writable(settings) and settings.jira.effective_jql is not None


INTEGRATION = Integration(
    name="jira",
    display="Jira",
    code="J",
    id_prefix="jira:",
    home_noun="Jira issue",
    roster_field="jira",
    configured=_configured,
    writable=_writable,
    source="idqueue.integrations.jira.source:JiraSource",
    writer="idqueue.integrations.jira.writer:JiraWriter",
    checks="idqueue.integrations.jira.checks:doctor_checks",
    fold="idqueue.integrations.jira.fold:JiraRules",
    planner="idqueue.integrations.jira.planner:PLANNER",
    backlog="idqueue.integrations.jira.backlog:JiraBacklog",
    refs="idqueue.integrations.jira.convert:jira_refs",
    verbs=frozenset({"reply", "assign", "label", "close", "reopen", "pending", "priority", "backlog"}),
    backlog_noun="the backlog issue",
)
