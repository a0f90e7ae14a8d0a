"""GitHub writes for the outbox, through PyGithub.

Every write is made safe to repeat:

* assignments and labels are set operations (adding what is there is a no-op; a 404 when
  removing an absent label means "already done");
* comments and new issues are not: they carry idqueue's hidden marker
  ``<!-- idqueue:action=ID -->``, and when a previous attempt may have reached GitHub (a crash,
  a lost response, a timeout, a paused sender) the dispatcher first calls :meth:`GitHubWriter.reconcile`,
  which looks for that marker among the comments (or issues) updated since the action's first
  attempt (GitHub's ``since``), newest first, and the action is not posted again if it is there;
* every request that changes something is preceded by the dispatcher's fence check
  (:func:`~idqueue.integrations.base.before_write`);
* closing and reopening are states (closing a closed issue is only a conflict when someone else
  closed it).

Before assigning, unassigning, moving to the backlog or closing, the writer re-reads the issue:
if someone else assigned or closed it since the action was queued, it raises
:class:`~idqueue.integrations.base.ConflictError` naming who did what, instead of overwriting.

PyGithub's own retries are off (``retry=None``: its default retries POSTs, which could post a
comment twice) and so is its throttling (it sleeps real time); the dispatcher retries and
throttles with its injected clock.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
from github import Auth, Github, GithubException

from idqueue.config import Settings
from idqueue.domain.actions import Action, ActionKind
from idqueue.domain.models import parse_iso
from idqueue.integrations.base import (
    AuthError,
    BadPayload,
    ConflictError,
    SourceError,
    TimedOut,
    Unavailable,
    ValidationFailed,
    before_write,
)
from idqueue.integrations.github.api import lower_headers, map_github_error
from idqueue.integrations.github.convert import marker
from idqueue.safety import one_line

__all__ = ["GitHubWriter"]

_LAST_PAGE = re.compile(r'[?&]page=(\d+)[^>]*>;\s*rel="last"')


def _marker_re(action_id: str) -> re.Pattern[str]:
    return re.compile(r"<!--\s*idqueue:[^>]*\baction=" + re.escape(action_id) + r"(?![\w-])")


def _marked_body(action: Action, *, automation: bool) -> str:
    """The action's text with idqueue's hidden marker at the end (a retry looks for it)."""
    body = (action.text or "").rstrip("\n")
    return f"{body}\n\n{marker(action.id, automation=automation, actor=action.params.get('actor'))}"


def _marked(action_id: str, items: list[Any]) -> dict[str, Any] | None:
    """The first listed comment or issue whose body carries the action's marker: the write landed."""
    pattern = _marker_re(action_id)
    for raw in items:
        if isinstance(raw, dict) and pattern.search(str(raw.get("body") or "")):
            return raw
    return None








class GitHubWriter:
    """Carries outbox actions to GitHub.

    Args:
        settings: token, API root, backlog settings.
        client: a prepared ``github.Github`` (tests); built from settings otherwise.
        timeout: HTTP timeout in seconds.
        clock: the clock (for rate-limit ``until`` times).
    """

    target = "github"

    def __init__(
        self,
        settings: Settings,
        *,
        client: Github | None = None,
        timeout: float = 20.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))
        if client is None:
            token = settings.github.token
            if token is None:
                raise AuthError("no GitHub token configured (IDQUEUE_GITHUB_TOKEN)", source="github")
            client = Github(
                base_url=settings.github.base_url.rstrip("/"),
                auth=Auth.Token(token.get_secret_value()),
                timeout=max(1, round(timeout)),  # PyGithub insists on whole seconds
                retry=None,
                per_page=100,
                seconds_between_requests=None,
                seconds_between_writes=None,
                lazy=True,
                user_agent="idqueue",
            )
        self._gh = client
        self._viewer: str | None = None

    def close(self) -> None:
        """Release the HTTP session."""
        try:
            self._gh.close()
        except Exception:
            pass

    # ------------------------------------------------------------------ entry point
    def reconcile(self, action: Action, *, since: datetime) -> dict[str, Any] | None:
        """Find a comment or created issue of this action among those updated since ``since``.

        Returns:
            The result to record when it is on GitHub; None when it is not, or for the kinds
            that are safe to repeat (assignments, labels, states).

        Raises:
            SourceError: the look-up failed (the action is retried later).
        """
        if action.kind not in (ActionKind.REPLY, ActionKind.CREATE_ISSUE):
            return None
        try:
            if action.kind is ActionKind.REPLY:
                return self._find_comment(action, since)
            return self._find_created(action, since)
        except GithubException as exc:
            raise map_github_error(exc, f"look for an earlier attempt to {_what(action)}", now=self._clock()) from None
        except requests.Timeout:
            raise TimedOut(f"GitHub timed out while looking for an earlier attempt to {_what(action)}",
                           source="github") from None
        except requests.RequestException as exc:
            raise Unavailable(f"cannot reach GitHub ({type(exc).__name__}) while looking for an earlier attempt "
                              f"to {_what(action)}", source="github") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise BadPayload(f"GitHub sent an unexpected answer while looking for an earlier attempt to "
                             f"{_what(action)}: {type(exc).__name__}", source="github") from None

    def send(self, action: Action, *, maybe_sent: bool) -> dict[str, Any]:
        """Carry out one action.

        Args:
            action: the action.
            maybe_sent: a previous attempt may have reached GitHub (it was looked for with
                :meth:`reconcile` and not found); conflict checks accept its half-done state.

        Returns:
            The result to store (``issue`` snapshot, ``comment``, ``created``, ``reconciled``).

        Raises:
            SourceError: a mapped failure (transient or permanent), or ConflictError.
        """
        handlers: dict[ActionKind, Callable[[Action, bool], dict[str, Any]]] = {
            ActionKind.ASSIGN: self._assign,
            ActionKind.UNASSIGN: self._unassign,
            ActionKind.REPLY: self._comment,
            ActionKind.ADD_LABELS: self._add_labels,
            ActionKind.REMOVE_LABELS: self._remove_labels,
            ActionKind.SET_PRIORITY: self._set_priority,
            ActionKind.PENDING: self._add_labels,
            ActionKind.RESUME: self._resume,
            ActionKind.BACKLOG: self._backlog,
            ActionKind.CLOSE: self._close,
            ActionKind.REOPEN: self._reopen,
            ActionKind.CREATE_ISSUE: self._create_issue,
        }
        handler = handlers.get(action.kind)
        if handler is None:
            raise ValidationFailed(f"GitHub cannot carry out a {action.kind.value} action", source="github")
        what = action.summary or action.kind.value
        try:
            return handler(action, maybe_sent)
        except SourceError:
            raise
        except GithubException as exc:
            raise map_github_error(exc, _what(action), now=self._clock()) from None
        except requests.Timeout:
            raise TimedOut(f"GitHub timed out while trying to {_what(action)}", source="github") from None
        except requests.RequestException as exc:
            raise Unavailable(
                f"cannot reach GitHub ({type(exc).__name__}) while trying to {_what(action)}", source="github"
            ) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise BadPayload(f"GitHub sent an unexpected answer while trying to {one_line(what, 80)}: "
                             f"{type(exc).__name__}", source="github") from None

    # ------------------------------------------------------------------ HTTP helpers
    def _req(self, verb: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        if verb != "GET":
            before_write()
        _, data = self._gh.requester.requestJsonAndCheck(verb, path, parameters=params, input=body)
        return data

    def _page(self, path: str, params: dict[str, Any], page: int) -> tuple[list[Any], int | None, bool]:
        """One page of 100, the last page's number (``Link: rel="last"``, if given) and whether
        a next page exists."""
        headers, data = self._gh.requester.requestJsonAndCheck(
            "GET", path, parameters={**params, "per_page": 100, "page": page})
        if not isinstance(data, list):
            raise BadPayload(f"GitHub sent a list that is not a list ({path})", source="github")
        link = lower_headers(headers).get("link", "")
        found = _LAST_PAGE.search(link)
        return data, int(found.group(1)) if found else None, 'rel="next"' in link

    @staticmethod
    def _issue_path(params: dict[str, Any]) -> str:
        return f"/repos/{params['repo']}/issues/{int(params['number'])}"

    def _get_issue(self, params: dict[str, Any]) -> dict[str, Any]:
        data = self._req("GET", self._issue_path(params))
        if not isinstance(data, dict) or "state" not in data:
            raise BadPayload("GitHub sent an issue without a state", source="github")
        return data

    def _viewer_login(self) -> str:
        if self._viewer is None:
            data = self._req("GET", "/user")
            if not isinstance(data, dict) or not isinstance(data.get("login"), str):
                raise BadPayload("GitHub /user has no login", source="github")
            self._viewer = str(data["login"])
        return self._viewer

    def _pages(self, path: str, params: dict[str, Any] | None = None, *, max_pages: int = 10) -> list[Any]:
        """Items of a paginated list (``per_page=100``; stops at a short page)."""
        out: list[Any] = []
        for page in range(1, max_pages + 1):
            data = self._req("GET", path, params={**(params or {}), "per_page": 100, "page": page})
            if not isinstance(data, list):
                raise BadPayload(f"GitHub sent a list that is not a list ({path})", source="github")
            out.extend(data)
            if len(data) < 100:
                break
        return out

    def _who(self, params: dict[str, Any], events: set[str]) -> str:
        """"@ben-okafor assigned @ben-okafor at 2026-03-11 14:02 UTC" for the last such event."""
        try:
            found: dict[str, Any] | None = None
            for ev in self._pages(self._issue_path(params) + "/events"):
                if isinstance(ev, dict) and ev.get("event") in events:
                    found = ev
        except (GithubException, requests.RequestException, SourceError, ValueError):
            return "changed by someone else"
        if found is None:
            return "changed by someone else"
        actor = found.get("actor") or {}
        who = f"@{actor['login']}" if isinstance(actor, dict) and actor.get("login") else "someone"
        target = ""
        assignee = found.get("assignee")
        if isinstance(assignee, dict) and assignee.get("login"):
            target = f" @{assignee['login']}"
        return one_line(f"{who} {found.get('event')}{target}{_when(found.get('created_at'))}", 160)

    # ------------------------------------------------------------------ conflict checks
    def _check_open(self, action: Action, issue: dict[str, Any]) -> None:
        if issue.get("state") == "closed":
            closer = issue.get("closed_by") or {}
            who = f"@{closer['login']}" if isinstance(closer, dict) and closer.get("login") else "someone else"
            when = _when(issue.get("closed_at"))
            raise ConflictError(
                f"{_ref(action.params)} was closed by {who}{when} after this was queued; not changed. "
                "Retry to do it anyway, or drop it.", source="github")

    def _check_assignees(self, action: Action, issue: dict[str, Any], desired: set[str], maybe_sent: bool) -> None:
        current = {login.lower() for login in _logins(issue)}
        expected = {str(x).lower() for x in action.params.get("expect_assignees", [])}
        if current == expected or current == desired:
            return
        if maybe_sent and desired <= current <= (expected | desired):
            return  # our own earlier attempt got half-way
        who = self._who(action.params, {"assigned", "unassigned"})
        shown = ", ".join(f"@{x}" for x in _logins(issue)) or "nobody"
        raise ConflictError(
            f"{_ref(action.params)} is now assigned to {shown} ({who}), not what idqueue saw when this was "
            "queued; not overwritten. Retry to do it anyway, or drop it.", source="github")

    # ------------------------------------------------------------------ actions
    def _assign(self, action: Action, maybe_sent: bool) -> dict[str, Any]:
        p = action.params
        login = str(p["login"])
        issue = self._get_issue(p)
        if not p.get("force"):
            self._check_open(action, issue)
            self._check_assignees(action, issue, {login.lower()}, maybe_sent)
        current = _logins(issue)
        if login.lower() not in {c.lower() for c in current}:
            issue = self._req("POST", self._issue_path(p) + "/assignees", body={"assignees": [login]})
            if login.lower() not in {c.lower() for c in _logins(issue)}:
                raise ValidationFailed(
                    f"GitHub did not assign @{login} to {_ref(p)}: the login cannot be assigned in {p['repo']} "
                    "(not a collaborator?). Fix the roster's GitHub login, then retry.", source="github")
        others = [c for c in _logins(issue) if c.lower() != login.lower()]
        if others:
            issue = self._req("DELETE", self._issue_path(p) + "/assignees", body={"assignees": others})
        return {"issue": _snapshot(issue)}

    def _unassign(self, action: Action, maybe_sent: bool) -> dict[str, Any]:
        p = action.params
        issue = self._get_issue(p)
        if not p.get("force"):
            self._check_assignees(action, issue, set(), maybe_sent)
        current = _logins(issue)
        wanted = [str(x) for x in p.get("logins") or current]
        drop = [c for c in current if c.lower() in {w.lower() for w in wanted}]
        if drop:
            issue = self._req("DELETE", self._issue_path(p) + "/assignees", body={"assignees": drop})
        return {"issue": _snapshot(issue)}

    def _find_comment(self, action: Action, since: datetime) -> dict[str, Any] | None:
        """The action's comment among the issue's comments updated since ``since``, newest page first.

        The issue's comment list only sorts oldest first, so this reads the first page (which
        names the last one), then the others from the last backwards: the comment an earlier
        attempt posted is among the newest, however long the issue is.
        """
        path = self._issue_path(action.params) + "/comments"
        params = {"since": _iso(since)}
        first, last, more = self._page(path, params, 1)
        if last is None:  # no "last" link: walk forward to the end
            pages, number = [first], 1
            while more:
                number += 1
                page, _, more = self._page(path, params, number)
                pages.append(page)
            numbers = list(range(len(pages), 0, -1))
        else:
            pages, numbers = [first], list(range(last, 0, -1))
        for number in numbers:
            page = pages[number - 1] if number <= len(pages) else self._page(path, params, number)[0]
            raw = _marked(action.id, list(reversed(page)))
            if raw is not None:
                return {"comment": _comment_result(raw)}
        return None

    def _comment(self, action: Action, maybe_sent: bool) -> dict[str, Any]:
        p = action.params
        body = _marked_body(action, automation=bool(p.get("automation")))
        issue = self._gh.get_repo(str(p["repo"])).get_issue(int(p["number"]))
        before_write()
        comment = issue.create_comment(body)
        return {"comment": _comment_result(comment.raw_data)}

    def _add_labels(self, action: Action, maybe_sent: bool) -> dict[str, Any]:
        p = action.params
        labels = [str(x) for x in p.get("labels", []) if str(x)]
        if not labels:
            return {}
        data = self._req("POST", self._issue_path(p) + "/labels", body={"labels": labels})
        return {"labels": _label_names(data)}

    def _remove_one(self, params: dict[str, Any], label: str) -> list[str] | None:
        path = f"{self._issue_path(params)}/labels/{urllib.parse.quote(label, safe='')}"
        try:
            return _label_names(self._req("DELETE", path))
        except GithubException as exc:
            if exc.status == 404:
                return None  # already absent: removing is done
            raise

    def _remove_labels(self, action: Action, maybe_sent: bool) -> dict[str, Any]:
        p = action.params
        labels: list[str] | None = None
        for label in [str(x) for x in p.get("labels", []) if str(x)]:
            result = self._remove_one(p, label)
            if result is not None:
                labels = result
        return {"labels": labels} if labels is not None else {}

    def _resume(self, action: Action, maybe_sent: bool) -> dict[str, Any]:
        """Remove whichever "pending" labels the issue has (one read instead of a 404 per label)."""
        p = action.params
        wanted = {str(x).lower() for x in p.get("labels", [])}
        names = _label_names(self._get_issue(p).get("labels", []))
        labels = names
        for name in names:
            if name.lower() in wanted:
                result = self._remove_one(p, name)
                if result is not None:
                    labels = result
        return {"labels": labels}

    def _set_priority(self, action: Action, maybe_sent: bool) -> dict[str, Any]:
        p = action.params
        wanted = str(p["label"])
        prefix = str(p.get("prefix", "priority:")).lower()
        issue = self._get_issue(p)
        names = _label_names(issue.get("labels", []))
        labels: list[str] | None = None
        for name in names:
            if name.lower().startswith(prefix) and name.lower() != wanted.lower():
                result = self._remove_one(p, name)
                if result is not None:
                    labels = result
        if wanted.lower() not in {n.lower() for n in names}:
            labels = _label_names(self._req("POST", self._issue_path(p) + "/labels", body={"labels": [wanted]}))
        return {"labels": labels if labels is not None else names}

    def _backlog(self, action: Action, maybe_sent: bool) -> dict[str, Any]:
        p = action.params
        issue = self._get_issue(p)
        if not p.get("force"):
            self._check_open(action, issue)
            self._check_assignees(action, issue, set(), maybe_sent)
        label = str(p["label"])
        labels = _label_names(issue.get("labels", []))
        if label.lower() not in {n.lower() for n in labels}:
            labels = _label_names(self._req("POST", self._issue_path(p) + "/labels", body={"labels": [label]}))
        current = _logins(issue)
        if current:
            issue = self._req("DELETE", self._issue_path(p) + "/assignees", body={"assignees": current})
        snap = _snapshot(issue)
        snap["labels"] = labels
        return {"issue": snap}

    def _close(self, action: Action, maybe_sent: bool) -> dict[str, Any]:
        p = action.params
        reason = str(p.get("reason") or "completed")
        issue = self._get_issue(p)
        if issue.get("state") == "closed":
            closer = issue.get("closed_by") or {}
            closer_login = closer.get("login") if isinstance(closer, dict) else None
            if p.get("force") or (maybe_sent and closer_login and closer_login.lower() == self._viewer_login().lower()):
                return {"issue": _snapshot(issue), "reconciled": True}
            self._check_open(action, issue)
        issue = self._req("PATCH", self._issue_path(p), body={"state": "closed", "state_reason": reason})
        return {"issue": _snapshot(issue)}

    def _reopen(self, action: Action, maybe_sent: bool) -> dict[str, Any]:
        p = action.params
        issue = self._get_issue(p)
        if issue.get("state") != "open":
            issue = self._req("PATCH", self._issue_path(p), body={"state": "open"})
        return {"issue": _snapshot(issue)}

    def _find_created(self, action: Action, since: datetime) -> dict[str, Any] | None:
        """The action's issue among ours updated since ``since``, newest first (every page)."""
        params = {"creator": self._viewer_login(), "state": "all", "sort": "created", "direction": "desc",
                  "since": _iso(since)}
        repo = str(action.params["repo"])
        path = f"/repos/{repo}/issues"
        number, more = 1, True
        while more:
            page, _, more = self._page(path, params, number)
            raw = _marked(action.id, page)
            if raw is not None:
                return _created_result(raw, repo)
            number += 1
        return None

    def _create_issue(self, action: Action, maybe_sent: bool) -> dict[str, Any]:
        p = action.params
        body = _marked_body(action, automation=True)
        labels = [str(x) for x in p.get("labels", []) if str(x)]
        repo = self._gh.get_repo(str(p["repo"]))
        before_write()
        issue = repo.create_issue(title=str(p["title"])[:256], body=body, labels=labels)
        return _created_result(issue.raw_data, str(p["repo"]))


# --------------------------------------------------------------------------- helpers


def _what(action: Action) -> str:
    p = action.params
    ref = _ref(p) if "number" in p else str(p.get("repo", "GitHub"))
    verbs = {
        ActionKind.ASSIGN: f"assign @{p.get('login')} on {ref}",
        ActionKind.UNASSIGN: f"unassign on {ref}",
        ActionKind.REPLY: f"comment on {ref}",
        ActionKind.ADD_LABELS: f"add labels on {ref}",
        ActionKind.REMOVE_LABELS: f"remove labels on {ref}",
        ActionKind.SET_PRIORITY: f"set the priority label on {ref}",
        ActionKind.PENDING: f"label {ref} pending",
        ActionKind.RESUME: f"remove the pending label on {ref}",
        ActionKind.BACKLOG: f"move {ref} to the backlog",
        ActionKind.CLOSE: f"close {ref}",
        ActionKind.REOPEN: f"reopen {ref}",
        ActionKind.CREATE_ISSUE: f"create an issue in {ref}",
    }
    return one_line(verbs.get(action.kind, f"{action.kind.value} on {ref}"), 120)


def _iso(at: datetime) -> str:
    """GitHub's ``since`` format, ``YYYY-MM-DDTHH:MM:SSZ`` (rounded down to the second)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ref(params: dict[str, Any]) -> str:
    return f"{params.get('repo')}#{params.get('number')}"


def _when(value: Any) -> str:
    at = parse_iso(value) if isinstance(value, str) else None
    return f" at {at.strftime('%Y-%m-%d %H:%M UTC')}" if at else ""


def _logins(issue: dict[str, Any]) -> list[str]:
    return [str(a["login"]) for a in issue.get("assignees") or [] if isinstance(a, dict) and a.get("login")]


def _label_names(data: Any) -> list[str]:
    if not isinstance(data, list):
        raise BadPayload("GitHub sent a label list that is not a list", source="github")
    out: list[str] = []
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            out.append(item["name"])
        elif isinstance(item, str):
            out.append(item)
    return out


def _snapshot(issue: Any) -> dict[str, Any]:
    """The parts of an issue the local store mirrors right after a write."""
    if not isinstance(issue, dict):
        raise BadPayload("GitHub sent an issue that is not an object", source="github")
    closer = issue.get("closed_by")
    return {
        "assignees": _logins(issue),
        "labels": _label_names(issue.get("labels") or []),
        "state": issue.get("state"),
        "state_reason": issue.get("state_reason"),
        "closed_at": issue.get("closed_at"),
        "updated_at": issue.get("updated_at"),
        "closed_by": closer.get("login") if isinstance(closer, dict) else None,
        "html_url": issue.get("html_url"),
    }


def _comment_result(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or "id" not in raw:
        raise BadPayload("GitHub sent a comment without an id", source="github")
    user = raw.get("user")
    return {
        "id": int(raw["id"]),
        "url": raw.get("html_url"),
        "created_at": raw.get("created_at"),
        "user": user.get("login") if isinstance(user, dict) else None,
    }


def _created_result(raw: Any, repo: str) -> dict[str, Any]:
    if not isinstance(raw, dict) or "number" not in raw:
        raise BadPayload("GitHub sent an issue without a number", source="github")
    url = str(raw.get("html_url") or "")
    return {"created": {"repo": repo, "number": int(raw["number"]), "url": url}, "url": url,
            "ref": f"{repo}#{int(raw['number'])}"}
