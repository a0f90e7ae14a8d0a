"""Atlassian Document Format (ADF) to plain text, and plain text to ADF.

Jira Cloud's REST v3 carries issue descriptions and comment bodies as ADF, a JSON tree of
nodes (``doc`` → blocks such as ``paragraph``, ``bulletList``, ``codeBlock``, ``table`` →
inline nodes such as ``text``, ``mention``, ``emoji``, ``inlineCard``). idqueue shows and
classifies text, so :func:`to_text` renders a tree into readable plain text:

* blocks are separated by a blank line; a ``hardBreak`` is a line break;
* list items get ``- `` or ``1. `` (nested lists are indented by two spaces), task items
  ``[ ]``/``[x]``, block quotes ``> ``;
* a code block is fenced with three backticks;
* a mention is its display text (``@Ana``), an emoji its text or short name, a link mark
  ``text (url)`` (just the URL when the text is the URL), a card its URL, a date ``YYYY-MM-DD``;
* a table is one line per row with cells separated by `` | ``;
* any node it does not know renders as the text of its children (``attrs.text`` or ``attrs.url``
  when it has no children), and a malformed node renders as nothing: never an exception.

Server/Data Center (REST v2) sends plain strings (wiki markup); :func:`to_text` returns a string
as it is.

:func:`from_text` builds the ADF of a reply: paragraphs at blank lines, ``hardBreak`` at single
line breaks, ``http(s)`` URLs as links. Everything else stays literal text (no markup is
interpreted), so hostile input cannot become formatting or a link it does not spell out.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

__all__ = ["from_text", "to_text"]

_MAX_DEPTH = 64
"""Deeper trees are cut (ADF nesting is shallow in practice; this bounds hostile input)."""

_URL = re.compile(r"https?://[^\s<>\"'`]+[^\s<>\"'`.,;:!?)\]}]")

_INDENTED_LISTS = frozenset({"bulletList", "orderedList", "taskList", "decisionList"})


def to_text(node: Any) -> str:
    """Render an ADF document (or any ADF node) as plain text.

    Args:
        node: the parsed ADF JSON (a ``doc`` node, any node, a list of nodes), a plain string
            (REST v2 wiki text, returned as is) or None.

    Returns:
        The text, without trailing whitespace; ``""`` for None or an unusable value.
    """
    if node is None:
        return ""
    if isinstance(node, str):
        return node.strip()
    if isinstance(node, list):
        return _blocks(node, 0).strip()
    return _block(node, 0).strip()


def _children(node: dict[str, Any]) -> list[Any]:
    content = node.get("content")
    return content if isinstance(content, list) else []


def _attrs(node: dict[str, Any]) -> dict[str, Any]:
    attrs = node.get("attrs")
    return attrs if isinstance(attrs, dict) else {}


def _blocks(nodes: list[Any], depth: int) -> str:
    """Blocks separated by a blank line (inline runs between blocks are kept together)."""
    parts: list[str] = []
    inline: list[Any] = []
    for child in nodes:
        if isinstance(child, dict) and _is_inline(child):
            inline.append(child)
            continue
        if inline:
            parts.append(_inline(inline, depth))
            inline = []
        text = _block(child, depth)
        if text.strip():
            parts.append(text.rstrip())
    if inline:
        parts.append(_inline(inline, depth))
    return "\n\n".join(p for p in parts if p.strip())


_INLINE_TYPES = frozenset({"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status",
                           "placeholder", "inlineExtension", "mediaInline"})


def _is_inline(node: dict[str, Any]) -> bool:
    return node.get("type") in _INLINE_TYPES


def _block(node: Any, depth: int) -> str:
    """One block node as text (may span lines)."""
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return ""
    kind = node.get("type")
    children = _children(node)
    attrs = _attrs(node)
    if kind in ("paragraph", "heading"):
        return _inline(children, depth)
    if kind == "codeBlock":
        code = "".join(str(c.get("text", "")) for c in children if isinstance(c, dict))
        return f"```\n{code}\n```"
    if kind in _INDENTED_LISTS:
        return _list(node, depth)
    if kind == "blockquote":
        inner = _blocks(children, depth + 1)
        return "\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))
    if kind == "rule":
        return "---"
    if kind == "table":
        return "\n".join(r for r in (_row(row, depth) for row in children) if r)
    if kind in ("expand", "nestedExpand"):
        title = str(attrs.get("title") or "").strip()
        inner = _blocks(children, depth + 1)
        return f"{title}\n{inner}" if title and inner else title or inner
    if kind in ("blockCard", "embedCard"):
        return str(attrs.get("url") or "")
    if kind in ("mediaSingle", "mediaGroup", "media"):
        return _media(node)
    if _is_inline(node):
        return _inline([node], depth)
    # doc, panel, layoutSection/Column, bodiedExtension and any node we do not know.
    if children:
        return _blocks(children, depth + 1)
    return str(attrs.get("text") or attrs.get("url") or node.get("text") or "")


def _media(node: dict[str, Any]) -> str:
    """An attachment as ``[attachment: alt]`` (or ``[attachment]``)."""
    names = []
    for media in [node, *_children(node)]:
        if isinstance(media, dict):
            alt = _attrs(media).get("alt")
            if isinstance(alt, str) and alt.strip():
                names.append(alt.strip())
    return f"[attachment: {', '.join(names)}]" if names else "[attachment]"


def _row(row: Any, depth: int) -> str:
    if not isinstance(row, dict):
        return ""
    cells = [_blocks(_children(c), depth + 1).replace("\n", " ").strip()
             for c in _children(row) if isinstance(c, dict)]
    return " | ".join(cells)


def _list(node: dict[str, Any], depth: int) -> str:
    kind = node.get("type")
    start = _attrs(node).get("order")
    number = start if isinstance(start, int) and not isinstance(start, bool) else 1
    lines: list[str] = []
    for item in _children(node):
        if not isinstance(item, dict):
            continue
        if item.get("type") in _INDENTED_LISTS:  # a list nested right in a list
            lines.extend("  " + line for line in _list(item, depth + 1).split("\n") if line)
            continue
        if kind == "orderedList":
            bullet = f"{number}. "
            number += 1
        elif kind == "taskList":
            bullet = "[x] " if _attrs(item).get("state") == "DONE" else "[ ] "
        elif kind == "decisionList":
            bullet = "> "
        else:
            bullet = "- "
        lines.extend(_item(item, bullet, depth))
    return "\n".join(lines)


def _item(item: dict[str, Any], bullet: str, depth: int) -> list[str]:
    """One list item: the bullet on its first line, nested lists indented."""
    if item.get("type") in ("taskItem", "decisionItem"):
        text = _inline(_children(item), depth)
    else:
        parts = []
        for child in _children(item):
            if isinstance(child, dict) and child.get("type") in _INDENTED_LISTS:
                parts.append("\n".join("  " + line for line in _list(child, depth + 1).split("\n") if line))
            else:
                parts.append(_block(child, depth + 1))
        text = "\n".join(p for p in parts if p)
    lines = text.split("\n") if text else [""]
    pad = " " * len(bullet) if not bullet.startswith("  ") else ""
    out = [bullet + lines[0]]
    out.extend(line if line.startswith("  ") else pad + line for line in lines[1:])
    return out


def _inline(nodes: list[Any], depth: int) -> str:
    """Inline nodes as one run of text (``hardBreak`` → newline)."""
    out: list[str] = []
    for node in nodes:
        if not isinstance(node, dict):
            continue
        out.append(_inline_one(node, depth))
    return "".join(out)


def _inline_one(node: dict[str, Any], depth: int) -> str:
    kind = node.get("type")
    attrs = _attrs(node)
    if kind == "text":
        return _text_with_marks(node)
    if kind == "hardBreak":
        return "\n"
    if kind == "mention":
        text = attrs.get("text")
        if isinstance(text, str) and text:
            return text if text.startswith("@") else f"@{text}"
        return f"@{attrs.get('id') or 'someone'}"
    if kind == "emoji":
        return str(attrs.get("text") or attrs.get("shortName") or "")
    if kind == "inlineCard":
        return str(attrs.get("url") or "")
    if kind == "date":
        return _date(attrs.get("timestamp"))
    if kind in ("status", "placeholder"):
        return str(attrs.get("text") or "")
    if kind == "mediaInline":
        return _media(node)
    if _children(node) and depth < _MAX_DEPTH:
        return _inline(_children(node), depth + 1)
    return str(attrs.get("text") or node.get("text") or "")


def _text_with_marks(node: dict[str, Any]) -> str:
    text = str(node.get("text") or "")
    marks = node.get("marks")
    for mark in marks if isinstance(marks, list) else []:
        if isinstance(mark, dict) and mark.get("type") == "link":
            href = _attrs(mark).get("href")
            if isinstance(href, str) and href and href != text:
                return f"{text} ({href})" if text else href
    return text


def _date(value: Any) -> str:
    try:
        return datetime.fromtimestamp(int(str(value)) / 1000, UTC).strftime("%Y-%m-%d")
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


# --------------------------------------------------------------------------- text → ADF


def from_text(text: str) -> dict[str, Any]:
    """The ADF document of a plain-text reply.

    Paragraphs are split at blank lines, single line breaks become ``hardBreak`` nodes and
    ``http(s)`` URLs become links; nothing else is interpreted.

    Args:
        text: the reply.

    Returns:
        A ``doc`` node (version 1); an empty document for empty text.
    """
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", normalized) if p.strip()]
    return {"type": "doc", "version": 1, "content": [_paragraph(p.strip("\n")) for p in paragraphs]}


def _paragraph(text: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for index, line in enumerate(text.split("\n")):
        if index:
            content.append({"type": "hardBreak"})
        content.extend(_linked(line))
    return {"type": "paragraph", "content": content}


def _linked(line: str) -> list[dict[str, Any]]:
    """A line as text nodes, URLs carrying a link mark (ADF text nodes must not be empty)."""
    nodes: list[dict[str, Any]] = []
    at = 0
    for m in _URL.finditer(line):
        if m.start() > at:
            nodes.append({"type": "text", "text": line[at:m.start()]})
        url = m.group(0)
        nodes.append({"type": "text", "text": url, "marks": [{"type": "link", "attrs": {"href": url}}]})
        at = m.end()
    if at < len(line):
        nodes.append({"type": "text", "text": line[at:]})
    return nodes
