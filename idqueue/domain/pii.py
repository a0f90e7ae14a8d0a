"""A guard against posting personal data to a public GitHub issue.

The VA intake bot warns its users that what they type "will be added to a public Github
issue". idqueue applies the same caution to its own replies: before text is posted, it is
scanned for things that look like personal data (email addresses, phone numbers, SSN-like
numbers) and the user is asked to confirm. It is a heuristic that errs on the side of asking;
it is not a data-loss-prevention system.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = ["PiiMatch", "find_pii"]

PiiKind = Literal["email", "phone", "ssn"]

_EMAIL_RE = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
# 123-45-6789 or 123 45 6789; area 000, group 00 and serial 0000 are never issued.
_SSN_RE = re.compile(r"(?<![\w.-])(?!000)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\w-])")
# North American numbers with separators: (555) 123-4567, 555-123-4567, +1 555.123.4567;
# international numbers that start with "+": +44 20 7946 0958. Bare digit runs are ids far
# more often than phone numbers (timestamps, issue numbers), so they are not flagged.
_PHONE_RE = re.compile(
    r"(?<![\w.+-])(?:"
    r"(?:\+?1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}"
    r"|\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}"
    r")(?![\w-])"
)
_PHONE_DIGITS = (8, 15)
_URL_RE = re.compile(r"(?:https?|mailto):[^\s<>|)\]]+", re.IGNORECASE)


@dataclass(frozen=True)
class PiiMatch:
    """A span of text that looks like personal data.

    Attributes:
        kind: ``email``, ``phone`` or ``ssn``.
        text: the matched text.
        start: offset of the first character in the scanned text.
        end: offset after the last character.
    """

    kind: PiiKind
    text: str
    start: int
    end: int


def _allowed_spans(text: str, allow: Iterable[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    low = text.lower()
    for item in allow:
        needle = item.strip().lower()
        if not needle:
            continue
        start = low.find(needle)
        while start != -1:
            spans.append((start, start + len(needle)))
            start = low.find(needle, start + 1)
    return spans


def _inside(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s <= start and end <= e for s, e in spans)


def find_pii(text: str, *, allow: Iterable[str] = ()) -> list[PiiMatch]:
    """Find text that looks like personal data.

    Args:
        text: the text about to be posted.
        allow: strings that are known to be fine (the team's own addresses, the survey
            link, the docs link); matches inside one of them are not reported.

    Returns:
        The matches, in order of position. Phone- and SSN-like digits inside a URL are
        ignored (they are ids and paths far more often), but an email address inside a
        URL is still reported.
    """
    allowed = _allowed_spans(text, allow)
    urls = [m.span() for m in _URL_RE.finditer(text)]
    found: list[PiiMatch] = []
    taken: list[tuple[int, int]] = []

    def add(kind: PiiKind, pattern: re.Pattern[str], *, skip_urls: bool) -> None:
        for m in pattern.finditer(text):
            start, end = m.span()
            if _inside(start, end, allowed) or (skip_urls and _inside(start, end, urls)):
                continue
            if kind == "phone" and not _PHONE_DIGITS[0] <= sum(c.isdigit() for c in m.group(0)) <= _PHONE_DIGITS[1]:
                continue  # "+100 users" is not a phone number; E.164 has at most 15 digits
            # The SSN pattern runs first; a phone pattern must not report the same digits.
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            found.append(PiiMatch(kind, m.group(0), start, end))

    add("email", _EMAIL_RE, skip_urls=False)
    add("ssn", _SSN_RE, skip_urls=True)
    add("phone", _PHONE_RE, skip_urls=True)
    return sorted(found, key=lambda match: match.start)
