"""Request-type classification, with the reason recorded.

Evidence is weighed in a fixed order, strongest first, and the first kind that yields a type
decides (DESIGN.md "What counts as a request"):

1. the structured intake field ``issue_type`` (what the requester or the ID Bot chose);
2. a template section the requester actually answered (``## **Data Request**``), via the
   template's ``sections`` mapping;
3. the request's labels (``bug``, ``data-request``);
4. keywords in the title, then in the body — for a templated body only the requester's own
   words count, since the template itself mentions every request type; within one text the
   keyword that comes first wins (rule order breaks ties);
5. the configured default.

The reason reads like a sentence and is shown in the detail pane:
``intake field "Issue Type" = "Data Request"``, ``label "bug"``,
``keyword "mock auth" in title``, ``no rule matched (default)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
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


def _by_field(value: str, rules: list[TypeRule]) -> str | None:
    """The type an ``issue_type`` value names: exact, then the longest rule value it
    contains as whole words ("Sign-in Service integration: Begin onboarding process"),
    then a close misspelling."""
    norm = _norm(value)
    if not norm:
        return None
    for rule in rules:
        if any(_norm(v) == norm for v in rule.field_values):
            return rule.type
    padded = f" {norm} "
    best_len, best_type = 0, None
    for rule in rules:
        for candidate in rule.field_values:
            cand = _norm(candidate)
            if cand and len(cand) > best_len and f" {cand} " in padded:
                best_len, best_type = len(cand), rule.type
    if best_type is not None:
        return best_type
    matcher = SequenceMatcher(autojunk=False)
    matcher.set_seq2(norm[:200])
    best_ratio = 0.0
    for rule in rules:
        for candidate in rule.field_values:
            matcher.set_seq1(_norm(candidate))
            if matcher.real_quick_ratio() < _FUZZY_RATIO or matcher.quick_ratio() < _FUZZY_RATIO:
                continue
            ratio = matcher.ratio()
            if ratio >= _FUZZY_RATIO and ratio > best_ratio:
                best_ratio, best_type = ratio, rule.type
    return best_type


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
        type_ = _by_field(value, rules)
        if type_ is not None:
            label = display_label(ISSUE_TYPE_KEY, [*templates, *intake.templates])
            return type_, f'intake field "{label}" = "{_short(value)}"'

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
