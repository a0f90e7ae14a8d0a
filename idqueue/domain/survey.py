"""Satisfaction ratings: the survey tool's CSV export and in-Slack 1–5 reactions. Pure.

* :func:`parse_survey_csv` reads an export with the column names from config
  (``[survey.columns]``: rating, date, request, comment), reports bad rows by line number and
  gives every good row a stable ``uid`` so that importing the same export again (or a later
  export that repeats old rows) adds nothing twice.
* :func:`request_ref_to_id` turns the "request" cell (a GitHub issue URL, a Slack permalink,
  a request id or a short key) into a request id where the text alone says which.
* :func:`ratings_from_reactions` reads the ``:one:`` … ``:five:`` reactions on idqueue's
  closing message (the optional in-Slack rating).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from idqueue.domain.models import GITHUB_ID_RE, SLACK_ID_RE, github_id, slack_id

RATING_REACTIONS: dict[str, int] = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
"""Slack reaction names read as ratings."""

COLUMN_KEYS = ("rating", "date", "request", "comment")
"""The keys of ``[survey.columns]``; ``rating`` and ``date`` must be present in the file."""

_GH_URL = re.compile(r"https?://[^/\s]+/(?:api/v3/repos/|repos/)?(?P<repo>[^/\s]+/[^/\s]+)/(?:issues|pull)/(?P<n>\d+)")
_SLACK_URL = re.compile(r"https?://[^/\s]+/archives/(?P<ch>[A-Z0-9]+)/p(?P<ts>\d{16})")
_SLACK_THREAD = re.compile(r"[?&]thread_ts=(?P<ts>\d+\.\d+)")
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d", "%d %b %Y", "%b %d, %Y")


class SurveyError(Exception):
    """The file cannot be imported at all (message for the user)."""


@dataclass(frozen=True, slots=True)
class SurveyRow:
    """One usable response of the export.

    Attributes:
        line: line number in the file (the header is line 1).
        uid: stable identity: a hash of the normalised row, plus ``#n`` for the n-th identical
            row in the same file, so re-importing adds nothing and true duplicates survive.
        rating: 1–5.
        at: when it was given (a date alone means local midnight in the team timezone).
        ref: the request cell as written ("" when absent).
        comment: free text.
    """

    line: int
    uid: str
    rating: int
    at: datetime
    ref: str
    comment: str


@dataclass(slots=True)
class SurveyParse:
    """The usable rows of an export and the lines that were skipped (with why)."""

    rows: list[SurveyRow] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def parse_rating(text: str) -> int | None:
    """The 1–5 rating in a cell: ``5``, ``4.0``, ``5 - Very satisfied``, ``★★★★☆`` (4)."""
    value = text.strip()
    if not value:
        return None
    stars = value.count("★")
    if stars and set(value) <= {"★", "☆", " "}:
        return stars if 1 <= stars <= 5 else None
    m = re.match(r"^\s*(\d+(?:\.\d+)?)(?![\d.])", value)
    if not m:
        return None
    number = float(m.group(1))
    if not number.is_integer() or not 1 <= number <= 5:
        return None
    return int(number)


def parse_when(text: str, tz: str) -> datetime | None:
    """A date or date-time cell as an aware UTC datetime.

    Accepts ISO 8601 (date, or date-time with or without offset; without one it is local
    time in ``tz``), ``MM/DD/YYYY``, ``YYYY/MM/DD``, ``05 Mar 2026`` and ``Mar 05, 2026``. A bare
    date means local midnight in ``tz``, so it falls in that local day's month.
    """
    value = text.strip()
    if not value:
        return None
    zone = ZoneInfo(tz)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is not None:
        if len(value) <= 10:  # a bare ISO date
            return datetime.combine(parsed.date(), time(0, 0), tzinfo=zone).astimezone(UTC)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        return parsed.astimezone(UTC)
    for fmt in _DATE_FORMATS:
        try:
            day: date = datetime.strptime(value, fmt).date()  # noqa: DTZ007 - a bare date, localised below
        except ValueError:
            continue
        return datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)
    return None


def request_ref_to_id(ref: str) -> str | None:
    """The request id a reference names by its text alone, or None.

    ``https://github.com/o/r/issues/12`` → ``gh:o/r#12``; a Slack permalink
    ``https://x.slack.com/archives/C1/p1712345678000100`` → ``slack:C1/1712345678.000100``
    (the thread's parent when the link has ``thread_ts``); ``gh:…`` / ``slack:…`` ids as is.
    Short keys (``REQ-12``) need the store (:meth:`Store.resolve_id`).
    """
    text = ref.strip()
    if GITHUB_ID_RE.match(text) or SLACK_ID_RE.match(text):
        return text
    m = _GH_URL.search(text)
    if m:
        return github_id(m["repo"], int(m["n"]))
    m = _SLACK_URL.search(text)
    if m:
        thread = _SLACK_THREAD.search(text)
        ts = thread["ts"] if thread else f"{m['ts'][:10]}.{m['ts'][10:]}"
        return slack_id(m["ch"], ts)
    return None


def _header_index(header: Sequence[str], columns: Mapping[str, str]) -> dict[str, int]:
    normalised = [h.strip().lstrip("\ufeff").casefold() for h in header]
    index: dict[str, int] = {}
    for key in COLUMN_KEYS:
        name = columns.get(key)
        if not name:
            continue
        try:
            index[key] = normalised.index(name.strip().casefold())
        except ValueError:
            if key in ("rating", "date"):
                found = ", ".join(h for h in header if h) or "none"
                raise SurveyError(
                    f"column {name!r} (survey.columns.{key}) is not in the file; its columns are: {found}"
                ) from None
    return index


def parse_survey_csv(text: str, columns: Mapping[str, str], *, tz: str) -> SurveyParse:
    """Parse a survey export.

    Args:
        text: the CSV file's text (comma-separated, first line is the header; a UTF-8 BOM is fine).
        columns: ``[survey.columns]``: rating/date/request/comment → header names
            (compared case-insensitively). ``request`` and ``comment`` are optional.
        tz: the team timezone, for dates without a time or offset.

    Raises:
        SurveyError: the file is empty or lacks the rating or date column.
    """
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise SurveyError("the file is empty") from None
    index = _header_index(header, columns)
    result = SurveyParse()
    seen: dict[str, int] = {}
    for line_no, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue

        def cell(key: str, cells: list[str] = cells) -> str:
            i = index.get(key)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        rating = parse_rating(cell("rating"))
        if rating is None:
            result.skipped.append(f"line {line_no}: rating {cell('rating')!r} is not 1–5")
            continue
        at = parse_when(cell("date"), tz)
        if at is None:
            result.skipped.append(f"line {line_no}: date {cell('date')!r} is not a date")
            continue
        ref, comment = cell("request"), cell("comment")
        digest = hashlib.sha256(
            "\x1f".join((str(rating), at.isoformat(), ref, comment)).encode()
        ).hexdigest()[:24]
        seen[digest] = seen.get(digest, 0) + 1
        uid = f"survey:{digest}" + (f"#{seen[digest]}" if seen[digest] > 1 else "")
        result.rows.append(SurveyRow(line_no, uid, rating, at, ref, comment))
    return result


def ratings_from_reactions(
    reactions: Mapping[str, Sequence[str]], requester_id: str | None
) -> list[tuple[str, int]]:
    """Ratings in the reactions of a closing message: ``[(user id, 1–5), …]``.

    Only ``:one:`` … ``:five:`` count. When the requester is known only their reactions
    count (a teammate's ``:five:`` is not a customer rating); otherwise everyone's do. A
    person who reacted with several numbers counts once, with the lowest (the cautious
    reading).
    """
    best: dict[str, int] = {}
    for name, users in reactions.items():
        value = RATING_REACTIONS.get(name)
        if value is None:
            continue
        for user in users:
            if requester_id is not None and user != requester_id:
                continue
            best[user] = min(value, best.get(user, value))
    return sorted(best.items())
