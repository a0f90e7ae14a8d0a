from __future__ import annotations

import logging

import pytest

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


@pytest.mark.parametrize(("text", "shown"), [
    ("👩\u200d💻 on call", "👩💻 on call"),              # ZWJ sequence: one glyph in WezTerm/kitty, two in Rich
    ("I \u2764\ufe0f mock auth", "I \u2764 mock auth"),  # emoji presentation selector (VS16)
    ("\u263a\ufe0e fine", "\u263a fine"),                # text presentation selector (VS15)
    ("👍🏽 thanks", "👍 thanks"),                      # skin-tone modifier
    ("测试用户 ログイン", "测试用户 ログイン"),          # wide CJK stays (every terminal agrees on it)
    ("‮evil\u200d[b]x[/b]", "‹U+202E›evil[b]x[/b]"),   # still one_line: bidi shown, markup left as text
])
def test_grid_text_splits_emoji_sequences_so_columns_stay_in_line(text: str, shown: str) -> None:
    from rich.cells import cell_len

    from idqueue.safety import grid_text

    out = grid_text(text)
    assert out == shown
    # Every code point left is its own glyph: Rich's width is the sum of the characters' widths.
    assert cell_len(out) == sum(cell_len(c) for c in out)
