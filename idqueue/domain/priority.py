"""Priority P1–P4 from declarative rules, with a manual override.

Order of precedence:

1. ``request.priority_override`` (set from the TUI/CLI) → reason ``manual override``;
2. a ``priority:Pn`` label (how the override is stored on GitHub, so teammates see it) →
   reason ``label priority:Pn``; with several such labels the most urgent wins;
3. the first matching :class:`~idqueue.config.PriorityRule` in config order → its name and
   the evidence, e.g. ``outage keywords: keyword "outage" in title``;
4. ``P3`` with reason ``no rule matched``.

A rule matches when *every* criterion it sets matches (AND), where a list criterion matches
when *any* of its entries does (OR). A rule with no criteria matches every request, so it
can serve as a catch-all at the end of the list.
"""

from __future__ import annotations

import re
from functools import lru_cache

from idqueue.config import PriorityRule
from idqueue.domain.models import Request
from idqueue.domain.sla import impacts_production

PRIORITY_RANK: dict[str, int] = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}
"""Sort key: lower is more urgent."""

DEFAULT_PRIORITY = "P3"
BODY_SCAN_LIMIT = 5_000
"""Only the first characters of a body are scanned for keywords (huge pasted logs)."""

_LABEL_RE = re.compile(r"^\s*priority\s*[:/=]\s*p?([1-4])\s*$", re.IGNORECASE)
_VALUE_RE = re.compile(r"^\s*p?([1-4])\s*$", re.IGNORECASE)


def normalize_priority(value: str | None) -> str | None:
    """``"p1"``, ``"P1"``, ``"1"`` → ``"P1"``; anything else → None."""
    if not value:
        return None
    m = _VALUE_RE.match(value)
    return f"P{m[1]}" if m else None


def priority_label(priority: str) -> str:
    """The GitHub label that stores a manual priority: ``priority:P1``.

    Raises:
        ValueError: when ``priority`` is not P1–P4.
    """
    value = normalize_priority(priority)
    if value is None:
        raise ValueError(f"not a priority: {priority!r}")
    return f"priority:{value}"


def priority_from_labels(labels: list[str]) -> tuple[str, str] | None:
    """The most urgent ``priority:Pn`` label as (priority, label text), or None."""
    found: list[tuple[str, str]] = []
    for label in labels:
        m = _LABEL_RE.match(label)
        if m:
            found.append((f"P{m[1]}", label.strip()))
    return min(found, key=lambda pair: PRIORITY_RANK[pair[0]]) if found else None


@lru_cache(maxsize=256)
def _keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex for a rule's keywords: whole words, case-insensitive, any whitespace between words."""
    parts = []
    for keyword in keywords:
        words = keyword.split()
        if words:
            # Look-arounds instead of \b so keywords that start or end with a non-word
            # character (``C++``, ``.net``) still need a boundary on the outside only.
            parts.append(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)")
    if not parts:
        return None
    return re.compile("|".join(parts), re.IGNORECASE)


def _match_rule(request: Request, rule: PriorityRule, sla_state: str) -> list[str] | None:
    """The evidence for each criterion of ``rule``, or None when a criterion fails."""
    evidence: list[str] = []
    if rule.types:
        wanted = {t.casefold() for t in rule.types}
        if request.type.casefold() not in wanted:
            return None
        evidence.append(f"type {request.type}")
    if rule.labels:
        wanted = {label.casefold() for label in rule.labels}
        hit = next((label for label in request.labels if label.casefold() in wanted), None)
        if hit is None:
            return None
        evidence.append(f'label "{hit}"')
    if rule.impacts_production is not None:
        impacts = impacts_production(request)
        if impacts != rule.impacts_production:
            return None
        evidence.append("impacts production" if impacts else "does not impact production")
    if rule.sla_states:
        if sla_state.casefold() not in {s.casefold() for s in rule.sla_states}:
            return None
        evidence.append(f"SLA {sla_state.replace('_', '-')}")
    if rule.keywords:
        pattern = _keyword_pattern(tuple(rule.keywords))
        if pattern is None:
            return None
        m = pattern.search(request.title)
        where = "title"
        if m is None:
            m = pattern.search(request.body[:BODY_SCAN_LIMIT])
            where = "body"
        if m is None:
            return None
        word = " ".join(m[0].split()).lower()
        evidence.append(f'keyword "{word}" in {where}')
    return evidence


def compute_priority(
    request: Request, rules: list[PriorityRule], *, sla_state: str
) -> tuple[str, str]:
    """The request's priority and the reason shown in the detail pane.

    Args:
        request: the request (type, labels, fields, title, body, override).
        rules: priority rules in config order; the first match wins.
        sla_state: the request's current SLA state (``ok``, ``at_risk``, ``breached``, …),
            for rules such as "breached → P2".

    Returns:
        ``(priority, reason)``, e.g. ``("P1", 'outage keywords: keyword "outage" in title')``.
    """
    override = normalize_priority(request.priority_override)
    if override is not None:
        return override, "manual override"
    labelled = priority_from_labels(request.labels)
    if labelled is not None:
        return labelled[0], f"label {labelled[1]}"
    for index, rule in enumerate(rules, start=1):
        evidence = _match_rule(request, rule, sla_state)
        if evidence is None:
            continue
        name = rule.name or f"rule {index}"
        detail = ", ".join(evidence)
        # A rule named after its only criterion ("impacts production") needs no echo.
        if not detail or detail.casefold() == name.casefold():
            return rule.priority, name
        return rule.priority, f"{name}: {detail}"
    return DEFAULT_PRIORITY, "no rule matched"
