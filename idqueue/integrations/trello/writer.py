"""Trello writes for the outbox: the backlog card.

Backlogging a request for a customer with a Trello board creates one card on that board, in the
customer's backlog list (``backlog_list``, "New Issues" by default, found by name among the
board's open lists, which are cached for a minute). The action it carries (``create_issue``, or ``backlog``, with
``target = "trello"``) has these parameters:

``board``
    The board's id or short link (the customer's ``trello_board``). Required.
``list``
    The list's name (the customer's ``backlog_list``). Default "New Issues".
``title``
    The card's name (the request's summary). Required.
``requester``
    Who asked, as a line (``Jane Doe <jane@acme.com>``). Optional.
``links``
    ``{system: url}`` of the request's homes (the mail thread, the Slack permalink, the GitHub
    issue). The first one is attached to the card as a link; all are listed in its description.
``customer``
    The customer's key (for messages). Optional.

The action's ``text``, if any, is the card's description (plain Markdown, e.g. the request's
text); without one the writer writes the requester and the links. Either way the description
ends with idqueue's footer::

    idqueue-request: <request id>
    idqueue-action: <action id>

Exactly once: creating a card is not safe to repeat, so when an earlier attempt may have reached
Trello the dispatcher first calls :meth:`TrelloWriter.reconcile`, which reads the board's
``createCard`` actions since the action's first attempt (newest first, every page) and looks for
the footer in those cards; the card is not created again when it is there. The card and its link
attachment are created in one request (``urlSource``), so there is no half-made card to finish.
:func:`~idqueue.integrations.base.before_write` comes immediately before the write.

The result carries ``url`` (the card's URL: the link the request keeps, ``links.trello``, and what
a planned message to the requester links to) and ``created`` (board, card id, short link).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from idqueue.config import Settings
from idqueue.domain.actions import Action, ActionKind
from idqueue.integrations.base import BadPayload, NotFound, ValidationFailed, before_write
from idqueue.integrations.trello.api import TrelloApi
from idqueue.integrations.trello.marker import card_footer, footer_of
from idqueue.safety import one_line

__all__ = ["DESC_LIMIT", "TrelloWriter", "card_footer", "footer_of"]

DESC_LIMIT = 16384
"""Trello refuses a card description longer than this."""
LIST_CACHE_SECONDS = 60.0
"""How long a board's lists are trusted: a burst of backlog actions reads them once, and a list
archived (Trello still accepts cards into it) or renamed since is noticed within a minute."""
class TrelloWriter:
    """Carries backlog actions to Trello.

    Args:
        settings: ``[trello]`` (API root, key, token).
        timeout: HTTP timeout in seconds.
        clock: the clock (for rate-limit ends).
        api: a prepared client (tests); built from the settings otherwise.
    """

    target = "trello"

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float = 20.0,
        clock: Callable[[], datetime] | None = None,
        api: TrelloApi | None = None,
    ) -> None:
        self.settings = settings
        self.api = api or TrelloApi(settings, timeout=timeout, clock=clock)
        self._boards: dict[str, dict[str, Any]] = {}
        self._lists: dict[str, dict[str, str]] = {}
        self._lists_read: dict[str, datetime] = {}
        self._member: str | None = None

    def close(self) -> None:
        """Release the HTTP client."""
        self.api.close()

    # ------------------------------------------------------------------ entry points
    def send(self, action: Action, *, maybe_sent: bool) -> dict[str, Any]:
        """Create the backlog card.

        Raises:
            ValidationFailed: not a backlog action, no board, or no such list on the board.
            SourceError: Trello failed (mapped by :mod:`.api`).
        """
        self._check_kind(action)
        board = self._board(action)
        list_id = self._list_id(board, str(action.params.get("list") or "New Issues"))
        links = _links(action.params)
        body: dict[str, Any] = {
            "idList": list_id,
            "name": _title(action),
            "desc": self.description(action),
            "pos": "bottom",
        }
        if links:
            body["urlSource"] = links[0]
        before_write()
        try:
            card = self.api.post("/cards", f"create a card on {_board_name(board)}", body)
        except (ValidationFailed, NotFound):
            # The list may have been archived or the board moved since they were cached: read
            # them again when the user retries.
            self._lists.pop(board["id"], None)
            self._boards.pop(str(action.params["board"]), None)
            raise
        return _result(card, board)

    def reconcile(self, action: Action, *, since: datetime) -> dict[str, Any] | None:
        """The card an earlier attempt of this action created, among the board's cards created
        since ``since`` (newest first, every page), or None when there is none."""
        self._check_kind(action)
        board = self._board(action)
        what = f"look for an earlier attempt's card on {_board_name(board)}"
        me = self._me()
        before: str | None = None
        while True:
            params: dict[str, Any] = {"filter": "createCard", "since": _iso(since), "limit": 1000,
                                      "fields": "id,idMemberCreator,type,date,data", "memberCreator": False}
            if before:
                params["before"] = before
            page = self.api.get(f"/boards/{board['id']}/actions", what, params)
            if not isinstance(page, list):
                raise BadPayload("Trello sent an action list that is not a list", source="trello")
            for created in page:
                card_id = ((created.get("data") or {}).get("card") or {}).get("id") if isinstance(created, dict) else None
                if not isinstance(card_id, str) or created.get("idMemberCreator") not in (me, None):
                    continue  # only cards made with idqueue's token can be its own
                card = self.api.get(f"/cards/{card_id}", what, {"fields": "id,name,desc,url,shortLink,idList,closed"})
                footer = footer_of(str(card.get("desc") or "")) if isinstance(card, dict) else None
                if footer is not None and footer[1] == action.id:
                    return _result(card, board)
            if len(page) < 1000:
                return None
            before = str(page[-1].get("id"))

    def _me(self) -> str:
        """The id of the Trello member the token belongs to (the creator of idqueue's cards)."""
        if self._member is None:
            me = self.api.get("/members/me", "read your Trello member", {"fields": "id"})
            if not isinstance(me, dict) or not isinstance(me.get("id"), str):
                raise BadPayload("Trello sent a member without an id", source="trello")
            self._member = me["id"]
        return self._member

    # ------------------------------------------------------------------ the card
    def description(self, action: Action) -> str:
        """The card's description: the planned text (or requester and links), then the footer."""
        footer = card_footer(action.request_id, action.id)
        text = (action.text or "").strip("\n")
        if not text:
            lines = []
            if action.params.get("requester"):
                lines.append(f"**Requested by:** {one_line(str(action.params['requester']), 200)}")
            for system, url in (action.params.get("links") or {}).items():
                lines.append(f"**{one_line(str(system), 40)}:** {one_line(str(url), 500)}")
            text = "\n".join(lines)
        room = DESC_LIMIT - len(footer)
        if len(text) > room:
            text = text[: room - 2].rstrip() + " …"
        return text + footer

    # ------------------------------------------------------------------ boards and lists
    @staticmethod
    def _check_kind(action: Action) -> None:
        if action.kind not in (ActionKind.CREATE_ISSUE, ActionKind.BACKLOG):
            raise ValidationFailed(f"Trello cannot carry out a {action.kind.value} action", source="trello")
        if not action.params.get("board"):
            raise ValidationFailed("the backlog action names no Trello board (the customer has no trello_board)",
                                   source="trello")

    def _board(self, action: Action) -> dict[str, Any]:
        ref = str(action.params["board"])
        if ref not in self._boards:
            board = self.api.get(f"/boards/{ref}", f"read the board {ref}", {"fields": "id,name,shortLink,url"})
            if not isinstance(board, dict) or not isinstance(board.get("id"), str):
                raise BadPayload(f"Trello sent a board without an id ({ref})", source="trello")
            self._boards[ref] = board
        return self._boards[ref]

    def _list_id(self, board: dict[str, Any], name: str) -> str:
        now = self.api.clock()
        read_at = self._lists_read.get(board["id"])
        lists = self._lists.get(board["id"])
        if read_at is None or (now - read_at).total_seconds() > LIST_CACHE_SECONDS:
            lists = None  # an archived list still takes cards: never trust an old answer for long
        if lists is None or name not in lists:
            rows = self.api.get(f"/boards/{board['id']}/lists", f"read the lists of {_board_name(board)}",
                                {"filter": "open", "fields": "id,name"})
            if not isinstance(rows, list):
                raise BadPayload("Trello sent a list of lists that is not a list", source="trello")
            lists = {str(r["name"]): str(r["id"]) for r in rows if isinstance(r, dict) and "id" in r}
            self._lists[board["id"]] = lists
            self._lists_read[board["id"]] = now
        if name not in lists:
            shown = ", ".join(f"'{one_line(n, 40)}'" for n in lists) or "none"
            raise ValidationFailed(f"{_board_name(board)} has no open list '{one_line(name, 60)}' (its lists: {shown}); "
                                   "fix the customer's backlog_list, then retry", source="trello")
        return lists[name]


def _links(params: dict[str, Any]) -> list[str]:
    links = params.get("links") or {}
    if not isinstance(links, dict):
        return []
    return [str(u) for u in links.values() if isinstance(u, str) and u.startswith(("https://", "http://"))]


def _title(action: Action) -> str:
    title = " ".join(str(action.params.get("title") or action.summary or "Support request").split())
    return title[:500] or "Support request"


def _board_name(board: dict[str, Any]) -> str:
    return f"the Trello board {one_line(str(board.get('name') or board.get('id')), 60)}"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _result(card: Any, board: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(card, dict) or not isinstance(card.get("id"), str):
        raise BadPayload("Trello sent a card without an id", source="trello")
    url = str(card.get("url") or card.get("shortUrl") or "")
    short = str(card.get("shortLink") or "")
    return {"created": {"board": board["id"], "card": card["id"], "short_link": short, "url": url},
            "url": url, "ref": f"Trello card {short or card['id']}"}
