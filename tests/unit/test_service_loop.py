"""The poll loop shared by ``idqueue sync`` and ``idqueue serve``: wake-ups coalesce, polls never overlap."""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path

from polling import eventually

from idqueue.config import Settings
from idqueue.service.loop import PollLoop, Wakeup
from idqueue.sync import ReadFirst

WAIT = 10.0


def _settings(tmp_path: Path) -> Settings:
    return Settings(db=tmp_path / "loop.db", ui={"poll_interval": 3600})


def test_a_burst_of_wakes_during_a_poll_makes_exactly_one_more_poll(tmp_path: Path) -> None:
    polls: list[int] = []
    first_started, release = threading.Event(), threading.Event()

    def poll(_read_first: ReadFirst) -> None:
        polls.append(len(polls) + 1)
        if len(polls) == 1:
            first_started.set()
            assert release.wait(WAIT)

    loop = PollLoop(_settings(tmp_path), poll, live=False)
    thread = threading.Thread(target=loop.run, kwargs={"rounds": 3}, daemon=True)
    thread.start()
    assert first_started.wait(WAIT)
    for system in ["slack", "github", "jira"] * 10:
        loop.wake(system)
    release.set()
    # The second poll starts at once; the third would need another wake-up (the interval is an hour).
    thread.join(timeout=1.5)
    assert thread.is_alive(), f"the burst made more than one extra poll: {polls}"
    assert polls == [1, 2]
    assert loop.early_polls == 1
    assert loop.wakeup.requested == {"slack": 10, "github": 10, "jira": 10}
    loop.stop()
    thread.join(timeout=WAIT)
    assert not thread.is_alive() and polls == [1, 2]  # stopping does not poll


def test_a_wake_during_the_wait_polls_now(tmp_path: Path) -> None:
    done = threading.Event()
    polls: list[str] = []

    def poll(_read_first: ReadFirst) -> None:
        polls.append("poll")
        if len(polls) == 2:
            done.set()

    loop = PollLoop(_settings(tmp_path), poll, live=False)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    assert _wait_for(lambda: len(polls) == 1)
    loop.wake("github")
    assert done.wait(WAIT)
    loop.stop()
    thread.join(timeout=WAIT)
    assert not thread.is_alive()
    assert polls == ["poll", "poll"] and loop.early_polls == 1


def test_keep_going_false_ends_the_loop_before_the_next_poll(tmp_path: Path) -> None:
    going = threading.Event()
    going.set()
    polls: list[int] = []

    def poll(_read_first: ReadFirst) -> None:
        polls.append(1)
        going.clear()  # the service lost its lock during this poll

    loop = PollLoop(_settings(tmp_path), poll, live=False, keep_going=going.is_set)
    loop.wake()  # even a pending wake-up does not poll once keep_going says no
    assert loop.run() == 1
    assert polls == [1]


def test_wakeup_reports_each_wake_and_interrupt_is_not_one() -> None:
    seen: list[str] = []
    wakeup = Wakeup(on_wake=seen.append)
    wakeup.wake("trello")
    wakeup.wake("trello")
    wakeup.interrupt()
    assert seen == ["trello", "trello"]
    assert wakeup.wait(0)
    assert wakeup.take() == {"trello"}
    assert not wakeup.wait(0)


_wait_for = partial(eventually, timeout=WAIT, step=0.01)
