"""What a source's next poll should look at, read from the store (see ``PollHints``).

A poller cannot be told about every change upstream (Slack sends no event for a reply under
an old parent to a poller), so the sync engine tells each source which of its items belong to
open requests, and how urgent they are, before it polls. SQL only; the engine builds the
source's hints from these answers.
"""

from __future__ import annotations

from idqueue.store.db import Store

URGENCY_LABELS = (
    "unanswered, breached",
    "unanswered, at risk",
    "unanswered",
    "breached",
    "at risk",
    "open",
)
"""What each urgency class (0 = most urgent) means."""

_OPEN_ITEMS = """
SELECT i.id AS id,
       CASE
         WHEN q.first_response_at IS NULL AND q.sla_state = 'breached' THEN 0
         WHEN q.first_response_at IS NULL AND q.sla_state = 'at_risk' THEN 1
         WHEN q.first_response_at IS NULL THEN 2
         WHEN q.sla_state = 'breached' THEN 3
         WHEN q.sla_state = 'at_risk' THEN 4
         ELSE 5
       END AS urgency
FROM items i JOIN requests q ON q.id = i.request_id
WHERE q.is_open = 1 AND i.source = ? AND i.deleted = 0
ORDER BY urgency, q.sla_due_at IS NULL, q.sla_due_at, q.created_at, i.id
"""

# Link targets with the source's id prefix that no stored item has, linked from open requests.
_MISSING_LINKS = """
SELECT DISTINCT l.to_id AS id
FROM item_links l
JOIN items f ON f.id = l.from_id
JOIN requests q ON q.id = f.request_id
WHERE q.is_open = 1 AND substr(l.to_id, 1, length(:prefix)) = :prefix
  AND NOT EXISTS (SELECT 1 FROM items t WHERE t.id = l.to_id)
ORDER BY l.to_id
"""


def open_items(store: Store, source: str) -> dict[str, int]:
    """Ids of one source's items whose request is open → urgency class, most urgent first.

    Urgency classes (0 = most urgent, see :data:`URGENCY_LABELS`): unanswered before answered;
    breached, at risk, then the rest; within a class the earliest due first, then the oldest.

    Args:
        store: the store.
        source: the source kind (``slack``).
    """
    rows = store.conn.execute(_OPEN_ITEMS, (source,)).fetchall()
    return {str(r["id"]): int(r["urgency"]) for r in rows}


def missing_links(store: Store, source: str) -> list[str]:
    """Ids of one source's items that an open request links to but that were never fetched.

    Args:
        store: the store.
        source: the source kind; its item ids start with ``<source>:``.
    """
    rows = store.conn.execute(_MISSING_LINKS, {"prefix": f"{source}:"}).fetchall()
    return [str(r["id"]) for r in rows]
