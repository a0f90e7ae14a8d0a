"""A loopback emulator of the Slack Web API (conversations, users, chat, reactions).

Every method lives at ``{url}<method>`` and accepts GET query parameters, form-encoded or JSON
POST bodies, and the token as ``Authorization: Bearer`` or a ``token`` parameter. Answers are
HTTP 200 with ``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``, except rate limits
(HTTP 429 + ``Retry-After`` + ``{"ok": false, "error": "ratelimited"}``), as the real API does
(``tests/specs/slack-web.openapi.json``).
"""

from __future__ import annotations

import base64
import json
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

from idqueue.integrations.loopback import EmulatorServer, Fault, Request, Response, as_clock
from idqueue.sandbox.socket_mode import SocketModeHub

SLACK_TOKEN = "xoxb-sandbox-0000000000-idqueue"
METHOD_SCOPES = {
    "conversations.history": "channels:history",
    "conversations.replies": "channels:history",
    "conversations.info": "channels:read",
    "conversations.list": "channels:read",
    "users.info": "users:read",
    "users.list": "users:read",
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "reactions.add": "reactions:write",
    "reactions.remove": "reactions:write",
    "reactions.get": "reactions:read",
}
"""The bot scope each emulated method needs (public channels)."""
FULL_SCOPES = ("channels:history", "channels:read", "chat:write", "reactions:read", "reactions:write", "users:read")
"""The sandbox bot's scopes: everything idqueue uses."""
"""The only token the sandbox Slack accepts."""

SLACK_APP_TOKEN = "xapp-sandbox-1-A0IDQUEUE1-0000000000-idqueue"
"""The only app-level token the sandbox accepts (``apps.connections.open``, Socket Mode)."""

TEAM_ID = "T0IDQUEUE"
TEAM_NAME = "idqueue sandbox"
APP_USER_ID = "U0IDQUEUE"
"""The user id of the idqueue app's bot user (the token's identity)."""
APP_BOT_ID = "B0IDQUEUE1"
APP_ID = "A0IDQUEUE1"

PROFILES = ("internal", "non_marketplace")
_THROTTLED_METHODS = ("conversations.history", "conversations.replies")


def ts_of(dt: datetime) -> str:
    """A Slack ``ts`` string (``"%d.%06d"``) for an instant."""
    micros = round(dt.timestamp() * 1_000_000)
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def ts_key(ts: str) -> tuple[int, int]:
    """Sort key of a ``ts`` string; never a float, which would lose identity."""
    sec, _, frac = ts.partition(".")
    return int(sec), int((frac + "000000")[:6])


def ts_time(ts: str) -> datetime:
    """The instant of a ``ts``."""
    sec, frac = ts_key(ts)
    return datetime.fromtimestamp(sec, UTC) + timedelta(microseconds=frac)


@dataclass(slots=True)
class SlackUser:
    """A workspace member (human or bot user)."""

    id: str
    name: str
    real_name: str
    is_bot: bool = False
    bot_id: str | None = None
    deleted: bool = False
    email: str | None = None
    title: str = ""
    tz: str = "America/New_York"


@dataclass(slots=True)
class SlackBot:
    """A bot (``bot_id``) and the app it belongs to."""

    id: str
    name: str
    user_id: str | None = None
    app_id: str = "A0INTAKE01"


@dataclass(slots=True)
class SlackMessage:
    """A channel message or thread reply."""

    channel: str
    ts: str
    text: str
    user: str | None = None
    bot_id: str | None = None
    username: str | None = None
    subtype: str | None = None
    thread_ts: str | None = None
    blocks: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    edited: dict[str, str] | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    replies: list[str] = field(default_factory=list)
    """ts of thread replies, oldest first (parents only)."""

    @property
    def is_reply(self) -> bool:
        """A thread reply (not the parent)."""
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass(slots=True)
class SlackChannel:
    """A public channel and its messages (ts → message)."""

    id: str
    name: str
    created: int
    topic: str = ""
    purpose: str = ""
    messages: dict[str, SlackMessage] = field(default_factory=dict)
    members: list[str] = field(default_factory=list)
    bot_member: bool = True
    """idqueue's bot is in the channel (``is_member``); when not, ``chat.postMessage`` answers
    ``not_in_channel``, as Slack does for a bot without ``chat:write.public``."""


class SlackState:
    """The Slack emulator's data, guarded by one re-entrant lock.

    Args:
        now: the clock.
        workspace_url: the web root of permalinks.
    """

    def __init__(
        self,
        *,
        now: Callable[[], datetime] | datetime | None = None,
        workspace_url: str = "https://idqueue-sandbox.slack.com/",
    ) -> None:
        self.lock = threading.RLock()
        self.now: Callable[[], datetime] = as_clock(now)
        self.workspace_url = workspace_url.rstrip("/") + "/"
        self.team_id = TEAM_ID
        self.team_name = TEAM_NAME
        self.users: dict[str, SlackUser] = {}
        self.bots: dict[str, SlackBot] = {}
        self.channels: dict[str, SlackChannel] = {}
        self._used: set[int] = set()
        self._last_live = 0
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self.add_user(APP_USER_ID, "idqueue", "idqueue", is_bot=True, bot_id=APP_BOT_ID)
        self.add_bot(APP_BOT_ID, "idqueue", user_id=APP_USER_ID, app_id=APP_ID)

    # -- change feed (Socket Mode) -------------------------------------------------------------

    def subscribe(self, listener: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``listener(event)`` with an Events API event after every change; returns an unsubscribe.

        Events are ``message`` (new message or thread reply), ``message`` with subtype
        ``message_changed`` / ``message_deleted``, ``reaction_added`` and ``reaction_removed``,
        shaped as Slack sends them. The listener runs under the state lock, so it must not block.
        """
        with self.lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self.lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _emit(self, event: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken subscriber must not undo or fail the change itself
                continue

    # -- directory ----------------------------------------------------------------------------

    def add_user(self, user_id: str, name: str, real_name: str | None = None, *, is_bot: bool = False,
                 bot_id: str | None = None, email: str | None = None, title: str = "",
                 deleted: bool = False) -> SlackUser:
        """Add (or replace) a member."""
        with self.lock:
            user = SlackUser(id=user_id, name=name, real_name=real_name or name, is_bot=is_bot, bot_id=bot_id,
                             email=email, title=title, deleted=deleted)
            self.users[user_id] = user
            return user

    def add_bot(self, bot_id: str, name: str, *, user_id: str | None = None, app_id: str = "A0INTAKE01") -> SlackBot:
        """Add (or replace) a bot."""
        with self.lock:
            bot = SlackBot(id=bot_id, name=name, user_id=user_id, app_id=app_id)
            self.bots[bot_id] = bot
            return bot

    def add_channel(self, channel_id: str, name: str, *, topic: str = "", purpose: str = "",
                    created: datetime | None = None) -> SlackChannel:
        """Create a channel (idempotent)."""
        with self.lock:
            found = self.channels.get(channel_id)
            if found is None:
                when = created or (self.now() - timedelta(days=700))
                found = SlackChannel(id=channel_id, name=name, created=int(when.timestamp()), topic=topic,
                                     purpose=purpose)
                self.channels[channel_id] = found
            return found

    def join(self, channel_id: str, *user_ids: str) -> None:
        """Make users members of a channel (no join message; ``conversations.members`` lists them)."""
        with self.lock:
            ch = self.channels[channel_id]
            for user_id in user_ids:
                if user_id not in ch.members:
                    ch.members.append(user_id)

    def channel(self, channel_id: str) -> SlackChannel:
        """A channel; KeyError when absent."""
        with self.lock:
            return self.channels[channel_id]

    def message(self, channel: str, ts: str) -> SlackMessage:
        """A message; KeyError when absent."""
        with self.lock:
            return self.channels[channel].messages[ts]

    # -- ts -----------------------------------------------------------------------------------

    def new_ts(self, at: datetime | None = None) -> str:
        """A unique ts; live ones (``at`` None) also increase monotonically."""
        with self.lock:
            if at is None:
                micros = max(int(self.now().timestamp() * 1_000_000), self._last_live + 1)
                while micros in self._used:
                    micros += 1
                self._last_live = micros
            else:
                micros = int(at.timestamp() * 1_000_000)
                while micros in self._used:
                    micros += 1
            self._used.add(micros)
            return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    # -- mutations ----------------------------------------------------------------------------

    def post(
        self,
        channel: str,
        user: str | None,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        *,
        at: datetime | None = None,
        subtype: str | None = None,
        username: str | None = None,
        metadata: dict[str, Any] | None = None,
        reply_broadcast: bool = False,
    ) -> SlackMessage:
        """Post a message as a user (``U…``) or a bot (``B…``; its bot user when it has one).

        Args:
            channel: channel id.
            user: a user id, a bot id, or a bot user's id.
            text: the message text (already mrkdwn-escaped, as Slack stores it).
            blocks: Block Kit blocks.
            thread_ts: parent ts to reply in a thread.
            at: the instant (seed data); None means now.
            subtype: e.g. ``channel_join`` or ``bot_message``.
            username: display name for bot messages.
            metadata: ``{"event_type", "event_payload"}``.
            reply_broadcast: also show the reply in the channel (``thread_broadcast``).

        Raises:
            KeyError: unknown channel or thread parent.
        """
        with self.lock:
            ch = self.channel(channel)
            parent = None
            if thread_ts is not None:
                parent = ch.messages[thread_ts]
                if parent.is_reply:  # replying to a reply lands in the same thread
                    parent = ch.messages[parent.thread_ts or thread_ts]
            bot_id = None
            user_id = user
            if user is not None and user.startswith("B"):
                bot_id, user_id = user, None
                bot = self.bots.get(user)
                if bot is not None:
                    # Apps with a bot user post as that user too (``user`` + ``bot_id``).
                    user_id = bot.user_id
                    username = username or bot.name
            elif user is not None and user in self.users and self.users[user].bot_id:
                bot_id = self.users[user].bot_id
            ts = self.new_ts(at)
            if reply_broadcast and parent is not None:
                subtype = "thread_broadcast"
            msg = SlackMessage(channel=channel, ts=ts, text=text, user=user_id, bot_id=bot_id, username=username,
                               subtype=subtype, thread_ts=parent.ts if parent else None, blocks=blocks,
                               metadata=metadata)
            ch.messages[ts] = msg
            if parent is not None:
                parent.thread_ts = parent.ts
                parent.replies.append(ts)
                parent.replies.sort(key=ts_key)
            if subtype == "channel_join" and user_id and user_id not in ch.members:
                ch.members.append(user_id)
            if self._listeners:
                event = self.message_json(msg)
                event.update(channel=channel, event_ts=msg.ts, channel_type="channel")
                self._emit(event)
            return msg

    def edit(self, channel: str, ts: str, text: str, *, user: str | None = None, at: datetime | None = None,
             blocks: list[dict[str, Any]] | None = None) -> SlackMessage:
        """Change a message's text; it gains ``edited: {user, ts}``."""
        with self.lock:
            msg = self.message(channel, ts)
            previous = self.message_json(msg) if self._listeners else None
            msg.text = text
            if blocks is not None:
                msg.blocks = blocks
            edited_ts = ts_of(self._after(at, msg.ts))
            msg.edited = {"user": user or msg.user or APP_USER_ID, "ts": edited_ts}
            if previous is not None:
                self._emit({"type": "message", "subtype": "message_changed", "hidden": True,
                            "message": self.message_json(msg), "channel": channel,
                            "previous_message": previous, "event_ts": edited_ts, "ts": edited_ts,
                            "channel_type": "channel"})
            return msg

    def _after(self, at: datetime | None, ts: str) -> datetime:
        when = at or self.now()
        floor = ts_time(ts) + timedelta(seconds=1)
        return max(when, floor)

    def delete(self, channel: str, ts: str, *, tombstone: bool = False) -> bool:
        """Delete a message (a parent takes its replies with it); False when absent.

        With ``tombstone`` a parent that has replies stays as Slack keeps it when its thread
        lives on: ``subtype: tombstone``, "This message was deleted.", replies kept.
        """
        with self.lock:
            ch = self.channel(channel)
            previous = self.message_json(ch.messages[ts]) if self._listeners and ts in ch.messages else None
            current = ch.messages.get(ts)
            if tombstone and current is not None and not current.is_reply and current.replies:
                current.subtype, current.text, current.user = "tombstone", "This message was deleted.", "USLACKBOT"
                current.bot_id = current.username = current.blocks = current.metadata = None
                current.reactions = {}
                if previous is not None:
                    self._emit_deleted(channel, ts, previous)
                return True
            msg = ch.messages.pop(ts, None)
            if msg is None:
                return False
            if msg.is_reply and msg.thread_ts in ch.messages:
                parent = ch.messages[msg.thread_ts]
                parent.replies = [r for r in parent.replies if r != ts]
            for reply in msg.replies if not msg.is_reply else []:
                ch.messages.pop(reply, None)
            if previous is not None:
                self._emit_deleted(channel, ts, previous)
            return True

    def _emit_deleted(self, channel: str, ts: str, previous: dict[str, Any]) -> None:
        event_ts = ts_of(self.now())
        self._emit({"type": "message", "subtype": "message_deleted", "hidden": True, "deleted_ts": ts,
                    "channel": channel, "previous_message": previous, "event_ts": event_ts,
                    "ts": event_ts, "channel_type": "channel"})

    def react(self, channel: str, ts: str, name: str, user: str) -> bool:
        """Add a reaction; False when that user already reacted with that name."""
        with self.lock:
            msg = self.message(channel, ts)
            users = msg.reactions.setdefault(name, [])
            if user in users:
                return False
            users.append(user)
            self._emit_reaction("reaction_added", msg, name, user)
            return True

    def unreact(self, channel: str, ts: str, name: str, user: str) -> bool:
        """Remove a reaction; False when absent."""
        with self.lock:
            msg = self.message(channel, ts)
            users = msg.reactions.get(name, [])
            if user not in users:
                return False
            users.remove(user)
            if not users:
                del msg.reactions[name]
            self._emit_reaction("reaction_removed", msg, name, user)
            return True

    def _emit_reaction(self, kind: str, msg: SlackMessage, name: str, user: str) -> None:
        if not self._listeners:
            return
        event: dict[str, Any] = {"type": kind, "user": user, "reaction": name,
                                 "item": {"type": "message", "channel": msg.channel, "ts": msg.ts},
                                 "event_ts": ts_of(self.now())}
        if msg.user:
            event["item_user"] = msg.user
        self._emit(event)

    def permalink(self, channel: str, ts: str) -> str:
        """The web permalink of a message (threads carry ``thread_ts`` and ``cid``)."""
        with self.lock:
            msg = self.message(channel, ts)
            link = f"{self.workspace_url}archives/{channel}/p{ts.replace('.', '')}"
            if msg.is_reply:
                link += f"?thread_ts={msg.thread_ts}&cid={channel}"
            return link

    # -- rendering ----------------------------------------------------------------------------

    def user_profile(self, user: SlackUser) -> dict[str, Any]:
        """``objs_user_profile``."""
        first, _, last = user.real_name.partition(" ")
        avatar = f"https://avatars.slack-edge.com/sandbox/{user.id.lower()}"
        profile: dict[str, Any] = {
            "title": user.title,
            "phone": "",
            "skype": "",
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.name,
            "display_name_normalized": user.name,
            "fields": None,
            "status_text": "",
            "status_emoji": "",
            "status_expiration": 0,
            "avatar_hash": "g" + _uuidish(user.id).replace("-", "")[:11],
            "first_name": first,
            "last_name": last,
            "image_24": f"{avatar}_24.png",
            "image_32": f"{avatar}_32.png",
            "image_48": f"{avatar}_48.png",
            "image_72": f"{avatar}_72.png",
            "image_192": f"{avatar}_192.png",
            "image_512": f"{avatar}_512.png",
            "team": self.team_id,
        }
        if user.email:
            profile["email"] = user.email
        if user.bot_id:
            profile["bot_id"] = user.bot_id
            profile["always_active"] = False
        return profile

    def user_json(self, user: SlackUser) -> dict[str, Any]:
        """``objs_user``."""
        return {
            "id": user.id,
            "team_id": self.team_id,
            "name": user.name,
            "deleted": user.deleted,
            "color": "9f69e7",
            "real_name": user.real_name,
            "tz": user.tz,
            "tz_label": "Eastern Standard Time",
            "tz_offset": -18000,
            "profile": self.user_profile(user),
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": 1700000000,
            "has_2fa": False,
        }

    def bot_profile(self, bot_id: str) -> dict[str, Any] | None:
        """``objs_bot_profile`` for a known bot."""
        bot = self.bots.get(bot_id)
        if bot is None:
            return None
        icon = f"https://avatars.slack-edge.com/sandbox/{bot.id.lower()}"
        return {
            "id": bot.id,
            "deleted": False,
            "name": bot.name,
            "updated": 1700000000,
            "app_id": bot.app_id,
            "icons": {"image_36": f"{icon}_36.png", "image_48": f"{icon}_48.png", "image_72": f"{icon}_72.png"},
            "team_id": self.team_id,
        }

    def message_json(self, msg: SlackMessage, *, include_metadata: bool = False) -> dict[str, Any]:
        """A message as ``conversations.history``/``replies`` return it."""
        ch = self.channels[msg.channel]
        data: dict[str, Any] = {"type": "message"}
        if msg.subtype:
            data["subtype"] = msg.subtype
        data["text"] = msg.text
        if msg.user:
            data["user"] = msg.user
        if msg.bot_id:
            data["bot_id"] = msg.bot_id
            bot = self.bots.get(msg.bot_id)
            if bot is not None:
                data["app_id"] = bot.app_id
            profile = self.bot_profile(msg.bot_id)
            if profile is not None:
                data["bot_profile"] = profile
        if msg.username:
            data["username"] = msg.username
        data["ts"] = msg.ts
        if msg.user and not msg.bot_id:
            data["team"] = self.team_id
            data["client_msg_id"] = _uuidish(msg.channel + msg.ts)
        if msg.blocks is not None:
            data["blocks"] = msg.blocks
        if msg.edited is not None:
            data["edited"] = dict(msg.edited)
        if msg.thread_ts is not None:
            data["thread_ts"] = msg.thread_ts
            if msg.is_reply:
                parent = ch.messages.get(msg.thread_ts)
                if parent is not None and parent.user:
                    data["parent_user_id"] = parent.user
                if msg.subtype == "thread_broadcast":
                    data["root"] = self.message_json(parent) if parent is not None else None
            else:
                replies = [ch.messages[r] for r in msg.replies if r in ch.messages]
                data["reply_count"] = len(replies)
                users = list(dict.fromkeys(r.user for r in replies if r.user))
                data["reply_users_count"] = len(users)
                data["latest_reply"] = replies[-1].ts if replies else msg.ts
                if users:
                    data["reply_users"] = users
                data["is_locked"] = False
                data["subscribed"] = False
        if msg.reactions:
            data["reactions"] = [{"name": name, "users": list(users), "count": len(users)}
                                 for name, users in msg.reactions.items()]
        if include_metadata and msg.metadata is not None:
            data["metadata"] = dict(msg.metadata)
        return data

    def channel_json(self, ch: SlackChannel) -> dict[str, Any]:
        """``objs_conversation`` for a public channel."""
        return {
            "id": ch.id,
            "name": ch.name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": False,
            "created": ch.created,
            "is_archived": False,
            "is_general": False,
            "unlinked": 0,
            "name_normalized": ch.name,
            "is_shared": False,
            "is_org_shared": False,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "context_team_id": self.team_id,
            "updated": ch.created * 1000,
            "parent_conversation": None,
            "creator": next(iter(self.users)),
            "is_ext_shared": False,
            "shared_team_ids": [self.team_id],
            "pending_connected_team_ids": [],
            "is_member": ch.bot_member,
            "topic": {"value": ch.topic, "creator": "", "last_set": 0},
            "purpose": {"value": ch.purpose, "creator": "", "last_set": 0},
            "previous_names": [],
            "num_members": max(1, len(ch.members)),
        }


def _uuidish(seed: str) -> str:
    import hashlib

    h = hashlib.md5(seed.encode(), usedforsecurity=False).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _encode_cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def _decode_cursor(cursor: str) -> str | None:
    try:
        raw = base64.b64decode(cursor.encode(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not raw.startswith("next_ts:"):
        return None
    return raw.removeprefix("next_ts:")


def _ok(**fields: Any) -> Response:
    return Response(body={"ok": True, **fields})


def _err(error: str, **fields: Any) -> Response:
    return Response(body={"ok": False, "error": error, **fields})


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


class SlackEmulator(EmulatorServer):
    """The Slack Web API emulator.

    Args:
        state: the data (a fresh :class:`SlackState` by default).
        token: the only token accepted.
        now: the clock (shared with ``state`` when given).
        profile: ``internal`` (normal limits) or ``non_marketplace`` (conversations.history and
            .replies: 1 call per minute per method by the emulator clock, ``limit`` capped at 15).
        app_token: the only app-level token ``apps.connections.open`` accepts (Socket Mode).
        event_channels: channels whose changes are sent as Socket Mode events (None: all).

    Socket Mode: ``apps.connections.open`` hands out ``ws://127.0.0.1:PORT/link/?ticket=…`` on
    this same port; :attr:`socket` (a :class:`SocketModeHub`) serves it, records acks and injects
    disconnects and dropped connections.
    """

    api_prefix = "/api/"

    def __init__(
        self,
        state: SlackState | None = None,
        *,
        token: str = SLACK_TOKEN,
        now: Callable[[], datetime] | datetime | None = None,
        profile: str = "internal",
        app_token: str = SLACK_APP_TOKEN,
        event_channels: Iterable[str] | None = None,
    ) -> None:
        super().__init__(now=now if now is not None else (state.now if state is not None else None))
        if profile not in PROFILES:
            raise ValueError(f"unknown Slack profile {profile!r} (expected one of {PROFILES})")
        self.state = state or SlackState(now=self.now)
        self.token = token
        self.app_token = app_token
        self.profile = profile
        self.socket = SocketModeHub(team_id=self.state.team_id, app_id=APP_ID, now=self.now,
                                    channels=event_channels)
        """Socket Mode: connections, envelopes sent, acks received, fault injection."""
        self.state.subscribe(self.socket.publish)
        self.retry_after_default = 1
        """``Retry-After`` seconds for ``ratelimited`` faults that do not name one."""
        self.scopes = ",".join(FULL_SCOPES)
        """The bot token's scopes, sent as ``x-oauth-scopes`` on every authenticated answer; a
        method whose scope is missing answers ``missing_scope`` with ``needed`` and ``provided``."""
        self._windows: dict[str, datetime] = {}
        self._methods: dict[str, Callable[[Request], Response]] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "conversations.info": self._conversations_info,
            "conversations.list": self._conversations_list,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "conversations.members": self._conversations_members,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "chat.getPermalink": self._permalink,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "reactions.get": self._reactions_get,
            "apps.connections.open": self._connections_open,
        }

    def api_name(self, path: str) -> str | None:
        """The Web API method of a path (``/api/chat.postMessage`` → ``chat.postMessage``)."""
        return path.removeprefix("/api/").strip("/") or None

    def fault_response(self, fault: Fault, req: Request) -> Response:
        """Slack-flavoured faults."""
        retry = fault.retry_after if fault.retry_after is not None else self.retry_after_default
        if fault.kind in ("ratelimited", "rate_limit", "secondary_limit"):
            resp = Response(status=fault.status or 429, body={"ok": False, "error": "ratelimited"},
                            headers={"Retry-After": str(retry)})
        elif fault.kind == "auth":
            resp = _err("invalid_auth")
        elif fault.kind == "error":
            resp = _err(fault.error or "fatal_error")
            if fault.status:
                resp.status = fault.status
        else:
            body = fault.body if fault.body is not None else {"ok": False, "error": "fatal_error"}
            resp = Response(status=fault.status or 500, body=body)
        resp.headers.update(fault.headers)
        return resp

    def route(self, req: Request) -> Response:
        """Authenticate, apply the profile's limits, then run the method."""
        name = self.api_name(req.path) or ""
        if not req.path.startswith("/api/"):
            return Response(status=404, body=b"Not Found", headers={"Content-Type": "text/plain"})
        handler = self._methods.get(name)
        if handler is None:
            return Response(status=404, body={"ok": False, "error": "unknown_method", "req_method": name})
        header = req.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else req.param("token")
        if name == "apps.connections.open":
            # Only an app-level token opens a Socket Mode connection; a bot token is the wrong kind.
            if not token:
                return _err("not_authed")
            if token.startswith("xoxb-") or token.startswith("xoxp-"):
                return _err("not_allowed_token_type")
            if token != self.app_token:
                return _err("invalid_auth")
            return handler(req)
        if token is not None and token == self.app_token:
            return _err("not_allowed_token_type")
        if name != "api.test":
            if not token:
                return _err("not_authed")
            if token != self.token:
                return _err("invalid_auth")
            resp = self._scoped(name, req, handler)
            resp.headers.setdefault("x-oauth-scopes", self.scopes)
            resp.headers.setdefault("x-accepted-oauth-scopes", METHOD_SCOPES.get(name, ""))
            return resp
        return self._limited(name, req, handler)

    def _scoped(self, name: str, req: Request, handler: Callable[[Request], Response]) -> Response:
        """``missing_scope`` when the token lacks the method's scope, else the method's answer."""
        needed = METHOD_SCOPES.get(name)
        if needed and needed not in {s.strip() for s in self.scopes.split(",")}:
            return _err("missing_scope", needed=needed, provided=self.scopes)
        return self._limited(name, req, handler)

    def _limited(self, name: str, req: Request, handler: Callable[[Request], Response]) -> Response:
        """Apply the profile's rate limits, then run the method."""
        with self.state.lock:
            if self.profile == "non_marketplace" and name in _THROTTLED_METHODS:
                now = self.now()
                last = self._windows.get(name)
                if last is not None and now - last < timedelta(minutes=1):
                    wait = math.ceil(60 - (now - last).total_seconds())
                    return Response(status=429, body={"ok": False, "error": "ratelimited"},
                                    headers={"Retry-After": str(max(1, wait))})
                self._windows[name] = now
            return handler(req)

    # -- helpers ------------------------------------------------------------------------------

    def _limit(self, req: Request, default: int, maximum: int) -> int:
        try:
            limit = int(req.param("limit") or default)
        except ValueError:
            limit = default
        if limit <= 0:
            limit = default
        limit = min(limit, maximum)
        if self.profile == "non_marketplace" and self.api_name(req.path) in _THROTTLED_METHODS:
            limit = min(limit, 15)
        return limit

    def _channel(self, req: Request) -> SlackChannel | Response:
        channel_id = req.param("channel")
        if not channel_id:
            return _err("channel_not_found")
        ch = self.state.channels.get(channel_id)
        return ch if ch is not None else _err("channel_not_found")

    @staticmethod
    def _json_param(req: Request, name: str) -> Any:
        raw: Any = req.body.get(name) if isinstance(req.body, dict) and name in req.body else req.query.get(name)
        if isinstance(raw, str) and raw[:1] in "[{":
            try:
                return json.loads(raw)
            except ValueError:
                return None
        return raw

    @staticmethod
    def _cursor(req: Request) -> str | Response | None:
        """Where the page starts (the ``next_cursor`` we handed out), None for the first page."""
        cursor = req.param("cursor")
        if not cursor:
            return None
        start = _decode_cursor(cursor)
        return start if start is not None else _err("invalid_cursor")

    def _message_page(self, req: Request, messages: list[SlackMessage], limit: int, **extra: Any) -> Response:
        """The first ``limit`` of ``messages`` (in answer order, from the cursor on) as a paged answer."""
        page, rest = messages[:limit], messages[limit:]
        include = _truthy(req.param("include_all_metadata"))
        return _ok(
            messages=[self.state.message_json(m, include_metadata=include) for m in page],
            has_more=bool(rest),
            **extra,
            response_metadata={"next_cursor": _encode_cursor(rest[0].ts) if rest else ""},
        )

    @staticmethod
    def _window(req: Request, messages: list[SlackMessage]) -> list[SlackMessage]:
        inclusive = _truthy(req.param("inclusive"))
        oldest = req.param("oldest")
        latest = req.param("latest")
        out = messages
        if oldest and oldest != "0":
            lo = ts_key(oldest)
            out = [m for m in out if ts_key(m.ts) > lo or (inclusive and ts_key(m.ts) == lo)]
        if latest:
            hi = ts_key(latest)
            out = [m for m in out if ts_key(m.ts) < hi or (inclusive and ts_key(m.ts) == hi)]
        return out

    # -- methods ------------------------------------------------------------------------------

    def _connections_open(self, req: Request) -> Response:
        return _ok(url=self.socket.open_url(self.origin))

    def upgrade(self, req: Request, handler: BaseHTTPRequestHandler) -> Response | None:
        """Serve a Socket Mode WebSocket handshake on ``/link/`` (None once it was served)."""
        fault = self.faults.take(req.method, req.path, None)
        if fault is not None:
            self.socket.refused += 1
            self.record(req, fault.status or 503, fault.kind or str(fault.status))
            return Response(status=fault.status or 503, body=b"injected fault",
                            headers={"Content-Type": "text/plain", "Connection": "close"})
        refusal = self.socket.refusal(req)
        if refusal is not None:
            self.socket.refused += 1
            refusal.headers["Connection"] = "close"
            self.record(req, refusal.status)
            return refusal
        self.record(req, 101)
        self.socket.serve(req, handler)
        return None

    def stop(self) -> None:
        """Stop serving, Socket Mode connections included (idempotent)."""
        self.socket.stop()
        super().stop()

    def _api_test(self, req: Request) -> Response:
        return _ok(args={k: v for k, v in req.query.items() if k != "token"})

    def _auth_test(self, req: Request) -> Response:
        return _ok(url=self.state.workspace_url, team=self.state.team_name, user="idqueue",
                   team_id=self.state.team_id, user_id=APP_USER_ID, bot_id=APP_BOT_ID,
                   is_enterprise_install=False)

    def _conversations_info(self, req: Request) -> Response:
        ch = self._channel(req)
        if isinstance(ch, Response):
            return ch
        return _ok(channel=self.state.channel_json(ch))

    def _conversations_list(self, req: Request) -> Response:
        channels = [self.state.channel_json(ch) for ch in self.state.channels.values()]
        return _ok(channels=channels, response_metadata={"next_cursor": ""})

    def _conversations_members(self, req: Request) -> Response:
        """Member ids in join order, paged with ``limit`` / ``cursor`` like Slack."""
        ch = self._channel(req)
        if isinstance(ch, Response):
            return ch
        limit = self._limit(req, 100, 1000)
        members = list(ch.members)
        start = self._cursor(req)
        if isinstance(start, Response):
            return start
        if start is not None:
            members = members[members.index(start):] if start in members else []
        page, rest = members[:limit], members[limit:]
        return _ok(members=page, response_metadata={"next_cursor": _encode_cursor(rest[0]) if rest else ""})

    def _history(self, req: Request) -> Response:
        ch = self._channel(req)
        if isinstance(ch, Response):
            return ch
        limit = self._limit(req, 100, 999)
        top = [m for m in ch.messages.values() if not m.is_reply or m.subtype == "thread_broadcast"]
        top = self._window(req, top)
        top.sort(key=lambda m: ts_key(m.ts), reverse=True)
        start_ts = self._cursor(req)
        if isinstance(start_ts, Response):
            return start_ts
        if start_ts is not None:
            start = ts_key(start_ts)
            top = [m for m in top if ts_key(m.ts) <= start]
        return self._message_page(req, top, limit, pin_count=0, channel_actions_ts=None, channel_actions_count=0)

    def _replies(self, req: Request) -> Response:
        ch = self._channel(req)
        if isinstance(ch, Response):
            return ch
        ts = req.param("ts")
        if not ts:
            return _err("invalid_arguments")
        msg = ch.messages.get(ts)
        if msg is None:
            return _err("thread_not_found")
        parent = ch.messages.get(msg.thread_ts or ts, msg) if msg.is_reply else msg
        limit = self._limit(req, 1000, 1000)
        thread = [parent] + [ch.messages[r] for r in parent.replies if r in ch.messages]
        thread = [thread[0], *self._window(req, thread[1:])]
        start_ts = self._cursor(req)
        if isinstance(start_ts, Response):
            return start_ts
        if start_ts is not None:
            start = ts_key(start_ts)
            thread = [m for m in thread[1:] if ts_key(m.ts) >= start]
        return self._message_page(req, thread, limit)

    def _users_info(self, req: Request) -> Response:
        user = self.state.users.get(req.param("user") or "")
        if user is None:
            return _err("user_not_found")
        return _ok(user=self.state.user_json(user))

    def _users_list(self, req: Request) -> Response:
        members = sorted(self.state.users.values(), key=lambda u: u.id)
        limit = self._limit(req, 200, 1000)
        start = self._cursor(req)
        if isinstance(start, Response):
            return start
        if start is not None:
            members = [u for u in members if u.id >= start]
        page, rest = members[:limit], members[limit:]
        return _ok(members=[self.state.user_json(u) for u in page], cache_ts=int(self.now().timestamp()),
                   response_metadata={"next_cursor": _encode_cursor(rest[0].id) if rest else ""})

    def _post_message(self, req: Request) -> Response:
        ch = self._channel(req)
        if isinstance(ch, Response):
            return ch
        if not ch.bot_member:
            return _err("not_in_channel")
        text = req.param("text") or ""
        blocks = self._json_param(req, "blocks")
        if blocks is not None and not isinstance(blocks, list):
            return _err("invalid_blocks")
        if not text and not blocks:
            return _err("no_text")
        metadata = self._json_param(req, "metadata")
        if metadata is not None and not (isinstance(metadata, dict) and "event_type" in metadata):
            return _err("invalid_metadata_format")
        thread_ts = req.param("thread_ts") or None
        if thread_ts is not None and thread_ts not in ch.messages:
            return _err("thread_not_found")
        msg = self.state.post(ch.id, APP_USER_ID, text, blocks, thread_ts, metadata=metadata,
                              reply_broadcast=_truthy(req.param("reply_broadcast")))
        return _ok(channel=ch.id, ts=msg.ts, message=self.state.message_json(msg, include_metadata=True))

    def _own(self, msg: SlackMessage) -> bool:
        return msg.user == APP_USER_ID or msg.bot_id == APP_BOT_ID

    def _message(self, req: Request, param: str) -> tuple[SlackChannel, SlackMessage] | Response:
        """The message a method names (``channel`` + the ts in ``param``), or the error answer."""
        ch = self._channel(req)
        if isinstance(ch, Response):
            return ch
        msg = ch.messages.get(req.param(param) or "")
        if msg is None:
            return _err("message_not_found")
        return ch, msg

    def _own_message(self, req: Request, refusal: str) -> tuple[SlackChannel, SlackMessage] | Response:
        """The app's own message named by ``channel`` + ``ts``; ``refusal`` when it is someone else's."""
        target = self._message(req, "ts")
        if isinstance(target, Response):
            return target
        if not self._own(target[1]):
            return _err(refusal)
        return target

    def _update(self, req: Request) -> Response:
        target = self._own_message(req, "cant_update_message")
        if isinstance(target, Response):
            return target
        ch, msg = target
        text = req.param("text")
        blocks = self._json_param(req, "blocks")
        self.state.edit(ch.id, msg.ts, text if text is not None else msg.text, user=APP_USER_ID,
                        blocks=blocks if isinstance(blocks, list) else None)
        return _ok(channel=ch.id, ts=msg.ts, text=msg.text, message=self.state.message_json(msg))

    def _delete(self, req: Request) -> Response:
        target = self._own_message(req, "cant_delete_message")
        if isinstance(target, Response):
            return target
        ch, msg = target
        self.state.delete(ch.id, msg.ts)
        return _ok(channel=ch.id, ts=msg.ts)

    def _permalink(self, req: Request) -> Response:
        target = self._message(req, "message_ts")
        if isinstance(target, Response):
            return target
        ch, msg = target
        return _ok(channel=ch.id, permalink=self.state.permalink(ch.id, msg.ts))

    def _reaction_target(self, req: Request) -> tuple[SlackChannel, SlackMessage, str] | Response:
        target = self._message(req, "timestamp")
        if isinstance(target, Response):
            return target
        ch, msg = target
        return ch, msg, (req.param("name") or "").strip(":")

    def _reactions_add(self, req: Request) -> Response:
        target = self._reaction_target(req)
        if isinstance(target, Response):
            return target
        ch, msg, name = target
        if not name:
            return _err("invalid_name")
        if not self.state.react(ch.id, msg.ts, name, APP_USER_ID):
            return _err("already_reacted")
        return _ok()

    def _reactions_remove(self, req: Request) -> Response:
        target = self._reaction_target(req)
        if isinstance(target, Response):
            return target
        ch, msg, name = target
        if not self.state.unreact(ch.id, msg.ts, name, APP_USER_ID):
            return _err("no_reaction")
        return _ok()

    def _reactions_get(self, req: Request) -> Response:
        target = self._reaction_target(req)
        if isinstance(target, Response):
            return target
        ch, msg, _ = target
        data = self.state.message_json(msg)
        data["permalink"] = self.state.permalink(ch.id, msg.ts)
        return _ok(type="message", channel=ch.id, message=data)
