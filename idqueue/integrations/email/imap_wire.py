"""The IMAP4rev1 wire syntax the loopback server reads (RFC 3501 §9 / RFC 9051 §9, the subset used).

A command line is a tag, a command name and arguments: atoms, quoted strings, parenthesised
lists and literals (``{n}`` followed by ``n`` octets). :func:`tokenize` turns a line whose
literals were already read (:class:`Literal` placeholders) into nested Python values;
:func:`quote` writes a string back in the form a client reads.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Literal:
    """A literal's octets inside a tokenized command."""

    data: bytes


class WireError(ValueError):
    """The command is not valid IMAP syntax (the server answers ``BAD``)."""


def tokenize(parts: list[bytes | Literal]) -> list[object]:
    """Split a command (its text pieces and literals, in order) into tokens.

    Args:
        parts: the line's text pieces with the literals read between them.

    Returns:
        A list of tokens: ``str`` for atoms and quoted strings, ``bytes`` for literals, and
        nested lists for parenthesised lists.

    Raises:
        WireError: unbalanced parentheses or an unterminated quoted string.
    """
    stack: list[list[object]] = [[]]
    for part in parts:
        if isinstance(part, Literal):
            stack[-1].append(part.data)
            continue
        _scan(part.decode("utf-8", errors="surrogateescape"), stack)
    if len(stack) != 1:
        raise WireError("unbalanced parentheses")
    return stack[0]


def _scan(text: str, stack: list[list[object]]) -> None:
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == " ":
            i += 1
        elif ch == "(":
            new: list[object] = []
            stack[-1].append(new)
            stack.append(new)
            i += 1
        elif ch == ")":
            if len(stack) == 1:
                raise WireError("unbalanced parentheses")
            stack.pop()
            i += 1
        elif ch == '"':
            i, value = _quoted(text, i + 1)
            stack[-1].append(value)
        else:
            start = i
            depth = 0
            while i < n and (text[i] not in " ()" or depth):
                # BODY[HEADER.FIELDS (A B)] keeps its brackets' contents in one atom.
                if text[i] == "[":
                    depth += 1
                elif text[i] == "]":
                    depth = max(0, depth - 1)
                i += 1
            stack[-1].append(text[start:i])


def _quoted(text: str, i: int) -> tuple[int, str]:
    out: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif ch == '"':
            return i + 1, "".join(out)
        else:
            out.append(ch)
            i += 1
    raise WireError("unterminated quoted string")


def quote(value: str) -> str:
    """A quoted string (RFC 3501 ``quoted``): backslash and double quote escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal_size(line: bytes) -> tuple[int, bool] | None:
    """The size announced by a line ending in ``{n}`` or ``{n+}`` (LITERAL+), and whether it
    is non-synchronising; None when the line has no literal."""
    stripped = line.rstrip(b"\r\n")
    if not stripped.endswith(b"}"):
        return None
    start = stripped.rfind(b"{")
    if start < 0:
        return None
    inner = stripped[start + 1 : -1]
    plus = inner.endswith(b"+")
    digits = inner[:-1] if plus else inner
    if not digits.isdigit():
        return None
    return int(digits), plus


def sequence_set(text: str, largest: int) -> list[tuple[int, int]]:
    """Parse a sequence set (``1:*``, ``4,7:9``) into inclusive ranges; ``*`` is ``largest``.

    Raises:
        WireError: not a sequence set.
    """
    ranges: list[tuple[int, int]] = []
    for piece in text.split(","):
        low, _, high = piece.partition(":")
        try:
            a = largest if low == "*" else int(low)
            b = a if not high else (largest if high == "*" else int(high))
        except ValueError:
            raise WireError(f"bad sequence set {text!r}") from None
        ranges.append((min(a, b), max(a, b)))
    return ranges
