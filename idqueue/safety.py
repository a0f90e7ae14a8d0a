"""Handling untrusted text and secrets outside the TUI.

* :func:`redact` removes GitHub, Slack, Trello and Atlassian tokens, secret-named values and
  registered secrets (mail passwords) from any string (logs, errors).
* :func:`sanitize_terminal` strips ESC/CSI/OSC sequences and C0/C1 control characters (keeping
  newline and tab) and shows bidirectional controls as a visible ``‹U+202E›`` marker, so text
  from Slack or GitHub can be printed to a terminal by the CLI without clearing the screen,
  setting the title or touching the clipboard (OSC 52).
"""

from __future__ import annotations

import logging
import re
import threading

TOKEN_RE = re.compile(
    # GitHub: classic/OAuth/user/server/refresh tokens and fine-grained PATs.
    r"(gh[pousr]_[A-Za-z0-9_]{6,}|github_pat_[A-Za-z0-9_]+"
    # Slack: bot/user/app-config/refresh tokens, app-level tokens.
    r"|xox[abeposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+"
    # Atlassian API tokens (Jira Cloud) and Trello ATTA tokens.
    r"|ATATT[A-Za-z0-9_\-=]{10,}|ATTA[A-Za-z0-9]{16,}"
    # An Authorization header value.
    r"|(?i:bearer|token|basic)\s+[A-Za-z0-9_\-\.=+/]{8,})"
)
"""Secrets recognisable by their shape alone."""

_SECRET_WORDS = r"(?:token|key|secret|passw(?:or)?d|pwd|pat|credential|auth(?:orization)?|api[_-]?key)"
_CONTEXT_RE = re.compile(
    # A secret-named setting or parameter and its value: ``password=hunter22``, ``"api_token": "…"``.
    rf"(?i)(\b\w*{_SECRET_WORDS}\w*[\"']?\s*[:=]\s*[\"']?)"
    # … whose value looks like a secret: with a digit, or long (not "unknown key").
    r"((?=[^\s\"',;&]*\d)[^\s\"',;&]{6,}|[^\s\"',;&]{16,})"
)
_QUERY_SECRET_RE = re.compile(r"(?i)([?&](?:key|token|api_key|apikey|access_token|secret)=)[^&#\s\"'<>]+")
"""A credential in a URL's query string (Trello sends ``?key=…&token=…`` on every call): its
value is hidden whatever its shape, so a URL in an error or a log line never carries it."""
_HEX_RE = re.compile(r"(?<![0-9A-Za-z])(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{40}|[0-9a-fA-F]{32})(?![0-9A-Za-z])")
"""Trello keys (32 hex), classic GitHub tokens (40 hex), Trello tokens (64 hex)."""
_HEX_CONTEXT_RE = re.compile(rf"(?i){_SECRET_WORDS}")

_known: set[str] = set()
_known_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a configured secret so that :func:`redact` hides it whatever its shape.

    Mail and Jira Server passwords have no recognisable shape: the configuration registers
    every secret value it reads, and every later message is scrubbed of them.
    """
    if value and len(value) >= 4:
        with _known_lock:
            _known.add(value)


def redact(text: str, *, bare_hex: bool = False) -> str:
    """Replace anything that looks like a secret by ``[redacted]``.

    Covers GitHub (``ghp_``/``gho_``/``ghu_``/``ghs_``/``ghr_``, ``github_pat_``), Slack
    (``xox?-``, ``xapp-``), Atlassian (``ATATT…``) and Trello (``ATTA…``) tokens, the values of
    secret-named settings (``password=…``, ``token: …``), credentials in URL query strings
    (``?key=…&token=…``), registered secrets, and 32-/40-/64-hex
    strings (Trello keys, classic GitHub tokens, Trello tokens) near a secret-like word.

    Args:
        text: any message.
        bare_hex: hide every 32-/40-/64-hex string, context or not (for config errors, which
            may echo a token pasted into any setting).
    """
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, "[redacted]")
    text = _QUERY_SECRET_RE.sub(lambda m: m.group(1) + "[redacted]", text)
    text = TOKEN_RE.sub("[redacted]", text)
    text = _CONTEXT_RE.sub(lambda m: m.group(1) + "[redacted]", text)
    if bare_hex or _HEX_CONTEXT_RE.search(text):
        text = _HEX_RE.sub("[redacted]", text)
    return text


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


# Characters that make a terminal draw several code points as one glyph: the zero-width joiner
# (👩‍💻), the text/emoji variation selectors (❤️) and the skin-tone modifiers (👍🏽). Terminals
# disagree about how wide such a cluster is (WezTerm, kitty and iTerm2 draw 👩‍💻 two cells wide,
# Rich and xterm.js count four), so one such title shifts every later column of its row.
_CLUSTER_GLUE = re.compile("[\u200d\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]")


def grid_text(text: str, width: int | None = None) -> str:
    """:func:`one_line` for a cell of a table: emoji sequences are split into their parts.

    Each part is then one glyph whose width every terminal agrees on, so the columns after it
    stay in line (``👩‍💻`` becomes ``👩💻``). The stored text is unchanged; this is display only.
    """
    return one_line(_CLUSTER_GLUE.sub("", text), width)


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
