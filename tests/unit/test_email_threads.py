"""Threading: subject normalisation and the broken-threading fallback's rules (window, domain)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from idqueue.integrations.email.parse import ParsedMail, parse_mail
from idqueue.integrations.email.threads import ThreadIndex, normalise_subject

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Login broken", "login broken"),
        ("Re: Login broken", "login broken"),
        ("RE: re:  Login   broken", "login broken"),
        ("Fwd: Re: Login broken", "login broken"),
        ("FW: Login broken", "login broken"),
        ("AW: WG: Login broken", "login broken"),
        ("[ACME-123] Re: Login broken", "login broken"),
        ("Re[2]: Login broken", "login broken"),
        ("Renewal reminder", "renewal reminder"),  # "Re" inside a word is not a prefix
        ("", ""),
    ],
)
def test_normalise_subject(subject: str, expected: str) -> None:
    assert normalise_subject(subject) == expected


def _mail(mid: str, sender: str, subject: str, *, refs: str = "", to: str = "support@example.com") -> ParsedMail:
    headers = f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n"
    if refs:
        headers += f"References: {refs}\r\nIn-Reply-To: {refs.split()[-1]}\r\n"
    return parse_mail((headers + "\r\nbody\r\n").encode())


def test_fallback_window_domain_and_references() -> None:
    index = ThreadIndex()
    first = _mail("a1@acme.example", "ada@acme.example", "Login broken")
    root = index.start(first, at=T0, domain="acme.example")
    assert root == "a1@acme.example"
    same = _mail("a2@acme.example", "bo@acme.example", "Re: login broken")
    assert index.find(same, at=T0 + timedelta(days=13), team=False, window_days=14) == root
    assert index.find(same, at=T0 + timedelta(days=15), team=False, window_days=14) is None
    assert index.find(same, at=T0 + timedelta(days=1), team=False, window_days=0) is None
    other = _mail("c1@other.example", "cy@other.example", "Re: Login broken")
    assert index.find(other, at=T0, team=False, window_days=14) is None
    team = _mail("t1@example.com", "nick@example.com", "Re: Login broken", to="ada@acme.example")
    assert index.find(team, at=T0, team=True, window_days=14) == root
    # A reply whose References name an unknown first message starts a thread rooted there.
    orphan = _mail("z2@acme.example", "ada@acme.example", "Re: Old", refs="<z0@acme.example> <z1@acme.example>")
    assert index.find(orphan, at=T0, team=False, window_days=14) is None
    assert index.start(orphan, at=T0, domain="acme.example") == "z0@acme.example"
    # The index survives its JSON form.
    again = ThreadIndex.load(index.dump())
    assert again.find(same, at=T0 + timedelta(days=1), team=False, window_days=14) == root
    assert again.roots["z2@acme.example"] == "z0@acme.example"
