"""The Jira writer through the real outbox dispatcher, against the Jira emulator (httpx).

Actions are queued with ``target="jira"`` straight into the outbox, as the planner will queue
them; the dispatcher claims, fences, sends, reconciles and records them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from idqueue.config import Settings
from idqueue.integrations.jira.emulator import JIRA_EMAIL, JIRA_TOKEN, JiraEmulator
from idqueue.integrations.jira.writer import JiraWriter
from idqueue.integrations.loopback import Clock
from idqueue.outbox.dispatcher import Dispatcher, DispatchReport
from idqueue.outbox.models import Action, ActionKind, ActionState
from idqueue.outbox.store import OutboxStore
from idqueue.store.db import Store

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
SLACK_URL = "https://identity.slack.com/archives/C0SUPPORT/p1773238200000100"


class Env:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = Clock(NOW)
        self.emu = JiraEmulator(now=self.clock)
        st = self.emu.state
        st.add_project("ID", "Identity support")
        st.add_project("BL", "Identity backlog", service_desk=False)
        st.user("acc-ana", "Ana Reyes")
        st.user("acc-ben", "Ben Okafor")
        st.user("cust-1", "Requester One", account_type="customer")
        for n in range(2):
            st.add_issue("ID", f"Request {n}", reporter="cust-1", at=NOW - timedelta(hours=2))
        self.emu.start()
        self.settings = Settings(
            db=tmp_path / "db.sqlite", me="ana",
            team={"ana": {"name": "Ana Reyes", "jira": "acc-ana"}, "ben": {"name": "Ben Okafor", "jira": "acc-ben"}},
            jira={"base_url": self.emu.origin, "email": JIRA_EMAIL, "api_token": JIRA_TOKEN, "project": "ID",
                  "backlog_project": "BL"},
            outbox={"inflight_horizon": 30.0},
        )
        self.store = Store.open(self.settings.db)
        self.outbox = OutboxStore(self.store)
        self.sleeps: list[float] = []
        self.seq = 0

    def queue(self, kind: ActionKind, text: str | None = None, **params: Any) -> Action:
        self.seq += 1
        action = Action(id=f"act-{self.seq:04d}", request_id="jira:127.0.0.1/ID-1", kind=kind, target="jira",
                        params=params, text=text, state=ActionState.QUEUED, attempts=0, last_error=None,
                        next_attempt_at=None, created_at=self.clock(), sent_at=None, group_id=f"g{self.seq}",
                        summary=f"{kind.value} on Jira")
        self.outbox.insert([action])
        return action

    def dispatcher(self, timeout: float = 2.0) -> Dispatcher:
        writer = JiraWriter(self.settings, clock=self.clock, timeout=timeout)
        return Dispatcher(self.store, self.settings, writers={"jira": writer}, clock=self.clock,
                          sleep=self.sleeps.append, request_timeout=timeout)

    def drain(self, timeout: float = 2.0, rounds: int = 10) -> DispatchReport:
        dispatcher = self.dispatcher(timeout)
        total = DispatchReport()
        for _ in range(rounds):
            report = dispatcher.run_once()
            total.merge(report)
            if report.next_due is None:
                break
            if report.next_due > self.clock():
                self.clock.set(report.next_due)
        dispatcher.close()
        return total

    def get(self, action: Action) -> Action:
        found = self.outbox.get(action.id)
        assert found is not None
        return found

    def writes(self, method: str, path: str) -> int:
        return self.emu.calls.count(method, path)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    e.emu.stop()
    e.store.close()


def test_public_reply_and_internal_note(env: Env) -> None:
    reply = env.queue(ActionKind.REPLY, "Hi,\nwe are on it: https://status.example.org", key="ID-1")
    note = env.queue(ActionKind.REPLY, "Internal: looks like a dup of ID-2", key="ID-1", internal=True)
    assert env.drain().counts["sent"] == 2
    comments = env.emu.state.issue("ID-1").comments
    assert [c.public for c in comments] == [True, False]
    assert comments[0].properties["idqueue"] == {"action": reply.id}
    assert comments[1].properties["sd.public.comment"] == {"internal": True}
    links = [n["marks"][0]["attrs"]["href"] for n in comments[0].body["content"][0]["content"] if "marks" in n]
    assert links == ["https://status.example.org"]
    assert env.get(note).result["comment"]["internal"] is True


def test_lost_answer_is_reconciled_not_reposted(env: Env) -> None:
    env.emu.faults.add("POST /rest/api/3/issue/ID-1/comment", "drop_after_apply")
    action = env.queue(ActionKind.REPLY, "Once only", key="ID-1")
    env.drain()
    assert env.get(action).state is ActionState.SENT
    assert len(env.emu.state.issue("ID-1").comments) == 1
    assert env.writes("POST", "/rest/api/3/issue/ID-1/comment") == 1
    assert env.get(action).result.get("reconciled") is True


def test_timeout_waits_for_the_late_write_then_finds_it(env: Env) -> None:
    env.emu.faults.add("POST /rest/api/3/issue/ID-1/comment", "timeout", seconds=1.5)
    action = env.queue(ActionKind.REPLY, "Slow server", key="ID-1")
    first = env.dispatcher(timeout=0.5).run_once()
    assert first.counts["retrying"] == 1 and "did not answer in time" in (env.get(action).last_error or "")
    env.emu.faults.clear()
    for _ in range(40):  # the emulator applies the stalled write after 1.5 s of real time
        if env.emu.state.issue("ID-1").comments:
            break
        time.sleep(0.1)
    env.drain()
    assert env.get(action).state is ActionState.SENT
    assert len(env.emu.state.issue("ID-1").comments) == 1


def test_assign_by_account_and_conflict(env: Env) -> None:
    env.queue(ActionKind.ASSIGN, key="ID-1", account="acc-ana")
    env.drain()
    assert env.emu.state.issue("ID-1").assignee == "acc-ana"
    env.emu.state.set_assignee("ID-2", "acc-ben")
    late = env.queue(ActionKind.ASSIGN, key="ID-2", account="acc-ana", expected_assignee=None)
    env.drain()
    assert env.get(late).state is ActionState.NEEDS_ATTENTION
    assert "acc-ben" in (env.get(late).last_error or "")
    assert env.emu.state.issue("ID-2").assignee == "acc-ben"


def test_transitions_found_by_status_or_category(env: Env) -> None:
    env.queue(ActionKind.PENDING, key="ID-1")
    env.drain()
    assert env.emu.state.issue("ID-1").status == "Waiting for customer"
    env.queue(ActionKind.CLOSE, key="ID-1")
    env.drain()
    issue = env.emu.state.issue("ID-1")
    assert issue.status == "Resolved" and issue.resolution == "Done"  # first status of category done
    env.queue(ActionKind.REOPEN, key="ID-1")
    env.drain()
    assert env.emu.state.issue("ID-1").status == "Open"
    posts = [c.body["transition"]["id"] for c in env.emu.calls if c.path.endswith("/transitions") and c.method == "POST"]
    assert len(posts) == 3
    # Closing an issue someone else closed is a conflict, not a second transition.
    env.emu.state.set_status("ID-2", "Closed", actor="acc-ben")
    closed = env.queue(ActionKind.CLOSE, key="ID-2")
    env.drain()
    assert env.get(closed).state is ActionState.NEEDS_ATTENTION


def test_missing_transition_target_is_one_clear_line(env: Env) -> None:
    action = env.queue(ActionKind.BACKLOG, key="ID-1", to="Icebox")
    env.drain()
    error = env.get(action).last_error or ""
    assert env.get(action).state is ActionState.NEEDS_ATTENTION
    assert "no transition to Icebox" in error and "\n" not in error


def test_priority_and_labels(env: Env) -> None:
    env.queue(ActionKind.SET_PRIORITY, key="ID-1", priority="Highest")
    env.queue(ActionKind.ADD_LABELS, key="ID-1", labels=["vip", "login"])
    env.queue(ActionKind.REMOVE_LABELS, key="ID-1", labels=["login"])
    assert env.drain().counts["sent"] == 3
    issue = env.emu.state.issue("ID-1")
    assert issue.priority == "Highest" and issue.labels == ["vip"]


def test_backlog_issue_with_remote_link_exactly_once(env: Env) -> None:
    env.emu.faults.add("POST /rest/api/3/issue", "drop_after_apply")
    action = env.queue(ActionKind.CREATE_ISSUE, "A Slack request\nwith two lines", title="Data pull for sign-ins",
                       link={"url": SLACK_URL, "title": "Slack thread"})
    env.drain()
    created = [i for i in env.emu.state.issues.values() if i.project == "BL"]
    assert len(created) == 1
    assert created[0].properties["idqueue"] == {"action": action.id, "request": action.request_id}
    assert [link["object"]["url"] for link in created[0].remote_links] == [SLACK_URL]
    result = env.get(action).result
    assert result["created"]["key"] == "BL-1" and result["url"].endswith("/browse/BL-1")


def test_rate_limit_waits_for_retry_after(env: Env) -> None:
    env.emu.faults.add("POST /rest/api/3/issue/ID-1/comment", "ratelimited", retry_after=30,
                       headers={"RateLimit-Reason": "jira-per-issue-on-write"})
    action = env.queue(ActionKind.REPLY, "After the limit", key="ID-1")
    report = env.dispatcher().run_once()
    assert report.counts["retrying"] == 1
    waiting = env.get(action)
    assert waiting.next_attempt_at == NOW + timedelta(seconds=30)
    assert "jira-per-issue-on-write" in (waiting.last_error or "")
    env.drain()
    assert len(env.emu.state.issue("ID-1").comments) == 1


def test_auth_failure_needs_attention_without_secrets(env: Env, tmp_path: Path) -> None:
    env.emu.faults.add("POST /rest/api/3/issue/ID-1/comment", status=401)
    action = env.queue(ActionKind.REPLY, "x", key="ID-1")
    env.drain()
    got = env.get(action)
    assert got.state is ActionState.NEEDS_ATTENTION
    assert "expire within a year" in (got.last_error or "") and JIRA_TOKEN not in (got.last_error or "")


def test_server_data_center_writes(tmp_path: Path) -> None:
    """Server/DC: plain-text comments, assignment by user name, the same exactly-once property."""
    from idqueue.integrations.jira.emulator import JIRA_PAT

    env = Env(tmp_path)
    env.emu.state.server = True
    env.emu.state.user("ana.reyes", "Ana Reyes")
    env.settings = Settings(db=env.settings.db, jira={"base_url": env.emu.origin, "pat": JIRA_PAT, "project": "ID"},
                            outbox={"inflight_horizon": 30.0})
    try:
        env.emu.faults.add("POST /rest/api/2/issue/ID-1/comment", "drop_after_apply")
        reply = env.queue(ActionKind.REPLY, "Plain *text* reply", key="ID-1")
        env.queue(ActionKind.ASSIGN, key="ID-1", account="ana.reyes")
        env.drain()
        issue = env.emu.state.issue("ID-1")
        assert [c.body for c in issue.comments] == ["Plain *text* reply"]
        assert issue.comments[0].properties["idqueue"] == {"action": reply.id}
        assert issue.assignee == "ana.reyes"
        assert env.get(reply).state is ActionState.SENT
    finally:
        env.emu.stop()
        env.store.close()


def test_server_data_center_backlog_issue_reconciled(tmp_path: Path) -> None:
    from idqueue.integrations.jira.emulator import JIRA_PAT

    env = Env(tmp_path)
    env.emu.state.server = True
    env.settings = Settings(db=env.settings.db, jira={"base_url": env.emu.origin, "pat": JIRA_PAT, "project": "ID",
                                                      "backlog_project": "BL"}, outbox={"inflight_horizon": 30.0})
    try:
        env.emu.faults.add("POST /rest/api/2/issue", "drop_after_apply")
        action = env.queue(ActionKind.CREATE_ISSUE, "From Slack", title="Data pull",
                           link={"url": SLACK_URL, "title": "Slack thread"})
        env.drain()
        assert env.get(action).state is ActionState.SENT
        assert len([i for i in env.emu.state.issues.values() if i.project == "BL"]) == 1
        assert env.emu.calls.count("POST", "/rest/api/2/search") == 1
    finally:
        env.emu.stop()
        env.store.close()


def test_automatic_message_marker(env: Env) -> None:
    action = env.queue(ActionKind.REPLY, "Assigned to Ana.", key="ID-1", automation=True, actor="ana")
    env.drain()
    (comment,) = env.emu.state.issue("ID-1").comments
    assert comment.properties["idqueue"] == {"action": action.id, "automation": True, "actor": "ana"}
