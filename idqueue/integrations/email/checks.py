"""``idqueue doctor``'s email checks: IMAP login and both folders, SMTP login.

Each returns a :class:`~idqueue.integrations.base.Check`; nothing raises and no password reaches
a message (every text is fixed wording plus the server's host and folder names).
"""

from __future__ import annotations

import smtplib
import ssl

from idqueue.config import Settings
from idqueue.integrations.base import Check, SourceError
from idqueue.integrations.email import imap


def check_imap(settings: Settings) -> list[Check]:
    """IMAP login, and whether the mailbox and the sent folder exist."""
    cfg = settings.email
    host = cfg.imap_host or ""
    try:
        with imap.session(cfg) as client:
            checks = [Check("IMAP login", True, f"{cfg.login} on {host}:{cfg.imap_port_or_default()} ({cfg.imap_security})")]
            for folder in dict.fromkeys([cfg.mailbox, cfg.sent_mailbox]):
                if client.folder_exists(folder):
                    checks.append(Check(f"mail folder {folder}", True, "exists"))
                else:
                    checks.append(Check(f"mail folder {folder}", False,
                                        f"{folder!r} does not exist on {host} (set email.mailbox / email.sent_mailbox)"))
            return checks
    except SourceError as exc:
        return [Check("IMAP login", False, exc.title)]


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
    """Email's doctor checks (none when email is off; the IMAP ones skipped with ``skip``)."""
    if not settings.email.imap_host:
        return []
    checks = [] if skip else check_imap(settings)
    smtp = check_smtp(settings)
    return [*checks, *([smtp] if smtp is not None else [])]
