"""Response templates: loading, context, sandboxed rendering for GitHub and Slack."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from idqueue.config import Settings
from idqueue.domain.models import Person, Request, SourceKind, Status
from idqueue.domain.mrkdwn import unescape_mrkdwn
from idqueue.domain.templates import (
    ResponseTemplate,
    SideEffects,
    TemplateError,
    build_context,
    load_templates,
    render,
    render_for,
    targets_for,
    templates_for,
)

SHIPPED = {
    "acknowledge", "created", "assigned", "target_date", "needs_review", "closed",
    "need_more_info", "backlog", "answered_by_docs", "out_of_scope",
}
GH_URL = "https://github.com/va/support/issues/12"
SLACK_URL = "https://example.slack.com/archives/C0INTAKE/p1712345678000100"
TEAM = {
    "ana": {"name": "Ana Reyes", "github": "ana-reyes", "slack": "U0ANA", "email": "ana.reyes@example.gov"},
    "ben": {"name": "Ben Okafor", "github": "ben-okafor", "slack": "U0BEN"},
}

MakeSettings = Callable[..., Settings]


@pytest.fixture
def make_settings(isolated_settings_env: Path) -> MakeSettings:
    """Settings from explicit values only (see ``isolated_settings_env`` in conftest.py)."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"team": TEAM, "me": "ana"}
        values.update(overrides)
        return Settings(**values)

    return make


def make_request(**changes: Any) -> Request:
    values: dict[str, Any] = {
        "id": "gh:va/support#12",
        "key": "REQ-12",
        "sources": [SourceKind("github"), SourceKind("slack")],
        "title": "Cannot sign in on staging",
        "body": "",
        "requester": Person("U0REQ", "Sam Lee"),
        "type": "Test User / Mock Auth",
        "status": Status.NEW,
        "url": GH_URL,
        "links": {"github": GH_URL, "slack": SLACK_URL},
        "item_ids": ["gh:va/support#12", "slack:C0INTAKE/1712345678.000100"],
        "fields": {"team": "Facilities", "environment": "Staging"},
        "created_at": datetime(2026, 3, 9, 14, 0, tzinfo=UTC),
    }
    values.update(changes)
    return Request(**values)


def template(body: str, *, key: str = "t", path: str | None = "t.md", **changes: Any) -> ResponseTemplate:
    values: dict[str, Any] = {
        "key": key, "title": key, "types": (), "side_effects": SideEffects(), "destination": "auto",
        "body": body, "path": path,
    }
    values.update(changes)
    return ResponseTemplate(**values)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ loading
def test_shipped_templates_load_with_their_side_effects() -> None:
    templates = load_templates(None)
    assert set(templates) == SHIPPED
    assert all(t.origin == "shipped" for t in templates.values())
    assert templates["assigned"].side_effects.assign_me
    assert templates["need_more_info"].side_effects.set_pending
    assert templates["backlog"].side_effects.backlog
    assert templates["closed"].side_effects.close and templates["closed"].side_effects.close_reason == "completed"
    assert templates["answered_by_docs"].side_effects.close
    out = templates["out_of_scope"].side_effects
    assert out.close and out.close_reason == "not_planned"
    assert templates["created"].destination == "slack"
    assert templates["acknowledge"].side_effects == SideEffects()


def test_team_templates_override_by_key_and_add_new_ones(tmp_path: Path) -> None:
    write(tmp_path, "my-assigned.md", '+++\nkey = "assigned"\ntitle = "Ours"\n+++\nTaken by {{ assignee.name }}.\n')
    write(tmp_path, "office_hours.md", '+++\ntitle = "Office hours"\ntypes = ["Help Request"]\n+++\nCome by.\n')
    templates = load_templates(tmp_path)
    assert set(templates) == SHIPPED | {"office_hours"}  # key defaults to the file name
    assert templates["assigned"].title == "Ours"
    assert templates["assigned"].origin == "team"
    assert templates["assigned"].side_effects == SideEffects()  # the team's file decides
    assert templates["office_hours"].types == ("Help Request",)
    assert templates["closed"].origin == "shipped"


def test_team_directory_is_reread_when_a_file_changes(tmp_path: Path) -> None:
    path = write(tmp_path, "x.md", '+++\ntitle = "One"\n+++\nbody\n')
    assert load_templates(tmp_path)["x"].title == "One"
    path.write_text('+++\ntitle = "Second version"\n+++\nbody\n', encoding="utf-8")
    assert load_templates(tmp_path)["x"].title == "Second version"
    write(tmp_path, "y.md", "+++\n+++\nnew\n")
    assert "y" in load_templates(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no front matter\n", "missing front matter"),
        ('+++\ntitle = "unterminated\n+++\nx\n', "not valid TOML"),
        ('+++\ntitel = "typo"\n+++\nx\n', "unknown front matter key(s): titel"),
        ('+++\nkey = "Bad Key"\n+++\nx\n', "key must be"),
        ('+++\ndestination = "E-mail"\n+++\nx\n', "destination must be one of"),
        ("+++\ntypes = \"Bug Fix\"\n+++\nx\n", "types must be a list of strings"),
        ("+++\n[side_effects]\nclose = \"yes\"\n+++\nx\n", "side_effects.close must be true or false"),
        ("+++\n[side_effects]\nclose_reason = \"wontfix\"\n+++\nx\n", "close_reason must be one of"),
        ("+++\n[side_effects]\nassign = true\n+++\nx\n", "unknown side effect(s): assign"),
        ("+++\n[side_effects]\nclose = true\nbacklog = true\n+++\nx\n", "cannot both close"),
        ("+++\n+++\nline one\n{% if x %}never closed\n", "syntax error on body line 2"),
    ],
)
def test_bad_template_files_name_the_file_and_the_problem(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, "broken.md", text)
    with pytest.raises(TemplateError) as info:
        load_templates(tmp_path)
    assert "broken.md" in str(info.value)
    assert message in str(info.value)


def test_duplicate_keys_in_the_team_directory_are_an_error(tmp_path: Path) -> None:
    write(tmp_path, "a.md", '+++\nkey = "same"\n+++\nx\n')
    write(tmp_path, "b.md", '+++\nkey = "same"\n+++\ny\n')
    with pytest.raises(TemplateError, match="also used by"):
        load_templates(tmp_path)


def test_missing_team_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="not a directory"):
        load_templates(tmp_path / "nope")


def test_templates_for_filters_by_type_in_a_stable_order(tmp_path: Path) -> None:
    write(tmp_path, "data.md", '+++\ntypes = ["data pull"]\norder = 5\n+++\nx\n')
    write(tmp_path, "prs.md", '+++\ntypes = ["PR Review"]\n+++\nx\n')
    templates = load_templates(tmp_path)
    keys = [t.key for t in templates_for(make_request(type="Data Pull"), templates)]
    assert keys[0] == "data"  # order 5 comes before the shipped acknowledge (10)
    assert "prs" not in keys
    assert set(keys) == SHIPPED | {"data"}
    assert keys == [t.key for t in templates_for(make_request(type="Data Pull"), templates)]


def test_targets_follow_destination_and_homes() -> None:
    both = make_request()
    github_only = make_request(sources=[SourceKind("github")], links={"github": GH_URL})
    auto, slack = template("x"), template("x", destination="slack")
    assert targets_for(auto, both) == ["github", "slack"]
    assert targets_for(auto, github_only) == ["github"]
    assert targets_for(slack, both) == ["slack"]
    assert targets_for(slack, github_only) == []


# ------------------------------------------------------------------------------ context
def _is_plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_plain(v) for v in value)
    return type(value) in (str, int)


def test_context_is_plain_data(make_settings: MakeSettings) -> None:
    ctx = build_context(make_request(assignee="ben"), make_settings(), extra={"due_date": "2026-03-20"})
    assert _is_plain(ctx)
    assert ctx["request"]["github_url"] == GH_URL
    assert ctx["request"]["slack_url"] == SLACK_URL
    assert ctx["request"]["fields"] == {"team": "Facilities", "environment": "Staging"}
    assert ctx["requester"]["slack_mention"] == "<@U0REQ>"
    assert ctx["assignee"] == {
        "id": "ben", "key": "ben", "name": "Ben Okafor", "github": "ben-okafor", "slack": "U0BEN",
        "slack_mention": "<@U0BEN>", "github_mention": "@ben-okafor",
    }
    assert ctx["me"]["name"] == "Ana Reyes"
    assert ctx["due_date"] == "2026-03-20"
    assert ctx["survey_link"] == "https://example.org/survey/identity-support"


def test_created_at_is_the_teams_calendar_date(make_settings: MakeSettings) -> None:
    late_evening = make_request(created_at=datetime(2026, 3, 10, 1, 30, tzinfo=UTC))  # 21:30 on the 9th in New York
    assert build_context(late_evening, make_settings())["request"]["created_at"] == "2026-03-09"


def test_unknown_values_are_absent_not_blank(make_settings: MakeSettings) -> None:
    slack_only = make_request(
        id="slack:C0INTAKE/1712345678.000100", sources=[SourceKind("slack")], url=SLACK_URL,
        links={"slack": SLACK_URL}, requester=None, fields={"team": ""},
    )
    ctx = build_context(slack_only, make_settings(me=None, team={}))
    assert "github_url" not in ctx["request"]
    assert ctx["request"]["fields"] == {}
    assert "requester" not in ctx and "assignee" not in ctx and "me" not in ctx
    assert "docs_link" not in ctx


def test_mentions_only_from_real_slack_ids(make_settings: MakeSettings) -> None:
    settings = make_settings()
    github_person = build_context(make_request(requester=Person("octocat", "Octo Cat")), settings)
    assert github_person["requester"]["slack_mention"] == "Octo Cat"
    assert github_person["requester"]["github_mention"] == "@octocat"
    # A GitHub-only request's requester is a GitHub login even when it looks like a Slack id.
    gh_only = make_request(sources=[SourceKind("github")], requester=Person("U2", "U2 fan"))
    assert build_context(gh_only, settings)["requester"]["slack_mention"] == "U2 fan"
    # Roster members are matched by their Slack id and GitHub login.
    by_login = build_context(make_request(requester=Person("Ana-Reyes", "ana")), settings)
    assert by_login["requester"]["slack_mention"] == "<@U0ANA>"


def test_docs_link_by_type_case_insensitive(make_settings: MakeSettings) -> None:
    settings = make_settings(intake={"docs": {"test user / mock auth": "https://docs.example.org/mock", "default": "https://docs.example.org"}})
    assert build_context(make_request(), settings)["docs_link"] == "https://docs.example.org/mock"
    assert build_context(make_request(type="Other"), settings)["docs_link"] == "https://docs.example.org"


@pytest.mark.parametrize("name", ["request", "assignee", "survey_link", "target", "not-an-identifier", "1x"])
def test_extra_variables_cannot_replace_built_ins(make_settings: MakeSettings, name: str) -> None:
    with pytest.raises(ValueError, match="--var"):
        build_context(make_request(), make_settings(), extra={name: "x"})


# ------------------------------------------------------------------------------ rendering
def test_assigned_matches_the_va_stock_response_on_slack(make_settings: MakeSettings) -> None:
    out = render_for(make_request(), load_templates(None)["assigned"], make_settings(), target="slack")
    assert out.text == f"Your <{GH_URL}|GitHub issue> for your Identity request is assigned to <@U0ANA>.\n"
    assert out.missing == () and out.ok_to_send


def test_assigned_on_github_mentions_the_login(make_settings: MakeSettings) -> None:
    out = render_for(make_request(), load_templates(None)["assigned"], make_settings(), target="github", assignee="ben")
    assert out.text == "Your Identity request is assigned to @ben-okafor.\n"


def test_closed_links_the_survey(make_settings: MakeSettings) -> None:
    settings = make_settings(survey={"url": "https://survey.example.org/s?x=1&y=2"})
    out = render_for(make_request(), load_templates(None)["closed"], settings, target="slack")
    assert out.text == (
        f"Your <{GH_URL}|GitHub issue> for your Identity request is closed.\n"
        "How did we do? Please take our short <https://survey.example.org/s?x=1&amp;y=2|support survey>.\n"
    )


def test_every_shipped_template_renders_completely(make_settings: MakeSettings) -> None:
    settings = make_settings(intake={"docs": {"default": "https://docs.example.org"}})
    for tpl in load_templates(None).values():
        for target in ("github", "slack"):
            out = render_for(make_request(), tpl, settings, target=target, extra={"due_date": "March 20"})
            assert out.missing == (), (tpl.key, target)
            assert out.text.strip() and "«" not in out.text, (tpl.key, target)
            assert out.pii == (), (tpl.key, target)


def test_missing_variables_are_all_reported_and_visible(make_settings: MakeSettings) -> None:
    body = (
        "Due {{ due_date }}; team {{ request.fields.team }}; csp {{ request.fields.csp }}; "
        "{{ nothing.deeper.still }}; again {{ due_date }}; {{ maybe | default('n/a') }}"
        "{% if flag %}hidden{% endif %}{% if other is defined %}x{% endif %}"
    )
    out = render(template(body), build_context(make_request(), make_settings()), "github")
    assert out.missing == ("due_date", "request.fields.csp", "nothing.deeper.still")
    assert "«missing: due_date»" in out.text and "«missing: request.fields.csp»" in out.text
    assert "team Facilities" in out.text and "n/a" in out.text
    assert not out.ok_to_send


def test_missing_assignee_is_reported_not_blank(make_settings: MakeSettings) -> None:
    out = render(load_templates(None)["assigned"], build_context(make_request(), make_settings(me=None)), "slack")
    assert out.missing == ("assignee.mention",)
    assert "«missing: assignee.mention»" in out.text


def test_operation_on_a_missing_value_reports_it(make_settings: MakeSettings) -> None:
    out = render(template("{{ count + 1 }}"), build_context(make_request(), make_settings()), "github")
    assert out.missing == ("count",)
    assert not out.ok_to_send


def test_slack_escapes_values_but_converts_the_templates_markdown(make_settings: MakeSettings) -> None:
    request = make_request(title="<!channel> **urgent** & [click](https://evil.example)", requester=Person("bob", "<!here> Bob"))
    body = "**New:** {{ request.title }} from {{ requester.mention }}"
    out = render(template(body), build_context(request, make_settings()), "slack")
    assert out.text == (
        "*New:* &lt;!channel&gt; **urgent** &amp; [click](https://evil.example) from &lt;!here&gt; Bob\n"
    )


def test_slack_link_targets_from_data_cannot_become_mentions(make_settings: MakeSettings) -> None:
    settings = make_settings(intake={"docs": {"default": "!channel"}})
    request = make_request(title="a b|c&d")
    body = "[docs]({{ docs_link }}) [issue]({{ request.github_url }}?q={{ request.title }})"
    out = render(template(body), build_context(request, settings), "slack")
    assert out.text == f"<%21channel|docs> <{GH_URL}?q=a%20b%7Cc%26d|issue>\n"


def test_github_neutralises_stray_mentions_in_values(make_settings: MakeSettings) -> None:
    request = make_request(title="ask @octocat and @va/identity-team, mail sam@example.org", requester=Person("sam-l", "Sam"))
    body = "{{ request.title }} / {{ requester.mention }} / assignee {{ assignee.mention }} / @team-lead"
    out = render(template(body), build_context(request, make_settings(), assignee="ben"), "github")
    assert out.text == (
        "ask `@octocat` and `@va/identity-team`, mail sam@example.org / @sam-l / assignee @ben-okafor / @team-lead\n"
    )


def test_github_values_in_link_targets_are_url_encoded(make_settings: MakeSettings) -> None:
    out = render(template("[search](https://x.org/?q={{ request.title }})"), build_context(make_request(title="a (b)"), make_settings()), "github")
    assert out.text == "[search](https://x.org/?q=a%20%28b%29)\n"


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ request.__class__ }}",
        "{{ request.fields.update({'a': 'b'}) }}",
        "{{ '{0.__class__}'.format(request) }}",
        "{{ request | attr('__class__') }}",
        "{{ cycler.__init__.__globals__ }}",
        "{% include 'secrets.md' %}",
        "{{ range(10**9) | list }}",
    ],
)
def test_sandbox_refuses_escapes(make_settings: MakeSettings, body: str) -> None:
    with pytest.raises(TemplateError) as info:
        render(template(body, path="team/evil.md"), build_context(make_request(), make_settings()), "slack")
    assert "team/evil.md" in str(info.value)


def test_rendering_twice_does_not_reuse_tokens(make_settings: MakeSettings) -> None:
    tpl = template("{{ 'const' }} {{ request.key }}{% set x %}[{{ request.key }}]{% endset %} {{ x }}")
    settings = make_settings()
    one = render(tpl, build_context(make_request(key="REQ-1"), settings), "slack")
    two = render(tpl, build_context(make_request(key="REQ-2"), settings), "github")
    assert one.text == "const REQ-1 [REQ-1]\n"
    assert two.text == "const REQ-2 [REQ-2]\n"


def test_target_is_available_to_templates(make_settings: MakeSettings) -> None:
    tpl = template("{% if target == 'slack' %}S{% else %}G{% endif %}")
    ctx = build_context(make_request(), make_settings())
    assert render(tpl, ctx, "slack").text == "S\n"
    assert render(tpl, ctx, "github").text == "G\n"


def test_pii_is_flagged_but_team_and_links_are_allowed(make_settings: MakeSettings) -> None:
    request = make_request(fields={"email": "sam.lee@example.com", "phone": "555-123-4567"})
    body = "Contact {{ request.fields.email }} / {{ request.fields.phone }} / {{ me.name }} ana.reyes@example.gov / {{ survey_link }}"
    settings = make_settings(survey={"url": "https://survey.example.org/?owner=ops@example.org"})
    out = render_for(request, template(body), settings, target="github")
    assert [(m.kind, m.text) for m in out.pii] == [("email", "sam.lee@example.com"), ("phone", "555-123-4567")]
    assert all(out.text[m.start : m.end] == m.text for m in out.pii)


def test_render_for_assign_me_renders_as_me(make_settings: MakeSettings) -> None:
    tpl = load_templates(None)["assigned"]
    assert "<@U0BEN>" in render_for(make_request(), tpl, make_settings(), target="slack", me="ben").text
    # Without assign_me the request's own assignee is used.
    plain = template("{{ assignee.name }}")
    assert render_for(make_request(assignee="ben"), plain, make_settings(), target="slack").text == "Ben Okafor\n"


_NASTY = st.text(alphabet=st.sampled_from(list("<>!@#&|[]()*_`~ aU1C:/\n")), max_size=80)


@hyp_settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=st.one_of(_NASTY, st.text(max_size=80)), name=st.one_of(_NASTY, st.text(max_size=20)))
def test_slack_output_never_carries_control_sequences_from_data(make_settings: MakeSettings, title: str, name: str) -> None:
    request = make_request(title=title, requester=Person("not-a-slack-id", name or "x"))
    body = "**{{ request.title }}** {{ requester.mention }} [{{ request.title }}]({{ request.title }}) `{{ request.title }}`"
    out = render(template(body), build_context(request, make_settings()), "slack")
    # The only "<" sequences are the link we built; nothing from data opens a control sequence.
    assert not re.search(r"<[!@#]", out.text)
    visible = " ".join(unescape_mrkdwn(out.text).split())
    shown = " ".join(re.sub("[\ue000-\ue01f]", "", title).split())  # private-use chars are dropped
    assert shown in visible
