"""CLI: snooze/unsnooze with natural times, repeated verbs as no-ops, assign --yes, duplicates, priority auto."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from outbox_env import ANA, BEN, NOW, REPO, WritebackEnv, make_env
from outbox_env import run_cli as run

from idqueue.sandbox.runner import Sandbox


@pytest.fixture
def env(empty_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WritebackEnv:
    monkeypatch.setenv("IDQUEUE_OUTBOX_THROTTLE", "0")
    return make_env(empty_sandbox, tmp_path)


def key_of(env: WritebackEnv, rid: str) -> str:
    request = env.store.get_request(rid)
    assert request is not None
    return request.key


def test_snooze_reads_natural_times_and_prints_the_resolved_one(env: WritebackEnv) -> None:
    # The frozen "now" (IDQUEUE_NOW) is Wed 11 Mar 2026 11:30 in New York.
    assert env.settings.now and NOW.isoformat().startswith("2026-03-11T15:30")
    rid = env.github_request()
    key = key_of(env, rid)
    dry = run(env, "snooze", key, "monday", "9am", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would snooze until Mon 16 Mar 09:00 EDT (in 4d 21h)" in dry.output
    assert env.store.get_request(rid).snoozed_until is None  # type: ignore[union-attr]
    done = run(env, "snooze", key, "tomorrow")
    assert done.exit_code == 0, done.output
    assert "snoozed until Thu 12 Mar 09:00 EDT (in 21h 30m)" in done.output
    assert env.store.get_request(rid).snoozed_until == NOW + timedelta(hours=21, minutes=30)  # type: ignore[union-attr]
    listed = run(env, "snoozed")
    assert key in listed.output and "Thu 12 Mar 09:00" in listed.output
    assert run(env, "list", "--json").output.count(rid) == 0  # hidden from the queue
    woke = run(env, "unsnooze", key)
    assert woke.exit_code == 0 and "back in the queue" in woke.output
    again = run(env, "unsnooze", key)
    assert again.exit_code == 0 and "is not snoozed; nothing to do" in again.output
    assert run(env, "snoozed").output.strip() == "Nothing is snoozed."


def test_snooze_refuses_what_it_cannot_read(env: WritebackEnv) -> None:
    rid = env.github_request()
    for words, why in ((["someday"], "cannot read 'someday'"), (["2026-03-01"], "not in the future")):
        result = run(env, "snooze", rid, *words)
        assert result.exit_code != 0 and why in result.output
        assert "Traceback" not in result.output
    assert env.store.get_request(rid).snoozed_until is None  # type: ignore[union-attr]


def test_repeated_verbs_say_nothing_to_do_and_write_nothing(env: WritebackEnv) -> None:
    rid = env.github_request()
    key = key_of(env, rid)
    first = run(env, "pending", key)
    assert first.exit_code == 0 and "✓ sent" in first.output
    env.sync()
    env.clear_calls()
    for verb, says in (("pending", "is already pending"), ("reopen", "is already open"),
                       ("unassign", "has no assignee")):
        result = run(env, verb, key)
        assert result.exit_code == 0, result.output
        assert f"{says}; nothing to do" in result.output and "Queued" not in result.output
    assert env.writes() == []
    resumed = run(env, "resume", key)
    assert resumed.exit_code == 0 and "✓ sent" in resumed.output
    env.sync()
    assert "is not pending; nothing to do" in run(env, "resume", key).output


def test_assign_someone_elses_request_needs_yes(env: WritebackEnv) -> None:
    rid = env.github_request(assignees=(BEN.github,))
    env.clear_calls()
    refused = run(env, "assign", rid, "ana")
    assert refused.exit_code != 0
    assert "Ben" in refused.output and "pass --yes to reassign it" in refused.output
    assert env.writes() == [] and env.actions().all() == []
    taken = run(env, "take", rid)
    assert taken.exit_code != 0 and "pass --yes" in taken.output
    done = run(env, "assign", rid, "ana", "--yes")
    assert done.exit_code == 0, done.output
    assert env.gh.issue(REPO, 1).assignees == [ANA.github]
    same = run(env, "assign", rid, "ana")
    assert same.exit_code == 0 and "already assigned to you; nothing to do" in same.output


def test_close_as_duplicate_from_the_cli(env: WritebackEnv) -> None:
    original = env.github_request("Sign-in broken on staging")
    rid = env.github_request("Sign-in broken again")
    needs = run(env, "close", rid, "--reason", "duplicate")
    assert needs.exit_code != 0 and "needs --duplicate-of" in needs.output
    result = run(env, "close", rid, "--duplicate-of", key_of(env, original))
    assert result.exit_code == 0, result.output
    assert env.gh.issue(REPO, 2).state_reason == "duplicate"
    assert env.gh.repo(REPO).comments[-1].body.startswith("Duplicate of #1")
    assert "survey" not in env.gh.repo(REPO).comments[-1].body


def test_priority_auto_removes_the_override(env: WritebackEnv) -> None:
    rid = env.github_request()
    set_ = run(env, "priority", rid, "p1")
    assert set_.exit_code == 0 and "Its SLA targets apply from now on" in set_.output
    assert "priority:P1" in env.gh.issue(REPO, 1).labels
    same = run(env, "priority", rid, "P1")
    assert "is already P1 (set by hand); nothing to do" in same.output
    back = run(env, "priority", rid, "auto")
    assert back.exit_code == 0, back.output
    assert "Override removed" in back.output
    assert "priority:P1" not in env.gh.issue(REPO, 1).labels
    assert env.store.get_request(rid).priority_override is None  # type: ignore[union-attr]
