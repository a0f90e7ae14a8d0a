"""The footer that ends the description of every card idqueue creates: the request it belongs to
and the outbox action that created it. The writer looks for it before creating a card again; the
reader links the card to its request by it."""

from __future__ import annotations

import re

__all__ = ["card_footer", "footer_of"]

_FOOTER = re.compile(r"\nidqueue-request: (?P<request>[^\n]+)\nidqueue-action: (?P<action>[\w-]+)\s*\Z")


def card_footer(request_id: str, action_id: str) -> str:
    """The lines that end an idqueue card's description (the reader and retries look for them)."""
    return f"\n\n---\nidqueue-request: {request_id}\nidqueue-action: {action_id}"


def footer_of(desc: str) -> tuple[str, str] | None:
    """``(request id, action id)`` from the footer that ends a card's description, or None.

    Only the end counts: a marker quoted inside the request's own text cannot pass for it.
    """
    found = _FOOTER.search(desc or "")
    if found is None:
        return None
    return found.group("request").strip(), found.group("action")
