"""The Jira source against the Jira emulator with the real httpx client.

Batches are applied to an in-memory copy of what the store keeps (items and events upserted by id,
cursors only from the batches that carry them): a failed poll leaves the cursor where it was.
Folding Jira items into requests (``domain/assemble``) is not part of the source.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from idqueue.config import Settings
from idqueue.domain.models import SourceItem, TimelineEvent
from idqueue.integrations.base import (
    AuthError,
    BadPayload,
    Batch,
    NotFound,
    PollHints,
    RateLimited,
    SourceError,
    Unavailable,
)
from idqueue.integrations.jira.adf import from_text
from idqueue.integrations.jira.emulator import JIRA_EMAIL, JIRA_TOKEN, JiraEmulator
from idqueue.integrations.jira.source import JiraSource
from idqueue.integrations.loopback import Clock

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
PERMALINK = "https://identity.slack.com/archives/C0SUPPORT/p1773238200000100"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in ("IDQUEUE_CONFIG_FILE", "IDQUEUE_NOW", "IDQUEUE_HISTORY_MONTHS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


class Harness:
    """A Jira source on a seeded emulator, a temp store and a recording sleep."""

    def __init__(self, tmp_path: Path, **jira: Any) -> None:
        self.clock = Clock(NOW)
        self.emu = JiraEmulator(now=self.clock)
        st = self.emu.state
        st.me.time_zone = "America/New_York"
        st.add_project("ID", "Identity support")
        st.user("acc-ana", "Ana Reyes")
        st.user("cust-1", "Requester One", account_type="customer")
        for n in range(5):
            st.add_issue("ID", f"Cannot sign in #{n}", reporter="cust-1", at=NOW - timedelta(hours=10 - n),
                         description=from_text(f"Thread: {PERMALINK}" if n == 0 else f"Body {n}"),
                         labels=["login"], components=["Login.gov"], priority="High")
        st.add_comment("ID-1", from_text("Checking"), author="acc-ana", at=NOW - timedelta(hours=3))
        st.add_comment("ID-1", from_text("Looks like a dup"), author="acc-ana", at=NOW - timedelta(hours=2),
                       internal=True)
        st.set_assignee("ID-1", "acc-ana", actor="acc-ana", at=NOW - timedelta(hours=2))
        st.set_status("ID-2", "Waiting for customer", actor="acc-ana", at=NOW - timedelta(hours=1))
        st.set_status("ID-3", "Resolved", actor="acc-ana", at=NOW - timedelta(minutes=30))
        self.emu.start()
        cfg = {"base_url": self.emu.origin, "email": JIRA_EMAIL, "api_token": JIRA_TOKEN, "project": "ID",
               "page_size": 2, **jira}
        self.settings = Settings(jira=cfg, db=tmp_path / "db.sqlite", config_file=None)
        self.sleeps: list[float] = []
        self.source = JiraSource(self.settings, clock=self.clock, sleep=self.sleeps.append, max_wait=30)
        self.cursors: dict[str, Any] = {}
        self.items: dict[str, SourceItem] = {}
        self.events_by_uid: dict[str, TimelineEvent] = {}
        self.host = "127.0.0.1"

    def batches(self) -> Iterator[Batch]:
        for batch in self.source.fetch(json.loads(json.dumps(self.cursors))):
            self.items.update((i.id, i) for i in batch.items)
            self.events_by_uid.update((e.uid, e) for e in batch.events)
            self.cursors.update(batch.cursors)
            yield batch

    def sync(self) -> list[Batch]:
        return list(self.batches())

    def item(self, key: str) -> SourceItem:
        return self.items[f"jira:{self.host}/{key}"]

    def events(self, key: str) -> list[tuple[str, dict[str, Any]]]:
        found = sorted((e for e in self.events_by_uid.values() if e.item_id == f"jira:{self.host}/{key}"),
                       key=lambda e: (e.at, e.uid))
        return [(e.kind.value, e.data) for e in found]

    def searches(self) -> list[str]:
        return [str(c.body["jql"]) for c in self.emu.calls if c.path == "/rest/api/3/search/jql"]


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.source.close()
    harness.emu.stop()


def test_first_sync_reads_every_page_and_maps_fields(h: Harness) -> None:
    batches = h.sync()
    assert len(h.searches()) == 3  # 5 issues, 2 a page: nextPageToken twice
    assert sum(len(b.items) for b in batches) == 5
    assert "search" in batches[-1].cursors and all("search" not in b.cursors for b in batches[:-1])
    one = h.item("ID-1")
    assert one.title == "Cannot sign in #0"
    assert one.body == f"Thread: {PERMALINK}"
    assert one.links == ["slack:C0SUPPORT/1773238200.000100"]
    assert one.assignees == ["acc-ana"] and one.requester is not None and one.requester.id == "cust-1"
    assert one.raw["priority"] == "High" and one.raw["components"] == ["Login.gov"]
    assert one.raw["issue_type"] == "Service Request" and one.raw["status_category"] == "new"
    assert one.url.endswith("/browse/ID-1")
    kinds = [k for k, _ in h.events("ID-1")]
    assert kinds == ["comment", "note", "assigned"]
    assert h.events("ID-1")[1][1]["internal"] is True
    assert [k for k, _ in h.events("ID-2")] == ["pending"]
    three = h.item("ID-3")
    assert three.state == "closed" and three.state_reason == "completed" and three.closed_at
    assert [k for k, _ in h.events("ID-3")] == ["closed"]
    assert h.item("ID-2").raw["pending"] is True


def test_incremental_sync_at_the_updated_boundary(h: Harness) -> None:
    h.sync()
    h.emu.calls.clear()
    # Nothing changed: the overlap re-reads the newest issue (ID-3) and drops it as already seen.
    again = h.sync()
    assert sum(len(b.items) for b in again) == 0
    (jql,) = h.searches()
    # ID-3 changed at 15:00 UTC = 11:00 in New York (EDT); the cursor starts 2 minutes before.
    assert jql == '(project = ID) AND updated >= "2026-03-11 10:58" ORDER BY updated ASC'
    # A change in the same minute as the boundary is not missed.
    h.emu.state.add_comment("ID-4", from_text("same minute"), author="acc-ana", at=NOW - timedelta(minutes=30))
    h.clock.advance(60)
    h.emu.state.set_assignee("ID-5", "acc-ana", at=h.clock())
    changed = [i.id.rsplit("/", 1)[1] for b in h.sync() for i in b.items]
    assert changed == ["ID-4", "ID-5"]
    assert [k for k, _ in h.events("ID-4")] == ["comment"]


def test_another_jql_starts_over(h: Harness, tmp_path: Path) -> None:
    h.sync()
    other = JiraSource(Settings(jira={**h.settings.jira.model_dump(), "api_token": JIRA_TOKEN,
                                      "jql": "project = ID AND statusCategory != Done ORDER BY created DESC"},
                                db=tmp_path / "db.sqlite"), clock=h.clock, sleep=h.sleeps.append)
    items = [i for b in other.fetch(h.cursors) for i in b.items]
    assert len(items) == 4
    other.close()


def test_long_comment_lists_are_read_in_full(h: Harness) -> None:
    for n in range(3):
        h.emu.state.add_comment("ID-5", from_text(f"c{n}"), author="cust-1", at=NOW - timedelta(minutes=5 - n))
    original = h.emu.state.issue_json

    def short(issue: Any, fields: Any, *, changelog: bool = False) -> dict[str, Any]:
        out = original(issue, fields, changelog=changelog)
        if "comment" in out["fields"]:
            out["fields"]["comment"]["comments"] = out["fields"]["comment"]["comments"][:1]
        return out

    h.emu.state.issue_json = short  # type: ignore[method-assign]
    h.sync()
    assert [k for k, _ in h.events("ID-5")].count("comment") == 3


def test_short_rate_limit_is_sat_out_long_one_raised(h: Harness) -> None:
    h.emu.faults.add("POST /rest/api/3/search/jql", "ratelimited", retry_after=5)
    h.sync()
    assert h.sleeps == [5.0]
    h.emu.faults.add("POST /rest/api/3/search/jql", "ratelimited", retry_after=600,
                     headers={"RateLimit-Reason": "jira-burst-based"})
    h.clock.advance(60)
    h.emu.state.set_assignee("ID-4", "acc-ana", at=h.clock())
    with pytest.raises(RateLimited) as info:
        h.sync()
    assert info.value.until == h.clock() + timedelta(seconds=600)
    assert "jira-burst-based" in str(info.value)


@pytest.mark.parametrize(("status", "error", "words"), [
    (401, AuthError, "expire within a year"),
    (403, AuthError, "lacks permission"),
    (410, NotFound, "removed the API"),
])
def test_refusals_are_one_clear_line(h: Harness, status: int, error: type[SourceError], words: str) -> None:
    h.emu.faults.add("POST /rest/api/3/search/jql", status=status)
    with pytest.raises(error) as info:
        h.sync()
    text = str(info.value)
    assert words in text and "\n" not in text
    assert JIRA_TOKEN not in text and JIRA_EMAIL not in text


def test_outages_are_retried_then_reported(h: Harness) -> None:
    h.emu.faults.add("POST /rest/api/3/search/jql", status=503, times=2)
    h.sync()
    assert h.sleeps == [1.0, 2.0]
    h.emu.faults.add("POST /rest/api/3/search/jql", status=502, times=3)
    with pytest.raises(Unavailable, match="HTTP 502"):
        h.sync()


def test_malformed_answer_is_bad_payload_and_commits_nothing(h: Harness) -> None:
    h.emu.faults.add("POST /rest/api/3/search/jql", "malformed")
    with pytest.raises(BadPayload, match="not valid JSON"):
        h.sync()
    assert h.cursors == {}


def test_wrong_token_says_tokens_expire(h: Harness, tmp_path: Path) -> None:
    settings = Settings(jira={"base_url": h.emu.origin, "email": JIRA_EMAIL, "api_token": "revoked-token-123",
                              "project": "ID"}, db=tmp_path / "x.sqlite")
    source = JiraSource(settings, clock=h.clock, sleep=h.sleeps.append)
    with pytest.raises(AuthError) as info:
        list(source.fetch({}))
    assert "HTTP 401" in str(info.value) and "revoked-token-123" not in str(info.value)
    source.close()


def test_missing_settings_are_one_line(tmp_path: Path) -> None:
    source = JiraSource(Settings(db=tmp_path / "x.sqlite", jira={"project": "ID"}))
    with pytest.raises(AuthError, match="IDQUEUE_JIRA__BASE_URL"):
        list(source.fetch({}))


def test_check_reports_the_account(h: Harness) -> None:
    facts = h.source.check()
    assert facts["account"] == "idqueue (sandbox)" and facts["time_zone"] == "America/New_York"
    assert facts["issues"] == "the JQL finds some" and facts["api"].startswith("REST v3")


def test_long_changelog_is_read_in_full(h: Harness) -> None:
    for n in range(103):
        h.emu.state.set_assignee("ID-4", "acc-ana" if n % 2 == 0 else None, at=NOW - timedelta(minutes=20 - n / 10))
    h.sync()
    kinds = [k for k, _ in h.events("ID-4")]
    assert kinds.count("assigned") == 52 and kinds.count("unassigned") == 51
    assert h.emu.calls.count("GET", "/rest/api/3/issue/ID-4/changelog") == 2


def test_remote_links_of_open_issues_link_slack(h: Harness) -> None:
    h.emu.state.issue("ID-2").remote_links.append(
        {"id": 1, "self": "x", "globalId": PERMALINK, "object": {"url": PERMALINK, "title": "Slack thread"}})
    h.emu.state.issue("ID-3").remote_links.append(
        {"id": 2, "self": "y", "object": {"url": PERMALINK, "title": "Slack thread"}})
    h.sync()
    assert h.item("ID-2").links == ["slack:C0SUPPORT/1773238200.000100"]
    assert h.item("ID-3").links == []  # closed: its remote links are not read
    assert h.emu.calls.count("GET", "/rest/api/3/issue/ID-3/remotelink") == 0


def test_server_data_center_with_a_pat(tmp_path: Path) -> None:
    """Server/DC: a PAT (bearer), REST v2 search by startAt, plain-text bodies, users by name,
    internal notes only in the comment property."""
    from idqueue.integrations.jira.emulator import JIRA_PAT

    clock = Clock(NOW)
    emu = JiraEmulator(now=clock)
    st = emu.state
    st.server = True
    st.add_project("ID", "Identity support")
    st.user("ana.reyes", "Ana Reyes")
    for n in range(3):
        st.add_issue("ID", f"DC request {n}", reporter="ana.reyes", at=NOW - timedelta(hours=3 - n),
                     description=from_text(f"line {n}\nsecond line"))
    st.add_comment("ID-1", from_text("public"), author="ana.reyes", at=NOW - timedelta(minutes=10))
    st.add_comment("ID-1", from_text("internal"), author="ana.reyes", at=NOW - timedelta(minutes=5), internal=True)
    emu.start()
    try:
        settings = Settings(db=tmp_path / "db.sqlite", jira={"base_url": emu.origin, "pat": JIRA_PAT,
                                                               "project": "ID", "page_size": 2})
        source = JiraSource(settings, clock=clock, sleep=lambda _s: None)
        batches = list(source.fetch({}))
        source.close()
    finally:
        emu.stop()
    items = {i.id: i for b in batches for i in b.items}
    assert len(items) == 3
    first = items["jira:127.0.0.1/ID-1"]
    assert first.body == "line 0\nsecond line" and first.requester is not None
    assert first.requester.id == "ana.reyes"
    events = [e for b in batches for e in b.events if e.item_id == first.id]
    assert [e.kind.value for e in events] == ["comment", "note"]
    searches = [c for c in emu.calls if c.path == "/rest/api/2/search"]
    assert [c.body["startAt"] for c in searches] == [0, 2]
    assert all(c.headers["authorization"] == "[redacted]" for c in emu.calls)


def test_idqueue_comments_carry_their_marker_back(h: Harness) -> None:
    """A comment written as the API account with the ``idqueue`` property: the source reads the
    property (one comment read with properties) so an automatic message is not a response."""
    me = h.emu.state.me.account_id
    h.emu.state.add_comment("ID-2", from_text("Your request is assigned."), author=me, at=NOW - timedelta(minutes=1),
                            properties={"idqueue": {"action": "act-1", "automation": True, "actor": "ana"}})
    h.sync()
    (event,) = [e for e in h.events_by_uid.values() if e.item_id.endswith("/ID-2") and e.kind.value == "comment"]
    assert event.data["idqueue_action"] == "act-1" and event.data["idqueue_automation"] is True
    assert event.data["idqueue_actor"] == "ana"
    reads = [c for c in h.emu.calls if c.path.endswith("/comment") and c.method == "GET"]
    assert [c.path for c in reads] == ["/rest/api/3/issue/ID-2/comment"]


def test_backlog_project_issues_that_requests_link_to_are_followed(tmp_path: Path) -> None:
    """A hand-made backlog-project issue a request links to is read by key (the store's ``linked``
    hint), remembered in the ``follow`` cursor, and read again when it changes although the
    request's hints no longer name it; other changed issues of the project are not read in full."""
    h = Harness(tmp_path, backlog_project="IDB")
    try:
        st = h.emu.state
        st.add_project("IDB", "Identity backlog", service_desk=False)
        linked = st.add_issue("IDB", "Rotate the signing keys", issue_type="Task", status="Backlog",
                              at=NOW - timedelta(days=200))  # older than the history window
        st.add_issue("IDB", "Unrelated refactor", issue_type="Task", status="Backlog", at=NOW - timedelta(hours=1))
        h.source.prepare(PollHints(linked=(f"jira:{h.host}/{linked.key}", f"jira:{h.host}/IDB-999")))
        h.sync()
        item = h.item(linked.key)
        assert item.raw["backlog_item"] is True and item.raw["status"] == "Backlog"
        assert f"jira:{h.host}/IDB-2" not in h.items, "an issue nobody links to is not read"
        assert h.cursors["follow"] == [linked.key]

        h.clock.advance(timedelta(minutes=10))
        st.set_status(linked.key, "In Progress", actor="acc-ana")
        h.source.prepare(PollHints())  # the request is in the backlog now: not open, no hints
        h.emu.calls.clear()
        h.sync()
        assert h.item(linked.key).raw["status"] == "In Progress"
        assert h.events(linked.key)[-1] == ("edited", {"field": "status", "backlog_state": "In Progress",
                                                       "from_state": "Backlog"})
        assert [q for q in h.searches() if "updated >=" not in q] == [f"key in ({linked.key}) ORDER BY key ASC"]
    finally:
        h.emu.stop()


def test_an_unreachable_backlog_project_does_not_stop_the_requests(tmp_path: Path) -> None:
    h = Harness(tmp_path, backlog_project="NOPE")
    try:
        batches: list[Batch] = []
        with pytest.raises(SourceError) as caught:
            for batch in h.batches():
                batches.append(batch)
        assert "NOPE" in caught.value.title and "does not exist" in caught.value.title
        assert len(h.items) == 5 and "search" in h.cursors, "the requests and their cursor are kept"
        assert "backlog" not in h.cursors
    finally:
        h.emu.stop()
