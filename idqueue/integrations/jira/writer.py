"""Jira writes for the outbox (target ``jira``), over the same httpx layer as the source.

What each action does (``params["key"]`` is the issue key, e.g. ``ID-12``):

* ``reply``: a comment (ADF on Cloud, plain text on Server/DC); ``params["internal"]`` makes it a
  Jira Service Management internal note (property ``sd.public.comment`` ``{"internal": true}``)
  instead of a reply the requester sees;
* ``assign`` (``params["account"]``: a Jira Cloud account id, or a Server/DC user name) and
  ``unassign``;
* ``pending``, ``resume``, ``close``, ``reopen``, ``backlog``: a workflow transition, found among
  the issue's transitions by the target in ``jira.transitions[<verb>]`` (or ``params["to"]``): a
  status name, or ``category:<key>`` for the first transition into that status category. Ids are
  never configured: workflows differ per project;
* ``set_priority`` (``params["priority"]``, a priority name), ``add_labels``/``remove_labels``
  (``params["labels"]``);
* ``create_issue``: a backlog issue in ``params["project"]`` (default ``jira.backlog_project``,
  then ``jira.project``) with ``params["title"]`` and the action's text, then a remote link back to
  ``params["link"]`` (``{"url", "title"}``, e.g. the Slack thread).

Exactly once: a comment and a created issue carry the entity property ``idqueue`` =
``{"action": <action id>}`` (a created issue also names its ``"request"``, which the source reads
back to link it) (plus ``"automation": true`` for idqueue's automatic messages and
``"actor"``, the roster key of who sent it, which the source reads back), written *in the same request* that creates them (Jira's create
bodies take ``properties``), so one exists only with its marker. :meth:`JiraWriter.reconcile`
looks for it — the issue's comments newest first back to ``since``, or the backlog project's
issues created since ``since`` by this account — before any resend; the remote link uses the
Slack thread as ``globalId`` (Jira updates rather than duplicates a link with the same one), and a
found issue gets its link there. Assignments, transitions into a status the issue is already in,
priorities and labels are states, safe to repeat. :func:`~idqueue.integrations.base.before_write`
is called right before every write; a timeout is :class:`~idqueue.integrations.base.TimedOut`;
nothing is retried here (the dispatcher decides).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from idqueue.config import Settings
from idqueue.domain.actions import Action, ActionKind
from idqueue.integrations.base import (
    BadPayload,
    ConflictError,
    ValidationFailed,
    before_write,
)
from idqueue.integrations.jira.adf import from_text
from idqueue.integrations.jira.api import SOURCE, JiraApi
from idqueue.integrations.jira.convert import (
    ACTION_PROPERTY,
    INTERNAL_PROPERTY,
    PRIORITY_PROPERTY,
    is_internal,
    marker_value,
    parse_time,
)
from idqueue.integrations.jira.cursor import zone
from idqueue.safety import one_line

__all__ = ["JiraWriter"]

_TRANSITION_VERBS = {
    ActionKind.PENDING: "pending", ActionKind.RESUME: "resume", ActionKind.CLOSE: "close",
    ActionKind.REOPEN: "reopen", ActionKind.BACKLOG: "backlog",
}


class JiraWriter:
    """Carries outbox actions to Jira.

    Args:
        settings: the ``jira`` section (site, credentials, transitions, backlog project).
        client: an httpx client (tests); built with ``timeout`` otherwise.
        timeout: HTTP timeout in seconds.
        clock: the clock (rate-limit ``until`` times).
    """

    target = "jira"

    def __init__(self, settings: Settings, *, client: httpx.Client | None = None, timeout: float = 20.0,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))
        self.api = JiraApi(settings, client=client, timeout=timeout, clock=self._clock)
        self._me: dict[str, Any] | None = None

    def close(self) -> None:
        """Release the HTTP client."""
        self.api.close()

    # ------------------------------------------------------------------ entry points
    def reconcile(self, action: Action, *, since: datetime) -> dict[str, Any] | None:
        """Find this action's comment or created issue among those made since ``since``.

        Returns:
            The result to record when it is in Jira; None when it is not, or for the kinds
            that are safe to repeat.

        Raises:
            SourceError: the look-up failed (the action is retried later).
        """
        if action.kind is ActionKind.REPLY:
            return self._find_comment(action, since)
        if action.kind is ActionKind.CREATE_ISSUE:
            return self._find_created(action, since)
        return None

    def send(self, action: Action, *, maybe_sent: bool) -> dict[str, Any]:
        """Carry out one action.

        Args:
            action: the action.
            maybe_sent: a previous attempt may have reached Jira (it was looked for and not found).

        Raises:
            SourceError: a mapped failure (transient or permanent), or ConflictError.
        """
        handlers: dict[ActionKind, Callable[[Action, bool], dict[str, Any]]] = {
            ActionKind.REPLY: self._comment,
            ActionKind.ASSIGN: self._assign,
            ActionKind.UNASSIGN: self._unassign,
            ActionKind.SET_PRIORITY: self._priority,
            ActionKind.ADD_LABELS: self._labels,
            ActionKind.REMOVE_LABELS: self._labels,
            ActionKind.CREATE_ISSUE: self._create_issue,
            **{kind: self._transition for kind in _TRANSITION_VERBS},
        }
        handler = handlers.get(action.kind)
        if handler is None:
            raise ValidationFailed(f"Jira cannot carry out a {action.kind.value} action", source=SOURCE)
        return handler(action, maybe_sent)

    # ------------------------------------------------------------------ helpers
    def _key(self, action: Action) -> str:
        key = action.params.get("key")
        if not isinstance(key, str) or not key:
            raise ValidationFailed(f"the {action.kind.value} action names no Jira issue", source=SOURCE)
        return key

    def _issue(self, key: str, *fields: str) -> dict[str, Any]:
        data = self.api.call("GET", f"issue/{key}", f"read {key}", params={"fields": ",".join(fields)})
        if not isinstance(data, dict) or not isinstance(data.get("fields"), dict):
            raise BadPayload(f"Jira sent an unreadable issue {key}", source=SOURCE)
        fields_: dict[str, Any] = data["fields"]
        return fields_

    def _assignee(self, account: str | None) -> dict[str, Any]:
        """The assignee body: Cloud names people by ``accountId``, Server/DC by user ``name``."""
        return {"accountId": account} if self.api.version == "3" else {"name": account}

    def _body(self, text: str) -> Any:
        return from_text(text) if self.api.version == "3" else text

    def _myself(self) -> dict[str, Any]:
        if self._me is None:
            me = self.api.call("GET", "myself", "read the Jira account")
            self._me = me if isinstance(me, dict) else {}
        return self._me

    # ------------------------------------------------------------------ comments
    def _comment(self, action: Action, maybe_sent: bool) -> dict[str, Any]:
        key = self._key(action)
        marker = marker_value(action.id, automation=action.automation, actor=action.params.get("actor"))
        properties = [{"key": ACTION_PROPERTY, "value": marker}]
        if action.params.get("internal"):
            properties.append({"key": INTERNAL_PROPERTY, "value": {"internal": True}})
        body = {"body": self._body(action.text or ""), "properties": properties}
        before_write()
        raw = self.api.call("POST", f"issue/{key}/comment", f"comment on {key}", body=body)
        return _comment_result(raw, key, self.api.browse_url(key))

    def _find_comment(self, action: Action, since: datetime) -> dict[str, Any] | None:
        """The action's comment among the issue's, newest first, back to ``since``."""
        key = self._key(action)
        start = 0
        while True:
            page = self.api.call("GET", f"issue/{key}/comment", f"look for an earlier comment on {key}",
                                 params={"orderBy": "-created", "expand": "properties", "startAt": start,
                                         "maxResults": 100})
            rows = [c for c in (page or {}).get("comments") or [] if isinstance(c, dict)]
            for raw in rows:
                props = {p.get("key"): p.get("value") for p in raw.get("properties") or [] if isinstance(p, dict)}
                marker = props.get(ACTION_PROPERTY)
                if isinstance(marker, dict) and marker.get("action") == action.id:
                    return {**_comment_result(raw, key, self.api.browse_url(key)), "reconciled": True}
            start += len(rows)
            oldest = parse_time(rows[-1].get("created")) if rows else None
            if not rows or start >= int((page or {}).get("total") or 0) or (oldest and oldest < since):
                return None

    # ------------------------------------------------------------------ assignment
    def _assign(self, action: Action, maybe_sent: bool) -> dict[str, Any]:
        key = self._key(action)
        account = action.params.get("account")
        if not isinstance(account, str) or not account:
            raise ValidationFailed(f"no Jira account to assign {key} to (roster: jira = <accountId>)",
                                   source=SOURCE)
        current = _account(self._issue(key, "assignee").get("assignee"))
        if current == account:
            return {"key": key, "assignee": account, "reconciled": True}
        expected = action.params.get("expected_assignee", current)
        if current is not None and current != expected and not action.params.get("force"):
            raise ConflictError(f"{key} was assigned to someone else ({current}) since this was queued",
                                source=SOURCE)
        before_write()
        self.api.call("PUT", f"issue/{key}/assignee", f"assign {key}", body=self._assignee(account))
        return {"key": key, "assignee": account}

    def _unassign(self, action: Action, maybe_sent: bool) -> dict[str, Any]:
        key = self._key(action)
        if _account(self._issue(key, "assignee").get("assignee")) is None:
            return {"key": key, "assignee": None, "reconciled": True}
        before_write()
        self.api.call("PUT", f"issue/{key}/assignee", f"unassign {key}", body=self._assignee(None))
        return {"key": key, "assignee": None}

    # ------------------------------------------------------------------ fields
    def _priority(self, action: Action, maybe_sent: bool) -> dict[str, Any]:
        key = self._key(action)
        name = str(action.params.get("priority") or "")
        chosen = name if action.params.get("chosen", True) else None
        before_write()
        self.api.call("PUT", f"issue/{key}", f"set the priority of {key}",
                      body={"fields": {"priority": {"name": name}}})
        # Recorded, so Jira's default priority chosen on purpose (P3 → Medium) still reads as P3
        # on the next poll and in every other idqueue; a cleared override records no choice.
        self.api.call("PUT", f"issue/{key}/properties/{PRIORITY_PROPERTY}", f"record the priority of {key}",
                      body={"name": chosen})
        return {"key": key, "priority": name, "chosen": chosen}

    def _labels(self, action: Action, maybe_sent: bool) -> dict[str, Any]:
        key = self._key(action)
        verb = "add" if action.kind is ActionKind.ADD_LABELS else "remove"
        labels = [str(x) for x in action.params.get("labels") or [] if str(x)]
        before_write()
        self.api.call("PUT", f"issue/{key}", f"{verb} labels on {key}",
                      body={"update": {"labels": [{verb: label} for label in labels]}})
        return {"key": key, verb: labels}

    # ------------------------------------------------------------------ transitions
    def _transition(self, action: Action, maybe_sent: bool) -> dict[str, Any]:
        key = self._key(action)
        verb = _TRANSITION_VERBS[action.kind]
        target = str(action.params.get("to") or self.settings.jira.transitions.get(verb) or "")
        if not target:
            raise ValidationFailed(f"no Jira status configured for {verb} (jira.transitions.{verb})", source=SOURCE)
        status = self._issue(key, "status").get("status") or {}
        if reaches(status, target):
            if action.kind is ActionKind.CLOSE and not (maybe_sent or action.params.get("force")):
                raise ConflictError(f"{key} is already {status.get('name')} (closed by someone else)", source=SOURCE)
            return {"key": key, "status": status.get("name"), "reconciled": True}
        data = self.api.call("GET", f"issue/{key}/transitions", f"read the transitions of {key}")
        transitions = [t for t in (data or {}).get("transitions") or [] if isinstance(t, dict)]
        chosen = next((t for t in transitions if reaches(t.get("to") or {}, target)), None)
        if chosen is None:
            names = ", ".join(one_line(str((t.get("to") or {}).get("name")), 40) for t in transitions) or "none"
            raise ValidationFailed(f"{key} has no transition to {target} for {verb} (it can go to: {names})",
                                   source=SOURCE)
        before_write()
        self.api.call("POST", f"issue/{key}/transitions", f"move {key} to {target}",
                      body={"transition": {"id": str(chosen.get("id"))}})
        return {"key": key, "status": (chosen.get("to") or {}).get("name"), "transition": chosen.get("name")}

    # ------------------------------------------------------------------ backlog issues
    def _project(self, action: Action) -> str:
        project = action.params.get("project") or self.settings.jira.backlog_project or self.settings.jira.project
        if not project:
            raise ValidationFailed("no Jira backlog project configured (IDQUEUE_JIRA__BACKLOG_PROJECT)", source=SOURCE)
        return str(project)

    def _create_issue(self, action: Action, maybe_sent: bool) -> dict[str, Any]:
        p = action.params
        link = _obj(p.get("link"))
        text = action.text or ""
        if link.get("url") and str(link["url"]) not in text:
            text = f"{text}\n\nFrom: {link['url']}".strip()
        fields = {"project": {"key": self._project(action)}, "summary": one_line(str(p.get("title") or ""), 250),
                  "issuetype": {"name": str(p.get("issue_type") or self.settings.jira.backlog_issue_type)},
                  "description": self._body(text), "labels": [str(x) for x in p.get("labels") or [] if str(x)]}
        marker = marker_value(action.id, request=action.request_id)
        body = {"fields": fields, "properties": [{"key": ACTION_PROPERTY, "value": marker}]}
        before_write()
        raw = self.api.call("POST", "issue", f"create an issue in {fields['project']['key']}", body=body)
        if not isinstance(raw, dict) or not isinstance(raw.get("key"), str):
            raise BadPayload("Jira sent a created issue without a key", source=SOURCE)
        self._link(raw["key"], link)
        return _created_result(raw["key"], self.api.browse_url(raw["key"]))

    def _link(self, key: str, link: dict[str, Any]) -> None:
        """The remote link back (idempotent: its ``globalId`` is the linked URL)."""
        if not link.get("url"):
            return
        url = str(link["url"])
        body = {"globalId": url, "object": {"url": url, "title": one_line(str(link.get("title") or url), 250)}}
        before_write()
        self.api.call("POST", f"issue/{key}/remotelink", f"link {key} back to its Slack thread", body=body)

    def _find_created(self, action: Action, since: datetime) -> dict[str, Any] | None:
        """The action's issue among this account's issues created since ``since`` in the project."""
        project = self._project(action)
        stamp = since.astimezone(zone(self._myself().get("timeZone"))).strftime("%Y-%m-%d %H:%M")
        jql = f'project = {project} AND reporter = currentUser() AND created >= "{stamp}" ORDER BY created DESC'
        token: str | None = None
        start = 0
        cloud = self.api.version == "3"
        while True:
            body: dict[str, Any] = {"jql": jql, "maxResults": 100, "fields": ["summary"], "properties": [ACTION_PROPERTY]}
            if token:
                body["nextPageToken"] = token
            if not cloud:
                body["startAt"] = start
            page = self.api.call("POST", "search/jql" if cloud else "search", f"look for an earlier issue in {project}",
                                 body=body)
            rows = (page or {}).get("issues") or []
            for raw in rows:
                marker = ((raw.get("properties") or {}).get(ACTION_PROPERTY) if isinstance(raw, dict) else None)
                if isinstance(marker, dict) and marker.get("action") == action.id:
                    key = str(raw["key"])
                    self._link(key, _obj(action.params.get("link")))
                    return {**_created_result(key, self.api.browse_url(key)), "reconciled": True}
            if not cloud:
                start += len(rows)
                if not rows or start >= int((page or {}).get("total") or 0):
                    return None
                continue
            token = (page or {}).get("nextPageToken")
            if not token or (page or {}).get("isLast", True):
                return None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _account(user: Any) -> str | None:
    if isinstance(user, dict):
        account = user.get("accountId") or user.get("name")
        return str(account) if account else None
    return None


def reaches(status: dict[str, Any], target: str) -> bool:
    """Whether a status is the target (a name, or ``category:<key>``)."""
    if target.lower().startswith("category:"):
        category = (status.get("statusCategory") or {}).get("key")
        return str(category or "").lower() == target.split(":", 1)[1].strip().lower()
    return str(status.get("name") or "").lower() == target.lower()


def _comment_result(raw: Any, key: str, url: str) -> dict[str, Any]:
    if not isinstance(raw, dict) or "id" not in raw:
        raise BadPayload("Jira sent a comment without an id", source=SOURCE)
    cid = str(raw["id"])
    return {"comment": {"id": cid, "key": key, "url": f"{url}?focusedCommentId={cid}",
                        "created_at": raw.get("created"), "internal": is_internal(raw)}}


def _created_result(key: str, url: str) -> dict[str, Any]:
    return {"created": {"key": key, "url": url}, "url": url, "ref": key}
