"""Parsed mail → the domain's values: a thread's first message is a :class:`SourceItem`
(``email:<root Message-ID>``), every later message a :class:`TimelineEvent` (``email-msg:<id>``).

Mail from the support address or a roster member's ``email`` is the team's: a ``message`` event
whose ``actor_id`` is the sender's address (the roster's ``email`` field matches it), so the
first one is the first response. Auto-replies and bounces inside a thread are kept as bot events
(never a response, never the requester replying).
"""

from __future__ import annotations

import urllib.parse
from datetime import datetime
from typing import Any

from idqueue.domain.models import EventKind, Person, SourceItem, SourceKind, TimelineEvent
from idqueue.integrations.email.parse import ParsedMail

EMAIL = SourceKind("email")
BOT_REASONS = frozenset({"auto-reply", "bounce", "mailing list"})


def item_id(root: str) -> str:
    """The request id of a thread: ``email:<Message-ID of its first message>``."""
    return f"email:{root}"


def root_of(item: str) -> str:
    """The root Message-ID of an ``email:`` id (without angle brackets)."""
    return item.removeprefix("email:")


def event_uid(message_id: str) -> str:
    """The timeline uid of one message (the same in the inbox and the sent folder)."""
    return f"email-msg:{message_id}"


def mid_url(message_id: str) -> str:
    """An RFC 2392 ``mid:`` URL for a message (mail has no web address of its own)."""
    return "mid:" + urllib.parse.quote(message_id, safe="@.!$&'()*+,;=-_~")


def _extras(mail: ParsedMail, folder: str) -> dict[str, Any]:
    data: dict[str, Any] = {"message_id": mail.message_id, "folder": folder, "from": mail.sender}
    if mail.to:
        data["to"] = mail.to
    if mail.quoted_from is not None:
        data["quoted_from"] = mail.quoted_from
    if mail.attachments:
        data["attachments"] = [{"name": a.name, "type": a.type, "size": a.size} for a in mail.attachments]
    if mail.html_only:
        data["html_only"] = True
    if mail.notes:
        data["notes"] = mail.notes
    if mail.never_request:
        data["auto"] = mail.never_request
    return data


def to_item(mail: ParsedMail, root: str, *, at: datetime, folder: str) -> SourceItem:
    """The request's home: the thread's first message."""
    raw = _extras(mail, folder)
    raw["domain"] = mail.sender_domain
    return SourceItem(
        id=item_id(root),
        source=EMAIL,
        title=mail.subject or "(no subject)",
        body=mail.body,
        url=mid_url(mail.message_id),
        created_at=at,
        updated_at=at,
        requester=Person(id=mail.sender, name=mail.sender_name or mail.sender),
        raw=raw,
    )


def to_event(mail: ParsedMail, root: str, *, at: datetime, folder: str, team: bool) -> TimelineEvent:
    """A later message of the thread (a reply by the team or the requester, or an auto-reply)."""
    data = _extras(mail, folder)
    if team:
        data["team"] = True
    if mail.action_id:
        data["idqueue_action"] = mail.action_id
    return TimelineEvent(
        uid=event_uid(mail.message_id),
        item_id=item_id(root),
        kind=EventKind.MESSAGE,
        at=at,
        actor_id=mail.sender,
        actor_name=mail.sender_name or mail.sender,
        body=mail.body,
        url=mid_url(mail.message_id),
        source=EMAIL,
        is_bot=mail.never_request in BOT_REASONS,
        data=data,
    )


def sent_reply_event(*, item: str, message_id: str, text: str, at: datetime, sender: str,
                     sender_name: str, action_id: str, automation: bool = False) -> TimelineEvent:
    """The timeline event of a reply idqueue just sent, as the source will read it back.

    The outbox can add it to the store right after sending (the uid is the one the next poll
    upserts, so nothing is doubled).

    Args:
        item: the request's email item id (``email:<root>``).
        message_id: the reply's Message-ID (without brackets).
        text: the reply's text.
        at: when it was sent.
        sender: the address it was sent from (the support address).
        sender_name: the name shown.
        action_id: the outbox action that sent it.
        automation: sent by idqueue by itself (the assigned/closed messages).
    """
    data: dict[str, Any] = {"message_id": message_id, "team": True, "idqueue_action": action_id}
    if automation:
        data["idqueue_automation"] = True
    return TimelineEvent(
        uid=event_uid(message_id), item_id=item, kind=EventKind.MESSAGE, at=at, actor_id=sender.lower(),
        actor_name=sender_name or sender, body=text, url=mid_url(message_id), source=EMAIL, is_bot=False, data=data,
    )
