"""Trello webhook signatures: base64(HMAC-SHA1(secret, body + callbackURL))."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from idqueue.integrations.trello.webhooks import trello_signature, verify_trello_signature

SECRET = "4f1e0d2c3b5a69788796a5b4c3d2e1f0"
URL = "https://idqueue.example.org/hooks/trello?team=made"
BODY = b'{"action":{"type":"updateCard","data":{"old":{"idList":"5f0c"}}},"model":{"id":"5f0b"}}'


def _reference(body: bytes, url: str, secret: str) -> str:
    """Trello's documented recipe, written out independently."""
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
    mac.update(body)
    mac.update(url.encode())
    return base64.b64encode(mac.digest()).decode()


def test_a_good_signature_verifies() -> None:
    header = _reference(BODY, URL, SECRET)
    assert trello_signature(BODY, URL, SECRET) == header
    assert verify_trello_signature(BODY, URL, SECRET, header)
    assert verify_trello_signature(BODY, URL, SECRET, f" {header}\n")


def test_non_ascii_bodies_are_signed_byte_for_byte() -> None:
    body = '{"action":{"data":{"text":"Grüße — ✓"}}}'.encode()
    assert verify_trello_signature(body, URL, SECRET, _reference(body, URL, SECRET))


@pytest.mark.parametrize(
    ("body", "url", "secret", "header"),
    [
        (BODY + b" ", URL, SECRET, None),  # body changed
        (BODY, URL.replace("team=made", "team=other"), SECRET, None),  # another callback URL
        (BODY, URL, "another-secret", None),  # signed with another secret
        (BODY, URL, SECRET, ""),  # empty header
        (BODY, URL, SECRET, "not base64 ✗"),
        (BODY, URL, "", None),  # no secret configured: nothing verifies
    ],
)
def test_anything_else_does_not(body: bytes, url: str, secret: str, header: str | None) -> None:
    signed = _reference(BODY, URL, SECRET) if header is None else header
    assert not verify_trello_signature(body, url, secret, signed)
