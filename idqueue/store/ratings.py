"""Stored satisfaction ratings (the survey export), idempotent on re-import.

Rows are keyed by the ``uid`` :func:`idqueue.domain.survey.parse_survey_csv` gives them, so
importing the same export twice, or a later export that repeats earlier rows, adds only the
new responses. A response whose request is not (yet) in the store is kept with no request;
every import tries again to link such responses, e.g. after the request was synced.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from idqueue.domain.survey import SurveyRow, request_ref_to_id
from idqueue.store.codec import iso_us

if TYPE_CHECKING:
    from idqueue.store.db import Store


@dataclass(slots=True)
class ImportResult:
    """What an import did."""

    added: int = 0
    already: int = 0
    """Rows that were imported before (same uid)."""
    unlinked: int = 0
    """Added rows whose request is not in the store (they count in the overall CSAT only)."""
    relinked: int = 0
    """Earlier unlinked rows that now found their request."""
    skipped: list[str] = field(default_factory=list)
    """Unusable lines, with why (filled by the caller from the parse)."""


def link_request(store: Store, ref: str) -> str | None:
    """The canonical request id for a survey's request cell (URL, id, alias or short key)."""
    text = ref.strip()
    if not text:
        return None
    candidate = request_ref_to_id(text)
    for probe in (candidate, text):
        if probe:
            found = store.resolve_id(probe)
            if found:
                return found
    # A link to one of the request's homes that is not its canonical id (e.g. a Slack
    # permalink with extra query parameters) may still be its stored URL.
    row = store.conn.execute(
        "SELECT id FROM requests WHERE url = ? OR links LIKE ? ESCAPE '\\' LIMIT 1",
        (text, "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"),
    ).fetchone()
    return str(row["id"]) if row else None


def import_ratings(store: Store, rows: Iterable[SurveyRow], *, now: datetime, source: str = "survey") -> ImportResult:
    """Insert survey rows that are not stored yet (one transaction) and relink old unlinked ones."""
    result = ImportResult()
    rows = list(rows)
    links = {row.ref: link_request(store, row.ref) for row in rows}
    unlinked = store.conn.execute("SELECT uid, request_ref FROM ratings WHERE request_id IS NULL").fetchall()
    relinks = [(rid, r["uid"]) for r in unlinked if (rid := link_request(store, r["request_ref"]))]
    stamp = iso_us(now)
    with store.write() as conn:
        for row in rows:
            request_id = links[row.ref]
            cur = conn.execute(
                "INSERT INTO ratings(uid, source, rating, at, request_ref, request_id, comment, imported_at) "
                "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                (row.uid, source, row.rating, iso_us(row.at), row.ref, request_id, row.comment, stamp),
            )
            if cur.rowcount:
                result.added += 1
                result.unlinked += request_id is None
            else:
                result.already += 1
        for request_id, uid in relinks:
            conn.execute("UPDATE ratings SET request_id=? WHERE uid=?", (request_id, uid))
        result.relinked = len(relinks)
    return result


def count_ratings(store: Store) -> int:
    """How many survey ratings are stored."""
    return int(store.conn.execute("SELECT COUNT(*) FROM ratings").fetchone()[0])
