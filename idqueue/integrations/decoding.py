"""Lenient decoding of API answers: bytes that are not UTF-8 cost one item its characters, not
the whole answer.

Slack and GitHub promise UTF-8, but a proxy, a bad import or a truncated multi-byte character
can put a stray byte in one message or issue. A strict decoder then rejects the page on every
poll, forever. Here the bad bytes become U+FFFD (the replacement character), their byte offsets
are kept, and :func:`describe_replacements` names the items that carry them for the sync
summary and the log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

REPLACEMENT = "\ufffd"
_MAX_OFFSETS = 100
"""After this many bad sequences the rest is decoded in one go (offsets are no longer kept)."""


def decode_utf8(raw: bytes) -> tuple[str, list[int]]:
    """Decode UTF-8, replacing invalid sequences with U+FFFD.

    Returns:
        The text and the byte offsets at which invalid sequences started.
    """
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    parts: list[str] = []
    offsets: list[int] = []
    pos = 0
    while pos < len(raw):
        if len(offsets) >= _MAX_OFFSETS:
            parts.append(raw[pos:].decode("utf-8", errors="replace"))
            break
        try:
            parts.append(raw[pos:].decode("utf-8"))
            break
        except UnicodeDecodeError as exc:
            parts.append(raw[pos : pos + exc.start].decode("utf-8"))
            offsets.append(pos + exc.start)
            parts.append(REPLACEMENT)
            pos += max(exc.end, exc.start + 1)
    return "".join(parts), offsets


def loads_lenient(raw: bytes) -> tuple[Any, list[int]]:
    """Parse a JSON body whose bytes may not all be UTF-8.

    Returns:
        The value and the byte offsets of the replaced sequences (empty for clean UTF-8).

    Raises:
        ValueError: the body is not JSON (after replacement).
    """
    text, offsets = decode_utf8(raw)
    return json.loads(text), offsets


def describe_replacements(what: str, value: Any, offsets: list[int]) -> str:
    """One line for the sync summary: where the bad bytes were and which items show U+FFFD.

    Args:
        what: the answer, e.g. ``GitHub va-identity/support issues``.
        value: the decoded JSON.
        offsets: byte offsets of the invalid sequences.
    """
    shown = ", ".join(str(o) for o in offsets[:5]) + (", …" if len(offsets) > 5 else "")
    items = list(dict.fromkeys(_labels(value)))
    where = f" in {', '.join(items[:5])}{', …' if len(items) > 5 else ''}" if items else ""
    count = f"{len(offsets)}{'+' if len(offsets) >= _MAX_OFFSETS else ''}"
    return (
        f"{what}: {count} byte sequence(s) that are not UTF-8 at byte {shown}{where}; "
        f"shown as {REPLACEMENT}, the rest synced"
    )


def _labels(value: Any, owner: str | None = None) -> Iterator[str]:
    """Labels (``#12``, ``ts 1712345678.000100``, ``id U123``) of the outermost objects with an
    id that hold a U+FFFD somewhere inside (an issue, a message, a user)."""
    if isinstance(value, str):
        if REPLACEMENT in value and owner is not None:
            yield owner
        return
    if isinstance(value, list):
        for child in value:
            yield from _labels(child, owner)
        return
    if not isinstance(value, dict):
        return
    if owner is None:
        if "number" in value:
            owner = f"#{value['number']}"
        elif "ts" in value:
            owner = f"ts {value['ts']}"
        elif "id" in value:
            owner = f"id {value['id']}"
    for child in value.values():
        yield from _labels(child, owner)
