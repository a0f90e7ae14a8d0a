"""Undo before sending (outbox hold), repeated verbs as no-ops, reverse verbs, close as duplicate.

Against the loopback emulators with the real writers: what reaches GitHub/Slack is counted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from outbox_env import BEN, REPO, WritebackEnv, make_env

from idqueue.outbox.models import ActionError, ActionKind, ActionState, NothingToDo
from idqueue.outbox.service import Actions
from idqueue.sandbox.runner import Sandbox
from idqueue.store.db import Store, open_store

WALL = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
"""A fixed "real" time for the holds (the frozen clock of the sandbox is another one)."""


@pytest.fixture
def env(empty_sandbox: Sandbox, tmp_path: Path, db_target: str | Path) -> WritebackEnv:
    return make_env(empty_sandbox, tmp_path, db_target)


def held(env: WritebackEnv, store: Store | None = None) -> Actions:
    actions = Actions(store or env.store, env.settings, clock=env.clock, hold_seconds=5)
    actions.wall = lambda: WALL
    return actions


def run(env: WritebackEnv, wall: datetime, store: Store | None = None) -> None:
    dispatcher = env.dispatcher(store=store)
    dispatcher.wall = lambda: wall
    dispatcher.run_once()


def test_a_held_action_waits_for_its_hold_then_is_sent(env: WritebackEnv) -> None:
    rid = env.github_request()
    env.clear_calls()
    queued = held(env).pending(rid)
    assert queued and all(a.hold_until == WALL + timedelta(seconds=5) for a in queued)
    run(env, WALL + timedelta(seconds=4))
    assert env.writes() == []
    assert [a.state for a in env.actions().for_request(rid)] == [ActionState.QUEUED]
    run(env, WALL + timedelta(seconds=5, microseconds=1))
    assert [c.path for c in env.writes()] == [f"/repos/{REPO}/issues/1/labels"]
    assert "pending" in env.gh.issue(REPO, 1).labels


def test_undo_cancels_the_verb_and_nothing_is_written(env: WritebackEnv) -> None:
    rid, _ = env.linked_request()
    env.clear_calls()
    actions = held(env)
    queued = actions.close(rid)
    assert len(queued) >= 3  # close on GitHub, the closing messages, the reaction
    cancelled = actions.undo({a.group_id for a in queued})
    assert {a.id for a in cancelled} == {a.id for a in queued}
    assert all(a.state is ActionState.DROPPED for a in cancelled)
    run(env, WALL + timedelta(hours=1))
    assert env.writes() == []
    assert env.gh.issue(REPO, 1).state == "open"
    assert "undone before sending" in [e.detail for e in actions.log(queued[0].id)]


def test_too_late_to_undo_once_sent(env: WritebackEnv) -> None:
    rid = env.github_request()
    actions = held(env)
    queued = actions.pending(rid)
    run(env, WALL + timedelta(seconds=6))
    with pytest.raises(ActionError, match="too late to undo"):
        actions.undo([queued[0].group_id])
    assert actions.get(queued[0].id).state is ActionState.SENT


def test_a_held_verb_keeps_later_verbs_of_the_request_waiting(env: WritebackEnv) -> None:
    rid = env.github_request()
    env.clear_calls()
    held(env).take(rid)
    env.actions().pending(rid)  # queued without a hold, after the take
    run(env, WALL)
    assert env.writes() == []  # the pending label would land before the assignment otherwise


def test_quitting_during_the_hold_loses_nothing(env: WritebackEnv) -> None:
    rid = env.github_request()
    env.clear_calls()
    group = held(env).pending(rid)[0].group_id
    env.store.close()
    reopened = open_store(env.settings)  # the next start
    assert [a.group_id for a in Actions(reopened, env.settings, clock=env.clock).for_request(rid)] == [group]
    run(env, WALL + timedelta(seconds=10), store=reopened)
    assert len(env.writes()) == 1 and "pending" in env.gh.issue(REPO, 1).labels


def test_undo_restores_local_state(env: WritebackEnv) -> None:
    rid = env.github_request()
    actions = held(env)
    before = actions.local_state(rid)
    until = env.clock() + timedelta(days=1)
    actions.snooze(rid, until)
    queued = actions.set_priority(rid, "P1")
    assert env.store.get_request(rid).snoozed_until == until  # type: ignore[union-attr]
    actions.undo([a.group_id for a in queued], {rid: before})
    request = env.store.get_request(rid)
    assert request is not None and request.snoozed_until is None and request.priority_override is None


def test_repeated_verbs_are_no_ops(env: WritebackEnv) -> None:
    rid = env.github_request()
    actions = env.actions()
    with pytest.raises(NothingToDo, match="is not pending; nothing to do"):
        actions.resume(rid)
    with pytest.raises(NothingToDo, match="has no assignee; nothing to do"):
        actions.unassign(rid)
    with pytest.raises(NothingToDo, match="is already open; nothing to do"):
        actions.reopen(rid)
    with pytest.raises(NothingToDo, match="is not snoozed; nothing to do"):
        actions.unsnooze(rid)
    with pytest.raises(NothingToDo, match="has no priority override"):
        actions.set_priority(rid, "auto")
    actions.pending(rid)
    with pytest.raises(NothingToDo, match="is already pending; nothing to do"):
        actions.pending(rid)  # still queued: it counts as done
    env.drain()
    env.sync()
    with pytest.raises(NothingToDo, match="is already pending"):
        actions.pending(rid)
    actions.set_priority(rid, "P2")
    with pytest.raises(NothingToDo, match="is already P2"):
        actions.set_priority(rid, "p2")
    actions.close(rid)
    with pytest.raises(NothingToDo, match="is already closed"):
        actions.close(rid)


def test_every_verb_has_a_reverse_upstream(env: WritebackEnv) -> None:
    rid = env.github_request(assignees=(BEN.github,))
    actions = env.actions()
    for verb in (actions.unassign, actions.pending, actions.resume, actions.backlog, actions.reopen, actions.close,
                 actions.reopen):
        verb(rid)
        env.drain()
        env.sync()
    issue = env.gh.issue(REPO, 1)
    assert issue.state == "open" and issue.assignees == []
    assert not {"pending", env.settings.github.backlog_label} & set(issue.labels)
    request = env.store.get_request(rid)
    assert request is not None and request.status.is_open and request.status.value != "pending"


def test_close_as_duplicate_links_the_original_and_sends_no_survey(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    env = make_env(empty_sandbox, tmp_path, automation={"slack_rating": True})
    original = env.github_request("Sign-in broken on staging")
    rid, _ = env.linked_request("Sign-in broken again")
    key = env.store.get_request(original).key  # type: ignore[union-attr]
    actions = env.actions()
    with pytest.raises(ActionError, match="needs the original"):
        actions.plan_close(rid, reason="duplicate")
    with pytest.raises(ActionError, match="cannot be a duplicate of itself"):
        actions.plan_close(rid, reason="duplicate", duplicate_of=rid)
    steps = actions.plan_close(rid, reason="duplicate", duplicate_of=key)
    close = next(s for s in steps if s.kind is ActionKind.CLOSE)
    assert close.params["reason"] == "duplicate"
    texts = {s.target: s.text for s in steps if s.kind is ActionKind.REPLY}
    assert texts["github"] == "Duplicate of #1\n"
    assert "duplicate of" in (texts["slack"] or "") and "survey" not in (texts["slack"] or "")
    assert "React to this message" not in (texts["slack"] or "")
    env.clear_calls()
    actions.close(rid, reason="duplicate", duplicate_of=key)
    env.drain()
    issue = env.gh.issue(REPO, 2)
    assert issue.state == "closed" and issue.state_reason == "duplicate"
    assert env.gh.repo(REPO).comments[-1].body.startswith("Duplicate of #1")


def test_undo_without_the_callers_memory_restores_the_priority_it_replaced(env: WritebackEnv) -> None:
    """The outbox screen (or another session) undoes a held priority change knowing only its
    group: the override it replaced comes back, so the queue never shows a priority that
    GitHub will never get."""
    rid = env.github_request()
    actions = held(env)
    first = actions.set_priority(rid, "P2")
    run(env, WALL + timedelta(seconds=10))  # P2 is sent
    assert env.store.get_request(rid).priority_override == "P2"  # type: ignore[union-attr]
    queued = actions.set_priority(rid, "P1")
    assert queued and first
    assert env.store.get_request(rid).priority_override == "P1"  # type: ignore[union-attr]
    cancelled = Actions(env.store, env.settings, clock=env.clock).undo([queued[0].group_id])
    assert cancelled
    request = env.store.get_request(rid)
    assert request is not None and request.priority_override == "P2" and request.priority == "P2"
    run(env, WALL + timedelta(seconds=20))
    labels = [label for label in env.gh.issue(REPO, int(rid.rsplit("#", 1)[1])).labels if "priority" in label]
    assert labels == ["priority:P2"]
