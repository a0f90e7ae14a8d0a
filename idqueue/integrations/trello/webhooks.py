"""Trello webhook signatures (for a receiver that takes Trello's pushes instead of polling).

Trello signs each webhook call with the Power-Up's secret: the ``X-Trello-Webhook`` header is
``base64(HMAC-SHA1(secret, raw body + callbackURL))``, the callback URL exactly as it was given
when the webhook was created. A receiver must check it before trusting the body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["trello_signature", "verify_trello_signature"]


def trello_signature(body: bytes, callback_url: str, secret: str) -> str:
    """The signature Trello sends for ``body`` posted to ``callback_url``."""
    digest = hmac.new(secret.encode("utf-8"), body + callback_url.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_trello_signature(body: bytes, callback_url: str, secret: str, header: str | None) -> bool:
    """Whether ``header`` (``X-Trello-Webhook``) is Trello's signature of this call.

    Args:
        body: the raw request body, byte for byte (not re-serialised JSON).
        callback_url: the webhook's ``callbackURL`` as registered.
        secret: the Power-Up's secret (``trello.webhook_secret``).
        header: the ``X-Trello-Webhook`` header value (None when absent).

    Returns:
        True only for a matching signature (compared in constant time); False when the header
        is missing or empty, or the secret is empty.
    """
    if not header or not secret:
        return False
    expected = trello_signature(body, callback_url, secret)
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("ascii", errors="replace"))
