"""Hostile text in requests and template variables reaches Slack and GitHub as intended and harmless.

``<!channel>``, ``<@U…>``, ``&<>``, Markdown and Rich markup from requesters or ``--var`` values
must never become a Slack broadcast, a mention, a link, an HTML comment (a forged idqueue
marker) or a GitHub notification. The checks are on what the emulators *received*.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from outbox_env import BACKLOG_REPO, REPO, WritebackEnv, make_env

from idqueue.sandbox.runner import Sandbox

BROADCAST = re.compile(r"<!(?:channel|here|everyone|subteam)", re.IGNORECASE)
HOSTILE_VAR = "<!channel> & <@U0BEN> <https://evil.example|click> **bold** [bold red]x[/] @octocat"


@pytest.fixture
def env(empty_sandbox: Sandbox, tmp_path: Path) -> WritebackEnv:
    return make_env(empty_sandbox, tmp_path)


def _slack_texts(env: WritebackEnv) -> list[str]:
    return [c.body["text"] for c in env.posts() if c.status == 200]


def test_template_variables_are_inert_on_slack(env: WritebackEnv) -> None:
    rid, _ = env.linked_request()
    env.actions().reply(rid, template="need_more_info", extra={"details": HOSTILE_VAR})
    env.drain()
    (text,) = _slack_texts(env)
    assert not BROADCAST.search(text)
    assert "&lt;!channel&gt; &amp; &lt;@U0BEN&gt; &lt;https://evil.example|click&gt;" in text
    assert "<@U0BEN>" not in text and "<https://evil.example" not in text
    # The only live mention is the requester's, from a known Slack user id.
    assert re.findall(r"<@(U[A-Z0-9]+)>", text) == ["U0REQ01"]
    assert "[bold red]x[/]" in text  # Rich markup is plain text to Slack


def test_template_variables_do_not_notify_on_github(env: WritebackEnv) -> None:
    rid, _ = env.linked_request()
    env.actions().reply(rid, template="need_more_info", extra={"details": HOSTILE_VAR})
    env.drain()
    body = env.sb.github.calls.calls_to("POST", "*/comments")[0].body["body"]
    assert "`@octocat`" in body and "`@U0BEN`" in body
    assert re.search(r"(?<!`)@octocat", body) is None
    # One HTML comment: idqueue's own marker at the end.
    assert body.count("<!--") == 1 and body.rstrip().endswith("-->")


def test_hostile_title_in_a_team_template(env: WritebackEnv, tmp_path: Path) -> None:
    templates = tmp_path / "tpl"
    templates.mkdir()
    (templates / "echo.md").write_text(
        '+++\nkey = "echo"\ntitle = "Echo"\ndestination = "both"\n+++\nAbout "{{ request.title }}".\n',
        encoding="utf-8",
    )
    env.settings.templates_dir = templates
    title = "[bold red]pwn[/] <!everyone> @octocat & <b>x</b> [a](https://evil.example)"
    msg = env.slack.post("C0IDENTITY", "U0REQ01", title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    env.slack.react("C0IDENTITY", msg.ts, "ticket", "U0BEN")
    permalink = env.slack.permalink("C0IDENTITY", msg.ts)
    env.gh.add_issue(REPO, title, f"See {permalink}", user="marcus-lee-va", labels=("Identity",))
    env.sync()
    env.actions().reply(f"gh:{REPO}#1", template="echo")
    env.drain()
    (slack,) = _slack_texts(env)
    assert not BROADCAST.search(slack)
    assert "&lt;!everyone&gt;" in slack and "&amp;" in slack and "&lt;b&gt;x&lt;/b&gt;" in slack
    assert "<https://evil.example" not in slack
    comment = env.sb.github.calls.calls_to("POST", "*/comments")[0].body["body"]
    assert "`@octocat`" in comment
    assert "[bold red]pwn[/]" in comment


def test_free_text_reply_cannot_broadcast(env: WritebackEnv) -> None:
    sid = env.slack_request()
    env.actions().reply(sid, text="<!here> @channel ping & <@U0BEN> [docs](https://example.org/a?b=1&c=2)")
    env.drain()
    (text,) = _slack_texts(env)
    assert not BROADCAST.search(text)
    assert "&lt;!here&gt;" in text and "`@channel`" in text and "&amp; &lt;@U0BEN&gt;" in text
    assert "<https://example.org/a?b=1&amp;c=2|docs>" in text


def test_backlog_issue_from_hostile_slack_text_is_harmless(env: WritebackEnv) -> None:
    raw = ("Help &lt;script&gt; <!channel> & <@U0BEN> @ana-reyes "
           "&lt;!-- idqueue:action=forged --&gt; [bold red]pwn[/] *bold*")
    sid = env.slack_request(raw)
    env.actions().backlog(sid)
    env.drain()
    created = env.sb.github.calls.calls_to("POST", f"/repos/{BACKLOG_REPO}/issues")[0].body
    body = created["body"]
    # No raw HTML from the request, so no forged marker and no hidden content.
    assert "<script>" not in body and "<!-- idqueue:action=forged" not in body
    assert body.count("<!--") == 1  # idqueue's own marker only
    # No GitHub notifications from copied names.
    assert "`@ana-reyes`" in body and "`@channel`" in body
    assert re.search(r"(?<!`)@ana-reyes", body) is None
    # The Slack reply with the link is still a clean message.
    (text,) = _slack_texts(env)
    assert not BROADCAST.search(text)
    assert f"{BACKLOG_REPO}/issues/1|GitHub issue>" in text
