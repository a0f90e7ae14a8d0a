"""Request-type classification, with the reason recorded.

Evidence is weighed in a fixed order, strongest first, and the first kind that yields a type
decides (DESIGN.md "What counts as a request"):

1. the structured intake field ``issue_type`` (what the requester or the ID Bot chose),
   compared without regard to case, punctuation, spacing or plurals; a product it names
   (``TypeRule.products``: USiP, Sign-in Service) outranks generic words such as "question";
2. a template section the requester actually answered (``## **Data Request**``), via the
   template's ``sections`` mapping;
3. the request's labels (``bug``, ``data-request``);
4. keywords in the title, then in the body — for a templated body only the requester's own
   words count, since the template itself mentions every request type; within one text the
   keyword that comes first wins (rule order breaks ties);
5. the configured default.

The reason reads like a sentence and is shown in the detail pane:
``intake field "Issue Type" = "Data Request"``,
``intake field "Issue Type" = "USiP Question" (rule value "usip questions")``, ``label "bug"``,
``keyword "mock auth" in title``, ``no rule matched (default)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from difflib import SequenceMatcher
from functools import lru_cache

from idqueue.config import IntakeConfig, TemplateFieldMap, TypeRule
from idqueue.domain.intake import (
    ISSUE_TYPE_KEY,
    MAX_INPUT_CHARS,
    answer_text,
    display_label,
    match_template,
)

__all__ = ["classify"]

_FUZZY_RATIO = 0.85
_REASON_VALUE_CHARS = 80


def _norm(text: str) -> str:
    """Loose compare form: "Sign-In-Service Integration" == "sign in service integration"."""
    # Rule values and section headings are normalised for every request: remember the short ones.
    return _norm_short(text) if len(text) <= 256 else _norm_text(text)


def _norm_text(text: str) -> str:
    text = text.casefold().replace("-", " ").replace("_", " ").replace("*", "")
    return " ".join(text.split()).strip(" .,:;!?")


_norm_short = lru_cache(maxsize=2048)(_norm_text)


def _short(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > _REASON_VALUE_CHARS:
        return text[: _REASON_VALUE_CHARS - 1] + "…"
    return text


_APOSTROPHES = re.compile(r"['\u2019\u2018`]")
_NOT_WORD = re.compile(r"[\W_]+")
_ES_PLURALS = ("sses", "shes", "ches", "xes", "zzes")


def _singular(word: str) -> str:
    """A word's singular, good enough to compare what people type ("questions" → "question",
    "fixes" → "fix", "queries" → "query"); "access", "status" and "analysis" stay as they are."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(_ES_PLURALS):
        return word[:-2]
    if word.endswith(("ss", "us", "is")) or not word.endswith("s"):
        return word
    return word[:-1]


def _value_norm_text(text: str) -> str:
    """Compare form of an issue-type value: case, punctuation, spacing and plurals do not count.

    ``"USiP Question"``, ``"usip questions"``, ``"USiP-question?"`` and ``" usip  QUESTION "`` are
    all ``"usip question"``.
    """
    words = _NOT_WORD.sub(" ", _APOSTROPHES.sub("", text.casefold())).split()
    return " ".join(_singular(w) for w in words)


_value_norm = lru_cache(maxsize=2048)(_value_norm_text)


def _compact(norm: str) -> str:
    """The value without spaces, so "Signin Service" and "Sign-in Service" compare equal."""
    return norm.replace(" ", "")


def _has_words(norm: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``norm`` as whole words (both in :func:`_value_norm` form)."""
    return bool(phrase) and f" {phrase} " in f" {norm} "


def _by_field(value: str, rules: list[TypeRule]) -> tuple[str, str] | None:
    """The type an ``issue_type`` value names, and the rule entry that matched.

    In order: the whole value equals a rule's value; the value names a product (a product
    outranks generic words, so "USiP question" is about USiP, not a generic question); the
    longest rule value it contains as whole words ("Sign-in Service integration: Begin
    onboarding process"); a close misspelling. Every comparison ignores case, punctuation,
    spacing and plurals.
    """
    norm = _value_norm(value[:200])
    if not norm:
        return None
    compact = _compact(norm)
    for rule in rules:
        for candidate in rule.field_values:
            if _compact(_value_norm(candidate)) == compact:
                return rule.type, candidate
    hit = _longest(norm, compact, rules, lambda r: r.products, compact_ok=True)
    if hit is not None:
        return hit
    hit = _longest(norm, compact, rules, lambda r: r.field_values, compact_ok=False)
    if hit is not None:
        return hit
    return _fuzzy(norm, rules)


def _longest(
    norm: str, compact: str, rules: list[TypeRule], entries: Callable[[TypeRule], list[str]], *, compact_ok: bool
) -> tuple[str, str] | None:
    """The rule whose longest entry occurs in the value as whole words (rule order breaks ties).

    With ``compact_ok``, a multi-word entry also matches the value with its spaces dropped
    ("SignIn Service question" names "Sign-in Service").
    """
    best_len, best = 0, None
    for rule in rules:
        for candidate in entries(rule):
            cand = _value_norm(candidate)
            if not cand or len(cand) <= best_len:
                continue
            if _has_words(norm, cand) or (compact_ok and " " in cand and _compact(cand) in compact):
                best_len, best = len(cand), (rule.type, candidate)
    return best


def _fuzzy(norm: str, rules: list[TypeRule]) -> tuple[str, str] | None:
    """The closest rule value within :data:`_FUZZY_RATIO` (a misspelling such as "Data Requst")."""
    matcher = SequenceMatcher(autojunk=False)
    matcher.set_seq2(norm)
    best_ratio, best = 0.0, None
    for rule in rules:
        for candidate in rule.field_values:
            matcher.set_seq1(_value_norm(candidate))
            if matcher.real_quick_ratio() < _FUZZY_RATIO or matcher.quick_ratio() < _FUZZY_RATIO:
                continue
            ratio = matcher.ratio()
            if ratio >= _FUZZY_RATIO and ratio > best_ratio:
                best_ratio, best = ratio, (rule.type, candidate)
    return best


def _field_reason(label: str, value: str, rule_value: str, rules: list[TypeRule]) -> str:
    """``intake field "Issue Type" = "USiP Question" (rule value "usip questions")``.

    The rule entry is named when it is not simply the typed value in another case, so the
    detail pane says which rule a loosely typed value matched.
    """
    reason = f'intake field "{label}" = "{_short(value)}"'
    if " ".join(value.split()).casefold() == rule_value.casefold():
        return reason
    kind = "product" if any(rule_value in r.products for r in rules) else "rule value"
    return f'{reason} ({kind} "{_short(rule_value)}")'


def _by_section(sections: list[str], templates: Iterable[TemplateFieldMap]) -> tuple[str, str] | None:
    mapping: dict[str, str] = {}
    for tpl in templates:
        for heading, type_ in tpl.sections.items():
            mapping.setdefault(_norm(heading), type_)
    for section in sections:
        found = mapping.get(_norm(section))
        if found is not None:
            return found, section
    return None


def _by_label(labels: list[str], rules: list[TypeRule]) -> tuple[str, str] | None:
    present = {label.casefold(): label for label in labels}
    for rule in rules:
        for wanted in rule.labels:
            label = present.get(wanted.casefold())
            if label is not None:
                return rule.type, label
    return None


@lru_cache(maxsize=512)
def _keyword_re(keyword: str) -> re.Pattern[str]:
    # Word boundaries only where the keyword starts/ends with a word character, so "/pull/"
    # matches inside a URL while "bug" does not match "debugger".
    head = r"(?<!\w)" if keyword[:1].isalnum() else ""
    tail = r"(?!\w)" if keyword[-1:].isalnum() else ""
    return re.compile(head + re.escape(keyword) + tail, re.IGNORECASE)


def _by_keyword(text: str, rules: list[TypeRule]) -> tuple[str, str] | None:
    """The keyword that occurs first in ``text`` decides; at the same spot, rule order does.

    People say what they want first and add context after ("Feature request: let mock auth
    simulate passkeys", "Quick question: does mock auth support …"), so a topical word later
    in the sentence must not outvote the request's own words just because its rule comes
    earlier in the list.
    """
    if not text:
        return None
    best: tuple[int, str, str] | None = None
    for rule in rules:
        first: int | None = None
        named: str | None = None  # the reason names the rule's first listed keyword found
        for keyword in rule.keywords:
            word = keyword.strip()
            found = _keyword_re(word).search(text) if word else None
            if found is None:
                continue
            named = named or word
            first = found.start() if first is None else min(first, found.start())
        if first is not None and named is not None and (best is None or first < best[0]):
            best = (first, rule.type, named)
    return (best[1], best[2]) if best is not None else None


def classify(
    *,
    fields: Mapping[str, str],
    sections: list[str],
    labels: list[str],
    title: str,
    body: str,
    intake: IntakeConfig,
    template: TemplateFieldMap | None = None,
) -> tuple[str, str]:
    """Decide a request's type and say why.

    Args:
        fields: parsed intake fields (:attr:`ParsedIntake.fields` merged with structured ones).
        sections: answered section headings (:attr:`ParsedIntake.sections`).
        labels: the request's labels (GitHub labels; empty for Slack-only requests).
        title: the request title.
        body: the raw body; when it is a filled template, only the requester's answers are
            searched for keywords.
        intake: the intake config (type rules, templates, default type).
        template: the template the body matched, if known (else it is detected from
            ``body``); its boilerplate is ignored and its sections mapping is used.

    Returns:
        ``(type, reason)``, e.g. ``("Data Pull", 'intake field "Issue Type" = "Data Request"')``.
    """
    rules = intake.type_rules
    if template is None:
        template = match_template(body, intake.templates)
    templates = [template] if template is not None else list(intake.templates)

    value = (fields.get(ISSUE_TYPE_KEY) or "").strip()
    if value:
        found = _by_field(value, rules)
        if found is not None:
            label = display_label(ISSUE_TYPE_KEY, [*templates, *intake.templates])
            return found[0], _field_reason(label, value, found[1], rules)

    hit = _by_section(sections, templates)
    if hit is not None:
        return hit[0], f'answered section "{_short(hit[1])}"'

    hit = _by_label(labels, rules)
    if hit is not None:
        return hit[0], f'label "{_short(hit[1])}"'

    hit = _by_keyword(title[:2_000], rules)
    if hit is not None:
        return hit[0], f'keyword "{hit[1]}" in title'

    text = answer_text(body, template) if template is not None else body[:MAX_INPUT_CHARS]
    hit = _by_keyword(text, rules)
    if hit is not None:
        return hit[0], f'keyword "{hit[1]}" in body'

    return intake.default_type, "no rule matched (default)"
