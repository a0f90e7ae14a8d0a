"""Lenient decoding: bytes that are not UTF-8 become U+FFFD, their offsets and items are named."""

from __future__ import annotations

import json

import pytest

from idqueue.integrations.decoding import (
    REPLACEMENT,
    decode_utf8,
    describe_replacements,
    loads_lenient,
)


def test_clean_utf8_is_untouched() -> None:
    assert decode_utf8("héllo 👩‍💻".encode()) == ("héllo 👩‍💻", [])


def test_invalid_bytes_are_replaced_and_located() -> None:
    raw = b"ab\xffcd\xc3(ef\xe2\x82"
    text, offsets = decode_utf8(raw)
    assert text == f"ab{REPLACEMENT}cd{REPLACEMENT}(ef{REPLACEMENT}"
    assert offsets == [2, 5, 9]


def test_many_bad_bytes_stay_linear_and_bounded() -> None:
    text, offsets = decode_utf8(b"\xff" * 10_000)
    assert len(offsets) == 100 and text == REPLACEMENT * 10_000


def test_items_holding_replacements_are_named() -> None:
    rows = [{"number": 1, "title": "fine"}, {"number": 7, "title": "b", "user": {"login": "x"}}]
    raw = json.dumps(rows).encode().replace(b'"b"', b'"b\xfe"')
    value, offsets = loads_lenient(raw)
    assert value[1]["title"] == f"b{REPLACEMENT}" and offsets
    line = describe_replacements("GitHub o/r issues", value, offsets)
    assert "in #7;" in line and "#1" not in line and f"at byte {offsets[0]}" in line


def test_slack_messages_are_named_by_ts_even_when_nested() -> None:
    data = {"ok": True, "messages": [
        {"ts": "1.000100", "text": "ok"},
        {"ts": "2.000200", "text": "x", "blocks": [{"type": "rich_text", "elements": [{"text": f"y{REPLACEMENT}"}]}]},
    ]}
    assert "in ts 2.000200;" in describe_replacements("Slack conversations.history", data, [10])


def test_not_json_is_still_an_error() -> None:
    with pytest.raises(ValueError):
        loads_lenient(b"<html>\xff</html>")
