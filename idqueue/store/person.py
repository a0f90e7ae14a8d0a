"""Per-person state in a shared store: snoozes, reply drafts and read marks (``person_state``).

In team mode several people work on one database. Priority and customer overrides are team
facts and stay shared (``local_state``); a snooze, a half-typed reply and a read mark are
one person's. A :class:`~idqueue.store.db.Store` whose ``person`` is set (a client's roster key,
``me``) keeps those in ``person_state``, one row per (person, item) like ``local_state`` (so a
merge or split keeps them), and reads only its own: a teammate's snooze never hides a request
from me.

With ``person`` empty (a single user's SQLite file, the default) nothing changes: they live in
``local_state`` and the request's ``snoozed_until`` column, exactly as before.
"""

from __future__ import annotations

PERSON_KEYS = ("snoozed_until", "seen_at", "draft")
"""The values that are one person's in team mode."""


def snoozed_sql(person: str) -> str:
    """The SQL expression (over ``requests``) of a request's snooze as ``person`` sees it.

    Empty ``person``: the request's own column. Else the latest snooze ``person`` set on any of
    the request's items; the statement binds ``:person``.
    """
    if not person:
        return "snoozed_until"
    return (
        "(SELECT MAX(p.snoozed_until) FROM items i JOIN person_state p ON p.item_id = i.id "
        "WHERE i.request_id = requests.id AND p.person = :person)"
    )
