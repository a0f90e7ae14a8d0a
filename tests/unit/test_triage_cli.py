"""``idqueue templates``, ``idqueue templates render``, ``idqueue rota`` and ``idqueue handover``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from idqueue.cli import Context, cli  # import the CLI first: it registers the command modules
from idqueue.config import Settings
from idqueue.domain.models import (
    Person,
    Request,
    SlaInfo,
    SourceItem,
    SourceKind,
    Status,
    TimelineEvent,
)
from idqueue.store.db import Store

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)  # Wednesday 11:30 in New York
GH_URL = "https://github.com/va/support/issues/12"
TEAM = {
    "ana": {"name": "Ana Reyes", "github": "ana-reyes", "slack": "U0ANA", "email": "ana.reyes@example.gov"},
    "ben": {"name": "Ben Okafor", "github": "ben-okafor", "slack": "U0BEN"},
}


def make_request(**changes: Any) -> Request:
    values: dict[str, Any] = {
        "id": "gh:va/support#12",
        "key": "REQ-12",
        "sources": [SourceKind("github"), SourceKind("slack")],
        "title": "Cannot sign in on staging",
        "body": "",
        "requester": Person("U0REQ", "Sam Lee"),
        "type": "Test User / Mock Auth",
        "url": GH_URL,
        "links": {"github": GH_URL, "slack": "https://example.slack.com/archives/C1/p1712345678000100"},
        "fields": {"email": "sam.lee@example.com"},
    }
    values.update(changes)
    return Request(**values)


class FakeStore:
    """The two read calls the triage commands make (``Store.get_request``/``list_requests``)."""

    def __init__(self, requests: list[Request]) -> None:
        self.requests = requests
        self.list_calls: list[datetime] = []

    def get_request(self, id_or_key: str) -> Request | None:
        return next((r for r in self.requests if id_or_key in (r.id, r.key)), None)

    def list_requests(self, *, open_only: bool = True, now: datetime) -> list[Request]:
        self.list_calls.append(now)
        return [r for r in self.requests if r.status.is_open or not open_only]


Invoke = Callable[..., Result]


@pytest.fixture
def make_settings(isolated_settings_env: Path, tmp_path: Path) -> Callable[..., Settings]:
    """Settings from explicit values only (see ``isolated_settings_env`` in conftest.py)."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "team": TEAM,
            "me": "ana",
            "now": NOW.isoformat(),
            "db": tmp_path / "idqueue.db",
            "rota": {"weekly": ["ana", "ben"], "start": "2026-03-09"},
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def invoke(make_settings: Callable[..., Settings]) -> Callable[..., Result]:
    def run(*args: str, store: Any = None, **settings: Any) -> Result:
        ctx = Context(_settings=make_settings(**settings), _store=store if store is not None else FakeStore([make_request()]))
        return CliRunner().invoke(cli, list(args), obj=ctx)

    return run


# ------------------------------------------------------------------------------ templates
def test_templates_lists_shipped_and_team_templates(invoke: Invoke, tmp_path: Path) -> None:
    team_dir = tmp_path / "tpl"
    team_dir.mkdir()
    (team_dir / "closed.md").write_text('+++\ntitle = "Our closing note"\n[side_effects]\nclose = true\n+++\nDone.\n')
    result = invoke("templates", templates_dir=team_dir)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["KEY", "TITLE", "TYPES", "SIDE", "EFFECTS", "SOURCE"]
    assigned = next(line for line in lines if line.startswith("assigned "))
    assert "assign me" in assigned and "shipped (assigned.md)" in assigned
    closed = next(line for line in lines if line.startswith("closed "))
    assert "Our closing note" in closed and "team (closed.md)" in closed
    assert len([line for line in lines if line.split() and line.split()[0] in {"acknowledge", "out_of_scope"}]) == 2


def test_templates_reports_a_broken_team_file(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "bad.md").write_text("no front matter")
    result = invoke("templates", templates_dir=tmp_path)
    assert result.exit_code == 1
    assert "bad.md: missing front matter" in result.output


def test_render_previews_every_home(invoke: Invoke) -> None:
    result = invoke("templates", "render", "assigned", "REQ-12")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "side effects: assign me" in out
    assert "── github" in out and "Your Identity request is assigned to @ana-reyes." in out
    assert "── slack" in out
    assert f"Your <{GH_URL}|GitHub issue> for your Identity request is assigned to <@U0ANA>." in out
    assert "missing" not in out


def test_render_lists_missing_variables_and_still_exits_0(invoke: Invoke) -> None:
    result = invoke("templates", "render", "target_date", "REQ-12", "--target", "slack")
    assert result.exit_code == 0
    assert "«missing: due_date»" in result.output
    assert "missing: due_date — not sendable until these have values (--var due_date=…)" in result.output
    assert "── github" not in result.output

    filled = invoke("templates", "render", "target_date", "REQ-12", "--target", "slack", "--var", "due_date=March 20")
    assert "scheduled to be completed on March 20." in filled.output
    assert "missing" not in filled.output


def test_render_warns_about_personal_data(invoke: Invoke, make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    team_dir = tmp_path / "tpl"
    team_dir.mkdir()
    (team_dir / "echo.md").write_text("+++\n+++\nYou wrote from {{ request.fields.email }}; ask {{ me.name }} at ana.reyes@example.gov\n")
    result = invoke("templates", "render", "echo", "REQ-12", "--target", "github", templates_dir=team_dir)
    assert result.exit_code == 0
    assert "warning: looks like personal data (email) and would be posted to a public GitHub issue: sam.lee@example.com" in result.output
    assert "ana.reyes@example.gov" not in result.output.split("warning:", 1)[1]  # a team address is fine


def test_render_as_another_member(invoke: Invoke) -> None:
    result = invoke("templates", "render", "assigned", "REQ-12", "--target", "slack", "--as", "ben")
    assert "assigned to <@U0BEN>." in result.output


def test_render_notes_a_target_the_request_does_not_have(invoke: Invoke) -> None:
    github_only = make_request(sources=[SourceKind("github")], links={"github": GH_URL})
    result = invoke("templates", "render", "created", "REQ-12", store=FakeStore([github_only]))
    assert result.exit_code == 0
    assert "note: REQ-12 has no Slack thread; shown as a preview only" in result.output
    assert "── slack" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["templates", "render", "nope", "REQ-12"], "no template 'nope' (known: acknowledge,"),
        (["templates", "render", "closed", "REQ-99"], "no request 'REQ-99'"),
        (["templates", "render", "closed", "REQ-12", "--var", "due_date"], "expected NAME=VALUE"),
        (["templates", "render", "closed", "REQ-12", "--var", "request=x"], "built in and cannot be replaced"),
        (["templates", "render", "closed", "REQ-12", "--as", "zoe"], "--as 'zoe' is not in [team]"),
    ],
)
def test_render_errors_are_one_line(invoke: Invoke, args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 1
    assert message in result.output
    assert "──" not in result.output  # fails before printing any preview


def test_render_output_is_terminal_safe(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "echo.md").write_text("+++\n+++\nTitle: {{ request.title }}\n")
    nasty = make_request(title="hi \x1b]52;c;ZXZpbA==\x07 \x1b[2J there")
    result = invoke("templates", "render", "echo", "REQ-12", store=FakeStore([nasty]), templates_dir=tmp_path)
    assert result.exit_code == 0
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "REQ-12 · hi there ·" in result.output  # the header line
    assert result.output.count("Title: hi   there") == 2  # the rendered text, once per target


# ------------------------------------------------------------------------------ rota
def test_rota_shows_the_week_and_marks_today(invoke: Invoke) -> None:
    result = invoke("rota", rota={"weekly": ["ana", "ben"], "start": "2026-03-09", "overrides": {"2026-03-13": ["ben"]}},
                    sla={"calendar": {"holidays": ["2026-03-12"]}})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Triage rota — ISO week 11, Mon 09 Mar 2026 to Sun 15 Mar 2026"
    assert lines[1:] == [
        "  Mon 09 Mar  Ana Reyes  (you)",
        "  Tue 10 Mar  Ana Reyes  (you)",
        "  Wed 11 Mar  Ana Reyes  (you)  ← today",
        "  Thu 12 Mar  Ana Reyes  (holiday, you)",
        "  Fri 13 Mar  Ben Okafor  (override)",
    ]


def test_rota_for_another_week(invoke: Invoke) -> None:
    result = invoke("rota", "--date", "2026-03-18")
    assert "ISO week 12" in result.output
    assert "Wed 18 Mar  Ben Okafor" in result.output
    assert "today" not in result.output


def test_rota_without_configuration_explains(invoke: Invoke) -> None:
    result = invoke("rota", rota={})
    assert result.exit_code == 0
    assert "No rota configured" in result.output


# ------------------------------------------------------------------------------ handover
def _queue() -> list[Request]:
    return [
        make_request(key="REQ-1", id="gh:va/support#1", title="Breached [one](https://evil)", status=Status.NEW,
                     sla=SlaInfo(state="breached", due_at=NOW - timedelta(hours=1), policy="Standard")),
        make_request(key="REQ-2", id="gh:va/support#2", title="Waiting", status=Status.PENDING, assignee="ben",
                     sla=SlaInfo(state="paused")),
        make_request(key="REQ-3", id="gh:va/support#3", title="Done", status=Status.CLOSED),
    ]


def test_handover_prints_the_note(invoke: Invoke) -> None:
    store = FakeStore(_queue())
    result = invoke("handover", store=store)
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("# Triage handover — Wed 11 Mar 2026\n")
    assert "**Next on triage:** Ana Reyes (Thu 12 Mar)" in out
    assert "**2 open:** 1 breached, 0 at risk, 0 unassigned, 1 pending, 0 open" in out
    assert r"Breached \[one\]\(https://evil\) — Test User / Mock Auth, P3, breached, overdue 1h 00m, unassigned" in out
    assert "Done" not in out
    assert store.list_calls == [NOW]


def test_handover_to_a_file_as_of_a_date(invoke: Invoke, tmp_path: Path) -> None:
    store = FakeStore(_queue())
    target = tmp_path / "handover.md"
    result = invoke("handover", "--date", "2026-03-10", "--output", str(target), "--to", "ben", store=store)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote the handover note to {target}"
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# Triage handover — Tue 10 Mar 2026\n")
    assert "**To:** Ben Okafor" in text
    # --date means "as of the end of that business day" (17:00 New York = 21:00 UTC).
    assert store.list_calls == [datetime(2026, 3, 10, 21, 0, tzinfo=UTC)]


def test_handover_rejects_an_unknown_member(invoke: Invoke) -> None:
    result = invoke("handover", "--to", "zoe")
    assert result.exit_code == 1
    assert "--to 'zoe' is not in [team]" in result.output


# ------------------------------------------------------------------------------ with the real store
def _assemble(items: list[SourceItem], events: list[TimelineEvent], local: dict[str, str]) -> Request:
    item = items[0]
    return Request(
        id=item.id, key="", sources=[item.source], title=item.title, body=item.body, requester=item.requester,
        type="Bug Fix", url=item.url, links={"github": item.url or ""}, item_ids=[item.id],
        created_at=item.created_at, updated_at=item.updated_at,
    )


def test_render_against_the_real_store(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    store = Store.open(settings.db)
    try:
        issue = SourceItem(
            id="gh:va/support#7", source=SourceKind("github"), title="Login <!channel> broken", body="",
            url="https://github.com/va/support/issues/7", created_at=NOW - timedelta(hours=2),
            updated_at=NOW - timedelta(hours=2), requester=Person("octocat", "Octo Cat"),
        )
        store.apply("github", items=[issue], assembler=_assemble, now=NOW)
        key = store.get_request("gh:va/support#7")
        assert key is not None
        result = CliRunner().invoke(
            cli, ["templates", "render", "closed", key.key, "--target", "both"], obj=Context(_settings=settings, _store=store)
        )
    finally:
        store.close()
    assert result.exit_code == 0, result.output
    assert "Your Identity request is closed." in result.output
    assert "<https://github.com/va/support/issues/7|GitHub issue>" in result.output
    assert "note: " in result.output  # no Slack home: the Slack text is a preview only
