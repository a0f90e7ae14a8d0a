"""Who is who in a Slack payload: the converters' context (roster, resolved names, our own
ids, intake bots) and the user ids a message shows."""

from __future__ import annotations

import re


def unknown_user_name(user_id: str) -> str:
    """What a user that Slack cannot find is called."""
    return f"unknown user ({user_id})"


def referenced_users(text: str) -> list[str]:
    """User ids mentioned as ``<@U…>`` in a message text, in order, without repeats."""
    return list(dict.fromkeys(USER_MENTION_RE.findall(text)))




USER_MENTION_RE = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
