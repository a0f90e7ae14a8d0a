"""Trello cards and board actions as idqueue's items and timeline events (pure).

A backlog card is one more *home* of its request: a :class:`SourceItem` ``trello:<card id>``
that links to the request's item (the id in the card's footer, or the item that links to the
card), with the card's list as its *backlog state* (``raw["backlog_state"]``: "New Issues",
"Up next", "Recently Completed", or "archived"). Board actions become events on that item:

* ``createCard`` → ``backlog`` (the request went to the backlog there and then);
* ``updateCard`` with ``data.old.idList`` (a move) and with ``data.old.closed`` (archived or
  restored) → ``edited``, with the new state in ``data["backlog_state"]``;
* ``commentCard`` → ``comment``, marked ``data["internal"]`` (the requester does not see it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from idqueue.domain.models import EventKind, SourceItem, SourceKind, TimelineEvent, parse_iso
from idqueue.integrations.trello.marker import footer_of

__all__ = ["ARCHIVED", "CARD_FIELDS", "card_created_at", "card_item", "event_of", "trello_id"]

TRELLO = SourceKind("trello")
ARCHIVED = "archived"
CARD_FIELDS = "id,name,desc,url,shortLink,idList,idBoard,closed,dateLastActivity"
"""The card fields the reader asks for."""


def trello_id(card_id: str) -> str:
    """The item id of a card: ``trello:<card id>``."""
    return f"trello:{card_id}"


def card_created_at(card_id: str, fallback: datetime) -> datetime:
    """When a card was created: a Trello id starts with its creation time (8 hex digits)."""
    try:
        return datetime.fromtimestamp(int(card_id[:8], 16), UTC)
    except (ValueError, OverflowError, OSError):
        return fallback


def card_item(card: dict[str, Any], *, lists: dict[str, str], board: dict[str, Any], customer: str | None,
              linked_to: str | None, now: datetime) -> SourceItem:
    """A card as a source item.

    Args:
        card: the card object (:data:`CARD_FIELDS`).
        lists: list id → name on its board.
        board: the board object (``id``, ``name``).
        customer: the customer whose board it is.
        linked_to: the request item it belongs to, when known without the footer (a link).
        now: the clock (fallback times).
    """
    card_id = str(card["id"])
    desc = str(card.get("desc") or "")
    footer = footer_of(desc)
    body = desc
    links = [linked_to] if linked_to else []
    if footer is not None:
        cut = desc.rfind("\n\n---\nidqueue-request:")
        body = desc[:cut].rstrip() if cut >= 0 else desc
        links = list(dict.fromkeys([footer[0], *links]))
    list_name = lists.get(str(card.get("idList") or ""), "")
    closed = bool(card.get("closed"))
    state = ARCHIVED if closed else list_name
    created = card_created_at(card_id, now)
    return SourceItem(
        id=trello_id(card_id), source=TRELLO, title=str(card.get("name") or ""), body=body,
        url=str(card.get("url") or "") or None, created_at=created,
        updated_at=parse_iso(card.get("dateLastActivity")) or created, requester=None,
        state="closed" if closed else "open", links=links,
        raw={"backlog_state": state, "list": list_name, "board": str(board.get("id") or ""),
             "board_name": str(board.get("name") or ""), "customer": customer,
             "short_link": str(card.get("shortLink") or ""),
             "idqueue_action": footer[1] if footer else None},
    )


def event_of(action: dict[str, Any], *, lists: dict[str, str], card_url: str | None) -> TimelineEvent | None:
    """A board action on a card as a timeline event (None for the kinds idqueue does not show)."""
    data = action.get("data") or {}
    card = data.get("card") or {}
    if not isinstance(card, dict) or not isinstance(card.get("id"), str):
        return None
    kind = str(action.get("type") or "")
    old = data.get("old") or {}
    at = parse_iso(action.get("date"))
    if at is None:
        return None
    creator = action.get("memberCreator") or {}
    base: dict[str, Any] = {"action": kind, "card": card["id"]}
    if kind == "createCard":
        list_name = str((data.get("list") or {}).get("name") or "")
        event_kind, body, base["backlog_state"] = EventKind.BACKLOG, f"created the card in {list_name}", list_name
    elif kind == "updateCard" and "idList" in old:
        before = str((data.get("listBefore") or {}).get("name") or lists.get(str(old["idList"]), "?"))
        after = str((data.get("listAfter") or {}).get("name") or lists.get(str(card.get("idList")), "?"))
        event_kind, body = EventKind.EDITED, f"moved the card from {before} to {after}"
        base.update(backlog_state=after, from_state=before)
    elif kind == "updateCard" and "closed" in old:
        closed = bool(card.get("closed"))
        restored = str((data.get("list") or {}).get("name") or "")
        event_kind = EventKind.EDITED
        body = "archived the card" if closed else f"restored the card to {restored}"
        base["backlog_state"] = ARCHIVED if closed else restored
    elif kind == "commentCard":
        event_kind, body, base["internal"] = EventKind.COMMENT, str(data.get("text") or ""), True
    else:
        return None
    return TimelineEvent(
        uid=f"trello:{action.get('id')}", item_id=trello_id(card["id"]), kind=event_kind, at=at,
        actor_id=f"trello:{creator.get('id')}" if isinstance(creator, dict) and creator.get("id") else None,
        actor_name=str(creator.get("fullName") or creator.get("username") or "") or None if isinstance(creator, dict)
        else None,
        body=body, url=card_url, source=TRELLO, is_bot=False, data=base,
    )
