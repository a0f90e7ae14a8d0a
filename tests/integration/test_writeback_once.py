"""Exactly once under pauses, late writes and long threads: every duplicate path, counted upstream.

For both writers (GitHub comment, Slack thread reply), each test counts the writes the emulator
received for the action (its marker / metadata) and the copies the destination holds:

(a) a sender stopped (``SIGSTOP``) past its lease while a second sender takes the action over:
    real subprocesses, paused after claiming, at the fence check, and with the write in flight;
(b) a write the server applies after the client's timeout (late write, late answer);
(c) a lost response on an issue with 1,005 comments / a Slack thread longer than one page.

Time is scaled through the ``[outbox]`` settings so the tests take seconds: a 1 s request timeout
stands for the default 20 s, and the other durations shrink by the same factor of 20.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from outbox_env import CHANNEL, NOW, REPO, REQUESTER, WritebackEnv, make_env

from idqueue.domain.models import parse_iso
from idqueue.integrations.loopback import Fault
from idqueue.outbox.dispatcher import Dispatcher, DispatchReport
from idqueue.outbox.models import Action, ActionState
from idqueue.sandbox.runner import Sandbox

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCALE = 20.0
"""Real durations divided by this: the 20 s request timeout becomes 1 s."""
PAUSE_OUTBOX = {"request_timeout": 1.0, "inflight_horizon": 1.0, "lease_seconds": 3.0}
LATE_OUTBOX = {"request_timeout": 20.0 / SCALE, "inflight_horizon": 90.0 / SCALE, "lease_seconds": 180.0 / SCALE}
TARGETS = ["github", "slack"]


# --------------------------------------------------------------------------- fixtures and counts


def _live_env(sb: Sandbox, tmp_path: Path, outbox: dict[str, float]) -> WritebackEnv:
    return make_env(sb, tmp_path, now=None, outbox=outbox)


def _queue_reply(env: WritebackEnv, target: str, text: str = "Looking into it") -> Action:
    rid = env.github_request() if target == "github" else env.slack_request()
    queued = env.actions().reply(rid, text=text)
    assert len(queued) == 1 and queued[0].target == target
    return queued[0]


def _writes(env: WritebackEnv, action: Action) -> int:
    """Write requests for this action that reached the emulator (answered, stalled or dropped)."""
    if action.target == "github":
        mark = f"idqueue:action={action.id}"
        return sum(mark in str((c.body or {}).get("body", "")) for c in env.sb.github.calls.calls_to("POST", "*/comments"))
    return sum(_payload(c.body).get("action_id") == action.id for c in env.posts())


def _payload(body: Any) -> dict[str, Any]:
    meta = body.get("metadata") if isinstance(body, dict) else None
    if isinstance(meta, str):
        meta = json.loads(meta)
    payload = meta.get("event_payload") if isinstance(meta, dict) else None
    return payload if isinstance(payload, dict) else {}


def _copies(env: WritebackEnv, action: Action) -> int:
    """Copies of the action the destination holds."""
    if action.target == "github":
        mark = f"idqueue:action={action.id}"
        return sum(mark in c.body for c in env.gh.repo(REPO).comments)
    return sum(_payload({"metadata": m.metadata}).get("action_id") == action.id
               for m in env.slack.channel(CHANNEL).messages.values())


def _assert_once(env: WritebackEnv, action: Action) -> Action:
    final = env.actions().get(action.id)
    assert final.state is ActionState.SENT, (final.state, final.last_error)
    assert _writes(env, action) == 1
    assert _copies(env, action) == 1
    return final


def _outcomes(env: WritebackEnv, action: Action) -> list[str]:
    return [entry.outcome for entry in env.actions().outbox.log(action.id)]


# --------------------------------------------------------------------------- (a) paused senders


def _sender(env: WritebackEnv, tmp_path: Path, *, pause: str | None = None) -> subprocess.Popen[str]:
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    out = {k: v for k, v in os.environ.items() if not k.startswith("IDQUEUE_")}
    out.update(env.sb.env())
    out.update({f"IDQUEUE_OUTBOX__{k.upper()}": str(v) for k, v in PAUSE_OUTBOX.items()})
    out.update(IDQUEUE_DB=str(env.settings.db), IDQUEUE_CONFIG_FILE=str(config), PYTHONPATH=str(ROOT))
    if pause:
        out["IDQUEUE_OUTBOX_PAUSE_AT"] = pause
    return subprocess.Popen([sys.executable, "-m", "idqueue.outbox.dispatcher", "--throttle", "0"], env=out,
                            cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(what: str, predicate: Callable[[], bool], limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def _stopped(proc: subprocess.Popen[str]) -> bool:
    stat = Path(f"/proc/{proc.pid}/stat").read_text(encoding="utf-8")
    return stat.rsplit(")", 1)[1].split()[0] in ("T", "t")


def _wait_past_lease(env: WritebackEnv, action: Action) -> None:
    """Until the paused sender's lease and in-flight horizon have both run out."""
    row = env.store.conn.execute("SELECT lease_until, inflight_until FROM outbox WHERE id=?", (action.id,)).fetchone()
    until = max(t for t in (parse_iso(row["lease_until"]), parse_iso(row["inflight_until"]), datetime.now(UTC)) if t)
    _wait_for("the lease to run out", lambda: datetime.now(UTC) > until + timedelta(seconds=0.1))


def _finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return out


def _takeover(env: WritebackEnv, tmp_path: Path, action: Action, paused: subprocess.Popen[str]) -> None:
    """A second sender takes the paused one's action over and finishes; then the first resumes."""
    try:
        _wait_past_lease(env, action)
        second = _finish(_sender(env, tmp_path))
        assert "sent 1" in second
    finally:
        paused.send_signal(signal.SIGCONT)
    first = _finish(paused)
    assert "sent 0" in first  # it wrote and recorded nothing after resuming


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("point", ["claimed", "fenced", "sent"])
def test_a_sender_paused_past_its_lease_never_duplicates(
    live_sandbox: Sandbox, tmp_path: Path, target: str, point: str
) -> None:
    """Stopped after claiming, right after its fence check, or after writing but before recording."""
    env = _live_env(live_sandbox, tmp_path, PAUSE_OUTBOX)
    action = _queue_reply(env, target)
    first = _sender(env, tmp_path, pause=f"{point}:reply:{target}")
    _wait_for("the first sender to stop", lambda: first.poll() is not None or _stopped(first))
    assert first.poll() is None
    assert _writes(env, action) == (1 if point == "sent" else 0)
    _takeover(env, tmp_path, action, first)
    final = _assert_once(env, action)
    assert final.attempts == 2 and final.fence == 2
    assert final.result.get("reconciled", False) is (point == "sent")
    outcomes = _outcomes(env, action)
    assert "recovered" in outcomes and "lease-lost" in outcomes


@pytest.mark.parametrize("target", TARGETS)
def test_a_sender_paused_with_its_write_in_flight_never_duplicates(
    live_sandbox: Sandbox, tmp_path: Path, target: str
) -> None:
    env = _live_env(live_sandbox, tmp_path, PAUSE_OUTBOX)
    action = _queue_reply(env, target)
    # The server holds the write for 1.5 s (within timeout + horizon), then applies it.
    faults = env.sb.github.faults if target == "github" else env.sb.slack.faults
    stall = faults.add("POST /repos/*/comments" if target == "github" else "chat.postMessage", "timeout",
                       seconds=1.5)
    first = _sender(env, tmp_path)
    _wait_for("the write to reach the server", lambda: stall.hits == 1)
    first.send_signal(signal.SIGSTOP)
    _wait_for("the first sender to stop", lambda: _stopped(first))
    _takeover(env, tmp_path, action, first)
    final = _assert_once(env, action)
    assert final.result.get("reconciled") is True  # the second sender found it, did not post
    assert "lease-lost" in _outcomes(env, action)


# --------------------------------------------------------------------------- (b) late writes


def _drain_live(dispatcher: Dispatcher, rounds: int = 10) -> DispatchReport:
    """Run until nothing is due, sleeping (real time) until each retry."""
    total = DispatchReport()
    for _ in range(rounds):
        total.merge(dispatcher.run_once())
        if total.next_due is None:
            break
        time.sleep(max(0.0, (total.next_due - datetime.now(UTC)).total_seconds()) + 0.05)
    return total


def _stall(env: WritebackEnv, target: str, kind: str, seconds: float) -> Fault:
    faults = env.sb.github.faults if target == "github" else env.sb.slack.faults
    return faults.add("POST /repos/*/comments" if target == "github" else "chat.postMessage", kind, seconds=seconds)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("kind", ["timeout", "apply_then_stall"])
def test_a_timed_out_write_that_lands_late_is_not_resent(
    live_sandbox: Sandbox, tmp_path: Path, target: str, kind: str
) -> None:
    """``timeout``: applied 70 s (scaled) after the request, 50 s after the client gave up;
    ``apply_then_stall``: applied at once, answered 70 s later."""
    env = _live_env(live_sandbox, tmp_path, LATE_OUTBOX)
    action = _queue_reply(env, target)
    fault = _stall(env, target, kind, 70.0 / SCALE)
    dispatcher = Dispatcher(env.store, env.settings, writers=env.writers(timeout=LATE_OUTBOX["request_timeout"]),
                            clock=env.clock, throttle=0)
    report = _drain_live(dispatcher)
    assert report.counts["sent"] == 1 and fault.hits == 1
    final = _assert_once(env, action)
    assert final.result.get("reconciled") is True and final.attempts == 2
    retry = next(e for e in env.actions().outbox.log(action.id) if e.outcome == "retry")
    assert "timed out" in retry.detail


def test_a_write_applied_after_the_horizon_is_the_documented_window(live_sandbox: Sandbox, tmp_path: Path) -> None:
    """What the README states as the limit: a write applied later than timeout + horizon can be
    posted twice (here the horizon is cut to 0.5 s and the server applies after 3.5 s)."""
    env = _live_env(live_sandbox, tmp_path, {**LATE_OUTBOX, "inflight_horizon": 0.5})
    action = _queue_reply(env, "github")
    _stall(env, "github", "timeout", 70.0 / SCALE)
    dispatcher = Dispatcher(env.store, env.settings, writers=env.writers(timeout=1.0), clock=env.clock, throttle=0)
    _drain_live(dispatcher)
    _wait_for("the late write", lambda: _copies(env, action) == 2)
    assert _writes(env, action) == 2


def test_repeated_timeouts_double_the_horizon(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    env = make_env(empty_sandbox, tmp_path)
    action = _queue_reply(env, "github")
    env.sb.github.faults.add("POST /repos/*/comments", "timeout", seconds=1.5, drop=True, times=2)
    dispatcher = env.dispatcher(timeout=1.0)
    horizon = env.settings.outbox.inflight_horizon
    waits = []
    for _ in range(2):
        failed_at = env.clock()
        dispatcher.run_once()
        due = env.actions().get(action.id).next_attempt_at
        assert due is not None
        waits.append((due - failed_at).total_seconds())
        env.clock.set(due)
    assert waits == [horizon, 2 * horizon]
    report = env.drain(dispatcher)
    assert report.counts["sent"] == 1
    assert _copies(env, action) == 1


# --------------------------------------------------------------------------- (c) long threads


def test_lost_response_on_an_issue_with_1005_comments_is_found(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    env = make_env(empty_sandbox, tmp_path)
    action = _queue_reply(env, "github")
    number = int(action.params["number"])
    for n in range(1005):
        env.gh.add_comment(REPO, number, f"comment {n}", user=REQUESTER.github)
    env.sb.github.faults.add("POST /repos/*/comments", "drop_after_apply")
    env.clear_calls()
    report = env.drain()
    assert report.counts["sent"] == 1
    final = _assert_once(env, action)
    assert final.result.get("reconciled") is True
    lookups = env.sb.github.calls.calls_to("GET", f"/repos/{REPO}/issues/{number}/comments")
    assert all("since" in c.query for c in lookups)
    # Newest first: the first page (it names the last), then the last page, where the comment is.
    assert [c.query["page"] for c in lookups] == ["1", "11"]


def test_the_comment_lookup_reads_only_what_is_newer_than_the_first_attempt(
    empty_sandbox: Sandbox, tmp_path: Path
) -> None:
    env = make_env(empty_sandbox, tmp_path)
    action = _queue_reply(env, "github")
    number = int(action.params["number"])
    for n in range(1005):
        env.gh.add_comment(REPO, number, f"comment {n}", user=REQUESTER.github, at=NOW - timedelta(days=2))
    env.sb.github.faults.add("POST /repos/*/comments", "drop_after_apply")
    env.clear_calls()
    env.drain()
    _assert_once(env, action)
    assert env.sb.github.calls.count("GET", f"/repos/{REPO}/issues/{number}/comments") == 1


def test_lost_response_in_a_slack_thread_longer_than_a_page_is_found(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    env = make_env(empty_sandbox, tmp_path)
    action = _queue_reply(env, "slack")
    thread_ts = str(action.params["thread_ts"])
    for n in range(450):
        env.slack.post(CHANNEL, REQUESTER.slack, f"reply {n}", thread_ts=thread_ts)
    env.sb.slack.faults.add("chat.postMessage", "drop_after_apply")
    env.clear_calls()
    report = env.drain()
    assert report.counts["sent"] == 1
    final = _assert_once(env, action)
    assert final.result.get("reconciled") is True
    lookups = env.sb.slack.calls.api("conversations.replies")
    assert len(lookups) >= 3  # 452 messages, 200 a page
    assert all({**c.query, **(c.body or {})}.get("oldest") for c in lookups)
