"""Clients of the shared store (team mode): TUIs and CLIs on a PostgreSQL database poll nothing
and send nothing; the team service does, and they see what it writes at once (LISTEN/NOTIFY).

* (The client TUI's side is in ``tests/tui/test_team_client.py``.)
* A CLI action in client mode only queues (zero writes at the emulators); ``sync`` and
  ``outbox --send`` refuse; once a service runs, the action is sent exactly once, signed with
  the actor who queued it.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from outbox_env import ANA, BEN, WritebackEnv, make_env, run_cli
from polling import eventually
from pydantic import SecretStr
from team_env import running_services, service_settings

from idqueue.config import Settings, team_client
from idqueue.outbox.models import ActionState
from idqueue.sandbox.runner import Sandbox
from idqueue.service.runner import ServiceRunner
from idqueue.store.db import open_store
from idqueue.store.service_state import ServiceState, read_service_state
from idqueue.sync import SourceHealth
from idqueue.team_state import describe_service, record_poll

WAIT = 60.0


@pytest.fixture
def start_service() -> Iterator[Callable[[Settings], ServiceRunner]]:
    yield from running_services()


_eventually = partial(eventually, timeout=WAIT)


def test_auto_means_client_exactly_when_a_database_url_is_set(tmp_path: Path) -> None:
    local = Settings(db=tmp_path / "a.db")
    shared = Settings(db=tmp_path / "a.db", database_url=SecretStr("postgresql://u@127.0.0.1:1/team"))
    assert not team_client(local) and team_client(shared)
    assert not team_client(shared.model_copy(update={"team_client": "off"}))
    assert team_client(local.model_copy(update={"team_client": "on"}))


def test_describe_service_says_who_is_active_what_is_wrong_and_when_it_went_quiet() -> None:
    now = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
    limited = {"name": "GitHub", "state": "rate_limited", "until": "2026-03-11T16:05:00+00:00"}
    state = ServiceState(host="host-a", pid=7, heartbeat_at=now - timedelta(seconds=20),
                         last_poll_at=now - timedelta(seconds=20), interval=60.0,
                         sources=[{"name": "Slack", "state": "ok"}, limited])
    line, ok = describe_service(state, now, UTC)
    assert line == "team service: active on host-a, synced 20 s ago; GitHub rate-limited until 16:05"
    assert not ok
    state.heartbeat_at = now - timedelta(minutes=6)  # > 3 poll intervals
    line, ok = describe_service(state, now, UTC)
    assert line == "the team service has not synced for 6 min (last heard from host-a)" and not ok
    state.stopped_at = now - timedelta(minutes=2)
    line, ok = describe_service(state, now, UTC)
    assert line.startswith("the team service was stopped on host-a 2 min ago and no other has taken over")
    assert not ok
    assert describe_service(None, now)[1] is False


def test_a_client_cli_queues_only_and_the_service_sends_once(
        sandbox: Sandbox, tmp_path: Path, pg_url: str, start_service: Callable[[Settings], ServiceRunner]) -> None:
    env = make_env(sandbox, tmp_path, pg_url)
    assert team_client(env.settings)
    rid = env.github_request()
    env.clear_calls()

    result = run_cli(env, "reply", rid, "--text", "Looking into it.", "--target", "github")
    assert result.exit_code == 0, result.output
    assert "the team service (`idqueue serve`) sends it" in result.output
    queued = env.actions().outbox.select(states=[ActionState.QUEUED])
    assert len(queued) == 1 and queued[0].actor == ANA.key
    listed = run_cli(env, "outbox")
    assert f"by {ANA.key}" in listed.output

    for args in (("sync", "--once"), ("outbox", "--send")):
        refused = run_cli(env, *args)
        assert refused.exit_code == 2, refused.output
        assert "team mode: the team service (`idqueue serve`) syncs and sends" in refused.output
    assert env.writes() == []  # nothing left this client

    start_service(service_settings(sandbox, tmp_path, pg_url))
    _eventually(lambda: env.actions().outbox.get(queued[0].id).state is ActionState.SENT)  # type: ignore[union-attr]
    comments = [c for c in env.writes() if c.method == "POST" and c.path.endswith("/comments")]
    assert len(comments) == 1 and "Looking into it." in str(comments[0].body)
    state = _eventually(lambda: read_service_state(env.store))
    assert state.host == socket.gethostname() and state.last_poll_at is not None


def test_doctor_and_list_in_client_mode_report_the_service_not_tokens(
        sandbox: Sandbox, tmp_path: Path, pg_url: str) -> None:
    env = make_env(sandbox, tmp_path, pg_url)
    now = datetime.now(UTC)
    health = [SourceHealth("GitHub", "ok", last_sync=now), SourceHealth("Slack", "ok", last_sync=now)]
    record_poll(env.store, health, last_poll_at=now, interval=60.0, now=now)
    env.clear_calls()
    doctor = run_cli(env, "doctor")
    assert doctor.exit_code == 0, doctor.output
    assert "PostgreSQL (IDQUEUE_DATABASE_URL)" in doctor.output
    assert f"service      ok: team service: active on {socket.gethostname()}" in doctor.output
    assert not env.sb.github.calls.all() and not env.sb.slack.calls.all()  # no token was checked
    listed = run_cli(env, "list")
    assert "team service: active on" in listed.output

    record_poll(env.store, health, last_poll_at=now - timedelta(minutes=10), interval=60.0,
                now=now - timedelta(minutes=10))
    stale = run_cli(env, "doctor")
    assert stale.exit_code == 1
    assert "WARNING: the team service has not synced for 10 min" in stale.output


def test_two_people_on_one_database_each_snooze_for_themselves(sandbox: Sandbox, tmp_path: Path, pg_url: str) -> None:
    ana = make_env(sandbox, tmp_path, pg_url)
    rid = ana.github_request()
    ben_settings = ana.settings.model_copy(update={"me": BEN.key})
    ben = WritebackEnv(sb=sandbox, settings=ben_settings, store=open_store(ben_settings))
    assert (ana.store.person, ben.store.person) == (ANA.key, BEN.key)

    snoozed = run_cli(ana, "snooze", rid, "2h")
    assert snoozed.exit_code == 0, snoozed.output
    mine = [r["id"] for r in json.loads(run_cli(ana, "list", "--json").output)]
    theirs = [r["id"] for r in json.loads(run_cli(ben, "list", "--json").output)]
    assert rid not in mine and rid in theirs
    key = ana.store.get_request(rid).key  # type: ignore[union-attr]
    assert key in run_cli(ana, "snoozed").output
    assert run_cli(ben, "snoozed").output.strip() == "Nothing is snoozed."
