"""A loopback emulator of the Trello REST API (the part idqueue uses).

Boards (by id or short link) with their lists, cards and actions; ``POST /cards``, ``PUT
/cards/{id}``, attachments, ``GET /members/me`` and webhooks (created only when a ``HEAD`` of the
callback URL answers 200). Objects and actions have the shapes of Trello's object definitions and
its OpenAPI description (``tests/specs/trello.openapi.json``): 24-hex ids whose first 8 digits
are the creation time, ``updateCard`` actions with ``data.old``, newest-first action lists that
page with ``before`` and stop at ``since``. Rate limits are Trello's: 300 requests per 10 s per
key and 100 per 10 s per token, answered with ``429`` and the real JSON bodies
(``API_KEY_LIMIT_EXCEEDED``/``API_TOKEN_LIMIT_EXCEEDED``), counted on the emulator's clock.
"""

from __future__ import annotations

import bisect
import hashlib
import re
import threading
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from idqueue.integrations.loopback import EmulatorServer, Fault, Request, Response, as_clock

TRELLO_KEY = "5a9c0e1d2f3b4a6c8d7e9f0a1b2c3d4e"
"""The API key the sandbox Trello accepts (32 hex, like a real one)."""
TRELLO_TOKEN = "ATTAsandbox0idqueue0trello0token0000000000000000000000000000000000"
"""The token the sandbox Trello accepts."""
WEB = "https://trello.com"
KEY_LIMIT, TOKEN_LIMIT, WINDOW = 300, 100, timedelta(seconds=10)
_OAUTH = re.compile(r'(oauth_consumer_key|oauth_token)="([^"]*)"')
_ID = re.compile(r"^[0-9a-f]{24}$")
NOT_FOUND = "The requested resource was not found."


def iso_ms(at: datetime) -> str:
    """Trello's timestamp format, ``2026-03-11T15:30:00.000Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "card"


@dataclass(slots=True)
class TMember:
    """A Trello account."""

    id: str
    username: str
    full_name: str

    def json(self) -> dict[str, Any]:
        """The member object (the fields the actions' ``memberCreator`` carries)."""
        initials = "".join(part[:1] for part in self.full_name.split()[:2]).upper()
        avatar = hashlib.md5(self.username.encode("utf-8"), usedforsecurity=False).hexdigest()
        return {"id": self.id, "username": self.username, "fullName": self.full_name, "initials": initials,
                "activityBlocked": False, "avatarHash": avatar,
                "avatarUrl": f"https://trello-members.s3.amazonaws.com/{self.id}/{avatar}", "idMemberReferrer": None,
                "nonPublic": {}, "nonPublicAvailable": True}


@dataclass(slots=True)
class TList:
    """A list (column) of a board."""

    id: str
    id_board: str
    name: str
    pos: float
    closed: bool = False

    def json(self) -> dict[str, Any]:
        """The list object."""
        return {"id": self.id, "name": self.name, "closed": self.closed, "pos": self.pos,
                "idBoard": self.id_board, "subscribed": False}


@dataclass(slots=True)
class TCard:
    """A card."""

    id: str
    id_board: str
    id_list: str
    name: str
    desc: str
    pos: float
    short_link: str
    id_short: int
    last_activity: datetime
    closed: bool = False
    attachments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The card's web URL."""
        return f"{WEB}/c/{self.short_link}/{self.id_short}-{_slug(self.name)}"

    def json(self) -> dict[str, Any]:
        """The card object (Trello's default card fields)."""
        return {
            "id": self.id, "badges": {"attachments": len(self.attachments), "comments": 0, "description": bool(self.desc),
                                      "votes": 0, "viewingMemberVoted": False, "subscribed": False,
                                      "checkItems": 0, "checkItemsChecked": 0, "due": None, "dueComplete": False},
            "checkItemStates": [], "closed": self.closed, "dueComplete": False,
            "dateLastActivity": iso_ms(self.last_activity), "desc": self.desc, "descData": {"emoji": {}},
            "due": None, "dueReminder": None, "email": None, "idBoard": self.id_board, "idChecklists": [],
            "idList": self.id_list, "idMembers": [], "idMembersVoted": [], "idShort": self.id_short,
            "idAttachmentCover": None, "idLabels": [], "manualCoverAttachment": False, "name": self.name,
            "pos": self.pos, "shortLink": self.short_link, "shortUrl": f"{WEB}/c/{self.short_link}",
            "start": None, "subscribed": False, "url": self.url, "cover": {"idAttachment": None, "color": None,
                                                                          "idUploadedBackground": None,
                                                                          "size": "normal", "brightness": "dark",
                                                                          "isTemplate": False},
            "labels": [], "isTemplate": False, "cardRole": None,
        }

    def ref(self) -> dict[str, Any]:
        """The card as an action's ``data.card`` names it."""
        return {"id": self.id, "name": self.name, "idShort": self.id_short, "shortLink": self.short_link}


@dataclass(slots=True)
class TBoard:
    """A board with its lists, cards and action log (in id order: oldest first)."""

    id: str
    name: str
    short_link: str
    lists: dict[str, TList] = field(default_factory=dict)
    cards: dict[str, TCard] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)
    next_short: int = 1

    def json(self) -> dict[str, Any]:
        """The board object."""
        return {"id": self.id, "name": self.name, "desc": "", "closed": False, "pinned": False,
                "url": f"{WEB}/b/{self.short_link}/{_slug(self.name)}", "shortUrl": f"{WEB}/b/{self.short_link}",
                "shortLink": self.short_link, "prefs": {"permissionLevel": "board", "comments": "members",
                                                        "invitations": "members", "voting": "disabled"},
                "labelNames": {"green": "", "yellow": "", "orange": "", "red": "", "purple": "", "blue": ""}}

    def ref(self) -> dict[str, Any]:
        """The board as an action's ``data.board`` names it."""
        return {"id": self.id, "name": self.name, "shortLink": self.short_link}


class TrelloState:
    """The emulator's data, guarded by one re-entrant lock; tests and the seed change it through
    the helpers, which log the actions real Trello would log.

    Args:
        now: the clock.
    """

    def __init__(self, *, now: Callable[[], datetime] | datetime | None = None) -> None:
        self.lock = threading.RLock()
        self.now: Callable[[], datetime] = as_clock(now)
        self.boards: dict[str, TBoard] = {}
        self.members: dict[str, TMember] = {}
        self.webhooks: list[dict[str, Any]] = []
        self._counter = 0
        self._at: datetime | None = None
        self.me = self.add_member("idqueue-bot", "idqueue")
        """The member the sandbox token belongs to (creator of API writes)."""

    def clock(self) -> datetime:
        """The time changes happen at: the clock, or the instant :meth:`at` set (seeding the past)."""
        return self._at if self._at is not None else self.now()

    @contextmanager
    def at(self, when: datetime) -> Iterator[None]:
        """Make the changes inside the block happen at ``when`` (a seed writes a past fortnight)."""
        with self.lock:
            previous, self._at = self._at, when
            try:
                yield
            finally:
                self._at = previous

    # -- ids ----------------------------------------------------------------------------------
    def new_id(self, at: datetime | None = None) -> str:
        """A Trello object id: creation time (8 hex) + a counter (16 hex), so ids sort by time."""
        self._counter += 1
        seconds = int((at or self.clock()).timestamp())
        return f"{seconds:08x}{self._counter:016x}"

    def _short_link(self) -> str:
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
        n, out = self._counter * 7919 + 104729, ""
        for _ in range(8):
            n, r = divmod(n, len(alphabet))
            out += alphabet[r]
        return out

    # -- seeding helpers ----------------------------------------------------------------------
    def add_member(self, username: str, full_name: str) -> TMember:
        """A Trello account."""
        with self.lock:
            member = TMember(self.new_id(), username, full_name)
            self.members[member.id] = member
            return member

    def add_board(self, name: str, lists: tuple[str, ...] = ("New Issues", "Up next", "Recently Completed"),
                  *, short_link: str | None = None) -> TBoard:
        """A board with its lists (Made Tech's three by default)."""
        with self.lock:
            board = TBoard(self.new_id(), name, short_link or self._short_link())
            for pos, title in enumerate(lists, 1):
                lst = TList(self.new_id(), board.id, title, float(pos * 16384))
                board.lists[lst.id] = lst
            self.boards[board.id] = board
            return board

    def board(self, ref: str) -> TBoard | None:
        """A board by id or short link."""
        with self.lock:
            return self.boards.get(ref) or next((b for b in self.boards.values() if b.short_link == ref), None)

    def list_named(self, board: TBoard, name: str) -> TList:
        """A board's open list by name (KeyError when missing)."""
        return next(lst for lst in board.lists.values() if lst.name == name and not lst.closed)

    def find_card(self, card_id: str) -> tuple[TBoard, TCard] | None:
        """A card (by id or short link) and its board."""
        with self.lock:
            for board in self.boards.values():
                for card in board.cards.values():
                    if card_id in (card.id, card.short_link):
                        return board, card
            return None

    def _log(self, board: TBoard, kind: str, data: dict[str, Any], member: TMember) -> dict[str, Any]:
        at = self.clock()
        action = {"id": self.new_id(at), "idMemberCreator": member.id, "data": {**data, "board": board.ref()},
                  "appCreator": None, "type": kind, "date": iso_ms(at), "limits": {}, "memberCreator": member.json()}
        # Kept in id order (= time order, ids start with their time) even when a seed writes
        # the past out of order: lists, ``since`` and ``before`` rely on it.
        bisect.insort(board.actions, action, key=lambda a: str(a["id"]))
        return action

    def create_card(self, list_id: str, name: str, desc: str = "", *, member: TMember | None = None,
                    pos: str | float | None = None, url_source: str | None = None) -> TCard:
        """A new card (``createCard``; an ``addAttachmentToCard`` too with ``url_source``)."""
        with self.lock:
            board = next((b for b in self.boards.values() if list_id in b.lists), None)
            if board is None:
                raise KeyError(list_id)
            lst = board.lists[list_id]
            positions = [c.pos for c in board.cards.values() if c.id_list == list_id] or [0.0]
            at = self.clock()
            card = TCard(self.new_id(at), board.id, list_id, name, desc,
                         min(positions) / 2 if pos == "top" else max(positions) + 16384.0,
                         self._short_link(), board.next_short, at)
            board.next_short += 1
            board.cards[card.id] = card
            who = member or self.me
            self._log(board, "createCard", {"card": card.ref(), "list": {"id": lst.id, "name": lst.name}}, who)
            if url_source:
                self.attach(card, url_source, member=who)
            return card

    def attach(self, card: TCard, url: str, *, name: str | None = None, member: TMember | None = None) -> dict[str, Any]:
        """A link attachment (``addAttachmentToCard``)."""
        with self.lock:
            board = self.boards[card.id_board]
            who = member or self.me
            attachment: dict[str, Any] = {"id": self.new_id(), "bytes": None, "date": iso_ms(self.clock()), "edgeColor": None,
                          "idMember": who.id, "isUpload": False, "mimeType": "", "name": name or url,
                          "previews": [], "url": url, "pos": float(16384 * (len(card.attachments) + 1)),
                          "fileName": None}
            card.attachments.append(attachment)
            card.last_activity = self.clock()
            self._log(board, "addAttachmentToCard", {"card": card.ref(), "attachment": {
                "id": attachment["id"], "name": attachment["name"], "url": url}}, who)
            return attachment

    def move_card(self, card: TCard, list_name: str, *, member: TMember | None = None) -> None:
        """Move a card to another list of its board (``updateCard`` with ``data.old.idList``)."""
        with self.lock:
            board = self.boards[card.id_board]
            self._move(board, card, self.list_named(board, list_name).id, member or self.me)

    def _move(self, board: TBoard, card: TCard, list_id: str, member: TMember) -> None:
        if list_id == card.id_list:
            return
        before, after = board.lists[card.id_list], board.lists[list_id]
        card.id_list, card.last_activity = list_id, self.clock()
        self._log(board, "updateCard", {"card": {**card.ref(), "idList": list_id}, "old": {"idList": before.id},
                                        "listBefore": {"id": before.id, "name": before.name},
                                        "listAfter": {"id": after.id, "name": after.name}}, member)

    def archive(self, card: TCard, closed: bool = True, *, member: TMember | None = None) -> None:
        """Archive (or restore) a card (``updateCard`` with ``data.old.closed``)."""
        with self.lock:
            board = self.boards[card.id_board]
            self._set_closed(board, card, closed, member or self.me)

    def _set_closed(self, board: TBoard, card: TCard, closed: bool, member: TMember) -> None:
        if card.closed == closed:
            return
        card.closed, card.last_activity = closed, self.clock()
        lst = board.lists[card.id_list]
        self._log(board, "updateCard", {"card": {**card.ref(), "closed": closed}, "old": {"closed": not closed},
                                        "list": {"id": lst.id, "name": lst.name}}, member)

    def comment(self, card: TCard, text: str, *, member: TMember | None = None) -> dict[str, Any]:
        """A comment on a card (``commentCard``)."""
        with self.lock:
            board = self.boards[card.id_board]
            lst = board.lists[card.id_list]
            card.last_activity = self.clock()
            return self._log(board, "commentCard", {"text": text, "card": card.ref(),
                                                    "list": {"id": lst.id, "name": lst.name}}, member or self.me)


class _Window:
    """Requests in the last 10 s for one key or token (on the emulator's clock)."""

    def __init__(self) -> None:
        self.times: deque[datetime] = deque()

    def spend(self, now: datetime, limit: int) -> bool:
        while self.times and now - self.times[0] >= WINDOW:
            self.times.popleft()
        if len(self.times) >= limit:
            return False
        self.times.append(now)
        return True

    def remaining(self, now: datetime, limit: int) -> int:
        while self.times and now - self.times[0] >= WINDOW:
            self.times.popleft()
        return max(0, limit - len(self.times))


class TrelloEmulator(EmulatorServer):
    """The Trello REST emulator (API root ``/1``).

    Args:
        state: the data (a fresh :class:`TrelloState` by default).
        now: the clock (used when ``state`` is not given).
        key: the API key it accepts.
        token: the token it accepts.
        retry_after: send ``Retry-After`` on 429s (Trello's documentation publishes none;
            clients must cope with both).
    """

    api_prefix = "/1"
    secret_params = ("token", "key")

    def __init__(self, state: TrelloState | None = None, *, now: Callable[[], datetime] | datetime | None = None,
                 key: str = TRELLO_KEY, token: str = TRELLO_TOKEN, retry_after: bool = False) -> None:
        self.state = state or TrelloState(now=now)
        super().__init__(now=self.state.now)
        self.key, self.token = key, token
        self.send_retry_after = retry_after
        self.key_limit, self.token_limit = KEY_LIMIT, TOKEN_LIMIT
        self._windows: dict[str, _Window] = {}
        self._rate_lock = threading.Lock()

    # -- auth and limits ------------------------------------------------------------------------
    def _credentials(self, req: Request) -> tuple[str, str]:
        found = dict(_OAUTH.findall(req.headers.get("authorization", "")))
        key = req.query.get("key") or found.get("oauth_consumer_key", "")
        token = req.query.get("token") or found.get("oauth_token", "")
        return key, token

    def _limited(self, key: str, token: str) -> Response | None:
        now = self.now()
        with self._rate_lock:
            kw = self._windows.setdefault("key:" + key, _Window())
            tw = self._windows.setdefault("token:" + token, _Window())
            if kw.remaining(now, self.key_limit) == 0:
                return self._429("API_KEY_LIMIT_EXCEEDED")
            if not tw.spend(now, self.token_limit):
                return self._429("API_TOKEN_LIMIT_EXCEEDED")
            kw.spend(now, self.key_limit)
            return None

    def _429(self, code: str) -> Response:
        headers = {"Retry-After": str(int(WINDOW.total_seconds()))} if self.send_retry_after else {}
        return Response(429, {"error": code, "message": "Rate limit exceeded"}, headers)

    def fault_response(self, fault: Fault, req: Request) -> Response:
        """Trello's flavour of the fault kinds: ``rate_limit`` is a token-limit 429, ``auth`` a 401."""
        if fault.kind in ("rate_limit", "ratelimited", "secondary_limit"):
            headers = dict(fault.headers)
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            code = "API_KEY_LIMIT_EXCEEDED" if fault.kind == "secondary_limit" else "API_TOKEN_LIMIT_EXCEEDED"
            return Response(fault.status or 429, fault.body or {"error": code, "message": "Rate limit exceeded"},
                            headers)
        if fault.kind == "auth":
            return _text(401, "invalid token")
        return super().fault_response(fault, req)

    # -- routing ------------------------------------------------------------------------------
    def route(self, req: Request) -> Response:
        """Answer one request (auth, rate limits, then the resource)."""
        if not req.path.startswith("/1/"):
            return _text(404, "Cannot GET " + req.path)
        key, token = self._credentials(req)
        if key != self.key:
            return _text(401, "invalid key")
        if token != self.token:
            return _text(401, "invalid token")
        limited = self._limited(key, token)
        if limited is not None:
            return limited
        parts = [p for p in req.path[len("/1/"):].split("/") if p]
        with self.state.lock:
            resp = self._resource(req, parts)
        now = self.now()
        with self._rate_lock:
            resp.headers.setdefault("x-rate-limit-api-token-max", str(self.token_limit))
            resp.headers.setdefault("x-rate-limit-api-token-remaining",
                                    str(self._windows["token:" + token].remaining(now, self.token_limit)))
            resp.headers.setdefault("x-rate-limit-api-key-max", str(self.key_limit))
            resp.headers.setdefault("x-rate-limit-api-key-remaining",
                                    str(self._windows["key:" + key].remaining(now, self.key_limit)))
        return resp

    def _resource(self, req: Request, parts: list[str]) -> Response:
        m, head = req.method, parts[0] if parts else ""
        if head == "members" and len(parts) == 2 and m == "GET":
            member = self.state.me if parts[1] == "me" else self.state.members.get(parts[1])
            return Response(200, member.json()) if member else _text(404, "model not found")
        if head == "boards" and len(parts) >= 2:
            return self._board(req, parts)
        if head == "cards":
            return self._cards(req, parts)
        if head == "webhooks" and len(parts) == 1 and m == "POST":
            return self._webhook(req)
        return _text(404, NOT_FOUND)

    def _board(self, req: Request, parts: list[str]) -> Response:
        board = self.state.board(parts[1])
        if board is None:
            return _text(400 if not _board_ref_shape(parts[1]) else 404,
                         "invalid id" if not _board_ref_shape(parts[1]) else "The requested resource was not found.")
        if req.method != "GET":
            return _text(404, NOT_FOUND)
        rest = parts[2:]
        if not rest:
            return Response(200, board.json())
        if rest == ["lists"]:
            which = req.param("filter", "open")
            lists = sorted(board.lists.values(), key=lambda x: x.pos)
            return Response(200, [x.json() for x in lists if which == "all" or x.closed == (which == "closed")])
        if rest[0] == "cards" and len(rest) <= 2:
            which = rest[1] if len(rest) == 2 else req.param("filter", "open")
            if which not in ("all", "open", "closed", "visible"):
                return _text(400, "invalid value for filter")
            cards = sorted(board.cards.values(), key=lambda c: (c.id_list, c.pos))
            picked = [c for c in cards if which == "all" or c.closed == (which == "closed")]
            return Response(200, [_fields(c.json(), req.param("fields")) for c in picked])
        if rest == ["actions"]:
            return self._actions(req, board)
        return _text(404, NOT_FOUND)

    def _actions(self, req: Request, board: TBoard) -> Response:
        try:
            limit = int(req.param("limit", "50") or "50")
        except ValueError:
            return _text(400, "invalid value for limit")
        if not 0 <= limit <= 1000:
            return _text(400, "invalid value for limit")
        wanted = [f.strip() for f in (req.param("filter", "all") or "all").split(",") if f.strip()]
        since, before = req.param("since"), req.param("before")
        out = []
        for action in reversed(board.actions):  # newest first
            if before and not _older(action, before):
                continue
            if since and not _newer(action, since):
                break
            if _matches(action, wanted):
                out.append(action)
                if len(out) >= limit:
                    break
        return Response(200, out)

    def _cards(self, req: Request, parts: list[str]) -> Response:
        m = req.method
        if len(parts) == 1 and m == "POST":
            return self._create_card(req)
        if len(parts) < 2:
            return _text(404, NOT_FOUND)
        found = self.state.find_card(parts[1])
        if found is None:
            return _text(404 if _ID.match(parts[1]) or len(parts[1]) == 8 else 400,
                         "The requested resource was not found." if _ID.match(parts[1]) else "invalid id")
        board, card = found
        if len(parts) == 2 and m == "GET":
            return Response(200, _fields(card.json(), req.param("fields")))
        if len(parts) == 2 and m == "PUT":
            return self._update_card(req, board, card)
        if parts[2:] == ["attachments"] and m == "POST":
            url = req.param("url")
            if not url or not url.startswith(("http://", "https://")):
                return _text(400, "invalid value for url")
            return Response(200, self.state.attach(card, url, name=req.param("name")))
        if parts[2:] == ["attachments"] and m == "GET":
            return Response(200, list(card.attachments))
        return _text(404, NOT_FOUND)

    def _create_card(self, req: Request) -> Response:
        list_id = req.param("idList")
        if not list_id:
            return _text(400, "invalid value for idList")
        board = next((b for b in self.state.boards.values() if list_id in b.lists), None)
        if board is None:
            return _text(400 if not _ID.match(list_id) else 404, "invalid value for idList")
        name, desc = req.param("name", "") or "", req.param("desc", "") or ""
        if len(name) > 16384 or len(desc) > 16384:
            return _text(400, "invalid value for desc" if len(desc) > 16384 else "invalid value for name")
        url_source = req.param("urlSource")
        if url_source and not url_source.startswith(("http://", "https://")):
            return _text(400, "invalid value for urlSource")
        card = self.state.create_card(list_id, name, desc, pos=req.param("pos"), url_source=url_source)
        return Response(200, card.json())

    def _update_card(self, req: Request, board: TBoard, card: TCard) -> Response:
        list_id = req.param("idList")
        if list_id is not None:
            if list_id not in board.lists:
                return _text(400, "invalid value for idList")
            self.state._move(board, card, list_id, self.state.me)
        closed = req.param("closed")
        if closed is not None:
            if closed not in ("true", "false"):
                return _text(400, "invalid value for closed")
            self.state._set_closed(board, card, closed == "true", self.state.me)
        for name, attr in (("name", "name"), ("desc", "desc")):
            value = req.param(name)
            if value is not None:
                setattr(card, attr, value)
        return Response(200, card.json())

    def _webhook(self, req: Request) -> Response:
        callback, model = req.param("callbackURL"), req.param("idModel")
        if not callback or not callback.startswith(("http://", "https://")):
            return _text(400, "invalid value for callbackURL")
        if not model or (self.state.board(model) is None and self.state.find_card(model) is None):
            return _text(400, "invalid value for idModel")
        status = _head(callback)
        if status != 200:
            return _text(400, f'URL ("{callback}") did not return 200 status code, got {status}')
        hook = {"id": self.state.new_id(), "description": req.param("description", "") or "", "idModel": model,
                "callbackURL": callback, "active": req.param("active", "true") != "false",
                "consecutiveFailures": 0, "firstConsecutiveFailDate": None}
        self.state.webhooks.append(hook)
        return Response(200, hook)


def _text(status: int, message: str) -> Response:
    """Trello answers most errors in plain text."""
    return Response(status, message.encode("utf-8"), {"Content-Type": "text/plain; charset=utf-8"})


def _board_ref_shape(ref: str) -> bool:
    return bool(_ID.match(ref)) or bool(re.fullmatch(r"[A-Za-z0-9]{8}", ref))


def _fields(obj: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """Only the requested ``fields`` (plus ``id``, which Trello always sends)."""
    if not fields or fields == "all":
        return obj
    wanted = {f.strip() for f in fields.split(",")} | {"id"}
    return {k: v for k, v in obj.items() if k in wanted}


def _point(value: str) -> tuple[str, str]:
    """A ``since``/``before`` value as ``("id", id)`` or ``("date", iso)``."""
    return ("id", value) if _ID.match(value) else ("date", value)


def _parse(value: str) -> datetime | None:
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _older(action: dict[str, Any], before: str) -> bool:
    kind, value = _point(before)
    if kind == "id":
        return str(action["id"]) < value
    at, limit = _parse(str(action["date"])), _parse(value)
    return at is not None and limit is not None and at < limit


def _newer(action: dict[str, Any], since: str) -> bool:
    kind, value = _point(since)
    if kind == "id":
        return str(action["id"]) > value
    at, limit = _parse(str(action["date"])), _parse(value)
    return at is not None and limit is not None and at >= limit


def _matches(action: dict[str, Any], wanted: list[str]) -> bool:
    """Trello's action ``filter``: a type, or ``updateCard:<field>`` for one field's changes."""
    if "all" in wanted:
        return True
    kind = str(action["type"])
    old = action["data"].get("old") or {}
    for want in wanted:
        base, _, attr = want.partition(":")
        if base == kind and (not attr or attr in old):
            return True
    return False


def _head(url: str) -> int:
    """The status of a ``HEAD`` request to a webhook's callback URL (0 when unreachable)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError, ValueError):
        return 0
