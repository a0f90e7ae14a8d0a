"""Faults during sends: retried and delivered once, or stopped with a clear reason; conflicts.

The emulators inject the faults (429, secondary limit, 5xx, timeouts, lost responses, auth
errors, 404, 422) into the real PyGithub / slack-sdk calls; the clock is the sandbox's frozen
clock, so waits are checked as times, never slept.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from outbox_env import ANA, BACKLOG_REPO, BEN, CHANNEL, REPO, WritebackEnv, make_env

from idqueue.outbox.models import ActionKind, ActionState
from idqueue.sandbox.runner import Sandbox
from idqueue.store.db import Store


@pytest.fixture
def env(empty_sandbox: Sandbox, tmp_path: Path) -> WritebackEnv:
    return make_env(empty_sandbox, tmp_path)


def _comments(env: WritebackEnv, repo: str = REPO, number: int = 1) -> list[str]:
    return [c.body for c in env.gh.repo(repo).comments if c.issue_number == number]


def _thread_replies(env: WritebackEnv, sid: str) -> list[str]:
    ts = sid.split("/")[1]
    parent = env.slack.message(CHANNEL, ts)
    return [env.slack.message(CHANNEL, r).text for r in parent.replies]


# --------------------------------------------------------------------------- transient: retried


def test_429_on_comment_waits_retry_after_then_posts_once(env: WritebackEnv) -> None:
    rid = env.github_request()
    actions = env.actions()
    actions.reply(rid, text="Hello")
    env.sb.github.faults.add("POST /repos/*/comments", "rate_limit", status=429, retry_after=7)
    dispatcher = env.dispatcher()
    start = env.clock()
    report = dispatcher.run_once()
    assert report.counts["retrying"] == 1
    action = actions.for_request(rid)[0]
    assert action.state is ActionState.QUEUED
    assert action.next_attempt_at == start + timedelta(seconds=7)
    assert "rate limit" in (action.last_error or "")
    # Not before its time:
    assert dispatcher.run_once().counts["sent"] == 0
    env.clock.advance(7)
    assert dispatcher.run_once().counts["sent"] == 1
    assert len(_comments(env)) == 1
    # The second attempt looked for the marker first (a 429 may hide a write) and found none.
    assert env.sb.github.calls.count("GET", f"/repos/{REPO}/issues/1/comments") == 1


def test_secondary_limit_without_retry_after_waits_a_minute(env: WritebackEnv) -> None:
    rid = env.github_request()
    env.actions().take(rid)
    env.sb.github.faults.add("POST /repos/*/assignees", "secondary_limit")
    start = env.clock()
    env.dispatcher().run_once()
    action = env.actions().for_request(rid)[0]
    assert action.kind is ActionKind.ASSIGN and action.state is ActionState.QUEUED
    assert action.next_attempt_at is not None and action.next_attempt_at >= start + timedelta(seconds=60)
    assert "secondary rate limit" in (action.last_error or "")
    report = env.drain()
    assert report.counts["sent"] == 2
    assert env.gh.issue(REPO, 1).assignees == [ANA.github]


def test_primary_limit_waits_until_reset(env: WritebackEnv) -> None:
    rid = env.github_request()
    env.actions().pending(rid)
    env.sb.github.faults.add("POST /repos/*/labels", "rate_limit")
    start = env.clock()
    env.dispatcher().run_once()
    action = env.actions().for_request(rid)[0]
    reset = env.gh.rate.reset
    assert action.next_attempt_at is not None
    assert action.next_attempt_at >= start.replace(microsecond=0) + timedelta(seconds=reset - int(start.timestamp()))
    assert env.drain().counts["sent"] == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried_with_backoff(env: WritebackEnv, status: int) -> None:
    rid = env.github_request()
    env.actions().close(rid, template=None)
    env.sb.github.faults.add("PATCH /repos/*", status=status, times=2)
    dispatcher = env.dispatcher()
    t0 = env.clock()
    dispatcher.run_once()
    first = env.actions().for_request(rid)[0]
    assert first.next_attempt_at == t0 + timedelta(seconds=2)
    env.clock.advance(2)
    dispatcher.run_once()
    second = env.actions().for_request(rid)[0]
    assert second.next_attempt_at == env.clock() + timedelta(seconds=4)  # exponential
    report = env.drain(dispatcher)
    assert report.counts["sent"] == 1
    assert env.gh.issue(REPO, 1).state == "closed"


def test_slack_429_and_timeout_then_delivered_once(env: WritebackEnv) -> None:
    sid = env.slack_request()
    env.actions().reply(sid, text="Looking")
    limited = env.sb.slack.faults.add("chat.postMessage", "ratelimited", retry_after=3)
    stalled = env.sb.slack.faults.add("chat.postMessage", "timeout", seconds=1.5, drop=True)
    start = env.clock()
    report = env.drain(env.dispatcher(timeout=1.0))
    assert report.counts["sent"] == 1
    assert _thread_replies(env, sid) == ["Looking"]
    assert limited.hits == 1 and stalled.hits == 1
    assert [c.status for c in env.posts() if c.status == 200] == [200]
    assert env.clock() >= start + timedelta(seconds=3)  # the Retry-After was honoured


def test_github_timeout_is_retried_and_reconciled(env: WritebackEnv) -> None:
    rid = env.github_request()
    env.actions().reply(rid, text="Hello")
    stalled = env.sb.github.faults.add("POST /repos/*/comments", "timeout", seconds=2.5, drop=True)
    report = env.drain(env.dispatcher(timeout=1.0))
    assert report.counts["sent"] == 1 and stalled.hits == 1
    assert len(_comments(env)) == 1


def test_lost_response_on_comment_is_reconciled_not_reposted(env: WritebackEnv) -> None:
    rid = env.github_request()
    queued = env.actions().reply(rid, text="Hi there")
    env.sb.github.faults.add("POST /repos/*/comments", "drop_after_apply")
    report = env.drain()
    assert report.counts["sent"] == 1
    assert len(_comments(env)) == 1  # the server applied it once; the retry found the marker
    assert env.sb.github.calls.count("POST", "*/comments") == 1
    sent = env.actions().get(queued[0].id)
    assert sent.result.get("reconciled") is True and sent.attempts == 2


def test_lost_response_on_slack_post_is_reconciled(env: WritebackEnv) -> None:
    sid = env.slack_request()
    env.actions().take(sid)
    env.sb.slack.faults.add("chat.postMessage", "drop_after_apply")
    report = env.drain()
    assert report.counts["sent"] == 2
    assert len(_thread_replies(env, sid)) == 1
    assert len(env.posts()) == 1


def test_lost_response_on_backlog_issue_creation_is_reconciled(env: WritebackEnv) -> None:
    sid = env.slack_request()
    env.actions().backlog(sid)
    env.sb.github.faults.add(f"POST /repos/{BACKLOG_REPO}/issues", "drop_after_apply")
    report = env.drain()
    assert report.counts["sent"] == 3
    assert len(env.gh.repo(BACKLOG_REPO).issues) == 1
    assert "issues/1|GitHub issue>" in env.posts()[0].body["text"]


def test_malformed_answer_is_retried(env: WritebackEnv) -> None:
    rid = env.github_request()
    env.actions().reply(rid, text="Hello")
    env.sb.github.faults.add("POST /repos/*/comments", "malformed")
    report = env.drain()
    assert report.counts["sent"] == 1
    assert len(_comments(env)) == 1


def test_too_many_transient_failures_end_as_failed(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    env = make_env(empty_sandbox, tmp_path)
    rid = env.github_request()
    env.actions().reply(rid, text="Hello")
    env.sb.github.faults.add("POST /repos/*/comments", status=503, times=-1)
    report = env.drain(env.dispatcher(max_attempts=3))
    assert report.counts["failed"] == 1
    action = env.actions().all()[0]
    assert action.state is ActionState.FAILED
    assert (action.last_error or "").startswith("gave up after 3 attempts: GitHub is unavailable (503)")


# --------------------------------------------------------------------------- permanent: needs attention


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"kind": "auth"}, "GitHub rejected the token (401"),
        ({"status": 403}, "GitHub refused to assign @ana-reyes on va-identity/support#1 (403"),
        ({"status": 404}, "GitHub cannot assign @ana-reyes on va-identity/support#1 (404"),
        ({"status": 422}, "GitHub refused to assign @ana-reyes on va-identity/support#1 (422 Validation Failed"),
    ],
)
def test_permanent_errors_need_attention_and_hold_the_rest(
    env: WritebackEnv, fault: dict[str, object], reason: str
) -> None:
    rid = env.github_request()
    other = env.github_request("Unrelated request")
    env.actions().take(rid)
    env.actions().reply(other, text="Unaffected")
    env.sb.github.faults.add("POST /repos/*/issues/1/assignees", **fault)  # type: ignore[arg-type]
    report = env.drain()
    assert report.counts == {"sent": 1, "retrying": 0, "failed": 0, "needs_attention": 1}
    stuck = report.needs_attention[0]
    assert stuck.kind is ActionKind.ASSIGN
    assert (stuck.last_error or "").startswith(reason), stuck.last_error
    # The "assigned" comment waits behind it; the other request was not held up.
    waiting = env.actions().for_request(rid)
    assert [(a.kind, a.state) for a in waiting] == [
        (ActionKind.ASSIGN, ActionState.NEEDS_ATTENTION), (ActionKind.REPLY, ActionState.QUEUED),
    ]
    assert _comments(env, number=1) == []
    assert len(_comments(env, number=2)) == 1
    # After the user fixes things, retry sends both, in order.
    env.actions().retry(stuck.id)
    assert env.drain().counts["sent"] == 2
    assert env.gh.issue(REPO, 1).assignees == [ANA.github]


def test_unassignable_login_is_a_clear_permanent_error(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    env = make_env(empty_sandbox, tmp_path, team={
        "ana": {"name": "Ana Reyes", "github": "ana-reyes", "slack": "U0ANA"},
        "zed": {"name": "Zed Typo", "github": "zed-not-a-collaborator", "slack": "U0ZED"},
    })
    rid = env.github_request()
    env.actions().assign(rid, "zed")
    report = env.drain()
    assert report.counts["needs_attention"] == 1
    assert "cannot be assigned in va-identity/support" in (report.needs_attention[0].last_error or "")


@pytest.mark.parametrize(("error", "reason"), [
    ("invalid_auth", "Slack refused the token (invalid_auth)"),
    ("channel_not_found", "Slack cannot reply in the Slack thread"),
    ("not_in_channel", "the app is not in the channel"),
])
def test_slack_permanent_errors(env: WritebackEnv, error: str, reason: str) -> None:
    sid = env.slack_request()
    env.actions().reply(sid, text="Hi")
    env.sb.slack.faults.add("chat.postMessage", error=error)
    report = env.drain()
    assert report.counts["needs_attention"] == 1
    assert reason in (report.needs_attention[0].last_error or "")
    assert _thread_replies(env, sid) == []


def test_assign_then_close_queued_offline_close_fails_and_stays_retriable(env: WritebackEnv) -> None:
    rid = env.github_request()
    actions = env.actions()
    actions.assign(rid, "ana")
    actions.close(rid, template=None)
    env.sb.github.faults.add("PATCH /repos/*", status=422)
    report = env.drain()
    assert [a.kind for a in report.sent] == [ActionKind.ASSIGN, ActionKind.REPLY]
    assert [a.kind for a in report.needs_attention] == [ActionKind.CLOSE]
    assert env.gh.issue(REPO, 1).assignees == [ANA.github] and env.gh.issue(REPO, 1).state == "open"
    actions.retry(report.needs_attention[0].id)
    assert env.drain().counts["sent"] == 1
    assert env.gh.issue(REPO, 1).state == "closed"


# --------------------------------------------------------------------------- restarts, two processes


def test_nothing_is_lost_across_restarts(env: WritebackEnv) -> None:
    rid = env.github_request()
    sid = env.slack_request()
    env.actions().take(rid)
    env.actions().close(sid)
    env.sb.github.faults.add("POST /repos/*/comments", "rate_limit", status=429, retry_after=30)
    first = env.dispatcher().run_once(max_actions=2)  # assign sent, comment rate limited
    assert first.counts["sent"] == 1 and first.counts["retrying"] == 1
    env.store.close()
    # A new process: new connection, new dispatcher, same database file.
    store = Store.open(env.settings.db)
    env.clock.advance(30)
    report = env.drain(env.dispatcher(store=store))
    assert report.counts["sent"] == 3  # the comment, the Slack close message, the reaction
    unsent = [a for a in env.actions().all() if a.state is not ActionState.SENT]
    assert unsent == []
    assert len(_comments(env)) == 1 and len(_thread_replies(env, sid)) == 1


def test_two_dispatchers_on_one_database_never_send_twice(env: WritebackEnv) -> None:
    import threading

    ids = [env.github_request(f"Request {n}", sync=False) for n in range(6)]
    env.sync()
    for rid in ids:
        env.actions().reply(rid, text=f"Reply to {rid}")
    reports = []

    def run() -> None:
        store = Store.open(env.settings.db)
        reports.append(env.dispatcher(store=store).run_once())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(r.counts["sent"] for r in reports) == 6
    assert env.sb.github.calls.count("POST", "*/comments") == 6
    for n in range(1, 7):
        assert len(_comments(env, number=n)) == 1


# --------------------------------------------------------------------------- conflicts


def test_someone_else_assigned_meanwhile_is_not_overwritten(env: WritebackEnv) -> None:
    rid = env.github_request()
    actions = env.actions()
    queued = actions.take(rid)
    env.gh.assign(REPO, 1, [BEN.github], actor=BEN.github)  # Ben, on GitHub, before we send
    report = env.drain()
    assert report.counts["needs_attention"] == 1
    message = report.needs_attention[0].last_error or ""
    assert message.startswith("conflict: va-identity/support#1 is now assigned to @ben-okafor")
    assert "@ben-okafor assigned @ben-okafor" in message
    assert env.gh.issue(REPO, 1).assignees == [BEN.github]
    assert _comments(env) == []  # the "assigned to Ana" message did not go out
    # Retrying means "do it anyway".
    retried = actions.retry(queued[0].id)
    assert retried.params.get("force") is True
    assert env.drain().counts["sent"] == 2
    assert env.gh.issue(REPO, 1).assignees == [ANA.github]


def test_someone_else_closed_meanwhile(env: WritebackEnv) -> None:
    rid = env.github_request()
    env.actions().close(rid)
    env.gh.close_issue(REPO, 1, reason="completed", actor=BEN.github)
    report = env.drain()
    assert report.counts["needs_attention"] == 1
    assert "was closed by @ben-okafor" in (report.needs_attention[0].last_error or "")
    assert _comments(env) == []


def test_slack_only_conflict_with_another_idqueue(env: WritebackEnv) -> None:
    sid = env.slack_request()
    env.actions().take(sid)
    ts = sid.split("/")[1]
    # Ben's idqueue took it first (a metadata message in the thread).
    env.slack.post(CHANNEL, "U0IDQUEUE", "This request is assigned to <@U0BEN>.", thread_ts=ts, metadata={
        "event_type": "idqueue_action",
        "event_payload": {"action_id": "benaction01", "action": "assign", "assignee": "ben", "actor": "ben",
                          "automation": True},
    })
    report = env.drain()
    assert report.counts["needs_attention"] == 1
    assert "Ben Okafor (via idqueue) assigned it to Ben Okafor" in (report.needs_attention[0].last_error or "")
    assert len(_thread_replies(env, sid)) == 1  # only Ben's


def test_own_queued_actions_are_not_conflicts(env: WritebackEnv) -> None:
    rid = env.github_request()
    sid = env.slack_request()
    actions = env.actions()
    for target in (rid, sid):
        actions.take(target)
        actions.backlog(target)  # queued before the take was sent: expects "assigned to Ana"
    report = env.drain()
    assert report.counts["needs_attention"] == 0, [a.last_error for a in report.needs_attention]
    env.sync()
    assert env.store.get_request(rid).status.value == "backlog"  # type: ignore[union-attr]
    assert env.store.get_request(sid).status.value == "backlog"  # type: ignore[union-attr]


def test_drop_takes_the_rest_of_the_verb_with_it(env: WritebackEnv) -> None:
    rid, _ = env.linked_request()
    actions = env.actions()
    queued = actions.close(rid)
    env.gh.close_issue(REPO, 1, actor=BEN.github)
    env.drain()
    dropped = actions.dropped_with(queued[0].id)
    assert [a.id for a in dropped] == [a.id for a in queued]
    assert all(a.state is ActionState.DROPPED for a in dropped)
    assert env.drain().counts["sent"] == 0
    assert env.posts() == []
