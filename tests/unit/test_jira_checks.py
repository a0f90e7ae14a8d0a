"""``idqueue doctor``'s Jira checks against the emulator, and the registry entry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from idqueue.config import Settings
from idqueue.integrations import registry
from idqueue.integrations.jira.checks import doctor_checks
from idqueue.integrations.jira.emulator import JIRA_EMAIL, JIRA_TOKEN, JiraEmulator


@pytest.fixture
def emu() -> Iterator[JiraEmulator]:
    emu = JiraEmulator()
    emu.state.add_project("ID", "Identity support")
    emu.state.add_project("BL", "Backlog", service_desk=False)
    emu.state.add_issue("ID", "One")
    emu.start()
    yield emu
    emu.stop()


def settings(emu: JiraEmulator, tmp_path: Path, **jira: Any) -> Settings:
    cfg = {"base_url": emu.origin, "email": JIRA_EMAIL, "api_token": JIRA_TOKEN, "project": "ID",
           "backlog_project": "BL", **jira}
    return Settings(db=tmp_path / "db.sqlite", jira=cfg)


def test_all_checks_pass(emu: JiraEmulator, tmp_path: Path) -> None:
    checks = doctor_checks(settings(emu, tmp_path))
    assert [(c.name, c.ok) for c in checks] == [
        ("token", True), ("requests project", True), ("backlog project", True), ("transitions", True)]
    assert "expire within a year" in checks[0].detail


def test_expired_token_says_so(emu: JiraEmulator, tmp_path: Path) -> None:
    (check,) = doctor_checks(settings(emu, tmp_path, api_token="old-token-xyz"))
    assert not check.ok and "expire within a year" in check.detail and "old-token-xyz" not in check.detail


def test_missing_project_and_transition(emu: JiraEmulator, tmp_path: Path) -> None:
    emu.state.forbidden_projects.add("BL")
    checks = {c.name: c for c in doctor_checks(settings(
        emu, tmp_path, transitions={"close": "category:done", "backlog": "Icebox"}))}
    assert not checks["backlog project"].ok and "HTTP 403" in checks["backlog project"].detail
    assert not checks["transitions"].ok and "backlog → Icebox" in checks["transitions"].detail


def test_skipped_or_unconfigured(emu: JiraEmulator, tmp_path: Path) -> None:
    assert doctor_checks(settings(emu, tmp_path), skip=True) == []
    assert doctor_checks(Settings(db=tmp_path / "x.sqlite")) == []


def test_registry_entry(emu: JiraEmulator, tmp_path: Path) -> None:
    jira = registry.get("jira")
    assert (jira.display, jira.code, jira.id_prefix, jira.roster_field) == ("Jira", "J", "jira:", "jira")
    assert registry.for_id("jira:example.atlassian.net/ID-1") is jira
    s = settings(emu, tmp_path)
    assert jira in registry.configured(s) and jira in registry.writable(s)
    assert type(jira.build_source(s)).__name__ == "JiraSource"
    assert jira not in registry.configured(Settings(db=tmp_path / "y.sqlite"))
