"""Opening the SMTP connection (stdlib ``smtplib``): implicit TLS, ``STARTTLS`` or plain, then
``AUTH``; and the words for a refused login, shared by the writer and ``idqueue doctor``.

Why ``smtplib`` (not aiosmtplib): the outbox writers are synchronous and send one message at a
time; ``smtplib`` does implicit TLS (``SMTP_SSL``), ``STARTTLS`` and ``AUTH`` with timeouts, and
adds no dependency.
"""

from __future__ import annotations

import smtplib
import ssl

from idqueue.config import EmailConfig

BASIC_AUTH_OFF = ("5.7.30", "5.7.139")
"""Enhanced status codes with which Exchange Online refuses basic authentication for SMTP AUTH."""


def connect(cfg: EmailConfig, *, timeout: float) -> smtplib.SMTP:
    """A connected, protected and logged-in SMTP client (the caller closes it).

    Raises:
        smtplib.SMTPAuthenticationError: the login was refused.
        OSError, smtplib.SMTPException: unreachable, TLS failure, timeout.
    """
    host, port = cfg.smtp_host or "", cfg.smtp_port_or_default()
    context = ssl.create_default_context()
    server: smtplib.SMTP
    if cfg.smtp_security == "ssl":
        server = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        server = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if cfg.smtp_security == "starttls":
            server.starttls(context=context)
        if cfg.password is not None:
            server.login(cfg.login or "", cfg.password.get_secret_value())
    except BaseException:
        server.close()
        raise
    return server


def refused_login_text(host: str, exc: smtplib.SMTPAuthenticationError) -> str:
    """One line on why the SMTP server refused the login (never the password)."""
    error = exc.smtp_error
    detail = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
    if any(code in detail for code in BASIC_AUTH_OFF):
        return (f"SMTP server {host} has basic authentication turned off (Microsoft 365): enable SMTP AUTH "
                "for the mailbox or send through another relay")
    return f"SMTP login refused by {host} (check email.username and email.password; an app password may be needed)"
