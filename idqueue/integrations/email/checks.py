"""``idqueue doctor``'s email check beyond the reader's own (IMAP login and both folders, in
:meth:`EmailSource.check <idqueue.integrations.email.source.EmailSource.check>`): the SMTP login.

It returns a :class:`~idqueue.integrations.base.Check`; nothing raises and no password reaches
a message (every text is fixed wording plus the server's host and folder names).
"""

from __future__ import annotations

import smtplib
import ssl

from idqueue.config import Settings
from idqueue.integrations.base import Check


def check_smtp(settings: Settings, *, timeout: float | None = None) -> Check | None:
    """SMTP connection and login (None when no SMTP server is set)."""
    cfg = settings.email
    if not cfg.smtp_host:
        return None
    host, port = cfg.smtp_host, cfg.smtp_port_or_default()
    wait = cfg.timeout if timeout is None else timeout
    try:
        context = ssl.create_default_context()
        server = (smtplib.SMTP_SSL(host, port, timeout=wait, context=context) if cfg.smtp_security == "ssl"
                  else smtplib.SMTP(host, port, timeout=wait))
        with server:
            if cfg.smtp_security == "starttls":
                server.starttls(context=context)
            if cfg.password is not None:
                server.login(cfg.login or "", cfg.password.get_secret_value())
    except smtplib.SMTPAuthenticationError as exc:
        detail = str(exc.smtp_error)
        if "5.7.30" in detail or "5.7.139" in detail:
            return Check("SMTP login", False, f"{host}: basic authentication is turned off for SMTP (Microsoft 365)")
        return Check("SMTP login", False, f"{host} refused the login (check email.username / email.password)")
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
