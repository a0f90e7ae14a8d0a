"""Handling untrusted text and secrets outside the TUI.

* :func:`redact` removes Slack and GitHub token patterns from any string (logs, errors).
* :func:`sanitize_terminal` strips ESC/CSI/OSC sequences and C0/C1 control characters (keeping
  newline and tab) and shows bidirectional controls as a visible ``‹U+202E›`` marker, so text
  from Slack or GitHub can be printed to a terminal by the CLI without clearing the screen,
  setting the title or touching the clipboard (OSC 52).
"""

from __future__ import annotations

import logging
import re

TOKEN_RE = re.compile(
    r"(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|gh[pousr]_[A-Za-z0-9_]{6,}|github_pat_[A-Za-z0-9_]+"
    r"|(?i:bearer|token)\s+[A-Za-z0-9_\-\.=]{8,})"
)

# ESC-introduced sequences: CSI (ESC [ … final), OSC (ESC ] … BEL or ST), other two-char escapes.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC … BEL/ST
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS/SOS/PM/APC … ST
    r"|\x1b[@-Z\\-_]"  # 2-char escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|\x9d[^\x07\x9c]*(?:\x07|\x9c)?"  # 8-bit OSC
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidi embeddings/overrides/isolates and the LRM/RLM marks (Trojan Source) are replaced by a
# visible marker naming the code point, so a reader sees that the text was tampered with.
_BIDI = re.compile(r"[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def bidi_marker(char: str) -> str:
    """The visible stand-in for a bidi control character, e.g. ``‹U+202E›``."""
    return f"‹U+{ord(char):04X}›"



def redact(text: str) -> str:
    """Replace anything that looks like a Slack or GitHub token by ``[redacted]``."""
    return TOKEN_RE.sub("[redacted]", text)


def sanitize_terminal(text: str, *, keep_newlines: bool = True) -> str:
    """Make untrusted text safe to write to a terminal.

    Args:
        text: text from Slack, GitHub or an error message.
        keep_newlines: keep ``\\n`` and ``\\t``; otherwise they become spaces.
    """
    text = _ESCAPES.sub("", text)
    text = _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _BIDI.sub(lambda m: bidi_marker(m.group(0)), text)
    if not keep_newlines:
        text = text.replace("\n", " ").replace("\t", " ")
    return text


def one_line(text: str, width: int | None = None) -> str:
    """Sanitised single-line text, optionally shortened with an ellipsis."""
    text = " ".join(sanitize_terminal(text, keep_newlines=False).split())
    if width is not None and len(text) > width:
        text = text[: max(0, width - 1)] + "…"
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts tokens from every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(str(record.msg))
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        return True


def install_log_redaction() -> None:
    """Add :class:`RedactingFilter` to the root logger's handlers (and the root itself)."""
    root = logging.getLogger()
    flt = RedactingFilter()
    root.addFilter(flt)
    for handler in root.handlers:
        handler.addFilter(flt)
