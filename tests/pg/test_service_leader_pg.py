"""The PostgreSQL team service's leader lock: a session advisory lock on a connection of its own."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import psycopg
import pytest
from polling import eventually

from idqueue.config import Settings
from idqueue.sandbox.runner import Sandbox
from idqueue.service.leader import AdvisoryLeadership, LeadershipError
from idqueue.service.runner import Role, ServiceRunner
from idqueue.store.db import Store

pytestmark = pytest.mark.xdist_group("pg")


_eventually = partial(eventually, timeout=30.0, step=0.1)


def test_only_one_of_two_services_leads(pg_url: str) -> None:
    first, second = AdvisoryLeadership(pg_url), AdvisoryLeadership(pg_url)
    try:
        assert first.try_acquire()
        assert first.try_acquire()  # asking again while holding it is fine
        assert not second.try_acquire()
        assert first.still_held() and not second.still_held()
        first.release()  # closes its session: the server releases the lock with it
        assert not first.still_held()
        assert second.try_acquire() and second.still_held()
        assert not first.try_acquire()
    finally:
        first.release()
        second.release()


def test_a_killed_session_hands_the_lock_over_and_its_holder_steps_down(pg_url: str) -> None:
    active, standby = AdvisoryLeadership(pg_url), AdvisoryLeadership(pg_url)
    try:
        assert active.try_acquire()
        assert not standby.try_acquire()
        pid = active.backend_pid()
        assert pid is not None
        # The holder's connection dies (its process or network gone): the server ends the session.
        with psycopg.connect(pg_url, autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        assert _eventually(standby.try_acquire), "the standby never got the lock"
        assert not active.still_held()  # the old holder notices on its next check
        assert not active.try_acquire()  # and, reconnected, finds the lock taken
    finally:
        active.release()
        standby.release()


def test_an_unreachable_server_is_one_clear_error(pg_url: str) -> None:
    url = pg_url.rsplit("/", 1)[0].rsplit(":", 1)[0] + ":1/nowhere"
    lock = AdvisoryLeadership(url, connect_timeout=2)
    with pytest.raises(LeadershipError, match="cannot reach the database for the leader lock"):
        lock.try_acquire()
    assert not lock.still_held()


def test_an_active_service_whose_lock_session_dies_stops_and_the_standby_takes_over(
        pg_url: str, sandbox: Sandbox, tmp_path: Path) -> None:
    """The runners on the advisory lock (their store is a SQLite file; the lock is what is tested)."""
    settings = Settings(db=tmp_path / "team.db", now=sandbox.clock().isoformat(), **sandbox.settings_overrides())
    runners = [ServiceRunner(settings, Store.open(settings.db), AdvisoryLeadership(pg_url), interval=3600,
                             retry_every=0.1, check_every=0.1) for _ in range(2)]
    first, second = runners
    try:
        first.start()
        assert _eventually(lambda: first.polls >= 1)
        second.start()
        assert _eventually(lambda: second.role is Role.STANDBY)
        lock = first.leadership
        assert isinstance(lock, AdvisoryLeadership)
        pid = lock.backend_pid()
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert _eventually(lambda: second.role is Role.ACTIVE and second.polls >= 1)
        assert first.role is Role.STANDBY  # it stepped down: no polling, no sending
        polls = first.polls
        second.wake("github")
        assert _eventually(lambda: second.polls >= 2)
        assert first.polls == polls
        assert first.metrics.role._value.get() == 0 and second.metrics.role._value.get() == 1
    finally:
        for runner in runners:
            runner.stop()
