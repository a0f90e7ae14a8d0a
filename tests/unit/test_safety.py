from __future__ import annotations

import logging

from idqueue.safety import RedactingFilter, one_line, redact, sanitize_terminal


def test_redact_removes_slack_and_github_tokens() -> None:
    text = "auth xoxb-123-456-abcDEF and ghp_abcdefghijklmnop1234 and github_pat_11AA_bb and xapp-1-A1-2"
    out = redact(text)
    for secret in ("xoxb-123", "ghp_abc", "github_pat_11", "xapp-1"):
        assert secret not in out
    assert out.count("[redacted]") == 4


def test_redact_bearer_header() -> None:
    assert "s3cr3tvalue99" not in redact("Authorization: Bearer s3cr3tvalue99")


def test_sanitize_strips_escapes_and_controls() -> None:
    hostile = "a\x1b[2Jb\x1b]52;c;aGk=\x07c\x9b31md\x00e\x1b]0;title\x1b\\f"
    assert sanitize_terminal(hostile) == "abcdef"


def test_sanitize_keeps_newlines_tabs_and_unicode() -> None:
    assert sanitize_terminal("x\ty\nz 漢字 👩‍💻") == "x\ty\nz 漢字 👩‍💻"


def test_sanitize_neutralises_bidi_override() -> None:
    assert "\u202e" not in sanitize_terminal("abc\u202edef")


def test_one_line_truncates() -> None:
    assert one_line("hello\nworld", 8) == "hello w…"


def test_logging_filter_redacts_args() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token %s", ("xoxb-1-2-secret",), None)
    RedactingFilter().filter(record)
    assert "xoxb" not in record.getMessage()


def test_sanitize_shows_bidi_controls_as_a_visible_marker() -> None:
    shown = sanitize_terminal("abc\u202edef\u2066x\u200e")
    assert shown == "abc‹U+202E›def‹U+2066›x‹U+200E›"
    assert "\ufffd" not in shown
