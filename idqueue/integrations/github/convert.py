"""GitHub payloads → :class:`SourceItem` / :class:`TimelineEvent`: pure functions, tested on
recorded payloads (issues, comments, issue events, Slack permalinks, idqueue's hidden marker)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from idqueue.config import Settings
from idqueue.domain.models import (
    EventKind,
    Person,
    SourceItem,
    SourceKind,
    TimelineEvent,
    github_id,
    parse_iso,
    slack_id,
)

# Slack permalinks: https://<ws>.slack.com/archives/C0123/p1712345678000100[?thread_ts=…&cid=…]
_SLACK_PERMALINK = re.compile(
    r"https?://[A-Za-z0-9.-]+\.slack\.com/archives/(?P<channel>[A-Z0-9]+)/p(?P<digits>\d{7,})"
    r"(?P<query>\?[^\s)<>|\]\"']*)?"
)


_THREAD_TS = re.compile(r"(?:^|[?&])thread_ts=(?P<ts>\d+\.\d+)")


# idqueue's hidden marker on the comments it posts: <!-- idqueue:action=ID automation=1 -->
_MARKER = re.compile(r"<!--\s*idqueue:(?P<attrs>[^>]*?)\s*-->")


_ISSUE_NUMBER = re.compile(r"/issues/(?P<number>\d+)/?$")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None


def _login(user: Any) -> str | None:
    if isinstance(user, dict) and isinstance(user.get("login"), str):
        return str(user["login"])
    return None


def _is_bot(user: Any, settings: Settings) -> bool:
    login = _login(user)
    if isinstance(user, dict) and user.get("type") == "Bot":
        return True
    bots = {b.lower() for b in settings.github.bot_logins}
    return login is not None and login.lower() in bots


def slack_links(text: str) -> list[str]:
    """Slack item ids (``slack:C…/ts``) for the Slack permalinks found in ``text``.

    A permalink's ``p1712345678000100`` becomes ts ``"1712345678.000100"`` (a dot six digits
    from the end, kept as a string). A permalink to a thread reply carries ``thread_ts``; the
    request is the thread's parent, so that ts wins.
    """
    found: list[str] = []
    for m in _SLACK_PERMALINK.finditer(text or ""):
        digits = m["digits"]
        ts = f"{digits[:-6]}.{digits[-6:]}"
        thread = _THREAD_TS.search(m["query"] or "")
        if thread:
            ts = thread["ts"]
        link = slack_id(m["channel"], ts)
        if link not in found:
            found.append(link)
    return found


_SAFE_KEY = re.compile(r"^[A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+)*$")


def marker(action_id: str, *, automation: bool = False, actor: str | None = None) -> str:
    """idqueue's hidden marker for a GitHub body: ``<!-- idqueue:action=ID -->``.

    The GitHub read source parses it back (``parse_marker``) so the comment is recognised as
    idqueue's, and a retry finds it to avoid posting twice.
    """
    parts = [f"action={action_id}"]
    if automation:
        parts.append("automation=1")
    if actor and _SAFE_KEY.match(actor):
        parts.append(f"actor={actor}")
    return f"<!-- idqueue:{' '.join(parts)} -->"


def parse_marker(body: str) -> dict[str, Any]:
    """The ``data`` keys for idqueue's hidden marker in a comment body, if any.

    ``<!-- idqueue:action=ID automation=1 actor=ana -->`` gives
    ``{"idqueue_action": "ID", "idqueue_automation": True, "idqueue_actor": "ana"}``.
    """
    m = _MARKER.search(body or "")
    if not m:
        return {}
    attrs = dict(
        part.split("=", 1) for part in m["attrs"].split() if "=" in part and part.split("=", 1)[0]
    )
    data: dict[str, Any] = {}
    if attrs.get("action"):
        data["idqueue_action"] = attrs["action"]
    if attrs.get("automation", "").lower() in ("1", "true", "yes"):
        data["idqueue_automation"] = True
    if attrs.get("actor"):
        data["idqueue_actor"] = attrs["actor"]
    return data


def issue_to_item(raw: dict[str, Any], repo: str, settings: Settings) -> SourceItem:
    """Convert one issue object (REST ``issue`` schema) into a :class:`SourceItem`.

    Raises:
        KeyError, TypeError, ValueError: the object lacks ``number`` or ``created_at``.
    """
    number = int(raw["number"])
    created = parse_time(raw["created_at"])
    if created is None:
        raise ValueError("issue without created_at")
    body = raw.get("body") or ""
    user = raw.get("user")
    login = _login(user) or "ghost"
    labels = []
    for label in raw.get("labels") or []:
        name = label.get("name") if isinstance(label, dict) else label
        if isinstance(name, str):
            labels.append(name)
    return SourceItem(
        id=github_id(repo, number),
        source=SourceKind("github"),
        title=str(raw.get("title") or ""),
        body=str(body),
        url=raw.get("html_url"),
        created_at=created,
        updated_at=parse_time(raw.get("updated_at")) or created,
        requester=Person(login, login, is_bot=_is_bot(user, settings)),
        state=str(raw.get("state") or "open"),
        state_reason=raw.get("state_reason"),
        closed_at=parse_time(raw.get("closed_at")),
        assignees=[a for a in (_login(u) for u in raw.get("assignees") or []) if a],
        labels=labels,
        links=slack_links(str(body)),
        raw={
            "number": number,
            "repo": repo,
            "comments": raw.get("comments", 0),
            "author_association": raw.get("author_association"),
        },
    )


def comment_issue_number(raw: dict[str, Any]) -> int:
    """The issue number a comment belongs to (from its ``issue_url``).

    Raises:
        ValueError: the URL does not end in ``/issues/<n>``.
    """
    m = _ISSUE_NUMBER.search(str(raw.get("issue_url") or ""))
    if not m:
        raise ValueError("comment without issue_url")
    return int(m["number"])


def comment_to_event(raw: dict[str, Any], repo: str, settings: Settings) -> TimelineEvent:
    """Convert one issue comment into a ``COMMENT`` :class:`TimelineEvent`.

    Raises:
        KeyError, TypeError, ValueError: the object lacks ``id``, ``issue_url`` or ``created_at``.
    """
    created = parse_time(raw["created_at"])
    if created is None:
        raise ValueError("comment without created_at")
    updated = parse_time(raw.get("updated_at")) or created
    body = str(raw.get("body") or "")
    user = raw.get("user")
    login = _login(user)
    data: dict[str, Any] = {"edited": updated != created}
    data.update(parse_marker(body))
    return TimelineEvent(
        uid=f"gh-comment:{int(raw['id'])}",
        item_id=github_id(repo, comment_issue_number(raw)),
        kind=EventKind.COMMENT,
        at=created,
        actor_id=login,
        actor_name=login,
        body=body,
        url=raw.get("html_url"),
        source=SourceKind("github"),
        is_bot=_is_bot(user, settings),
        data=data,
    )


_EVENT_KINDS = {
    "assigned": EventKind.ASSIGNED,
    "unassigned": EventKind.UNASSIGNED,
    "labeled": EventKind.LABELED,
    "unlabeled": EventKind.UNLABELED,
    "closed": EventKind.CLOSED,
    "reopened": EventKind.REOPENED,
}


def issue_event_to_events(
    raw: dict[str, Any], repo: str, settings: Settings, *, number: int | None = None
) -> list[TimelineEvent]:
    """Convert one issue event into zero, one or two :class:`TimelineEvent`.

    ``assigned/unassigned/labeled/unlabeled/closed/reopened`` map to their kinds; other events
    (mentioned, subscribed, renamed, …) give nothing. A pending label (``sla.pending_labels``)
    added or removed also gives a ``PENDING``/``RESUMED`` event (uid suffix ``:pending``) so the
    SLA clock pauses, and adding the backlog label a ``BACKLOG`` event (``:backlog``).

    Args:
        raw: the event object (the repo-wide list embeds its ``issue``).
        repo: ``owner/name``.
        settings: for bot logins, pending and backlog labels.
        number: the issue number when ``raw`` has no ``issue`` (per-issue lists).

    Raises:
        KeyError, TypeError, ValueError: the object lacks ``id`` or ``created_at``.
    """
    kind = _EVENT_KINDS.get(str(raw.get("event")))
    if kind is None:
        return []
    if number is None:
        number = int(raw["issue"]["number"])
    at = parse_time(raw["created_at"])
    if at is None:
        raise ValueError("event without created_at")
    event_id = int(raw["id"])
    actor = raw.get("actor")
    login = _login(actor)
    issue = raw.get("issue") if isinstance(raw.get("issue"), dict) else {}
    html = issue.get("html_url") if issue else None
    data: dict[str, Any] = {}
    label = ""
    if kind in (EventKind.ASSIGNED, EventKind.UNASSIGNED):
        data["assignee"] = _login(raw.get("assignee"))
    elif kind in (EventKind.LABELED, EventKind.UNLABELED):
        label = str((raw.get("label") or {}).get("name") or "")
        data["label"] = label
    elif kind is EventKind.CLOSED:
        data["state_reason"] = raw.get("state_reason")
    base = TimelineEvent(
        uid=f"gh-event:{event_id}",
        item_id=github_id(repo, number),
        kind=kind,
        at=at,
        actor_id=login,
        actor_name=login,
        url=f"{html}#event-{event_id}" if html else None,
        source=SourceKind("github"),
        is_bot=_is_bot(actor, settings),
        data=data,
    )
    out = [base]
    low = label.lower()
    if low and kind is EventKind.UNLABELED and low == (settings.github.label or "").lower():
        # Without its filter label the issue is no longer a request (the source retires it);
        # the flag lets the request say why.
        base.data["filter_label_removed"] = True
    if low and low in {p.lower() for p in settings.sla.pending_labels}:
        pending_kind = EventKind.PENDING if kind is EventKind.LABELED else EventKind.RESUMED
        out.append(_derived(base, f"{base.uid}:pending", pending_kind))
    if low and kind is EventKind.LABELED and low == settings.github.backlog_label.lower():
        out.append(_derived(base, f"{base.uid}:backlog", EventKind.BACKLOG))
    return out


def _derived(base: TimelineEvent, uid: str, kind: EventKind) -> TimelineEvent:
    return TimelineEvent(
        uid=uid, item_id=base.item_id, kind=kind, at=base.at, actor_id=base.actor_id,
        actor_name=base.actor_name, url=base.url, source=base.source, is_bot=base.is_bot,
        data=dict(base.data),
    )
