"""The CLI's find and output parity: list (header, marks, search language, views, one-line
errors), show by reference in the team's zone, outbox times, doctor's readable lines and its
backlog-repo and app-token checks — against a synced sandbox."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from idqueue.cli import Context, cli
from idqueue.sandbox.runner import Sandbox

SANDBOX_NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)

ZONE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? E[SD]T")


@dataclass
class Shell:
    """A second shell pointed at the sandbox (its env), with a synced database."""

    env: dict[str, str]
    config: Path

    def run(self, *args: str, **extra: str) -> Result:
        env = {**self.env, **extra}
        return CliRunner().invoke(cli, list(args), env=env, obj=Context())


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shell]:
    folder = tmp_path_factory.mktemp("cli-find")
    config = folder / "config.toml"
    config.write_text('[[views]]\nname = "Urgent"\nquery = "priority:p1"\n'
                      '[[views]]\nname = "Broken"\nquery = "type:nonsense"\n')
    sb = Sandbox.start(seed=True, now=SANDBOX_NOW)
    cleared = {k: None for k in os.environ if k.startswith(("IDQUEUE_", "GITHUB_TOKEN", "GH_TOKEN", "SLACK_BOT"))}
    env = {**cleared, **sb.env(), "IDQUEUE_DB": str(folder / "q.db"), "IDQUEUE_CONFIG_FILE": str(config)}
    s = Shell(env, config)  # type: ignore[arg-type]
    try:
        assert s.run("sync", "--once", "--quiet").exit_code == 0
        yield s
    finally:
        sb.stop()


def rows(result: Result) -> list[str]:
    return result.stdout.splitlines()[1:]


def test_list_has_a_header_and_source_marks(shell: Shell) -> None:
    result = shell.run("list")
    assert result.exit_code == 0, result.output
    header, *lines = result.stdout.splitlines()
    assert header.split() == ["KEY", "PRI", "SLA", "TYPE", "STATUS", "ASSIGNEE", "SRC", "OUT", "TITLE"]
    assert {"S", "GH", "GH+S"} <= {line[header.index("SRC"):].split()[0] for line in lines}
    assert "SANDBOX" in result.stderr
    # The production outage (P1) leads; every P1 comes before the first other priority.
    priorities = [line.split()[1] for line in lines]
    first_other = priorities.index(next(p for p in priorities if p != "P1"))
    outage = next(i for i, line in enumerate(lines) if "Production outage" in line)
    assert outage < first_other and "P1" not in priorities[first_other:]


def test_list_shows_queued_write_backs(shell: Shell) -> None:
    first = rows(shell.run("list", "--search", "is:unassigned"))[0].split()[0]
    queued = shell.run("assign", first, "ben", "--no-send")
    assert queued.exit_code == 0, queued.output
    line = next(line for line in rows(shell.run("list")) if line.startswith(first + " "))
    assert " ↑" in line
    action = re.findall(r"^(\S+)", shell.run("outbox").stdout, re.M)[0]
    log = shell.run("outbox", "--log", action).stdout
    assert ZONE.search(log)
    assert " UTC" in shell.run("outbox", "--log", action, "--utc").stdout
    assert shell.run("outbox", "--drop", action).exit_code == 0


def test_status_and_type_ignore_case_and_list_valid_values(shell: Shell) -> None:
    ok = shell.run("list", "--status", "NEW", "--type", "bug FIX")
    assert ok.exit_code == 0 and rows(ok)
    assert all(" Bug Fix " in line and " new " in line for line in rows(ok))
    bad = shell.run("list", "--type", "bugs")
    assert bad.exit_code == 2
    assert bad.stderr.strip().count("\n") == 0 and "Bug Fix" in bad.stderr and "Data Pull" in bad.stderr
    bad = shell.run("list", "--status", "open")
    assert bad.exit_code == 2 and "new, acknowledged, assigned" in bad.stderr


def test_search_language_and_views(shell: Shell) -> None:
    breached = shell.run("list", "--search", "is:breached")
    assert rows(breached) and all(" breached" in line for line in rows(breached))
    key = rows(breached)[0].split()[0]
    assert [line.split()[0] for line in rows(shell.run("list", "--search", key.lower()))] == [key]
    assert [line.split()[0] for line in rows(shell.run("list", "--search", key.split("-")[1]))][:1] == [key]
    mine = shell.run("list", "--search", "assignee:erin is:open")
    assert rows(mine) and all(" erin " in line for line in rows(mine))
    urgent = shell.run("list", "--view", "urgent")
    assert rows(urgent) and all(line.split()[1] == "P1" for line in rows(urgent))
    missing = shell.run("list", "--view", "nope")
    assert missing.exit_code == 2 and "views: Urgent, Broken" in missing.stderr
    broken = shell.run("list", "--view", "Broken")
    assert broken.exit_code == 2 and "unknown type:nonsense" in broken.stderr
    assert shell.run("list", "--search", "is:lost").exit_code == 2


def test_show_by_url_and_permalink_in_the_team_zone(shell: Shell) -> None:
    import json

    both = next(i for i in json.loads(shell.run("list", "--json").stdout) if len(i["sources"]) > 1)
    for ref in (both["links"]["github"], both["links"]["slack"], both["key"]):
        shown = shell.run("show", ref)
        assert shown.exit_code == 0, shown.output
        assert shown.stdout.startswith(both["key"] + " ")
    assert ZONE.search(shell.run("show", both["key"]).stdout)
    utc = shell.run("show", both["key"], "--utc").stdout
    assert " UTC" in utc and not ZONE.search(utc)
    assert shell.run("show", "https://github.com/nobody/nothing/issues/1").exit_code == 1


def test_doctor_prints_readable_lines_and_checks_backlog_and_app_token(shell: Shell) -> None:
    result = shell.run("doctor")
    assert result.exit_code == 0, result.output
    out = result.stdout
    # No Python reprs (the intake-bot hint quotes a config line, which has TOML brackets).
    facts = "\n".join(line for line in out.splitlines() if not line.strip().startswith("hint "))
    assert not re.search(r"[{}\[\]]|'[^']*':", facts), out
    assert "rate_limit limit=5000" in out
    assert "github backlog repo  ok: va-identity/backlog" in out
    assert "slack app token      ok: Socket Mode can connect" in out
    bad = shell.run("doctor", IDQUEUE_GITHUB__BACKLOG_REPO="va-identity/missing", IDQUEUE_SLACK__APP_TOKEN="xapp-wrong")
    assert bad.exit_code == 1
    assert "github backlog repo  FAILED: va-identity/missing: not found" in bad.stdout
    assert "slack app token      FAILED: apps.connections.open failed: invalid_auth" in bad.stdout
    assert "xapp-wrong" not in bad.stdout


def test_list_sla_cells_are_a_state_word_then_a_time_if_any(shell: Shell) -> None:
    result = shell.run("list", "--all")
    assert result.exit_code == 0, result.output
    header, *lines = result.stdout.splitlines()
    cells = [line[header.index("SLA"):header.index("TYPE")].split() for line in lines]
    states = {"ok", "at-risk", "breached", "paused", "met", "none"}
    for cell in cells:
        assert cell[0] in states, cell
        assert len(cell) == 1 or any(ch.isdigit() for ch in cell[1]), cell  # never "none —"
        assert "-" not in "".join(cell[1:]) and "−" not in "".join(cell[1:]), cell  # no minus signs
    assert {c[0] for c in cells} >= {"met", "breached"}
