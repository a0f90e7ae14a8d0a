"""Priority rules: override, priority labels, declarative rules, whole-word keywords."""

from __future__ import annotations

import pytest

from idqueue.config import PriorityRule, _default_priority_rules
from idqueue.domain.models import Person, Request, SourceKind
from idqueue.domain.priority import (
    PRIORITY_RANK,
    compute_priority,
    normalize_priority,
    priority_from_labels,
    priority_label,
)

RULES = _default_priority_rules()


def make_request(
    title: str = "Question about my account",
    body: str = "",
    *,
    type: str = "Help Request",
    labels: list[str] | None = None,
    fields: dict[str, str] | None = None,
    override: str | None = None,
) -> Request:
    return Request(
        id="gh:va/identity#7",
        key="REQ-7",
        sources=[SourceKind("github")],
        title=title,
        body=body,
        requester=Person("alice", "Alice"),
        type=type,
        labels=labels or [],
        fields=fields or {},
        priority_override=override,
    )


CASES = [
    # (why, request, sla_state, priority, reason)
    ("manual override wins over everything", make_request("Prod outage", override="P3", labels=["priority:P1"]),
     "breached", "P3", "manual override"),
    ("override is normalised", make_request(override="p2"), "ok", "P2", "manual override"),
    ("a bogus override is ignored", make_request(type="Feature Request", override="urgent"), "ok",
     "P4", "feature request: type Feature Request"),
    ("priority label is an override", make_request("Prod outage", labels=["bug", "priority:P2"]), "ok",
     "P2", "label priority:P2"),
    ("most urgent priority label wins", make_request(labels=["Priority: p3", "priority:P1"]), "ok",
     "P1", "label priority:P1"),
    ("impacts production", make_request(fields={"impacts_production": "Yes"}), "ok", "P1", "impacts production"),
    ("production field says no", make_request(type="Data Pull", fields={"impacts_production": "No"}), "ok",
     "P3", "standard request: type Data Pull"),
    ("outage keyword in title", make_request("Login.gov OUTAGE for our app"), "ok",
     "P1", 'outage keywords: keyword "outage" in title'),
    ("keyword phrase in body across a line break", make_request(body="Since 9am the sign-in page is\n  down for users"),
     "ok", "P1", 'outage keywords: keyword "is down" in body'),
    ("prod as a whole word", make_request("500 errors in prod"), "ok", "P1", 'outage keywords: keyword "prod" in title'),
    ("production is not the word prod", make_request("Product question about production data", type="Data Pull"),
     "ok", "P3", "standard request: type Data Pull"),
    ("blockers is not blocker", make_request("Two blockers listed", type="Data Pull"), "ok",
     "P3", "standard request: type Data Pull"),
    ("keyword after 5,000 body chars is not scanned", make_request(body="x " * 2500 + "outage", type="Task Request"),
     "ok", "P3", "standard request: type Task Request"),
    ("label P1 rule", make_request(labels=["P1"], type="Other"), "ok", "P1", 'label priority:P1: label "P1"'),
    ("breached SLA", make_request(type="Help Request"), "breached", "P2", "SLA breached"),
    ("engineering request", make_request(type="Bug Fix"), "ok", "P2", "engineering request: type Bug Fix"),
    ("type compares case-insensitively", make_request(type="pr review"), "at_risk", "P2",
     "engineering request: type pr review"),
    ("feature request", make_request(type="Feature Request"), "ok", "P4", "feature request: type Feature Request"),
    ("nothing matches", make_request(type="Something New"), "ok", "P3", "no rule matched"),
]


@pytest.mark.parametrize(("why", "request_", "sla_state", "priority", "reason"), CASES, ids=[c[0] for c in CASES])
def test_default_rules(why: str, request_: Request, sla_state: str, priority: str, reason: str) -> None:
    assert compute_priority(request_, RULES, sla_state=sla_state) == (priority, reason)


def test_rule_criteria_are_and_lists_are_or() -> None:
    rules = [
        PriorityRule(priority="P1", name="prod bug", types=["Bug Fix"], keywords=["crash", "500"]),
        PriorityRule(priority="P2", labels=["vip", "exec"], sla_states=["at_risk", "breached"]),
        PriorityRule(priority="P4", name="everything else"),
    ]
    assert compute_priority(make_request("App crash", type="Bug Fix"), rules, sla_state="ok") == (
        "P1", 'prod bug: type Bug Fix, keyword "crash" in title')
    # Keyword without the type does not match the first rule.
    assert compute_priority(make_request("App crash"), rules, sla_state="ok") == ("P4", "everything else")
    assert compute_priority(make_request(labels=["Exec"]), rules, sla_state="at_risk") == (
        "P2", 'rule 2: label "Exec", SLA at-risk')
    assert compute_priority(make_request(labels=["Exec"]), rules, sla_state="ok")[0] == "P4"
    assert compute_priority(make_request(), [], sla_state="ok") == ("P3", "no rule matched")


def test_keywords_with_symbols_need_outer_boundaries() -> None:
    rules = [PriorityRule(priority="P1", name="c++", keywords=["C++", "sev 1"])]
    assert compute_priority(make_request("Our C++ SDK"), rules, sla_state="ok")[0] == "P1"
    assert compute_priority(make_request("Our C++x SDK"), rules, sla_state="ok")[0] == "P3"
    assert compute_priority(make_request("SEV  1 today"), rules, sla_state="ok")[0] == "P1"
    assert compute_priority(make_request("sev 10"), rules, sla_state="ok")[0] == "P3"


def test_helpers() -> None:
    assert normalize_priority(" p4 ") == "P4"
    assert normalize_priority("1") == "P1"
    assert normalize_priority("P5") is None
    assert normalize_priority(None) is None
    assert priority_label("p2") == "priority:P2"
    with pytest.raises(ValueError):
        priority_label("high")
    assert priority_from_labels(["bug", "priority-high"]) is None
    assert priority_from_labels(["PRIORITY:P4", "priority:p2"]) == ("P2", "priority:p2")
    assert sorted(["P3", "P1", "P4", "P2"], key=PRIORITY_RANK.__getitem__) == ["P1", "P2", "P3", "P4"]
