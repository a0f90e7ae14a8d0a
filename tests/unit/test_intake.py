"""Intake parsing over real template bodies (tests/fixtures/intake) and hostile input."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idqueue.config import IntakeConfig, TemplateFieldMap
from idqueue.domain import intake
from idqueue.domain.intake import (
    MAX_VALUE_CHARS,
    ParsedIntake,
    answer_text,
    display_label,
    impacts_production,
    match_template,
    parse_intake,
    parse_slack_blocks,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "intake"
TEMPLATES = IntakeConfig().templates
VA = TEMPLATES[0]


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def parse(text: str, **kwargs: Any) -> ParsedIntake:
    return parse_intake(text, TEMPLATES, **kwargs)


# --------------------------------------------------------------------------- real bodies

FIXTURE_CASES: list[tuple[str, str | None, dict[str, str], list[str], list[str]]] = [
    # (file, template, expected fields (subset), sections that must be answered, keys that must be absent)
    (
        "va_data_request.md",
        "1identity-help",
        {
            "name": "Priya Raman",
            "email": "priya.raman@example.gov",  # value on the line after "**Email address:**"
            "team": "Facilities",
            "issue_type": "Data Request",
            "data_needed": "Monthly count of LOA3 sign-ins by CSP for the last 6 months",
            "sensitive_data": "No",
            "details": "We are sizing the new facility locator "
            "(https://github.com/department-of-veterans-affairs/vets-website/pull/1) rollout.",
        },
        ["data request"],
        ["environment", "csp", "pr_url"],
    ),
    (
        "va_auth_help.md",
        "1identity-help",
        {
            "name": "Marcus Lee",
            "team": "Benefits Intake",  # label alone, blank line, then the value
            "issue_type": "Authentication Help",
            "environment": "Staging",  # chosen by bolding it
            "csp": "Login.gov",  # chosen by deleting the other options
            "browsers": "Chrome, Safari",  # ticked
            "user_email": "vets.gov.user+228@example.com",  # inline after the question
            "cleared_cache": "Yes",
        },
        ["authentication help request"],
        ["data_needed", "pr_url"],
    ),
    (
        "va_pr_review.md",
        "1identity-help",
        {
            "name": "Dana Whitfield",  # "**Name**: value"
            "issue_type": "Pull Request Review",
            "pr_url": "https://github.com/department-of-veterans-affairs/vets-api/pull/17342",
            "tested": "Yes, on a review instance with mock auth users 1 and 12.",
        },
        ["pull review request"],
        ["email", "environment"],
    ),
    (
        "va_sis_onboarding.md",
        "1identity-help",
        {
            "issue_type": "Sign-In-Service Integration",  # the only option left in the checklist
            "name": "Alex Kim",
            "team": "Veteran Health Portal",
            "poc_name": "Alex Kim",
            "poc_email": "alex.kim@example.gov",
            "app_users": "End users only",
            "usip": "Yes",
        },
        ["sign-in service", "begin onboarding", "onboarding questionnaire"],
        ["app_description", "web_browser"],
    ),
    (
        "va_other.md",
        "1identity-help",
        {
            "issue_type": "Other",
            "team": "Content & IA",
            "details": "Could someone from Identity join our design review next Tuesday?\n"
            "We want to check the wording on the sign-in modal.",
        },
        [],
        ["email"],
    ),
    (
        "gh_issue_form.md",
        None,
        {
            "name": "Jordan Patel",
            "issue_type": "Authentication Help",
            "environment": "Staging",
            "impacts_production": "no",
            "description": "Our review instance redirects to the ID.me sandbox and then shows a "
            "blank page.\n\nSteps:\n1. Open the review instance\n2. Click *Sign in* and pick ID.me",
        },
        ["issue description"],
        ["team"],  # "_No response_" means absent
    ),
    (
        "slack_bot_message.md",
        None,
        {
            "issue_type": "Data Request",
            "team": "Facilities",
            "requested_by": "<@U04ABCD1234>",  # left for the Slack adapter to resolve
            "impacts_production": "yes",
            "details": "Need the count of users who signed in with <https://login.gov|Login.gov> "
            "yesterday between 14:00 and 16:00 UTC; we think a deploy broke the callback.",
        },
        [],
        [],
    ),
    ("missing_labels.md", None, {}, [], ["name", "issue_type", "team"]),
    (
        "va_misspelled_labels.md",
        "1identity-help",
        {"team": "Facilities", "issue_type": "Data Request", "email": "lee.chen@example.gov"},
        [],
        ["name"],  # "Nmae" is too far from "name" for a 4-letter label: kept as unknown
    ),
]


@pytest.mark.parametrize(
    ("name", "template", "expected", "answered", "absent"),
    FIXTURE_CASES,
    ids=[case[0] for case in FIXTURE_CASES],
)
def test_real_bodies(
    name: str, template: str | None, expected: dict[str, str], answered: list[str], absent: list[str]
) -> None:
    parsed = parse(fixture(name))
    assert parsed.template == template
    for key, value in expected.items():
        assert parsed.fields.get(key) == value, key
    for section in answered:
        assert section in parsed.sections
    for key in absent:
        assert key not in parsed.fields


def test_fixture_without_fields_has_no_fields() -> None:
    assert parse(fixture("missing_labels.md")) == ParsedIntake(None, {}, [], {}, {}, [])


def test_blank_template_has_no_fields_and_no_answered_sections() -> None:
    parsed = parse(fixture("va_blank_template.md"))
    assert parsed.template == "1identity-help"
    assert parsed.fields == {}
    assert parsed.unknown == {}
    assert parsed.sections == []
    assert "data request" in parsed.headings
    assert "authentication help request" in parsed.headings
    assert parsed.checklist["Complete this issue template"] is False
    assert answer_text(fixture("va_blank_template.md"), VA) == ""


def test_only_the_answered_section_counts() -> None:
    parsed = parse(fixture("va_data_request.md"))
    assert "data request" in parsed.sections
    for untouched in ("authentication help request", "pull review request", "additional information"):
        assert untouched in parsed.headings
        assert untouched not in parsed.sections


def test_subsection_answers_mark_their_parent_section() -> None:
    parsed = parse(fixture("va_sis_sections_only.md"))
    assert "issue_type" not in parsed.fields  # every type option is still listed
    assert parsed.sections.index("sign-in service") < parsed.sections.index("begin onboarding")
    assert "client configuration" not in parsed.sections
    assert "service configuration" not in parsed.sections


def test_checklist_states() -> None:
    parsed = parse(fixture("va_sis_onboarding.md"))
    assert parsed.checklist["Complete this issue template"] is True
    assert parsed.checklist["Provide your team's name"] is True
    assert parsed.checklist["Add additional details (optional)"] is False
    survey = "Complete the post Identity team support survey before closing this ticket"
    assert parsed.checklist[survey] is False


def test_unknown_labels_are_kept() -> None:
    parsed = parse(fixture("va_misspelled_labels.md"))
    assert parsed.unknown == {"Nmae": "Lee Chen"}
    form = parse(fixture("gh_issue_form.md"))
    assert form.unknown == {"Browser": "Firefox 128 on macOS"}  # "### Screenshots" was _No response_


def test_fixtures_cover_every_va_issue_type() -> None:
    types = {parse(fixture(f.name)).fields.get("issue_type") for f in FIXTURES.glob("va_*.md")}
    assert set(VA.options["issue_type"]) <= types


# --------------------------------------------------------------------------- label forms

LABEL_FORMS = [
    ("**Team Name:** Facilities", "Facilities"),
    ("**Team Name**: Facilities", "Facilities"),
    ("**Team Name:**Facilities", "Facilities"),
    ("**Team Name:**\nFacilities", "Facilities"),
    ("**Team Name:**\n\nFacilities\n\n**Issue Type:**", "Facilities"),
    ("__Team Name:__ Facilities", "Facilities"),
    ("*Team:* Facilities", "Facilities"),  # Slack mrkdwn
    ("> *Team:* Facilities", "Facilities"),  # quoted
    ("- **Team Name:** Facilities", "Facilities"),
    ("Team name: Facilities", "Facilities"),  # plain, known label
    ("**TEAM   NAME :** Facilities", "Facilities"),
    ("**Team Name?** Facilities", "Facilities"),
    ("| Team Name | Facilities |", "Facilities"),
    ("**Team Name:** **Facilities**", "Facilities"),
    ("**Team Name:** *Facilities*", "Facilities"),
    ("**Team Nmae:** Facilities", "Facilities"),  # fuzzy (ratio 0.89)
    ("**Team Name:** Facilities\nand Logistics", "Facilities\nand Logistics"),  # same paragraph
    ("**Team Name:** Facilities\n\nSome unrelated prose.", "Facilities"),
]


@pytest.mark.parametrize(("text", "value"), LABEL_FORMS)
def test_label_forms(text: str, value: str) -> None:
    assert parse(text).fields.get("team") == value


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("**Isue type:** Data request", "issue_type", "Data Request"),
        ("**E-mail address:** jo@example.gov", "email", "jo@example.gov"),
        ("**Which enviroment did you use to sign in?** Staging", "environment", "Staging"),
        # curly vs straight quotes between body and mapping
        ("1. **Does your application interact with end users, API’s or both?** Both", "app_users", "Both"),
        ('**Select issue type (for "other" stop here and provide details)**\n- **Other**', "issue_type", "Other"),
        ("Which Environment did you use to sign in? Production", "environment", "Production"),
        ("- Please provide a URL to link to your PR: https://github.com/o/r/pull/1", "pr_url",
         "https://github.com/o/r/pull/1"),
    ],
)
def test_variant_and_misspelt_labels(text: str, key: str, value: str) -> None:
    assert parse(text).fields.get(key) == value


def test_fuzzy_threshold_is_difflib_085() -> None:
    def ratio(a: str, b: str) -> float:
        return difflib.SequenceMatcher(None, a, b).ratio()

    assert ratio("team nmae", "team name") >= 0.85
    assert ratio("isue type", "issue type") >= 0.85
    assert ratio("e-mail address", "email address") >= 0.85
    assert ratio("nmae", "name") < 0.85  # hence "Nmae" stays unknown
    assert "name" not in parse("**Nmae:** Lee").fields


@pytest.mark.parametrize(
    "text",
    [
        "Note: the team is on leave until Monday.",  # plain labels only when known
        "We hit this at 10:30: the page was blank.",
        "See https://example.gov/a:b for details",
        "**Important** please read",  # bold without a colon is not a label
        "- [ ] **Provide your name and email address**",
    ],
)
def test_prose_is_not_a_field(text: str) -> None:
    parsed = parse(text)
    assert parsed.fields == {}
    assert parsed.unknown == {}


def test_unknown_bold_label_is_kept_with_its_label_as_written() -> None:
    parsed = parse("**Ticket Priority:** high\n**Due by?** Friday")
    assert parsed.fields == {}
    assert parsed.unknown == {"Ticket Priority": "high", "Due by?": "Friday"}


def test_first_answer_wins_but_typed_beats_inferred_option() -> None:
    text = (
        '- [ ] **Select issue type (for "other" stop here and provide details)**\n'
        "  - **Data Request**\n\n"
        "**Issue Type:** Authentication Help\n"
    )
    assert parse(text).fields["issue_type"] == "Authentication Help"
    assert parse("**Team:** A\n**Team Name:** B").fields["team"] == "A"


# --------------------------------------------------------------------------- option lists

ENV = "- Which Environment did you use to sign in?\n"


@pytest.mark.parametrize(
    ("options", "value"),
    [
        ("  - Local Host\n  - Development\n  - [x] Staging\n  - Production\n", "Staging"),
        ("  - [ ] Local Host\n  - [ ] Review\n  - [X] Production\n", "Production"),
        ("  - Local Host\n  - **Review**\n  - Production\n", "Review"),
        ("  - Staging\n", "Staging"),  # the only one left
        ("  - Local Host\n  - Staging ✅\n  - Production\n", "Staging"),
        ("  - Local Host\n  - Staging <--\n  - Production\n", "Staging"),
        ("  - ~~Local Host~~\n  - Staging\n  - ~~Production~~\n", "Staging"),
        ("  - [x] Development\n  - [x] Staging\n", "Development, Staging"),
        ("  - staging\n", "Staging"),  # the mapping's spelling
        ("Staging\n  - Local Host\n  - Production\n", "Staging"),  # typed, options left alone
        ("    - Local Host\n    - Development\n    - Staging\n", None),  # untouched: no answer
        ("  - [ ] Local Host\n  - [ ] Staging\n", None),
    ],
)
def test_option_lists(options: str, value: str | None) -> None:
    parsed = parse(ENV + options + "- Which user email did you use to sign in?\n")
    assert parsed.fields.get("environment") == value


def test_inline_answer_beats_the_option_list_left_below() -> None:
    text = ENV.rstrip("\n") + " Review\n    - Local Host\n    - Review\n    - Staging\n"
    assert parse(text).fields["environment"] == "Review"


def test_option_list_in_flat_checklist() -> None:
    text = (
        '- [x] **Select issue type (for "other" stop here and provide details)**\n'
        "- **Authentication Help**\n"
        "- [x] **Data Request**\n"
        "- **Other**\n"
        "- [ ] **Complete tasks for your issue type**\n"
    )
    parsed = parse(text)
    assert parsed.fields["issue_type"] == "Data Request"
    assert parsed.checklist["Complete tasks for your issue type"] is False


# --------------------------------------------------------------------------- issue forms

def test_issue_form_no_response_is_absent() -> None:
    parsed = parse("### Team name\n\n_No response_\n\n### Issue type\n\nOther\n")
    assert parsed.fields == {"issue_type": "Other"}
    assert parsed.sections == ["issue type"]


def test_issue_form_checkboxes_and_multi_paragraph() -> None:
    text = (
        "### Additional details\n\nFirst paragraph.\n\nSecond paragraph.\n\n"
        "### Code of Conduct\n\n- [X] I agree to follow this project's Code of Conduct\n"
    )
    parsed = parse(text)
    assert parsed.fields["details"] == "First paragraph.\n\nSecond paragraph."
    assert parsed.checklist == {"I agree to follow this project's Code of Conduct": True}


def test_bold_headings_are_sections_not_fields() -> None:
    parsed = parse("### **Begin Onboarding**\n\nsome answer\n")
    assert parsed.unknown == {}
    assert parsed.sections == ["begin onboarding"]


def test_code_fences_are_not_parsed() -> None:
    text = "**Additional Details:**\n```\n# not a heading\n**Name:** not a field\n```\n"
    parsed = parse(text)
    assert "name" not in parsed.fields
    assert parsed.headings == []
    assert parsed.fields["details"] == "# not a heading\nName: not a field"


def test_html_comments_are_not_answers() -> None:
    parsed = parse("**Team Name:** <!-- your team -->\n**Issue Type:** Other <!-- pick one -->")
    assert parsed.fields == {"issue_type": "Other"}


# --------------------------------------------------------------------------- values

@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("[the PR](https://github.com/o/r/pull/2)", "the PR (https://github.com/o/r/pull/2)"),
        ("[https://x.gov](https://x.gov)", "https://x.gov"),
        ("<https://github.com/o/r/pull/2|PR 2>", "<https://github.com/o/r/pull/2|PR 2>"),
        ("<@U0123ABC>", "<@U0123ABC>"),
        ("**bold** and __strong__", "bold and strong"),
        ("`Data Request`", "Data Request"),
        ("  lots    of   space  ", "lots of space"),
        ("[bold red]not markup[/bold red]", "[bold red]not markup[/bold red]"),
        ("山田 太郎", "山田 太郎"),
        ("مرحبا بالعالم", "مرحبا بالعالم"),
    ],
)
def test_value_normalisation(raw: str, value: str) -> None:
    assert parse(f"**Name:** {raw}").fields["name"] == value


def test_values_are_capped() -> None:
    parsed = parse("**Additional Details:** " + "word " * 5_000)
    assert len(parsed.fields["details"]) == MAX_VALUE_CHARS
    assert parsed.fields["details"].endswith("…")


def test_escape_sequences_are_stripped() -> None:
    parsed = parse("**Name:** \x1b[31mBob\x1b[0m\x1b]52;c;ZXZpbA==\x07 \u202eevil")
    assert parsed.fields["name"].startswith("Bob")
    assert "\x1b" not in parsed.fields["name"]
    assert "\u202e" not in parsed.fields["name"]


def test_cjk_and_fullwidth_colon_labels() -> None:
    parsed = parse("**名前：** 山田太郎\n**Team:** 設備チーム")
    assert parsed.unknown == {"名前": "山田太郎"}
    assert parsed.fields["team"] == "設備チーム"


@pytest.mark.parametrize(
    ("raw", "expected", "stored"),
    [
        ("Yes", True, "yes"),
        ("yes - prod", True, "yes"),
        ("Y", True, "yes"),
        ("**Yes**, since 9am", True, "yes"),
        ("No", False, "no"),
        ("n", False, "no"),
        ("No (staging only)", False, "no"),
        ("N/A", None, "N/A"),
        ("not sure", None, "not sure"),
    ],
)
def test_impacts_production(raw: str, expected: bool | None, stored: str) -> None:
    parsed = parse(f"*Impacts Veterans on production servers:* {raw}")
    assert parsed.fields["impacts_production"] == stored
    assert impacts_production(parsed.fields) is expected


def test_impacts_production_absent() -> None:
    assert impacts_production({}) is None
    assert impacts_production({"impacts_production": ""}) is None


# --------------------------------------------------------------------------- Slack

def test_parse_slack_blocks_fixture() -> None:
    blocks = json.loads(fixture("slack_blocks.json"))
    assert parse_slack_blocks(blocks) == {
        "Type": "Sign-in Service integration",
        "Step": "Begin onboarding process",
        "Team Name": "Veteran Health Portal",
        "Name": "Alex Kim",
        "Impacts Veterans on production servers": "No",
        "Requested by": "<@U04ABCD1234>",
        "Details": "We are starting a new SiS client for the <https://example.gov/portal|portal> :rocket:",
        "Channel": "<#C0123456789>",
    }


def test_structured_fields_map_and_override_text() -> None:
    pairs = parse_slack_blocks(json.loads(fixture("slack_blocks.json")))
    parsed = parse("*Type:* Data request\n*Team:* Someone else", structured=pairs)
    assert parsed.fields["issue_type"] == "Sign-In-Service Integration"
    assert parsed.fields["team"] == "Veteran Health Portal"
    assert parsed.fields["requested_by"] == "<@U04ABCD1234>"
    assert parsed.fields["impacts_production"] == "no"
    assert parsed.unknown == {"Step": "Begin onboarding process", "Channel": "<#C0123456789>"}


def test_empty_structured_value_does_not_erase_text() -> None:
    parsed = parse("*Team:* Facilities", structured={"Team": "  ", "Type": "_No response_"})
    assert parsed.fields == {"team": "Facilities"}


@pytest.mark.parametrize(
    "blocks",
    [
        [],
        [None, "x", 3, {"type": "section"}, {"type": "section", "text": "not a dict", "fields": "no"}],
        [{"type": "rich_text", "elements": [{"type": "rich_text_list", "elements": None}]}],
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": None}, {"text": "*A:*\nb"}]}],
        [{"type": "context", "elements": [{"type": "image"}, {"type": "mrkdwn", "text": "no label"}]}],
        [{"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [{"type": "text"}]}]}],
    ],
)
def test_parse_slack_blocks_tolerates_garbage(blocks: list[dict[str, Any]]) -> None:
    pairs = parse_slack_blocks(blocks)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in pairs.items())


def test_parse_slack_blocks_deep_nesting_and_lists() -> None:
    deep: dict[str, Any] = {"type": "text", "text": "*X:* y"}
    for _ in range(200):
        deep = {"type": "rich_text_section", "elements": [deep]}
    assert parse_slack_blocks([{"type": "rich_text", "elements": [deep]}]) == {}
    listed = {
        "type": "rich_text",
        "elements": [
            {"type": "rich_text_section", "elements": [{"type": "text", "text": "Steps:", "style": {"bold": True}}]},
            {"type": "rich_text_list", "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": "open"}]},
                {"type": "rich_text_section", "elements": [{"type": "text", "text": "click"}]},
            ]},
        ],
    }
    assert parse_slack_blocks([listed]) == {"Steps": "- open\n- click"}


# --------------------------------------------------------------------------- templates

def test_match_template_picks_most_hits() -> None:
    other = TemplateFieldMap(name="other-team", match=["**Issue Type:**"], labels={"ticket": "ticket"})
    assert match_template(fixture("va_data_request.md"), [other, VA]) is VA
    assert match_template("nothing here", [other, VA]) is None


def test_custom_template_mapping_from_config() -> None:
    tpl = TemplateFieldMap(
        name="ops",
        match=["Ops intake"],
        labels={"service affected": "service", "severity": "severity"},
        options={"severity": ["Sev1", "Sev2", "Sev3"]},
        sections={"outage": "Bug Fix"},
    )
    parsed = parse_intake(
        "Ops intake\n## Outage\n**Service affected:** api\nSeverity:\n- Sev1\n- **Sev2**\n- Sev3\n", [tpl]
    )
    assert parsed.template == "ops"
    assert parsed.fields == {"service": "api", "severity": "Sev2"}
    assert parsed.sections == ["outage"]


def test_display_label() -> None:
    assert display_label("issue_type", TEMPLATES) == "Issue Type"
    assert display_label("made_up_key", TEMPLATES) == "Made Up Key"


# --------------------------------------------------------------------------- hostile input

HOSTILE = {
    "stars": "*" * 200_000,
    "brackets": "[" * 200_000,
    "half links": "[a](" * 50_000,
    "bold lines": "\n".join(f"**Label number {i}:** v{i}" for i in range(12_000)),
    "unique bold": "\n".join(f"**zq{i}xw tyu**" for i in range(15_000)),
    "colons": "a:" * 100_000,
    "questions": "\n".join("Which env? " * 40 for _ in range(500)),
    "headings": "\n".join("#" * (i % 7 + 1) + f" h{i}\n\nv" for i in range(20_000)),
    "indents": "\n".join(" " * (i % 40) + "- " + "x" * (i % 50) for i in range(20_000)),
    "comments": "<!--" * 50_000,
    "fences": "```\n" * 50_000,
    "checklist": "\n".join(f"- [x] item {i}" for i in range(20_000)),
    "one long line": "**Name:** " + "x" * 200_000,
    "nul and controls": "\x00\x01\x7f**Name:**\x08 Bob\x9b" * 20_000,
    "real template x40": "",  # filled below
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_bounded(name: str) -> None:
    body = HOSTILE[name] or fixture("va_auth_help.md") * 40
    assert len(body) >= 140_000
    parsed = parse(body)
    values = [*parsed.fields.values(), *parsed.unknown.values()]
    assert all(len(v) <= MAX_VALUE_CHARS for v in values)
    assert len(parsed.unknown) <= intake.MAX_UNKNOWN
    assert len(parsed.checklist) <= intake.MAX_CHECKLIST
    assert len(parsed.headings) <= intake.MAX_HEADINGS


def test_repeated_template_still_parses() -> None:
    parsed = parse(fixture("va_auth_help.md") * 40)
    assert parsed.fields["environment"] == "Staging"
    assert parsed.fields["name"] == "Marcus Lee"


def test_each_line_is_examined_a_bounded_number_of_times(monkeypatch: pytest.MonkeyPatch) -> None:
    """Linear by structure: label detection runs at most once per line, whatever the input."""
    calls = 0
    real = intake._detect_label

    def counting(line: Any, index: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(line, index)

    monkeypatch.setattr(intake, "_detect_label", counting)
    body = "\n".join(
        ["**Additional Details:**", *("- **Q?** answer" if i % 3 else "plain line" for i in range(30_000))]
    )
    parse(body)
    assert calls <= body.count("\n") + 1


def test_fuzzy_matching_has_a_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of distinct label-like lines cannot make fuzzy matching quadratic."""
    seqs = 0
    real = difflib.SequenceMatcher

    class Counting(real):  # type: ignore[misc,valid-type]
        def set_seq2(self, b: Any) -> None:
            nonlocal seqs
            seqs += 1
            super().set_seq2(b)

    monkeypatch.setattr(intake, "SequenceMatcher", Counting)
    parse("\n".join(f"**Lbl{i} field name:** v" for i in range(5_000)))
    assert 0 < seqs <= intake._FUZZY_BUDGET + 1 <= 1_001


def test_lines_are_cut_before_label_detection() -> None:
    parsed = parse("x" * 300_000 + "\n**Team:** Facilities")
    assert parsed.fields == {}  # beyond MAX_INPUT_CHARS: not read at all
    parsed = parse("**Team:** " + "y" * (intake.MAX_LINE_CHARS * 2))
    assert len(parsed.fields["team"]) == MAX_VALUE_CHARS


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.text(max_size=60),
            st.sampled_from(
                ["**", "*", "__", "- ", "- [x] ", "### ", "## **", ":", "?", "|", "```", "<!--", "-->",
                 "[", "](", ")", "~~", "✅", "\n", "\n\n", "    ", "\t", "**Team Name:**", "Issue Type:",
                 "_No response_", "\x1b[", "\u202e", "：", "1. "]
            ),
        ),
        max_size=60,
    ).map("".join)
)
def test_never_raises(text: str) -> None:
    parsed = parse(text)
    assert isinstance(parsed.fields, dict)
    assert all(isinstance(v, str) and v for v in parsed.fields.values())
    assert all(len(v) <= MAX_VALUE_CHARS for v in parsed.unknown.values())
