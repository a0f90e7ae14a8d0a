"""The GitHub emulator, driven by the real clients (httpx and PyGithub) over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from github import Auth, Github, GithubException

from idqueue.integrations.loopback import Clock
from idqueue.sandbox.github_emulator import GITHUB_TOKEN, GitHubEmulator, GitHubState

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
REPO = "acme/support"


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def gh(clock: Clock) -> Iterator[GitHubEmulator]:
    state = GitHubState(now=clock)
    state.viewer = "ana"
    state.add_repo(REPO, collaborators=["ana", "ben"])
    emu = GitHubEmulator(state, now=clock).start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def client(gh: GitHubEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gh.url, headers={"Authorization": f"token {GITHUB_TOKEN}"}, timeout=5) as c:
        yield c


def pygithub(gh: GitHubEmulator) -> Github:
    # PyGithub throttles writes (1 s apart) by default; the emulator needs no such pause.
    return Github(base_url=gh.url, auth=Auth.Token(GITHUB_TOKEN), retry=None, timeout=5,
                  seconds_between_requests=None, seconds_between_writes=None)


def add_issues(gh: GitHubEmulator, clock: Clock, n: int, **kwargs: object) -> None:
    for i in range(n):
        gh.state.add_issue(REPO, f"issue {i}", "body", user="req", labels=["Identity"],
                           created_at=clock() - timedelta(hours=n - i), **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- auth and basics


def test_bad_token_is_401_bad_credentials(gh: GitHubEmulator) -> None:
    r = httpx.get(f"{gh.url}/repos/{REPO}/issues", headers={"Authorization": "token nope"})
    assert r.status_code == 401
    assert r.json()["message"] == "Bad credentials"
    assert "documentation_url" in r.json()
    assert httpx.get(f"{gh.url}/repos/{REPO}/issues").status_code == 401


def test_bearer_and_token_schemes_work_and_headers_are_present(gh: GitHubEmulator) -> None:
    r = httpx.get(f"{gh.url}/repos/{REPO}/issues", headers={"Authorization": f"Bearer {GITHUB_TOKEN}"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    for header in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-used", "x-ratelimit-reset"):
        assert int(r.headers[header]) >= 0
    assert r.headers["x-ratelimit-resource"] == "core"


def test_unknown_repo_and_issue_are_404(client: httpx.Client) -> None:
    r = client.get("/repos/acme/nope/issues")
    assert r.status_code == 404
    assert r.json()["message"] == "Not Found"
    assert client.get(f"/repos/{REPO}/issues/999").status_code == 404


def test_get_user_reports_scopes(client: httpx.Client) -> None:
    r = client.get("/user")
    assert r.json()["login"] == "ana"
    assert r.headers["x-oauth-scopes"] == "repo"


# --------------------------------------------------------------------------- listing


def test_list_filters_state_labels_and_includes_pull_requests(gh: GitHubEmulator, client: httpx.Client) -> None:
    gh.state.add_issue(REPO, "open one", user="req", labels=["Identity", "bug"])
    closed = gh.state.add_issue(REPO, "closed one", user="req", labels=["Identity"])
    gh.state.close_issue(REPO, closed.number)
    gh.state.add_pull_request(REPO, "a PR", user="ben")

    default = client.get(f"/repos/{REPO}/issues").json()
    assert {i["title"] for i in default} == {"open one", "a PR"}
    everything = client.get(f"/repos/{REPO}/issues", params={"state": "all"}).json()
    assert len(everything) == 3
    pr = next(i for i in everything if i["title"] == "a PR")
    assert pr["pull_request"]["url"].endswith(f"/pulls/{pr['number']}")
    assert all("pull_request" not in i for i in everything if i["title"] != "a PR")
    labelled = client.get(f"/repos/{REPO}/issues", params={"state": "all", "labels": "identity,BUG"}).json()
    assert [i["title"] for i in labelled] == ["open one"]


def test_link_pagination_follows_next_until_absent(gh: GitHubEmulator, clock: Clock, client: httpx.Client) -> None:
    add_issues(gh, clock, 75)
    r = client.get(f"/repos/{REPO}/issues", params={"per_page": 30})
    assert 'rel="next"' in r.headers["link"] and 'rel="last"' in r.headers["link"]
    seen = [i["number"] for i in r.json()]
    pages = 1
    while "next" in r.links:
        r = client.get(r.links["next"]["url"])
        seen += [i["number"] for i in r.json()]
        pages += 1
    assert pages == 3
    assert sorted(seen) == list(range(1, 76))
    assert 'rel="prev"' in r.headers["link"] and 'rel="first"' in r.headers["link"]
    assert r.links["first"]["url"].startswith(gh.url)


def test_link_without_last_and_single_page_has_no_link(gh: GitHubEmulator, clock: Clock,
                                                      client: httpx.Client) -> None:
    add_issues(gh, clock, 5)
    assert "link" not in client.get(f"/repos/{REPO}/issues").headers
    gh.link_last = False
    r = client.get(f"/repos/{REPO}/issues", params={"per_page": 2})
    assert "next" in r.links and "last" not in r.links
    numbers = [i["number"] for i in r.json()]
    while "next" in r.links:
        r = client.get(r.links["next"]["url"])
        numbers += [i["number"] for i in r.json()]
    assert sorted(numbers) == [1, 2, 3, 4, 5]


def test_per_page_is_capped_at_100(gh: GitHubEmulator, clock: Clock, client: httpx.Client) -> None:
    add_issues(gh, clock, 120)
    assert len(client.get(f"/repos/{REPO}/issues", params={"per_page": 500}).json()) == 100


def test_etag_304_does_not_cost_rate_limit(gh: GitHubEmulator, clock: Clock, client: httpx.Client) -> None:
    add_issues(gh, clock, 3)
    first = client.get(f"/repos/{REPO}/issues", params={"state": "all"})
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    remaining = int(first.headers["x-ratelimit-remaining"])
    again = client.get(f"/repos/{REPO}/issues", params={"state": "all"}, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert int(again.headers["x-ratelimit-remaining"]) == remaining
    gh.state.add_comment(REPO, 1, "new comment", user="ben")
    changed = client.get(f"/repos/{REPO}/issues", params={"state": "all"}, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert int(changed.headers["x-ratelimit-remaining"]) == remaining - 1


def test_rate_limit_endpoint_is_free_and_exhaustion_gives_403(gh: GitHubEmulator, client: httpx.Client) -> None:
    before = client.get("/rate_limit").json()["rate"]["remaining"]
    assert client.get("/rate_limit").json()["rate"]["remaining"] == before
    client.get(f"/repos/{REPO}/issues")
    assert client.get("/rate_limit").json()["resources"]["core"]["remaining"] == before - 1
    gh.state.rate.remaining = 0
    r = client.get(f"/repos/{REPO}/issues")
    assert r.status_code == 403
    assert r.headers["x-ratelimit-remaining"] == "0"
    assert "rate limit" in r.json()["message"]


def test_rate_limit_window_resets_with_the_clock(gh: GitHubEmulator, clock: Clock, client: httpx.Client) -> None:
    client.get(f"/repos/{REPO}/issues")
    reset = int(client.get("/rate_limit").json()["rate"]["reset"])
    gh.state.rate.remaining = 0
    clock.set(datetime.fromtimestamp(reset + 1, UTC))
    assert client.get(f"/repos/{REPO}/issues").status_code == 200


def test_since_is_inclusive_and_sort_direction(gh: GitHubEmulator, clock: Clock, client: httpx.Client) -> None:
    add_issues(gh, clock, 4)
    boundary = gh.state.issue(REPO, 3).updated_at
    r = client.get(f"/repos/{REPO}/issues", params={"since": boundary.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                     "sort": "updated", "direction": "asc"})
    assert [i["number"] for i in r.json()] == [3, 4]
    clock.advance(60)
    gh.state.edit_issue(REPO, 1, body="changed")
    r = client.get(f"/repos/{REPO}/issues", params={"since": boundary.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                     "sort": "updated", "direction": "asc"})
    assert [i["number"] for i in r.json()] == [3, 4, 1]
    assert client.get(f"/repos/{REPO}/issues", params={"since": "yesterday"}).status_code == 422


def test_comments_per_issue_and_repo_wide(gh: GitHubEmulator, clock: Clock, client: httpx.Client) -> None:
    add_issues(gh, clock, 2)
    gh.state.add_comment(REPO, 1, "first", user="ben", at=clock() - timedelta(minutes=30))
    gh.state.add_comment(REPO, 2, "second", user="req", at=clock() - timedelta(minutes=10))
    one = client.get(f"/repos/{REPO}/issues/1/comments").json()
    assert [c["body"] for c in one] == ["first"]
    assert one[0]["author_association"] == "MEMBER"
    assert one[0]["issue_url"].endswith(f"/repos/{REPO}/issues/1")
    since = (clock() - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    wide = client.get(f"/repos/{REPO}/issues/comments", params={"since": since}).json()
    assert [c["body"] for c in wide] == ["second"]
    assert gh.state.issue(REPO, 1).comments == 1


def test_events_recorded_for_api_and_state_changes(gh: GitHubEmulator, clock: Clock, client: httpx.Client) -> None:
    add_issues(gh, clock, 1)
    client.post(f"/repos/{REPO}/issues/1/assignees", json={"assignees": ["ben"]})
    clock.advance(5)
    gh.state.remove_label(REPO, 1, "Identity", actor="ben")
    clock.advance(5)
    client.patch(f"/repos/{REPO}/issues/1", json={"state": "closed", "state_reason": "not_planned"})
    events = client.get(f"/repos/{REPO}/issues/1/events").json()
    assert [e["event"] for e in events] == ["labeled", "assigned", "unlabeled", "closed"]
    assert events[1]["assignee"]["login"] == "ben"
    assert events[2]["label"]["name"] == "Identity"
    wide = client.get(f"/repos/{REPO}/issues/events").json()
    assert wide[0]["event"] == "closed" and wide[0]["issue"]["number"] == 1
    assert [e["id"] for e in wide] == sorted((e["id"] for e in wide), reverse=True)


def test_close_and_reopen_semantics(gh: GitHubEmulator, clock: Clock, client: httpx.Client) -> None:
    add_issues(gh, clock, 1)
    closed = client.patch(f"/repos/{REPO}/issues/1", json={"state": "closed"}).json()
    assert closed["state"] == "closed" and closed["state_reason"] == "completed"
    assert closed["closed_at"] == clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert closed["closed_by"]["login"] == "ana"
    reopened = client.patch(f"/repos/{REPO}/issues/1", json={"state": "open"}).json()
    assert reopened["state"] == "open" and reopened["closed_at"] is None
    assert reopened["state_reason"] == "reopened"
    bad = client.patch(f"/repos/{REPO}/issues/1", json={"state": "done"})
    assert bad.status_code == 422 and bad.json()["message"] == "Validation Failed"


def test_assignees_ignore_non_collaborators_and_list(gh: GitHubEmulator, clock: Clock,
                                                      client: httpx.Client) -> None:
    add_issues(gh, clock, 1)
    r = client.post(f"/repos/{REPO}/issues/1/assignees", json={"assignees": ["ben", "stranger"]})
    assert r.status_code == 201
    assert [a["login"] for a in r.json()["assignees"]] == ["ben"]
    assert r.json()["assignee"]["login"] == "ben"
    r = client.request("DELETE", f"/repos/{REPO}/issues/1/assignees", json={"assignees": ["ben"]})
    assert r.status_code == 200 and r.json()["assignees"] == []
    assert [u["login"] for u in client.get(f"/repos/{REPO}/assignees").json()] == ["ana", "ben"]
    assert client.get(f"/repos/{REPO}/assignees/ben").status_code == 204
    assert client.get(f"/repos/{REPO}/assignees/stranger").status_code == 404


def test_label_names_with_spaces_and_unicode(gh: GitHubEmulator, clock: Clock, client: httpx.Client) -> None:
    add_issues(gh, clock, 1)
    r = client.post(f"/repos/{REPO}/issues/1/labels", json={"labels": ["waiting on requester", "検証"]})
    assert r.status_code == 200
    assert [lb["name"] for lb in r.json()] == ["Identity", "waiting on requester", "検証"]
    r = client.delete(f"/repos/{REPO}/issues/1/labels/waiting%20on%20requester")
    assert [lb["name"] for lb in r.json()] == ["Identity", "検証"]
    r = client.delete(f"/repos/{REPO}/issues/1/labels/absent")
    assert r.status_code == 404 and r.json()["message"] == "Label does not exist"


def test_create_issue_requires_title(client: httpx.Client) -> None:
    r = client.post(f"/repos/{REPO}/issues", json={"body": "no title"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "title"
    r = client.post(f"/repos/{REPO}/issues", json={"title": "t", "labels": ["backlog"], "assignees": ["ana"]})
    assert r.status_code == 201
    assert r.json()["user"]["login"] == "ana"
    assert [lb["name"] for lb in r.json()["labels"]] == ["backlog"]
    assert r.json()["html_url"] == f"https://github.com/{REPO}/issues/{r.json()['number']}"


# --------------------------------------------------------------------------- PyGithub writes


def test_pygithub_writes(gh: GitHubEmulator, clock: Clock) -> None:
    add_issues(gh, clock, 1)
    g = pygithub(gh)
    repo = g.get_repo(REPO)
    issue = repo.get_issue(1)
    comment = issue.create_comment("On it!")
    assert comment.body == "On it!" and comment.user.login == "ana"
    issue.add_to_assignees("ben")
    issue.add_to_labels("needs info", "préstamo ✓")
    issue.remove_from_labels("needs info")
    issue.edit(state="closed", state_reason="completed")
    stored = gh.state.issue(REPO, 1)
    assert stored.assignees == ["ben"]
    assert stored.labels == ["Identity", "préstamo ✓"]
    assert stored.state == "closed" and stored.state_reason == "completed"
    assert stored.closed_at == clock()
    created = repo.create_issue(title="From Slack", body="link back", labels=["backlog"])
    assert created.number == 2 and gh.state.issue(REPO, 2).labels == ["backlog"]
    with pytest.raises(GithubException) as err:
        issue.remove_from_labels("absent")
    assert err.value.status == 404
    assert len(gh.calls.calls_to("POST", f"/repos/{REPO}/issues/1/comments")) == 1


def test_call_log_redacts_authorization(gh: GitHubEmulator, client: httpx.Client) -> None:
    client.post(f"/repos/{REPO}/issues", json={"title": "x"})
    call = gh.calls.last
    assert call is not None
    assert call.headers["authorization"] == "[redacted]"
    assert call.body == {"title": "x"} and call.status == 201
    assert GITHUB_TOKEN not in json.dumps([c.headers for c in gh.calls])
    assert gh.calls.count("POST", "/repos/*/issues") == 1


# --------------------------------------------------------------------------- faults


def test_status_fault_applies_times_then_recovers(gh: GitHubEmulator, client: httpx.Client) -> None:
    rule = gh.faults.add(f"GET /repos/{REPO}/issues", status=502, times=2)
    assert client.get(f"/repos/{REPO}/issues").status_code == 502
    assert client.get(f"/repos/{REPO}/issues").status_code == 502
    assert client.get(f"/repos/{REPO}/issues").status_code == 200
    assert rule.hits == 2
    assert [c.fault for c in gh.calls][:2] == ["502", "502"]


def test_fault_matches_method_and_glob(gh: GitHubEmulator, clock: Clock, client: httpx.Client) -> None:
    add_issues(gh, clock, 1)
    gh.faults.add("POST /repos/*/issues/*/comments", status=500)
    assert client.get(f"/repos/{REPO}/issues/1/comments").status_code == 200
    assert client.post(f"/repos/{REPO}/issues/1/comments", json={"body": "x"}).status_code == 500
    assert gh.state.issue(REPO, 1).comments == 0


def test_primary_rate_limit_fault(gh: GitHubEmulator, client: httpx.Client) -> None:
    gh.faults.add("/repos/*", "rate_limit")
    r = client.get(f"/repos/{REPO}/issues")
    assert r.status_code == 403
    assert r.headers["x-ratelimit-remaining"] == "0"
    assert int(r.headers["x-ratelimit-reset"]) > int(NOW.timestamp())
    gh.faults.add("/repos/*", "rate_limit", status=429, retry_after=3)
    r = client.get(f"/repos/{REPO}/issues")
    assert r.status_code == 429 and r.headers["retry-after"] == "3"


def test_secondary_limit_fault(gh: GitHubEmulator, client: httpx.Client) -> None:
    gh.faults.add("POST /repos/*", "secondary_limit", retry_after=7)
    r = client.post(f"/repos/{REPO}/issues", json={"title": "x"})
    assert r.status_code == 403
    assert "secondary rate limit" in r.json()["message"]
    assert r.headers["retry-after"] == "7"
    gh.faults.add("POST /repos/*", "secondary_limit")
    assert "retry-after" not in client.post(f"/repos/{REPO}/issues", json={"title": "x"}).headers
    assert gh.state.repo(REPO).issues == {}


def test_auth_gone_moved_and_validation_faults(gh: GitHubEmulator, clock: Clock, client: httpx.Client) -> None:
    add_issues(gh, clock, 1)
    gh.faults.add("/user", "auth")
    assert client.get("/user").json()["message"] == "Bad credentials"
    gh.faults.add(f"/repos/{REPO}/issues", status=410)
    assert client.get(f"/repos/{REPO}/issues").status_code == 410
    gh.faults.add(f"/repos/{REPO}/issues", status=301)
    moved = client.get(f"/repos/{REPO}/issues")
    assert moved.status_code == 301 and moved.headers["location"].startswith(gh.url)
    gh.faults.add("POST /repos/*/issues/*/assignees", status=422)
    r = client.post(f"/repos/{REPO}/issues/1/assignees", json={"assignees": ["ben"]})
    assert r.status_code == 422 and r.json()["message"] == "Validation Failed"
    assert gh.state.issue(REPO, 1).assignees == []


def test_pygithub_sees_fault_status(gh: GitHubEmulator, clock: Clock) -> None:
    add_issues(gh, clock, 1)
    issue = pygithub(gh).get_repo(REPO).get_issue(1)
    gh.faults.add("POST /repos/*/issues/1/comments", status=502)
    with pytest.raises(GithubException) as err:
        issue.create_comment("hello")
    assert err.value.status == 502


def test_malformed_faults(gh: GitHubEmulator, clock: Clock, client: httpx.Client) -> None:
    add_issues(gh, clock, 3)
    gh.faults.add(f"/repos/{REPO}/issues", "malformed")
    r = client.get(f"/repos/{REPO}/issues")
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        r.json()
    gh.faults.add(f"/repos/{REPO}/issues", "malformed", variant="content_type")
    r = client.get(f"/repos/{REPO}/issues")
    assert r.headers["content-type"].startswith("text/html")


def test_timeout_fault_stalls_past_client_timeout(gh: GitHubEmulator) -> None:
    gh.faults.add(f"/repos/{REPO}/issues", "timeout", seconds=30)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{gh.url}/repos/{REPO}/issues", headers={"Authorization": f"token {GITHUB_TOKEN}"}, timeout=0.2)
    # stop() must not wait for the stalled handler (the fixture stops the server).


def test_drop_after_apply_performs_the_write_but_loses_the_answer(gh: GitHubEmulator, clock: Clock,
                                                                  client: httpx.Client) -> None:
    add_issues(gh, clock, 1)
    gh.faults.add("POST /repos/*/issues/1/comments", "drop_after_apply")
    with pytest.raises(httpx.TransportError):
        client.post(f"/repos/{REPO}/issues/1/comments", json={"body": "marker-123"})
    bodies = [c["body"] for c in client.get(f"/repos/{REPO}/issues/1/comments").json()]
    assert bodies == ["marker-123"]
    assert gh.calls.calls_to("POST", "/repos/*/issues/1/comments")[0].status == 0


def test_unknown_fault_kind_is_rejected(gh: GitHubEmulator) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        gh.faults.add("/x", "explode")


def test_stopped_emulator_refuses_pooled_connections(clock: Clock) -> None:
    emu = GitHubEmulator(GitHubState(now=clock), now=clock).start()
    with httpx.Client(base_url=emu.url, headers={"Authorization": f"token {GITHUB_TOKEN}"}, timeout=2) as c:
        assert c.get("/rate_limit").status_code == 200
        emu.stop()
        with pytest.raises(httpx.TransportError):
            c.get("/rate_limit")
