"""The Jira emulator's answers validated against Atlassian's official API description
(``tests/specs/jira-platform.openapi.json``, a pruned ``swagger-v3.v3.json``), through httpx."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_emulator_conformance import Spec

from idqueue.integrations.jira.adf import from_text
from idqueue.integrations.jira.emulator import (
    GONE_MESSAGE,
    JIRA_EMAIL,
    JIRA_PAT,
    JIRA_TOKEN,
    JiraEmulator,
)

SPEC = Path(__file__).resolve().parents[1] / "specs" / "jira-platform.openapi.json"
NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def spec() -> Spec:
    return Spec(SPEC, lenient=False, uri="urn:idqueue:jira-spec")


@pytest.fixture
def emu() -> Iterator[JiraEmulator]:
    emu = JiraEmulator(now=NOW)
    st = emu.state
    st.add_project("ID", "Identity support")
    st.user("acc-ana", "Ana Reyes", email="ana@example.org")
    st.user("cust-1", "Requester One", account_type="customer")
    for n in range(3):
        st.add_issue("ID", f"Login fails {n}", description=from_text(f"Body {n}"), reporter="cust-1",
                     at=NOW - timedelta(hours=5 - n), labels=["login"], components=["Login.gov"])
    st.add_comment("ID-1", from_text("Looking"), author="acc-ana", at=NOW - timedelta(hours=1))
    st.add_comment("ID-1", from_text("internal"), author="acc-ana", at=NOW - timedelta(minutes=50), internal=True)
    st.set_assignee("ID-1", "acc-ana", at=NOW - timedelta(minutes=40))
    st.set_status("ID-2", "Resolved", at=NOW - timedelta(minutes=30))
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def client(emu: JiraEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.origin, auth=(JIRA_EMAIL, JIRA_TOKEN)) as c:
        yield c


def check(spec: Spec, path: str, method: str, resp: httpx.Response, status: int) -> Any:
    assert resp.status_code == status, resp.text[:300]
    escaped = path.replace("~", "~0").replace("/", "~1")
    pointer = f"/paths/{escaped}/{method}/responses/{status}/content/application~1json/schema"
    body = resp.json()
    errors = spec.errors(pointer, body)
    assert errors == [], errors[:5]
    return body


def test_myself_and_project(spec: Spec, client: httpx.Client) -> None:
    me = check(spec, "/rest/api/3/myself", "get", client.get("/rest/api/3/myself"), 200)
    assert me["emailAddress"] == JIRA_EMAIL
    check(spec, "/rest/api/3/project/{projectIdOrKey}", "get", client.get("/rest/api/3/project/ID"), 200)


def test_search_pages_with_next_page_token(spec: Spec, client: httpx.Client) -> None:
    body = {"jql": "project = ID ORDER BY updated ASC", "maxResults": 2, "fields": ["*navigable"],
            "expand": "changelog"}
    first = check(spec, "/rest/api/3/search/jql", "post", client.post("/rest/api/3/search/jql", json=body), 200)
    assert [i["key"] for i in first["issues"]] == ["ID-3", "ID-1"] and first["isLast"] is False
    second = check(spec, "/rest/api/3/search/jql", "post", client.post(
        "/rest/api/3/search/jql", json={**body, "nextPageToken": first["nextPageToken"]}), 200)
    assert [i["key"] for i in second["issues"]] == ["ID-2"] and second["isLast"] is True
    assert first["issues"][1]["changelog"]["histories"][0]["items"][0]["field"] == "assignee"
    got = check(spec, "/rest/api/3/search/jql", "get", client.get(
        "/rest/api/3/search/jql", params={"jql": "project = ID", "maxResults": 1}), 200)
    assert got["issues"] == [{"expand": got["issues"][0]["expand"], "id": got["issues"][0]["id"],
                              "self": got["issues"][0]["self"], "key": "ID-1", "fields": {}}]


def test_search_updated_boundary_in_the_callers_zone(client: httpx.Client, emu: JiraEmulator) -> None:
    emu.state.me.time_zone = "America/New_York"  # ID-2 was updated at 15:00 UTC = 11:00 EDT
    jql = 'project = ID AND updated >= "2026-03-11 11:01" ORDER BY updated ASC'
    keys = [i["key"] for i in client.get("/rest/api/3/search/jql", params={"jql": jql}).json()["issues"]]
    assert keys == []
    jql = 'project = ID AND updated >= "2026-03-11 11:00" ORDER BY updated ASC'
    keys = [i["key"] for i in client.get("/rest/api/3/search/jql", params={"jql": jql}).json()["issues"]]
    assert keys == ["ID-2"]


def test_old_search_is_gone(client: httpx.Client) -> None:
    for version in (2, 3):
        resp = client.get(f"/rest/api/{version}/search", params={"jql": "project = ID"})
        assert resp.status_code == 410
        assert resp.json() == {"errorMessages": [GONE_MESSAGE], "errors": {}}


def test_issue_comments_and_properties(spec: Spec, client: httpx.Client) -> None:
    issue = check(spec, "/rest/api/3/issue/{issueIdOrKey}", "get",
                  client.get("/rest/api/3/issue/ID-1", params={"expand": "changelog"}), 200)
    assert issue["fields"]["status"]["statusCategory"]["key"] == "new"
    comments = check(spec, "/rest/api/3/issue/{issueIdOrKey}/comment", "get", client.get(
        "/rest/api/3/issue/ID-1/comment", params={"expand": "properties", "orderBy": "-created"}), 200)
    assert [c["jsdPublic"] for c in comments["comments"]] == [False, True]
    posted = check(spec, "/rest/api/3/issue/{issueIdOrKey}/comment", "post", client.post(
        "/rest/api/3/issue/ID-1/comment", json={"body": from_text("Hi <b>"), "properties": [
            {"key": "idqueue", "value": {"action": "a1"}}]}), 201)
    assert posted["properties"] == [{"key": "idqueue", "value": {"action": "a1"}}]
    path = "/rest/api/3/comment/{commentId}/properties/{propertyKey}"
    check(spec, path, "put", client.put(f"/rest/api/3/comment/{posted['id']}/properties/extra", json={"x": 1}), 201)
    check(spec, path, "get", client.get(f"/rest/api/3/comment/{posted['id']}/properties/extra"), 200)
    path = "/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}"
    check(spec, path, "put", client.put("/rest/api/3/issue/ID-1/properties/idq", json={"a": 1}), 201)
    assert check(spec, path, "get", client.get("/rest/api/3/issue/ID-1/properties/idq"), 200)["value"] == {"a": 1}


def test_writes(spec: Spec, client: httpx.Client, emu: JiraEmulator) -> None:
    trans = check(spec, "/rest/api/3/issue/{issueIdOrKey}/transitions", "get",
                  client.get("/rest/api/3/issue/ID-1/transitions"), 200)
    done = next(t for t in trans["transitions"] if t["to"]["statusCategory"]["key"] == "done")
    assert client.post("/rest/api/3/issue/ID-1/transitions", json={"transition": {"id": done["id"]}}).status_code == 204
    assert emu.state.issue("ID-1").resolution == "Done"
    assert client.put("/rest/api/3/issue/ID-1/assignee", json={"accountId": None}).status_code == 204
    assert client.put("/rest/api/3/issue/ID-1", json={"fields": {"priority": {"name": "High"}},
                                                      "update": {"labels": [{"add": "vip"}]}}).status_code == 204
    assert emu.state.issue("ID-1").labels == ["login", "vip"]
    created = check(spec, "/rest/api/3/issue", "post", client.post("/rest/api/3/issue", json={"fields": {
        "project": {"key": "ID"}, "summary": "From Slack", "issuetype": {"name": "Task"},
        "description": from_text("x")}}), 201)
    link = {"globalId": "slack:C1/1.2", "object": {"url": "https://x.slack.com/archives/C1/p1", "title": "Slack"}}
    path = "/rest/api/3/issue/{issueIdOrKey}/remotelink"
    check(spec, path, "post", client.post(f"/rest/api/3/issue/{created['key']}/remotelink", json=link), 201)
    check(spec, path, "post", client.post(f"/rest/api/3/issue/{created['key']}/remotelink", json=link), 200)
    # The description says GET answers one RemoteIssueLink; Jira answers a list of them (without
    # ``globalId``), so each element is checked.
    links = client.get(f"/rest/api/3/issue/{created['key']}/remotelink").json()
    assert len(links) == 1
    assert spec.errors("/components/schemas/RemoteIssueLink", links[0]) == []


def test_errors_and_auth(client: httpx.Client, emu: JiraEmulator) -> None:
    assert client.get("/rest/api/3/issue/ID-99").json()["errorMessages"]
    assert httpx.get(emu.origin + "/rest/api/3/myself", auth=(JIRA_EMAIL, "expired")).status_code == 401
    bearer = httpx.get(emu.origin + "/rest/api/2/myself", headers={"Authorization": f"Bearer {JIRA_PAT}"})
    assert bearer.status_code == 200
    bad = client.get("/rest/api/3/search/jql", params={"jql": "summary ~ login"})
    assert bad.status_code == 400 and bad.json()["errorMessages"]
    emu.faults.add("GET /rest/api/3/myself", "ratelimited", retry_after=7,
                   headers={"RateLimit-Reason": "jira-per-issue-on-write"})
    limited = client.get("/rest/api/3/myself")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.headers["RateLimit-Reason"] == "jira-per-issue-on-write"


def test_validation_detects_a_broken_answer(spec: Spec, client: httpx.Client) -> None:
    body = client.get("/rest/api/3/issue/ID-1/comment").json()
    body["comments"][0]["created"] = 12
    pointer = "/paths/~1rest~1api~13~1issue~1{issueIdOrKey}~1comment/get/responses/200/content/application~1json/schema"
    assert spec.errors(pointer, body)


def test_changelog_pages(spec: Spec, client: httpx.Client, emu: JiraEmulator) -> None:
    for n in range(105):
        emu.state.set_assignee("ID-3", "acc-ana" if n % 2 == 0 else None, at=NOW + timedelta(seconds=n))
    embedded = client.get("/rest/api/3/issue/ID-3", params={"expand": "changelog"}).json()["changelog"]
    assert embedded["total"] == 105 and len(embedded["histories"]) == 100
    path = "/rest/api/3/issue/{issueIdOrKey}/changelog"
    page = check(spec, path, "get", client.get("/rest/api/3/issue/ID-3/changelog", params={"startAt": 100}), 200)
    assert len(page["values"]) == 5 and page["isLast"] is True


def test_assignable_user_search(spec: Spec, client: httpx.Client, emu: JiraEmulator) -> None:
    emu.state.user("acc-anabel", "Anabel Cruz")  # no email: hidden by the profile's privacy setting
    path = "/rest/api/3/user/assignable/search"
    found = check(spec, path, "get", client.get(path, params={"issueKey": "ID-1", "query": "ana"}), 200)
    assert [u["accountId"] for u in found] == ["acc-ana", "acc-anabel"]  # customers are never assignable
    assert "emailAddress" not in found[1]
    by_mail = check(spec, path, "get", client.get(path, params={"issueKey": "ID-1", "query": "ana@example.org"}), 200)
    assert [u["displayName"] for u in by_mail] == ["Ana Reyes"]
    one = check(spec, path, "get", client.get(path, params={"issueKey": "ID-1", "accountId": "acc-anabel"}), 200)
    assert [u["displayName"] for u in one] == ["Anabel Cruz"]
    assert client.get(path, params={"query": "ana"}).status_code == 400
    assert client.get(path, params={"issueKey": "ID-1", "query": "a", "accountId": "acc-ana"}).status_code == 400
    assert client.get(path, params={"issueKey": "ID-99", "query": "ana"}).status_code == 404
