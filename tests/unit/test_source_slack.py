"""Pure converter tests of the Slack source on recorded payloads.

Fixtures are the official examples from ``tests/specs/slack-web.openapi.json`` (chatter, a
thread from the conversations.replies example, users.info) and VA-style intake-bot messages as
the ID Bot posts them. No network here: see ``test_source_slack_emulator.py`` for that.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from idqueue.config import Settings
from idqueue.domain.models import EventKind, Person, slack_id
from idqueue.integrations.base import AuthError, NotFound, Unavailable
from idqueue.integrations.slack.api import map_error, retry_after
from idqueue.integrations.slack.convert import (
    datetime_to_ts,
    find_github_links,
    message_to_item,
    permalink,
    reply_to_events,
    slack_to_text,
    ts_to_datetime,
)
from idqueue.integrations.slack.fields import message_fields, parse_form_fields, reaction_map
from idqueue.integrations.slack.rules import SlackContext, is_bot_form, is_request
from idqueue.integrations.slack.users import referenced_users

CH = "C0IDENTITY"
WS = "https://idqueue-sandbox.slack.com"

# conversations.history example (spec): two human chatter messages.
SPEC_HISTORY: dict[str, Any] = {
    "has_more": True,
    "messages": [
        {"text": "I find you punny and would like to smell your nose letter", "ts": "1512085950.000216",
         "type": "message", "user": "U012AB3CDE"},
        {"text": "What, you want to smell my shoes better?", "ts": "1512104434.000490",
         "type": "message", "user": "U061F7AUR"},
    ],
    "ok": True,
    "pin_count": 0,
    "response_metadata": {"next_cursor": "bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz"},
}

# conversations.replies example (spec): parent + three replies.
SPEC_REPLIES: dict[str, Any] = {
    "messages": [
        {"last_read": "1484678597.521003", "reply_count": 3, "subscribed": True, "text": "island",
         "thread_ts": "1482960137.003543", "ts": "1482960137.003543", "type": "message",
         "unread_count": 0, "user": "U061F7AUR"},
        {"parent_user_id": "U061F7AUR", "text": "one island", "thread_ts": "1482960137.003543",
         "ts": "1483037603.017503", "type": "message", "user": "U061F7AUR"},
        {"parent_user_id": "U061F7AUR", "text": "two island", "thread_ts": "1482960137.003543",
         "ts": "1483051909.018632", "type": "message", "user": "U061F7AUR"},
        {"parent_user_id": "U061F7AUR", "text": "three for the land", "thread_ts": "1482960137.003543",
         "ts": "1483125339.020269", "type": "message", "user": "U061F7AUR"},
    ],
}

# What the VA ID Bot posts (text fields + section blocks with mrkdwn fields).
INTAKE_BOT_MSG: dict[str, Any] = {
    "type": "message",
    "subtype": "bot_message",
    "bot_id": "B0IDBOT01",
    "username": "ID Bot",
    "bot_profile": {"id": "B0IDBOT01", "name": "ID Bot", "app_id": "A0INTAKE01"},
    "ts": "1773162000.000000",
    "text": (
        "New Identity support request\n*Type:* Data request\n*Team:* Facilities &amp; Logistics\n"
        "*Requested by:* <@U0REQ09>\n*Impacts Veterans on production servers:* No\n"
        "*Details:* For our OKR deck we need sign-ins by CSP &lt;last 30 days&gt;\nsecond line"
    ),
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "New Identity support request"}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": "*Type:*\nData request"},
            {"type": "mrkdwn", "text": "*Team:*\nFacilities &amp; Logistics"},
            {"type": "mrkdwn", "text": "*Requested by:*\n<@U0REQ09>"},
        ]},
        {"type": "future_block_kind", "whatever": {"nested": [1, 2, 3]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Details:* For our OKR deck we need sign-ins by CSP"}},
    ],
    "thread_ts": "1773162000.000000",
    "reply_count": 2,
    "latest_reply": "1773165600.000100",
    "reactions": [{"name": "eyes", "users": ["U0ANA"], "count": 1}],
}

HUMAN_TICKET_MSG: dict[str, Any] = {
    "type": "message", "user": "U0REQ03", "ts": "1772464020.000000", "team": "T0IDQUEUE",
    "text": "Hi team! Could you share 3 staging <https://example.org/x?a=1&amp;b=2|ID.me> test users?",
    "reactions": [{"name": "ticket", "users": ["U0BEN"], "count": 1}],
}


@pytest.fixture
def settings() -> Settings:
    return Settings(
        slack={"intake_bot_ids": ["B0IDBOT01", "U0IDBOT"], "channels": [CH], "workspace_url": WS + "/"},
        github={"web_url": "https://ghe.example.com"},
        team={"ana": {"name": "Ana Reyes", "github": "ana-reyes", "slack": "U0ANA"},
              "ben": {"name": "Ben Okafor", "github": "ben-o", "slack": "U0BEN"}},
    )


@pytest.fixture
def ctx(settings: Settings) -> SlackContext:
    c = SlackContext.from_settings(settings, own_ids=["U0IDQUEUE", "B0IDQUEUE1"])
    c.users.update({
        "U0REQ09": Person("U0REQ09", "Lena F"),
        "U0REQ03": Person("U0REQ03", "Tom N"),
        "U0ANA": Person("U0ANA", "Ana Reyes"),
        "U0BEN": Person("U0BEN", "Ben Okafor"),
        "U061F7AUR": Person("U061F7AUR", "spengler"),
        "U0IDQUEUE": Person("U0IDQUEUE", "idqueue", is_bot=True),
    })
    return c


# --------------------------------------------------------------------------- ts and time


def test_ts_kept_as_distinct_strings() -> None:
    a, b = "1712345678.000100", "1712345678.0001"
    assert slack_id(CH, a) != slack_id(CH, b)
    # Same instant, different identities; no float rounding.
    assert ts_to_datetime(a) == ts_to_datetime(b) == datetime(2024, 4, 5, 19, 34, 38, 100, tzinfo=UTC)
    assert ts_to_datetime("1712345678") == datetime(2024, 4, 5, 19, 34, 38, tzinfo=UTC)
    assert datetime_to_ts(ts_to_datetime(a)) == a
    with pytest.raises(ValueError):
        ts_to_datetime("1.5e9")


def test_items_with_near_identical_ts_stay_distinct(ctx: SlackContext) -> None:
    base = {"type": "message", "user": "U0REQ03", "text": "*Type:* Help\n*Details:* x"}
    one = message_to_item(CH, {**base, "ts": "1712345678.000100"}, ctx)
    two = message_to_item(CH, {**base, "ts": "1712345678.0001"}, ctx)
    assert one.id == "slack:C0IDENTITY/1712345678.000100"
    assert two.id == "slack:C0IDENTITY/1712345678.0001"
    assert one.raw["ts"] == "1712345678.000100" and isinstance(one.raw["ts"], str)


def test_permalink_formats() -> None:
    assert permalink(WS + "/", CH, "1773162000.000100") == f"{WS}/archives/{CH}/p1773162000000100"
    assert permalink(WS, CH, "1773162001.000001", thread_ts="1773162000.000100") == (
        f"{WS}/archives/{CH}/p1773162001000001?thread_ts=1773162000.000100&cid={CH}"
    )


# --------------------------------------------------------------------------- display text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("<@U0ANA> can you look?", "@Ana Reyes can you look?"),
        ("<@U0NOBODY|nobody> hi", "@nobody hi"),
        ("<@U0GHOST> hi", "@U0GHOST hi"),
        ("<!channel> and <!here> and <!everyone>", "@channel and @here and @everyone"),
        ("<!subteam^S123|@identity-team> ping", "@identity-team ping"),
        ("see <#C0SUPPORT|identity-support>", "see #identity-support"),
        ("<https://example.org/a?x=1&amp;y=2|the doc>", "the doc (https://example.org/a?x=1&y=2)"),
        ("<https://example.org/>", "https://example.org/"),
        ("<mailto:a@example.org|a@example.org>", "mailto:a@example.org"),
        ("&lt;script&gt;alert(1)&lt;/script&gt; &amp;lt; stays", "<script>alert(1)</script> &lt; stays"),
        ("a &amp; b", "a & b"),
        ("[bold red]pwn[/] [@click=app.quit]x[/]", "[bold red]pwn[/] [@click=app.quit]x[/]"),
    ],
)
def test_slack_to_text(raw: str, shown: str) -> None:
    assert slack_to_text(raw, {"U0ANA": "Ana Reyes"}) == shown


def test_referenced_users_in_order_without_repeats() -> None:
    assert referenced_users("<@U1> <@W2|x> <@U1> <#C1> <!here>") == ["U1", "W2"]


def test_github_links_public_and_enterprise() -> None:
    text = (
        "There's a new <https://github.com/va-identity/support/issues/36|Github issue> and "
        "https://ghe.example.com/team/repo/issues/7 but not https://github.com/o/r/pull/3 "
        "nor https://github.com/o/r/issues/12x; again https://github.com/va-identity/support/issues/36"
    )
    links = find_github_links(text, ["https://github.com", "https://ghe.example.com/"])
    assert links == ["gh:va-identity/support#36", "gh:team/repo#7"]


# --------------------------------------------------------------------------- what is a request


def test_spec_chatter_is_not_a_request(ctx: SlackContext) -> None:
    assert not any(is_request(m, ctx) for m in SPEC_HISTORY["messages"])


def test_intake_bot_ticket_reaction_and_form_are_requests(ctx: SlackContext) -> None:
    assert is_request(INTAKE_BOT_MSG, ctx)
    assert is_request(HUMAN_TICKET_MSG, ctx)
    form = {"type": "message", "user": "U0REQ03", "ts": "1.000001",
            "text": "Hello\n*Requested by:* <@U0REQ03>\nplease help"}
    assert is_request(form, ctx)
    variant = {"type": "message", "user": "U0REQ03", "ts": "1.000002", "text": "*Type*: Bug fix"}
    assert is_request(variant, ctx)
    # The intake bot posting as its bot user (user id listed in intake_bot_ids).
    assert is_request({"type": "message", "user": "U0IDBOT", "ts": "1.000003", "text": "hello"}, ctx)


@pytest.mark.parametrize(
    "message",
    [
        {"type": "message", "subtype": "channel_join", "user": "U0REQ03", "ts": "1.1",
         "text": "<@U0REQ03> has joined the channel", "reactions": [{"name": "ticket", "users": ["U0BEN"]}]},
        {"type": "message", "subtype": "channel_leave", "user": "U0REQ03", "ts": "1.2", "text": "left"},
        {"type": "message", "subtype": "some_future_subtype", "user": "U0REQ03", "ts": "1.3",
         "text": "*Type:* Bug"},
        # our own bot (auth.test user_id / bot_id): no feedback loop, even with the form
        {"type": "message", "user": "U0IDQUEUE", "bot_id": "B0IDQUEUE1", "ts": "1.4", "text": "*Type:* Bug"},
        {"type": "message", "bot_id": "B0IDQUEUE1", "subtype": "bot_message", "ts": "1.5",
         "text": "done", "reactions": [{"name": "ticket", "users": ["U0BEN"]}]},
        # some other bot whose post is not a form (one labelled field is a status line, not a form)
        {"type": "message", "subtype": "bot_message", "bot_id": "B0OTHER", "ts": "1.6", "text": "*Type:* Bug"},
        {"type": "message", "subtype": "bot_message", "bot_id": "B0OTHER", "ts": "1.61",
         "text": "Deploy finished\n*Status:* green\n*Commit:* abc123"},
        # a thread reply and a thread_broadcast are timeline entries, not requests
        {"type": "message", "user": "U0REQ03", "ts": "1.7", "thread_ts": "1.0", "text": "*Type:* Bug"},
        {"type": "message", "subtype": "thread_broadcast", "user": "U0REQ03", "ts": "1.8",
         "thread_ts": "1.0", "text": "*Type:* Bug", "root": {"ts": "1.0"}},
        # a ticket reaction with no users/count means nothing
        {"type": "message", "user": "U0REQ03", "ts": "1.9", "text": "hi", "reactions": [{"name": "ticket"}]},
        {"type": "message", "user": "U0REQ03", "text": "no ts"},
        {"type": "message", "user": "U0REQ03", "ts": "2.0", "text": "hidden", "hidden": True},
    ],
)
def test_not_requests(message: dict[str, Any], ctx: SlackContext) -> None:
    assert not is_request(message, ctx)


# A Slack Workflow Builder form post: its own bot, ``bot_message``, the answers in rich_text blocks
# (bold labels) with a plain-text fallback.
WORKFLOW_FORM_MSG: dict[str, Any] = {
    "type": "message", "subtype": "bot_message", "bot_id": "B0WORKFLOW1", "username": "Identity intake form",
    "ts": "1772464500.000100", "text": "New submission from Identity intake form",
    "bot_profile": {"id": "B0WORKFLOW1", "name": "Identity intake form", "app_id": "A0WORKFLOW1"},
    "blocks": [{"type": "rich_text", "block_id": "wf", "elements": [
        {"type": "rich_text_section", "elements": [
            {"type": "text", "text": "Type:", "style": {"bold": True}}, {"type": "text", "text": " Bug fix\n"},
            {"type": "text", "text": "Requested by:", "style": {"bold": True}}, {"type": "text", "text": " "},
            {"type": "user", "user_id": "U0REQ03"}, {"type": "text", "text": "\n"},
            {"type": "text", "text": "Details:", "style": {"bold": True}},
            {"type": "text", "text": " Sign-in loops on staging"},
        ]},
    ]}],
}


def test_any_bots_intake_form_is_a_request_by_the_person_it_names(ctx: SlackContext) -> None:
    assert "B0WORKFLOW1" not in ctx.intake_bot_ids
    assert is_bot_form(WORKFLOW_FORM_MSG) and is_request(WORKFLOW_FORM_MSG, ctx)
    item = message_to_item(CH, WORKFLOW_FORM_MSG, ctx)
    assert item.requester == Person("U0REQ03", "Tom N")  # the form's "Requested by", not the bot
    assert item.title == "Bug fix: Sign-in loops on staging"
    text_form = {"type": "message", "subtype": "bot_message", "bot_id": "B0FORMS", "ts": "1.000004",
                 "text": "*Type:* Data pull\n*Submitted by:* <@U0REQ09>\n*Details:* counts"}
    assert is_request(text_form, ctx)
    assert message_to_item(CH, text_form, ctx).requester == Person("U0REQ09", "Lena F")
    own = {**text_form, "bot_id": "B0IDQUEUE1", "user": "U0IDQUEUE"}
    assert not is_request(own, ctx)


# --------------------------------------------------------------------------- message → item


def test_intake_bot_message_to_item(ctx: SlackContext) -> None:
    item = message_to_item(CH, INTAKE_BOT_MSG, ctx, extra_links=["gh:va-identity/support#36"])
    assert item.id == "slack:C0IDENTITY/1773162000.000000"
    assert item.source == "slack"
    assert item.title == "Data request: For our OKR deck we need sign-ins by CSP"
    assert item.requester == Person("U0REQ09", "Lena F")  # the "Requested by" person, not the bot
    assert item.url == f"{WS}/archives/{CH}/p1773162000000000"
    assert item.created_at == datetime.fromtimestamp(1773162000, UTC)
    assert item.updated_at == ts_to_datetime("1773165600.000100")  # latest_reply is newer
    assert item.state == "open"
    assert item.links == ["gh:va-identity/support#36"]
    assert item.fields["Type"] == "Data request"
    assert item.fields["Team"] == "Facilities & Logistics"
    assert item.fields["Requested by"] == "@Lena F"
    assert item.fields["Impacts Veterans on production servers"] == "No"
    assert item.fields["Details"].startswith("For our OKR deck")
    assert "sign-ins by CSP <last 30 days>" in item.body  # readable
    assert item.raw["text"] == INTAKE_BOT_MSG["text"]  # byte-exact original
    assert item.raw["channel"] == CH and item.raw["ts"] == "1773162000.000000"
    assert item.raw["bot_id"] == "B0IDBOT01" and item.raw["reply_count"] == 2
    assert item.raw["edited_ts"] is None
    assert item.raw["reactions"] == {"eyes": ["U0ANA"]}


def test_human_ticket_message_to_item(ctx: SlackContext) -> None:
    msg = {**HUMAN_TICKET_MSG, "edited": {"user": "U0REQ03", "ts": "1772464100.000000"}}
    item = message_to_item(CH, msg, ctx)
    assert item.requester == Person("U0REQ03", "Tom N")
    assert item.title == "Hi team! Could you share 3 staging ID.me (https://example.org/x?a=1&b=2) test users?"
    assert item.updated_at == ts_to_datetime("1772464100.000000")  # edited.ts
    assert item.raw["edited_ts"] == "1772464100.000000"
    assert item.fields == {}
    assert item.raw["reactions"] == {"ticket": ["U0BEN"]}


def test_title_is_first_line_capped(ctx: SlackContext) -> None:
    long = "x" * 300
    item = message_to_item(CH, {"type": "message", "user": "U0REQ03", "ts": "5.000001",
                                "text": f"\n\n  {long}\nsecond"}, ctx)
    assert len(item.title) == 120 and item.title.endswith("…")
    empty = message_to_item(CH, {"type": "message", "user": "U0REQ03", "ts": "5.000002", "text": ""}, ctx)
    assert empty.title == "(no text)"


def test_unknown_user_requester(ctx: SlackContext) -> None:
    item = message_to_item(CH, {"type": "message", "user": "U0GHOST", "ts": "5.000003", "text": "hi"}, ctx)
    assert item.requester == Person("U0GHOST", "unknown user (U0GHOST)")


def test_lenient_on_unknown_fields_and_blocks(ctx: SlackContext) -> None:
    msg = copy.deepcopy(HUMAN_TICKET_MSG)
    msg.update({
        "brand_new_field": {"a": [1, 2]},
        "blocks": [{"type": "hologram"}, "not a dict", {"type": "section", "text": None},
                   {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
                       {"type": "text", "text": "Type:", "style": {"bold": True}},
                       {"type": "text", "text": " Bug fix"}, {"type": "emoji", "name": "x"}]}]}],
        "reactions": "garbage",
        "files": [{"id": "F1"}],
    })
    item = message_to_item(CH, msg, ctx)
    assert item.raw["text"] == HUMAN_TICKET_MSG["text"]
    assert "reactions" not in item.raw
    assert reaction_map({"reactions": [{"name": 3}, {"name": "ok", "users": "x"}]}) == {"ok": []}


def test_form_field_parsing() -> None:
    text = "intro line\n*Type:* Bug fix\n*Details:*\nfirst\nsecond\n*Team*: Caregivers\n*Type:* ignored repeat"
    assert parse_form_fields(text) == {"Type": "Bug fix", "Details": "first\nsecond", "Team": "Caregivers"}
    # Blocks first, text fills the rest.
    fields = message_fields(INTAKE_BOT_MSG)
    assert fields["Type"] == "Data request" and fields["Requested by"] == "<@U0REQ09>"
    assert "Impacts Veterans on production servers" in fields


# --------------------------------------------------------------------------- replies → events


def test_spec_thread_replies_to_events(ctx: SlackContext) -> None:
    parent_ts = SPEC_REPLIES["messages"][0]["ts"]
    events = [e for r in SPEC_REPLIES["messages"][1:] for e in reply_to_events(CH, parent_ts, r, ctx)]
    assert [e.uid for e in events] == [
        "slack:C0IDENTITY/1483037603.017503", "slack:C0IDENTITY/1483051909.018632",
        "slack:C0IDENTITY/1483125339.020269",
    ]
    first = events[0]
    assert first.item_id == "slack:C0IDENTITY/1482960137.003543"
    assert first.kind is EventKind.MESSAGE and first.source == "slack"
    assert first.actor_id == "U061F7AUR" and first.actor_name == "spengler"
    assert first.body == "one island" and not first.is_bot
    assert first.url == f"{WS}/archives/{CH}/p1483037603017503?thread_ts={parent_ts}&cid={CH}"
    assert first.at == ts_to_datetime("1483037603.017503")


def test_intake_bot_reply_is_bot_and_carries_links(ctx: SlackContext) -> None:
    reply = {"type": "message", "subtype": "bot_message", "bot_id": "B0IDBOT01", "username": "ID Bot",
             "ts": "1773162060.000000", "thread_ts": "1773162000.000000",
             "text": "There's a new <https://github.com/va-identity/support/issues/36|Github issue> for your request."}
    (event,) = reply_to_events(CH, "1773162000.000000", reply, ctx)
    assert event.is_bot and event.actor_id == "B0IDBOT01" and event.actor_name == "ID Bot"
    assert event.data["links"] == ["gh:va-identity/support#36"]
    assert event.body.startswith("There's a new Github issue (https://github.com/va-identity/support/issues/36)")


def _idq(action: str, **extra: Any) -> dict[str, Any]:
    payload = {"action_id": f"act-{action}", "action": action, "actor": "ana", "automation": False,
               "reason": "", **extra}
    return {"type": "message", "user": "U0IDQUEUE", "bot_id": "B0IDQUEUE1", "ts": "1773170000.000100",
            "thread_ts": "1773162000.000000", "text": f"{action} message",
            "metadata": {"event_type": "idqueue_action", "event_payload": payload}}


@pytest.mark.parametrize(
    ("action", "kind"),
    [("assign", EventKind.ASSIGNED), ("unassign", EventKind.UNASSIGNED), ("close", EventKind.CLOSED),
     ("backlog", EventKind.BACKLOG), ("pending", EventKind.PENDING), ("resume", EventKind.RESUMED),
     ("reopen", EventKind.REOPENED)],
)
def test_idqueue_action_replies_make_state_events(action: str, kind: EventKind, ctx: SlackContext) -> None:
    reply = _idq(action, assignee="ben", reason="completed")
    message, state = reply_to_events(CH, "1773162000.000000", reply, ctx)
    assert message.kind is EventKind.MESSAGE
    assert message.data["idqueue_action"] == f"act-{action}"
    assert message.data["idqueue_actor"] == "ana"
    assert message.data["idqueue_automation"] is False
    assert not message.is_bot  # a triager's reply through idqueue counts as a human response
    assert message.actor_name == "Ana Reyes"
    assert state.uid == f"{message.uid}:{action}"
    assert state.kind is kind and state.item_id == message.item_id and state.at == message.at
    assert state.actor_id == "U0ANA"
    if action in ("assign", "unassign"):
        assert state.data["assignee"] == "ben"
    assert state.data["reason"] == "completed"


def test_idqueue_reply_and_automation(ctx: SlackContext) -> None:
    (only,) = reply_to_events(CH, "1773162000.000000", _idq("reply"), ctx)
    assert only.kind is EventKind.MESSAGE and only.data["idqueue_action"] == "act-reply"
    auto = _idq("close", automation=True)
    auto["reactions"] = [{"name": "five", "users": ["U0REQ09"], "count": 1}]
    message, state = reply_to_events(CH, "1773162000.000000", auto, ctx)
    assert message.is_bot and message.data["idqueue_automation"] is True
    assert message.data["reactions"] == {"five": ["U0REQ09"]}  # CSAT rating read back later
    assert state.kind is EventKind.CLOSED and state.is_bot


def test_edited_and_odd_replies(ctx: SlackContext) -> None:
    edited = {"type": "message", "user": "U0ANA", "ts": "1773162100.000000", "thread_ts": "1773162000.000000",
              "text": "fixed typo", "edited": {"user": "U0ANA", "ts": "1773162200.000000"}}
    (event,) = reply_to_events(CH, "1773162000.000000", edited, ctx)
    assert event.data["edited"] is True and event.data["edited_ts"] == "1773162200.000000"
    assert reply_to_events(CH, "1.0", {"type": "message", "subtype": "tombstone", "ts": "1.1"}, ctx) == []
    assert reply_to_events(CH, "1.0", {"type": "message", "text": "no ts"}, ctx) == []
    odd = {"type": "message", "subtype": "huddle_thread", "user": "U0ANA", "ts": "1.2", "thread_ts": "1.0",
           "metadata": {"event_type": "something_else", "event_payload": {"action": "close"}}}
    (plain,) = reply_to_events(CH, "1.0", odd, ctx)
    assert "idqueue_action" not in plain.data
    bad_meta = {**_idq("close"), "metadata": {"event_type": "idqueue_action", "event_payload": "nope"}}
    assert len(reply_to_events(CH, "1.0", bad_meta, ctx)) == 1
    broadcast = {"type": "message", "subtype": "thread_broadcast", "user": "U0ANA", "ts": "1.3",
                 "thread_ts": "1.0", "text": "fyi", "root": {"ts": "1.0"}}
    (b,) = reply_to_events(CH, "1.0", broadcast, ctx)
    assert b.uid == slack_id(CH, "1.3") and b.data["broadcast"] is True


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Retry-After": "30"}, 30.0), ({"retry-after": "0"}, 1.0), ({"Retry-After": "-5"}, 1.0),
     ({"Retry-After": "soon"}, 1.0), ({"Retry-After": "nan"}, 1.0), ({}, 1.0), ({"Retry-After": ["7"]}, 7.0)],
)
def test_retry_after_is_clamped(headers: dict[str, Any], expected: float) -> None:
    assert retry_after(headers, fallback=0.0) == expected


@pytest.mark.parametrize(
    ("code", "kind"),
    [("invalid_auth", AuthError), ("not_authed", AuthError), ("account_inactive", AuthError),
     ("token_revoked", AuthError), ("missing_scope", AuthError), ("channel_not_found", NotFound),
     ("not_in_channel", NotFound), ("fatal_error", Unavailable), ("brand_new_error", Unavailable)],
)
def test_error_codes_map_to_distinct_types(code: str, kind: type[Exception]) -> None:
    err = map_error("conversations.history", code, "slack", {"channel": CH})
    assert type(err) is kind
    assert code in err.title
    if kind is NotFound:
        assert CH in err.title


def test_error_titles_never_carry_tokens() -> None:
    err = map_error("auth.test", "xoxb-123-456-secret", "slack", {})
    assert "xoxb-" not in err.title and "[redacted]" in err.title


def test_own_user_token_messages_are_not_requests(ctx: SlackContext) -> None:
    # With a user token, auth.test gives only a user id: that user's posts are ours.
    own = {"type": "message", "user": "U0IDQUEUE", "ts": "3.000001", "text": "*Type:* Bug\n*Details:* x",
           "reactions": [{"name": "ticket", "users": ["U0BEN"], "count": 1}]}
    assert not is_request(own, ctx)
    assert is_request({**own, "user": "U0REQ03"}, ctx)


def test_block_fields_come_from_the_intake_parser() -> None:
    # Blocks are read by domain/intake.py's parser; ``*Label:*`` text lines add what they lack.
    fields = message_fields({"blocks": INTAKE_BOT_MSG["blocks"], "text": "*Extra:* from text\n*Type:* ignored"})
    assert fields["Type"] == "Data request"
    assert fields["Team"] == "Facilities &amp; Logistics"  # raw Slack value; the item unescapes it
    assert fields["Requested by"] == "<@U0REQ09>"
    assert fields["Details"] == "For our OKR deck we need sign-ins by CSP"
    assert fields["Extra"] == "from text"
    rich = {"blocks": [{"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
        {"type": "text", "text": "Type:", "style": {"bold": True}}, {"type": "text", "text": " Bug fix"}]}]}]}
    assert message_fields(rich) == {"Type": "Bug fix"}


def test_a_block_parser_error_does_not_fail_the_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    import idqueue.integrations.slack.fields as fields_mod

    def broken(blocks: list[dict[str, Any]]) -> dict[str, str]:
        raise RuntimeError("bug in the parser")

    monkeypatch.setattr(fields_mod, "parse_slack_blocks", broken)
    assert message_fields({"blocks": INTAKE_BOT_MSG["blocks"], "text": "*Type:* from text"}) == {"Type": "from text"}
