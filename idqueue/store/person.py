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

from idqueue.store.codec import Connection

PERSON_KEYS = ("snoozed_until", "seen_at", "draft")
"""The values that are one person's in team mode."""


_SNOOZED_IDS = (
    "SELECT i.request_id FROM person_state p JOIN items i ON i.id = p.item_id "
    "WHERE p.person = :person AND p.snoozed_until > :now AND i.request_id IS NOT NULL"
)
"""The requests ``:person`` snoozed past ``:now``: one person's few snoozes, read once per query
(not a look-up per request, which would cost the queue a subquery per open request)."""


def snooze_clause(person: str, *, snoozed: bool) -> str:
    """The WHERE clause (over ``requests``) of the requests ``person`` snoozed past ``:now``
    (``snoozed``) or did not; the statement binds ``:now`` and, with a person, ``:person``.

    Empty ``person``: the request's own ``snoozed_until`` column, as for a single user.
    """
    if not person:
        return "snoozed_until > :now" if snoozed else "(snoozed_until IS NULL OR snoozed_until <= :now)"
    return f"id {'IN' if snoozed else 'NOT IN'} ({_SNOOZED_IDS})"


def snooze_order(person: str) -> str:
    """The sort expression of "snoozed" for ``person`` (their snooze, unsnoozed last). A look-up
    per row: meant for the snoozed view, whose rows the person's snoozes already are."""
    return (
        "COALESCE((SELECT MAX(p.snoozed_until) FROM items i JOIN person_state p ON p.item_id = i.id "
        "WHERE i.request_id = requests.id AND p.person = :person), '9999')"
    )


def snoozes_of(conn: Connection, person: str) -> dict[str, str]:
    """Request id → the latest snooze ``person`` set on any of its items (ISO text), for showing
    a window of requests with that person's snoozes."""
    rows = conn.execute(
        "SELECT i.request_id, MAX(p.snoozed_until) FROM person_state p JOIN items i ON i.id = p.item_id "
        "WHERE p.person = ? AND p.snoozed_until IS NOT NULL AND i.request_id IS NOT NULL GROUP BY i.request_id",
        (person,),
    )
    return {str(r[0]): str(r[1]) for r in rows}


def seen_mark(person: str) -> str:
    """A scalar subquery (over ``requests``): when ``person`` (or, with no person, the single
    user) last looked at the request, the latest read mark over its items (ISO text, NULL when
    never). Selected with a window's rows, so the marks cost no extra round trip; binds
    ``:person`` when a person is given."""
    if person:
        return ("SELECT MAX(p.seen_at) FROM items i JOIN person_state p ON p.item_id = i.id "
                "WHERE i.request_id = requests.id AND p.person = :person")
    return "SELECT MAX(l.seen_at) FROM items i JOIN local_state l ON l.item_id = i.id WHERE i.request_id = requests.id"


def unread_clause(person: str) -> str:
    """The WHERE clause (over ``requests``) of ``is:unread``: someone outside the team wrote
    after ``person``'s (or, with no person, the single user's) latest read mark on any of its
    items. A look-up per request that has such a message at all; a request never looked at has
    no read mark and is not unread (it is new). Binds ``:person`` when a person is given."""
    return f"(last_outside_at IS NOT NULL AND last_outside_at > ({seen_mark(person)}))"
