"""``idqueue doctor`` for Trello: login, each customer's board and backlog list, as one line each."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from trello_env import TrelloWorld, trello_world

from idqueue.integrations.trello.checks import doctor_checks
from idqueue.integrations.trello.emulator import TRELLO_KEY, TRELLO_TOKEN

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world() -> Iterator[TrelloWorld]:
    with trello_world() as w:
        yield w


def test_every_board_and_list_found(world: TrelloWorld, tmp_path: Path) -> None:
    checks = doctor_checks(world.settings(tmp_path / "db"))
    assert [(c.name, c.ok) for c in checks] == [("board acme", True), ("board globex", True), ("board initech", True)]
    assert checks[1].detail == "Globex Support: backlog list 'Inbox' found"


def test_a_missing_list_and_a_missing_board(world: TrelloWorld, tmp_path: Path) -> None:
    customers = world.customers()
    customers["acme"]["backlog_list"] = "Triage"
    customers["initech"]["trello_board"] = "Gone1234"
    checks = {c.name: c for c in doctor_checks(world.settings(tmp_path / "db", customers=customers))}
    assert not checks["board acme"].ok
    assert "no open list 'Triage'" in checks["board acme"].detail
    assert "customers.acme.backlog_list" in checks["board acme"].detail
    assert not checks["board initech"].ok and "404" in checks["board initech"].detail
    assert checks["board globex"].ok


def test_bad_token_and_no_boards(world: TrelloWorld, tmp_path: Path) -> None:
    settings = world.settings(tmp_path / "db", customers={})
    login, boards = doctor_checks(settings)
    assert login.ok and "@idqueue-bot" in login.detail
    assert not boards.ok and "IDQUEUE_CUSTOMERS" in boards.detail
    settings.trello.token = type(settings.trello.token)("wrong-token-123456")  # type: ignore[misc]
    [login, _] = doctor_checks(settings)
    assert not login.ok and "invalid token" in login.detail and "wrong-token" not in login.detail


def test_nothing_without_credentials(world: TrelloWorld, tmp_path: Path) -> None:
    settings = world.settings(tmp_path / "db", trello={"base_url": world.emulator.url})
    assert doctor_checks(settings) == []


def test_idqueue_doctor_shows_trello(world: TrelloWorld, tmp_path: Path) -> None:
    """The real command, configured through the environment contract only."""
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDQUEUE_")}
    env.update(world.env(), IDQUEUE_DB=str(tmp_path / "db.sqlite"), IDQUEUE_CONFIG_FILE=str(config),
               PYTHONPATH=str(ROOT))
    customers = world.customers()
    customers["globex"]["backlog_list"] = "Triage"
    import json

    env["IDQUEUE_CUSTOMERS"] = json.dumps(customers)
    proc = subprocess.run([sys.executable, "-m", "idqueue", "doctor"], env=env, capture_output=True, text=True,
                          timeout=60, cwd=str(ROOT))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out  # Globex's list is missing
    assert "trello" in out and "idqueue-bot" in out
    assert "trello board acme" in out and "backlog list 'New Issues' found" in out
    assert "no open list 'Triage'" in out
    assert TRELLO_KEY not in out and TRELLO_TOKEN not in out
    assert "Traceback" not in out
