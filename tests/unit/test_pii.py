"""The personal-data check run before text is posted to a public GitHub issue."""

from __future__ import annotations

import itertools

import pytest

from idqueue.domain.pii import PiiMatch, find_pii


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("reach me at ana.reyes@va.gov please", [("email", "ana.reyes@va.gov")]),
        ("Email: First.Last+tag@sub.example.co.uk.", [("email", "First.Last+tag@sub.example.co.uk")]),
        ("call (555) 123-4567", [("phone", "(555) 123-4567")]),
        ("call 555-123-4567 or 555.123.4567", [("phone", "555-123-4567"), ("phone", "555.123.4567")]),
        ("cell +1 555 123 4567", [("phone", "+1 555 123 4567")]),
        ("UK +44 20 7946 0958", [("phone", "+44 20 7946 0958")]),
        ("SSN 123-45-6789", [("ssn", "123-45-6789")]),
        ("ssn 123 45 6789", [("ssn", "123 45 6789")]),
        (
            "Veteran john@x.org, 555-123-4567, 078-05-1120",
            [("email", "john@x.org"), ("phone", "555-123-4567"), ("ssn", "078-05-1120")],
        ),
    ],
)
def test_finds_personal_data(text: str, found: list[tuple[str, str]]) -> None:
    matches = find_pii(text)
    assert [(m.kind, m.text) for m in matches] == found
    for m in matches:
        assert text[m.start : m.end] == m.text


@pytest.mark.parametrize(
    "text",
    [
        "created 2026-01-05, due 2026-03-08 09:00-17:00",
        "Slack ts 1712345678.000100 and permalink p1712345678000100",
        "issue #1234567890, REQ-12, v1.2.3, 10.0.0.1",
        "+100 users affected",
        "555-1234",  # 7 digits: not enough to identify anyone
        "000-12-3456 and 123-00-4567 are never issued",
        "ping @octocat about it",
        "https://github.com/va/support/issues/555-123-4567",
        "https://optimalworkshop.com/questions/52low0ey",
    ],
)
def test_leaves_ordinary_text_alone(text: str) -> None:
    assert find_pii(text) == []


def test_email_inside_url_is_still_reported() -> None:
    assert [m.kind for m in find_pii("see https://x.org/?email=bob@example.com")] == ["email"]


def test_allow_list_skips_known_addresses() -> None:
    text = "Contact identity-support@va.gov or bob@example.com"
    matches = find_pii(text, allow=["IDENTITY-SUPPORT@va.gov"])
    assert matches == [PiiMatch("email", "bob@example.com", 35, 50)]


def test_allow_covers_matches_inside_an_allowed_string() -> None:
    survey = "https://survey.example.org/s?contact=team@example.org"
    assert find_pii(f"Take the survey: {survey}", allow=[survey]) == []
    assert find_pii(f"Take the survey: {survey}") != []


def test_matches_are_in_text_order_and_do_not_overlap() -> None:
    text = "ssn 123-45-6789 phone 555-123-4567 mail a@b.io"
    matches = find_pii(text)
    assert [m.start for m in matches] == sorted(m.start for m in matches)
    assert all(a.end <= b.start for a, b in itertools.pairwise(matches))
