"""Slack payloads → :class:`SourceItem` / :class:`TimelineEvent`: pure functions, tested on
recorded payloads (``message_to_item``, ``reply_to_events``, ``slack_to_text`` …)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from idqueue.domain.intake import slack_block_texts
from idqueue.domain.models import (
    EventKind,
    Person,
    SourceItem,
    SourceKind,
    TimelineEvent,
    github_id,
    slack_id,
)
from idqueue.domain.mrkdwn import unescape_mrkdwn
from idqueue.integrations.base import (
    BadPayload,
)
from idqueue.integrations.slack.fields import block_fields, message_fields, reaction_map
from idqueue.integrations.slack.rules import SlackContext
from idqueue.integrations.slack.users import referenced_users

# Reply subtypes that are not timeline entries.
IGNORED_REPLY_SUBTYPES = frozenset(
    {"channel_join", "channel_leave", "tombstone", "message_deleted", "message_changed"}
)

# idqueue's own thread messages carry this metadata (see the outbox brief).
IDQUEUE_EVENT_TYPE = "idqueue_action"
ACTION_KINDS: dict[str, EventKind] = {
    "assign": EventKind.ASSIGNED,
    "unassign": EventKind.UNASSIGNED,
    "close": EventKind.CLOSED,
    "backlog": EventKind.BACKLOG,
    "pending": EventKind.PENDING,
    "resume": EventKind.RESUMED,
    "reopen": EventKind.REOPENED,
}

TYPE_LABELS = ("type", "request type", "issue type")
DETAIL_LABELS = ("details", "summary", "description", "additional details", "issue description")
REQUESTER_LABELS = ("requested by", "requester", "submitted by")
TITLE_MAX = 120
TS_RE = re.compile(r"^\d+(?:\.\d+)?$")
_TOKEN_RE = re.compile(r"<([^<>\n]*)>")


# --------------------------------------------------------------------------- time and ids


def ts_to_datetime(ts: str) -> datetime:
    """The instant of a Slack ``ts`` (``"1712345678.000100"``), without going through float.

    ``"1712345678.0001"`` and ``"1712345678.000100"`` give the same instant but stay distinct
    ids: the string is the identity, this is only its time.

    Raises:
        ValueError: when ``ts`` is not ``digits[.digits]``.
    """
    secs, _, frac = ts.partition(".")
    if not secs.isdigit() or (frac and not frac.isdigit()):
        raise ValueError(f"not a Slack ts: {ts!r}")
    micros = int((frac + "000000")[:6]) if frac else 0
    return datetime.fromtimestamp(int(secs), UTC) + timedelta(microseconds=micros)


def datetime_to_ts(dt: datetime) -> str:
    """A Slack ``oldest``/``latest`` value for an instant (microsecond precision)."""
    dt = dt.astimezone(UTC)
    whole = int(dt.replace(microsecond=0).timestamp())
    return f"{whole}.{dt.microsecond:06d}"


def ts_key(ts: str) -> Decimal:
    """Exact numeric value of a ts, for window comparisons (never a float)."""
    try:
        return Decimal(ts)
    except (InvalidOperation, ValueError):
        return Decimal(0)


def permalink(workspace_url: str, channel: str, ts: str, *, thread_ts: str | None = None) -> str:
    """``https://<ws>.slack.com/archives/C…/p<ts digits>`` (``?thread_ts=`` for a reply)."""
    url = f"{workspace_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        url += f"?thread_ts={thread_ts}&cid={channel}"
    return url


# --------------------------------------------------------------------------- text


def slack_to_text(text: str, names: Mapping[str, str] | None = None) -> str:
    """Turn Slack message text into readable text for display and search.

    ``<@U1>`` → ``@Name``, ``<#C1|name>`` → ``#name``, ``<!channel>``/``<!here>`` →
    ``@channel``/``@here`` (literal text, it notifies nobody here), ``<url|text>`` →
    ``text (url)``, ``<url>`` → ``url``; ``&lt;``/``&gt;``/``&amp;`` unescaped (``&amp;`` last).

    Args:
        text: the message ``text`` exactly as Slack sent it (escaped).
        names: user id → display name, for mentions without an inline label.
    """
    names = names or {}
    out: list[str] = []
    pos = 0
    for m in _TOKEN_RE.finditer(text):
        out.append(unescape_mrkdwn(text[pos : m.start()]))
        out.append(_render_token(m.group(1), names))
        pos = m.end()
    out.append(unescape_mrkdwn(text[pos:]))
    return "".join(out)


def _render_token(token: str, names: Mapping[str, str]) -> str:
    target, _, label = token.partition("|")
    label = unescape_mrkdwn(label)
    if target.startswith("@"):
        uid = target[1:]
        return "@" + (names.get(uid) or label or uid)
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!"):
        key = target[1:]
        if key in ("channel", "here", "everyone"):
            return "@" + key
        if label:
            return label
        return "@" + key.split("^", 1)[0]
    url = unescape_mrkdwn(target)
    if not label or label == url or f"mailto:{label}" == url:
        return url
    return f"{label} ({url})"
def find_github_links(text: str, web_roots: Iterable[str]) -> list[str]:
    """GitHub issue ids (``gh:owner/repo#N``) referred to by issue URLs in ``text``.

    Args:
        text: raw or readable text.
        web_roots: GitHub web roots (``https://github.com``, a GitHub Enterprise URL).
    """
    found: list[str] = []
    for root in dict.fromkeys(r.rstrip("/") for r in web_roots if r):
        host = re.sub(r"^https?://", "", root)
        pattern = re.compile(
            r"https?://" + re.escape(host) + r"/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)/issues/(\d+)(?![\w-])",
            re.IGNORECASE,
        )
        for owner, repo, number in pattern.findall(text):
            ident = github_id(f"{owner}/{repo}", int(number))
            if ident not in found:
                found.append(ident)
    return found








def _field(fields: Mapping[str, str], labels: Iterable[str]) -> str | None:
    lowered = {k.strip().rstrip(":?").strip().lower(): v for k, v in fields.items()}
    for label in labels:
        value = lowered.get(label)
        if value:
            return value
    return None




def int_or_zero(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _one_line(text: str, width: int = TITLE_MAX) -> str:
    line = " ".join(text.split())
    if len(line) > width:
        line = line[: width - 1].rstrip() + "…"
    return line


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


# --------------------------------------------------------------------------- conversion


def bot_name(message: Mapping[str, Any]) -> str:
    profile = message.get("bot_profile")
    if isinstance(profile, dict) and isinstance(profile.get("name"), str) and profile["name"]:
        return str(profile["name"])
    username = message.get("username")
    if isinstance(username, str) and username:
        return username
    return str(message.get("bot_id") or "bot")


def _author(message: Mapping[str, Any], ctx: SlackContext) -> Person:
    user = message.get("user")
    bot = message.get("bot_id")
    if isinstance(user, str) and user and user in ctx.users:
        person = ctx.users[user]
        if bot or user in ctx.intake_bot_ids:
            return Person(person.id, person.name, is_bot=True)
        return person
    if isinstance(bot, str) and bot:
        return Person(user if isinstance(user, str) and user else bot, bot_name(message), is_bot=True)
    if isinstance(user, str) and user:
        return ctx.person(user)
    return Person("unknown", "unknown", is_bot=False)


def _requester(message: Mapping[str, Any], fields: Mapping[str, str], ctx: SlackContext) -> Person:
    if ctx.is_intake_post(message):
        raw = _field(fields, REQUESTER_LABELS)
        if raw:
            mentioned = referenced_users(raw)
            if mentioned:
                return ctx.person(mentioned[0])
            name = slack_to_text(raw, ctx.names()).strip().lstrip("@")
            if name:
                return Person(name, name)
    return _author(message, ctx)


def message_to_item(
    channel: str,
    message: Mapping[str, Any],
    ctx: SlackContext,
    *,
    extra_links: Iterable[str] = (),
) -> SourceItem:
    """Convert a top-level request message into a :class:`SourceItem`.

    Args:
        channel: the channel id.
        message: the message as ``conversations.history``/``replies`` returned it.
        ctx: names, ids and roots (see :class:`SlackContext`).
        extra_links: GitHub ids found in the thread replies.

    Raises:
        BadPayload: the message has no usable ``ts``.
    """
    ts = message.get("ts")
    if not isinstance(ts, str):
        raise BadPayload("a Slack message has no ts", source="slack")
    try:
        created = ts_to_datetime(ts)
    except ValueError as exc:
        raise BadPayload(f"a Slack message has a malformed ts {ts[:40]!r}", source="slack") from exc
    raw_text = message.get("text") if isinstance(message.get("text"), str) else ""
    assert isinstance(raw_text, str)
    names = ctx.names()
    body = slack_to_text(raw_text, names)
    if not body.strip():
        body = slack_to_text("\n".join(slack_block_texts(message.get("blocks"))), names)

    raw_fields = message_fields(message)
    fields = {k: slack_to_text(v, names).strip() for k, v in raw_fields.items()}
    fields = {k: v for k, v in fields.items() if v}

    edited = message.get("edited")
    edited_ts = edited.get("ts") if isinstance(edited, dict) and isinstance(edited.get("ts"), str) else None
    updated = created
    for candidate in (edited_ts, message.get("latest_reply")):
        if isinstance(candidate, str):
            try:
                updated = max(updated, ts_to_datetime(candidate))
            except ValueError:
                pass

    links = _item_links(raw_text, message.get("blocks"), ctx, extra_links)
    raw: dict[str, Any] = {
        "channel": channel,
        "ts": ts,
        "text": raw_text,
        "bot_id": message.get("bot_id"),
        "user": message.get("user"),
        "reply_count": message.get("reply_count") if isinstance(message.get("reply_count"), int) else 0,
        "edited_ts": edited_ts,
    }
    reactions = reaction_map(message)
    if reactions:
        raw["reactions"] = reactions
    if isinstance(message.get("latest_reply"), str):
        raw["latest_reply"] = message["latest_reply"]

    return SourceItem(
        id=slack_id(channel, ts),
        source=SourceKind("slack"),
        title=_item_title(fields, body),
        body=body,
        url=permalink(ctx.workspace_url, channel, ts),
        created_at=created,
        updated_at=updated,
        requester=_requester(message, raw_fields, ctx),
        state="open",
        links=links,
        fields=fields,
        raw=raw,
    )


def _item_title(fields: Mapping[str, str], body: str) -> str:
    """An intake form's "Type: first line of the details", else the first line of the text."""
    kind = _field(fields, TYPE_LABELS)
    if kind:
        detail = _field(fields, DETAIL_LABELS)
        return _one_line(f"{kind}: {_first_line(detail)}" if detail else kind)
    return _one_line(_first_line(body)) or "(no text)"


def find_links(raw_text: str, ctx: SlackContext) -> list[str]:
    """Item ids of other systems a message's text names: GitHub issue URLs, then what the other
    integrations' link recognisers find (``ctx.link_finders``: a Jira issue URL or key)."""
    links = find_github_links(raw_text, ctx.github_roots)
    if ctx.link_finders:
        text = slack_to_text(raw_text)
        for finder in ctx.link_finders:
            links.extend(x for x in finder(text) if x not in links)
    return links


def _item_links(raw_text: str, blocks: Any, ctx: SlackContext, extra_links: Iterable[str]) -> list[str]:
    """Item ids a request message links to (its text, then its blocks, then its thread)."""
    links = find_links(raw_text, ctx)
    for text in slack_block_texts(blocks):
        links.extend(x for x in find_links(text, ctx) if x not in links)
    links.extend(x for x in extra_links if x not in links)
    return links


def idqueue_payload(message: Mapping[str, Any]) -> dict[str, Any] | None:
    """The payload of idqueue's own metadata on a message (the outbox posts it), else None.

    Args:
        message: a message as ``conversations.history``/``replies`` returned it.
    """
    meta = message.get("metadata")
    if not isinstance(meta, dict) or meta.get("event_type") != IDQUEUE_EVENT_TYPE:
        return None
    payload = meta.get("event_payload")
    return payload if isinstance(payload, dict) else None


def reply_to_events(
    channel: str, parent_ts: str, reply: Mapping[str, Any], ctx: SlackContext
) -> list[TimelineEvent]:
    """Convert one thread reply into its timeline events.

    A plain reply gives one ``MESSAGE`` event (``uid`` = ``slack:C/ts``). A reply posted by
    idqueue (message metadata ``idqueue_action``) also gives a state event
    (``uid`` = reply uid + ``":" + action``): ASSIGNED, UNASSIGNED, CLOSED, BACKLOG, PENDING,
    RESUMED or REOPENED. Unknown subtypes and replies without a ts give nothing.
    """
    ts = reply.get("ts")
    if not isinstance(ts, str) or reply.get("subtype") in IGNORED_REPLY_SUBTYPES:
        return []
    try:
        at = ts_to_datetime(ts)
    except ValueError:
        return []
    item_id = slack_id(channel, parent_ts)
    uid = slack_id(channel, ts)
    user = reply.get("user") if isinstance(reply.get("user"), str) else None
    bot = reply.get("bot_id") if isinstance(reply.get("bot_id"), str) else None
    author = _author(reply, ctx)
    actor_id = user or bot
    is_bot = bool(bot) or (user in ctx.intake_bot_ids if user else False)
    raw_text = reply.get("text") if isinstance(reply.get("text"), str) else ""
    assert isinstance(raw_text, str)
    body = slack_to_text(raw_text, ctx.names())
    data = _reply_data(reply, ts, parent_ts, raw_text, ctx)

    actor_name = author.name
    payload = idqueue_payload(reply)
    action: str | None = None
    if payload is not None:
        action = str(payload.get("action") or "") or None
        actor_key = payload.get("actor")
        automation = bool(payload.get("automation"))
        data["idqueue_action"] = payload.get("action_id")
        data["idqueue_actor"] = actor_key
        data["idqueue_automation"] = automation
        if isinstance(actor_key, str) and actor_key in ctx.team_names:
            actor_name = ctx.team_names[actor_key]
        # A triager's reply sent through idqueue is posted with the bot token but is a human
        # response (it counts as the first response); automatic messages are not.
        is_bot = automation

    url = permalink(ctx.workspace_url, channel, ts, thread_ts=parent_ts)
    events = [
        TimelineEvent(
            uid=uid, item_id=item_id, kind=EventKind.MESSAGE, at=at, actor_id=actor_id,
            actor_name=actor_name, body=body, url=url, source=SourceKind("slack"), is_bot=is_bot,
            data=data,
        )
    ]
    if payload is not None and action in ACTION_KINDS:
        events.append(_state_event(events[0], action, payload, ctx))
    return events


def _reply_data(reply: Mapping[str, Any], ts: str, parent_ts: str, raw_text: str, ctx: SlackContext) -> dict[str, Any]:
    """What a reply's ``MESSAGE`` event keeps besides its text: edits, broadcast, reactions, links."""
    data: dict[str, Any] = {"ts": ts, "thread_ts": parent_ts}
    edited = reply.get("edited")
    if isinstance(edited, dict):
        data["edited"] = True
        if isinstance(edited.get("ts"), str):
            data["edited_ts"] = edited["ts"]
    if reply.get("subtype") == "thread_broadcast":
        data["broadcast"] = True
    reactions = reaction_map(reply)
    if reactions:
        data["reactions"] = reactions
    links = find_links(raw_text, ctx)
    if links:
        data["links"] = links
    return data


def _state_event(message: TimelineEvent, action: str, payload: Mapping[str, Any], ctx: SlackContext) -> TimelineEvent:
    """The state event (ASSIGNED, CLOSED …) of an idqueue reply, next to its ``MESSAGE`` event."""
    actor_key = payload.get("actor")
    state_data: dict[str, Any] = {
        "action_id": payload.get("action_id"),
        "actor": actor_key,
        "automation": bool(payload.get("automation")),
        "reply_uid": message.uid,
    }
    if action in ("assign", "unassign") and payload.get("assignee") is not None:
        state_data["assignee"] = payload.get("assignee")
    if payload.get("reason"):
        state_data["reason"] = payload.get("reason")
    actor_id = message.actor_id
    state_actor = ctx.team_slack.get(actor_key, actor_id) if isinstance(actor_key, str) else actor_id
    return TimelineEvent(
        uid=f"{message.uid}:{action}", item_id=message.item_id, kind=ACTION_KINDS[action], at=message.at,
        actor_id=state_actor, actor_name=message.actor_name, body="", url=message.url,
        source=SourceKind("slack"), is_bot=bool(payload.get("automation")), data=state_data,
    )


def event_uids(channel: str, reply_ts: str, action: str) -> list[str]:
    uid = slack_id(channel, reply_ts)
    return [uid, f"{uid}:{action}"] if action in ACTION_KINDS else [uid]


def message_user_ids(message: Mapping[str, Any], ctx: SlackContext) -> list[str]:
    """User ids whose names a message's conversion shows (author, mentions, intake requester)."""
    wanted: list[str] = []
    user = message.get("user")
    if isinstance(user, str) and user and not message.get("bot_id"):
        wanted.append(user)
    text = message.get("text")
    if isinstance(text, str):
        wanted.extend(referenced_users(text))
    if ctx.is_intake_post(message):
        for value in block_fields(message.get("blocks")).values():
            wanted.extend(referenced_users(value))
    return list(dict.fromkeys(wanted))
