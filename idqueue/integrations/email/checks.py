"""``idqueue doctor``'s email check beyond the reader's own (IMAP login and both folders, in
:meth:`EmailSource.check <idqueue.integrations.email.source.EmailSource.check>`): the SMTP login.

It returns a :class:`~idqueue.integrations.base.Check`; nothing raises and no password reaches
a message (every text is fixed wording plus the server's host and folder names).
"""

from __future__ import annotations

import smtplib

from idqueue.config import Settings
from idqueue.integrations.base import Check
from idqueue.integrations.email import smtp


def check_smtp(settings: Settings, *, timeout: float | None = None) -> Check | None:
    """SMTP connection and login (None when no SMTP server is set)."""
    cfg = settings.email
    if not cfg.smtp_host:
        return None
    host, port = cfg.smtp_host, cfg.smtp_port_or_default()
    try:
        with smtp.connect(cfg, timeout=cfg.timeout if timeout is None else timeout):
            pass
    except smtplib.SMTPAuthenticationError as exc:
        return Check("SMTP login", False, smtp.refused_login_text(host, exc))
    except (OSError, smtplib.SMTPException) as exc:
        return Check("SMTP login", False, f"{host}:{port} is unreachable or refused ({type(exc).__name__})")
    return Check("SMTP login", True, f"{cfg.login} on {host}:{port} ({cfg.smtp_security})")


def doctor_checks(settings: Settings, *, skip: bool = False) -> list[Check]:
    """Email's doctor checks beyond the reader's: the SMTP login, or why replies cannot go out
    (none when email is off; ``skip`` is accepted like the other integrations' checks: the SMTP
    server is another server, so it is checked even when the IMAP login failed)."""
    cfg = settings.email
    if not cfg.imap_host:
        return []
    if not cfg.smtp_host or not cfg.address:
        return [Check("SMTP", False, "email.smtp_host and email.address are needed to send replies")]
    smtp = check_smtp(settings)
    return [smtp] if smtp is not None else []
