"""Each triage verb against the emulators with the real clients: exactly the expected API calls.

Requests are created in the emulators and read into the store by the real sources; after the
dispatcher runs, the emulators' recorded calls are checked (method, path, body, no duplicates),
and a fresh poll shows the state the rest of idqueue derives from what was written.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from outbox_env import ANA, BACKLOG_REPO, BEN, CHANNEL, REPO, REQUESTER, WritebackEnv, make_env

from idqueue.domain.models import Status
from idqueue.outbox.models import ActionError, ActionKind, ActionState
from idqueue.sandbox.runner import Sandbox


@pytest.fixture
def env(empty_sandbox: Sandbox, tmp_path: Path) -> WritebackEnv:
    return make_env(empty_sandbox, tmp_path)


def _marker(action_id: str, *, automation: bool) -> str:
    return f"<!-- idqueue:action={action_id}{' automation=1' if automation else ''} actor=ana -->"


def _gh_writes(env: WritebackEnv) -> list[tuple[str, str]]:
    return [(c.method, c.path) for c in env.writes() if not c.path.startswith("/api/")]


def _slack_payload(call: object) -> dict[str, object]:
    body = call.body
    return body["metadata"]["event_payload"]  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- assign / take


def test_take_on_github_assigns_and_comments_once(env: WritebackEnv) -> None:
    rid = env.github_request()
    env.clear_calls()
    queued = env.actions().take(rid)
    assert [a.kind for a in queued] == [ActionKind.ASSIGN, ActionKind.REPLY]
    report = env.drain()
    assert report.counts == {"sent": 2, "retrying": 0, "failed": 0, "needs_attention": 0}

    calls = env.sb.github.calls.all()
    assert [(c.method, c.path) for c in calls] == [
        ("GET", f"/repos/{REPO}/issues/1"),  # re-read before writing (conflict check)
        ("POST", f"/repos/{REPO}/issues/1/assignees"),
        ("POST", f"/repos/{REPO}/issues/1/comments"),
    ]
    assert calls[1].body == {"assignees": [ANA.github]}
    comment = calls[2].body["body"]
    assert comment.startswith("Your Identity request is assigned to @ana-reyes.")
    assert comment.endswith(_marker(queued[1].id, automation=True))
    assert env.sb.slack.calls.all() == []
    assert env.gh.issue(REPO, 1).assignees == [ANA.github]

    # The local store shows it right away, and a real poll agrees.
    request = env.store.get_request(rid)
    assert request is not None and request.assignee == "ana" and request.status is Status.ASSIGNED
    env.sync()
    request = env.store.get_request(rid)
    assert request is not None and request.assignee == "ana"
    comments = [e for e in env.store.timeline(rid) if e.kind.value == "comment"]
    assert len(comments) == 1 and comments[0].data.get("idqueue_action") == queued[1].id
    assert all(a.state is ActionState.SENT for a in env.actions().for_request(rid, unsent_only=False))


def test_assign_someone_else_replaces_the_previous_assignee(env: WritebackEnv) -> None:
    rid = env.github_request(assignees=(BEN.github,))
    env.clear_calls()
    env.actions().assign(rid, "ana")
    env.drain()
    writes = [(c.method, c.path, c.body) for c in env.writes()]
    assert writes[:2] == [
        ("POST", f"/repos/{REPO}/issues/1/assignees", {"assignees": [ANA.github]}),
        ("DELETE", f"/repos/{REPO}/issues/1/assignees", {"assignees": [BEN.github]}),
    ]
    assert env.gh.issue(REPO, 1).assignees == [ANA.github]


def test_assign_accepts_login_or_slack_id_and_rejects_strangers(env: WritebackEnv) -> None:
    rid = env.github_request()
    actions = env.actions()
    assert actions.plan_assign(rid, "@ben-okafor")[0].params["login"] == BEN.github
    assert actions.plan_assign(rid, BEN.slack)[0].params["member"] == "ben"
    with pytest.raises(ActionError, match="not on the roster"):
        actions.plan_assign(rid, "mallory")
    assert env.sb.github.calls.count("POST", "*") == 0


def test_take_on_slack_only_request_posts_state_in_the_thread(env: WritebackEnv) -> None:
    rid = env.slack_request()
    _, ts = rid.removeprefix("slack:").split("/")
    env.clear_calls()
    queued = env.actions().take(rid)
    assert [(a.kind, a.target) for a in queued] == [(ActionKind.REPLY, "slack"), (ActionKind.REACT, "slack")]
    env.drain()
    assert env.sb.github.calls.all() == []
    posts = env.posts()
    assert len(posts) == 1
    body = posts[0].body
    assert body["channel"] == CHANNEL and body["thread_ts"] == ts
    assert body["text"] == "Your Identity request is assigned to <@U0ANA>.\n"
    assert body["metadata"]["event_type"] == "idqueue_action"
    assert _slack_payload(posts[0]) == {
        "action_id": queued[0].id, "action": "assign", "automation": True, "assignee": "ana", "actor": "ana",
    }
    reactions = env.posts("reactions.add")
    assert [(c.body["name"], c.body["timestamp"]) for c in reactions] == [("eyes", ts)]
    # The Slack-only request reads back as assigned (the thread message is the assignment).
    env.sync()
    request = env.store.get_request(rid)
    assert request is not None and request.assignee == "ana" and request.status is Status.ASSIGNED


# --------------------------------------------------------------------------- reply


def test_reply_template_to_a_linked_request_goes_to_both_homes(env: WritebackEnv) -> None:
    rid, _ = env.linked_request()
    assert rid.startswith("gh:")
    env.clear_calls()
    queued = env.actions().reply(rid, template="acknowledge")
    assert [(a.kind, a.target) for a in queued] == [(ActionKind.REPLY, "github"), (ActionKind.REPLY, "slack")]
    env.drain()
    gh_posts = env.sb.github.calls.calls_to("POST", "*")
    assert [c.path for c in gh_posts] == [f"/repos/{REPO}/issues/1/comments"]
    assert "thanks for your Identity request" in gh_posts[0].body["body"]
    assert gh_posts[0].body["body"].endswith(_marker(queued[0].id, automation=False))
    posts = env.posts()
    assert len(posts) == 1
    assert "<https://github.com/va-identity/support/issues/1|GitHub issue>" in posts[0].body["text"]
    assert _slack_payload(posts[0])["action"] == "reply"
    assert _slack_payload(posts[0])["automation"] is False
    # A triager's reply through idqueue is a first response.
    env.sync()
    request = env.store.get_request(rid)
    assert request is not None and request.first_response_at is not None


def test_free_text_reply_targets(env: WritebackEnv) -> None:
    rid, _ = env.linked_request()
    actions = env.actions()
    assert [s.target for s in actions.plan_reply(rid, text="On it")] == ["slack"]
    assert [s.target for s in actions.plan_reply(rid, text="On it", target="github")] == ["github"]
    assert [s.target for s in actions.plan_reply(rid, text="On it", target="both")] == ["github", "slack"]
    gh_only = env.github_request("Another one")
    assert [s.target for s in actions.plan_reply(gh_only, text="On it")] == ["github"]
    with pytest.raises(ActionError, match="no Slack thread"):
        actions.plan_reply(gh_only, text="x", target="slack")
    env.clear_calls()
    actions.reply(rid, text="**Looking** at it now", target="both")
    env.drain()
    assert env.posts()[0].body["text"] == "*Looking* at it now"
    comment = env.sb.github.calls.calls_to("POST", "*/comments")[0].body["body"]
    assert comment.startswith("**Looking** at it now\n\n<!-- idqueue:action=")


def test_reply_with_missing_variable_is_refused_before_anything_is_queued(env: WritebackEnv) -> None:
    rid = env.github_request()
    actions = env.actions()
    steps = actions.plan_reply(rid, template="target_date")
    assert steps[0].missing == ("due_date",)
    with pytest.raises(ActionError, match="due_date"):
        actions.reply(rid, template="target_date")
    assert actions.all() == []
    actions.reply(rid, template="target_date", extra={"due_date": "March 20"})
    env.drain()
    body = env.sb.github.calls.calls_to("POST", "*/comments")[0].body["body"]
    assert "scheduled to be completed on March 20" in body


# --------------------------------------------------------------------------- pending


def test_pending_labels_github_and_messages_slack_only(env: WritebackEnv) -> None:
    rid = env.github_request()
    sid = env.slack_request()
    env.clear_calls()
    actions = env.actions()
    actions.pending(rid)
    actions.pending(sid)
    env.drain()
    gh = env.sb.github.calls.calls_to("POST", "*")
    assert [(c.path, c.body) for c in gh] == [(f"/repos/{REPO}/issues/1/labels", {"labels": ["pending"]})]
    posts = env.posts()
    assert len(posts) == 1 and _slack_payload(posts[0])["action"] == "pending"
    assert "waiting on more information" in posts[0].body["text"]
    env.sync()
    assert env.store.get_request(rid).status is Status.PENDING  # type: ignore[union-attr]
    assert env.store.get_request(sid).status is Status.PENDING  # type: ignore[union-attr]


def test_need_more_info_template_sets_pending_with_one_message(env: WritebackEnv) -> None:
    sid = env.slack_request()
    env.clear_calls()
    env.actions().reply(sid, template="need_more_info")
    env.drain()
    posts = env.posts()
    assert len(posts) == 1
    assert _slack_payload(posts[0])["action"] == "pending"
    assert _slack_payload(posts[0])["automation"] is False
    env.sync()
    request = env.store.get_request(sid)
    assert request is not None and request.status is Status.PENDING and request.first_response_at is not None


# --------------------------------------------------------------------------- close / reopen


def test_close_linked_request_closes_comments_tells_slack_and_reacts(env: WritebackEnv) -> None:
    rid, sid = env.linked_request()
    _, ts = sid.removeprefix("slack:").split("/")
    env.clear_calls()
    queued = env.actions().close(rid)
    assert [(a.kind, a.target) for a in queued] == [
        (ActionKind.CLOSE, "github"), (ActionKind.REPLY, "github"), (ActionKind.REPLY, "slack"),
        (ActionKind.REACT, "slack"),
    ]
    env.drain()
    writes = env.writes()
    assert [(c.method, c.path) for c in writes] == [
        ("PATCH", f"/repos/{REPO}/issues/1"),
        ("POST", f"/repos/{REPO}/issues/1/comments"),
        ("POST", "/api/chat.postMessage"),
        ("POST", "/api/reactions.add"),
    ]
    assert writes[0].body == {"state": "closed", "state_reason": "completed"}
    survey = env.settings.survey.url
    assert f"[support survey]({survey})" in writes[1].body["body"]
    assert f"<{survey}|support survey>" in writes[2].body["text"]
    assert _slack_payload(writes[2])["action"] == "close"
    assert writes[3].body == {"channel": CHANNEL, "timestamp": ts, "name": "white_check_mark"}
    issue = env.gh.issue(REPO, 1)
    assert issue.state == "closed" and issue.state_reason == "completed"
    assert env.store.get_request(rid).status is Status.CLOSED  # type: ignore[union-attr]


def test_close_out_of_scope_is_not_planned(env: WritebackEnv) -> None:
    rid = env.github_request()
    env.clear_calls()
    env.actions().reply(rid, template="out_of_scope")
    env.drain()
    patch = env.sb.github.calls.calls_to("PATCH", "*")[0]
    assert patch.body == {"state": "closed", "state_reason": "not_planned"}
    assert env.sb.github.calls.count("POST", "*/comments") == 1


def test_close_without_message_and_reopen(env: WritebackEnv) -> None:
    rid = env.github_request()
    actions = env.actions()
    env.clear_calls()
    actions.close(rid, template=None, reason="duplicate")
    actions.reopen(rid)
    env.drain()
    assert [(c.method, c.body) for c in env.writes()] == [
        ("PATCH", {"state": "closed", "state_reason": "duplicate"}),
        ("PATCH", {"state": "open"}),
    ]
    assert env.gh.issue(REPO, 1).state == "open"


def test_slack_only_close_reads_back_as_closed(env: WritebackEnv) -> None:
    sid = env.slack_request()
    env.clear_calls()
    env.actions().close(sid)
    env.drain()
    posts = env.posts()
    assert len(posts) == 1 and _slack_payload(posts[0])["action"] == "close"
    assert "support survey" in posts[0].body["text"]
    env.sync()
    assert env.store.get_request(sid).status is Status.CLOSED  # type: ignore[union-attr]


# --------------------------------------------------------------------------- backlog


def test_backlog_github_request_labels_unassigns_and_leaves_the_queue(env: WritebackEnv) -> None:
    rid = env.github_request(assignees=(BEN.github,))
    env.clear_calls()
    env.actions().backlog(rid)
    env.drain()
    writes = [(c.method, c.path, c.body) for c in env.writes()]
    assert writes[0] == ("POST", f"/repos/{REPO}/issues/1/labels", {"labels": ["backlog"]})
    assert writes[1] == ("DELETE", f"/repos/{REPO}/issues/1/assignees", {"assignees": [BEN.github]})
    assert writes[2][:2] == ("POST", f"/repos/{REPO}/issues/1/comments")
    assert "moved it to our backlog" in writes[2][2]["body"]
    assert len(writes) == 3
    env.sync()
    request = env.store.get_request(rid)
    assert request is not None and request.status is Status.BACKLOG and not request.status.is_open


def test_backlog_slack_only_creates_an_issue_and_links_it_in_the_thread(env: WritebackEnv) -> None:
    sid = env.slack_request("Please add SSO to the benefits tool\n*Team:* Benefits Portfolio")
    env.clear_calls()
    queued = env.actions().backlog(sid)
    assert [(a.kind, a.target) for a in queued] == [
        (ActionKind.CREATE_ISSUE, "github"), (ActionKind.REPLY, "slack"), (ActionKind.REACT, "slack"),
    ]
    env.drain()
    created = env.sb.github.calls.calls_to("POST", f"/repos/{BACKLOG_REPO}/issues")
    assert len(created) == 1
    body = created[0].body
    assert body["labels"] == ["backlog"]
    assert body["title"].startswith("Please add SSO to the benefits tool")
    permalink = env.slack.permalink(CHANNEL, sid.split("/")[1])
    assert f"**Slack thread:** {permalink}" in body["body"]
    assert f"**Requested by:** {REQUESTER.name}" in body["body"]
    assert "> Please add SSO to the benefits tool" in body["body"]
    assert body["body"].rstrip().endswith(f"<!-- idqueue:action={queued[0].id} automation=1 actor=ana -->")
    issue = env.gh.issue(BACKLOG_REPO, 1)
    post = env.posts()[0]
    assert f"<https://github.com/{BACKLOG_REPO}/issues/{issue.number}|GitHub issue>" in post.body["text"]
    assert "idqueue.invalid" not in post.body["text"]
    assert _slack_payload(post)["action"] == "backlog"
    assert env.posts("reactions.add")[0].body["name"] == "card_file_box"
    env.sync()
    assert env.store.get_request(sid).status is Status.BACKLOG  # type: ignore[union-attr]


# --------------------------------------------------------------------------- labels, priority


def test_labels_with_spaces_and_unicode(env: WritebackEnv, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "triaged.md").write_text(
        '+++\nkey = "triaged"\ntitle = "Triaged"\ndestination = "github"\n'
        '[side_effects]\nadd_labels = ["needs triage", "équipe ✨"]\nremove_labels = ["to do", "never there"]\n+++\n'
        "Triaged.\n",
        encoding="utf-8",
    )
    env.settings.templates_dir = templates
    rid = env.github_request(labels=("to do",))
    env.clear_calls()
    env.actions().reply(rid, template="triaged")
    report = env.drain()
    assert report.counts["sent"] == 3
    writes = [(c.method, c.path, c.body, c.status) for c in env.writes()]
    assert writes[0] == ("POST", f"/repos/{REPO}/issues/1/labels", {"labels": ["needs triage", "équipe ✨"]}, 200)
    assert writes[1][:2] == ("DELETE", f"/repos/{REPO}/issues/1/labels/to do")
    assert writes[2][:2] == ("DELETE", f"/repos/{REPO}/issues/1/labels/never there")
    assert writes[2][3] == 404  # absent label: treated as done
    raw_paths = [quote("to do", safe="")]
    assert raw_paths == ["to%20do"]
    assert set(env.gh.issue(REPO, 1).labels) == {"Identity", "needs triage", "équipe ✨"}


def test_priority_label_replaces_other_priority_labels(env: WritebackEnv) -> None:
    rid = env.github_request(labels=("priority:P3",))
    sid = env.slack_request()
    actions = env.actions()
    env.clear_calls()
    actions.set_priority(rid, "p1")
    assert actions.set_priority(sid, "P2") == []  # Slack has no labels: local only
    env.drain()
    writes = [(c.method, c.path) for c in env.writes()]
    assert writes == [("DELETE", f"/repos/{REPO}/issues/1/labels/priority:P3"),
                      ("POST", f"/repos/{REPO}/issues/1/labels")]
    assert "priority:P1" in env.gh.issue(REPO, 1).labels
    assert env.store.get_request(sid).priority_override == "P2"  # type: ignore[union-attr]


# --------------------------------------------------------------------------- automation switches


def test_automation_can_be_turned_off(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    env = make_env(empty_sandbox, tmp_path, automation={"on_assign": False, "on_close": False})
    rid = env.github_request()
    sid = env.slack_request()
    actions = env.actions()
    assert [s.kind for s in actions.plan_take(rid)] == [ActionKind.ASSIGN]
    assert [s.kind for s in actions.plan_close(rid)] == [ActionKind.CLOSE]
    # A Slack-only request still gets a one-line state message: it is the assignment itself.
    steps = actions.plan_take(sid)
    assert [s.kind for s in steps] == [ActionKind.REPLY, ActionKind.REACT]
    assert steps[0].text == "This request is assigned to <@U0ANA>."
    assert steps[0].params["automation"] is True


def test_automation_off_for_some_types(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    env = make_env(empty_sandbox, tmp_path, automation={"disabled_types": ["test user / mock auth"]})
    rid = env.github_request("Mock auth test user cannot sign in")
    request = env.store.get_request(rid)
    assert request is not None and request.type == "Test User / Mock Auth"
    actions = env.actions()
    assert [s.kind for s in actions.plan_take(rid)] == [ActionKind.ASSIGN]
    other = env.github_request("Please add a feature request for exports", "would be nice")
    assert ActionKind.REPLY in [s.kind for s in actions.plan_take(other)]


def test_dry_run_plans_write_nothing(env: WritebackEnv) -> None:
    rid, _ = env.linked_request()
    env.clear_calls()
    actions = env.actions()
    for plan in (actions.plan_take(rid), actions.plan_close(rid), actions.plan_backlog(rid),
                 actions.plan_reply(rid, template="acknowledge"), actions.plan_pending(rid)):
        assert plan
    assert env.writes() == []
    assert actions.all() == []


def test_automation_templates_per_type(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    templates = tmp_path / "tpl"
    templates.mkdir()
    (templates / "closed_data.md").write_text(
        '+++\nkey = "closed_data"\ntitle = "Data pull delivered"\n+++\n'
        "Your data pull is ready. Survey: {{ survey_link }}\n",
        encoding="utf-8",
    )
    env = make_env(empty_sandbox, tmp_path, templates_dir=templates, automation={
        "type_templates": {"test user / mock auth": {"assign": ""}, "Data Pull": {"close": "closed_data"}},
    })
    mock = env.github_request("Mock auth test user cannot sign in")
    data = env.github_request("Data pull of sign-ins for March", "Please export the data")
    actions = env.actions()
    assert env.store.get_request(data).type == "Data Pull"  # type: ignore[union-attr]
    assert [s.kind for s in actions.plan_take(mock)] == [ActionKind.ASSIGN]  # off for this type
    comment = next(s for s in actions.plan_close(data) if s.kind is ActionKind.REPLY)
    assert comment.text == f"Your data pull is ready. Survey: {env.settings.survey.url}\n"
    other = next(s for s in actions.plan_close(mock) if s.kind is ActionKind.REPLY)
    assert "support survey" in (other.text or "")


def test_unassign_and_resume(env: WritebackEnv) -> None:
    rid = env.github_request(assignees=(BEN.github,), labels=("pending",))
    sid = env.slack_request()
    actions = env.actions()
    actions.take(sid)
    env.drain()
    env.clear_calls()
    actions.unassign(rid)
    actions.resume(rid)
    actions.unassign(sid)
    env.drain()
    assert [(c.method, c.path, c.body) for c in env.writes() if not c.path.startswith("/api/")] == [
        ("DELETE", f"/repos/{REPO}/issues/1/assignees", {"assignees": [BEN.github]}),
        ("DELETE", f"/repos/{REPO}/issues/1/labels/pending", None),  # only the pending label it has
    ]
    posts = env.posts()
    assert len(posts) == 1 and _slack_payload(posts[0])["action"] == "unassign"
    env.sync()
    assert env.store.get_request(rid).assignee is None  # type: ignore[union-attr]
    assert env.store.get_request(rid).status is Status.NEW  # type: ignore[union-attr]
    assert env.store.get_request(sid).assignee is None  # type: ignore[union-attr]
