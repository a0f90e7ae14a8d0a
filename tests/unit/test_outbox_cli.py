"""The action commands: each prints what it did or will do; --dry-run shows the exact text."""

from __future__ import annotations

from pathlib import Path

import pytest
from outbox_env import ANA, REPO, WritebackEnv, make_env
from outbox_env import run_cli as run

from idqueue.outbox.models import ActionState
from idqueue.sandbox.runner import Sandbox


@pytest.fixture
def env(empty_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WritebackEnv:
    monkeypatch.setenv("IDQUEUE_OUTBOX_THROTTLE", "0")
    return make_env(empty_sandbox, tmp_path)


def test_take_prints_each_step_and_sends(env: WritebackEnv) -> None:
    rid = env.github_request()
    key = env.store.get_request(rid).key  # type: ignore[union-attr]
    result = run(env, "take", key)
    assert result.exit_code == 0, result.output
    assert f"{key}  {rid}  Mock auth user cannot sign in" in result.output
    assert "1. assign @ana-reyes on GitHub (va-identity/support#1)" in result.output
    assert "Queued 2 actions" in result.output
    assert result.output.count("✓ sent") == 2
    assert env.gh.issue(REPO, 1).assignees == [ANA.github]


def test_dry_run_shows_exact_text_per_destination_and_writes_nothing(env: WritebackEnv) -> None:
    rid, _ = env.linked_request()
    env.clear_calls()
    result = run(env, "close", rid, "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Would do:" in out
    assert "text for GitHub (Markdown):" in out and "text for Slack (mrkdwn):" in out
    assert "│ How did we do? Please take our short [support survey](https://example.org/survey/identity-support)." in out
    assert "│ How did we do? Please take our short <https://example.org/survey/identity-support|support survey>." in out
    assert "react :white_check_mark:" in out
    assert env.writes() == [] and env.actions().all() == []


def test_reply_with_vars_and_missing_values(env: WritebackEnv) -> None:
    rid = env.github_request()
    missing = run(env, "reply", rid, "--template", "target_date", "--dry-run")
    assert missing.exit_code == 1
    assert "missing values: due_date" in missing.output
    assert "no value for due_date" in missing.output
    ok = run(env, "reply", rid, "--template", "target_date", "--var", "due_date=March 20")
    assert ok.exit_code == 0, ok.output
    assert "scheduled to be completed on March 20" in env.gh.repo(REPO).comments[0].body
    bad = run(env, "reply", rid, "--template", "target_date", "--var", "oops")
    assert bad.exit_code != 0 and "expected name=value" in bad.output


def test_personal_data_on_github_needs_yes(env: WritebackEnv) -> None:
    rid = env.github_request()
    refused = run(env, "reply", rid, "--text", "Call me at 555-123-4567")
    assert refused.exit_code == 1 and "personal data" in refused.output
    assert env.actions().all() == []
    sent = run(env, "reply", rid, "--text", "Call me at 555-123-4567", "--yes")
    assert sent.exit_code == 0, sent.output


def test_outbox_lists_retries_and_drops(env: WritebackEnv) -> None:
    rid = env.github_request()
    env.sb.github.faults.add("POST /repos/*/assignees", status=403)
    result = run(env, "assign", rid, "ana")
    assert result.exit_code == 1
    assert "✗ needs attention" in result.output and "(403" in result.output
    assert "idqueue outbox --retry" in result.output
    listing = run(env, "outbox")
    assert listing.exit_code == 0
    stuck = env.actions().all(states=[ActionState.NEEDS_ATTENTION])[0]
    assert stuck.id in listing.output and "needs_attention" in listing.output and "queued" in listing.output
    log = run(env, "outbox", "--log", stuck.id[:6])
    assert "claimed" in log.output and "needs_attention" in log.output
    retried = run(env, "outbox", "--retry", stuck.id)
    assert retried.exit_code == 0, retried.output
    # The "assigned" message waited behind it and goes too.
    assert retried.output.count("✓ sent") == 2
    sent = run(env, "outbox", "--send")
    assert sent.exit_code == 0 and "sent 0" in sent.output
    assert run(env, "outbox").output.strip() == "The outbox is empty: everything was sent."


def test_outbox_drop(env: WritebackEnv) -> None:
    rid = env.github_request()
    result = run(env, "close", rid, "--no-send")
    assert "Not sent (--no-send)" in result.output
    first = env.actions().all()[0]
    dropped = run(env, "outbox", "--drop", first.id)
    assert dropped.output.count("- dropped") == 2
    assert run(env, "outbox", "--send").output.startswith("sent 0")
    assert env.writes() == []


def test_unknown_things_are_one_line_errors(env: WritebackEnv) -> None:
    rid = env.github_request()
    assert "no request 'nope'" in run(env, "take", "nope").output
    assert "not on the roster" in run(env, "assign", rid, "mallory").output
    assert "no template 'nope'" in run(env, "reply", rid, "--template", "nope").output
    assert "no outbox action" in run(env, "outbox", "--retry", "zzzz").output


def test_hostile_text_is_sanitised_in_cli_output(env: WritebackEnv) -> None:
    rid = env.github_request("\x1b]52;c;aGk=\x07Pwn \x1b[2J title", "body")
    result = run(env, "reply", rid, "--text", "hi \x1b[31mred", "--dry-run")
    assert result.exit_code == 0
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "Pwn title" in result.output


def test_priority_command(env: WritebackEnv) -> None:
    rid = env.github_request()
    result = run(env, "priority", rid, "p1")
    assert result.exit_code == 0, result.output
    assert "Priority set to P1 locally." in result.output
    assert "priority:P1" in env.gh.issue(REPO, 1).labels
