"""Edited template replies keep their side effects; take/assign say when they reassign or do nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from outbox_env import ANA, BEN, REPO, WritebackEnv, make_env
from outbox_env import run_cli as run

from idqueue.outbox.models import ActionError, ActionKind, NothingToDo
from idqueue.sandbox.runner import Sandbox


@pytest.fixture
def env(empty_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WritebackEnv:
    monkeypatch.setenv("IDQUEUE_OUTBOX_THROTTLE", "0")
    return make_env(empty_sandbox, tmp_path)


def _comments(env: WritebackEnv) -> list[str]:
    return [c.body["body"] for c in env.sb.github.calls.calls_to("POST", "*/comments")]


# --------------------------------------------------------------------------- edited templates
def test_edited_template_text_is_posted_and_side_effects_still_run(env: WritebackEnv) -> None:
    rid = env.github_request()
    actions = env.actions()
    edited = "Could you paste the **exact** error you see on staging?\n"
    steps = actions.plan_reply(rid, template="need_more_info", text=edited)
    assert [(s.kind, s.target) for s in steps] == [(ActionKind.PENDING, "github"), (ActionKind.REPLY, "github")]
    reply = steps[1]
    assert reply.text == edited and reply.edited and not reply.missing
    env.clear_calls()
    actions.reply(rid, template="need_more_info", text=edited)
    env.drain()
    [comment] = _comments(env)
    assert comment.startswith(edited.rstrip("\n") + "\n\n<!-- idqueue:action=")  # the edit, exactly
    assert "pending" in env.gh.issue(REPO, 1).labels  # the template's "set pending" was not lost


def test_edited_text_for_one_target_is_exact_and_the_other_target_keeps_the_template(env: WritebackEnv) -> None:
    rid, _ = env.linked_request()
    actions = env.actions()
    slack_text = "Done :tada: see <https://example.org/docs|the docs> — *thanks*!\n"
    queued = actions.reply(rid, template="closed", target="both", texts={"slack": slack_text})
    kinds = [(a.kind, a.target) for a in queued]
    assert (ActionKind.CLOSE, "github") in kinds  # "close" side effect kept
    slack_step = next(a for a in queued if a.kind is ActionKind.REPLY and a.target == "slack")
    github_step = next(a for a in queued if a.kind is ActionKind.REPLY and a.target == "github")
    assert slack_step.text == slack_text  # exactly what was edited (mrkdwn, not converted again)
    assert env.settings.survey.url in (github_step.text or "")  # GitHub: the template's own text
    env.clear_calls()
    env.drain()
    assert env.posts()[0].body["text"] == slack_text
    assert env.gh.issue(REPO, 1).state == "closed"


def test_edited_text_with_a_leftover_marker_is_refused(env: WritebackEnv) -> None:
    rid = env.github_request()
    actions = env.actions()
    steps = actions.plan_reply(rid, template="target_date", text="We will be done by «missing: due_date».")
    assert steps[0].missing == ("due_date",)
    with pytest.raises(ActionError, match="marker"):
        actions.reply(rid, template="target_date", text="We will be done by «missing: due_date».")
    with pytest.raises(ActionError, match="due_date"):
        actions.reply(rid, template="target_date", texts={"github": "Done by «missing: due_date»"})
    assert actions.all() == []
    # Writing the value by hand is enough: no --var needed once the marker is gone.
    queued = actions.reply(rid, template="target_date", text="We will be done by Friday.")
    assert queued[0].text == "We will be done by Friday."


def test_edited_text_for_a_target_the_reply_does_not_go_to(env: WritebackEnv) -> None:
    rid = env.github_request()
    with pytest.raises(ActionError, match="edited text for slack"):
        env.actions().plan_reply(rid, template="acknowledge", texts={"slack": "hi"})


def test_slack_edit_cannot_broadcast(env: WritebackEnv) -> None:
    sid = env.slack_request()
    steps = env.actions().plan_reply(sid, template="acknowledge", texts={"slack": "<!channel> look"})
    assert "<!channel>" not in (steps[0].text or "")


def test_cli_reply_template_with_text(env: WritebackEnv) -> None:
    rid = env.github_request()
    result = run(env, "reply", rid, "--template", "need_more_info", "--text", "Which browser do you use?")
    assert result.exit_code == 0, result.output
    assert "label pending on GitHub" in result.output
    [comment] = _comments(env)
    assert comment.startswith("Which browser do you use?")
    assert "pending" in env.gh.issue(REPO, 1).labels


# --------------------------------------------------------------------------- reassign / already yours
def test_take_from_someone_else_is_a_reassignment(env: WritebackEnv) -> None:
    rid = env.github_request(assignees=(BEN.github,))
    steps = env.actions().plan_take(rid)
    assign = steps[0]
    assert assign.kind is ActionKind.ASSIGN
    assert assign.summary == f"reassign from Ben Okafor to Ana Reyes (@{ANA.github}) on GitHub ({REPO}#1)"
    assert assign.reassign_from == "Ben Okafor"
    assert env.actions().plan_assign(rid, "erin")[0].summary.startswith("reassign from Ben Okafor to Erin Walsh")
    unassigned = env.github_request("Nobody has this one")
    first = env.actions().plan_take(unassigned)[0]
    assert first.reassign_from is None and first.summary.startswith("assign @ana-reyes")


def test_take_what_is_already_yours_does_nothing(env: WritebackEnv) -> None:
    rid = env.github_request(assignees=(ANA.github,))
    actions = env.actions()
    with pytest.raises(NothingToDo, match="already assigned to you"):
        actions.plan_take(rid)
    with pytest.raises(NothingToDo):
        actions.take(rid)
    assert actions.all() == []  # no duplicate "assigned" message
    env.settings.me = "ben"  # Ben assigning Ana: said with her name
    with pytest.raises(NothingToDo, match="already assigned to Ana Reyes"):
        env.actions().plan_assign(rid, "ana")


def test_a_queued_take_counts(env: WritebackEnv) -> None:
    """Take twice before the dispatcher ran: the second take sees the first (no duplicate message)."""
    rid = env.github_request()
    actions = env.actions()
    actions.take(rid)
    with pytest.raises(NothingToDo):
        actions.take(rid)
    assert sum(a.kind is ActionKind.REPLY for a in actions.all()) == 1


def test_reassign_on_a_slack_only_request(env: WritebackEnv) -> None:
    sid = env.slack_request()
    actions = env.actions()
    actions.assign(sid, "ben")
    steps = actions.plan_take(sid)
    assert steps[0].reassign_from == "Ben Okafor"
    assert steps[0].summary.startswith("reassign from Ben Okafor to Ana Reyes: automatic reply in the Slack thread")


def test_assign_me_side_effect_on_my_own_request_just_replies(env: WritebackEnv) -> None:
    rid = env.github_request(assignees=(ANA.github,))
    steps = env.actions().plan_reply(rid, template="assigned")
    assert [s.kind for s in steps] == [ActionKind.REPLY]


def test_cli_take_already_yours_exits_zero_and_says_so(env: WritebackEnv) -> None:
    rid = env.github_request(assignees=(ANA.github,))
    env.clear_calls()
    result = run(env, "take", rid)
    assert result.exit_code == 0, result.output
    assert "already assigned to you; nothing to do" in result.output
    assert env.writes() == []


def test_cli_take_shows_the_reassignment(env: WritebackEnv) -> None:
    rid = env.github_request(assignees=(BEN.github,))
    result = run(env, "take", rid, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "1. reassign from Ben Okafor to Ana Reyes" in result.output
