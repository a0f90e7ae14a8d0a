"""Email: the support mailbox read over IMAP (``source``) and answered over SMTP (``writer``).

``INTEGRATION`` is its entry in the registry (:mod:`idqueue.integrations.registry`); importing
this package imports nothing else of it (no IMAP or SMTP library).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from idqueue.integrations.registry import Integration

if TYPE_CHECKING:
    from idqueue.config import Settings


def _configured(settings: Settings) -> bool:
    return bool(settings.email.imap_host)


def _writable(settings: Settings) -> bool:
    email = settings.email
    return bool(email.smtp_host and email.address)


INTEGRATION = Integration(
    name="email",
    display="Email",
    code="@",
    id_prefix="email:",
    home_noun="email thread",
    roster_field="email",
    configured=_configured,
    writable=_writable,
    source="idqueue.integrations.email.source:EmailSource",
    writer="idqueue.integrations.email.writer:EmailWriter",
    checks="idqueue.integrations.email.checks:doctor_checks",
    live="idqueue.integrations.email.idle:watcher",
    fold="idqueue.integrations.email.fold:EmailRules",
    planner="idqueue.integrations.email.planner:PLANNER",
    text_format="plain",
    # Replies go out over SMTP; the others are recorded in idqueue's database (a mail has no
    # assignee or status field): see ``planner``.
    verbs=frozenset({"reply", "assign", "close", "reopen", "pending", "backlog"}),
)
