"""Pure pieces of the outbox: markers, error mapping, thread state, projections, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from github import GithubException
from outbox_env import WritebackEnv, make_env
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from idqueue.integrations.base import (
    AuthError,
    NotFound,
    RateLimited,
    Unavailable,
    ValidationFailed,
)
from idqueue.integrations.github.api import map_github_error
from idqueue.integrations.github.backlog import github_safe
from idqueue.integrations.github.convert import marker
from idqueue.integrations.planning import HomeState, Projection
from idqueue.integrations.slack.api import map_slack_error
from idqueue.integrations.slack.writer import thread_state
from idqueue.outbox.models import ActionError, ActionKind
from idqueue.outbox.service import _project
from idqueue.sandbox.runner import Sandbox

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)


def test_marker_format_matches_the_read_source() -> None:
    from idqueue.integrations.github.convert import parse_marker

    text = marker("a1b2c3d4e5f6", automation=True, actor="ana")
    assert text == "<!-- idqueue:action=a1b2c3d4e5f6 automation=1 actor=ana -->"
    assert parse_marker(f"Hello\n\n{text}") == {
        "idqueue_action": "a1b2c3d4e5f6", "idqueue_automation": True, "idqueue_actor": "ana",
    }
    assert marker("x", actor="bad key -->") == "<!-- idqueue:action=x -->"


def test_github_safe() -> None:
    assert github_safe("ping @octocat and @org/team, mail ana@va.gov") == (
        "ping `@octocat` and `@org/team`, mail ana@va.gov")
    assert github_safe("<!-- idqueue:action=x --> <script>") == "&lt;!-- idqueue:action=x --> &lt;script>"
    assert github_safe("a\nb\r\nc", inline=True) == "a b c"


def _gh_error(status: int, message: str, headers: dict[str, str] | None = None) -> GithubException:
    return GithubException(status, {"message": message}, headers or {})


@pytest.mark.parametrize(
    ("status", "message", "headers", "kind", "wait"),
    [
        (403, "API rate limit exceeded for user ID 1.", {"x-ratelimit-remaining": "0",
                                                          "x-ratelimit-reset": str(int(NOW.timestamp()) + 100)},
         RateLimited, 101),
        (403, "You have exceeded a secondary rate limit.", {}, RateLimited, 60),
        (403, "You have exceeded a secondary rate limit.", {"Retry-After": "7"}, RateLimited, 7),
        (429, "Too Many Requests", {"retry-after": "0"}, RateLimited, 1),
        (429, "Too Many Requests", {"retry-after": "soon"}, RateLimited, 60),
        (401, "Bad credentials", {}, AuthError, None),
        (403, "Resource not accessible by personal access token", {}, AuthError, None),
        (404, "Not Found", {}, NotFound, None),
        (410, "Gone", {}, NotFound, None),
        (422, "Validation Failed", {}, ValidationFailed, None),
        (502, "Server Error", {}, Unavailable, None),
    ],
)
def test_map_github_error(status: int, message: str, headers: dict[str, str], kind: type, wait: int | None) -> None:
    error = map_github_error(_gh_error(status, message, headers), "comment on o/r#1", now=NOW)
    assert isinstance(error, kind)
    assert "comment on o/r#1" in error.title
    if wait is not None:
        assert isinstance(error, RateLimited) and error.until == NOW + timedelta(seconds=wait)


def test_map_github_validation_lists_errors() -> None:
    exc = GithubException(422, {"message": "Validation Failed", "errors": [
        {"resource": "Issue", "field": "assignees", "code": "invalid"}]}, {})
    error = map_github_error(exc, "assign", now=NOW)
    assert error.title == "GitHub refused to assign (422 Validation Failed: assignees invalid)"


def _slack_error(error: str, status: int = 200, headers: dict[str, str] | None = None) -> SlackApiError:
    response = SlackResponse(client=None, http_verb="POST", api_url="https://slack/api/chat.postMessage",
                             req_args={}, data={"ok": False, "error": error}, headers=headers or {},
                             status_code=status)
    return SlackApiError("failed", response)


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        ("ratelimited", 429, RateLimited),
        ("invalid_auth", 200, AuthError),
        ("missing_scope", 200, AuthError),
        ("channel_not_found", 200, NotFound),
        ("thread_not_found", 200, NotFound),
        ("msg_too_long", 200, ValidationFailed),
        ("internal_error", 200, Unavailable),
        ("", 503, Unavailable),
    ],
)
def test_map_slack_error(error: str, status: int, kind: type) -> None:
    mapped = map_slack_error(_slack_error(error, status, {"Retry-After": "3"}), "reply", now=NOW)
    assert isinstance(mapped, kind)
    if isinstance(mapped, RateLimited):
        assert mapped.until == NOW + timedelta(seconds=3)


def _meta(ts: str, action: str, **payload: object) -> dict[str, object]:
    return {"ts": ts, "metadata": {"event_type": "idqueue_action",
                                   "event_payload": {"action_id": f"id{ts}", "action": action, **payload}}}


def test_thread_state() -> None:
    messages = [
        {"ts": "10.000001", "text": "hi"},
        _meta("12.000000", "close", actor="ben"),
        _meta("11.000000", "assign", assignee="ana", actor="ana"),
        {"ts": "13.000000", "metadata": {"event_type": "other", "event_payload": {"action": "close"}}},
    ]
    assignee, status, last = thread_state(messages)
    assert (assignee, status) == ("ana", "closed") and last is not None and last["actor"] == "ben"
    assert thread_state(messages, skip_action="id12.000000")[:2] == ("ana", "open")
    assert thread_state([*messages, _meta("14.000000", "reopen")])[1] == "open"
    assert thread_state([*messages, _meta("14.000000", "unassign")])[0] is None


def test_projection_follows_queued_actions() -> None:
    proj = Projection(homes={"github": HomeState(assignees=["ben-okafor"])})
    _project(proj, ActionKind.ASSIGN, "github", {"login": "ana-reyes"})
    assert proj.home("github").assignees == ["ana-reyes"]
    _project(proj, ActionKind.BACKLOG, "github", {})
    _project(proj, ActionKind.CLOSE, "github", {})
    assert proj.home("github").assignees == [] and proj.home("github").state == "closed"
    assert proj.status == "closed"
    _project(proj, ActionKind.REPLY, "slack", {"action": "assign", "assignee": "ana"})
    _project(proj, ActionKind.REPLY, "slack", {"action": "pending"})
    assert (proj.home("slack").assignees, proj.home("slack").state) == (["ana"], "pending")
    assert proj.status == "pending"
    _project(proj, ActionKind.REPLY, "slack", {"action": "reply"})
    assert proj.home("slack").state == "pending"


@pytest.fixture
def env(empty_sandbox: Sandbox, tmp_path: Path, db_target: str | Path) -> WritebackEnv:
    return make_env(empty_sandbox, tmp_path, db_target)


def test_validation_errors(env: WritebackEnv) -> None:
    rid = env.github_request()
    actions = env.actions()
    with pytest.raises(ActionError, match="unknown close reason"):
        actions.plan_close(rid, reason="because")
    with pytest.raises(ActionError, match="unknown priority"):
        actions.plan_priority(rid, "P9")
    with pytest.raises(ActionError, match="edited text is empty"):
        actions.plan_reply(rid, template="acknowledge", texts={"github": "  "})
    with pytest.raises(ActionError, match="unknown target"):
        actions.plan_reply(rid, template="acknowledge", texts={"trello": "hi"})
    with pytest.raises(ActionError, match="either a template or a text"):
        actions.plan_reply(rid, text="   ")
    with pytest.raises(ActionError, match="no request"):
        actions.plan_take("gh:o/r#999")
    env.settings.me = None
    with pytest.raises(ActionError, match="`me` is not set"):
        actions.plan_take(rid)


def test_close_with_another_template_uses_its_reason(env: WritebackEnv) -> None:
    rid = env.github_request()
    steps = env.actions().plan_close(rid, template="out_of_scope")
    close = next(s for s in steps if s.kind is ActionKind.CLOSE)
    assert close.params["reason"] == "not_planned"
    with pytest.raises(ActionError, match="needs the original"):
        env.actions().plan_close(rid, template="out_of_scope", reason="duplicate")


def test_slack_rating_line(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    env = make_env(empty_sandbox, tmp_path, automation={"slack_rating": True})
    sid = env.slack_request()
    text = env.actions().plan_close(sid)[0].text or ""
    assert "React to this message with :one: to :five:" in text


def test_snooze_is_local_only(env: WritebackEnv) -> None:
    rid = env.github_request()
    env.clear_calls()
    until = NOW + timedelta(hours=2)
    env.actions().snooze(rid, until)
    request = env.store.get_request(rid)
    assert request is not None and request.snoozed_until == until
    assert env.writes() == [] and env.actions().all() == []
