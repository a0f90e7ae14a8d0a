"""Queue truth: the Slack source never disagrees with Slack, however old the request.

Every test runs the real CLI (``idqueue sync --once``, ``list --json``, ``show --json``) or the
sync engine with the real slack-sdk ``WebClient`` (and httpx for GitHub) against the loopback
emulators. The requests are older than ``lookback_hours``, so only the open-thread checks, the
linked-message reads and Socket Mode can bring their changes in.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from idqueue.cli import cli  # import the CLI first: it registers the command modules
from idqueue.config import Settings
from idqueue.domain.models import slack_id
from idqueue.integrations.slack.convert import ts_to_datetime
from idqueue.integrations.slack.source import SlackSource
from idqueue.sandbox import seed as seed_mod
from idqueue.sandbox.runner import Sandbox
from idqueue.sandbox.slack_emulator import SLACK_TOKEN, SlackMessage
from idqueue.store.db import Store
from idqueue.sync import SourceHealth, SyncEngine

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
CH = seed_mod.CHANNEL
BOT = seed_mod.INTAKE_BOT_ID
WAIT = 20.0


@pytest.fixture
def sb(empty_sandbox: Sandbox, sandbox_now: datetime, isolated_settings_env: Path) -> Sandbox:
    """The empty sandbox (channels, people, no messages) at ``NOW``; no IDQUEUE_* from the shell."""
    assert sandbox_now == NOW
    return empty_sandbox


@dataclass
class Cli:
    """The real CLI pointed at the sandbox, one database, the sandbox clock as ``IDQUEUE_NOW``."""

    sb: Sandbox
    db: Path
    extra: dict[str, str]
    minimal: bool = False

    def env(self) -> dict[str, str | None]:
        if self.minimal:
            # What a newcomer sets: tokens and channels, nothing else.
            base: dict[str, str | None] = {
                "IDQUEUE_SLACK_TOKEN": SLACK_TOKEN,
                "IDQUEUE_SLACK_BASE_URL": self.sb.slack.url,
                "IDQUEUE_SLACK_CHANNELS": CH,
                "IDQUEUE_NOW": self.sb.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        else:
            base = dict(self.sb.env())
        return {**base, "IDQUEUE_DB": str(self.db), "GITHUB_TOKEN": None, "GH_TOKEN": None,
                "SLACK_BOT_TOKEN": None, **self.extra}

    def run(self, *args: str) -> Result:
        result = CliRunner().invoke(cli, list(args), env=self.env())
        assert "Traceback" not in result.output, result.output
        return result

    def sync(self) -> str:
        result = self.run("sync", "--once", "--quiet")
        assert result.exit_code == 0, result.output
        return result.output

    def listed(self) -> list[dict[str, Any]]:
        result = self.run("list", "--json", "--all")
        assert result.exit_code == 0, result.output
        return list(json.loads(result.stdout))

    def show(self, request_id: str) -> dict[str, Any]:
        result = self.run("show", request_id, "--json")
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout))


def make_cli(sb: Sandbox, tmp_path: Path, *, minimal: bool = False, **extra: str) -> Cli:
    return Cli(sb, tmp_path / "queue.db", dict(extra), minimal)


def ticketed(sb: Sandbox, days_ago: float, text: str, *, user: str = "U0REQ01", channel: str = CH) -> SlackMessage:
    """A requester's message a teammate marked with :ticket: ``days_ago`` days before NOW."""
    msg = sb.slack.state.post(channel, user, text, at=NOW - timedelta(days=days_ago))
    sb.slack.state.react(channel, msg.ts, "ticket", "U0BEN")
    return msg


def replies_read(sb: Sandbox, ts: str) -> int:
    """How many ``conversations.replies`` calls asked for this thread."""
    return sum(
        1 for c in sb.slack.calls.api("conversations.replies")
        if str(c.query.get("ts") or (c.body.get("ts") if isinstance(c.body, dict) else "")) == ts
    )


def advance(sb: Sandbox, minutes: int = 5) -> None:
    sb.clock.advance(timedelta(minutes=minutes))


# --------------------------------------------------------------------------- 1. replies under old requests


def test_reply_under_a_ten_day_old_request_shows_on_the_next_sync(sb: Sandbox, tmp_path: Path) -> None:
    # Twelve open requests ten days old: more than the rotating sweep reads in one poll.
    old = [ticketed(sb, 10 + i / 24, f"Question {i}: how do I get a test user?") for i in range(12)]
    q = make_cli(sb, tmp_path)
    q.sync()
    target = old[0]  # the newest of them: the sweep's rotation would reach it last
    rid = slack_id(CH, target.ts)
    assert q.show(rid)["first_response_at"] is None
    advance(sb)
    reply = sb.slack.state.post(CH, "U0DEV", "Done: test user 42 is yours.", thread_ts=target.ts,
                                at=sb.clock())
    before = replies_read(sb, target.ts)
    out = q.sync()
    shown = q.show(rid)
    assert shown["status"] == "acknowledged"
    assert shown["first_response_at"] == ts_to_datetime(reply.ts).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert replies_read(sb, target.ts) == before + 1
    assert "threads: 12 of 12 open checked" in out


def test_most_urgent_threads_first_and_the_summary_says_what_was_skipped(sb: Sandbox, tmp_path: Path) -> None:
    answered = ticketed(sb, 9, "Answered long ago", user="U0REQ02")
    sb.slack.state.post(CH, "U0CHLOE", "On it.", thread_ts=answered.ts, at=NOW - timedelta(days=9) + timedelta(hours=1))
    unanswered = [ticketed(sb, 10 + i, f"Nobody answered me {i}", user="U0REQ03") for i in range(3)]
    # A budget of one thread read a poll (one call a minute, polled every minute).
    q = make_cli(sb, tmp_path, IDQUEUE_SLACK__THREAD_CHECKS_PER_MINUTE="1")
    q.sync()
    advance(sb)
    before = {m.ts: replies_read(sb, m.ts) for m in (answered, *unanswered)}
    out = q.sync()
    read = [m.ts for m in (answered, *unanswered) if replies_read(sb, m.ts) > before[m.ts]]
    assert len(read) == 1 and read[0] != answered.ts  # an unanswered, breached one went first
    assert "threads: 1 of 4 open checked, 3 skipped (budget 1 a poll" in out
    assert "slack.thread_checks_per_minute" in out


def test_the_status_bar_says_how_many_threads_were_not_checked(sb: Sandbox, tmp_path: Path) -> None:
    for i in range(4):
        ticketed(sb, 10 + i, f"Old question {i}")
    overrides = sb.settings_overrides()
    overrides["slack"] = {**overrides["slack"], "thread_checks_per_minute": 2}
    settings = Settings(**overrides, db=tmp_path / "e.db", now=NOW.isoformat())
    store = Store.open(settings.db)
    try:
        engine = SyncEngine(store, [SlackSource(settings, clock=sb.clock, sleep=lambda _s: None)], settings,
                            clock=sb.clock)
        engine.poll()
        report = engine.poll()
    finally:
        store.close()
    (slack,) = report.sources
    assert (slack.stats.threads_due, slack.stats.threads_checked, slack.stats.threads_skipped) == (4, 2, 2)
    health = engine.health["slack"]
    assert health.threads_skipped == 2
    assert status_bar_text([health]).endswith("Slack ok · 2 threads unchecked │ synced 11:30 │ outbox: all sent")


def status_bar_text(health: list[SourceHealth]) -> str:
    """The status bar's plain text for these health states (rendered by the real widget)."""
    from textual.app import App, ComposeResult

    from idqueue.widgets.status_bar import StatusBar

    texts: list[str] = []

    class BarApp(App[None]):
        def compose(self) -> ComposeResult:
            yield StatusBar(timezone="America/New_York", id="bar")

        def on_mount(self) -> None:
            bar = self.query_one(StatusBar)
            bar.set_health(health, NOW)
            texts.append(str(bar.render()).strip())
            self.exit()

    BarApp().run(headless=True)
    return texts[0]


# --------------------------------------------------------------------------- 2. deletions outside the window


@pytest.mark.parametrize("tombstone", [False, True], ids=["thread_not_found", "tombstone"])
def test_a_deleted_old_parent_leaves_the_queue_with_its_reason(sb: Sandbox, tmp_path: Path, tombstone: bool) -> None:
    gone = ticketed(sb, 10, "Who approves CSP test accounts?")
    kept = ticketed(sb, 11, "Another old question")
    if tombstone:
        sb.slack.state.post(CH, "U0ERIN", "Ask the CSP team.", thread_ts=gone.ts, at=NOW - timedelta(days=9))
    q = make_cli(sb, tmp_path)
    q.sync()
    rid = slack_id(CH, gone.ts)
    assert q.show(rid)["status"] in ("new", "acknowledged")
    advance(sb)
    assert sb.slack.state.delete(CH, gone.ts, tombstone=tombstone)
    q.sync()
    shown = q.show(rid)
    assert (shown["status"], shown["status_reason"]) == ("deleted", "deleted at the source")
    assert [r["id"] for r in json.loads(q.run("list", "--json").stdout)] == [slack_id(CH, kept.ts)]
    assert "deleted at the source" in q.run("show", rid).stdout


# --------------------------------------------------------------------------- 3. old linked pairs


def test_an_old_issue_linking_an_old_slack_thread_is_one_request(sb: Sandbox, tmp_path: Path) -> None:
    at = NOW - timedelta(days=45)  # the sandbox reads 40 days of Slack history
    text = ("*New Identity support request*\n*Type:* Data Request\n*Requested by:* <@U0REQ06>\n"
            "*Details:* MFA enrollment rates by CSP")
    msg = sb.slack.state.post(CH, BOT, text, at=at, subtype="bot_message", username=seed_mod.INTAKE_BOT_NAME)
    response_at = at + timedelta(minutes=50)
    sb.slack.state.post(CH, "U0CHLOE", "Pulling this now.", thread_ts=msg.ts, at=response_at)
    permalink = sb.slack.state.permalink(CH, msg.ts)
    issue = sb.github.state.add_issue(
        seed_mod.SUPPORT_REPO, "Need MFA enrollment rates by CSP",
        f"Data request from Slack.\n\nSlack thread: {permalink}", user=seed_mod.GITHUB_BOT, user_type="Bot",
        labels=[seed_mod.LABEL], created_at=at + timedelta(seconds=12))
    q = make_cli(sb, tmp_path)
    q.sync()
    rows = q.listed()
    assert len(rows) == 1
    row = rows[0]
    assert set(row["sources"]) == {"github", "slack"}
    assert slack_id(CH, msg.ts) in row["item_ids"]
    assert f"gh:{seed_mod.SUPPORT_REPO}#{issue.number}" in row["item_ids"]
    assert row["requester"] == "Jordan Blake"  # the Slack form's "Requested by", not the bot
    assert row["first_response_at"] == response_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert q.show(slack_id(CH, msg.ts))["id"] == row["id"]
    # Read once; from then on it is an open request whose thread is checked like the others.
    assert replies_read(sb, msg.ts) == 1


# --------------------------------------------------------------------------- 4. intake forms from any bot


def test_a_workflow_builder_form_is_a_request_with_only_tokens_and_channels(sb: Sandbox, tmp_path: Path) -> None:
    st = sb.slack.state
    st.add_bot("B0WORKFLOW9", "Support intake form", app_id="A0WORKFLOW9")
    form = st.post(CH, "B0WORKFLOW9", "*Type:* Help Request\n*Requested by:* <@U0REQ07>\n*Details:* SSOe login loops",
                   at=NOW - timedelta(hours=2), subtype="bot_message", username="Support intake form")
    st.add_bot("B0DEPLOY", "Deploy Bot")
    deploy = st.post(CH, "B0DEPLOY", "*Type:* deploy finished", at=NOW - timedelta(hours=1), subtype="bot_message")
    q = make_cli(sb, tmp_path, minimal=True)
    out = q.sync()
    assert out.startswith("Slack: fetched")
    rows = q.listed()
    assert [r["id"] for r in rows] == [slack_id(CH, form.ts)]
    assert rows[0]["requester"] == "Fatima Noor" and rows[0]["title"].startswith("Help Request")
    assert slack_id(CH, deploy.ts) not in {r["id"] for r in rows}
    doctor = q.run("doctor")
    assert doctor.exit_code == 0, doctor.output
    assert f"form bots  {CH}: Support intake form (B0WORKFLOW9)" in doctor.stdout
    assert 'intake_bot_ids = ["B0WORKFLOW9"] in [slack]' in doctor.stdout


# --------------------------------------------------------------------------- Socket Mode


def test_a_socket_mode_reply_event_reads_that_thread_at_once(sb: Sandbox, tmp_path: Path) -> None:
    """With a budget too small for every open thread, the event's thread is still read first."""
    from idqueue.cli import Context
    from idqueue.commands.sync_cmds import sync_forever

    old = [ticketed(sb, 10 + i, f"Old open question {i}") for i in range(6)]
    overrides = sb.settings_overrides()
    settings = Settings(**{**overrides, "slack": {**overrides["slack"], "thread_checks_per_minute": 0.001}},
                        db=tmp_path / "live.db", now=NOW.isoformat(), ui={"poll_interval": 3600})
    ctx = Context()
    ctx.use_settings(settings)
    hub = sb.slack.socket
    replied: list[SlackMessage] = []

    def after_round(done: int) -> None:
        if done == 1:
            assert hub.wait_for(lambda h: h.hellos >= 1, timeout=WAIT)
            # The thread the first poll's single check did not read.
            target = next(m for m in reversed(old) if replies_read(sb, m.ts) == 0)
            replied.append(target)
            sb.slack.state.post(CH, "U0DEV", "Answered from the thread.", thread_ts=target.ts)

    loop = threading.Thread(target=sync_forever, args=(ctx,),
                            kwargs={"quiet": True, "rounds": 2, "after_round": after_round}, daemon=True)
    loop.start()
    loop.join(timeout=WAIT * 2)
    assert not loop.is_alive(), "the second poll did not start early"
    (target,) = replied
    request = ctx.store.get_request(slack_id(CH, target.ts))
    assert request is not None and request.first_response_at is not None
    assert replies_read(sb, target.ts) == 1
    assert hub.wait_for(lambda h: h.connections == 0, timeout=WAIT)
    ctx.store.close()


# --------------------------------------------------------------------------- the seeded sandbox


def test_the_sandbox_seeds_an_example_of_each(sandbox: Sandbox, tmp_path: Path, isolated_settings_env: Path) -> None:
    summary = sandbox.summary
    assert summary is not None
    q = make_cli(sandbox, tmp_path)
    q.sync()
    old_reply = summary.by_key("old-open-reply")
    assert q.show(slack_id(old_reply.channel or "", old_reply.slack_ts or ""))["status"] == "acknowledged"
    deleted = summary.by_key("old-deleted")
    # A tombstone is never a row.
    assert q.run("show", slack_id(deleted.channel or "", deleted.slack_ts or "")).exit_code != 0
    linked = summary.by_key("old-linked")
    row = q.show(slack_id(linked.channel or "", linked.slack_ts or ""))
    assert f"gh:{seed_mod.SUPPORT_REPO}#{linked.issue_number}" in row["item_ids"]
    assert row["requester"] == linked.requester and row["first_response_at"] is not None
    form = summary.by_key("workflow-form")
    row = q.show(slack_id(form.channel or "", form.slack_ts or ""))
    assert row["requester"] == form.requester and row["status"] == "acknowledged"
