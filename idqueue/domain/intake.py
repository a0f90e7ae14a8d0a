"""Intake parsing: the loose Markdown of real intake forms → typed fields.

Real intake bodies are not typed issue forms. The VA "Identity Help" template (and its
"1dentity" siblings) is one Markdown block of bold prompts (``**Issue Type:**``), per-type
sections (``## **Data Request**``), checklists and option lists that the requester edits by
hand; the ID Bot posts Slack mrkdwn (``*Type:* Data request``); GitHub issue forms render as
``### Label`` blocks with ``_No response_``. :func:`parse_intake` reads all of these into a
:class:`ParsedIntake` through a per-template mapping from config
(:class:`~idqueue.config.TemplateFieldMap`), so no prompt text is hard-coded here.

How it works, and why it is safe on hostile input:

* The text is split into lines once; each line is classified once (blank, text, list item,
  checklist item, heading, rule, code, table row). A label's value is the run of lines after
  it up to the next structural line, and the walk resumes there, so every line is visited a
  bounded number of times: parsing is linear in the input.
* Label detection looks only at the first few hundred characters of a line and uses string
  methods, not backtracking regexes; the only regex (Markdown links) has bounded, disjoint
  repetitions and runs on values already capped in length.
* Fuzzy matching of misspelt labels (:mod:`difflib`, ratio ≥ 0.85) is cached and has a
  per-parse budget, so a body of thousands of distinct bold lines cannot make it quadratic.
* Input, lines, values, labels and the number of unknown pairs are all capped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any

from idqueue.config import TemplateFieldMap
from idqueue.safety import sanitize_terminal

__all__ = [
    "IMPACTS_PRODUCTION_KEY",
    "ISSUE_TYPE_KEY",
    "MAX_VALUE_CHARS",
    "ParsedIntake",
    "answer_text",
    "display_label",
    "impacts_production",
    "match_template",
    "parse_intake",
    "parse_slack_blocks",
    "parse_yes_no",
    "slack_block_texts",
]

ISSUE_TYPE_KEY = "issue_type"
"""The field key the classifier reads first."""
IMPACTS_PRODUCTION_KEY = "impacts_production"
"""The field key normalised to ``yes``/``no``."""

MAX_INPUT_CHARS = 256_000
"""Bodies are parsed up to this length (a 200 KB body is parsed whole)."""
MAX_LINE_CHARS = 4_000
"""Longer lines are cut: nothing useful to a triager hides past this on one line."""
MAX_VALUE_CHARS = 2_000
"""Field values are capped at this length (with a trailing ``…``)."""
MAX_LABEL_CHARS = 120
MAX_UNKNOWN = 100
MAX_CHECKLIST = 200
MAX_HEADINGS = 200
FUZZY_RATIO = 0.85
_LABEL_SCAN = 300  # how far into a line a label may end
_MAX_CUTS = 12  # delimiter positions tried per line for plain labels
_FUZZY_BUDGET = 400  # fuzzy look-ups per parse; past it, exact matches only
_FUZZY_MAX_LEN = 100

# Line kinds.
_BLANK, _TEXT, _LIST, _HEADING, _RULE, _CODE, _TABLE = range(7)

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "})
_LABEL_DROP = str.maketrans({"*": None, "`": None, "\u2018": "'", "\u2019": "'", "\u201c": '"',
                             "\u201d": '"', "\u00a0": " "})
# Markdown links and images. Both repetitions exclude the delimiters that end them and are
# bounded, so a run of "[" cannot make the engine backtrack beyond a few hundred steps.
_LINK_RE = re.compile(r"!?\[([^\[\]\n]{0,300})\]\(([^()\s]{0,1000})\)")
_MARKS = ("\u2705", "\u2714", "\u2611", "\u2713", "<--", "<-", "\u2190")  # ✅ ✔ ☑ ✓ <-- ←
_NO_RESPONSE = {"no response", "_no response_", "*no response*"}
_YES = {"yes", "y", "yeah", "yep", "true", "1", "affirmative", "\u2705", "\u2714"}
_NO = {"no", "n", "nope", "false", "\u274c"}


@dataclass(slots=True)
class ParsedIntake:
    """What :func:`parse_intake` found in an intake body.

    Attributes:
        template: name of the :class:`~idqueue.config.TemplateFieldMap` that matched, or None.
        fields: field key → normalised value (``"issue_type": "Data Request"``,
            ``"team": "Facilities"``, ``"impacts_production": "yes"``).
        sections: headings (lowercased, markup stripped) whose body holds real answers —
            not only the template's own prompts — in document order. A parent heading counts
            when one of its sub-sections is answered. These are the classifier's evidence.
        checklist: checklist item text → checked.
        unknown: ``**Label:** value`` pairs whose label matched no mapping (label as written).
        headings: every heading found, answered or not (lowercased, markup stripped).
    """

    template: str | None
    fields: dict[str, str]
    sections: list[str]
    checklist: dict[str, bool]
    unknown: dict[str, str]
    headings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- text helpers

_MEMO_CHARS = 256  # strings up to this length are memoised by the pure helpers below


def _memo(fn: Callable[[str], str]) -> Callable[[str], str]:
    """Memoise a pure ``str -> str`` helper for short inputs.

    Labels, prompts and short answers recur from one intake body to the next (the same
    template, teams and request types), and a sync assembles thousands of bodies in a row.
    Long inputs are not kept, so the cache stays small (≤ 2048 short strings per helper).
    """
    cached = lru_cache(maxsize=2048)(fn)

    def helper(text: str) -> str:
        return cached(text) if len(text) <= _MEMO_CHARS else fn(text)

    helper.__doc__ = fn.__doc__
    return helper


def _cap(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def _links_to_text(text: str, keep_url: bool) -> str:
    if "[" not in text:
        return text

    def repl(m: re.Match[str]) -> str:
        label, url = m.group(1).strip(), m.group(2)
        if not keep_url or not url or url == label:
            return label or url
        return f"{label} ({url})" if label else url

    return _LINK_RE.sub(repl, text)


def _drop_label_markup(text: str) -> str:
    # str.isascii() is O(1): ASCII text has none of the quote characters, so two replaces
    # do what the (much slower) translate table would.
    if text.isascii():
        return text.replace("*", "").replace("`", "").replace("__", "")
    return text.translate(_LABEL_DROP).replace("__", "")


@_memo
def _norm_label(text: str) -> str:
    """Compare form of a prompt: casefolded, quotes straightened, markup, links, spaces and
    trailing ``:``/``?`` removed."""
    text = _drop_label_markup(_links_to_text(text, keep_url=False))
    return " ".join(text.casefold().split()).strip(" :?\uff1a\uff1f")


def _norm_heading(text: str) -> str:
    text = _drop_label_markup(_links_to_text(text, keep_url=False))
    return " ".join(text.casefold().split()).rstrip(" :\uff1a")[:MAX_LABEL_CHARS]


def _straight_quotes(text: str) -> str:
    return text if text.isascii() else text.translate(_QUOTES)


@_memo
def _norm_option(text: str) -> str:
    # Options compare loosely: "Sign-in Service integration" is "Sign-In-Service Integration".
    text = _norm_label(text).replace("~~", "")
    return " ".join(text.replace("-", " ").replace("_", " ").split()).strip(" .,;")


@_memo
def _display(label: str) -> str:
    """A label as written, minus markup and the trailing colon."""
    text = _straight_quotes(_links_to_text(label, keep_url=False))
    text = text.replace("**", "").replace("__", "").strip(" *_")
    return _cap(" ".join(text.split()).rstrip(" :\uff1a"), MAX_LABEL_CHARS)


def _strip_wrapping(text: str) -> str:
    """Remove emphasis that wraps the whole value (``*x*``, ``_x_``, `` `x` ``)."""
    if len(text) <= 2 or text[0] not in "*_`":
        return text  # nothing to strip (the common case)
    for _ in range(3):
        for mark in ("*", "_", "`"):
            if len(text) > 2 and text.startswith(mark) and text.endswith(mark):
                text = text[1:-1].strip()
    return text


@_memo
def _clean_value(raw: str) -> str:
    """Normalise a value: emphasis stripped, links as "text (url)", spaces tidied, capped.

    Slack ``<@U123>`` and ``<url|text>`` are left as they are: the Slack adapter resolves them.
    """
    text = raw[: MAX_VALUE_CHARS * 2]
    text = _straight_quotes(_links_to_text(text, keep_url=True))
    text = text.replace("**", "").replace("__", "")
    if "\n" not in text:
        # One line (most values): what the paragraph logic below comes to.
        return _cap(_strip_wrapping(" ".join(text.split())))
    lines = [" ".join(line.split()) for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):  # keep one blank line between paragraphs
            out.append(line)
    text = _strip_wrapping("\n".join(out).strip())
    return _cap(text)


def _is_no_response(value: str) -> bool:
    return value.strip().casefold() in _NO_RESPONSE


def parse_yes_no(value: str | None) -> bool | None:
    """Read a yes/no answer: ``"Yes"``, ``"yes - prod"``, ``"Y"`` → True; ``"No"``, ``"n"``
    → False; ``"N/A"``, ``"not sure"``, empty → None."""
    if not value:
        return None
    text = _strip_wrapping(value[:200].strip().replace("**", "")).casefold()
    word = ""
    for ch in text:
        if ch.isalnum() or ch in "/\u2705\u2714\u274c":
            word += ch
        elif word:
            break
        if len(word) > 16:
            break
    if word in _YES:
        return True
    if word in _NO:
        return False
    return None


def impacts_production(fields: Mapping[str, str]) -> bool | None:
    """Whether a request says it impacts production (the "impacts Veterans on production
    servers" answer): True, False, or None when absent or unclear (``"N/A"``)."""
    return parse_yes_no(fields.get(IMPACTS_PRODUCTION_KEY))


def _strip_comments(text: str) -> str:
    """Drop ``<!-- … -->`` (template hints are not answers). Linear: one find per comment."""
    if "<!--" not in text:
        return text
    parts: list[str] = []
    pos = 0
    while True:
        start = text.find("<!--", pos)
        if start < 0:
            parts.append(text[pos:])
            break
        parts.append(text[pos:start])
        end = text.find("-->", start + 4)
        if end < 0:
            break
        pos = end + 3
    return "".join(parts)


# --------------------------------------------------------------------------- lines


@dataclass(slots=True)
class _Line:
    kind: int
    indent: int = 0
    text: str = ""  # content after list/checkbox/heading markers
    level: int = 0  # heading level
    checked: bool | None = None  # checklist state
    marker: str = "-"  # list marker as written ("-", "1.")


def _tokenize(text: str) -> list[_Line]:
    """Classify every line once."""
    out: list[_Line] = []
    fence = ""
    for raw in text.split("\n"):
        line = raw[:MAX_LINE_CHARS].expandtabs(4).rstrip()
        body = line.lstrip()
        indent = len(line) - len(body)
        quotes = 0
        while body.startswith(">") and quotes < 8:  # block quotes (Slack "> ") carry answers too
            body = body[1:].lstrip()
            quotes += 1
        if not body:
            out.append(_Line(_BLANK, indent))
            continue
        if fence:
            if body.startswith(fence) and not body.strip(fence[0]):
                fence = ""
                out.append(_Line(_CODE, indent))
            else:
                out.append(_Line(_CODE, indent, body))
            continue
        if body.startswith(("```", "~~~")) and "`" not in body.lstrip(body[0]):
            fence = body[:3]
            out.append(_Line(_CODE, indent))
            continue
        out.append(_classify_line(body, indent))
    return out


def _classify_line(body: str, indent: int) -> _Line:
    if body[0] == "#":
        hashes = len(body) - len(body.lstrip("#"))
        if hashes <= 6 and (hashes == len(body) or body[hashes] == " "):
            text = body[hashes:].strip().rstrip("#").strip()
            return _Line(_HEADING, indent, text, level=hashes)
    compact = body.replace(" ", "")
    if len(compact) >= 3 and compact[0] in "-*_" and compact.count(compact[0]) == len(compact):
        return _Line(_RULE, indent)
    if body[0] == "|":
        return _Line(_TABLE, indent, body)
    content: str | None = None
    marker = "-"
    if body[0] in "-*+\u2022" and (len(body) == 1 or body[1] == " "):
        content = body[1:].strip()
    else:
        digits = 0
        while digits < len(body) and digits < 9 and body[digits].isdigit():
            digits += 1
        if (
            digits
            and digits < len(body)
            and body[digits] in ".)"
            and (digits + 1 == len(body) or body[digits + 1] == " ")
        ):
            content = body[digits + 1 :].strip()
            marker = body[: digits + 1]
    if content is None:
        return _Line(_TEXT, indent, body)
    checked: bool | None = None
    box = content[:3].lower()
    if box in ("[ ]", "[x]") and (len(content) == 3 or content[3] == " "):
        checked = box == "[x]"
        content = content[3:].strip()
    return _Line(_LIST, indent, content, checked=checked, marker=marker)


# --------------------------------------------------------------------------- label index


_StaticIndex = tuple[dict[str, str], dict[str, dict[str, str]], set[str], tuple[str, ...]]
# Keyed by the identity of the template objects; the value keeps them alive so an id is never
# reused while cached. Normalising a VA-sized mapping costs ~0.5 ms, paid once, not per body.
_STATIC_CACHE: dict[tuple[int, ...], tuple[tuple[TemplateFieldMap, ...], _StaticIndex]] = {}


def _static_index(templates: tuple[TemplateFieldMap, ...]) -> _StaticIndex:
    key = tuple(id(t) for t in templates)
    hit = _STATIC_CACHE.get(key)
    if hit is not None:
        return hit[1]
    labels: dict[str, str] = {}
    options: dict[str, dict[str, str]] = {}
    all_options: set[str] = set()
    prompts: list[str] = []
    for tpl in templates:
        for label, field_key in tpl.labels.items():
            labels.setdefault(_norm_label(label), field_key)
        for field_key, opts in tpl.options.items():
            table = options.setdefault(field_key, {})
            for opt in opts:
                table.setdefault(_norm_option(opt), opt)
                all_options.add(_norm_option(opt))
        prompts.extend(_norm_label(p) for p in tpl.prompts if _norm_label(p))
    static: _StaticIndex = (labels, options, all_options, tuple(prompts))
    if len(_STATIC_CACHE) > 64:
        _STATIC_CACHE.clear()
    _STATIC_CACHE[key] = (templates, static)
    return static


class _Index:
    """The labels, options and prompts of the templates in use, with a fuzzy-match cache."""

    def __init__(self, templates: Iterable[TemplateFieldMap]) -> None:
        self.labels, self.options, self.all_options, self.prompts = _static_index(tuple(templates))
        self._cache: dict[str, str | None] = {}
        self._budget = _FUZZY_BUDGET
        self._matcher: SequenceMatcher[str] | None = None  # built on the first fuzzy look-up

    def exact(self, norm: str) -> str | None:
        return self.labels.get(norm)

    def lookup(self, norm: str) -> str | None:
        """Exact match, else the closest label with a difflib ratio ≥ 0.85."""
        key = self.labels.get(norm)
        if key is not None or not norm:
            return key
        if norm in self._cache:
            return self._cache[norm]
        if len(norm) < 4 or len(norm) > _FUZZY_MAX_LEN or self._budget <= 0:
            return None
        self._budget -= 1
        if self._matcher is None:
            self._matcher = SequenceMatcher(autojunk=False)
        matcher = self._matcher
        matcher.set_seq2(norm)  # seq2 carries the cached index, so it is the fixed side
        best_ratio, best_key = 0.0, None
        for label, label_key in self.labels.items():
            matcher.set_seq1(label)
            if matcher.real_quick_ratio() < FUZZY_RATIO or matcher.quick_ratio() < FUZZY_RATIO:
                continue
            ratio = matcher.ratio()
            if ratio >= FUZZY_RATIO and ratio > best_ratio:
                best_ratio, best_key = ratio, label_key
        self._cache[norm] = best_key
        return best_key

    def option(self, key: str | None, text: str) -> str | None:
        if key is None or key not in self.options:
            return None
        return self.options[key].get(_norm_option(_unmark(text)[0]))


def _unmark(text: str) -> tuple[str, bool]:
    """Strip a "this one" mark (✅, ``<--``) from an option; report whether it had one."""
    if text.isascii() and "<-" not in text:
        return text.strip(), False  # no mark can be there (the others are not ASCII)
    marked = False
    for mark in _MARKS:
        if mark in text:
            text = text.replace(mark, " ")
            marked = True
    return text.replace("\ufe0f", "").strip(), marked


# --------------------------------------------------------------------------- labels


@dataclass(slots=True)
class _Label:
    display: str
    key: str | None
    value: str  # the inline remainder (raw)
    slack: bool = False  # Slack mrkdwn "*Label:* value": every line is its own field


def _split_bold(text: str) -> tuple[str, str] | None:
    """``**inner**rest`` / ``__inner__rest`` / Slack ``*inner*rest`` → (inner, rest)."""
    for mark in ("**", "__", "*"):
        if text.startswith(mark):
            if mark == "*" and text.startswith("**"):
                continue
            end = text.find(mark, len(mark), _LABEL_SCAN)
            if end <= len(mark):
                return None
            return text[len(mark) : end], text[end + len(mark) :]
    return None


def _detect_label(line: _Line, index: _Index) -> _Label | None:
    """The label a line starts with, if any. Looks at most ``_LABEL_SCAN`` characters."""
    text = line.text
    if not text or line.kind not in (_TEXT, _LIST, _TABLE):
        return None
    if line.kind == _TABLE:
        cells = [c.strip() for c in text[:MAX_LINE_CHARS].strip("|").split("|")]
        if len(cells) == 2 and cells[0] and cells[1]:
            key = index.exact(_norm_label(cells[0]))
            if key is not None:
                return _Label(_display(cells[0]), key, cells[1])
        return None
    bold = _split_bold(text)
    if bold is not None:
        inner, rest = bold
        inner = inner.strip()
        colon = inner.endswith((":", "\uff1a"))
        stripped_rest = rest.lstrip()
        if stripped_rest.startswith((":", "\uff1a")):
            colon, rest = True, stripped_rest[1:]
        norm = _norm_label(inner)
        if not norm:
            return None
        slack = not text.startswith(("**", "__"))
        key = index.lookup(norm)
        if key is not None:
            return _Label(_display(inner), key, rest, slack)
        asks = inner.endswith(("?", "\uff1f")) and rest.strip()
        if (colon or asks) and line.checked is None and len(norm) <= MAX_LABEL_CHARS:
            return _Label(_display(inner), None, rest, slack)
        return None
    return _plain_label(text, index)


def _plain_label(text: str, index: _Index) -> _Label | None:
    """``Label: value`` without markup, only for labels the mapping knows (prose is full of
    colons). Tries each delimiter in the first characters; the longest known label wins."""
    head = text[:_LABEL_SCAN]
    best: tuple[int, str] | None = None
    cuts = fuzzy_tries = 0
    for pos, ch in enumerate(head):
        if ch not in ":?)\uff1a\uff1f":
            continue
        if ch == ":" and head.startswith("//", pos + 1):  # a URL, not a label
            continue
        cuts += 1
        if cuts > _MAX_CUTS:
            break
        norm = _norm_label(head[: pos + 1])
        key = index.exact(norm)
        if key is None and best is None and ch != ")" and fuzzy_tries < 2:
            fuzzy_tries += 1
            key = index.lookup(norm)
        if key is not None:
            best = (pos + 1, key)
    if best is None:
        return None
    end, key = best
    return _Label(_display(text[:end]), key, text[end:])


# --------------------------------------------------------------------------- parsing


class _Parser:
    """One walk over the lines; collects fields, sections, checklist and answers."""

    def __init__(self, lines: list[_Line], index: _Index) -> None:
        self.lines = lines
        self.index = index
        self.labels: dict[int, _Label | None] = {}
        self.fields: dict[str, str] = {}
        self.weak: set[str] = set()  # keys whose value was inferred from an option list
        self.unknown: dict[str, str] = {}
        self.checklist: dict[str, bool] = {}
        self.headings: list[str] = []
        self.answered: list[bool] = []
        self.stack: list[tuple[int, int]] = []  # (level, heading position)
        self.answers: list[str] = []

    def label_at(self, pos: int) -> _Label | None:
        if pos not in self.labels:
            self.labels[pos] = _detect_label(self.lines[pos], self.index)
        return self.labels[pos]

    def run(self) -> None:
        lines, pos = self.lines, 0
        for line in lines:
            if line.checked is not None and len(self.checklist) < MAX_CHECKLIST:
                key = _cap(_display(_unmark(line.text)[0]), MAX_LABEL_CHARS)
                if key:
                    self.checklist.setdefault(key, line.checked)
        while pos < len(lines):
            line = lines[pos]
            if line.kind in (_BLANK, _RULE):
                pos += 1
            elif line.kind == _HEADING:
                pos = self.heading(pos)
            elif (label := self.label_at(pos)) is not None:
                pos = self.labelled(pos, label)
            else:
                self.free(line)
                pos += 1

    # -- evidence

    def mark(self) -> None:
        for _, at in self.stack:
            self.answered[at] = True

    def store(self, key: str | None, display: str, raw: str, *, weak: bool = False) -> None:
        if _is_no_response(raw):
            return
        value = _clean_value(raw)
        if not value or _is_no_response(value):
            return
        self.mark()
        self.answers.append(value)
        if key is None:
            if display and display not in self.unknown and len(self.unknown) < MAX_UNKNOWN:
                self.unknown[display] = value
            return
        canonical = self.index.option(key, value)
        if canonical is not None:
            value = canonical
        if key == IMPACTS_PRODUCTION_KEY:
            yes_no = parse_yes_no(value)
            if yes_no is not None:
                value = "yes" if yes_no else "no"
        if key in self.fields and not (key in self.weak and not weak):
            return  # first answer wins; a typed answer beats one inferred from an option list
        self.fields[key] = value
        if weak:
            self.weak.add(key)
        else:
            self.weak.discard(key)

    # -- line kinds

    def heading(self, pos: int) -> int:
        line = self.lines[pos]
        norm = _norm_heading(line.text)
        while self.stack and self.stack[-1][0] >= line.level:
            self.stack.pop()
        if len(self.headings) < MAX_HEADINGS:
            self.headings.append(norm)
            self.answered.append(False)
            self.stack.append((line.level, len(self.headings) - 1))
        key = self.index.lookup(_norm_label(line.text))
        # GitHub issue forms render every field as a plain "### Label" + value paragraph;
        # template section headings are bold ("## **Data Request**") and hold prompts.
        plain = "*" not in line.text and "__" not in line.text
        if key is None and not (line.level >= 3 and plain):
            return pos + 1
        label = _Label(_display(line.text), key, "")
        end = self.region_end(pos, label)
        raw, weak = self.region_value(pos, end, label)
        self.store(key, label.display, raw, weak=weak)
        return end

    def labelled(self, pos: int, label: _Label) -> int:
        end = self.region_end(pos, label)
        raw, weak = self.region_value(pos, end, label)
        self.store(label.key, label.display, raw, weak=weak)
        return end

    def free(self, line: _Line) -> None:
        if self.is_boilerplate(line):
            return
        self.mark()
        if len(self.answers) < 1000:
            self.answers.append(line.text[:MAX_VALUE_CHARS])

    def is_boilerplate(self, line: _Line) -> bool:
        """True for lines that are the template talking, not the requester answering."""
        if line.kind == _CODE:
            return not line.text
        if line.checked is not None:
            return True  # template checklists ("Complete this issue template") are not answers
        if line.kind == _TABLE and not line.text.strip("|-: "):
            return True  # a table's separator row
        text = line.text.strip()
        unmarked, was_marked = _unmark(text)
        norm = _norm_label(unmarked)
        if not norm:
            return True
        if not was_marked and _norm_option(unmarked) in self.index.all_options:
            return True
        bold = _split_bold(text)
        if bold is not None and not bold[1].strip(" :.?"):
            return True  # a bold-only line is an instruction or an option
        if self.index.prompts and norm.startswith(self.index.prompts):
            return True
        return "(optional)" in norm or text.endswith((":", "?", "\uff1a", "\uff1f"))

    # -- values

    def region_end(self, pos: int, label: _Label) -> int:
        """Where a label's value ends: the next heading, rule or label; a sibling list item;
        with an inline value, the end of its paragraph."""
        lines = self.lines
        owner = lines[pos]
        inline = bool(label.value.strip())
        end, seen_blank = pos + 1, False
        while end < len(lines):
            line = lines[end]
            if line.kind == _BLANK:
                seen_blank = True
                end += 1
                continue
            if line.kind in (_HEADING, _RULE) or self.label_at(end) is not None:
                break
            if inline and (seen_blank or line.kind != _TEXT or label.slack):
                break
            if (
                owner.kind == _LIST
                and line.kind == _LIST
                and line.indent <= owner.indent
                and self.index.option(label.key, line.text) is None
            ):
                break
            end += 1
        # Trailing blank lines belong to nobody.
        while end - 1 > pos and lines[end - 1].kind == _BLANK:
            end -= 1
        return end

    def region_value(self, pos: int, end: int, label: _Label) -> tuple[str, bool]:
        """The raw value of a label and whether it was only inferred from an option list."""
        parts: list[str] = []
        options: list[tuple[str, str]] = []  # (state, canonical)
        items: list[_Line] = []
        budget = MAX_VALUE_CHARS * 2
        for line in self.lines[pos + 1 : end]:
            if line.kind == _BLANK:
                parts.append("")
                continue
            canonical = self.index.option(label.key, line.text) if line.kind == _LIST else None
            if canonical is not None:
                options.append((_option_state(line), canonical))
                continue
            if line.kind == _LIST:
                items.append(line)
            if budget > 0:
                parts.append(_render(line))
                budget -= len(line.text) + 3
        inline = label.value.strip()
        free = "\n".join(parts).strip()
        if len(items) == 1 and free == _render(items[0]).strip():
            free = _option_text(items[0])  # a single bullet answer: "- No" → "No"
        if inline or free:
            return (f"{inline}\n{free}" if inline and free else inline or free), False
        chosen = _chosen(options)
        return ", ".join(chosen), True


def _render(line: _Line) -> str:
    if line.kind == _LIST:
        box = "" if line.checked is None else ("[x] " if line.checked else "[ ] ")
        return f"{' ' * min(line.indent, 8)}{line.marker} {box}{line.text}"
    return line.text


def _option_text(line: _Line) -> str:
    return _unmark(line.text)[0]


def _option_state(line: _Line) -> str:
    text, marked = _unmark(line.text)
    if line.checked or marked:
        return "marked"
    if line.checked is False:
        return "plain"
    if text.startswith("~~") and text.endswith("~~"):
        return "struck"
    if (text.startswith("**") and text.endswith("**")) or (text.startswith("__") and text.endswith("__")):
        return "bold"
    return "plain"


def _chosen(options: list[tuple[str, str]]) -> list[str]:
    """The option(s) the requester picked: ticked or ✅; else bolded (when not all are);
    else the only one left. All options left as the template had them → nothing chosen."""
    marked = [c for s, c in options if s == "marked"]
    if marked:
        return marked
    left = [(s, c) for s, c in options if s != "struck"]
    bold = [c for s, c in left if s == "bold"]
    if bold and len(bold) < len(left):
        return bold
    if len(left) == 1:
        return [left[0][1]]
    return []


def match_template(text: str, templates: Iterable[TemplateFieldMap]) -> TemplateFieldMap | None:
    """The template whose ``match`` substrings occur most often in ``text`` (None if none)."""
    low = text[:MAX_INPUT_CHARS].casefold()
    best, best_hits = None, 0
    for tpl in templates:
        hits = sum(1 for needle in tpl.match if needle and needle.casefold() in low)
        if hits > best_hits:
            best, best_hits = tpl, hits
    return best


def _prepare(text: str) -> str:
    text = text[:MAX_INPUT_CHARS] if isinstance(text, str) else ""
    # ANSI/OSC escapes and control characters never belong in a field value.
    return _strip_comments(sanitize_terminal(text))


def _parse(
    text: str, templates: list[TemplateFieldMap], structured: Mapping[str, str] | None
) -> tuple[ParsedIntake, list[str]]:
    text = _prepare(text)
    keys = " ".join(str(k) for k in structured) if structured else ""
    template = match_template(f"{text}\n{keys}", templates)
    index = _Index([template] if template is not None else templates)
    parser = _Parser(_tokenize(text), index)
    parser.run()
    if structured:
        for raw_label, raw_value in list(structured.items())[:MAX_UNKNOWN]:
            label, value = str(raw_label)[:MAX_LABEL_CHARS], str(raw_value)
            key = index.lookup(_norm_label(label))
            value = sanitize_terminal(value[: MAX_VALUE_CHARS * 2])
            if not _clean_value(value) or _is_no_response(value):
                continue
            # The bot typed these fields, so they beat anything read from the text.
            if key is not None:
                parser.fields.pop(key, None)
            else:
                parser.unknown.pop(_display(label), None)
            parser.store(key, _display(label), value)
    sections: list[str] = []
    for heading, answered in zip(parser.headings, parser.answered, strict=True):
        if answered and heading and heading not in sections:
            sections.append(heading)
    parsed = ParsedIntake(
        template=template.name if template is not None else None,
        fields=parser.fields,
        sections=sections,
        checklist=parser.checklist,
        unknown=parser.unknown,
        headings=parser.headings,
    )
    return parsed, parser.answers


def parse_intake(
    text: str,
    templates: list[TemplateFieldMap],
    *,
    structured: dict[str, str] | None = None,
) -> ParsedIntake:
    """Parse an intake body (GitHub issue body or Slack message text) into typed fields.

    Understands ``**Label:** value``, ``**Label**: value``, a label alone with its value on
    the next line(s), Slack ``*Label:* value``, plain ``Label: value`` for labels the mapping
    knows, ``## **Section**`` headings, checklists, option lists (the ticked, bolded, ✅ or
    only remaining option wins) and GitHub issue forms (``### Label`` + value,
    ``_No response_`` = absent). Labels match case-insensitively, ignoring markup, curly
    quotes and trailing ``:``/``?``, and misspelt ones match fuzzily (ratio ≥ 0.85).

    Args:
        text: the body; anything (huge, binary-ish, escape-laden) is accepted.
        templates: the configured intake templates; the best ``match`` decides which
            mapping is used, else all of them are merged.
        structured: raw ``{"Label": "value"}`` pairs given structurally (Slack blocks, see
            :func:`parse_slack_blocks`); they override values read from the text.

    Returns:
        The parsed fields, answered sections, checklist and unmapped pairs. Never raises
        on odd input.
    """
    return _parse(text, templates, structured)[0]


def answer_text(text: str, template: TemplateFieldMap) -> str:
    """The requester's own words in a body: field values and free lines, without the
    template's prompts, options and instructions (what keyword rules should look at)."""
    return "\n".join(_parse(text, [template], None)[1])


def display_label(key: str, templates: Iterable[TemplateFieldMap]) -> str:
    """A readable label for a field key ("issue_type" → "Issue Type"), from the mapping."""
    for tpl in templates:
        for label, label_key in tpl.labels.items():
            if label_key == key:
                text = _display(label).rstrip("?")
                return " ".join(w[:1].upper() + w[1:] for w in text.split())
    return key.replace("_", " ").title()


# --------------------------------------------------------------------------- Slack blocks


def _pairs_from_mrkdwn(text: str) -> list[tuple[str, str]]:
    """``*Label:* value`` lines (a label alone takes the following lines) → pairs."""
    pairs: list[tuple[str, list[str]]] = []
    for raw in text[:MAX_INPUT_CHARS].split("\n")[:2000]:
        line = raw[:MAX_LINE_CHARS].strip()
        bold = _split_bold(line) if line else None
        if bold is not None:
            inner, rest = bold[0].strip(), bold[1]
            stripped = rest.lstrip()
            colon = inner.endswith((":", "\uff1a"))
            if stripped.startswith((":", "\uff1a")):
                colon, rest = True, stripped[1:]
            label = _display(inner)
            if colon and label:
                pairs.append((label, [rest.strip()] if rest.strip() else []))
                continue
        if pairs and line:
            pairs[-1][1].append(line)
    return [(label, "\n".join(values)) for label, values in pairs]


def _rich_text(element: Any, depth: int = 0) -> str:
    """Render a rich_text element tree as mrkdwn-ish text (bold → ``*x*``, users → ``<@U>``)."""
    if depth > 6 or not isinstance(element, dict):
        return ""
    kind = element.get("type")
    if kind == "text":
        text = str(element.get("text", ""))
        style = element.get("style")
        if isinstance(style, dict) and style.get("bold") and text.strip():
            lead = text[: len(text) - len(text.lstrip())]
            trail = text[len(text.rstrip()) :]
            return f"{lead}*{text.strip()}*{trail}"
        return text
    if kind == "user":
        return f"<@{element.get('user_id', '')}>"
    if kind == "usergroup":
        return f"<!subteam^{element.get('usergroup_id', '')}>"
    if kind == "channel":
        return f"<#{element.get('channel_id', '')}>"
    if kind == "link":
        url, label = str(element.get("url", "")), element.get("text")
        return f"<{url}|{label}>" if label else f"<{url}>"
    if kind == "emoji":
        return f":{element.get('name', '')}:"
    children = element.get("elements")
    if not isinstance(children, list):
        return ""
    parts = [_rich_text(child, depth + 1) for child in children[:500]]
    if kind == "rich_text_list":
        return "\n".join(f"- {p.strip()}" for p in parts) + "\n"
    if kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
        return "".join(parts) + ("\n" if kind != "rich_text_section" else "")
    return "\n".join(p.rstrip("\n") for p in parts)


def _block_text(obj: Any) -> str:
    if isinstance(obj, dict):
        text = obj.get("text")
        return text if isinstance(text, str) else ""
    return ""


def slack_block_texts(blocks: Any) -> list[str]:
    """The mrkdwn texts of Slack ``blocks``: ``section`` text and ``fields``, ``rich_text``
    rendered as mrkdwn (bold runs → ``*x*``, mentions → ``<@U…>``) and ``context`` elements.

    Unknown or malformed blocks are skipped, never raised on; empty texts are left out.
    """
    texts: list[str] = []
    if not isinstance(blocks, list):
        return texts
    for block in blocks[:100]:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "section":
            texts.append(_block_text(block.get("text")))
            fields = block.get("fields")
            if isinstance(fields, list):
                texts.extend(_block_text(item) for item in fields[:50])
        elif kind == "rich_text":
            texts.append(_rich_text(block))
        elif kind == "context":
            elements = block.get("elements")
            if isinstance(elements, list):
                texts.extend(_block_text(item) for item in elements[:50])
    return [t for t in texts if t]


def parse_slack_blocks(blocks: list[dict[str, Any]]) -> dict[str, str]:
    """Turn an intake bot's Slack ``blocks`` into raw ``{"Label": "value"}`` pairs.

    Reads the texts :func:`slack_block_texts` finds (mrkdwn ``*Label:*\\nvalue``, bold runs of
    ``rich_text`` as labels). The first occurrence of a label wins. Pass the result to
    :func:`parse_intake` as ``structured``. Malformed blocks are skipped, never raised on.
    """
    pairs: dict[str, str] = {}
    for text in slack_block_texts(blocks):
        for label, value in _pairs_from_mrkdwn(text):
            if len(pairs) < MAX_UNKNOWN:
                pairs.setdefault(label, _cap(value.strip()))
    return pairs
