"""Jira JSON → :class:`SourceItem` and :class:`TimelineEvent` (pure functions).

* An issue becomes an item ``jira:<site host>/<KEY-1>``: summary, description (ADF rendered to
  text), reporter, assignee (account id), labels, ``state`` ``closed`` when its status is in the
  *done* category, ``closed_at`` its resolution date; status, status category, priority, issue
  type, components and resolution go to ``raw`` (``raw["pending"]``: the status is one of
  ``jira.pending_statuses``). Slack permalinks in the description or in remote links become links.
* A comment becomes a ``COMMENT`` event (``jira-comment:<host>/<id>``), or a ``NOTE`` when it is
  a Jira Service Management internal note (``jsdPublic: false``, ``data["internal"] = True``):
  a note never counts as a response to the requester. A comment idqueue wrote carries the
  ``idqueue`` property; its ``action``/``automation``/``actor`` become ``data["idqueue_action"]``,
  ``["idqueue_automation"]`` and ``["idqueue_actor"]``, as GitHub's hidden marker does.
* A changelog entry gives ``ASSIGNED``/``UNASSIGNED`` (field ``assignee``), ``CLOSED``/``REOPENED``
  (``resolution`` set or cleared), ``PENDING``/``RESUMED`` (status into or out of a pending status),
  ``BACKLOG`` (status into the ``jira.transitions["backlog"]`` status) and ``LABELED``/``UNLABELED``
  (labels, and a priority change as its ``priority:Pn`` label: see :mod:`.fold`).
* A request's *backlog item* (the issue idqueue created when it backlogged a Slack or email
  request, ``backlog_item=True``; see :mod:`.fold`) links to that request (the ``request`` of
  its ``idqueue`` property), its comments are ``NOTE`` events (the requester does not see the
  backlog project) and its changelog only ``EDITED`` events (status moves, with the new status in
  ``data["backlog_state"]``, and assignments): they never change the request's status or
  assignee.
"""

from __future__ import annotations

import re
import urllib.parse
from datetime import UTC, datetime
from typing import Any

from idqueue.config import Settings
from idqueue.domain.models import EventKind, Person, SourceItem, SourceKind, TimelineEvent
from idqueue.integrations.github.convert import slack_links
from idqueue.integrations.jira.adf import to_text
from idqueue.integrations.jira.fold import priority_label

KIND = SourceKind("jira")
ACTION_PROPERTY = "idqueue"
PRIORITY_PROPERTY = "idqueue.priority"
"""The issue property idqueue writes with each priority it sets (``{"name": "Medium"}``): Jira's
default priority means "nobody chose one" unless this records that a triager chose it."""
"""The comment or issue property that carries an outbox action id (``{"action": id}``)."""
INTERNAL_PROPERTY = "sd.public.comment"
"""Jira Service Management's comment property: ``{"internal": true}`` makes an internal note."""
_NOT_PLANNED = {"won't do", "won't fix", "declined", "cannot reproduce", "duplicate", "not a bug"}


def jira_id(host: str, key: str) -> str:
    """The item id of an issue: ``jira:<site host>/<KEY-1>``."""
    return f"jira:{host}/{key}"


_KEY = r"[A-Z][A-Z0-9_]{1,9}-[1-9][0-9]{0,6}"
_BROWSE = re.compile(r"https?://(?P<host>[A-Za-z0-9.-]+)(?::\d+)?/browse/(?P<key>" + _KEY + r")\b")


def jira_refs(text: str, settings: Settings) -> list[str]:
    """Jira item ids for the issues a text refers to: ``https://<site>/browse/KEY-1`` links to the
    configured site, and bare keys ``KEY-1`` of the configured projects (``jira.project``,
    ``jira.backlog_project``). For a Slack message that names its Jira issue (the two homes link).

    Args:
        text: the message text.
        settings: the Jira site and projects.

    Returns:
        ``jira:<host>/<KEY-1>`` ids, first mention first, no duplicates; none when Jira is not
        configured.
    """
    base = settings.jira.web_url or settings.jira.base_url
    if not base or not text:
        return []
    host = urllib.parse.urlsplit(base).hostname or ""
    found: list[str] = []
    for m in _BROWSE.finditer(text):
        if m["host"].lower() == host.lower():
            found.append(jira_id(host, m["key"]))
    projects = {p.upper() for p in (settings.jira.project, settings.jira.backlog_project) if p}
    if projects:
        for m in re.finditer(r"(?<![\w/-])(" + _KEY + r")(?![\w-])", text):
            if m.group(1).rsplit("-", 1)[0] in projects:
                found.append(jira_id(host, m.group(1)))
    return list(dict.fromkeys(found))


def parse_time(value: Any) -> datetime | None:
    """Jira's ``2024-03-11T15:30:00.000+0000`` (or any ISO 8601) as aware UTC; None if unusable."""
    if not isinstance(value, str) or not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(value, fmt).astimezone(UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _name(value: Any) -> str | None:
    name = _obj(value).get("name")
    return str(name) if isinstance(name, str) else None


def _is_bot(user: dict[str, Any], settings: Settings) -> bool:
    return user.get("accountType") == "app" or user.get("accountId") in settings.jira.bot_accounts


def person(user: Any, settings: Settings) -> Person | None:
    """A Jira user as a :class:`Person` (id: the account id)."""
    user = _obj(user)
    account = user.get("accountId") or user.get("name") or user.get("key")
    if not isinstance(account, str) or not account:
        return None
    return Person(account, str(user.get("displayName") or account), is_bot=_is_bot(user, settings))


def issue_marker(raw: dict[str, Any]) -> dict[str, Any]:
    """The issue's ``idqueue`` property (set when idqueue created it; ``{}`` otherwise), as a
    search returns it when asked for ``properties``."""
    props = raw.get("properties")
    value = props.get(ACTION_PROPERTY) if isinstance(props, dict) else None
    return value if isinstance(value, dict) and isinstance(value.get("action"), str) else {}


def issue_to_item(raw: dict[str, Any], host: str, web_base: str, settings: Settings,
                  *, remote_urls: list[str] | None = None, backlog_item: bool = False) -> SourceItem:
    """Convert one issue (search or issue answer, with fields) into a :class:`SourceItem`.

    Args:
        raw: the issue object.
        host: the site's host (for the id).
        web_base: the site URL (for the ``/browse/KEY`` link).
        settings: pending statuses, bot accounts.
        remote_urls: the URLs of the issue's remote links (Slack permalinks there link the homes).
        backlog_item: the issue is a request's backlog item (``raw["backlog_item"]``); it links
            to the request its ``idqueue`` property names.

    Raises:
        KeyError, TypeError, ValueError: the object lacks ``key`` or ``fields.created``.
    """
    key = str(raw["key"])
    f = _obj(raw.get("fields"))
    created = parse_time(f.get("created"))
    if created is None:
        raise ValueError(f"issue {key} without created")
    status = _obj(f.get("status"))
    category = str(_obj(status.get("statusCategory")).get("key") or "")
    status_name = str(status.get("name") or "")
    resolution = _name(f.get("resolution"))
    body = to_text(f.get("description"))
    closed = category == "done"
    assignee = person(f.get("assignee"), settings)
    links = slack_links(body)
    for url in remote_urls or []:
        links.extend(x for x in slack_links(url) if x not in links)
    pending = {s.lower() for s in settings.jira.pending_statuses}
    marker = issue_marker(raw)
    extra: dict[str, Any] = {}
    if backlog_item:
        extra = {"backlog_item": True, "idqueue_action": marker.get("action")}
        request = marker.get("request")
        if isinstance(request, str) and request and request not in links:
            links.insert(0, request)
    return SourceItem(
        id=jira_id(host, key),
        source=KIND,
        title=str(f.get("summary") or ""),
        body=body,
        url=f"{web_base.rstrip('/')}/browse/{key}",
        created_at=created,
        updated_at=parse_time(f.get("updated")) or created,
        requester=person(f.get("reporter"), settings),
        state="closed" if closed else "open",
        state_reason=(("not_planned" if (resolution or "").lower() in _NOT_PLANNED else "completed")
                      if closed else None),
        closed_at=parse_time(f.get("resolutiondate")) if closed else None,
        assignees=[assignee.id] if assignee else [],
        labels=[str(x) for x in f.get("labels") or [] if isinstance(x, str)],
        links=links,
        raw={
            "key": key,
            "site": host,
            "status": status_name,
            "status_category": category,
            "pending": status_name.lower() in pending,
            "priority": _name(f.get("priority")),
            "chosen_priority": _chosen_priority(raw),
            "issue_type": _name(f.get("issuetype")),
            "components": [n for n in (_name(c) for c in f.get("components") or []) if n],
            "resolution": resolution,
            **extra,
        },
    )


def _chosen_priority(raw: dict[str, Any]) -> str | None:
    """The priority name idqueue last set on the issue (its ``idqueue.priority`` property)."""
    props = raw.get("properties")
    value = props.get(PRIORITY_PROPERTY) if isinstance(props, dict) else None
    name = value.get("name") if isinstance(value, dict) else None
    return name if isinstance(name, str) and name else None


def _comment_properties(raw: dict[str, Any]) -> dict[str, Any]:
    props = raw.get("properties")
    if not isinstance(props, list):
        return {}
    return {str(p.get("key")): p.get("value") for p in props if isinstance(p, dict)}


def marker_value(action_id: str, *, automation: bool = False, actor: Any = None,
                 request: str | None = None) -> dict[str, Any]:
    """The ``idqueue`` property value a writer attaches: the action id, whether it is one of
    idqueue's automatic messages, the roster key of who sent it through idqueue, and (on a
    backlog issue) the id of the request it was created for."""
    value: dict[str, Any] = {"action": action_id}
    if request:
        value["request"] = request
    if automation:
        value["automation"] = True
    if isinstance(actor, str) and actor:
        value["actor"] = actor
    return value


def marker_data(value: Any) -> dict[str, Any]:
    """The event ``data`` keys for an ``idqueue`` property value (as for GitHub's hidden marker):
    ``idqueue_action``, ``idqueue_automation`` (not a human response), ``idqueue_actor``."""
    value = _obj(value)
    data: dict[str, Any] = {}
    if isinstance(value.get("action"), str):
        data["idqueue_action"] = value["action"]
    if value.get("automation") is True:
        data["idqueue_automation"] = True
    if isinstance(value.get("actor"), str) and value["actor"]:
        data["idqueue_actor"] = value["actor"]
    return data


def is_internal(raw: dict[str, Any]) -> bool:
    """Whether a comment is a JSM internal note (``jsdPublic: false`` or the property)."""
    if raw.get("jsdPublic") is False:
        return True
    return _obj(_comment_properties(raw).get(INTERNAL_PROPERTY)).get("internal") is True


def comment_to_event(raw: dict[str, Any], item_id: str, host: str, web_url: str | None,
                     settings: Settings, *, backlog_item: bool = False) -> TimelineEvent:
    """Convert one comment into a ``COMMENT`` (public) or ``NOTE`` (internal, or on a backlog
    item) event.

    Raises:
        KeyError, TypeError, ValueError: the object lacks ``id`` or ``created``.
    """
    created = parse_time(raw.get("created"))
    if created is None:
        raise ValueError("comment without created")
    updated = parse_time(raw.get("updated")) or created
    author = person(raw.get("author"), settings)
    internal = is_internal(raw) or backlog_item
    data: dict[str, Any] = {"edited": updated != created, "internal": internal}
    data.update(marker_data(_comment_properties(raw).get(ACTION_PROPERTY)))
    cid = str(raw["id"])
    return TimelineEvent(
        uid=f"jira-comment:{host}/{cid}",
        item_id=item_id,
        kind=EventKind.NOTE if internal else EventKind.COMMENT,
        at=created,
        actor_id=author.id if author else None,
        actor_name=author.name if author else None,
        body=to_text(raw.get("body")),
        url=f"{web_url}?focusedCommentId={cid}" if web_url else None,
        source=KIND,
        is_bot=author.is_bot if author else False,
        data=data,
    )


def history_to_events(raw: dict[str, Any], item_id: str, host: str, settings: Settings, *,
                      backlog_item: bool = False) -> list[TimelineEvent]:
    """Convert one changelog entry into events (see the module docstring).

    Raises:
        KeyError, TypeError, ValueError: the entry lacks ``id`` or ``created``.
    """
    at = parse_time(raw.get("created"))
    if at is None:
        raise ValueError("changelog entry without created")
    if backlog_item:
        return _backlog_history(raw, item_id, host, at, settings)
    actor = person(raw.get("author"), settings)
    pending = {s.lower() for s in settings.jira.pending_statuses}
    backlog = (settings.jira.transitions.get("backlog") or "").lower()
    out: list[TimelineEvent] = []

    def add(index: str, kind: EventKind, **data: Any) -> None:
        out.append(TimelineEvent(
            uid=f"jira-history:{host}/{raw['id']}/{index}", item_id=item_id, kind=kind, at=at,
            actor_id=actor.id if actor else None, actor_name=actor.name if actor else None,
            source=KIND, is_bot=actor.is_bot if actor else False, data=data))

    for n, item in enumerate(raw.get("items") or []):
        if not isinstance(item, dict):
            continue
        fld = str(item.get("fieldId") or item.get("field") or "").lower()
        old, new = item.get("fromString"), item.get("toString")
        if fld == "assignee":
            if item.get("to"):
                add(f"{n}", EventKind.ASSIGNED, assignee=item.get("to"))
            else:
                add(f"{n}", EventKind.UNASSIGNED, assignee=item.get("from"))
        elif fld == "resolution":
            add(f"{n}", EventKind.CLOSED if new else EventKind.REOPENED, resolution=new)
        elif fld == "status":
            to_low, from_low = str(new or "").lower(), str(old or "").lower()
            if to_low in pending:
                add(f"{n}:pending", EventKind.PENDING, status=new)
            elif from_low in pending:
                add(f"{n}:resumed", EventKind.RESUMED, status=new)
            if backlog and to_low == backlog:
                add(f"{n}:backlog", EventKind.BACKLOG, status=new)
        elif fld == "priority":
            # As GitHub's ``priority:Pn`` labels: a manual priority counts from when it was set.
            for sign, name, kind in (("-", old, EventKind.UNLABELED), ("+", new, EventKind.LABELED)):
                label = priority_label(name)
                if label:
                    add(f"{n}:{sign}{label}", kind, label=label)
        elif fld == "labels":
            before, after = set(str(old or "").split()), set(str(new or "").split())
            for label in sorted(after - before):
                add(f"{n}:+{label}", EventKind.LABELED, label=label)
            for label in sorted(before - after):
                add(f"{n}:-{label}", EventKind.UNLABELED, label=label)
    return out


def _backlog_history(raw: dict[str, Any], item_id: str, host: str, at: datetime,
                     settings: Settings) -> list[TimelineEvent]:
    """A backlog item's changelog entry as ``EDITED`` events: status moves and assignments only."""
    actor = person(raw.get("author"), settings)
    out: list[TimelineEvent] = []
    for n, item in enumerate(raw.get("items") or []):
        if not isinstance(item, dict):
            continue
        fld = str(item.get("fieldId") or item.get("field") or "").lower()
        old, new = item.get("fromString"), item.get("toString")
        data: dict[str, Any] = {"field": fld}
        if fld == "status":
            body = f"moved the backlog issue from {old or '?'} to {new or '?'}"
            data.update(backlog_state=new, from_state=old)
        elif fld == "assignee":
            body = f"assigned the backlog issue to {new}" if item.get("to") else "unassigned the backlog issue"
            data["assignee"] = item.get("to")
        else:
            continue
        out.append(TimelineEvent(
            uid=f"jira-history:{host}/{raw['id']}/{n}", item_id=item_id, kind=EventKind.EDITED, at=at,
            actor_id=actor.id if actor else None, actor_name=actor.name if actor else None, body=body,
            source=KIND, is_bot=actor.is_bot if actor else False, data=data))
    return out
