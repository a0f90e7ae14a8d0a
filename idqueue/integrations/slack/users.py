"""Slack users: the names ``users.info`` gives (:class:`UserNames`, cached in the cursor), the
name of a user Slack cannot find, and the users a text mentions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from idqueue.domain.models import Person
from idqueue.integrations.base import AuthError, BadPayload, NotFound, RateLimited, Unavailable


def unknown_user_name(user_id: str) -> str:
    """What a user that Slack cannot find is called."""
    return f"unknown user ({user_id})"


def referenced_users(text: str) -> list[str]:
    """User ids mentioned as ``<@U…>`` in a message text, in order, without repeats."""
    return list(dict.fromkeys(USER_MENTION_RE.findall(text)))




USER_MENTION_RE = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass
class UserNames:
    """The names ``users.info`` gave, kept across polls in the ``users`` cursor.

    A name that could not be resolved for a transient reason (outage, rate limit) is shown as
    ``unknown user (U…)`` for this poll only (``transient``, never stored); after the first
    such failure no more look-ups are spent in the poll (``down``).
    """

    people: dict[str, Person] = field(default_factory=dict)
    transient: set[str] = field(default_factory=set)
    down: bool = False
    dirty: bool = False
    """True when ``people`` has names the ``users`` cursor does not have yet."""

    def start_poll(self, stored: Any) -> None:
        """Forget the last poll's transient names and add the stored ones (the ``users`` cursor)."""
        for uid in self.transient:
            self.people.pop(uid, None)
        self.transient.clear()
        self.down = False
        if isinstance(stored, dict):
            for uid, value in stored.items():
                if uid not in self.people and isinstance(value, list) and len(value) == 2:
                    self.people[uid] = Person(uid, str(value[0]), is_bot=bool(value[1]))
        self.dirty = False

    def is_known(self, uid: str) -> bool:
        """True when the user's real name is known (not a transient "unknown user")."""
        return uid in self.people and uid not in self.transient

    def take_changes(self) -> dict[str, list[Any]] | None:
        """The ``users`` cursor value when names were added since the last call, else None."""
        if not self.dirty:
            return None
        self.dirty = False
        return {uid: [p.name, p.is_bot] for uid, p in self.people.items() if uid not in self.transient}

    def resolve(self, user_ids: Iterable[str], lookup: Callable[[str], dict[str, Any]]) -> None:
        """Resolve user ids through ``lookup`` (``users.info``), cached; never fails the poll."""
        for uid in user_ids:
            if not uid or uid in self.people:
                continue
            if self.down:
                # users.info already failed in this poll: do not spend retries and backoff on
                # every other id; they are shown as ids and looked up again next poll.
                self.people[uid] = Person(uid, unknown_user_name(uid))
                self.transient.add(uid)
                continue
            try:
                data = lookup(uid)
            except NotFound:
                self.people[uid] = Person(uid, unknown_user_name(uid))
                self.dirty = True
                continue
            except (RateLimited, Unavailable, BadPayload, AuthError):
                # Show the id for now (not kept in the cursor) and try again next poll; the
                # requests that show it remember it (``u``) and are re-sent once it resolves.
                self.people[uid] = Person(uid, unknown_user_name(uid))
                self.transient.add(uid)
                self.down = True
                continue
            user = data.get("user")
            if not isinstance(user, dict):
                self.people[uid] = Person(uid, unknown_user_name(uid))
                continue
            profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
            assert isinstance(profile, dict)
            # The full name reads best in a queue and matches the roster's names; the chosen
            # display name (often a handle) is the fallback.
            name = (
                profile.get("real_name") or user.get("real_name") or profile.get("display_name")
                or user.get("name") or unknown_user_name(uid)
            )
            self.people[uid] = Person(uid, str(name), is_bot=bool(user.get("is_bot")))
            self.dirty = True
