"""Opening the support mailbox with IMAPClient, and turning its failures into source errors.

IMAPClient (not imap-tools): idqueue needs the protocol's own handles (``UIDVALIDITY``/``UIDNEXT``
from ``STATUS``, ``UID SEARCH``/``UID FETCH`` of raw ``BODY.PEEK[]`` bytes, ``APPEND`` with
``APPENDUID``, ``IDLE`` with a timeout) and does its own MIME parsing; IMAPClient exposes exactly
those as typed calls over imaplib, while imap-tools wraps them in its own message model.
Every error message here is built from fixed text and the server's host: never the password.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from idqueue.config import EmailConfig
from idqueue.integrations.base import AuthError, BadPayload, SourceError, TimedOut, Unavailable
from idqueue.safety import one_line, redact

T = TypeVar("T")


def connect(cfg: EmailConfig, *, timeout: float | None = None) -> IMAPClient:
    """Connect and log in to the IMAP server.

    Raises:
        AuthError: the server refused the login.
        Unavailable: unreachable, TLS failure or timeout.
    """
    host = cfg.imap_host or ""
    wait = cfg.timeout if timeout is None else timeout
    client: IMAPClient | None = None
    try:
        client = IMAPClient(host, port=cfg.imap_port_or_default(), ssl=cfg.imap_security == "ssl",
                            ssl_context=ssl.create_default_context(), timeout=wait)
        client.normalise_times = False
        if cfg.imap_security == "starttls":
            client.starttls(ssl.create_default_context())
        client.login(cfg.login or "", cfg.password.get_secret_value() if cfg.password else "")
    except BaseException as exc:
        if client is not None:
            _quietly(client.shutdown)
        raise as_source_error(exc, host, "login") from None
    return client


def as_source_error(exc: BaseException, host: str, doing: str) -> BaseException:
    """The source error for an IMAP failure (other exceptions are returned unchanged)."""
    if isinstance(exc, LoginError):
        return AuthError(f"IMAP login refused by {host} (check email.username and email.password; "
                         "an app password may be needed)", source="email")
    if isinstance(exc, socket.timeout | TimeoutError):
        return TimedOut(f"IMAP server {host} did not answer in time ({doing})", source="email")
    if isinstance(exc, ssl.SSLError):
        return Unavailable(f"TLS failed with IMAP server {host} ({one_line(redact(str(exc)), 120)})", source="email")
    if isinstance(exc, OSError | IMAPClientAbortError):
        return Unavailable(f"IMAP server {host} is unreachable or closed the connection ({doing})", source="email")
    if isinstance(exc, IMAPClientError):
        return BadPayload(f"IMAP server {host} refused {doing}: {one_line(redact(str(exc)), 160)}", source="email")
    return exc


def _quietly(call: Callable[[], Any]) -> None:
    try:
        call()
    except Exception:
        return


def close(client: IMAPClient | None) -> None:
    """Log out (best effort) and close the socket."""
    if client is None:
        return
    try:
        client.logout()
    except Exception:
        _quietly(client.shutdown)


@contextmanager
def session(cfg: EmailConfig, *, timeout: float | None = None) -> Iterator[IMAPClient]:
    """A logged-in client for one ``with`` block; failures inside become source errors."""
    client = connect(cfg, timeout=timeout)
    try:
        yield client
    except SourceError:
        raise
    except Exception as exc:
        raise as_source_error(exc, cfg.imap_host or "", "a command") from None
    finally:
        close(client)


def guarded(host: str, doing: str, call: Callable[[], T]) -> T:
    """Run one IMAP call; its failure becomes a source error."""
    try:
        return call()
    except SourceError:
        raise
    except Exception as exc:
        raise as_source_error(exc, host, doing) from None


def find_message(client: IMAPClient, folder: str, message_id: str) -> list[int]:
    """UIDs of ``folder``'s messages whose ``Message-ID`` is ``<message_id>`` (``UID SEARCH HEADER``)."""
    client.select_folder(folder, readonly=True)
    found: list[int] = client.search(["HEADER", "Message-ID", f"<{message_id}>"])
    return found
