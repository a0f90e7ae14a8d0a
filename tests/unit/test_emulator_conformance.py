"""The emulators' real responses validated against the official API descriptions in ``tests/specs``.

The specs are OpenAPI 3.0 (GitHub) and Swagger 2.0 (Slack) documents; their schemas are turned
into JSON Schema before validation: ``nullable: true`` becomes a ``null`` type, a list-valued
``items`` (a Slack generator quirk) becomes ``anyOf``, and for Slack ``additionalProperties:
false`` is dropped because the 2020 spec lacks fields real payloads carry (spec README, caveat 2).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft7Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7

from idqueue.sandbox.github_emulator import GITHUB_TOKEN
from idqueue.sandbox.runner import Sandbox
from idqueue.sandbox.seed import CHANNEL, SUPPORT_REPO
from idqueue.sandbox.slack_emulator import SLACK_TOKEN

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
REPO_ROOT = Path(__file__).resolve().parents[2]


SPECS = REPO_ROOT / "tests" / "specs"  # vendored copies; provenance in tests/specs/README.md


def to_json_schema(node: Any, *, lenient: bool) -> Any:
    """Turn an OpenAPI/Swagger schema tree into JSON Schema (draft 7)."""
    if isinstance(node, list):
        return [to_json_schema(x, lenient=lenient) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v, lenient=lenient) for k, v in node.items()}
    if isinstance(out.get("items"), list):
        out["items"] = {"anyOf": out["items"]}
    if out.pop("nullable", False):
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            out["type"] = [*kind, "null"]
        elif kind is None:
            out = {"anyOf": [out, {"type": "null"}]}
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    if lenient and out.get("additionalProperties") is False:
        del out["additionalProperties"]
    return out


class Spec:
    """One API description as a referencing registry, for validating fragments by pointer."""

    def __init__(self, path: Path, *, lenient: bool, uri: str) -> None:
        raw = json.loads(path.read_text(encoding="utf-8"))
        self.raw = raw
        self.doc = to_json_schema(raw, lenient=lenient)
        self.uri = uri
        self.registry: Registry[Any] = Registry().with_resource(uri, DRAFT7.create_resource(self.doc))

    def errors(self, pointer: str, instance: Any, *, patch: Any = None) -> list[str]:
        """Validation errors of ``instance`` against the schema at a JSON pointer."""
        schema: dict[str, Any] = {"$ref": f"{self.uri}#{pointer}"}
        if patch is not None:
            schema = patch
        validator = Draft7Validator(schema, registry=self.registry, format_checker=Draft7Validator.FORMAT_CHECKER)
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in validator.iter_errors(instance)]

    def fragment(self, pointer: str) -> Any:
        node: Any = self.doc
        for part in pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node


@pytest.fixture(scope="module")
def github_spec() -> Spec:
    assert SPECS is not None
    return Spec(SPECS / "github-issues.openapi.json", lenient=False, uri="urn:idqueue:github-spec")


@pytest.fixture(scope="module")
def slack_spec() -> Spec:
    assert SPECS is not None
    return Spec(SPECS / "slack-web.openapi.json", lenient=True, uri="urn:idqueue:slack-spec")


@pytest.fixture
def sb(sandbox: Sandbox, sandbox_now: datetime) -> Sandbox:
    """The seeded sandbox of ``tests/conftest.py``; this module's ``NOW`` is its frozen time."""
    assert sandbox_now == NOW
    return sandbox


@pytest.fixture
def gh(sb: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sb.github.url, headers={"Authorization": f"token {GITHUB_TOKEN}"}) as c:
        yield c


@pytest.fixture
def sl(sb: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sb.slack.url, headers={"Authorization": f"Bearer {SLACK_TOKEN}"}) as c:
        yield c


def gh_pointer(path: str, method: str, status: str) -> str:
    escaped = path.replace("~", "~0").replace("/", "~1")
    return f"/paths/{escaped}/{method}/responses/{status}"


def gh_check(spec: Spec, path: str, method: str, status: int, resp: httpx.Response) -> None:
    assert resp.status_code == status, resp.text[:300]
    pointer = gh_pointer(path, method, str(status))
    node = spec.fragment(pointer)
    if "$ref" in node:  # a shared response, e.g. #/components/responses/not_found
        pointer = node["$ref"].split("#", 1)[1]
    errors = spec.errors(pointer + "/content/application~1json/schema", resp.json())
    assert errors == [], errors[:5]


ISSUES = "/repos/{owner}/{repo}/issues"
ISSUE = "/repos/{owner}/{repo}/issues/{issue_number}"


# --------------------------------------------------------------------------- GitHub


def test_github_issue_list_with_prs_and_hostile_text(github_spec: Spec, gh: httpx.Client) -> None:
    resp = gh.get(f"/repos/{SUPPORT_REPO}/issues", params={"state": "all", "per_page": 100})
    assert any("pull_request" in i for i in resp.json())
    gh_check(github_spec, ISSUES, "get", 200, resp)
    for header in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
        int(resp.headers[header])


def test_github_single_issue_edit_and_create(github_spec: Spec, gh: httpx.Client) -> None:
    gh_check(github_spec, ISSUE, "get", 200, gh.get(f"/repos/{SUPPORT_REPO}/issues/1"))
    gh_check(github_spec, ISSUE, "patch", 200,
             gh.patch(f"/repos/{SUPPORT_REPO}/issues/2", json={"state": "closed", "state_reason": "not_planned"}))
    gh_check(github_spec, ISSUES, "post", 201,
             gh.post(f"/repos/{SUPPORT_REPO}/issues", json={"title": "t", "labels": ["backlog"]}))


def test_github_comments(github_spec: Spec, gh: httpx.Client) -> None:
    gh_check(github_spec, ISSUE + "/comments", "post", 201,
             gh.post(f"/repos/{SUPPORT_REPO}/issues/1/comments", json={"body": "hello"}))
    gh_check(github_spec, ISSUE + "/comments", "get", 200, gh.get(f"/repos/{SUPPORT_REPO}/issues/1/comments"))


def _spec_params(spec: Spec, path: str, verb: str) -> set[str]:
    """Names of an operation's query parameters in the official description."""
    names = set()
    for param in spec.raw["paths"][path][verb].get("parameters", []):
        if "$ref" in param:
            node: Any = spec.raw
            for part in param["$ref"].split("#/", 1)[1].split("/"):
                node = node[part]
            param = node
        names.add(param["name"])
    return names


def test_github_comments_since_and_pages(github_spec: Spec, sb: Sandbox, gh: httpx.Client) -> None:
    """The outbox's look-up: ``since`` (updated at or after) and pages with a ``Link`` header."""
    assert {"since", "per_page", "page"} <= _spec_params(github_spec, ISSUE + "/comments", "get")
    path = f"/repos/{SUPPORT_REPO}/issues/1/comments"
    old = sb.github.state.add_comment(SUPPORT_REPO, 1, "old", at=NOW - timedelta(days=3))
    new = [sb.github.state.add_comment(SUPPORT_REPO, 1, f"new {n}", at=NOW + timedelta(seconds=n)) for n in range(3)]
    resp = gh.get(path, params={"since": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), "per_page": 2})
    gh_check(github_spec, ISSUE + "/comments", "get", 200, resp)
    assert [c["id"] for c in resp.json()] == [new[0].id, new[1].id]  # oldest first, only the new ones
    assert 'rel="next"' in resp.headers["link"] and 'rel="last"' in resp.headers["link"]
    last = gh.get(path, params={"since": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), "per_page": 2, "page": 2})
    gh_check(github_spec, ISSUE + "/comments", "get", 200, last)
    assert [c["id"] for c in last.json()] == [new[2].id] and 'rel="next"' not in last.headers["link"]
    everything = gh.get(path, params={"per_page": 100}).json()
    assert old.id in [c["id"] for c in everything]
    bad = gh.get(path, params={"since": "yesterday"})
    assert bad.status_code == 422


def test_github_labels_and_assignees(github_spec: Spec, gh: httpx.Client) -> None:
    gh_check(github_spec, ISSUE + "/labels", "post", 200,
             gh.post(f"/repos/{SUPPORT_REPO}/issues/1/labels", json={"labels": ["needs info", "ünï cødé"]}))
    gh_check(github_spec, ISSUE + "/labels/{name}", "delete", 200,
             gh.delete(f"/repos/{SUPPORT_REPO}/issues/1/labels/needs%20info"))
    gh_check(github_spec, ISSUE + "/labels/{name}", "delete", 404,
             gh.delete(f"/repos/{SUPPORT_REPO}/issues/1/labels/absent"))
    gh_check(github_spec, ISSUE + "/assignees", "post", 201,
             gh.post(f"/repos/{SUPPORT_REPO}/issues/1/assignees", json={"assignees": ["ben-okafor"]}))
    gh_check(github_spec, ISSUE + "/assignees", "delete", 200,
             gh.request("DELETE", f"/repos/{SUPPORT_REPO}/issues/1/assignees", json={"assignees": ["ben-okafor"]}))
    gh_check(github_spec, "/repos/{owner}/{repo}/assignees", "get", 200, gh.get(f"/repos/{SUPPORT_REPO}/assignees"))


def test_github_check_assignee(github_spec: Spec, gh: httpx.Client) -> None:
    """``GET /repos/{owner}/{repo}/assignees/{assignee}``: 204 with no body, or 404 ``basic-error``."""
    path = "/repos/{owner}/{repo}/assignees/{assignee}"
    yes = gh.get(f"/repos/{SUPPORT_REPO}/assignees/ben-okafor")
    assert yes.status_code == 204 and yes.content == b""
    assert "204" in github_spec.fragment(gh_pointer(path, "get", "204").rsplit("/", 1)[0])
    assert gh.get(f"/repos/{SUPPORT_REPO}/assignees/BEN-OKAFOR").status_code == 204  # logins ignore case
    gh_check(github_spec, path, "get", 404, gh.get(f"/repos/{SUPPORT_REPO}/assignees/mallory"))
    gh_check(github_spec, path, "get", 404, gh.get(f"/repos/{SUPPORT_REPO}/assignees/marcus-lee-va"))


def test_github_rate_limit(github_spec: Spec, gh: httpx.Client) -> None:
    gh_check(github_spec, "/rate_limit", "get", 200, gh.get("/rate_limit"))


def test_github_errors(github_spec: Spec, gh: httpx.Client) -> None:
    gh_check(github_spec, ISSUES, "get", 404, gh.get("/repos/nobody/nothing/issues"))
    gh_check(github_spec, ISSUES, "post", 422, gh.post(f"/repos/{SUPPORT_REPO}/issues", json={"body": "x"}))
    gh_check(github_spec, ISSUE, "patch", 422,
             gh.patch(f"/repos/{SUPPORT_REPO}/issues/1", json={"state_reason": "because"}))


def test_github_fault_bodies(github_spec: Spec, sb: Sandbox, gh: httpx.Client) -> None:
    sb.github.faults.add("POST /repos/*/issues", status=410)
    gh_check(github_spec, ISSUES, "post", 410, gh.post(f"/repos/{SUPPORT_REPO}/issues", json={"title": "t"}))
    sb.github.faults.add("POST /repos/*/issues", status=503)
    gh_check(github_spec, ISSUES, "post", 503, gh.post(f"/repos/{SUPPORT_REPO}/issues", json={"title": "t"}))
    sb.github.faults.add("POST /repos/*/issues", "secondary_limit")
    gh_check(github_spec, ISSUES, "post", 403, gh.post(f"/repos/{SUPPORT_REPO}/issues", json={"title": "t"}))
    sb.github.faults.add("GET /repos/*/issues", status=301)
    gh_check(github_spec, ISSUES, "get", 301, gh.get(f"/repos/{SUPPORT_REPO}/issues"))


def test_github_validation_detects_a_broken_issue(github_spec: Spec, gh: httpx.Client) -> None:
    """The check can fail: an issue without ``number`` is rejected."""
    issue = gh.get(f"/repos/{SUPPORT_REPO}/issues/1").json()
    broken = copy.deepcopy(issue)
    del broken["number"]
    broken["state_reason"] = "whatever"
    pointer = gh_pointer(ISSUE, "get", "200") + "/content/application~1json/schema"
    assert len(github_spec.errors(pointer, broken)) == 2


# --------------------------------------------------------------------------- Slack


def slack_check(spec: Spec, method: str, verb: str, body: dict[str, Any], *, status: str | None = None) -> None:
    status = status or ("200" if body.get("ok") else "default")
    pointer = f"/paths/~1{method}/{verb}/responses/{status}/schema"
    patch = None
    if method == "conversations.history" and body.get("ok") and not body.get("messages"):
        schema = copy.deepcopy(spec.fragment(pointer))
        schema["properties"]["messages"].pop("minItems", None)  # spec caveat 3: empty channels exist
        patch = {**schema, "definitions": spec.doc["definitions"]}
        patch = json.loads(json.dumps(patch).replace(f"{spec.uri}#", "#"))
    errors = spec.errors(pointer, body, patch=patch)
    assert errors == [], errors[:5]


def call(sl: httpx.Client, method: str, **params: Any) -> dict[str, Any]:
    resp = sl.post(method, data=params)
    assert resp.status_code == 200
    body: dict[str, Any] = resp.json()
    return body


def test_slack_history_and_replies(slack_spec: Spec, sb: Sandbox, sl: httpx.Client) -> None:
    history = call(sl, "conversations.history", channel=CHANNEL, limit=200, include_all_metadata="true")
    assert len(history["messages"]) > 20
    slack_check(slack_spec, "conversations.history", "get", history)
    threads = [m for m in history["messages"] if m.get("reply_count")]
    assert threads
    for parent in threads[:10]:
        slack_check(slack_spec, "conversations.replies", "get",
                    call(sl, "conversations.replies", channel=CHANNEL, ts=parent["ts"]))


def test_slack_replies_oldest_and_cursor(slack_spec: Spec, sb: Sandbox, sl: httpx.Client) -> None:
    """The outbox's look-up: replies from ``oldest`` on (``inclusive``), page by page."""
    assert {"ts", "oldest", "inclusive", "limit", "cursor"} <= _spec_params(
        slack_spec, "/conversations.replies", "get")
    parent = sb.slack.state.post(CHANNEL, "U0REQ01", "a long thread", at=NOW - timedelta(hours=2))
    early = sb.slack.state.post(CHANNEL, "U0REQ01", "early", thread_ts=parent.ts, at=NOW - timedelta(hours=1))
    late = [sb.slack.state.post(CHANNEL, "U0REQ01", f"late {n}", thread_ts=parent.ts, at=NOW + timedelta(seconds=n))
            for n in range(5)]
    seen: list[str] = []
    cursor = ""
    for _ in range(10):
        page = call(sl, "conversations.replies", channel=CHANNEL, ts=parent.ts, oldest=late[0].ts,
                    inclusive="true", limit=2, cursor=cursor)
        slack_check(slack_spec, "conversations.replies", "get", page)
        seen += [m["ts"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        assert page["has_more"] is bool(cursor)
        if not cursor:
            break
    assert early.ts not in seen
    assert [ts for ts in seen if ts != parent.ts] == [m.ts for m in late]
    exclusive = call(sl, "conversations.replies", channel=CHANNEL, ts=parent.ts, oldest=late[0].ts, limit=100)
    assert late[0].ts not in [m["ts"] for m in exclusive["messages"]]


def test_slack_empty_history(slack_spec: Spec, sl: httpx.Client) -> None:
    body = call(sl, "conversations.history", channel=CHANNEL, oldest="9999999999.000000")
    assert body["messages"] == []
    slack_check(slack_spec, "conversations.history", "get", body)


def test_slack_users_auth_and_conversation(slack_spec: Spec, sl: httpx.Client) -> None:
    slack_check(slack_spec, "users.info", "get", call(sl, "users.info", user="U0ANA"))
    slack_check(slack_spec, "users.info", "get", call(sl, "users.info", user="U0IDBOT"))
    slack_check(slack_spec, "users.list", "get", call(sl, "users.list"))
    slack_check(slack_spec, "auth.test", "get", call(sl, "auth.test"))
    slack_check(slack_spec, "conversations.info", "get", call(sl, "conversations.info", channel=CHANNEL))


MEMBERS_SPEC = SPECS / "slack-conversations.members.json"


def members_check(spec: Spec, body: dict[str, Any]) -> None:
    """``conversations.members`` is not in the pruned spec: its upstream response schemas are kept
    in a fixture and resolved against the pruned spec's definitions (``defs_user_id``, ``defs_ok_*``)."""
    status = "200" if body.get("ok") else "default"
    schema = json.loads(MEMBERS_SPEC.read_text(encoding="utf-8"))["responses"][status]["schema"]
    patch = to_json_schema({**schema, "definitions": spec.raw["definitions"]}, lenient=True)
    errors = spec.errors("", body, patch=patch)
    assert errors == [], errors[:5]


def test_slack_conversations_members(slack_spec: Spec, sl: httpx.Client) -> None:
    first = call(sl, "conversations.members", channel=CHANNEL, limit=5)
    members_check(slack_spec, first)
    assert len(first["members"]) == 5 and first["response_metadata"]["next_cursor"]
    seen = list(first["members"])
    cursor = first["response_metadata"]["next_cursor"]
    while cursor:
        page = call(sl, "conversations.members", channel=CHANNEL, limit=5, cursor=cursor)
        members_check(slack_spec, page)
        seen += page["members"]
        cursor = page["response_metadata"]["next_cursor"]
    assert "U0ANA" in seen and "U0NEWHIRE" in seen and len(seen) == len(set(seen))
    for bad in (call(sl, "conversations.members", channel="C0MISSING00"),
                call(sl, "conversations.members", channel=CHANNEL, cursor="not-a-cursor")):
        assert bad["ok"] is False and bad["error"] in ("channel_not_found", "invalid_cursor")
        members_check(slack_spec, bad)
    broken = {**first, "members": ["not an id"]}
    with pytest.raises(AssertionError):
        members_check(slack_spec, broken)


def test_slack_writes(slack_spec: Spec, sl: httpx.Client) -> None:
    history = call(sl, "conversations.history", channel=CHANNEL, limit=1)
    ts = history["messages"][0]["ts"]
    posted = sl.post("chat.postMessage", json={
        "channel": CHANNEL, "text": "Thanks — on it", "thread_ts": ts,
        "metadata": {"event_type": "idqueue_reply", "event_payload": {"id": "1"}},
    }).json()
    slack_check(slack_spec, "chat.postMessage", "post", posted)
    slack_check(slack_spec, "chat.getPermalink", "get", call(sl, "chat.getPermalink", channel=CHANNEL, message_ts=ts))
    slack_check(slack_spec, "reactions.add", "post", call(sl, "reactions.add", channel=CHANNEL, timestamp=ts,
                                                          name="eyes"))


def test_slack_error_bodies(slack_spec: Spec, sl: httpx.Client) -> None:
    cases = [
        ("conversations.history", "get", {"channel": "C0MISSING00"}, "channel_not_found"),
        ("conversations.replies", "get", {"channel": CHANNEL, "ts": "1000000000.000001"}, "thread_not_found"),
        ("users.info", "get", {"user": "U0NOBODY"}, "user_not_found"),
        ("chat.getPermalink", "get", {"channel": CHANNEL, "message_ts": "1000000000.000001"}, None),
        ("chat.postMessage", "post", {"channel": "C0MISSING00", "text": "x"}, "channel_not_found"),
    ]
    for method, verb, params, expected in cases:
        body = call(sl, method, **params)
        assert body["ok"] is False
        if expected:
            assert body["error"] == expected
        slack_check(slack_spec, method, verb, body)
    ts = call(sl, "conversations.history", channel=CHANNEL, limit=1)["messages"][0]["ts"]
    call(sl, "reactions.add", channel=CHANNEL, timestamp=ts, name="eyes")
    again = call(sl, "reactions.add", channel=CHANNEL, timestamp=ts, name="eyes")
    assert again["error"] == "already_reacted"
    slack_check(slack_spec, "reactions.add", "post", again)
    bad = httpx.post(f"{sl.base_url}auth.test", headers={"Authorization": "Bearer xoxb-nope"}).json()
    slack_check(slack_spec, "auth.test", "get", bad)


def test_slack_validation_detects_a_broken_message(slack_spec: Spec, sl: httpx.Client) -> None:
    """The check can fail: a float ``ts`` and a missing ``type`` are rejected."""
    history = call(sl, "conversations.history", channel=CHANNEL, limit=2)
    history["messages"][0]["ts"] = 1712345678.0001
    del history["messages"][1]["type"]
    pointer = "/paths/~1conversations.history/get/responses/200/schema"
    assert len(slack_spec.errors(pointer, history)) >= 2


def test_seed_timestamps_are_recent(sb: Sandbox) -> None:
    assert sb.seeded_at == NOW
    assert sb.clock() - NOW < timedelta(seconds=1)
