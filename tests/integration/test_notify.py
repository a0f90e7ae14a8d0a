"""Support-channel notifications (``[notify]``) end to end: the real sources poll the loopback
emulators, :class:`~idqueue.notify.Notifier` queues, the dispatcher posts with the real
slack-sdk client, and what lands in the emulator's channel is checked.
"""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from outbox_env import BEN, CHANNEL, NOW, REPO, REQUESTER, WritebackEnv, make_env, run_cli
from test_writeback_crash import _run_dispatcher

from idqueue.integrations.github.source import GitHubSource
from idqueue.integrations.slack.source import SlackSource
from idqueue.notify import Notifier, NotifyReport, notification_id
from idqueue.outbox.models import ActionState
from idqueue.sandbox.runner import Sandbox
from idqueue.store.db import Store
from idqueue.sync import SyncEngine

SUPPORT = "C0TRIAGE"


def notify_env(sb: Sandbox, tmp_path: Path, **notify: Any) -> WritebackEnv:
    """An environment whose notifications go to a #support channel (announcing from an hour ago)."""
    notify.setdefault("channel", SUPPORT)
    notify.setdefault("since", NOW - timedelta(hours=1))
    env = make_env(sb, tmp_path, notify=notify)
    sb.slack.state.add_channel(SUPPORT, "support")
    return env


def poll(env: WritebackEnv, store: Store | None = None) -> NotifyReport:
    """One poll of both sources, then the notifier, as ``idqueue sync`` and the TUI do."""
    store = store or env.store
    sources = [GitHubSource(env.settings, clock=env.clock, sleep=lambda _s: None),
               SlackSource(env.settings, clock=env.clock, sleep=lambda _s: None)]
    report = SyncEngine(store, sources, env.settings, clock=env.clock).poll()  # type: ignore[arg-type]
    for source in sources:
        source.close()
    assert not report.errors, [str(e) for e in report.errors]
    return Notifier(store, env.settings, clock=env.clock).after_poll(report.created)


def support_messages(env: WritebackEnv) -> tuple[list[Any], list[Any]]:
    """(top-level messages, thread replies) in the support channel, oldest first."""
    messages = sorted(env.slack.channel(SUPPORT).messages.values(), key=lambda m: m.ts)
    return [m for m in messages if not m.is_reply], [m for m in messages if m.is_reply]


def test_a_new_request_is_posted_once_across_repolls_and_restarts(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    env = notify_env(empty_sandbox, tmp_path)
    rid = env.github_request("Mock auth user cannot sign in", sync=False)
    assert len(poll(env).queued) == 1
    env.drain()
    top, replies = support_messages(env)
    assert len(top) == 1 and replies == []
    request = env.store.get_request(rid)
    assert request is not None
    text = top[0].text
    assert text.startswith(":inbox_tray: New request <")
    assert f"|{request.key}>" in text and "Mock auth user cannot sign in" in text
    assert request.requester is not None and f"*Requester:* {request.requester.name}" in text
    assert "*Priority:* P" in text and "*SLA due:*" in text
    assert f"/{REPO}/issues/" in text and "|GitHub issue>" in text
    assert top[0].metadata["event_payload"]["action"] == "notify"
    # A re-poll, and a restarted process on the same database, queue nothing more.
    assert poll(env).queued == []
    restarted = Store.open(env.settings.db)
    try:
        assert poll(env, restarted).queued == []
    finally:
        restarted.close()
    env.drain()
    assert len(support_messages(env)[0]) == 1
    assert len(env.posts()) == 1


def test_at_risk_then_breached_reply_in_the_requests_thread(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    env = notify_env(empty_sandbox, tmp_path)
    rid = env.slack_request("Can someone help me with a test user for staging?", sync=False)
    poll(env)
    env.drain()
    request = env.store.get_request(rid)
    assert request is not None and request.sla.at_risk_at is not None and request.sla.due_at is not None
    env.clock.set(request.sla.at_risk_at + timedelta(minutes=1))
    assert [a.params["notify"] for a in poll(env).queued] == ["at_risk"]
    env.drain()
    env.clock.set(request.sla.due_at + timedelta(minutes=1))
    assert [a.params["notify"] for a in poll(env).queued] == ["breached"]
    env.drain()
    assert poll(env).queued == []
    top, replies = support_messages(env)
    assert len(top) == 1 and len(replies) == 2
    assert all(r.thread_ts == top[0].ts for r in replies)
    assert replies[0].text.startswith(":warning: <") and "is *at risk*" in replies[0].text
    assert replies[1].text.startswith(":rotating_light: <") and "*breached*" in replies[1].text
    # Replies are short: the facts are in the thread's first message.
    assert "*Requester:*" not in replies[0].text


def test_a_crossing_queued_before_the_first_message_is_sent_still_goes_in_its_thread(
    empty_sandbox: Sandbox, tmp_path: Path
) -> None:
    env = notify_env(empty_sandbox, tmp_path)
    rid = env.github_request(sync=False)
    poll(env)  # "new" queued, not sent
    request = env.store.get_request(rid)
    assert request is not None and request.sla.due_at is not None
    env.clock.set(request.sla.due_at + timedelta(minutes=1))
    queued = poll(env).queued
    assert [a.params["notify"] for a in queued] == ["breached"]
    assert queued[0].params["thread_from"] == notification_id(SUPPORT, "new", rid)
    report = env.drain()
    assert report.counts["sent"] == 2
    top, replies = support_messages(env)
    assert len(top) == 1 and len(replies) == 1 and replies[0].thread_ts == top[0].ts


def test_hostile_titles_never_broadcast_or_mention(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    env = notify_env(empty_sandbox, tmp_path)
    env.github_request("<!channel> @here <@U0BEN> <!subteam^S1|team> [bold red]x[/] \x1b[31mred\x1b[0m", sync=False)
    poll(env)
    env.drain()
    (message,), _ = support_messages(env)
    text = message.text
    assert "<!" not in text and "<@" not in text and "\x1b" not in text
    assert "&lt;!channel&gt;" in text and "&lt;@U0BEN&gt;" in text and "`@here`" in text
    assert "[bold red]x[/]" in text  # shown as typed; Slack does not read Rich markup


def test_notifications_off_post_nothing(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    env = make_env(empty_sandbox, tmp_path)
    empty_sandbox.slack.state.add_channel(SUPPORT, "support")
    env.github_request(sync=False)
    report = poll(env)
    assert report.queued == [] and report.summary() == "notify: off"
    env.drain()
    assert env.posts() == [] and env.store.cursors("notify") == {}


def test_turning_notifications_on_does_not_announce_the_backlog(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    before = make_env(empty_sandbox, tmp_path)
    old = before.github_request("Old request")
    before.store.close()
    empty_sandbox.clock.advance(timedelta(minutes=5))
    env = notify_env(empty_sandbox, tmp_path, since=None)
    assert poll(env).queued == []
    recorded = env.store.cursors("notify")
    assert list(recorded) == [f"since:{SUPPORT}"]
    # A request created after that moment is announced; the old one is not.
    new = env.github_request("New request", sync=False)
    assert [a.request_id for a in poll(env).queued] == [f"notify:{new}"]
    # The moment stays where it was recorded (a later poll does not move it).
    assert env.store.cursors("notify") == recorded
    # The old request crossing its at-risk line after that moment is announced, on its own.
    old_request = env.store.get_request(old)
    assert old_request is not None and old_request.sla.at_risk_at is not None
    env.clock.set(old_request.sla.at_risk_at + timedelta(minutes=1))
    queued = poll(env).queued
    assert [(a.request_id, a.params["notify"]) for a in queued] == [(f"notify:{old}", "at_risk")]
    assert "thread_from" not in queued[0].params and "*Requester:*" in (queued[0].text or "")


def test_events_and_types_filter_what_is_announced(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    env = notify_env(empty_sandbox, tmp_path, events=["breached"])
    rid = env.github_request(sync=False)
    assert poll(env).queued == []
    request = env.store.get_request(rid)
    assert request is not None and request.sla.due_at is not None
    env.clock.set(request.sla.due_at + timedelta(minutes=1))
    assert [a.params["notify"] for a in poll(env).queued] == ["breached"]
    other = notify_env(empty_sandbox, tmp_path / "types", types=["Feature Request"])
    other.github_request("Another", sync=False)
    assert poll(other).queued == []
    customers = notify_env(empty_sandbox, tmp_path / "customers", customers=["acme"])
    customers.github_request("Yet another", sync=False)
    assert poll(customers).queued == []


def test_two_processes_queue_each_notification_once(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    env = notify_env(empty_sandbox, tmp_path)
    env.github_request("One", sync=False)
    env.slack_request("Two", sync=False)
    env.sync()
    stores = [Store.open(env.settings.db) for _ in range(2)]
    try:
        first, second = (Notifier(s, env.settings, clock=env.clock) for s in stores)
        assert len(first.after_poll().queued) == 2
        assert second.after_poll().queued == []
    finally:
        for store in stores:
            store.close()
    assert len([a for a in env.actions().all() if a.params.get("notify")]) == 2


@pytest.mark.slow
@pytest.mark.parametrize("which", ["new", "at_risk"])
def test_killed_between_send_and_record_posts_exactly_once(
    empty_sandbox: Sandbox, tmp_path: Path, which: str
) -> None:
    env = notify_env(empty_sandbox, tmp_path)
    rid = env.github_request(sync=False)
    poll(env)
    if which == "at_risk":
        env.drain()
        request = env.store.get_request(rid)
        assert request is not None and request.sla.at_risk_at is not None
        env.clock.set(request.sla.at_risk_at + timedelta(minutes=1))
        assert len(poll(env).queued) == 1
    proc = _run_dispatcher(env, tmp_path, "sent:reply:slack")
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, stderr
    report = env.drain()
    assert report.counts["sent"] == 1 and report.counts["needs_attention"] == 0
    action = next(a for a in env.actions().all() if a.params.get("notify") == which)
    assert action.state is ActionState.SENT and action.result.get("reconciled") is True
    top, replies = support_messages(env)
    assert len(top) == 1 and len(replies) == (1 if which == "at_risk" else 0)


def test_sync_once_queues_and_sends_and_doctor_checks_the_channel(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    env = notify_env(empty_sandbox, tmp_path)
    env.github_request(sync=False)
    result = run_cli(env, "sync", "--once")
    assert result.exit_code == 0, result.output
    assert f"notify: 1 queued for {SUPPORT}" in result.output and "outbox: sent 1" in result.output
    assert len(support_messages(env)[0]) == 1
    doctor = run_cli(env, "doctor")
    assert "slack notify channel" in doctor.output and "the bot is a member of #support" in doctor.output
    empty_sandbox.slack.state.channel(SUPPORT).bot_member = False
    doctor = run_cli(env, "doctor")
    assert doctor.exit_code == 1
    assert "FAILED: the bot is not a member of #support (C0TRIAGE)" in doctor.output


def test_a_failing_notification_waits_without_holding_up_the_requests_own_actions(
    empty_sandbox: Sandbox, tmp_path: Path
) -> None:
    env = notify_env(empty_sandbox, tmp_path)
    empty_sandbox.slack.state.channel(SUPPORT).bot_member = False
    rid = env.github_request(sync=False)
    assert len(poll(env).queued) == 1
    env.actions().reply(rid, text="We are on it.")
    report = env.drain()
    assert report.counts["sent"] == 1 and report.counts["needs_attention"] == 1
    (stuck,) = report.needs_attention
    assert stuck.params["notify"] == "new" and "not in" in (stuck.last_error or "")
    assert len(env.gh.repo(REPO).comments) == 1
    assert env.slack.channel(SUPPORT).messages == {}
    # The outbox names the request the notification is about, not an internal id.
    key = env.store.get_request(rid).key
    listed = run_cli(env, "outbox")
    line = next(ln for ln in listed.output.splitlines() if stuck.id in ln)
    assert f"  {key} " in line and "notify:" not in line.split(key)[0], listed.output
    assert "notify in C0TRIAGE: new request" in line


def test_the_outbox_screen_names_a_notifications_request(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    from idqueue.notify import action_label, outbox_request_keys

    env = notify_env(empty_sandbox, tmp_path)
    rid = env.github_request(sync=False)
    (queued,) = poll(env).queued
    assert queued.request_id.startswith("notify:")
    key, now_id = outbox_request_keys(env.store, [queued.request_id])[queued.request_id]
    assert (key, now_id) == (env.store.get_request(rid).key, rid)
    assert action_label(queued) == "notify"
    assert outbox_request_keys(env.store, ["notify:gone"])["notify:gone"] == ("notify:gone", "notify:gone")


def test_a_requesters_new_message_is_announced_once_in_the_requests_thread(
    empty_sandbox: Sandbox, tmp_path: Path
) -> None:
    """"Any new activity": the requester writing again posts once in the request's thread; a
    teammate's reply does not; each further message posts once more; ``events`` can leave it out."""
    env = notify_env(empty_sandbox, tmp_path)
    rid = env.slack_request("Can someone help me with a test user for staging?", sync=False)
    poll(env)
    env.drain()
    ts = rid.rsplit("/", 1)[1]
    env.clock.advance(timedelta(minutes=5))
    env.slack.post(CHANNEL, BEN.slack, "Looking at it now.", thread_ts=ts)  # the team: not announced
    assert poll(env).queued == []
    env.clock.advance(timedelta(minutes=5))
    env.slack.post(CHANNEL, REQUESTER.slack, "Thanks! It is for the <!here> demo tomorrow.", thread_ts=ts)
    assert [a.params["notify"] for a in poll(env).queued] == ["reply"]
    env.drain()
    assert poll(env).queued == []  # re-polls: once
    env.clock.advance(timedelta(minutes=5))
    env.slack.post(CHANNEL, REQUESTER.slack, "Any news?", thread_ts=ts)
    assert [a.params["notify"] for a in poll(env).queued] == ["reply"]
    env.drain()
    top, replies = support_messages(env)
    assert len(top) == 1 and len(replies) == 2 and all(r.thread_ts == top[0].ts for r in replies)
    key = env.store.get_request(rid).key  # type: ignore[union-attr]
    assert replies[0].text.startswith(":speech_balloon: New message on <") and f"|{key}>" in replies[0].text
    assert f"*{REQUESTER.name}:*" in replies[0].text and "It is for the" in replies[0].text
    assert "<!here>" not in replies[0].text and "Any news?" in replies[1].text
    # A team that wants only new requests and SLA warnings leaves "reply" out.
    quiet = notify_env(empty_sandbox, tmp_path / "quiet", events=["new", "at_risk", "breached"])
    env.clock.advance(timedelta(minutes=5))
    env.slack.post(CHANNEL, REQUESTER.slack, "Hello again", thread_ts=ts)
    assert all(a.params["notify"] != "reply" for a in poll(quiet).queued)
