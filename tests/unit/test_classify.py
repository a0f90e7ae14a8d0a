"""Request-type classification: evidence order, reasons, and the real intake bodies."""

from __future__ import annotations

from pathlib import Path

import pytest

from idqueue.config import IntakeConfig, TemplateFieldMap, TypeRule
from idqueue.domain.classify import classify
from idqueue.domain.intake import parse_intake

FIXTURES = Path(__file__).parent.parent / "fixtures" / "intake"
INTAKE = IntakeConfig()
VA = INTAKE.templates[0]


def run(
    *,
    fields: dict[str, str] | None = None,
    sections: list[str] | None = None,
    labels: list[str] | None = None,
    title: str = "",
    body: str = "",
    intake: IntakeConfig = INTAKE,
    template: TemplateFieldMap | None = None,
) -> tuple[str, str]:
    return classify(
        fields=fields or {},
        sections=sections or [],
        labels=labels or [],
        title=title,
        body=body,
        intake=intake,
        template=template,
    )


def classify_file(name: str, *, title: str = "Identity support request", labels: list[str] | None = None) -> tuple[str, str]:
    body = (FIXTURES / name).read_text(encoding="utf-8")
    parsed = parse_intake(body, INTAKE.templates)
    template = next((t for t in INTAKE.templates if t.name == parsed.template), None)
    return run(
        fields=parsed.fields, sections=parsed.sections, labels=labels, title=title, body=body, template=template
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("va_data_request.md", ("Data Pull", 'intake field "Issue Type" = "Data Request"')),
        ("va_auth_help.md", ("Test User / Mock Auth", 'intake field "Issue Type" = "Authentication Help"')),
        ("va_pr_review.md", ("PR Review", 'intake field "Issue Type" = "Pull Request Review"')),
        ("va_sis_onboarding.md",
         ("Sign-in Service / USiP", 'intake field "Issue Type" = "Sign-In-Service Integration"')),
        ("va_sis_sections_only.md", ("Sign-in Service / USiP", 'answered section "sign-in service"')),
        ("va_other.md", ("Other", 'intake field "Issue Type" = "Other"')),
        ("va_misspelled_labels.md", ("Data Pull", 'intake field "Issue Type" = "Data Request"')),
        ("gh_issue_form.md", ("Test User / Mock Auth", 'intake field "Issue Type" = "Authentication Help"')),
        ("slack_bot_message.md", ("Data Pull", 'intake field "Issue Type" = "Data Request"')),
        ("missing_labels.md", ("Test User / Mock Auth", 'keyword "mock auth" in body')),
        ("va_blank_template.md", ("Other", "no rule matched (default)")),
    ],
)
def test_real_bodies(name: str, expected: tuple[str, str]) -> None:
    assert classify_file(name) == expected


def test_blank_template_boilerplate_is_not_keyword_evidence() -> None:
    """The VA template names every type ("Pull Request Review", "sign in", "Data Request");
    an untouched template must not look like a PR review."""
    body = (FIXTURES / "va_blank_template.md").read_text(encoding="utf-8")
    assert run(body=body) == ("Other", "no rule matched (default)")  # template detected from the body
    assert run(body=body, title="Login.gov sign in fails") == ("Test User / Mock Auth", 'keyword "sign in" in title')


# --------------------------------------------------------------------------- evidence order

def test_field_beats_section_label_and_keywords() -> None:
    assert run(
        fields={"issue_type": "Data request"},
        sections=["pull review request"],
        labels=["bug"],
        title="mock auth broken",
    ) == ("Data Pull", 'intake field "Issue Type" = "Data request"')


def test_section_beats_label() -> None:
    assert run(sections=["additional information", "pull review request"], labels=["bug"]) == (
        "PR Review",
        'answered section "pull review request"',
    )


def test_label_beats_keywords() -> None:
    assert run(labels=["Identity", "BUG"], title="feature request: data pull") == ("Bug Fix", 'label "BUG"')


def test_title_keyword_beats_body_keyword() -> None:
    assert run(title="Mock auth user locked", body="please review my PR") == (
        "Test User / Mock Auth",
        'keyword "mock auth" in title',
    )
    assert run(title="Quick one", body="Could you review my PR?") == ("PR Review", 'keyword "review my PR" in body')


def test_default_when_nothing_matches() -> None:
    assert run(title="Hello", body="Lunch on Friday?") == ("Other", "no rule matched (default)")
    custom = IntakeConfig(default_type="Help Request", type_rules=[])
    assert run(title="x", intake=custom) == ("Help Request", "no rule matched (default)")


def test_unrecognised_field_value_falls_through() -> None:
    assert run(fields={"issue_type": "Something new"}, labels=["question"]) == ("Help Request", 'label "question"')


# --------------------------------------------------------------------------- field values

@pytest.mark.parametrize(
    ("value", "type_"),
    [
        ("Authentication help", "Test User / Mock Auth"),
        ("Sign-in Service integration", "Sign-in Service / USiP"),
        ("Sign-In-Service Integration", "Sign-in Service / USiP"),
        ("Begin onboarding process", "Sign-in Service / USiP"),
        ("Register client configuration", "Sign-in Service / USiP"),
        ("USiP Questions", "Sign-in Service / USiP"),
        ("Pull review request", "PR Review"),
        ("Pull Request Review", "PR Review"),
        ("Data request", "Data Pull"),
        ("Data Requst", "Data Pull"),  # fuzzy
        ("Bug Fixes", "Bug Fix"),
        ("Feature Requests", "Feature Request"),
        ("Task Request", "Task Request"),
        ("Help Request", "Help Request"),
        ("Other", "Other"),
        ("Sign-in Service integration: Begin onboarding process", "Sign-in Service / USiP"),  # contains
        ("*Data request*", "Data Pull"),
    ],
)
def test_field_values(value: str, type_: str) -> None:
    assert run(fields={"issue_type": value})[0] == type_


def test_reason_value_is_shortened() -> None:
    value = "Data request " + "x" * 200
    type_, reason = run(fields={"issue_type": value})
    assert type_ == "Data Pull"
    assert len(reason) < 150 and reason.endswith('…" (rule value "data request")')


SIS = "Sign-in Service / USiP"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # The value people typed vs. the listed "usip questions": case, punctuation, spacing, plural.
        ("USiP Question", (SIS, 'intake field "Issue Type" = "USiP Question" (rule value "usip questions")')),
        ("usip question", (SIS, 'intake field "Issue Type" = "usip question" (rule value "usip questions")')),
        ("USIP QUESTIONS", (SIS, 'intake field "Issue Type" = "USIP QUESTIONS"')),
        ("USiP-question?", (SIS, 'intake field "Issue Type" = "USiP-question?" (rule value "usip questions")')),
        ("  USiP   Question ", (SIS, 'intake field "Issue Type" = "USiP Question" (rule value "usip questions")')),
        ("USiP's questions", (SIS, 'intake field "Issue Type" = "USiP\'s questions" (rule value "usip questions")')),
        ("Signin Service", (SIS, 'intake field "Issue Type" = "Signin Service" (rule value "sign-in service")')),
        ("Data Requests", ("Data Pull", 'intake field "Issue Type" = "Data Requests" (rule value "data request")')),
        ("data_request", ("Data Pull", 'intake field "Issue Type" = "data_request" (rule value "data request")')),
        ("Bug fixes!", ("Bug Fix", 'intake field "Issue Type" = "Bug fixes!" (rule value "bug fix")')),
        ("Authentication-Help", ("Test User / Mock Auth",
                                 'intake field "Issue Type" = "Authentication-Help" (rule value "authentication help")')),
        # A product outranks a generic word, wherever it is in the value and however long the generic one is.
        ("Question about USiP", (SIS, 'intake field "Issue Type" = "Question about USiP" (product "USiP")')),
        ("Help with the Sign-in Service", (SIS, 'intake field "Issue Type" = "Help with the Sign-in Service" '
                                                '(product "Sign-in Service")')),
        ("SignIn-Service help request", (SIS, 'intake field "Issue Type" = "SignIn-Service help request" '
                                              '(product "Sign-in Service")')),
        ("Mock auth questions", ("Test User / Mock Auth",
                                 'intake field "Issue Type" = "Mock auth questions" (product "Mock Auth")')),
        # Generic values alone still mean what they say.
        ("Question", ("Help Request", 'intake field "Issue Type" = "Question"')),
        ("General questions", ("Help Request", 'intake field "Issue Type" = "General questions" (rule value "question")')),
        ("Help requests", ("Help Request", 'intake field "Issue Type" = "Help requests" (rule value "help request")')),
        # Words that only look plural are left alone; a product must be a whole word.
        ("Access", ("Other", "no rule matched (default)")),
        ("Usipish question", ("Help Request", 'intake field "Issue Type" = "Usipish question" (rule value "question")')),
    ],
)
def test_field_value_variants_and_product_precedence(value: str, expected: tuple[str, str]) -> None:
    assert run(fields={"issue_type": value}) == expected


def test_configured_product_outranks_generic_value() -> None:
    custom = IntakeConfig(
        templates=[],
        type_rules=[
            TypeRule(type="Help Request", field_values=["question", "help"]),
            TypeRule(type="Identity Verification", field_values=["idv"], products=["Verify Plus"]),
        ],
    )
    assert run(fields={"issue_type": "Verify-Plus questions"}, intake=custom) == (
        "Identity Verification", 'intake field "Issue Type" = "Verify-Plus questions" (product "Verify Plus")')
    assert run(fields={"issue_type": "questions"}, intake=custom) == (
        "Help Request", 'intake field "Issue Type" = "questions" (rule value "question")')


# --------------------------------------------------------------------------- keywords

@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Debugger hangs", ("Other", "no rule matched (default)")),  # "bug" is a whole word only
        ("Found a bug in the callback", ("Bug Fix", 'keyword "bug" in title')),
        ("Please look at github.com/o/vets-api/pull/123", ("PR Review", 'keyword "/pull/" in title')),
        ("ID.me users stuck", ("Test User / Mock Auth", 'keyword "id.me" in title')),
        ("USiP copy question", ("Sign-in Service / USiP", 'keyword "USiP" in title')),
        ("Counts for 500 users", ("Other", "no rule matched (default)")),
    ],
)
def test_title_keywords(title: str, expected: tuple[str, str]) -> None:
    assert run(title=title) == expected


def test_rule_order_decides_between_keywords() -> None:
    # "sign in" (Test User) and "error" (Bug Fix) both appear: the earlier rule wins.
    assert run(title="Sign in error on staging")[0] == "Test User / Mock Auth"


def test_templated_body_keywords_come_from_answers_only() -> None:
    body = (FIXTURES / "va_blank_template.md").read_text(encoding="utf-8").replace(
        "**Additional Details:**\n", "**Additional Details:** our export job needs a data pull\n"
    )
    assert run(body=body, template=VA) == ("Data Pull", 'keyword "data pull" in body')


def test_rules_come_from_config() -> None:
    custom = IntakeConfig(
        templates=[],
        type_rules=[
            TypeRule(type="Access", field_values=["access"], labels=["access"], keywords=["permission"]),
            TypeRule(type="Other", field_values=["other"]),
        ],
    )
    assert run(fields={"issue_type": "ACCESS"}, intake=custom) == ("Access", 'intake field "Issue Type" = "ACCESS"')
    assert run(title="need permission", intake=custom) == ("Access", 'keyword "permission" in title')
    assert run(sections=["data request"], intake=custom) == ("Other", "no rule matched (default)")
