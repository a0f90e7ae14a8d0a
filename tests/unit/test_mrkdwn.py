"""Slack mrkdwn: escaping, Markdown conversion and broadcast neutralisation."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idqueue.domain.mrkdwn import (
    encode_link_target,
    escape_mrkdwn,
    markdown_to_mrkdwn,
    strip_broadcasts,
    unescape_mrkdwn,
)

# Slack control sequences: anything "<" that is not one of our own link constructs.
_CONTROL = re.compile(r"<[!@#]")


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a & b", "a &amp; b"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("<@U123> & <#C1>", "&lt;@U123&gt; &amp; &lt;#C1&gt;"),
        ("&lt; already", "&amp;lt; already"),  # & first, so an entity in data stays visible
        ("plain *bold* _it_", "plain *bold* _it_"),
    ],
)
def test_escape(raw: str, escaped: str) -> None:
    assert escape_mrkdwn(raw) == escaped


def test_unescape_does_ampersand_last() -> None:
    assert unescape_mrkdwn("&amp;lt;") == "&lt;"
    assert unescape_mrkdwn("&lt;b&gt; &amp; c") == "<b> & c"


@given(st.text())
def test_escape_round_trips_and_leaves_no_control_chars(text: str) -> None:
    escaped = escape_mrkdwn(text)
    assert unescape_mrkdwn(escaped) == text
    assert "<" not in escaped and ">" not in escaped


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi <!channel>", "hi &lt;!channel&gt;"),
        ("<!here>", "&lt;!here&gt;"),
        ("<!everyone>", "&lt;!everyone&gt;"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("<!CHANNEL>", "&lt;!CHANNEL&gt;"),
        ("<!subteam^S0123|@identity>", "&lt;!subteam^S0123|@identity&gt;"),
        ("ping @here now", "ping `@here` now"),
        ("@channel", "`@channel`"),
        # Left alone: user mentions, links, dates, e-mail addresses, words.
        ("<@U123> see <https://x.org|x>", "<@U123> see <https://x.org|x>"),
        ("<!date^1712345678^{date}|today>", "<!date^1712345678^{date}|today>"),
        ("mail ops@here.com or channel", "mail ops@here.com or channel"),
    ],
)
def test_strip_broadcasts(text: str, expected: str) -> None:
    assert strip_broadcasts(text) == expected


@pytest.mark.parametrize(
    ("md", "mrkdwn"),
    [
        ("**bold** and __bold__", "*bold* and *bold*"),
        ("*italic* and _italic_", "_italic_ and _italic_"),
        ("~~gone~~", "~gone~"),
        ("**bold** then *it*", "*bold* then _it_"),
        ("see [the docs](https://x.org/a?b=1&c=2)", "see <https://x.org/a?b=1&amp;c=2|the docs>"),
        ("![logo](https://x.org/l.png)", "<https://x.org/l.png|logo>"),
        ("[a|b](https://x.org/p|q)", "<https://x.org/p%7Cq|a|b>"),
        ("<https://x.org>", "<https://x.org>"),
        ("# Title", "*Title*"),
        ("## **Data Request**", "*Data Request*"),
        ("### Done ###", "*Done*"),
        ("- one\n* two\n  + three", "• one\n• two\n  • three"),
        ("1. first\n2. second", "1. first\n2. second"),
        ("> quoted <b>", "> quoted &lt;b&gt;"),
        ("a & b < c > d", "a &amp; b &lt; c &gt; d"),
        ("use `a<b && **c**`", "use `a&lt;b &amp;&amp; **c**`"),
        ("```\nx <y> & **z**\n```", "```\nx &lt;y&gt; &amp; **z**\n```"),
        ("---", "───"),
        (r"\[not a link\](x)", "[not a link](x)"),
        (r"[a \] b](https://x.org)", "<https://x.org|a ] b>"),
        ("2 * 3 * 4", "2 * 3 * 4"),
        ("snake_case_name", "snake_case_name"),
    ],
)
def test_markdown_to_mrkdwn(md: str, mrkdwn: str) -> None:
    assert markdown_to_mrkdwn(md) == mrkdwn


@pytest.mark.parametrize(
    "md",
    [
        "[x](!channel)",
        "[x](@U123)",
        "[x](#C123)",
        "[x](<!here>)",
        "<!channel> <@U1> <#C1>",
        "`<!channel>`",
        "```\n<!here>\n```",
    ],
)
def test_markdown_never_emits_control_sequences(md: str) -> None:
    assert not _CONTROL.search(markdown_to_mrkdwn(md))


@given(st.text(alphabet=st.sampled_from(list("<>!@#&|[]()*_`~ \nahU1:/")), max_size=60))
def test_markdown_never_emits_control_sequences_for_any_text(md: str) -> None:
    assert not _CONTROL.search(markdown_to_mrkdwn(md))


def test_link_target_encoding() -> None:
    assert encode_link_target("https://x.org/a b?c=|") == "https://x.org/a%20b?c=%7C"
    # Not a web or mail URL: fully encoded, so it cannot start a Slack control sequence.
    assert encode_link_target("!channel") == "%21channel"
    assert encode_link_target("javascript:alert(1)").startswith("javascript%3A")
