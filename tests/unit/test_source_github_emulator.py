"""GitHub source against the loopback GitHub emulator, with the real httpx client and a temp store.

Every sync applies each batch through ``Store.apply`` exactly as the sync engine does, so these
tests also check the batch contract: after any fault the store holds only whole pages and no
cursor moved past what was committed.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from idqueue.config import Settings
from idqueue.domain.assemble import make_assembler
from idqueue.domain.models import SourceItem, SourceKind, Status, github_id
from idqueue.integrations.base import (
    AuthError,
    BadPayload,
    Batch,
    NotFound,
    RateLimited,
    SourceError,
    Unavailable,
)
from idqueue.integrations.github.source import GitHubSource
from idqueue.integrations.registry import rulebook
from idqueue.sandbox import seed
from idqueue.sandbox.github_emulator import GITHUB_TOKEN
from idqueue.sandbox.runner import Sandbox
from idqueue.store.db import Store

REPO = seed.SUPPORT_REPO
LABEL = seed.LABEL
ISSUES = f"/repos/{REPO}/issues"
COMMENTS = f"/repos/{REPO}/issues/comments"
EVENTS = f"/repos/{REPO}/issues/events"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in ("IDQUEUE_CONFIG_FILE", "IDQUEUE_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "IDQUEUE_GITHUB_REPOS",
                "IDQUEUE_GITHUB_LABEL", "IDQUEUE_GITHUB_BASE_URL", "IDQUEUE_NOW", "IDQUEUE_HISTORY_MONTHS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


class Harness:
    """A GitHub source on the sandbox, a temp store, a recording sleep and helpers."""

    def __init__(self, sb: Sandbox, tmp_path: Path, *, client: httpx.Client | None = None,
                 max_wait: float = 60.0, **github: Any) -> None:
        overrides = sb.settings_overrides()
        overrides["github"] = {**overrides["github"], **github}
        self.sb = sb
        self.gh = sb.github
        self.state = sb.github.state
        self.settings = Settings(**overrides)
        self.sleeps: list[float] = []
        self.source = GitHubSource(self.settings, client=client, clock=sb.clock, sleep=self.sleeps.append,
                                   max_wait=max_wait)
        self.store = Store.open(tmp_path / "db.sqlite")

    @property
    def now(self) -> datetime:
        return self.sb.clock()

    def apply(self, batch: Batch) -> None:
        now = self.now
        self.store.apply(
            "github", items=batch.items, events=batch.events, deleted_items=batch.deleted_items,
            deleted_events=batch.deleted_events, cursors=batch.cursors,
            assembler=make_assembler(self.settings, now, rules=rulebook(self.settings)), now=now,
        )

    def batches(self) -> Iterator[Batch]:
        """The live fetch generator, applying each batch before handing it on."""
        for batch in self.source.fetch(self.store.cursors("github")):
            self.apply(batch)
            yield batch

    def sync(self) -> list[Batch]:
        return list(self.batches())

    def sync_error(self) -> SourceError:
        with pytest.raises(SourceError) as info:
            self.sync()
        return info.value

    # -- reading the store ----------------------------------------------------------------------

    def item_ids(self) -> set[str]:
        return {r[0] for r in self.store.conn.execute("SELECT id FROM items WHERE deleted=0")}

    def item(self, number: int) -> dict[str, Any]:
        row = self.store.conn.execute("SELECT data FROM items WHERE id=?", (github_id(REPO, number),)).fetchone()
        assert row is not None, f"issue #{number} is not stored"
        return dict(json.loads(row[0]))

    def events(self, number: int) -> list[tuple[str, str, dict[str, Any]]]:
        rows = self.store.conn.execute(
            "SELECT uid, kind, data FROM events WHERE item_id=? ORDER BY at, uid", (github_id(REPO, number),)
        )
        return [(r[0], r[1], json.loads(r[2])) for r in rows]

    def status(self, number: int) -> Status:
        request = self.store.get_request(github_id(REPO, number))
        assert request is not None
        return request.status

    def snapshot(self) -> dict[str, Any]:
        conn = self.store.conn
        return {
            "items": {r[0]: (r[1], r[2]) for r in conn.execute("SELECT id, data, deleted FROM items")},
            "events": {r[0]: tuple(r) for r in conn.execute("SELECT * FROM events")},
            "cursors": self.store.cursors("github"),
            "requests": {r[0]: r[1] for r in conn.execute("SELECT id, updated_at FROM requests")},
        }

    # -- changing GitHub ------------------------------------------------------------------------

    def issue(self, title: str, *, minutes_ago: float = 0, labels: tuple[str, ...] = (LABEL,),
              user: str = "jordan-lee", body: str = "Please help") -> int:
        created = self.now - timedelta(minutes=minutes_ago)
        return self.state.add_issue(REPO, title, body, user=user, labels=labels, created_at=created).number


@pytest.fixture
def h(empty_sandbox: Sandbox, tmp_path: Path) -> Harness:
    return Harness(empty_sandbox, tmp_path)


def _list_calls(h: Harness) -> list[Any]:
    return [c for c in h.gh.calls.all() if c.path in (ISSUES, COMMENTS, EVENTS)]


# --------------------------------------------------------------------------- first and second sync


def test_first_sync_stores_issues_comments_and_events(h: Harness) -> None:
    plain = h.issue("Need a test user", minutes_ago=120)
    linked = h.issue("Data pull", minutes_ago=90,
                     body="From Slack: https://dsva.slack.com/archives/C0IDENTITY/p1712345678000100")
    pr = h.state.add_pull_request(REPO, "Fix login", "code", user="ben-okafor", labels=[LABEL]).number
    unlabeled = h.issue("Not ours", minutes_ago=80, labels=())
    h.state.add_comment(REPO, plain, "Looking at it", user="ana-reyes", at=h.now - timedelta(minutes=60))
    h.state.add_comment(REPO, plain, "Created.\n<!-- idqueue:action=act-1 automation=1 -->", user="ana-reyes",
                        at=h.now - timedelta(minutes=59))
    h.state.add_comment(REPO, pr, "LGTM", user="ana-reyes", at=h.now - timedelta(minutes=50))
    h.state.assign(REPO, plain, ["ana-reyes"], at=h.now - timedelta(minutes=40))
    h.state.close_issue(REPO, linked, reason="not_planned", at=h.now - timedelta(minutes=30))

    batches = h.sync()

    assert h.item_ids() == {github_id(REPO, plain), github_id(REPO, linked)}  # no PR, no unlabeled issue
    item = h.item(plain)
    assert item["assignees"] == ["ana-reyes"]
    assert item["labels"] == [LABEL]
    assert item["raw"]["number"] == plain and item["raw"]["repo"] == REPO
    assert h.item(linked)["links"] == ["slack:C0IDENTITY/1712345678.000100"]
    assert h.status(linked) is Status.CLOSED
    kinds = [(kind, data) for _, kind, data in h.events(plain)]
    assert ("labeled", {"label": LABEL}) in kinds
    assert ("assigned", {"assignee": "ana-reyes"}) in kinds
    comments = [data for _, kind, data in h.events(plain) if kind == "comment"]
    assert comments == [{"edited": False}, {"edited": False, "idqueue_action": "act-1", "idqueue_automation": True}]
    assert ("closed", {"state_reason": "not_planned"}) in [(k, d) for _, k, d in h.events(linked)]
    assert h.events(pr) == [] and h.events(unlabeled) == []
    assert h.status(plain) is Status.ASSIGNED
    # Every list had one page; each cursor holds the ETag the next poll will send.
    cursors = h.store.cursors("github")
    assert set(cursors) == {f"issues:{REPO}", f"comments:{REPO}", f"events:{REPO}"}
    assert all(c["etag"] for c in cursors.values())
    stats_requests = sum(b.stats.requests for b in batches)
    assert stats_requests == len(h.gh.calls)


def test_list_requests_carry_the_documented_parameters_and_headers(h: Harness) -> None:
    h.issue("One", minutes_ago=5)
    h.sync()
    first = h.gh.calls.calls_to("GET", ISSUES)[0]
    since = (datetime(2026, 3, 11, 15, 30, tzinfo=UTC).replace(year=2025, month=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert first.query == {"state": "all", "sort": "updated", "direction": "asc", "per_page": "100",
                           "labels": LABEL, "since": since}
    assert first.headers["accept"] == "application/vnd.github+json"
    assert first.headers["x-github-api-version"] == "2022-11-28"
    assert first.headers["user-agent"] == "idqueue"
    assert first.headers["authorization"] == "[redacted]"  # the emulator redacts it in its log
    comments = h.gh.calls.calls_to("GET", COMMENTS)[0]
    assert comments.query == {"sort": "updated", "direction": "asc", "per_page": "100", "since": since}


def test_second_sync_with_nothing_changed_is_only_304s(h: Harness) -> None:
    for i in range(3):
        number = h.issue(f"Issue {i}", minutes_ago=30 - i)
        h.state.add_comment(REPO, number, "reply", user="ana-reyes", at=h.now - timedelta(minutes=20 - i))
    h.sync()
    cursors = h.store.cursors("github")
    before = h.snapshot()
    remaining = h.state.rate.remaining
    h.gh.calls.clear()

    batches = h.sync()

    calls = h.gh.calls.all()
    assert len(calls) == 3
    assert all(c.status == 304 and c.headers.get("if-none-match") for c in calls)
    assert h.state.rate.remaining == remaining  # an idle poll costs no rate limit
    assert sum(b.stats.not_modified for b in batches) == 3
    assert sum(b.stats.requests for b in batches) == 3
    assert all(not b.items and not b.events and not b.cursors for b in batches)
    assert h.store.cursors("github") == cursors
    assert h.snapshot() == before


def test_incremental_sync_sees_new_edited_closed_and_commented_issues(h: Harness) -> None:
    edited = h.issue("Old title", minutes_ago=50)
    closed = h.issue("Will close", minutes_ago=40)
    commented = h.issue("Will get a reply", minutes_ago=30)
    pending = h.issue("Needs info", minutes_ago=20)
    h.sync()
    h.sb.clock.advance(300)

    h.state.edit_issue(REPO, edited, title="New title", body="More detail")
    h.state.close_issue(REPO, closed, reason="completed")
    reply = h.state.add_comment(REPO, commented, "On it", user="ben-okafor")
    h.state.add_labels(REPO, pending, ["pending"], actor="ana-reyes")
    new = h.issue("Brand new")
    h.sb.clock.advance(60)
    h.state.edit_comment(REPO, reply.id, "On it — ETA today")
    h.sync()

    assert h.item(edited)["title"] == "New title" and h.item(edited)["body"] == "More detail"
    assert h.status(closed) is Status.CLOSED
    assert h.item(closed)["state_reason"] == "completed"
    comment = [(uid, data) for uid, kind, data in h.events(commented) if kind == "comment"]
    assert comment == [(f"gh-comment:{reply.id}", {"edited": True})]
    body = h.store.conn.execute("SELECT body FROM events WHERE uid=?", (f"gh-comment:{reply.id}",)).fetchone()[0]
    assert body == "On it — ETA today"
    assert h.status(commented) is Status.ACKNOWLEDGED
    assert [k for _, k, _ in h.events(pending)][-2:] == ["labeled", "pending"]
    assert h.status(pending) is Status.PENDING
    assert github_id(REPO, new) in h.item_ids()
    # Then quiet again: the poll after the settle is all 304.
    h.gh.calls.clear()
    h.sync()
    assert {c.status for c in h.gh.calls.all()} == {304}


def test_issue_updated_exactly_at_since_is_seen(h: Harness) -> None:
    target = h.issue("Target", minutes_ago=30)
    h.issue("Newer", minutes_ago=10)
    h.sync()
    since = datetime.fromisoformat(h.store.cursors("github")[f"issues:{REPO}"]["since"].replace("Z", "+00:00"))
    h.state.edit_issue(REPO, target, title="Edited at the boundary", at=since)
    h.sync()
    assert h.item(target)["title"] == "Edited at the boundary"


def test_reopen_and_close_between_polls(h: Harness) -> None:
    number = h.issue("Flaky", minutes_ago=10)
    h.sync()
    h.sb.clock.advance(60)
    h.state.close_issue(REPO, number, reason="completed")
    h.sync()
    assert h.status(number) is Status.CLOSED
    h.sb.clock.advance(60)
    h.state.reopen_issue(REPO, number)
    h.sync()
    assert h.status(number) is not Status.CLOSED
    assert [k for _, k, _ in h.events(number)][-2:] == ["closed", "reopened"]


# --------------------------------------------------------------------------- pagination


def test_pagination_past_100_follows_link_next_without_last(h: Harness) -> None:
    h.gh.link_last = False  # GitHub may omit rel="last"
    numbers = [h.issue(f"Bulk {i}", minutes_ago=500 - i) for i in range(250)]
    for n in numbers[:130]:
        h.state.add_comment(REPO, n, f"reply {n}", user="ana-reyes", at=h.now - timedelta(minutes=300 - n))

    batches = h.sync()

    assert h.item_ids() == {github_id(REPO, n) for n in numbers}
    issue_calls = h.gh.calls.calls_to("GET", ISSUES)
    assert [c.query.get("page") for c in issue_calls] == [None, "2", "3", None]  # 3 pages + settle
    assert issue_calls[1].query["since"] == issue_calls[0].query["since"]
    assert len([b for b in batches if b.items]) == 3  # one batch per page (settle joins the last)
    stored = h.store.conn.execute("SELECT COUNT(*) FROM events WHERE kind='comment'").fetchone()[0]
    assert stored == 130
    h.gh.calls.clear()
    h.sync()
    assert {c.status for c in h.gh.calls.all()} == {304}


def test_events_stop_at_the_stored_high_water_mark(h: Harness) -> None:
    number = h.issue("Busy", minutes_ago=300)
    for i in range(150):  # 1 labeled + 150 label events: two pages, newest first
        h.state.add_labels(REPO, number, [f"tag-{i}"], at=h.now - timedelta(minutes=200 - i))
    h.sync()
    assert len(h.gh.calls.calls_to("GET", EVENTS)) == 2
    h.sb.clock.advance(60)
    h.state.assign(REPO, number, ["ana-reyes"])
    h.gh.calls.clear()
    h.sync()
    calls = h.gh.calls.calls_to("GET", EVENTS)
    assert [c.status for c in calls] == [200]  # page 1 reached the last event already stored
    assert ("assigned", {"assignee": "ana-reyes"}) in [(k, d) for _, k, d in h.events(number)]


def test_a_change_on_a_later_page_is_not_hidden_by_page_one_etag(h: Harness) -> None:
    # 150 issues updated in the same second: even the settled "since" spans two pages, so no
    # ETag may be kept (page 1's would still match after a change on page 2).
    numbers = [h.issue(f"Same second {i}") for i in range(150)]
    h.sync()
    h.sync()
    h.state.edit_issue(REPO, numbers[-1], title="Changed on page 2")
    h.sync()
    assert h.item(numbers[-1])["title"] == "Changed on page 2"


def test_smaller_page_size_from_config(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    h = Harness(empty_sandbox, tmp_path, per_page=10)
    numbers = [h.issue(f"Bulk {i}", minutes_ago=100 - i) for i in range(25)]
    h.sync()
    assert h.item_ids() == {github_id(REPO, n) for n in numbers}
    assert [c.query["per_page"] for c in h.gh.calls.calls_to("GET", ISSUES)] == ["10"] * 4


def test_row_updated_mid_listing_cannot_shift_another_out_of_sight(h: Harness) -> None:
    numbers = [h.issue(f"Bulk {i}", minutes_ago=400 - i) for i in range(300)]
    gen = h.batches()
    pages = []
    for batch in gen:
        if batch.items:
            pages.append([i.raw["number"] for i in batch.items])
        if len(pages) == 2:
            break
    assert pages == [numbers[:100], numbers[100:200]]
    # Pages 1-2 have been read: updating issue #1 moves it to the end of the list and pulls
    # #201 from page 3 onto page 2 (already read), so this listing never returns #201.
    h.state.edit_issue(REPO, numbers[0], title="Bumped")
    list(gen)
    assert github_id(REPO, numbers[200]) not in h.item_ids()
    # #1 came back twice: the cursor stays before its first sighting, so the next poll re-reads.
    h.sync()
    assert h.item_ids() == {github_id(REPO, n) for n in numbers}
    assert h.item(numbers[0])["title"] == "Bumped"


def test_issue_and_comment_created_mid_poll_are_not_lost(h: Harness) -> None:
    h.issue("Existing", minutes_ago=30)
    gen = h.batches()
    next(gen)  # comments and events have been read; the issues listing has started
    late = h.issue("Arrived mid-poll")
    reply = h.state.add_comment(REPO, late, "first reply", user="ana-reyes")
    list(gen)
    h.sb.clock.advance(120)
    h.sync()
    assert github_id(REPO, late) in h.item_ids()
    assert f"gh-comment:{reply.id}" in [uid for uid, _, _ in h.events(late)]


# --------------------------------------------------------------------------- pull requests, labels


def test_pull_requests_and_their_comments_and_events_are_skipped(h: Harness) -> None:
    issue = h.issue("Real request", minutes_ago=20)
    pr = h.state.add_pull_request(REPO, "Bump deps", "", user="dependabot[bot]", user_type="Bot",
                                  labels=[LABEL], created_at=h.now - timedelta(minutes=10)).number
    h.state.add_comment(REPO, pr, "approved", user="ana-reyes")
    h.state.assign(REPO, pr, ["ana-reyes"])
    batches = h.sync()
    ids = [i.id for b in batches for i in b.items]
    assert ids == [github_id(REPO, issue)]
    assert all(not e.item_id.endswith(f"#{pr}") for b in batches for e in b.events)
    assert h.source._prs[REPO] == {pr}


def test_removing_the_filter_label_drops_the_request(h: Harness) -> None:
    number = h.issue("Was ours", minutes_ago=20)
    relabeled = h.issue("Back and forth", minutes_ago=15)
    h.sync()
    h.sb.clock.advance(60)
    h.state.remove_label(REPO, number, LABEL, actor="ana-reyes")
    h.state.remove_label(REPO, relabeled, LABEL, actor="ana-reyes")
    h.sb.clock.advance(1)
    h.state.add_labels(REPO, relabeled, [LABEL], actor="ana-reyes")
    h.sync()
    assert github_id(REPO, number) not in h.item_ids()
    assert h.status(number) is Status.DELETED
    request = h.store.get_request(github_id(REPO, number))
    assert request is not None and request.status_reason == f"label removed ({LABEL})"
    assert github_id(REPO, relabeled) in h.item_ids()
    assert h.status(relabeled) is Status.NEW


def test_a_deleted_request_without_a_label_removal_says_deleted(h: Harness) -> None:
    number = h.issue("Was ours", minutes_ago=20)
    h.sync()
    h.store.apply("github", deleted_items=[github_id(REPO, number)],
                  assembler=make_assembler(h.settings, h.now, rules=rulebook(h.settings)), now=h.now)
    request = h.store.get_request(github_id(REPO, number))
    assert request is not None and request.status is Status.DELETED
    assert request.status_reason == "deleted at the source"


def test_backlog_label_makes_a_backlog_event(h: Harness) -> None:
    number = h.issue("Later", minutes_ago=20)
    h.sync()
    h.sb.clock.advance(60)
    h.state.add_labels(REPO, number, [seed.BACKLOG_LABEL], actor="ana-reyes")
    h.sync()
    kinds = [k for _, k, _ in h.events(number)]
    assert kinds.count("backlog") == 1 and kinds.count("labeled") == 2
    assert [d for _, k, d in h.events(number) if k == "labeled"][-1] == {"label": seed.BACKLOG_LABEL}
    assert h.status(number) is Status.BACKLOG


def test_seeded_month_links_github_issues_to_slack_messages(sandbox: Sandbox, tmp_path: Path) -> None:
    h = Harness(sandbox, tmp_path)
    h.sync()
    assert sandbox.summary is not None
    bot_requests = [r for r in sandbox.summary.requests if r.path == "bot" and r.issue_number]
    assert bot_requests
    for r in bot_requests:
        links = h.item(r.issue_number)["links"]  # type: ignore[arg-type]
        assert f"slack:{r.channel}/{r.slack_ts}" in links
        rows = h.store.conn.execute("SELECT to_id FROM item_links WHERE from_id=?",
                                    (github_id(REPO, r.issue_number),)).fetchall()  # type: ignore[arg-type]
        assert (f"slack:{r.channel}/{r.slack_ts}",) in [tuple(x) for x in rows]
    stored_numbers = {int(i.split("#")[1]) for i in h.item_ids()}
    assert not stored_numbers & set(sandbox.summary.pull_requests)
    expected = {i.number for i in h.state.repo(REPO).issues.values()
                if not i.pull_request and LABEL in i.labels}
    assert stored_numbers == expected


# --------------------------------------------------------------------------- faults


def test_502_is_retried_with_backoff(h: Harness) -> None:
    number = h.issue("One", minutes_ago=5)
    rule = h.gh.faults.add(f"GET {ISSUES}", status=502, times=2)
    h.sync()
    assert rule.hits == 2
    assert h.sleeps == [1.0, 2.0]
    assert github_id(REPO, number) in h.item_ids()


def test_persistent_502_gives_unavailable_and_keeps_the_store(h: Harness) -> None:
    h.issue("One", minutes_ago=50)
    h.sync()
    before = h.snapshot()
    h.sb.clock.advance(60)
    h.issue("Two")
    h.gh.faults.add(f"GET {ISSUES}", status=502, times=-1)
    h.gh.calls.clear()
    err = h.sync_error()
    assert isinstance(err, Unavailable)
    assert err.title == "GitHub is unavailable (HTTP 502)"
    assert len(h.gh.calls.calls_to("GET", ISSUES)) == 3  # bounded attempts
    assert h.sleeps == [1.0, 2.0]
    assert h.snapshot() == before  # comments/events read first were not applied either
    h.gh.faults.clear()
    h.sync()
    assert len(h.item_ids()) == 2


def test_timeout_is_retried_then_unavailable(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    client = httpx.Client(timeout=httpx.Timeout(0.3))
    h = Harness(empty_sandbox, tmp_path, client=client)
    number = h.issue("One", minutes_ago=5)
    h.gh.faults.add(f"GET {ISSUES}", "timeout", seconds=5, times=1)
    h.sync()
    assert h.sleeps == [1.0]
    assert github_id(REPO, number) in h.item_ids()

    before = h.snapshot()
    h.sb.clock.advance(60)
    h.issue("Two")
    h.gh.faults.add(f"GET {COMMENTS}", "timeout", seconds=5, times=-1)
    err = h.sync_error()
    assert isinstance(err, Unavailable)
    assert err.title == "GitHub did not answer in time"
    assert h.snapshot() == before
    client.close()


def test_connection_refused_is_unavailable(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that was just free and now has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    h = Harness(empty_sandbox, tmp_path, base_url=f"http://127.0.0.1:{port}")
    err = h.sync_error()
    assert isinstance(err, Unavailable)
    assert err.title.startswith("cannot reach GitHub")
    assert GITHUB_TOKEN not in str(err)
    assert h.sleeps == [1.0, 2.0]


def test_429_with_retry_after_waits_and_retries(h: Harness) -> None:
    number = h.issue("One", minutes_ago=5)
    h.gh.faults.add(f"GET {ISSUES}", "rate_limit", status=429, retry_after=3)
    h.sync()
    assert h.sleeps == [3.0]
    assert github_id(REPO, number) in h.item_ids()


@pytest.mark.parametrize("value", ["0", "-5", "soon", "1.5e-9"])
def test_bad_retry_after_is_clamped_to_one_second(h: Harness, value: str) -> None:
    h.issue("One", minutes_ago=5)
    h.gh.faults.add(f"GET {ISSUES}", status=429, headers={"retry-after": value},
                    body={"message": "Too Many Requests"})
    h.sync()
    assert h.sleeps == [1.0]


def test_primary_limit_raises_rate_limited_until_reset(h: Harness) -> None:
    h.issue("One", minutes_ago=5)
    h.sync()
    before = h.snapshot()
    h.sb.clock.advance(60)
    h.issue("Two")
    h.gh.faults.add(f"GET {COMMENTS}", "rate_limit")  # 403 + x-ratelimit-remaining: 0
    h.gh.calls.clear()
    err = h.sync_error()
    assert isinstance(err, RateLimited)
    reset = datetime.fromtimestamp(h.state.rate.reset, UTC)
    assert err.until == reset + timedelta(seconds=1)
    assert err.title == f"GitHub rate limit reached; resumes at {err.until.strftime('%H:%M')} UTC"
    assert h.sleeps == []
    assert len(h.gh.calls) == 1  # no request after the limit was reported
    assert h.snapshot() == before


def test_primary_limit_within_max_wait_sleeps_until_reset(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    h = Harness(empty_sandbox, tmp_path, max_wait=7200)
    h.issue("One", minutes_ago=5)
    h.gh.faults.add(f"GET {ISSUES}", "rate_limit")
    h.sync()
    reset = datetime.fromtimestamp(h.state.rate.reset, UTC)
    assert h.sleeps == [(reset + timedelta(seconds=1) - h.now).total_seconds()]


def test_reset_in_the_past_waits_one_second(h: Harness) -> None:
    h.issue("One", minutes_ago=5)
    past = int((h.now - timedelta(hours=1)).timestamp())
    h.gh.faults.add(f"GET {ISSUES}", status=403, body={"message": "API rate limit exceeded"},
                    headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(past)})
    h.sync()
    assert h.sleeps == [1.0]


def test_secondary_limit_with_retry_after(h: Harness) -> None:
    h.issue("One", minutes_ago=5)
    h.gh.faults.add(f"GET {ISSUES}", "secondary_limit", retry_after=7)
    h.sync()
    assert h.sleeps == [7.0]


def test_secondary_limit_without_headers_waits_a_minute_then_backs_off(h: Harness) -> None:
    number = h.issue("One", minutes_ago=5)
    h.gh.faults.add(f"GET {ISSUES}", "secondary_limit")
    h.sync()
    assert h.sleeps == [60.0]
    assert github_id(REPO, number) in h.item_ids()

    h.sb.clock.advance(60)
    h.state.edit_issue(REPO, number, title="changed")
    h.sleeps.clear()
    h.gh.faults.add(f"GET {ISSUES}", "secondary_limit", times=2)
    err = h.sync_error()
    assert isinstance(err, RateLimited)
    assert h.sleeps == [60.0]  # the next wait (120 s) is longer than max_wait
    assert err.until == (h.now + timedelta(seconds=120)).replace(microsecond=0)


def test_401_is_an_auth_error_without_the_token(h: Harness) -> None:
    h.issue("One", minutes_ago=5)
    h.gh.faults.add("/repos/*", "auth", times=-1)
    err = h.sync_error()
    assert isinstance(err, AuthError)
    assert err.title == "GitHub rejected the token (401 Bad credentials)"
    assert GITHUB_TOKEN not in str(err) and GITHUB_TOKEN not in repr(err.__dict__)
    assert len(h.gh.calls) == 1  # bad credentials stop the poll at once
    assert h.item_ids() == set()


def test_wrong_token_is_an_auth_error(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    h = Harness(empty_sandbox, tmp_path, token="ghp_wrongwrongwrongwrong")
    err = h.sync_error()
    assert isinstance(err, AuthError)
    assert "ghp_wrong" not in str(err)


def test_missing_token_fails_before_any_request(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    h = Harness(empty_sandbox, tmp_path, token=None)
    assert isinstance(h.sync_error(), AuthError)
    assert len(h.gh.calls) == 0


@pytest.mark.parametrize("variant", ["truncated", "content_type"])
def test_malformed_payload_is_bad_payload_and_not_applied(h: Harness, variant: str) -> None:
    h.issue("One", minutes_ago=50)
    h.sync()
    before = h.snapshot()
    h.sb.clock.advance(60)
    h.issue("Two")
    h.gh.faults.add(f"GET {ISSUES}", "malformed", variant=variant)
    err = h.sync_error()
    assert isinstance(err, BadPayload)
    assert h.snapshot() == before
    h.sync()  # the next poll retries and converges
    assert len(h.item_ids()) == 2


def test_malformed_second_page_keeps_the_first_and_resumes(h: Harness) -> None:
    numbers = [h.issue(f"Bulk {i}", minutes_ago=300 - i) for i in range(150)]
    gen = h.batches()
    first = next(b for b in gen if b.items)
    assert not first.cursors
    h.gh.faults.add(f"GET {ISSUES}", "malformed")
    with pytest.raises(BadPayload):
        list(gen)
    assert h.item_ids() == {github_id(REPO, n) for n in numbers[:100]}  # whole page 1, nothing of page 2
    assert f"issues:{REPO}" not in h.store.cursors("github")  # the cursor did not move
    h.sync()
    assert h.item_ids() == {github_id(REPO, n) for n in numbers}


@pytest.mark.parametrize(("status", "words"), [(404, "was not found"), (410, "is gone"), (301, "has moved")])
def test_missing_repo_does_not_stop_the_others(empty_sandbox: Sandbox, tmp_path: Path, status: int,
                                               words: str) -> None:
    h = Harness(empty_sandbox, tmp_path, repos=[seed.BACKLOG_REPO, REPO])
    number = h.issue("Still synced", minutes_ago=5)
    h.gh.faults.add(f"GET /repos/{seed.BACKLOG_REPO}/issues*", status=status, times=-1)
    err = h.sync_error()
    assert isinstance(err, NotFound)
    assert err.title == f"GitHub repository {seed.BACKLOG_REPO} {words} ({status})" + (
        "; update the config" if status == 301 else "")
    assert github_id(REPO, number) in h.item_ids()


def test_forbidden_repo_does_not_stop_the_others(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    h = Harness(empty_sandbox, tmp_path, repos=[seed.BACKLOG_REPO, REPO])
    number = h.issue("Still synced", minutes_ago=5)
    h.gh.faults.add(f"GET /repos/{seed.BACKLOG_REPO}/*", status=403, times=-1)
    err = h.sync_error()
    assert isinstance(err, AuthError)
    assert err.title.startswith(f"GitHub refused access to {seed.BACKLOG_REPO} (403")
    assert github_id(REPO, number) in h.item_ids()


# --------------------------------------------------------------------------- doctor


def test_check_reports_login_scopes_rate_and_repos(h: Harness) -> None:
    facts = h.source.check()
    assert facts["login"] == h.state.viewer
    assert facts["scopes"] == ["repo"]
    # /user was counted, /rate_limit is free, and the repo was checked after it.
    assert facts["rate_limit"]["remaining"] == h.state.rate.limit - 1
    assert facts["rate_limit"]["reset"] == datetime.fromtimestamp(h.state.rate.reset, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    assert facts["repos"][REPO]["full_name"] == REPO
    assert facts["repos"][REPO]["can_write"] is True


def test_check_raises_for_a_missing_repo(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    h = Harness(empty_sandbox, tmp_path, repos=["va-identity/nope"])
    with pytest.raises(NotFound):
        h.source.check()


# --------------------------------------------------------------------------- Slack links in comments

PERMALINK = "https://dsva.slack.com/archives/C0IDENTITY/p1712345678000100"
SLACK_ID = "slack:C0IDENTITY/1712345678.000100"


def _slack_item(h: Harness, ident: str) -> SourceItem:
    return SourceItem(id=ident, source=SourceKind("slack"), title="Need a test user", body="need a test user",
                      url=None, created_at=h.now - timedelta(hours=2), updated_at=h.now - timedelta(hours=2),
                      requester=None)


def test_slack_permalink_in_a_comment_links_the_two_homes(h: Harness) -> None:
    number = h.issue("Need a test user", minutes_ago=30, body="No link in the body")
    h.store.apply("slack", items=[_slack_item(h, SLACK_ID)], assembler=make_assembler(h.settings, h.now, rules=rulebook(h.settings)), now=h.now)
    h.sync()
    assert h.item(number)["links"] == []

    h.sb.clock.advance(60)
    h.state.add_comment(REPO, number, f"From Slack: <{PERMALINK}|thread>", user="ana-reyes")
    h.sync()
    assert h.item(number)["links"] == [SLACK_ID]
    request = h.store.get_request(SLACK_ID)
    assert request is not None and request.id == github_id(REPO, number)
    assert sorted(request.item_ids) == sorted([github_id(REPO, number), SLACK_ID])

    # Later changes to the issue keep the link although the comment is not read again.
    h.sb.clock.advance(60)
    h.state.edit_issue(REPO, number, title="Need a test user (urgent)")
    h.sync()
    assert h.item(number)["title"] == "Need a test user (urgent)"
    assert h.item(number)["links"] == [SLACK_ID]
    # And a quiet repo is still only 304s.
    h.gh.calls.clear()
    batches = h.sync()
    assert {c.status for c in h.gh.calls.all()} == {304}
    assert all(not b.items and not b.cursors for b in batches)


def test_comment_link_edited_without_the_issue_changing(h: Harness) -> None:
    """An issue the listing does not return (its ``updated_at`` did not move) is read by number."""
    number = h.issue("Data pull", minutes_ago=30)
    h.state.add_comment(REPO, number, "Will post the Slack thread", user="ana-reyes",
                        at=h.now - timedelta(minutes=20))
    h.sync()
    h.sb.clock.advance(60)
    with h.state.lock:
        comment = h.state.repo(REPO).comments[-1]
        comment.body = f"Slack thread: {PERMALINK}"
        comment.updated_at = h.now
    h.gh.calls.clear()
    h.sync()
    assert h.item(number)["links"] == [SLACK_ID]
    assert [c.status for c in h.gh.calls.calls_to("GET", f"{ISSUES}/{number}")] == [200]

    # The link is edited away again: the issue is unlinked.
    h.sb.clock.advance(60)
    with h.state.lock:
        comment.body = "Never mind"
        comment.updated_at = h.now
    h.sync()
    assert h.item(number)["links"] == []
    assert h.store.cursors("github")[f"comment_links:{REPO}"] == {"comments": {}, "dirty": []}


def test_comment_links_on_issues_that_are_not_requests_are_not_stored(h: Harness) -> None:
    other = h.issue("Not ours", minutes_ago=30, labels=())
    pr = h.state.add_pull_request(REPO, "Fix login", "code", user="ben-okafor", labels=[LABEL]).number
    h.state.add_comment(REPO, other, f"See {PERMALINK}", user="ana-reyes", at=h.now - timedelta(minutes=10))
    h.state.add_comment(REPO, pr, f"See {PERMALINK}", user="ana-reyes", at=h.now - timedelta(minutes=9))
    h.sync()
    assert h.item_ids() == set()
    # The unlabeled issue was looked up once; the PR comment was never considered.
    assert len(h.gh.calls.calls_to("GET", f"{ISSUES}/{other}")) == 1
    assert h.gh.calls.calls_to("GET", f"{ISSUES}/{pr}") == []
    cursor = h.store.cursors("github")[f"comment_links:{REPO}"]
    assert cursor["dirty"] == [] and [v[0] for v in cursor["comments"].values()] == [other]

    # When it gets the label later, the listing brings it with the comment's link.
    h.sb.clock.advance(60)
    h.state.add_labels(REPO, other, [LABEL], actor="ana-reyes")
    h.sync()
    assert h.item(other)["links"] == [SLACK_ID]


def test_issue_reads_for_comment_links_are_bounded(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    import idqueue.integrations.github.source as github_mod

    monkeypatch.setattr(github_mod, "MAX_ISSUE_READS", 2)
    numbers = [h.issue(f"Not ours {i}", minutes_ago=30 - i, labels=()) for i in range(3)]
    for i, number in enumerate(numbers):
        h.state.add_comment(REPO, number, f"See {PERMALINK}", user="ana-reyes", at=h.now - timedelta(minutes=10 - i))
    h.sync()
    reads = [c for c in h.gh.calls.all() if c.path.startswith(f"{ISSUES}/") and c.path.split("/")[-1].isdigit()]
    assert len(reads) == 2
    assert h.store.cursors("github")[f"comment_links:{REPO}"]["dirty"] == [numbers[2]]
    h.sync()
    reads = [c for c in h.gh.calls.all() if c.path.startswith(f"{ISSUES}/") and c.path.split("/")[-1].isdigit()]
    assert len(reads) == 3
    assert h.store.cursors("github")[f"comment_links:{REPO}"]["dirty"] == []
