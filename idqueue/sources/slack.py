"""The Slack source: intake-channel messages become requests, thread replies their timeline.

How it polls (a poller never receives edit or delete events, so it re-reads a recent window):

* ``auth.test`` once per source, for our own user/bot id (our own messages are never requests:
  no feedback loop) and the workspace URL used for permalinks.
* Per channel, a *scan* reads ``conversations.history`` newest first from ``oldest`` (first sync:
  ``history_days`` back; later: ``lookback_hours`` back, or further when idqueue was not run for a
  while) following ``response_metadata.next_cursor``. Each page is one :class:`Batch`, and the
  scan's pagination cursor lives in the batch cursor, so a scan cut short by a rate limit resumes
  where it stopped on the next poll (the non-Marketplace profile allows ~1 history call a minute).
* A request whose ``edited.ts``, ``latest_reply`` or ``reply_count`` changed is re-emitted; its
  thread is read with ``conversations.replies`` when the reply fields changed. A request that was
  known inside a *completely read* window and is now absent was deleted → ``deleted_items``.
  Replies that vanished from a completely read thread → ``deleted_events``.
* A thread read that could not happen (rate limit mid-page) is remembered as *pending* in the
  cursor and done first on the next poll.
* The sync engine tells the source (:class:`PollHints`, from the store) which requests are open
  and how urgent they are, which Slack messages open requests link to that were never read, and
  which threads a Socket Mode event named. Named threads are read before the scan; linked
  messages (a permalink in a GitHub issue older than ``history_days``) are read one thread each
  after it. Then every open request's thread is re-read, across channels, most urgent first,
  within the *thread budget* (``slack.thread_checks_per_minute`` × ``ui.poll_interval`` / 60
  ``conversations.replies`` calls a poll, counting the scan's reads): that is how a reply or a
  deletion under a parent older than the window reaches the queue on the next poll. The last
  batch's stats say how many open threads were due, checked and skipped.
* A few threads of requests that are not open are re-read per poll in rotation (the *sweep*),
  with what is left of the budget, so edited replies and late reactions (CSAT ratings on the
  closing message) are eventually seen too.
* A request older than ``history_days`` stays in the cursor (so the sweep still sees its
  thread) while its thread had activity within ``history_days`` or it was not closed or moved
  to the backlog by an idqueue action in its thread; at most ``MAX_OLD_REQUESTS`` per channel,
  the most recently active first.
* Names: a user id that ``users.info`` could not resolve for a transient reason (outage, rate
  limit) is shown as ``unknown user (U…)`` and remembered in the request's cursor entry
  (``u``). Once the name resolves (``NAME_LOOKUPS_PER_POLL`` look-ups a poll, none after the
  first failure), up to ``NAME_REREADS_PER_POLL`` such requests a channel are re-read after the
  scan (best effort, like the sweep), so their item and thread replies are re-sent with the
  real names. Thread digests are taken over the converted events, so a name change alone
  re-sends them.

Cursors: a batch carries only the cursor keys it changed, so its cost does not grow with the
channel: ``channel:<C>`` (scan position, last complete scan, pending threads),
``req:<C>/<ts>`` per known request (a JSON ``null`` deletes one that is forgotten) and
``seen:<C>/<n>`` for the requests the scan in progress met (see :class:`_Channel`). A
``channel:<C>`` value in the older layout, with every request inside it, is split on the next
poll.

Retries: the SDK's own retry handlers are turned off (``retry_handlers=[]``) and this module
retries by itself, because the SDK handlers sleep real time and cannot be bounded by
``max_wait``. HTTP 429 / ``ratelimited``: sleep ``Retry-After`` (clamped to ≥ 1 s) with the
injected ``sleep`` when it is ≤ ``max_wait``, a bounded number of times, else
:class:`RateLimited`. Connection errors, timeouts and 5xx: bounded exponential backoff, then
:class:`Unavailable`.

The conversion from Slack payloads to :class:`SourceItem` / :class:`TimelineEvent` is done by
pure functions (``message_to_item``, ``reply_to_events``, ``slack_to_text`` …) that the tests run
on recorded payloads.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from idqueue.config import Settings
from idqueue.domain.models import (
    EventKind,
    Person,
    SourceItem,
    SourceKind,
    TimelineEvent,
    github_id,
    parse_slack_id,
    slack_id,
)
from idqueue.domain.mrkdwn import unescape_mrkdwn
from idqueue.safety import redact
from idqueue.sources.base import (
    AuthError,
    BadPayload,
    Batch,
    FetchStats,
    NotFound,
    PollHints,
    RateLimited,
    Source,
    SourceError,
    Unavailable,
)
from idqueue.sources.decoding import describe_replacements

__all__ = [
    "SlackContext",
    "SlackSource",
    "datetime_to_ts",
    "find_github_links",
    "idqueue_payload",
    "is_bot_form",
    "is_form_shaped",
    "is_request",
    "message_fields",
    "message_to_item",
    "parse_form_fields",
    "permalink",
    "reaction_map",
    "referenced_users",
    "reply_to_events",
    "slack_to_text",
    "ts_to_datetime",
    "unknown_user_name",
]

# Slack error codes → our error types.
AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "missing_scope",
     "token_expired", "no_permission", "ekm_access_denied", "not_allowed_token_type"}
)
NOT_FOUND_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived"})
NON_JSON_PREFIX = "Received a response in a non-JSON format"

# Top-level message subtypes that can be requests; everything else (channel_join,
# channel_leave, channel_topic, tombstone, …) is channel noise.
REQUEST_SUBTYPES = frozenset({None, "bot_message", "file_share", "me_message"})
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
BOT_FORM_MIN_FIELDS = 2  # a bot's post is an intake form with a Type/Requested-by label and one more
TITLE_MAX = 120
FIELD_MAX = 2000

MAX_RATE_RETRIES = 4
MAX_TRANSIENT_RETRIES = 3
THREAD_BATCH = 25  # thread reads per batch when catching up on pending threads
NAME_LOOKUPS_PER_POLL = 50  # users.info calls spent per poll on names an outage left unresolved
NAME_REREADS_PER_POLL = 50  # requests per channel and poll re-read once their names resolve
MAX_OLD_REQUESTS = 200  # requests older than history_days kept in a channel's cursor
# Thread actions after which a request no longer needs its thread watched (once it is old).
FINAL_ACTIONS = frozenset({"close", "backlog"})
STATE_ACTIONS = frozenset({"close", "backlog", "reopen", "resume", "pending"})

_TS_RE = re.compile(r"^\d+(?:\.\d+)?$")
_TOKEN_RE = re.compile(r"<([^<>\n]*)>")
_USER_MENTION_RE = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_FORM_RE = re.compile(r"^[ \t>]*\*\s*(?:type|requested by)\s*(?::\s*\*|\*\s*:)", re.IGNORECASE | re.MULTILINE)
# "*Label:* value" or "*Label*: value" (a label is short and has no stars or newlines).
_LABEL_RE = re.compile(r"^[ \t>•-]*\*([^*\n]{1,80}?)\s*(?::\s*\*|\*\s*:)[ \t]*(.*)$")


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


def _ts_key(ts: str) -> Decimal:
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


def unknown_user_name(user_id: str) -> str:
    """What a user that Slack cannot find is called."""
    return f"unknown user ({user_id})"


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


def referenced_users(text: str) -> list[str]:
    """User ids mentioned as ``<@U…>`` in a message text, in order, without repeats."""
    return list(dict.fromkeys(_USER_MENTION_RE.findall(text)))


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


def parse_form_fields(text: str) -> dict[str, str]:
    """Parse ``*Label:* value`` lines (Slack intake form) into ``{"Label": "value"}``.

    A label with nothing after it takes the following lines as its value (the block layout
    ``*Label:*\\nvalue``); other lines after a value continue it until the next label. Values
    are kept as Slack wrote them (mentions are resolved by the caller).
    """
    fields: dict[str, str] = {}
    current: str | None = None
    for line in text.splitlines():
        m = _LABEL_RE.match(line)
        if m:
            current = m.group(1).strip()
            if current and current not in fields:
                fields[current] = m.group(2).strip()[:FIELD_MAX]
            elif current:
                current = None  # a repeated label: keep the first, ignore its continuation
            continue
        if current is not None and line.strip():
            joined = f"{fields[current]}\n{line.strip()}" if fields[current] else line.strip()
            fields[current] = joined[:FIELD_MAX]
    return {k: v for k, v in fields.items() if v}


def _block_texts(blocks: Any) -> list[str]:
    """The mrkdwn/plain texts of the block types we know; unknown block types are skipped."""
    texts: list[str] = []
    if not isinstance(blocks, list):
        return texts
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "section":
            text = block.get("text")
            if isinstance(text, dict) and isinstance(text.get("text"), str):
                texts.append(text["text"])
            for fld in block.get("fields") or []:
                if isinstance(fld, dict) and isinstance(fld.get("text"), str):
                    texts.append(fld["text"])
        elif kind == "rich_text":
            texts.append(_rich_text(block.get("elements")))
    return [t for t in texts if t]


def _rich_text(elements: Any) -> str:
    parts: list[str] = []
    if not isinstance(elements, list):
        return ""
    for el in elements:
        if not isinstance(el, dict):
            continue
        kind = el.get("type")
        if kind == "text" and isinstance(el.get("text"), str):
            text = el["text"]
            style = el.get("style") if isinstance(el.get("style"), dict) else {}
            parts.append(f"*{text}*" if style and style.get("bold") else text)
        elif kind == "user" and isinstance(el.get("user_id"), str):
            parts.append(f"<@{el['user_id']}>")
        elif kind == "link" and isinstance(el.get("url"), str):
            parts.append(f"<{el['url']}|{el['text']}>" if el.get("text") else f"<{el['url']}>")
        elif isinstance(el.get("elements"), list):
            parts.append(_rich_text(el["elements"]))
            if kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
                parts.append("\n")
    return "".join(parts)


def _parse_blocks(blocks: Any) -> dict[str, str]:
    """Structured fields from an intake bot's blocks.

    Uses ``idqueue.domain.intake.parse_slack_blocks`` when that module provides it (it knows
    more layouts), else a local parse of the ``*Label:* value`` texts in the blocks.
    """
    if not isinstance(blocks, list) or not blocks:
        return {}
    parser = _intake_block_parser()
    if parser is not None:
        try:
            parsed = parser(blocks)
            if isinstance(parsed, dict):
                return {str(k): str(v) for k, v in parsed.items() if v}
        except Exception:  # lenient: a parser bug must not fail the poll
            pass
    fields: dict[str, str] = {}
    for text in _block_texts(blocks):
        for key, value in parse_form_fields(text).items():
            fields.setdefault(key, value)
    return fields


_INTAKE_PARSER: list[Callable[[list[dict[str, Any]]], Any] | None] = []


def _intake_block_parser() -> Callable[[list[dict[str, Any]]], Any] | None:
    # Imported lazily and by name: the intake module is written by another helper and may not
    # exist (or not yet provide the function) in every checkout.
    if not _INTAKE_PARSER:
        try:
            module = importlib.import_module("idqueue.domain.intake")
            func = getattr(module, "parse_slack_blocks", None)
        except Exception:  # the module may be missing or broken
            func = None
        _INTAKE_PARSER.append(func if callable(func) else None)
    return _INTAKE_PARSER[0]


def message_fields(message: Mapping[str, Any]) -> dict[str, str]:
    """The intake fields of a message (raw Slack values): blocks first, then ``*Label:*`` lines."""
    fields = _parse_blocks(message.get("blocks"))
    text = message.get("text")
    if isinstance(text, str):
        for key, value in parse_form_fields(text).items():
            fields.setdefault(key, value)
    return fields


def _field(fields: Mapping[str, str], labels: Iterable[str]) -> str | None:
    lowered = {k.strip().rstrip(":?").strip().lower(): v for k, v in fields.items()}
    for label in labels:
        value = lowered.get(label)
        if value:
            return value
    return None


def reaction_map(message: Mapping[str, Any]) -> dict[str, list[str]]:
    """Reactions of a message: name → user ids (``{}`` when none)."""
    out: dict[str, list[str]] = {}
    reactions = message.get("reactions")
    if not isinstance(reactions, list):
        return out
    for r in reactions:
        if isinstance(r, dict) and isinstance(r.get("name"), str):
            users = r.get("users")
            out[r["name"]] = [u for u in users if isinstance(u, str)] if isinstance(users, list) else []
    return out


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _one_line(text: str, width: int = TITLE_MAX) -> str:
    line = " ".join(text.split())
    if len(line) > width:
        line = line[: width - 1].rstrip() + "…"
    return line


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


# --------------------------------------------------------------------------- conversion


@dataclass(slots=True)
class SlackContext:
    """What the pure converters need to know besides the payload.

    Attributes:
        workspace_url: web root of the workspace, for permalinks.
        intake_bot_ids: ``bot_id``s or user ids of intake bots.
        intake_reaction: reaction name that turns a human message into a request.
        own_ids: our own user id and bot id (from ``auth.test``).
        github_roots: GitHub web roots whose issue URLs are links.
        users: user id → :class:`Person` (resolved names).
        team_names: roster key → display name (for idqueue action actors).
        team_slack: roster key → Slack user id.
    """

    workspace_url: str = "https://slack.com"
    intake_bot_ids: frozenset[str] = frozenset()
    intake_reaction: str = "ticket"
    own_ids: frozenset[str] = frozenset()
    github_roots: tuple[str, ...] = ("https://github.com",)
    users: dict[str, Person] = field(default_factory=dict)
    team_names: dict[str, str] = field(default_factory=dict)
    team_slack: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, *, workspace_url: str | None = None,
                      own_ids: Iterable[str] = ()) -> SlackContext:
        """Build a context from settings (and what ``auth.test`` said)."""
        roots = tuple(dict.fromkeys(["https://github.com", settings.github_web_url()]))
        return cls(
            workspace_url=(settings.slack.workspace_url or workspace_url or "https://slack.com").rstrip("/"),
            intake_bot_ids=frozenset(settings.slack.intake_bot_ids),
            intake_reaction=settings.slack.intake_reaction,
            own_ids=frozenset(i for i in own_ids if i),
            github_roots=roots,
            team_names={k: m.name for k, m in settings.team.items()},
            team_slack={k: m.slack for k, m in settings.team.items() if m.slack},
        )

    def names(self) -> dict[str, str]:
        """User id → display name."""
        return {uid: p.name for uid, p in self.users.items()}

    def person(self, user_id: str) -> Person:
        """The resolved person for a user id (``unknown user (U…)`` when unresolved)."""
        return self.users.get(user_id) or Person(user_id, unknown_user_name(user_id),
                                                  is_bot=user_id in self.intake_bot_ids)

    def is_intake_bot(self, message: Mapping[str, Any]) -> bool:
        """True when the message was posted by a configured intake bot."""
        return bool(
            (message.get("bot_id") and message.get("bot_id") in self.intake_bot_ids)
            or (message.get("user") and message.get("user") in self.intake_bot_ids)
        )

    def is_intake_post(self, message: Mapping[str, Any]) -> bool:
        """True for a configured intake bot's post or any bot's intake-form post.

        Such a post's requester is the person its form names (``*Requested by:*``), not the bot.
        """
        return self.is_intake_bot(message) or is_bot_form(message)

    def is_own(self, message: Mapping[str, Any]) -> bool:
        """True when the message was posted by idqueue's own token."""
        return bool(
            (message.get("user") and message.get("user") in self.own_ids)
            or (message.get("bot_id") and message.get("bot_id") in self.own_ids)
        )


def _bot_name(message: Mapping[str, Any]) -> str:
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
        return Person(user if isinstance(user, str) and user else bot, _bot_name(message), is_bot=True)
    if isinstance(user, str) and user:
        return ctx.person(user)
    return Person("unknown", "unknown", is_bot=False)


def is_bot_post(message: Mapping[str, Any]) -> bool:
    """True when a bot posted the message (a ``bot_id``, or the ``bot_message`` subtype)."""
    return bool(message.get("bot_id")) or message.get("subtype") == "bot_message"


def is_form_shaped(message: Mapping[str, Any]) -> bool:
    """True when the message's text or blocks carry an intake-form label (``*Type:*``,
    ``*Requested by:*``)."""
    text = message.get("text")
    texts = [text] if isinstance(text, str) else []
    texts.extend(_block_texts(message.get("blocks")))
    return any(_FORM_RE.search(t) for t in texts)


def is_bot_form(message: Mapping[str, Any]) -> bool:
    """A bot's intake-form post (Slack Workflow Builder forms, intake bots).

    It must look like a form: a ``*Type:*`` or ``*Requested by:*`` label and at least
    ``BOT_FORM_MIN_FIELDS`` labelled fields, so a deploy bot's one-line ``*Type:* deploy`` status
    is not a request.
    """
    return is_bot_post(message) and is_form_shaped(message) and len(message_fields(message)) >= BOT_FORM_MIN_FIELDS


def is_request(message: Mapping[str, Any], ctx: SlackContext) -> bool:
    """Whether a top-level channel message is a support request (DESIGN.md).

    A message by a configured intake bot, one that matches the intake form (``*Type:*``,
    ``*Requested by:*`` lines) whoever posts it — a person, Slack Workflow Builder or an intake
    bot not listed in ``slack.intake_bot_ids`` (see :func:`is_bot_form`) — or a human message
    someone reacted to with the intake reaction. Never: thread replies, join/leave and other
    subtypes, our own messages, other bots' posts that are not forms.
    """
    ts = message.get("ts")
    if not isinstance(ts, str) or message.get("hidden"):
        return False
    thread_ts = message.get("thread_ts")
    if thread_ts and thread_ts != ts:
        return False
    subtype = message.get("subtype")
    if subtype not in REQUEST_SUBTYPES:
        return False
    if ctx.is_own(message):
        return False
    if ctx.is_intake_bot(message):
        return True
    if is_bot_post(message):
        return is_bot_form(message)
    text = message.get("text")
    if isinstance(text, str) and _FORM_RE.search(text):
        return True
    return bool(reaction_map(message).get(ctx.intake_reaction)) or any(
        isinstance(r, dict) and r.get("name") == ctx.intake_reaction and r.get("count")
        for r in message.get("reactions") or []
    )


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
        body = slack_to_text("\n".join(_block_texts(message.get("blocks"))), names)

    raw_fields = message_fields(message)
    fields = {k: slack_to_text(v, names).strip() for k, v in raw_fields.items()}
    fields = {k: v for k, v in fields.items() if v}
    kind = _field(fields, TYPE_LABELS)
    if kind:
        detail = _field(fields, DETAIL_LABELS)
        title = _one_line(f"{kind}: {_first_line(detail)}" if detail else kind)
    else:
        title = _one_line(_first_line(body)) or "(no text)"

    edited = message.get("edited")
    edited_ts = edited.get("ts") if isinstance(edited, dict) and isinstance(edited.get("ts"), str) else None
    updated = created
    for candidate in (edited_ts, message.get("latest_reply")):
        if isinstance(candidate, str):
            try:
                updated = max(updated, ts_to_datetime(candidate))
            except ValueError:
                pass

    links = find_github_links(raw_text, ctx.github_roots)
    for text in _block_texts(message.get("blocks")):
        links.extend(x for x in find_github_links(text, ctx.github_roots) if x not in links)
    links.extend(x for x in extra_links if x not in links)

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
        source=SourceKind.SLACK,
        title=title,
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
    links = find_github_links(raw_text, ctx.github_roots)
    if links:
        data["links"] = links

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
            actor_name=actor_name, body=body, url=url, source=SourceKind.SLACK, is_bot=is_bot,
            data=data,
        )
    ]
    if payload is not None and action in ACTION_KINDS:
        actor_key = payload.get("actor")
        state_data: dict[str, Any] = {
            "action_id": payload.get("action_id"),
            "actor": actor_key,
            "automation": bool(payload.get("automation")),
            "reply_uid": uid,
        }
        if action in ("assign", "unassign") and payload.get("assignee") is not None:
            state_data["assignee"] = payload.get("assignee")
        if payload.get("reason"):
            state_data["reason"] = payload.get("reason")
        state_actor = ctx.team_slack.get(actor_key, actor_id) if isinstance(actor_key, str) else actor_id
        events.append(
            TimelineEvent(
                uid=f"{uid}:{action}", item_id=item_id, kind=ACTION_KINDS[action], at=at,
                actor_id=state_actor, actor_name=actor_name, body="", url=url,
                source=SourceKind.SLACK, is_bot=bool(payload.get("automation")), data=state_data,
            )
        )
    return events


def _event_uids(channel: str, reply_ts: str, action: str) -> list[str]:
    uid = slack_id(channel, reply_ts)
    return [uid, f"{uid}:{action}"] if action in ACTION_KINDS else [uid]


def _digest(value: Any) -> str:
    blob = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.blake2b(blob.encode("utf-8"), digest_size=8).hexdigest()


def _item_digest(item: SourceItem) -> str:
    return _digest([
        item.title, item.body, item.updated_at.isoformat(), item.links, item.fields, item.raw,
        [item.requester.id, item.requester.name] if item.requester else None,
    ])


def _thread_digest(events: list[TimelineEvent]) -> str:
    """Digest of a thread's converted events.

    Taken over what is stored (not the raw replies) so that a change that only shows in the
    conversion, such as a user name that resolved after a ``users.info`` outage, re-sends them.
    """
    return _digest([
        [e.uid, e.kind.value, e.at.isoformat(), e.actor_id, e.actor_name, e.body, e.url, e.is_bot, e.data]
        for e in events
    ])


def _message_user_ids(message: Mapping[str, Any], ctx: SlackContext) -> list[str]:
    """User ids whose names a message's conversion shows (author, mentions, intake requester)."""
    wanted: list[str] = []
    user = message.get("user")
    if isinstance(user, str) and user and not message.get("bot_id"):
        wanted.append(user)
    text = message.get("text")
    if isinstance(text, str):
        wanted.extend(referenced_users(text))
    if ctx.is_intake_post(message):
        for value in _parse_blocks(message.get("blocks")).values():
            wanted.extend(referenced_users(value))
    return list(dict.fromkeys(wanted))


def _unresolved_ids(entry: Mapping[str, Any]) -> list[str]:
    """The user ids a cursor entry still shows as "unknown user" (its ``u``)."""
    value = entry.get("u")
    return [uid for uid in value if isinstance(uid, str)] if isinstance(value, list) else []


def _last_activity(ts: str, entry: Mapping[str, Any]) -> Decimal:
    """The newest of a request's ts, its latest reply and its last edit (exact)."""
    stamps = [ts, entry.get("lr"), entry.get("e")]
    return max(_ts_key(s) for s in stamps if isinstance(s, str))


def _closed_in_thread(entry: Mapping[str, Any]) -> bool:
    """True when the last idqueue state action in the request's thread closed or backlogged it."""
    replies = entry.get("r")
    if not isinstance(replies, dict):
        return False
    actions = [(_ts_key(ts), a) for ts, a in replies.items() if isinstance(ts, str) and a in STATE_ACTIONS]
    return bool(actions) and max(actions)[1] in FINAL_ACTIONS


# --------------------------------------------------------------------------- poll state


# Cursor keys of a channel (see :class:`_Channel`); channel ids and ts never contain "/".
def _channel_key(channel: str) -> str:
    return f"channel:{channel}"


def _request_key(channel: str, ts: str) -> str:
    return f"req:{channel}/{ts}"


def _seen_key(channel: str, chunk: int) -> str:
    return f"seen:{channel}/{chunk}"


@dataclass
class _Scan:
    """A history scan of one channel's window, possibly spread over several polls.

    ``seen`` (the requests the scan met, to tell deleted ones when it completes) grows with the
    window, so it is not part of the channel's cursor value: each batch stores only the ts it
    added (``fresh``) as one more chunk, ``seen:<channel>/<n>`` for ``n`` in 1..``chunks``.
    """

    oldest: str
    start: str
    next: str = ""
    pages: int = 0
    chunks: int = 0
    # Filled through add_seen only, so the list and the set always agree.
    seen: list[str] = field(default_factory=list, init=False)
    fresh: list[str] = field(default_factory=list, init=False)
    _seen_set: set[str] = field(default_factory=set, init=False, repr=False)

    def add_seen(self, stamps: Iterable[str]) -> None:
        """Record request ts met by the scan (new ones also go to ``fresh``)."""
        for ts in stamps:
            if ts not in self._seen_set:
                self._seen_set.add(ts)
                self.seen.append(ts)
                self.fresh.append(ts)

    def has_seen(self, ts: str) -> bool:
        """Whether the scan met this request."""
        return ts in self._seen_set

    def dump(self) -> dict[str, Any]:
        return {"oldest": self.oldest, "start": self.start, "next": self.next,
                "pages": self.pages, "chunks": self.chunks}

    @classmethod
    def load(cls, value: Any, channel: str, cursors: Mapping[str, Any]) -> _Scan | None:
        if not isinstance(value, dict) or not isinstance(value.get("oldest"), str):
            return None
        scan = cls(
            oldest=value["oldest"],
            start=str(value.get("start") or value["oldest"]),
            next=str(value.get("next") or ""),
            pages=int(value.get("pages") or 0),
        )
        legacy = value.get("seen")
        if isinstance(legacy, list):
            # The whole list inside the channel value (the layout before chunks): it stays
            # ``fresh``, so the next batch stores it as this scan's first chunk.
            scan.add_seen(s for s in legacy if isinstance(s, str))
            return scan
        chunks = _int(value.get("chunks"))
        for n in range(1, chunks + 1):
            part = cursors.get(_seen_key(channel, n))
            if not isinstance(part, list):
                # Without every chunk a request the scan met would look deleted: start over.
                return None
            scan.add_seen(s for s in part if isinstance(s, str))
        scan.fresh.clear()
        scan.chunks = chunks
        return scan


class _Requests(Mapping[str, dict[str, Any]]):
    """A channel's known requests, ts → cursor entry, remembering which changed since the last batch.

    An entry is a small dict that is replaced (:meth:`put`), never mutated, so batches that
    carry it can share it.
    """

    def __init__(self, entries: dict[str, dict[str, Any]] | None = None) -> None:
        self._entries: dict[str, dict[str, Any]] = entries if entries is not None else {}
        self._changed: dict[str, None] = {}

    def __getitem__(self, ts: str) -> dict[str, Any]:
        return self._entries[ts]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, ts: object) -> bool:
        return ts in self._entries

    def put(self, ts: str, entry: dict[str, Any]) -> None:
        """Set a request's entry (a no-op, nothing to store, when it is unchanged)."""
        if self._entries.get(ts) != entry:
            self._entries[ts] = entry
            self._changed[ts] = None

    def drop(self, ts: str) -> None:
        """Forget a request (its cursor key is deleted with the next batch)."""
        if self._entries.pop(ts, None) is not None:
            self._changed[ts] = None

    def mark_changed(self, stamps: Iterable[str]) -> None:
        """Store these entries with the next batch although they did not change (migration)."""
        self._changed.update((ts, None) for ts in stamps if ts in self._entries)

    def take_changes(self) -> dict[str, dict[str, Any] | None]:
        """The entries changed since the last call (None: forgotten), and start over."""
        changes = {ts: self._entries.get(ts) for ts in self._changed}
        self._changed.clear()
        return changes


@dataclass
class _Channel:
    """Cursor state of one channel, spread over cursor keys so a batch stores only what it changed.

    * ``channel:<C>``: the channel-level state, small and stored with every batch: ``scan``
      (position of the history scan in progress, see :class:`_Scan`), ``synced`` (start of the
      last complete scan), ``pending`` (threads to read first on the next poll) and
      ``unlinked`` (linked messages found gone, so they are not asked for again; absent when
      none).
    * ``req:<C>/<ts>``: one per known request (``requests``), stored when it changes and
      deleted (a JSON ``null`` in the batch) when the request is forgotten: ``e`` edited ts,
      ``lr`` latest_reply, ``rc`` reply_count, ``r`` reply ts → idqueue action ("" for plain
      replies), ``l`` GitHub ids from the thread, ``h`` item digest, ``th`` thread digest,
      ``c`` when the thread was last checked (epoch s), ``u`` user ids shown as "unknown user"
      because ``users.info`` failed transiently (absent when none).
    * ``seen:<C>/<n>``: the scan's ``seen`` chunks, deleted when the scan completes.

    Before this layout every entry lived under ``requests`` in ``channel:<C>`` (and the scan
    held its whole ``seen`` list), rewritten whole by every batch: a cost that grew with the
    channel. Such a value is split on the next poll: its first batch stores every entry under
    its own key and the channel value without them, in the same transaction.
    """

    channel: str
    requests: _Requests = field(default_factory=_Requests)
    scan: _Scan | None = None
    synced: str | None = None
    pending: list[str] = field(default_factory=list)
    unlinked: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # cursor keys to delete with the next batch

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "scan": self.scan.dump() if self.scan else None,
            "synced": self.synced,
            "pending": list(self.pending),
        }
        if self.unlinked:
            out["unlinked"] = list(self.unlinked)
        return out

    def retire_scan(self) -> None:
        """The scan is complete: forget it; its ``seen`` chunks go with the next batch."""
        if self.scan is not None:
            self.stale.extend(_seen_key(self.channel, n) for n in range(1, self.scan.chunks + 1))
        self.scan = None

    def cursor_changes(self) -> dict[str, Any]:
        """The cursor values to store with the next batch (None deletes a key).

        The channel value, the entries changed since the last batch, the scan's new ``seen``
        chunk and deletions of keys no longer used. Deletions come first so that a key deleted
        and written again (a new scan's first chunk) ends up written.
        """
        out: dict[str, Any] = dict.fromkeys(self.stale)
        self.stale.clear()
        scan = self.scan
        if scan is not None and scan.fresh:
            scan.chunks += 1
            out[_seen_key(self.channel, scan.chunks)] = list(scan.fresh)
            scan.fresh.clear()
        for ts, entry in self.requests.take_changes().items():
            out[_request_key(self.channel, ts)] = entry
        out[_channel_key(self.channel)] = self.dump()
        return out

    @classmethod
    def load(cls, channel: str, cursors: Mapping[str, Any]) -> _Channel:
        """The channel's state from all of the source's cursors (either layout)."""
        value = cursors.get(_channel_key(channel))
        value = value if isinstance(value, dict) else {}
        state = cls(channel)
        req_prefix, seen_prefix = _request_key(channel, ""), f"seen:{channel}/"
        entries: dict[str, dict[str, Any]] = {}
        seen_keys: list[str] = []
        for key, entry in cursors.items():
            if key.startswith(req_prefix):
                if isinstance(entry, dict):
                    entries[key[len(req_prefix):]] = entry
                else:
                    state.stale.append(key)
            elif key.startswith(seen_prefix):
                seen_keys.append(key)
        legacy = value.get("requests")
        legacy_entries = (
            {k: v for k, v in legacy.items() if isinstance(k, str) and isinstance(v, dict)}
            if isinstance(legacy, dict) else {}
        )
        entries.update(legacy_entries)
        state.requests = _Requests(entries)
        state.requests.mark_changed(legacy_entries)
        state.scan = _Scan.load(value.get("scan"), channel, cursors)
        in_use = {_seen_key(channel, n) for n in range(1, state.scan.chunks + 1)} if state.scan else set()
        state.stale.extend(k for k in seen_keys if k not in in_use)
        synced = value.get("synced")
        pending = value.get("pending")
        state.synced = synced if isinstance(synced, str) else None
        state.pending = [p for p in pending if isinstance(p, str)] if isinstance(pending, list) else []
        unlinked = value.get("unlinked")
        state.unlinked = [u for u in unlinked if isinstance(u, str)] if isinstance(unlinked, list) else []
        return state


@dataclass
class _Thread:
    parent: dict[str, Any] | None
    replies: list[dict[str, Any]]
    missing: bool = False  # thread_not_found: the parent is gone


@dataclass
class _ThreadChanges:
    """What reading one request's thread produced, and the request's new cursor entry."""

    items: list[SourceItem]
    events: list[TimelineEvent]
    gone: list[str]
    entry: dict[str, Any]


def _add_thread(batch: Batch, channel: str, state: _Channel, ts: str, changes: _ThreadChanges | None) -> None:
    """Put one thread read into ``batch`` and move the request's cursor entry on.

    ``changes`` is None when the request is gone at the source: it is retired.
    """
    if changes is None:
        batch.deleted_items.append(slack_id(channel, ts))
        state.requests.drop(ts)
        return
    batch.items.extend(changes.items)
    batch.events.extend(changes.events)
    batch.deleted_events.extend(changes.gone)
    state.requests.put(ts, changes.entry)


# How much more often an urgent open thread is re-checked than a quiet one when the budget
# cannot cover them all: a thread's claim is (seconds since its last check) × this weight.
URGENCY_WEIGHTS = (32, 16, 8, 4, 2, 1)


@dataclass
class _ThreadPlan:
    """One poll's thread work, from the store's :class:`PollHints`, per channel.

    Attributes:
        hinted: False when no hints were given (the source was not prepared by a sync engine):
            then nothing is known to be open and the sweep rotates over every known request.
        open: ``(channel, ts)`` of the open requests, most urgent first.
        urgency: ``(channel, ts)`` → urgency class (0 most urgent).
        linked: channel → ts of messages an open request links to that were never fetched.
        read_first: channel → ts of threads a push event said changed.
        budget: ``conversations.replies`` calls this poll may spend.
    """

    hinted: bool = False
    open: list[tuple[str, str]] = field(default_factory=list)
    urgency: dict[tuple[str, str], int] = field(default_factory=dict)
    linked: dict[str, list[str]] = field(default_factory=dict)
    read_first: dict[str, list[str]] = field(default_factory=dict)
    budget: int = 0

    @classmethod
    def build(cls, hints: PollHints | None, channels: Iterable[str], budget: int) -> _ThreadPlan:
        """The plan for the configured ``channels`` (ids of other channels are ignored)."""
        plan = cls(hinted=hints is not None, budget=budget)
        if hints is None:
            return plan
        wanted = set(channels)

        def split(item_id: str) -> tuple[str, str] | None:
            try:
                channel, ts = parse_slack_id(item_id)
            except ValueError:
                return None
            return (channel, ts) if channel in wanted and _TS_RE.match(ts) else None

        for item_id in hints.open_items:
            key = split(item_id)
            if key is not None:
                plan.open.append(key)
                plan.urgency[key] = hints.urgency.get(item_id, len(URGENCY_WEIGHTS) - 1)
        for target, ids in ((plan.linked, hints.linked), (plan.read_first, hints.read_first)):
            for item_id in ids:
                key = split(item_id)
                if key is not None:
                    target.setdefault(key[0], []).append(key[1])
        return plan

    def open_in(self, channel: str) -> set[str]:
        """The ts of a channel's open requests."""
        return {ts for ch, ts in self.open if ch == channel}


# --------------------------------------------------------------------------- the source


class SlackSource(Source):
    """Polls Slack intake channels (see the module docstring for the algorithm).

    Args:
        settings: configuration (``settings.slack`` and the roster).
        client: a ``slack_sdk.WebClient``; built from settings when omitted. Its SDK retry
            handlers are replaced by this class's own bounded retries.
        clock: the current time (injected for tests; defaults to ``IDQUEUE_NOW`` or UTC now).
        sleep: how to wait before a retry (injected for tests).
        max_wait: longest wait (seconds) honoured in place; longer ones raise
            :class:`RateLimited`.
        timeout: HTTP timeout (seconds, fractions kept) of the client built here.
        sweep_per_poll: threads of requests that are not open (closed, backlogged) re-read
            per poll in rotation, within what is left of the thread budget (0 disables it).
    """

    kind = SourceKind.SLACK
    can_write = True
    wants_hints = True

    def __init__(
        self,
        settings: Settings,
        *,
        client: Any | None = None,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 60.0,
        timeout: float = 20.0,
        sweep_per_poll: int = 5,
        name: str = "slack",
    ) -> None:
        self.settings = settings
        self.name = name
        if clock is None:
            from idqueue.clock import clock_for

            clock = clock_for(settings)
        self._clock = clock
        self._sleep = sleep
        self.max_wait = max_wait
        self.sweep_per_poll = sweep_per_poll
        if client is None:
            from idqueue.sources.slack_client import LenientWebClient

            token = settings.slack.token.get_secret_value() if settings.slack.token else None
            client = LenientWebClient(token=token, base_url=settings.slack.base_url)
            # WebClient annotates ``timeout`` as int but hands it unchanged to urllib's
            # ``urlopen``, which takes float seconds: keep a fractional timeout as given.
            client.timeout = max(0.001, float(timeout))  # type: ignore[assignment]
        # We retry ourselves (bounded, injected sleep); the SDK's handlers would sleep real time.
        client.retry_handlers = []
        self._client = client
        self._auth: dict[str, Any] | None = None
        self._stats = FetchStats()
        self._users: dict[str, Person] = {}
        self._users_dirty = False
        self._users_transient: set[str] = set()
        self._users_down = False
        self._limited = False
        self.last_headers: dict[str, Any] = {}
        """Headers of the last successful answer (``x-oauth-scopes`` for ``idqueue doctor``)."""
        self._hints: PollHints | None = None
        self._plan = _ThreadPlan()
        self._replies_calls = 0

    def prepare(self, hints: PollHints) -> None:
        """Take the store's hints for the next fetch: open requests by urgency, links, push events."""
        self._hints = hints

    def thread_budget(self) -> int:
        """``conversations.replies`` calls one poll may spend (``slack.thread_checks_per_minute``
        scaled by ``ui.poll_interval``; at least one)."""
        per_minute = self.settings.slack.thread_checks_per_minute
        return max(1, int(per_minute * self.settings.ui.poll_interval / 60.0))

    def _budget_left(self) -> int:
        return max(0, self._plan.budget - self._replies_calls)

    # ------------------------------------------------------------------ HTTP
    def _call(self, method: str, *, wait: bool = True, **params: Any) -> dict[str, Any]:
        """Call a Web API method with bounded retries; return the response body.

        Raises:
            SourceError: mapped from the failure (see the module docstring).
        """
        from slack_sdk.errors import SlackApiError, SlackClientError

        rate_tries = 0
        transient_tries = 0
        params = {k: v for k, v in params.items() if v is not None}
        while True:
            self._stats.requests += 1
            try:
                response = self._client.api_call(method, http_verb="GET", params=params)
                data = response.data
                if not isinstance(data, dict):
                    raise BadPayload(f"Slack {method} answered something that is not JSON", source=self.name)
                self._note_replacements(method, data)
                self.last_headers = dict(getattr(response, "headers", None) or {})
                return data
            except SlackApiError as exc:
                resp = exc.response
                status = int(getattr(resp, "status_code", 0) or 0)
                data = getattr(resp, "data", None)
                error = str(data.get("error") or "") if isinstance(data, dict) else ""
                headers = getattr(resp, "headers", None) or {}
                if status == 429 or error == "ratelimited":
                    delay = _retry_after(headers, fallback=float(2 ** rate_tries))
                    self._limited = True
                    if wait and delay <= self.max_wait and rate_tries < MAX_RATE_RETRIES:
                        rate_tries += 1
                        self._sleep(delay)
                        continue
                    until = self._clock() + timedelta(seconds=delay)
                    raise RateLimited(
                        f"Slack rate limit on {method}; retry after {int(delay)} s",
                        until=until, source=self.name,
                    ) from None
                non_json = error.startswith(NON_JSON_PREFIX) or not isinstance(data, dict)
                if status in (401, 403) and (non_json or not error):
                    # A proxy or gateway refusing the token answers without Slack's JSON.
                    raise AuthError(f"Slack refused the token on {method} (HTTP {status})",
                                    source=self.name) from None
                if status >= 500 or (status and status != 200 and non_json):
                    if self._backoff(transient_tries):
                        transient_tries += 1
                        continue
                    raise Unavailable(f"Slack {method} failed with HTTP {status}", source=self.name) from None
                if non_json:
                    raise BadPayload(f"Slack {method} answered malformed JSON", source=self.name,
                                     detail=redact(error[:200])) from None
                raise _map_error(method, error, self.name, params) from None
            except SlackClientError as exc:
                raise Unavailable(f"Slack {method} failed: {redact(str(exc))[:200]}", source=self.name) from None
            except json.JSONDecodeError:
                raise BadPayload(f"Slack {method} answered malformed JSON", source=self.name) from None
            except (OSError, http.client.HTTPException) as exc:
                if self._backoff(transient_tries):
                    transient_tries += 1
                    continue
                what = "timed out" if isinstance(exc, TimeoutError) or "timed out" in str(exc) else "unreachable"
                raise Unavailable(
                    f"Slack {method} {what} ({type(exc).__name__})", source=self.name,
                    detail=redact(str(exc))[:300],
                ) from None

    def _backoff(self, tries: int) -> bool:
        """Sleep before transient retry number ``tries`` (1, 2, 4 s …); False when out of tries."""
        if tries >= MAX_TRANSIENT_RETRIES:
            return False
        self._sleep(min(float(2 ** tries), max(1.0, self.max_wait)))
        return True

    # ------------------------------------------------------------------ identity
    def _ensure_auth(self) -> dict[str, Any]:
        if self._auth is None:
            data = self._call("auth.test")
            self._auth = {
                "user_id": data.get("user_id"),
                "bot_id": data.get("bot_id"),
                "url": data.get("url"),
                "team": data.get("team"),
                "user": data.get("user"),
            }
        return self._auth

    def _context(self) -> SlackContext:
        auth = self._ensure_auth()
        ctx = SlackContext.from_settings(
            self.settings,
            workspace_url=auth.get("url") if isinstance(auth.get("url"), str) else None,
            own_ids=[str(auth[k]) for k in ("user_id", "bot_id") if auth.get(k)],
        )
        ctx.users = self._users
        return ctx

    def _resolve_users(self, user_ids: Iterable[str]) -> None:
        """Resolve user ids through ``users.info`` (cached); never fails the poll."""
        for uid in user_ids:
            if not uid or uid in self._users:
                continue
            if self._users_down:
                # users.info already failed in this poll: do not spend retries and backoff on
                # every other id; they are shown as ids and looked up again next poll.
                self._users[uid] = Person(uid, unknown_user_name(uid))
                self._users_transient.add(uid)
                continue
            try:
                data = self._call("users.info", user=uid)
            except NotFound:
                self._users[uid] = Person(uid, unknown_user_name(uid))
                self._users_dirty = True
                continue
            except (RateLimited, Unavailable, BadPayload, AuthError):
                # Show the id for now (not kept in the cursor) and try again next poll; the
                # requests that show it remember it (``u``) and are re-sent once it resolves.
                self._users[uid] = Person(uid, unknown_user_name(uid))
                self._users_transient.add(uid)
                self._users_down = True
                continue
            user = data.get("user")
            if not isinstance(user, dict):
                self._users[uid] = Person(uid, unknown_user_name(uid))
                continue
            profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
            assert isinstance(profile, dict)
            # The full name reads best in a queue and matches the roster's names; the chosen
            # display name (often a handle) is the fallback.
            name = (
                profile.get("real_name") or user.get("real_name") or profile.get("display_name")
                or user.get("name") or unknown_user_name(uid)
            )
            self._users[uid] = Person(uid, str(name), is_bot=bool(user.get("is_bot")))
            self._users_dirty = True

    def _users_for(self, messages: Iterable[Mapping[str, Any]], ctx: SlackContext) -> list[str]:
        """Resolve the names the messages show; return those user ids (in order, unique)."""
        wanted: list[str] = []
        for m in messages:
            wanted.extend(_message_user_ids(m, ctx))
        unique = list(dict.fromkeys(wanted))
        self._resolve_users(unique)
        return unique

    # ------------------------------------------------------------------ fetch
    def fetch(self, cursors: dict[str, Any]) -> Iterator[Batch]:
        """Yield one batch per history page / group of thread reads, for every channel.

        Per channel: threads left over from the last poll, threads a push event named, the
        history scan, threads an open request links to that were never read, names to re-read.
        Then, over all channels, the open requests' threads most urgent first within the thread
        budget (the last batch's stats say how many were due, checked and skipped), and the
        rotation over the other known threads with what is left.

        A channel that is gone or that the bot is not in raises :class:`NotFound` *after* the
        other channels were polled. Rate limits, auth and availability errors stop the poll
        (batches already yielded stay valid).
        """
        self._stats = FetchStats()
        self._limited = False
        self._replies_calls = 0
        hints, self._hints = self._hints, None  # hints are good for one poll
        self._plan = _ThreadPlan.build(hints, self.settings.slack.channels, self.thread_budget())
        for uid in self._users_transient:
            self._users.pop(uid, None)
        self._users_transient.clear()
        self._users_down = False
        users = cursors.get("users")
        if isinstance(users, dict):
            for uid, value in users.items():
                if uid not in self._users and isinstance(value, list) and len(value) == 2:
                    self._users[uid] = Person(uid, str(value[0]), is_bot=bool(value[1]))
        self._users_dirty = False
        ctx = self._context()
        missing: list[NotFound] = []
        polled: dict[str, tuple[_Channel, set[str]]] = {}
        for channel in self.settings.slack.channels:
            state = _Channel.load(channel, cursors)
            read_now: set[str] = set()
            try:
                yield from self._fetch_channel(channel, state, ctx, read_now)
            except NotFound as exc:
                missing.append(exc)
            else:
                polled[channel] = (state, read_now)
        yield from self._check_open_threads(polled, ctx)
        for channel, (state, read_now) in polled.items():
            yield from self._sweep(channel, state, ctx, read_now)
        if missing:
            if len(missing) == 1:
                raise missing[0]
            raise NotFound("; ".join(e.title for e in missing), source=self.name)

    def _batch(
        self, channel: str, state: _Channel, batch: Batch, *, progress: tuple[int, int | None] | None = None
    ) -> Batch:
        """Complete a batch: the channel's cursor changes, the users cache if it changed, the stats."""
        return self._batch_of([state], batch, progress=progress)

    def _batch_of(
        self, states: Iterable[_Channel], batch: Batch, *, progress: tuple[int, int | None] | None = None
    ) -> Batch:
        """Complete a batch that touched these channels (thread reads across channels)."""
        cursors: dict[str, Any] = {}
        for state in states:
            cursors.update(state.cursor_changes())
        if self._users_dirty:
            cursors["users"] = {
                uid: [p.name, p.is_bot] for uid, p in self._users.items() if uid not in self._users_transient
            }
            self._users_dirty = False
        stats, self._stats = self._stats, FetchStats()
        batch.cursors, batch.stats, batch.progress = cursors, stats, progress
        stats.fetched = len(batch.items) + len(batch.events)
        return batch

    def _fetch_channel(self, channel: str, state: _Channel, ctx: SlackContext, read_now: set[str]) -> Iterator[Batch]:
        # 1. Threads left over from a poll that was cut short.
        yield from self._read_pending(channel, state, ctx, read_now)
        # 2. Threads a push event (Socket Mode) named since the last poll: read at once.
        yield from self._read_first(channel, state, ctx, read_now)
        # 3. The history scan: a scan resumed from an earlier poll is finished first, then a
        #    fresh one reads the current window (so a resumed poll still sees new messages).
        resumed = state.scan is not None
        if state.scan is None:
            state.scan = self._new_scan(state)
        yield from self._scan(channel, state, ctx, read_now)
        if resumed:
            state.scan = self._new_scan(state)
            yield from self._scan(channel, state, ctx, read_now)
        # 4. Messages an open request's other home links to that the scan never met.
        yield from self._read_linked(channel, state, ctx, read_now)
        # 5. Requests still showing names that an earlier users.info failure left unresolved.
        yield from self._reread_names(channel, state, ctx, read_now)

    def _read_first(self, channel: str, state: _Channel, ctx: SlackContext, read_now: set[str]) -> Iterator[Batch]:
        """Read the threads a push event named (known or open requests only), before the scan."""
        open_here = self._plan.open_in(channel)
        candidates = [
            ts for ts in dict.fromkeys(self._plan.read_first.get(channel, ()))
            if ts not in read_now and (ts in state.requests or ts in open_here)
        ]
        if candidates:
            yield from self._best_effort_reads(channel, state, ctx, read_now, candidates)

    def _read_linked(self, channel: str, state: _Channel, ctx: SlackContext, read_now: set[str]) -> Iterator[Batch]:
        """Read messages an open request links to (a Slack permalink in a GitHub issue) that the
        history scan never met, typically because they are older than ``history_days``.

        Each is one ``conversations.replies`` call within the thread budget; it then is a known
        request like any other. A link to a message that is gone is remembered so it costs no
        call on later polls.
        """
        candidates = [
            ts for ts in dict.fromkeys(self._plan.linked.get(channel, ()))
            if ts not in state.requests and ts not in read_now and ts not in state.unlinked
        ][: self._budget_left()]
        if not candidates:
            return
        batch = Batch()
        for ts in candidates:
            try:
                changes = self._read_thread_changes(channel, ts, None, ctx, wait=False)
            except (RateLimited, Unavailable, BadPayload):
                break  # best effort: the store still lacks it, so the next poll asks again
            read_now.add(ts)
            if changes is None:
                state.unlinked = [*state.unlinked, ts][-MAX_OLD_REQUESTS:]
                continue
            _add_thread(batch, channel, state, ts, changes)
        yield self._batch(channel, state, batch)

    def _check_open_threads(self, polled: dict[str, tuple[_Channel, set[str]]], ctx: SlackContext) -> Iterator[Batch]:
        """Re-check every open request's thread, most urgent first, within the thread budget.

        A poller gets no word of a reply under a parent older than the lookback window, nor of
        such a parent's deletion; this is how both reach the queue on the next poll. When the
        budget cannot cover them all, the ones with the strongest claim go first (seconds since
        their last check × :data:`URGENCY_WEIGHTS` of their class), so urgent threads are
        checked often and none is starved; the last batch's stats say how many were skipped.
        """
        plan = self._plan
        if not plan.hinted:
            return
        due = [(ch, ts) for ch, ts in plan.open if ch in polled]
        now = self._clock().timestamp()
        rank = {key: n for n, key in enumerate(due)}

        def claim(key: tuple[str, str]) -> tuple[float, int]:
            entry = polled[key[0]][0].requests.get(key[1]) or {}
            since = max(0.0, now - float(_int(entry.get("c"))))
            weight = URGENCY_WEIGHTS[min(plan.urgency.get(key, 5), len(URGENCY_WEIGHTS) - 1)]
            return (-since * weight, rank[key])

        todo = sorted((key for key in due if key[1] not in polled[key[0]][1]), key=claim)
        batch = Batch()
        touched: dict[str, _Channel] = {}
        reads = 0
        for ch, ts in todo:
            if self._budget_left() <= 0 or self._limited:
                break
            state, read_now = polled[ch]
            try:
                changes = self._read_thread_changes(ch, ts, state.requests.get(ts), ctx, wait=False)
            except (RateLimited, Unavailable):
                break  # counted as skipped; the next poll starts with the strongest claims again
            except BadPayload:
                continue  # counted as skipped; its claim grows until it is tried again
            read_now.add(ts)
            _add_thread(batch, ch, state, ts, changes)
            touched[ch] = state
            reads += 1
            if reads % THREAD_BATCH == 0:
                yield self._batch_of(touched.values(), batch)
                batch, touched = Batch(), {}
        checked = sum(1 for ch, ts in due if ts in polled[ch][1])
        batch = self._batch_of(touched.values(), batch)
        batch.stats.threads_due, batch.stats.threads_checked = len(due), checked
        batch.stats.thread_budget = plan.budget
        yield batch

    def _reread_names(self, channel: str, state: _Channel, ctx: SlackContext, read_now: set[str]) -> Iterator[Batch]:
        """Re-read requests whose unresolved user ids now resolve, so they are re-sent.

        Items are re-sent only when their digest changes, and nothing else re-reads a request
        outside the lookback window or a thread that did not change, so without this a name
        that ``users.info`` failed to resolve once would stay "unknown user (U…)" for good.
        Bounded (``NAME_LOOKUPS_PER_POLL`` look-ups, ``NAME_REREADS_PER_POLL`` thread reads) and
        best effort after the scan, like the sweep: a rate limit here never holds up new
        messages; the rest is re-read on later polls.
        """
        waiting = {ts: _unresolved_ids(entry) for ts, entry in state.requests.items() if ts not in read_now}
        waiting = {ts: uids for ts, uids in waiting.items() if uids}
        if not waiting:
            return
        uids = list(dict.fromkeys(uid for ids in waiting.values() for uid in ids))
        self._resolve_users([uid for uid in uids if uid not in self._users][:NAME_LOOKUPS_PER_POLL])
        resolved = {uid for uid in uids if uid in self._users and uid not in self._users_transient}
        # Newest first: those are the requests most likely still being worked on.
        candidates = [
            ts for ts in sorted(waiting, key=_ts_key, reverse=True)
            if resolved.intersection(waiting[ts])
        ][:NAME_REREADS_PER_POLL]
        yield from self._best_effort_reads(channel, state, ctx, read_now, candidates)

    def _new_scan(self, state: _Channel) -> _Scan:
        now = self._clock()
        horizon = now - timedelta(days=self.settings.slack.history_days)
        if state.synced is None:
            oldest = horizon
        else:
            # Re-read the lookback window, or further back when the last complete scan is older
            # (idqueue was not running): nothing between two scans may fall through the gap.
            last = ts_to_datetime(state.synced) - timedelta(minutes=5)
            oldest = min(now - timedelta(hours=self.settings.slack.lookback_hours), last)
        oldest = max(oldest, horizon)
        return _Scan(oldest=datetime_to_ts(oldest), start=datetime_to_ts(now))

    def _history_page(self, channel: str, scan: _Scan) -> dict[str, Any]:
        try:
            return self._call(
                "conversations.history", channel=channel, oldest=scan.oldest,
                limit=self.settings.slack.page_limit, cursor=scan.next or None,
                include_all_metadata=True,
            )
        except SourceError as exc:
            if scan.next and "invalid_cursor" in exc.title:
                # A stored pagination cursor Slack no longer accepts: restart the scan's pages.
                scan.next = ""
                return self._history_page(channel, scan)
            raise

    def _scan(self, channel: str, state: _Channel, ctx: SlackContext, read_now: set[str]) -> Iterator[Batch]:
        scan = state.scan
        assert scan is not None
        while True:
            data = self._history_page(channel, scan)
            messages = data.get("messages")
            if not isinstance(messages, list):
                raise BadPayload(f"Slack conversations.history for {channel} has no message list",
                                 source=self.name)
            meta = data.get("response_metadata")
            next_cursor = meta.get("next_cursor") if isinstance(meta, dict) else None
            next_cursor = next_cursor if isinstance(next_cursor, str) else ""
            if next_cursor and next_cursor == scan.next:
                raise BadPayload(f"Slack conversations.history for {channel} repeats its cursor",
                                 source=self.name)
            batch, error = self._process_page(
                channel, [m for m in messages if isinstance(m, dict)], state, ctx, read_now
            )
            scan.next = next_cursor
            scan.pages += 1
            done = not next_cursor
            if done:
                batch.deleted_items.extend(self._finish_scan(channel, state))
            yield self._batch(channel, state, batch, progress=(scan.pages, None))
            if error is not None:
                raise error
            if done:
                return

    def _finish_scan(self, channel: str, state: _Channel) -> list[str]:
        """The window was read completely: retire vanished requests, prune old ones."""
        scan = state.scan
        assert scan is not None
        oldest = _ts_key(scan.oldest)
        deleted = [ts for ts in state.requests if _ts_key(ts) > oldest and not scan.has_seen(ts)]
        horizon = _ts_key(datetime_to_ts(self._clock() - timedelta(days=self.settings.slack.history_days)))
        for ts in deleted:
            state.requests.drop(ts)
        self._prune_old(state, horizon, keep=self._plan.open_in(channel))
        state.pending = [p for p in state.pending if p in state.requests]
        state.synced = scan.start
        state.retire_scan()
        return [slack_id(channel, ts) for ts in deleted]

    @staticmethod
    def _prune_old(state: _Channel, horizon: Decimal, *, keep: set[str] | None = None) -> None:
        """Drop requests older than the history window that no longer need watching.

        The history scan never reads before the window, so a kept old request is only seen
        through the sweep: that is how a long-open request still gets its thread replies.
        Kept: those whose thread was active within the window, or that no idqueue action in
        their thread closed or moved to the backlog (the source cannot see the status that
        GitHub or a reaction gives, so "not closed here" counts as open). Bounded by
        ``MAX_OLD_REQUESTS``, the most recently active first. Requests the store knows are open
        (``keep``) always stay: their threads are re-checked every poll.
        """
        keep = keep or set()
        old = [ts for ts in state.requests if _ts_key(ts) < horizon and ts not in keep]
        if not old:
            return
        kept_old = sorted(
            (ts for ts in old
             if _last_activity(ts, state.requests[ts]) >= horizon or not _closed_in_thread(state.requests[ts])),
            key=lambda ts: (_last_activity(ts, state.requests[ts]), _ts_key(ts)),
            reverse=True,
        )[:MAX_OLD_REQUESTS]
        kept = set(kept_old)
        for ts in old:
            if ts not in kept:
                state.requests.drop(ts)

    def _process_page(
        self,
        channel: str,
        messages: list[dict[str, Any]],
        state: _Channel,
        ctx: SlackContext,
        read_now: set[str],
    ) -> tuple[Batch, SourceError | None]:
        scan = state.scan
        assert scan is not None
        requests: list[dict[str, Any]] = []
        refresh: set[str] = set()
        for m in messages:
            ts = m.get("ts")
            if not isinstance(ts, str) or not _TS_RE.match(ts):
                continue  # lenient: a message without a usable id cannot be tracked
            thread_ts = m.get("thread_ts")
            if isinstance(thread_ts, str) and thread_ts != ts:
                # A thread_broadcast: stored once, as a reply of its parent.
                if thread_ts in state.requests:
                    refresh.add(thread_ts)
                continue
            if m.get("subtype") == "tombstone":
                continue  # a deleted parent that still has replies: absent → retired
            if ts in state.requests or is_request(m, ctx):
                requests.append(m)
        self._users_for(requests, ctx)
        scan.add_seen(m["ts"] for m in requests)

        batch = Batch()
        error: SourceError | None = None
        for m in requests:
            ts = m["ts"]
            entry = state.requests.get(ts)
            rc = _int(m.get("reply_count"))
            lr = _str(m.get("latest_reply"))
            edited = m.get("edited")
            e_ts = _str(edited.get("ts")) if isinstance(edited, dict) else None
            thread_changed = (
                ts in refresh
                or (entry is None and rc > 0)
                or (entry is not None and (entry.get("lr") != lr or entry.get("rc") != rc))
            )
            if thread_changed and error is None and ts not in read_now:
                try:
                    changes = self._read_thread_changes(channel, ts, entry, ctx, fallback=m)
                except SourceError as exc:
                    # Keep what this page read; the thread is read first thing next poll.
                    error = exc
                else:
                    read_now.add(ts)
                    _add_thread(batch, channel, state, ts, changes)
                    continue
            if thread_changed and ts not in read_now and ts not in state.pending:
                state.pending.append(ts)
            new_entry = dict(entry) if entry else {"rc": 0, "lr": None, "r": {}, "l": [], "c": 0}
            if entry is None:
                new_entry["c"] = int(self._clock().timestamp())
            new_entry["e"] = e_ts
            # Only the parent was converted here: keep what the thread's replies still need.
            unresolved = list(dict.fromkeys([
                *_unresolved_ids(new_entry),
                *(uid for uid in _message_user_ids(m, ctx) if uid in self._users_transient),
            ]))
            if unresolved:
                new_entry["u"] = unresolved
            else:
                new_entry.pop("u", None)
            item = message_to_item(channel, m, ctx, extra_links=new_entry.get("l") or [])
            digest = _item_digest(item)
            if digest != new_entry.get("h"):
                batch.items.append(item)
                new_entry["h"] = digest
            state.requests.put(ts, new_entry)
        return batch, error

    def _read_thread(self, channel: str, ts: str, *, wait: bool = True) -> _Thread:
        parent: dict[str, Any] | None = None
        replies: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            try:
                self._replies_calls += 1
                data = self._call(
                    "conversations.replies", wait=wait, channel=channel, ts=ts, cursor=cursor,
                    limit=self.settings.slack.page_limit, include_all_metadata=True,
                )
            except SourceError as exc:
                if "thread_not_found" in exc.title or "message_not_found" in exc.title:
                    return _Thread(None, [], missing=True)
                raise
            messages = data.get("messages")
            if not isinstance(messages, list):
                raise BadPayload(f"Slack conversations.replies for {channel} has no message list",
                                 source=self.name)
            for m in messages:
                if not isinstance(m, dict) or not isinstance(m.get("ts"), str):
                    continue
                if m["ts"] == ts:
                    parent = parent or m
                elif m.get("thread_ts") in (None, ts) and all(r["ts"] != m["ts"] for r in replies[-5:]):
                    replies.append(m)
            meta = data.get("response_metadata")
            nxt = meta.get("next_cursor") if isinstance(meta, dict) else None
            if not isinstance(nxt, str) or not nxt or nxt == cursor:
                break
            cursor = nxt
        if parent is not None and parent.get("subtype") == "tombstone":
            return _Thread(None, replies, missing=True)
        return _Thread(parent, replies)

    def _read_thread_changes(
        self,
        channel: str,
        ts: str,
        entry: dict[str, Any] | None,
        ctx: SlackContext,
        *,
        fallback: Mapping[str, Any] | None = None,
        wait: bool = True,
    ) -> _ThreadChanges | None:
        """Read a request's thread: the item (when it changed), events, deleted event uids.

        Returns None when the request message itself is gone.
        """
        thread = self._read_thread(channel, ts, wait=wait)
        if thread.missing:
            return None
        parent = thread.parent or (dict(fallback) if fallback is not None else None)
        if parent is None:
            return None
        shown = self._users_for([parent, *thread.replies], ctx)
        old = entry or {}
        old_r = old.get("r")
        old_replies: dict[str, str] = old_r if isinstance(old_r, dict) else {}
        events: list[TimelineEvent] = []
        replies_now: dict[str, str] = {}
        links: list[str] = []
        for reply in thread.replies:
            evs = reply_to_events(channel, ts, reply, ctx)
            if not evs:
                continue
            payload = idqueue_payload(reply)
            action = str(payload.get("action") or "") if payload else ""
            replies_now[str(reply["ts"])] = action if action in ACTION_KINDS else ""
            events.extend(evs)
            for link in evs[0].data.get("links", []):
                if link not in links:
                    links.append(link)
        gone: list[str] = []
        for reply_ts, action in old_replies.items():
            new_action = replies_now.get(reply_ts)
            if new_action is None:
                gone.extend(_event_uids(channel, reply_ts, action))
            elif action and new_action != action:
                gone.append(f"{slack_id(channel, reply_ts)}:{action}")
        thread_digest = _thread_digest(events)
        if thread_digest == old.get("th") and not gone:
            events = []  # nothing changed in the thread: do not rewrite its events
        item = message_to_item(channel, parent, ctx, extra_links=links)
        digest = _item_digest(item)
        rc = parent.get("reply_count") if isinstance(parent.get("reply_count"), int) else len(thread.replies)
        edited = parent.get("edited")
        new_entry = {
            "e": edited.get("ts") if isinstance(edited, dict) else None,
            "lr": parent.get("latest_reply") if isinstance(parent.get("latest_reply"), str) else None,
            "rc": rc,
            "r": replies_now,
            "l": links,
            "h": digest,
            "th": thread_digest,
            "c": int(self._clock().timestamp()),
        }
        # The thread was read whole: what is still unresolved is exactly this set.
        unresolved = [uid for uid in shown if uid in self._users_transient]
        if unresolved:
            new_entry["u"] = unresolved
        items = [item] if digest != old.get("h") else []
        return _ThreadChanges(items, events, gone, new_entry)

    def _read_pending(self, channel: str, state: _Channel, ctx: SlackContext, read_now: set[str]) -> Iterator[Batch]:
        while state.pending:
            chunk = list(state.pending[:THREAD_BATCH])
            batch = Batch()
            error: SourceError | None = None
            for ts in chunk:
                if ts not in state.requests:
                    state.pending.remove(ts)
                    continue
                try:
                    changes = self._read_thread_changes(channel, ts, state.requests.get(ts), ctx)
                except BadPayload:
                    # A thread Slack keeps answering garbage for must not block the channel:
                    # drop it here, the sweep tries it again later.
                    state.pending.remove(ts)
                    state.requests.put(ts, {**state.requests[ts], "c": 0})
                    continue
                except SourceError as exc:
                    error = exc
                    break
                state.pending.remove(ts)
                read_now.add(ts)
                _add_thread(batch, channel, state, ts, changes)
            if batch.items or batch.events or batch.deleted_items or batch.deleted_events or error is None:
                yield self._batch(channel, state, batch)
            if error is not None:
                raise error

    def _sweep(self, channel: str, state: _Channel, ctx: SlackContext, read_now: set[str]) -> Iterator[Batch]:
        """Re-read a few known threads in rotation, least recently checked first.

        With hints, only requests that are not open (closed, backlogged: late reactions such as
        CSAT ratings, reopening replies) and within what is left of the thread budget; open ones
        were checked by :meth:`_check_open_threads`.
        """
        if self.sweep_per_poll <= 0 or self._limited:
            return
        limit = self.sweep_per_poll
        skip: set[str] = set()
        if self._plan.hinted:
            limit = min(limit, self._budget_left())
            skip = self._plan.open_in(channel)
        if limit <= 0:
            return
        candidates = sorted(
            (ts for ts in state.requests if ts not in read_now and ts not in skip),
            key=lambda ts: (int(state.requests[ts].get("c") or 0), ts),
        )[:limit]
        yield from self._best_effort_reads(channel, state, ctx, read_now, candidates)

    def _best_effort_reads(
        self, channel: str, state: _Channel, ctx: SlackContext, read_now: set[str], candidates: list[str]
    ) -> Iterator[Batch]:
        """Read these threads without waiting out rate limits; stop at the first limit or outage."""
        if not candidates:
            return
        batch = Batch()
        for ts in candidates:
            try:
                changes = self._read_thread_changes(channel, ts, state.requests.get(ts), ctx, wait=False)
            except (RateLimited, Unavailable):
                break  # best effort: try again next poll
            except BadPayload:
                # Move it to the back of the sweep's rotation so one bad thread cannot stall it.
                state.requests.put(ts, {**state.requests[ts], "c": int(self._clock().timestamp())})
                continue
            read_now.add(ts)
            _add_thread(batch, channel, state, ts, changes)
        yield self._batch(channel, state, batch)

    def _note_replacements(self, method: str, data: dict[str, Any]) -> None:
        """Report bytes the client replaced because they were not UTF-8 (summary and log)."""
        take = getattr(self._client, "take_replacements", None)
        offsets = take() if take is not None else []
        if offsets:
            channel = data.get("channel") if isinstance(data.get("channel"), str) else None
            note = describe_replacements(f"Slack {method}{' ' + channel if channel else ''}", data, offsets)
            logging.getLogger(__name__).warning("%s", note)
            self._stats.notes.append(note)

    # ------------------------------------------------------------------ doctor
    def check(self) -> dict[str, Any]:
        """``auth.test`` and ``conversations.info`` per channel, for ``idqueue doctor``.

        Raises:
            SourceError: the token is bad, Slack is unreachable or rate limited.
        """
        self._auth = None
        auth = self._ensure_auth()
        scopes = next((str(v) for k, v in self.last_headers.items() if str(k).lower() == "x-oauth-scopes"), None)
        channels: dict[str, str] = {}
        for channel in self.settings.slack.channels:
            try:
                info = self._call("conversations.info", channel=channel).get("channel")
            except NotFound as exc:
                channels[channel] = f"error: {exc.title}"
                continue
            except Unavailable as exc:
                if "missing_scope" not in exc.title:
                    raise
                channels[channel] = "not checked (the token lacks channels:read)"
                continue
            if isinstance(info, dict):
                member = "member" if info.get("is_member") else "not a member"
                channels[channel] = f"#{info.get('name') or channel} ({member})"
            else:
                channels[channel] = "no channel info"
        facts: dict[str, Any] = {
            "team": auth.get("team"),
            "user": auth.get("user"),
            "user_id": auth.get("user_id"),
            "bot_id": auth.get("bot_id"),
            "workspace_url": self.settings.slack.workspace_url or auth.get("url"),
            "channels": channels,
            "scopes": None if scopes is None else [s.strip() for s in scopes.split(",") if s.strip()],
        }
        facts.update(self._form_bot_facts(channels))
        return facts

    def form_bots(self, channel: str) -> dict[str, str]:
        """Bots seen posting intake-form messages in the channel's latest history page.

        Returns ``bot_id`` → name for bots that are neither configured intake bots nor idqueue.
        Their form posts are requests already; listing them in ``slack.intake_bot_ids`` makes
        that explicit and keeps their non-form posts too.

        Raises:
            SourceError: the history could not be read.
        """
        ctx = self._context()
        data = self._call("conversations.history", channel=channel, limit=min(100, self.settings.slack.page_limit))
        found: dict[str, str] = {}
        for m in data.get("messages") or []:
            if not isinstance(m, dict) or not is_bot_post(m) or ctx.is_own(m) or ctx.is_intake_bot(m):
                continue
            bot = m.get("bot_id")
            if isinstance(bot, str) and bot and is_bot_form(m):
                found.setdefault(bot, _bot_name(m))
        return found

    def _form_bot_facts(self, channels: Mapping[str, str]) -> dict[str, str]:
        """``form bots`` per channel and a ``hint`` with the config line, for ``idqueue doctor``."""
        seen: dict[str, str] = {}
        lines: list[str] = []
        for channel, status in channels.items():
            if status.startswith("error"):
                continue
            try:
                bots = self.form_bots(channel)
            except SourceError as exc:
                lines.append(f"{channel}: not checked ({exc.title})")
                continue
            if bots:
                lines.append(f"{channel}: " + ", ".join(f"{name} ({bot})" for bot, name in bots.items()))
                seen.update(bots)
        if not lines:
            return {}
        facts = {"form bots": "; ".join(lines)}
        if seen:
            ids = json.dumps([*self.settings.slack.intake_bot_ids, *seen])
            facts["hint"] = (
                f"their form posts count already; to list them, set intake_bot_ids = {ids} in [slack] "
                f"(or IDQUEUE_SLACK__INTAKE_BOT_IDS='{ids}')"
            )
        return facts

    # ------------------------------------------------------------------ writes
    def apply(self, action: Any) -> Any:
        """Carry out a write (thread reply, reaction).

        Writes are added by the outbox issue (``idqueue/outbox/slack_writer.py``); the read
        source does not write.
        """
        raise NotImplementedError("Slack writes go through the outbox's Slack writer")

    def close(self) -> None:
        """Nothing to release: the WebClient holds no open connections between calls."""


def _retry_after(headers: Mapping[str, Any], *, fallback: float) -> float:
    """Seconds to wait from a ``Retry-After`` header: garbage, 0 or negative → at least 1 s."""
    value: Any = None
    for key, val in headers.items():
        if str(key).lower() == "retry-after":
            value = val[0] if isinstance(val, list) and val else val
            break
    if value is None:
        return max(1.0, fallback)
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return max(1.0, fallback)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
        return max(1.0, fallback)
    return max(1.0, seconds)


def _map_error(method: str, error: str, source: str, params: Mapping[str, Any]) -> SourceError:
    """Map a Slack ``ok:false`` error code to our error type (titles never carry tokens)."""
    code = redact(error)[:80] or "unknown_error"
    if error in AUTH_ERRORS:
        return AuthError(f"Slack refused the token ({code}) on {method}", source=source)
    if error in NOT_FOUND_ERRORS:
        channel = str(params.get("channel") or "")
        what = "is not in" if error == "not_in_channel" else "cannot find"
        return NotFound(f"Slack {what} channel {channel} ({code})", source=source)
    if error in ("thread_not_found", "message_not_found", "user_not_found"):
        return NotFound(f"Slack {method}: {code}", source=source)
    return Unavailable(f"Slack {method} failed: {code}", source=source)
