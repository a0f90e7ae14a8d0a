"""Slack mrkdwn: escaping, Markdown → mrkdwn conversion and broadcast neutralisation.

Slack treats ``&``, ``<`` and ``>`` as control characters: ``<…>`` builds links, user mentions
(``<@U123>``) and broadcasts (``<!channel>``). Anything that is not ours must therefore be
escaped before it is posted, or a requester could make idqueue's bot ping a whole channel.
Incoming Slack text arrives escaped; :func:`unescape_mrkdwn` turns it back for display.

The converter is deliberately small: it knows the Markdown our response templates use
(headings, bold/italic/strike, links, inline code, fenced code, lists, quotes) and escapes
everything else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

__all__ = [
    "URL_SAFE_CHARS",
    "convert_markdown",
    "encode_link_target",
    "escape_mrkdwn",
    "markdown_to_mrkdwn",
    "strip_broadcasts",
    "unescape_mrkdwn",
]

# Private-use characters delimit protected spans while a line is converted. Input text never
# keeps them (they are removed up front), so user data cannot forge a placeholder.
_PH_OPEN, _PH_CLOSE = "\ue010", "\ue011"
_PH_RE = re.compile(f"{_PH_OPEN}(\\d+){_PH_CLOSE}")
_PRIVATE_RE = re.compile("[\ue010\ue011]")

_FENCE_RE = re.compile(r"^\s*(```|~~~)")
_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_WRAPPED_BOLD_RE = re.compile(r"^(\*\*|__)(.*)\1$")
_BULLET_RE = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_QUOTE_RE = re.compile(r"^(\s*)>\s?(.*)$")
_HR_RE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")

_BACKSLASH_RE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!~|<>])")
_CODE_RE = re.compile(r"(`+)(.+?)\1")
# Not after a backslash ("\[x\](y)" is literal); escaped characters may appear in the label.
_LINK_RE = re.compile(r"(?<!\\)!?\[((?:\\.|[^\]\\\n])+)\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
_AUTOLINK_RE = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_BOLD_RE = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC_STAR_RE = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])")
_STRIKE_RE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")

# <!here>, <!channel|@channel>, <!subteam^S123|@team>, with any case.
_BROADCAST_RE = re.compile(r"<!(?:channel|here|everyone|subteam\^[^>|]*)(?:\|[^>]*)?>", re.IGNORECASE)
# Plain "@here" only notifies when a message is posted with link_names; neutralise it anyway.
_PLAIN_BROADCAST_RE = re.compile(r"(?<![\w`|])@(channel|here|everyone)\b", re.IGNORECASE)

_SCHEME_RE = re.compile(r"^(?:https?|mailto):", re.IGNORECASE)
URL_SAFE_CHARS = ":/?#[]@!$&'()*+,;=%~"
"""Characters left as they are when a URL is percent-encoded for a link target."""

UrlHook = Callable[[str], str]


def escape_mrkdwn(text: str) -> str:
    """Escape Slack's three control characters (``&`` first, so nothing is escaped twice).

    Args:
        text: untrusted text (a title, a name, a field value).

    Returns:
        Text that Slack shows literally: ``<!channel>`` becomes ``&lt;!channel&gt;``.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape_mrkdwn(text: str) -> str:
    """Undo Slack's escaping for display (``&amp;`` last, so ``&amp;lt;`` stays ``&lt;``)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def strip_broadcasts(text: str) -> str:
    """Neutralise channel-wide and group mentions in final mrkdwn output (defence in depth).

    ``<!channel>``, ``<!here>``, ``<!everyone>`` and ``<!subteam^…>`` are escaped so they show as
    text; a plain ``@here`` is wrapped in backticks so it cannot notify even with ``link_names``.
    """
    text = _BROADCAST_RE.sub(lambda m: escape_mrkdwn(m.group(0)), text)
    return _PLAIN_BROADCAST_RE.sub(lambda m: f"`{m.group(0)}`", text)


def encode_link_target(url: str) -> str:
    """Make a URL safe as the target of ``<url|text>``.

    A ``|`` would end the URL part and a space or ``>`` would end the link, so they are
    percent-encoded, and ``&`` is escaped as Slack expects everywhere. A target that is not an
    ``http(s)``/``mailto`` URL is percent-encoded completely, so it can never begin with
    Slack's ``!``, ``@`` or ``#`` control prefixes (``<!channel|x>`` would ping a channel).
    """
    if _SCHEME_RE.match(url):
        return escape_mrkdwn(quote(url, safe=URL_SAFE_CHARS))
    return escape_mrkdwn(quote(url, safe=""))


def markdown_to_mrkdwn(md: str) -> str:
    """Convert the Markdown of a response template to Slack mrkdwn.

    ``**bold**`` → ``*bold*``, ``*italic*`` → ``_italic_``, ``~~strike~~`` → ``~strike~``,
    ``[text](url)`` → ``<url|text>``, headings → bold lines, ``-``/``*``/``+`` bullets → ``•``,
    quotes and code kept; every other ``&``, ``<`` and ``>`` is escaped.
    """
    return convert_markdown(_PRIVATE_RE.sub("", md))


def convert_markdown(md: str, *, url_hook: UrlHook | None = None) -> str:
    """:func:`markdown_to_mrkdwn` with a hook applied to every link target.

    The template renderer uses the hook to mark values that land inside a URL, so they can be
    URL-encoded rather than merely escaped. Callers other than the renderer want
    :func:`markdown_to_mrkdwn`.
    """
    hook = url_hook or encode_link_target
    out: list[str] = []
    fence: str | None = None
    for line in md.split("\n"):
        fence_match = _FENCE_RE.match(line)
        if fence is not None:
            if fence_match and fence_match.group(1) == fence:
                fence = None
                out.append("```")
            else:
                # Slack shows a code block verbatim, but still parses &, < and > inside it.
                out.append(escape_mrkdwn(line))
            continue
        if fence_match:
            fence = fence_match.group(1)
            out.append("```")
            continue
        out.append(_convert_line(line, hook))
    return "\n".join(out)


def _convert_line(line: str, hook: UrlHook) -> str:
    if heading := _HEADING_RE.match(line):
        # "## **Data Request**" is common; the heading is bold already, so drop inner bold.
        inner = _convert_inline(_WRAPPED_BOLD_RE.sub(r"\2", heading.group(1)), hook)
        return f"*{inner}*" if inner else ""
    if _HR_RE.match(line):
        return "───"
    if bullet := _BULLET_RE.match(line):
        return f"{bullet.group(1)}• {_convert_inline(bullet.group(2), hook)}"
    if quote_match := _QUOTE_RE.match(line):
        # A leading ">" is Slack's own quote syntax, so it is the one ">" left unescaped.
        return f"{quote_match.group(1)}> {_convert_inline(quote_match.group(2), hook)}"
    return _convert_inline(line, hook)


def _convert_inline(text: str, hook: UrlHook) -> str:
    protected: list[str] = []

    def protect(value: str) -> str:
        protected.append(value)
        return f"{_PH_OPEN}{len(protected) - 1}{_PH_CLOSE}"

    def link(m: re.Match[str]) -> str:
        label = escape_mrkdwn(_unbackslash(m.group(1)))
        return protect(f"<{hook(_unbackslash(m.group(2)))}|{label}>")

    # Code spans first: their content is literal, backslashes included (CommonMark).
    text = _CODE_RE.sub(lambda m: protect(f"`{escape_mrkdwn(m.group(2))}`"), text)
    text = _LINK_RE.sub(link, text)
    text = _AUTOLINK_RE.sub(lambda m: protect(f"<{hook(m.group(1))}>"), text)
    text = _BACKSLASH_RE.sub(lambda m: protect(escape_mrkdwn(m.group(1))), text)
    text = escape_mrkdwn(text)
    # Bold first, parked behind a placeholder, so the italic pass cannot eat its stars.
    text = _BOLD_RE.sub(lambda m: protect("*") + m.group(2) + protect("*"), text)
    text = _ITALIC_STAR_RE.sub(r"_\1_", text)
    text = _STRIKE_RE.sub(r"~\1~", text)
    return _restore(text, protected)


def _restore(text: str, protected: list[str]) -> str:
    # Placeholders can nest (a link label holding a code span), so loop until stable.
    for _ in range(len(protected) + 1):
        new = _PH_RE.sub(lambda m: protected[int(m.group(1))], text)
        if new == text:
            break
        text = new
    return text


def _unbackslash(text: str) -> str:
    return _BACKSLASH_RE.sub(r"\1", text)
