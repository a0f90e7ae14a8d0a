"""MIME parsing of support mail: body choice, charsets, RFC 2047, attachments, quoted history,
hostile content kept literally, and every kind of mail that is never a request."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from idqueue.integrations.email.parse import QUOTE_MARKER, parse_mail, split_quoted


def _mail(headers: dict[str, str], body: str = "Hello, the login page fails.") -> bytes:
    base = {"From": "Ada <ada@acme.example>", "To": "support@example.com", "Subject": "Login broken",
            "Message-ID": "<m1@acme.example>", "Date": "Mon, 02 Mar 2026 10:00:00 +0000"}
    base.update(headers)
    lines = [f"{k}: {v}" for k, v in base.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode("utf-8")


def test_plain_message_fields() -> None:
    p = parse_mail(_mail({"In-Reply-To": "<a@x>", "References": "<r0@x> <a@x>", "Cc": "bo@acme.example"}))
    assert p.message_id == "m1@acme.example"
    assert p.in_reply_to == ["a@x"] and p.references == ["r0@x", "a@x"]
    assert p.sender == "ada@acme.example" and p.sender_name == "Ada" and p.sender_domain == "acme.example"
    assert p.to == ["support@example.com", "bo@acme.example"]
    assert p.date is not None and p.date.isoformat() == "2026-03-02T10:00:00+00:00"
    assert p.body == "Hello, the login page fails." and p.never_request is None


def test_alternative_prefers_plain() -> None:
    msg = EmailMessage()
    msg["From"], msg["Subject"], msg["Message-ID"] = "ada@acme.example", "Alt", "<alt@acme.example>"
    msg.set_content("plain version")
    msg.add_alternative("<p>html <b>version</b></p>", subtype="html")
    assert parse_mail(msg.as_bytes()).body == "plain version"


def test_html_only_is_rendered_by_inscriptis_not_stripped() -> None:
    msg = EmailMessage()
    msg["From"], msg["Subject"], msg["Message-ID"] = "ada@acme.example", "Html", "<h@acme.example>"
    msg.set_content(
        "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
        "<p>First paragraph</p><ul><li>one</li><li>two</li></ul>"
        "<table><tr><td>a</td><td>b</td></tr></table></body></html>", subtype="html")
    p = parse_mail(msg.as_bytes())
    assert p.html_only
    assert "First paragraph" in p.body and "alert" not in p.body and "color" not in p.body
    assert "* one" in p.body and "* two" in p.body
    assert "<p>" not in p.body


def test_rfc2047_subject_and_sender() -> None:
    raw = _mail({"Subject": "=?UTF-8?B?w4ljaGVjIGRlIGNvbm5leGlvbg==?=",
                 "From": "=?ISO-8859-1?Q?Andr=E9?= <andre@acme.example>"})
    p = parse_mail(raw)
    assert p.subject == "Échec de connexion" and p.sender_name == "André"


@pytest.mark.parametrize(
    ("charset", "payload", "expected", "noted"),
    [
        ("iso-8859-1", "café".encode("latin-1"), "café", False),
        ("utf-8", "café".encode("latin-1"), "caf\u00e9", True),  # declared UTF-8, really Latin-1
        ("x-unknown-charset", "naïve".encode(), "naïve", True),
        ("windows-1252", b"\x93quoted\x94", "\u201cquoted\u201d", False),
    ],
)
def test_charsets_never_crash(charset: str, payload: bytes, expected: str, noted: bool) -> None:
    raw = (b"From: ada@acme.example\r\nSubject: c\r\nMessage-ID: <c@x>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=" + charset.encode() + b"\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n" + payload + b"\r\n")
    p = parse_mail(raw)
    assert p.body == expected
    assert bool(p.notes) is noted


def test_attachments_listed_not_stored() -> None:
    msg = EmailMessage()
    msg["From"], msg["Subject"], msg["Message-ID"] = "ada@acme.example", "Att", "<att@x>"
    msg.set_content("see attached")
    msg.add_attachment(b"\x89PNG" + b"0" * 996, maintype="image", subtype="png", filename="screen.png")
    msg.add_attachment(b"a,b\n", maintype="text", subtype="csv", filename="data.csv")
    p = parse_mail(msg.as_bytes())
    assert p.body == "see attached"
    assert [(a.name, a.type, a.size) for a in p.attachments] == [
        ("screen.png", "image/png", 1000), ("data.csv", "text/csv", 4)]
    assert "PNG" not in p.body


@pytest.mark.parametrize(
    ("body", "own", "quoted_start"),
    [
        ("Thanks, fixed.\n\nOn Mon, 2 Mar 2026 at 10:00, Ada <ada@acme.example> wrote:\n> it fails",
         "Thanks, fixed.", "On Mon"),
        ("Reply here\n\n-----Original Message-----\nFrom: x", "Reply here", "-----Original"),
        ("Ok\n\nFrom: Ada\nSent: Monday\nTo: support\nSubject: x\n\nold", "Ok", "From: Ada"),
        ("Top\n\n> line one\n>\n> line two", "Top", "> line one"),
        ("From: a colleague told me\nthe page fails", "From: a colleague told me\nthe page fails", None),
    ],
)
def test_quoted_history_is_split(body: str, own: str, quoted_start: str | None) -> None:
    mine, quoted = split_quoted(body)
    assert mine == own
    if quoted_start is None:
        assert quoted == ""
    else:
        assert quoted.startswith(quoted_start)
        p = parse_mail(_mail({}, body.replace("\n", "\r\n")))
        assert p.quoted_from is not None and p.body[p.quoted_from:].startswith(QUOTE_MARKER)
        assert p.own_text == own


def test_hostile_headers_and_body_are_kept_literally() -> None:
    hostile = "[bold red]x[/] <script>alert(1)</script> \x1b[31mred\x1b[0m {{ 7*7 }} <!channel>"
    p = parse_mail(_mail({"Subject": hostile}, hostile))
    assert p.subject == hostile
    assert p.body == hostile


def test_missing_message_id_gets_a_stable_one() -> None:
    raw = _mail({"Message-ID": None})  # type: ignore[dict-item]
    assert parse_mail(raw).message_id == parse_mail(raw).message_id
    assert parse_mail(raw).message_id.endswith("@idqueue.invalid")


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "auto-reply"),
        ({"Auto-Submitted": "auto-generated; owner-email=x@y"}, "auto-reply"),
        ({"Auto-Submitted": "no"}, None),
        ({"X-Autoreply": "yes"}, "auto-reply"),
        ({"X-Autorespond": "Out of office"}, "auto-reply"),
        ({"Precedence": "auto_reply"}, "auto-reply"),
        ({"Precedence": "bulk"}, "mailing list"),
        ({"Precedence": "junk"}, "mailing list"),
        ({"Precedence": "list"}, "mailing list"),
        ({"From": "MAILER-DAEMON@mx.acme.example"}, "bounce"),
        ({"From": "Mail Delivery <postmaster@acme.example>"}, "bounce"),
        ({"Return-Path": "<>"}, "bounce"),
        ({"Content-Type": 'multipart/report; report-type=delivery-status; boundary="b"'}, "bounce"),
        ({"List-Id": "<news.acme.example>"}, "mailing list"),
        ({"List-Unsubscribe": "<mailto:unsub@acme.example>"}, "mailing list"),
        ({"X-Idqueue-Action": "0f1e2d"}, "idqueue"),
        ({}, None),
    ],
)
def test_never_a_request(headers: dict[str, str], reason: str | None) -> None:
    assert parse_mail(_mail(headers)).never_request == reason
