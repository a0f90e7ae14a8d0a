"""The intake-form fields of a Slack message: its blocks (read by :mod:`idqueue.domain.intake`)
and its ``*Label:* value`` lines, and its reactions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from idqueue.domain.intake import parse_slack_blocks

FIELD_MAX = 2000


# "*Label:* value" or "*Label*: value" (a label is short and has no stars or newlines).
_LABEL_RE = re.compile(r"^[ \t>•-]*\*([^*\n]{1,80}?)\s*(?::\s*\*|\*\s*:)[ \t]*(.*)$")


def parse_form_fields(text: str) -> dict[str, str]:
    """Parse ``*Label:* value`` lines (Slack intake form) into ``{"Label": "value"}``.

    A label with nothing after it takes the following lines as its value (the block layout
    ``*Label:*\\nvalue``); other lines after a value continue it until the next label. Values
    are kept as Slack wrote them (mentions are resolved by the caller).
    """
    fields: dict[str, str] = {}
    current: str | None = None
    for line in text.splitlines():
        m = _LABEL_RE.match(line)
        if m:
            current = m.group(1).strip()
            if current and current not in fields:
                fields[current] = m.group(2).strip()[:FIELD_MAX]
            elif current:
                current = None  # a repeated label: keep the first, ignore its continuation
            continue
        if current is not None and line.strip():
            joined = f"{fields[current]}\n{line.strip()}" if fields[current] else line.strip()
            fields[current] = joined[:FIELD_MAX]
    return {k: v for k, v in fields.items() if v}


def block_fields(blocks: Any) -> dict[str, str]:
    """Structured fields from an intake bot's blocks (raw Slack values), as
    :func:`idqueue.domain.intake.parse_slack_blocks` reads them."""
    if not isinstance(blocks, list) or not blocks:
        return {}
    try:
        parsed = parse_slack_blocks(blocks)
    except Exception:  # lenient: a parser bug must not fail the poll
        return {}
    return {str(k): str(v) for k, v in parsed.items() if v}


def message_fields(message: Mapping[str, Any]) -> dict[str, str]:
    """The intake fields of a message (raw Slack values): blocks first, then ``*Label:*`` lines."""
    fields = block_fields(message.get("blocks"))
    text = message.get("text")
    if isinstance(text, str):
        for key, value in parse_form_fields(text).items():
            fields.setdefault(key, value)
    return fields


def reaction_map(message: Mapping[str, Any]) -> dict[str, list[str]]:
    """Reactions of a message: name → user ids (``{}`` when none)."""
    out: dict[str, list[str]] = {}
    reactions = message.get("reactions")
    if not isinstance(reactions, list):
        return out
    for r in reactions:
        if isinstance(r, dict) and isinstance(r.get("name"), str):
            users = r.get("users")
            out[r["name"]] = [u for u in users if isinstance(u, str)] if isinstance(users, list) else []
    return out
