"""Jira converters: references to issues in other systems' text, and odd timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from idqueue.config import Settings
from idqueue.integrations.jira.convert import jira_refs, parse_time


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db=tmp_path / "x.sqlite", jira={"base_url": "https://acme.atlassian.net", "project": "ID",
                                                    "backlog_project": "IDB"})


@pytest.mark.parametrize(("text", "expected"), [
    ("see https://acme.atlassian.net/browse/ID-12 please", ["jira:acme.atlassian.net/ID-12"]),
    ("<https://acme.atlassian.net/browse/OPS-7|OPS-7>", ["jira:acme.atlassian.net/OPS-7"]),
    ("tracked in ID-12 and IDB-3, dup of ID-12", ["jira:acme.atlassian.net/ID-12", "jira:acme.atlassian.net/IDB-3"]),
    ("OPS-7 is another team's project", []),
    ("https://other.atlassian.net/browse/ID-1", []),
    ("COVID-19 and ID-0 and xID-4 and ID-4a", []),
    ("", []),
])
def test_jira_refs(settings: Settings, text: str, expected: list[str]) -> None:
    assert jira_refs(text, settings) == expected


def test_jira_refs_without_jira(tmp_path: Path) -> None:
    assert jira_refs("ID-12", Settings(db=tmp_path / "x.sqlite")) == []


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-03-11T10:30:00.000-0500", datetime(2026, 3, 11, 15, 30, tzinfo=UTC)),
    ("2026-03-11T15:30:00+0000", datetime(2026, 3, 11, 15, 30, tzinfo=UTC)),
    ("2026-03-11T15:30:00Z", datetime(2026, 3, 11, 15, 30, tzinfo=UTC)),
    ("yesterday", None), (None, None), (42, None),
])
def test_parse_time(value: object, expected: datetime | None) -> None:
    assert parse_time(value) == expected
