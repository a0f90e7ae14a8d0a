"""The SQLite team service's leader lock: an exclusive flock that the kernel drops with its holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from idqueue.config import Settings
from idqueue.service.leader import (
    AdvisoryLeadership,
    FileLeadership,
    LeadershipError,
    leadership_for,
    lock_path,
)

ROOT = Path(__file__).resolve().parents[2]

HOLDER = """
import sys, time
from pathlib import Path
from idqueue.service.leader import FileLeadership
lock = FileLeadership(Path(sys.argv[1]))
assert lock.try_acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_only_one_of_two_holds_the_lock_until_it_releases(tmp_path: Path) -> None:
    path = lock_path(tmp_path / "team.db")
    assert path.name == "team.db.serve.lock"
    first, second = FileLeadership(path), FileLeadership(path)
    assert first.try_acquire()
    assert first.try_acquire()  # asking again while holding it is fine
    assert not second.try_acquire()
    assert first.still_held() and not second.still_held()
    first.release()
    assert not first.still_held()
    assert second.try_acquire()
    assert not first.try_acquire()
    second.release()


def test_the_kernel_releases_the_lock_of_a_killed_process(tmp_path: Path) -> None:
    path = tmp_path / "team.db.serve.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True,
                              cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        standby = FileLeadership(path)
        assert not standby.try_acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        deadline = time.monotonic() + 30
        while not standby.try_acquire():
            assert time.monotonic() < deadline, "the lock was not released when its holder died"
            time.sleep(0.05)
        assert standby.still_held()
        standby.release()
    finally:
        holder.kill()
        holder.wait()


def test_a_replaced_lock_file_means_the_lock_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "team.db.serve.lock"
    active = FileLeadership(path)
    assert active.try_acquire()
    path.unlink()  # someone removed it: a new service would lock a new file
    newcomer = FileLeadership(path)
    assert newcomer.try_acquire()
    assert not active.still_held()  # so the old holder steps down
    newcomer.release()


def test_an_unusable_lock_file_is_one_clear_error(tmp_path: Path) -> None:
    lock = FileLeadership(tmp_path / "missing-folder" / "team.db.serve.lock")
    with pytest.raises(LeadershipError, match="cannot open the lock file"):
        lock.try_acquire()


def test_the_settings_pick_the_lock(tmp_path: Path) -> None:
    settings = Settings(db=tmp_path / "team.db")
    chosen = leadership_for(settings)
    assert isinstance(chosen, FileLeadership) and chosen.path == tmp_path / "team.db.serve.lock"
    # A PostgreSQL store (``database_url``) takes the advisory lock instead.
    object.__setattr__(settings, "database_url", "postgresql://idqueue@127.0.0.1:1/team")
    pg = leadership_for(settings)
    assert isinstance(pg, AdvisoryLeadership) and pg.url.endswith("/team")
