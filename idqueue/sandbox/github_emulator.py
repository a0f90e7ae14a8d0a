"""A loopback emulator of the GitHub REST API (issues, comments, events, labels, assignees).

It answers in the official wire format (``tests/specs/github-issues.openapi.json``): issue,
comment, label and simple-user objects, ``Link`` pagination, strong ``ETag``s with ``304``
answers that cost no rate limit, ``x-ratelimit-*`` headers and GitHub's error bodies. The real
clients (httpx, PyGithub) talk to it over HTTP.
"""

from __future__ import annotations

import hashlib
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from idqueue.integrations.loopback import (
    EmulatorServer,
    Fault,
    Request,
    Response,
    as_clock,
    json_bytes,
)

GITHUB_TOKEN = "ghp_sandboxIdqueue0000000000000000000000"
"""The only token the sandbox GitHub accepts."""

DOCS = "https://docs.github.com/rest"
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID."
)


def iso(dt: datetime | None) -> str | None:
    """GitHub's timestamp format, ``2024-04-05T12:34:56Z``."""
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime | None:
    """Parse an ISO 8601 ``since`` value; None when it is not a timestamp."""
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- state


@dataclass(slots=True)
class GhUser:
    """A GitHub account."""

    login: str
    id: int
    type: str = "User"
    name: str | None = None


@dataclass(slots=True)
class GhLabel:
    """A repository label."""

    name: str
    id: int
    color: str = "ededed"
    description: str | None = None
    default: bool = False


@dataclass(slots=True)
class GhIssue:
    """An issue or pull request (GitHub lists both as issues)."""

    repo: str
    number: int
    id: int
    title: str
    body: str | None
    user: str
    created_at: datetime
    updated_at: datetime
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    state: str = "open"
    state_reason: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    pull_request: bool = False
    locked: bool = False
    comments: int = 0


@dataclass(slots=True)
class GhComment:
    """An issue comment."""

    id: int
    repo: str
    issue_number: int
    body: str
    user: str
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class GhEvent:
    """An issue event (assigned, unassigned, labeled, unlabeled, closed, reopened)."""

    id: int
    repo: str
    issue_number: int
    event: str
    actor: str
    created_at: datetime
    label: str | None = None
    assignee: str | None = None
    state_reason: str | None = None


@dataclass(slots=True)
class GhRepo:
    """A repository with its issues, comments, events, labels and collaborators."""

    full_name: str
    id: int
    created_at: datetime
    issues: dict[int, GhIssue] = field(default_factory=dict)
    comments: list[GhComment] = field(default_factory=list)
    events: list[GhEvent] = field(default_factory=list)
    labels: dict[str, GhLabel] = field(default_factory=dict)
    collaborators: list[str] = field(default_factory=list)
    next_number: int = 1
    private: bool = False


@dataclass(slots=True)
class RateLimit:
    """The primary (core) rate-limit window."""

    limit: int = 5000
    remaining: int = 5000
    reset: int = 0
    """Epoch seconds when the window resets."""

    @property
    def used(self) -> int:
        """Requests spent in this window."""
        return self.limit - self.remaining


_LABEL_COLORS = ("d73a4a", "0075ca", "a2eeef", "7057ff", "008672", "e4e669", "d876e3", "fbca04")


class GitHubState:
    """The emulator's data, guarded by one re-entrant lock.

    Tests and the seed change it between polls through the helpers below; each helper records
    the issue events real GitHub would record and bumps ``updated_at``.

    Args:
        now: the clock.
        web_url: the web root used in ``html_url`` fields.
    """

    def __init__(
        self,
        *,
        now: Callable[[], datetime] | datetime | None = None,
        web_url: str = "https://github.com",
    ) -> None:
        self.lock = threading.RLock()
        self.now: Callable[[], datetime] = as_clock(now)
        self.web_url = web_url.rstrip("/")
        self.api_url = "http://127.0.0.1"
        """Set by the emulator once bound: the root of the ``url`` fields."""
        self.viewer = "octocat"
        """The login the sandbox token belongs to (actor of API writes)."""
        self.repos: dict[str, GhRepo] = {}
        self.users: dict[str, GhUser] = {}
        self.rate = RateLimit()
        self._ids = {"user": 1_000, "repo": 700_000_000, "issue": 2_000_000_000, "comment": 3_000_000_000,
                     "event": 9_000_000_000, "label": 5_000_000_000}

    # -- ids and lookups ----------------------------------------------------------------------

    def _next_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def _at(self, at: datetime | None) -> datetime:
        return (at or self.now()).astimezone(UTC)

    def user(self, login: str, *, type: str = "User", name: str | None = None) -> GhUser:
        """Get or create a user (``type`` is ``User`` or ``Bot``)."""
        with self.lock:
            found = self.users.get(login.lower())
            if found is None:
                found = GhUser(login=login, id=self._next_id("user"), type=type, name=name)
                self.users[login.lower()] = found
            elif name and not found.name:
                found.name = name
            return found

    def add_repo(self, full_name: str, *, collaborators: Iterable[str] = (), private: bool = False) -> GhRepo:
        """Create a repository (idempotent) and add collaborators (assignable users)."""
        with self.lock:
            repo = self.repos.get(full_name.lower())
            if repo is None:
                repo = GhRepo(full_name=full_name, id=self._next_id("repo"),
                              created_at=self.now() - timedelta(days=400), private=private)
                self.repos[full_name.lower()] = repo
                self.user(full_name.split("/")[0], type="Organization")
            for login in collaborators:
                self.user(login)
                if login.lower() not in (c.lower() for c in repo.collaborators):
                    repo.collaborators.append(login)
            return repo

    def repo(self, full_name: str) -> GhRepo:
        """A repository; KeyError when absent."""
        with self.lock:
            return self.repos[full_name.lower()]

    def issue(self, repo: str, number: int) -> GhIssue:
        """An issue; KeyError when absent."""
        with self.lock:
            return self.repo(repo).issues[number]

    def label(self, repo: str, name: str, *, color: str | None = None, description: str | None = None) -> GhLabel:
        """Get or create a repository label (names match case-insensitively, like GitHub)."""
        with self.lock:
            r = self.repo(repo)
            found = r.labels.get(name.lower())
            if found is None:
                found = GhLabel(name=name, id=self._next_id("label"),
                                color=color or _LABEL_COLORS[len(r.labels) % len(_LABEL_COLORS)],
                                description=description)
                r.labels[name.lower()] = found
            return found

    def is_collaborator(self, repo: str, login: str) -> bool:
        """Whether ``login`` can be assigned in ``repo``."""
        with self.lock:
            return login.lower() in (c.lower() for c in self.repo(repo).collaborators)

    def _event(self, repo: str, number: int, event: str, actor: str, at: datetime, **extra: Any) -> GhEvent:
        r = self.repo(repo)
        ev = GhEvent(id=self._next_id("event"), repo=r.full_name, issue_number=number, event=event,
                     actor=actor, created_at=at, **extra)
        r.events.append(ev)
        return ev

    # -- mutations ----------------------------------------------------------------------------

    def add_issue(
        self,
        repo: str,
        title: str,
        body: str | None = "",
        *,
        user: str = "octocat",
        labels: Iterable[str] = (),
        assignees: Iterable[str] = (),
        created_at: datetime | None = None,
        pull_request: bool = False,
        user_type: str = "User",
    ) -> GhIssue:
        """Open a new issue (or pull request) and record its labeled/assigned events."""
        with self.lock:
            r = self.add_repo(repo)
            at = self._at(created_at)
            self.user(user, type=user_type)
            issue = GhIssue(repo=r.full_name, number=r.next_number, id=self._next_id("issue"), title=title,
                            body=body, user=user, created_at=at, updated_at=at, pull_request=pull_request)
            r.next_number += 1
            r.issues[issue.number] = issue
            self._add_labels(issue, labels, user, at)
            self._assign(issue, assignees, user, at, only_collaborators=False)
            return issue

    def add_pull_request(self, repo: str, title: str, body: str | None = "", **kwargs: Any) -> GhIssue:
        """Open a pull request (it shows up in the issues list with a ``pull_request`` key)."""
        return self.add_issue(repo, title, body, pull_request=True, **kwargs)

    def edit_issue(
        self,
        repo: str,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        at: datetime | None = None,
    ) -> GhIssue:
        """Change an issue's title and/or body."""
        with self.lock:
            issue = self.issue(repo, number)
            if title is not None:
                issue.title = title
            if body is not None:
                issue.body = body
            issue.updated_at = self._at(at)
            return issue

    def add_comment(self, repo: str, number: int, body: str, *, user: str = "octocat",
                    at: datetime | None = None, user_type: str = "User") -> GhComment:
        """Comment on an issue."""
        with self.lock:
            issue = self.issue(repo, number)
            when = self._at(at)
            self.user(user, type=user_type)
            comment = GhComment(id=self._next_id("comment"), repo=issue.repo, issue_number=number, body=body,
                                user=user, created_at=when, updated_at=when)
            self.repo(repo).comments.append(comment)
            issue.comments += 1
            issue.updated_at = max(issue.updated_at, when)
            return comment

    def edit_comment(self, repo: str, comment_id: int, body: str, *, at: datetime | None = None) -> GhComment:
        """Change a comment's body."""
        with self.lock:
            for comment in self.repo(repo).comments:
                if comment.id == comment_id:
                    comment.body = body
                    comment.updated_at = self._at(at)
                    issue = self.issue(repo, comment.issue_number)
                    issue.updated_at = max(issue.updated_at, comment.updated_at)
                    return comment
            raise KeyError(comment_id)

    def close_issue(self, repo: str, number: int, *, reason: str = "completed", actor: str | None = None,
                    at: datetime | None = None) -> GhIssue:
        """Close an issue with a ``state_reason`` (completed, not_planned, duplicate)."""
        with self.lock:
            issue = self.issue(repo, number)
            self._set_state(issue, "closed", reason, actor or self.viewer, self._at(at))
            return issue

    def reopen_issue(self, repo: str, number: int, *, actor: str | None = None,
                     at: datetime | None = None) -> GhIssue:
        """Reopen a closed issue."""
        with self.lock:
            issue = self.issue(repo, number)
            self._set_state(issue, "open", None, actor or self.viewer, self._at(at))
            return issue

    def add_labels(self, repo: str, number: int, labels: Iterable[str], *, actor: str | None = None,
                   at: datetime | None = None) -> GhIssue:
        """Add labels (created in the repo when unknown)."""
        with self.lock:
            issue = self.issue(repo, number)
            when = self._at(at)
            if self._add_labels(issue, labels, actor or self.viewer, when):
                issue.updated_at = when
            return issue

    def remove_label(self, repo: str, number: int, name: str, *, actor: str | None = None,
                     at: datetime | None = None) -> bool:
        """Remove a label; False when the issue did not have it."""
        with self.lock:
            issue = self.issue(repo, number)
            for existing in issue.labels:
                if existing.lower() == name.lower():
                    when = self._at(at)
                    issue.labels.remove(existing)
                    issue.updated_at = when
                    self._event(issue.repo, issue.number, "unlabeled", actor or self.viewer, when, label=existing)
                    return True
            return False

    def set_labels(self, repo: str, number: int, labels: Iterable[str], *, actor: str | None = None,
                   at: datetime | None = None) -> GhIssue:
        """Replace the label set."""
        with self.lock:
            issue = self.issue(repo, number)
            wanted = list(dict.fromkeys(labels))
            for existing in list(issue.labels):
                if existing.lower() not in (w.lower() for w in wanted):
                    self.remove_label(repo, number, existing, actor=actor, at=at)
            return self.add_labels(repo, number, wanted, actor=actor, at=at)

    def assign(self, repo: str, number: int, logins: Iterable[str], *, actor: str | None = None,
               at: datetime | None = None, only_collaborators: bool = True) -> GhIssue:
        """Add assignees. Like GitHub, logins that cannot be assigned are silently ignored."""
        with self.lock:
            issue = self.issue(repo, number)
            when = self._at(at)
            if self._assign(issue, logins, actor or self.viewer, when, only_collaborators=only_collaborators):
                issue.updated_at = when
            return issue

    def unassign(self, repo: str, number: int, logins: Iterable[str], *, actor: str | None = None,
                 at: datetime | None = None) -> GhIssue:
        """Remove assignees (absent ones are ignored)."""
        with self.lock:
            issue = self.issue(repo, number)
            when = self._at(at)
            for login in logins:
                for existing in list(issue.assignees):
                    if existing.lower() == login.lower():
                        issue.assignees.remove(existing)
                        issue.updated_at = when
                        self._event(issue.repo, issue.number, "unassigned", actor or self.viewer, when,
                                    assignee=existing)
            return issue

    def _add_labels(self, issue: GhIssue, labels: Iterable[str], actor: str, at: datetime) -> bool:
        changed = False
        for name in labels:
            if not name:
                continue
            if any(existing.lower() == name.lower() for existing in issue.labels):
                continue
            label = self.label(issue.repo, name)
            issue.labels.append(label.name)
            self._event(issue.repo, issue.number, "labeled", actor, at, label=label.name)
            changed = True
        return changed

    def _assign(self, issue: GhIssue, logins: Iterable[str], actor: str, at: datetime, *,
                only_collaborators: bool) -> bool:
        changed = False
        for login in logins:
            if not login or any(a.lower() == login.lower() for a in issue.assignees):
                continue
            if only_collaborators and not self.is_collaborator(issue.repo, login):
                continue
            user = self.user(login)
            issue.assignees.append(user.login)
            self._event(issue.repo, issue.number, "assigned", actor, at, assignee=user.login)
            changed = True
        return changed

    def _set_state(self, issue: GhIssue, state: str, reason: str | None, actor: str, at: datetime) -> None:
        if state == "closed":
            reason = reason or "completed"
            if issue.state != "closed":
                issue.closed_at = at
                issue.closed_by = actor
                self._event(issue.repo, issue.number, "closed", actor, at, state_reason=reason)
            issue.state = "closed"
            issue.state_reason = reason
            issue.updated_at = at
        elif issue.state != "open":
            issue.state = "open"
            issue.state_reason = "reopened"
            issue.closed_at = None
            issue.closed_by = None
            issue.updated_at = at
            self._event(issue.repo, issue.number, "reopened", actor, at)

    # -- rendering (the official wire format) -------------------------------------------------

    def user_json(self, login: str) -> dict[str, Any]:
        """A ``simple-user`` object."""
        u = self.user(login)
        api = f"{self.api_url}/users/{u.login}"
        return {
            "login": u.login,
            "id": u.id,
            "node_id": f"U_kgDO{u.id:08X}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{u.id}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{self.web_url}/{u.login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": u.type,
            "user_view_type": "public",
            "site_admin": False,
        }

    def label_json(self, repo: str, name: str) -> dict[str, Any]:
        """A ``label`` object."""
        label = self.label(repo, name)
        quoted = urllib.parse.quote(label.name, safe="")
        return {
            "id": label.id,
            "node_id": f"LA_kwDO{label.id:010X}",
            "url": f"{self.api_url}/repos/{self.repo(repo).full_name}/labels/{quoted}",
            "name": label.name,
            "color": label.color,
            "default": label.default,
            "description": label.description,
        }

    def author_association(self, repo: str, login: str) -> str:
        """``MEMBER`` for collaborators, else ``NONE``."""
        return "MEMBER" if self.is_collaborator(repo, login) else "NONE"

    def issue_json(self, issue: GhIssue) -> dict[str, Any]:
        """An ``issue`` object (with ``pull_request`` for pull requests)."""
        repo_api = f"{self.api_url}/repos/{issue.repo}"
        api = f"{repo_api}/issues/{issue.number}"
        kind = "pull" if issue.pull_request else "issues"
        data: dict[str, Any] = {
            "url": api,
            "repository_url": repo_api,
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": f"{self.web_url}/{issue.repo}/{kind}/{issue.number}",
            "id": issue.id,
            "node_id": f"{'PR' if issue.pull_request else 'I'}_kwDO{issue.id:010X}",
            "number": issue.number,
            "title": issue.title,
            "user": self.user_json(issue.user),
            "labels": [self.label_json(issue.repo, name) for name in issue.labels],
            "state": issue.state,
            "locked": issue.locked,
            "assignee": self.user_json(issue.assignees[0]) if issue.assignees else None,
            "assignees": [self.user_json(a) for a in issue.assignees],
            "milestone": None,
            "comments": issue.comments,
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "closed_at": iso(issue.closed_at),
            "author_association": self.author_association(issue.repo, issue.user),
            "active_lock_reason": None,
            "body": issue.body,
            "closed_by": self.user_json(issue.closed_by) if issue.closed_by else None,
            "reactions": {
                "url": f"{api}/reactions", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
                "confused": 0, "heart": 0, "rocket": 0, "eyes": 0,
            },
            "timeline_url": f"{api}/timeline",
            "performed_via_github_app": None,
            "state_reason": issue.state_reason,
        }
        if issue.pull_request:
            pulls = f"{self.web_url}/{issue.repo}/pull/{issue.number}"
            data["draft"] = False
            data["pull_request"] = {
                "url": f"{repo_api}/pulls/{issue.number}",
                "html_url": pulls,
                "diff_url": f"{pulls}.diff",
                "patch_url": f"{pulls}.patch",
                "merged_at": None,
            }
        return data

    def comment_json(self, comment: GhComment) -> dict[str, Any]:
        """An ``issue-comment`` object."""
        repo_api = f"{self.api_url}/repos/{comment.repo}"
        kind = "pull" if self.issue(comment.repo, comment.issue_number).pull_request else "issues"
        return {
            "url": f"{repo_api}/issues/comments/{comment.id}",
            "html_url": f"{self.web_url}/{comment.repo}/{kind}/{comment.issue_number}#issuecomment-{comment.id}",
            "issue_url": f"{repo_api}/issues/{comment.issue_number}",
            "id": comment.id,
            "node_id": f"IC_kwDO{comment.id:010X}",
            "user": self.user_json(comment.user),
            "created_at": iso(comment.created_at),
            "updated_at": iso(comment.updated_at),
            "author_association": self.author_association(comment.repo, comment.user),
            "body": comment.body,
            "performed_via_github_app": None,
        }

    def event_json(self, event: GhEvent, *, with_issue: bool) -> dict[str, Any]:
        """An issue event object; the repo-wide list embeds the ``issue``."""
        data: dict[str, Any] = {
            "id": event.id,
            "node_id": f"{event.event[:2].upper()}E_lADO{event.id:010X}",
            "url": f"{self.api_url}/repos/{event.repo}/issues/events/{event.id}",
            "actor": self.user_json(event.actor),
            "event": event.event,
            "commit_id": None,
            "commit_url": None,
            "created_at": iso(event.created_at),
            "performed_via_github_app": None,
        }
        if event.label is not None:
            data["label"] = {"name": event.label, "color": self.label(event.repo, event.label).color}
        if event.assignee is not None:
            data["assignee"] = self.user_json(event.assignee)
            data["assigner"] = self.user_json(event.actor)
        if event.event == "closed":
            data["state_reason"] = event.state_reason
        if with_issue:
            data["issue"] = self.issue_json(self.issue(event.repo, event.issue_number))
        return data

    def repo_json(self, repo: GhRepo) -> dict[str, Any]:
        """A minimal ``repository`` object (enough for PyGithub and the spec's required keys)."""
        owner, name = repo.full_name.split("/")
        api = f"{self.api_url}/repos/{repo.full_name}"
        templated = {
            "archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}",
            "blobs_url": "/git/blobs{/sha}", "branches_url": "/branches{/branch}",
            "collaborators_url": "/collaborators{/collaborator}", "comments_url": "/comments{/number}",
            "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
            "contents_url": "/contents/{+path}", "contributors_url": "/contributors",
            "deployments_url": "/deployments", "downloads_url": "/downloads", "events_url": "/events",
            "forks_url": "/forks", "git_commits_url": "/git/commits{/sha}", "git_refs_url": "/git/refs{/sha}",
            "git_tags_url": "/git/tags{/sha}", "hooks_url": "/hooks", "issue_comment_url": "/issues/comments{/number}",
            "issue_events_url": "/issues/events{/number}", "issues_url": "/issues{/number}", "keys_url": "/keys{/key_id}",
            "labels_url": "/labels{/name}", "languages_url": "/languages", "merges_url": "/merges",
            "milestones_url": "/milestones{/number}", "notifications_url": "/notifications{?since,all,participating}",
            "pulls_url": "/pulls{/number}", "releases_url": "/releases{/id}", "stargazers_url": "/stargazers",
            "statuses_url": "/statuses/{sha}", "subscribers_url": "/subscribers", "subscription_url": "/subscription",
            "tags_url": "/tags", "teams_url": "/teams", "trees_url": "/git/trees{/sha}",
        }
        open_count = sum(1 for i in repo.issues.values() if i.state == "open")
        data: dict[str, Any] = {
            "id": repo.id, "node_id": f"R_kgDO{repo.id:08X}", "name": name, "full_name": repo.full_name,
            "owner": self.user_json(owner), "private": repo.private, "html_url": f"{self.web_url}/{repo.full_name}",
            "description": "Support requests (idqueue sandbox)", "fork": False, "url": api,
            "git_url": f"git://github.com/{repo.full_name}.git", "ssh_url": f"git@github.com:{repo.full_name}.git",
            "clone_url": f"{self.web_url}/{repo.full_name}.git", "svn_url": f"{self.web_url}/{repo.full_name}",
            "mirror_url": None, "homepage": None, "language": None, "forks": 0, "forks_count": 0,
            "stargazers_count": 0, "watchers_count": 0, "watchers": 0, "size": 1, "default_branch": "main",
            "open_issues": open_count, "open_issues_count": open_count, "is_template": False, "topics": [],
            "has_issues": True, "has_projects": False, "has_wiki": False, "has_pages": False,
            "has_downloads": False, "has_discussions": False, "archived": False, "disabled": False,
            "visibility": "private" if repo.private else "public", "license": None,
            "pushed_at": iso(repo.created_at), "created_at": iso(repo.created_at), "updated_at": iso(repo.created_at),
            "permissions": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
        }
        for key, suffix in templated.items():
            data[key] = api + suffix
        return data


# --------------------------------------------------------------------------- HTTP


def _error(status: int, message: str, **extra: Any) -> Response:
    body: dict[str, Any] = {"message": message, "documentation_url": extra.pop("documentation_url", DOCS)}
    body.update(extra)
    body["status"] = str(status)
    return Response(status=status, body=body)


def _not_found() -> Response:
    return _error(404, "Not Found")


def _validation(errors: list[dict[str, Any]]) -> Response:
    return _error(422, "Validation Failed", errors=errors)


_ISSUE = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/issues/(?P<number>\d+)"
_REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"


class GitHubEmulator(EmulatorServer):
    """The GitHub REST emulator.

    Args:
        state: the data (a fresh empty :class:`GitHubState` by default).
        token: the only token accepted.
        now: the clock (shared with ``state`` when given).
        link_last: include ``rel="last"`` in ``Link`` headers (GitHub omits it on some lists).
    """

    api_prefix = ""

    def __init__(
        self,
        state: GitHubState | None = None,
        *,
        token: str = GITHUB_TOKEN,
        now: Callable[[], datetime] | datetime | None = None,
        link_last: bool = True,
    ) -> None:
        super().__init__(now=now if now is not None else (state.now if state is not None else None))
        self.state = state or GitHubState(now=self.now)
        self.token = token
        self.link_last = link_last
        self.retry_after_default = 1
        """``Retry-After`` seconds used by rate-limit faults that do not name one."""
        self.scopes: str | None = "repo"
        """The token's classic OAuth scopes, sent as ``X-OAuth-Scopes`` on every authorised answer;
        ``None`` plays a fine-grained token (no header). Without ``repo`` a private repository
        answers 404, and without ``repo``/``public_repo`` writes answer 404, as GitHub does."""
        self._routes: list[tuple[str, re.Pattern[str], Callable[[Request, dict[str, str]], Response]]] = [
            ("GET", re.compile(r"/rate_limit"), self._rate_limit),
            ("GET", re.compile(r"/user"), self._get_user),
            ("GET", re.compile(r"/users/(?P<login>[^/]+)"), self._get_login),
            ("GET", re.compile(_REPO), self._get_repo),
            ("GET", re.compile(_REPO + r"/issues"), self._list_issues),
            ("POST", re.compile(_REPO + r"/issues"), self._create_issue),
            ("GET", re.compile(_REPO + r"/issues/comments"), self._list_repo_comments),
            ("GET", re.compile(_REPO + r"/issues/comments/(?P<cid>\d+)"), self._get_comment),
            ("PATCH", re.compile(_REPO + r"/issues/comments/(?P<cid>\d+)"), self._edit_comment),
            ("GET", re.compile(_REPO + r"/issues/events"), self._list_repo_events),
            ("GET", re.compile(_ISSUE), self._get_issue),
            ("PATCH", re.compile(_ISSUE), self._edit_issue),
            ("GET", re.compile(_ISSUE + r"/comments"), self._list_comments),
            ("POST", re.compile(_ISSUE + r"/comments"), self._create_comment),
            ("GET", re.compile(_ISSUE + r"/events"), self._list_events),
            ("POST", re.compile(_ISSUE + r"/assignees"), self._add_assignees),
            ("DELETE", re.compile(_ISSUE + r"/assignees"), self._remove_assignees),
            ("GET", re.compile(_ISSUE + r"/labels"), self._list_issue_labels),
            ("POST", re.compile(_ISSUE + r"/labels"), self._add_labels),
            ("PUT", re.compile(_ISSUE + r"/labels"), self._set_labels),
            ("DELETE", re.compile(_ISSUE + r"/labels/(?P<name>.+)"), self._remove_label),
            ("GET", re.compile(_REPO + r"/labels"), self._list_repo_labels),
            ("GET", re.compile(_REPO + r"/assignees"), self._list_assignees),
            ("GET", re.compile(_REPO + r"/assignees/(?P<login>[^/]+)"), self._check_assignee),
        ]

    def start(self) -> Self:
        """Bind and serve; the state's ``url`` fields then point at this server."""
        super().start()
        self.state.api_url = self.origin
        return self

    # -- headers, auth, rate limit ------------------------------------------------------------

    def _roll_window(self) -> RateLimit:
        rate = self.state.rate
        now_s = int(self.now().timestamp())
        if rate.reset <= now_s:
            rate.reset = now_s + 3600
            rate.remaining = rate.limit
        return rate

    def _rate_headers(self) -> dict[str, str]:
        rate = self._roll_window()
        return {
            "x-ratelimit-limit": str(rate.limit),
            "x-ratelimit-remaining": str(rate.remaining),
            "x-ratelimit-used": str(rate.used),
            "x-ratelimit-reset": str(rate.reset),
            "x-ratelimit-resource": "core",
        }

    def _authorized(self, req: Request) -> bool:
        header = req.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        return scheme.lower() in ("token", "bearer") and value.strip() == self.token

    def _scope_refusal(self, req: Request, repo: GhRepo) -> Response | None:
        """GitHub's answer when the token's scopes do not cover this repository call, else None."""
        write = req.method not in ("GET", "HEAD")
        if self.scopes is None:
            return None
        scopes = {s.strip() for s in self.scopes.split(",")}
        if "repo" in scopes:
            return None
        if repo.private or (write and "public_repo" not in scopes):
            return _not_found()
        return None

    def _finish(self, resp: Response) -> Response:
        headers = {"x-github-media-type": "github.v3; format=json", "x-github-api-version-selected": "2022-11-28"}
        if self.scopes is not None and resp.status != 401:
            headers["X-OAuth-Scopes"] = self.scopes
            headers["X-Accepted-OAuth-Scopes"] = "repo"
        headers.update(self._rate_headers())
        headers.update(resp.headers)
        resp.headers = headers
        return resp

    def fault_response(self, fault: Fault, req: Request) -> Response:
        """GitHub-flavoured faults."""
        with self.state.lock:
            retry = fault.retry_after if fault.retry_after is not None else self.retry_after_default
            if fault.kind == "rate_limit":
                rate = self._roll_window()
                resp = _error(fault.status or 403, "API rate limit exceeded for user ID 1. If you reach out to "
                              "GitHub Support for help, please include the request ID.", documentation_url=RATE_DOCS)
                resp = self._finish(resp)
                resp.headers["x-ratelimit-remaining"] = "0"
                resp.headers["x-ratelimit-used"] = str(rate.limit)
                if fault.status == 429 or fault.retry_after is not None:
                    resp.headers["retry-after"] = str(retry)
            elif fault.kind == "secondary_limit":
                resp = self._finish(_error(fault.status or 403, SECONDARY_MESSAGE,
                                           documentation_url=RATE_DOCS + "#about-secondary-rate-limits"))
                if fault.retry_after is not None:
                    resp.headers["retry-after"] = str(fault.retry_after)
            elif fault.kind == "auth":
                resp = self._finish(_error(fault.status or 401, "Bad credentials"))
            elif fault.kind == "ratelimited":
                resp = self._finish(_error(429, "Too Many Requests", documentation_url=RATE_DOCS))
                resp.headers["retry-after"] = str(retry)
            else:
                status = fault.status or 500
                if fault.body is not None:
                    resp = self._finish(Response(status=status, body=fault.body))
                elif status == 301:
                    target = req.path.replace("/repos/", "/repositories/", 1)
                    resp = self._finish(_error(301, "Moved Permanently", url=req.base + target))
                    resp.headers["Location"] = req.base + target
                elif status == 404:
                    resp = self._finish(_not_found())
                elif status == 410:
                    resp = self._finish(_error(410, "Issues are disabled for this repo"))
                elif status == 422:
                    resp = self._finish(_validation([{"resource": "Issue", "field": "assignees", "code": "invalid",
                                                      "value": None}]))
                elif status == 401:
                    resp = self._finish(_error(401, "Bad credentials"))
                elif status == 403:
                    resp = self._finish(_error(403, "Resource not accessible by personal access token"))
                elif status >= 500:
                    resp = self._finish(_error(status, "Server Error"))
                else:
                    resp = self._finish(_error(status, "Injected fault"))
            resp.headers.update(fault.headers)
            return resp

    # -- dispatch -----------------------------------------------------------------------------

    def route(self, req: Request) -> Response:
        """Authenticate, count the rate limit, then route to an endpoint handler."""
        path = req.path.rstrip("/") or "/"
        with self.state.lock:
            if not self._authorized(req):
                return self._finish(_error(401, "Bad credentials"))
            if path == "/rate_limit":
                return self._finish(self._rate_limit(req, {}))
            rate = self._roll_window()
            if rate.remaining <= 0:
                return self._finish(_error(403, "API rate limit exceeded for user ID 1.",
                                           documentation_url=RATE_DOCS))
            handler: Callable[[Request, dict[str, str]], Response] | None = None
            params: dict[str, str] = {}
            method_mismatch = False
            for verb, pattern, fn in self._routes:
                m = pattern.fullmatch(path)
                if m is None:
                    continue
                if verb != req.method:
                    method_mismatch = True
                    continue
                handler, params = fn, m.groupdict()
                break
            if handler is None:
                rate.remaining -= 1
                if method_mismatch:
                    return self._finish(_error(404, "Not Found"))
                return self._finish(_not_found())
            if "owner" in params:
                full = f"{params['owner']}/{params['repo']}"
                if full.lower() not in self.state.repos:
                    rate.remaining -= 1
                    return self._finish(_not_found())
                params["full"] = self.state.repos[full.lower()].full_name
                refused = self._scope_refusal(req, self.state.repos[full.lower()])
                if refused is not None:
                    rate.remaining -= 1
                    return self._finish(refused)
            resp = handler(req, params)
            if req.method == "GET" and resp.status == 200 and resp.body is not None:
                etag = '"' + hashlib.sha256(json_bytes(resp.body)).hexdigest()[:40] + '"'
                resp.headers["ETag"] = etag
                if _etag_matches(req.headers.get("if-none-match", ""), etag):
                    # A conditional hit is free: GitHub does not count 304s.
                    return self._finish(Response(status=304, body=None, headers={"ETag": etag}))
            rate.remaining -= 1
            return self._finish(resp)

    # -- pagination ---------------------------------------------------------------------------

    def _paginate(self, req: Request, items: list[Any], *, default_per_page: int = 30) -> tuple[list[Any], dict[str, str]]:
        try:
            per_page = int(req.query.get("per_page", default_per_page))
        except ValueError:
            per_page = default_per_page
        per_page = max(1, min(100, per_page))
        try:
            page = max(1, int(req.query.get("page", 1)))
        except ValueError:
            page = 1
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        headers: dict[str, str] = {}
        if last > 1:
            links = []

            def url(p: int) -> str:
                query = dict(urllib.parse.parse_qsl(req.raw_query, keep_blank_values=True))
                query["page"] = str(p)
                return f"{req.base}{req.path}?{urllib.parse.urlencode(query)}"

            if page > 1:
                links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
            if page < last:
                links.append(f'<{url(page + 1)}>; rel="next"')
                if self.link_last:
                    links.append(f'<{url(last)}>; rel="last"')
            if page > 1:
                links.append(f'<{url(1)}>; rel="first"')
            if links:
                headers["Link"] = ", ".join(links)
        return chunk, headers

    # -- endpoints ----------------------------------------------------------------------------

    def _rate_limit(self, req: Request, p: dict[str, str]) -> Response:
        rate = self._roll_window()
        core = {"limit": rate.limit, "remaining": rate.remaining, "reset": rate.reset, "used": rate.used,
                "resource": "core"}
        other = {"limit": 30, "remaining": 30, "reset": rate.reset, "used": 0}
        return Response(body={
            "resources": {"core": core, "search": {**other, "resource": "search"},
                          "graphql": {"limit": 5000, "remaining": 5000, "reset": rate.reset, "used": 0,
                                      "resource": "graphql"}},
            "rate": core,
        })

    def _get_user(self, req: Request, p: dict[str, str]) -> Response:
        data = self.state.user_json(self.state.viewer)
        user = self.state.user(self.state.viewer)
        data.update({"name": user.name, "company": None, "blog": "", "location": None, "email": None,
                     "hireable": None, "bio": None, "public_repos": 0, "followers": 0, "following": 0,
                     "created_at": "2015-01-01T00:00:00Z", "updated_at": "2015-01-01T00:00:00Z"})
        return Response(body=data, headers={"X-Accepted-OAuth-Scopes": ""} if self.scopes is not None else {})

    def _get_login(self, req: Request, p: dict[str, str]) -> Response:
        if p["login"].lower() not in self.state.users:
            return _not_found()
        return Response(body=self.state.user_json(p["login"]))

    def _get_repo(self, req: Request, p: dict[str, str]) -> Response:
        return Response(body=self.state.repo_json(self.state.repo(p["full"])))

    def _list_issues(self, req: Request, p: dict[str, str]) -> Response:
        repo = self.state.repo(p["full"])
        q = req.query
        state = q.get("state", "open")
        if state not in ("open", "closed", "all"):
            return _validation([{"resource": "Issue", "field": "state", "code": "invalid"}])
        items = [i for i in repo.issues.values() if state == "all" or i.state == state]
        if q.get("labels"):
            wanted = [w.strip().lower() for w in q["labels"].split(",") if w.strip()]
            items = [i for i in items if all(w in (x.lower() for x in i.labels) for w in wanted)]
        if q.get("since"):
            since = parse_time(q["since"])
            if since is None:
                return _validation([{"resource": "Issue", "field": "since", "code": "invalid"}])
            items = [i for i in items if i.updated_at >= since]
        assignee = q.get("assignee")
        if assignee == "none":
            items = [i for i in items if not i.assignees]
        elif assignee == "*":
            items = [i for i in items if i.assignees]
        elif assignee:
            items = [i for i in items if assignee.lower() in (a.lower() for a in i.assignees)]
        if q.get("creator"):
            items = [i for i in items if i.user.lower() == q["creator"].lower()]
        sort = q.get("sort", "created")
        keyfn: dict[str, Callable[[GhIssue], Any]] = {
            "created": lambda i: (i.created_at, i.number),
            "updated": lambda i: (i.updated_at, i.number),
            "comments": lambda i: (i.comments, i.number),
        }
        if sort not in keyfn:
            return _validation([{"resource": "Issue", "field": "sort", "code": "invalid"}])
        items.sort(key=keyfn[sort], reverse=q.get("direction", "desc") != "asc")
        chunk, headers = self._paginate(req, items)
        return Response(body=[self.state.issue_json(i) for i in chunk], headers=headers)

    def _create_issue(self, req: Request, p: dict[str, str]) -> Response:
        body = req.body if isinstance(req.body, dict) else {}
        title = body.get("title")
        if not isinstance(title, str | int) or str(title) == "":
            return _validation([{"resource": "Issue", "field": "title", "code": "missing_field"}])
        issue = self.state.add_issue(p["full"], str(title), body.get("body"), user=self.state.viewer,
                                     labels=_names(body.get("labels")))
        assignees = list(body.get("assignees") or [])
        if body.get("assignee"):
            assignees.append(body["assignee"])
        self.state.assign(p["full"], issue.number, assignees, actor=self.state.viewer)
        return Response(status=201, body=self.state.issue_json(issue),
                        headers={"Location": self.state.issue_json(issue)["url"]})

    def _issue_or_404(self, p: dict[str, str]) -> GhIssue | None:
        return self.state.repo(p["full"]).issues.get(int(p["number"]))

    def _get_issue(self, req: Request, p: dict[str, str]) -> Response:
        issue = self._issue_or_404(p)
        if issue is None:
            return _not_found()
        return Response(body=self.state.issue_json(issue))

    def _edit_issue(self, req: Request, p: dict[str, str]) -> Response:
        issue = self._issue_or_404(p)
        if issue is None:
            return _not_found()
        body = req.body if isinstance(req.body, dict) else {}
        actor = self.state.viewer
        state = body.get("state")
        reason = body.get("state_reason")
        if state is not None and state not in ("open", "closed"):
            return _validation([{"resource": "Issue", "field": "state", "code": "invalid", "value": state}])
        if reason is not None and reason not in ("completed", "not_planned", "duplicate", "reopened"):
            return _validation([{"resource": "Issue", "field": "state_reason", "code": "invalid", "value": reason}])
        if "title" in body or "body" in body:
            self.state.edit_issue(p["full"], issue.number, title=body.get("title"), body=body.get("body"))
        if "labels" in body and body["labels"] is not None:
            self.state.set_labels(p["full"], issue.number, _names(body["labels"]), actor=actor)
        if "assignees" in body and body["assignees"] is not None:
            wanted = [a for a in body["assignees"] if isinstance(a, str)]
            drop = [a for a in issue.assignees if a.lower() not in (w.lower() for w in wanted)]
            self.state.unassign(p["full"], issue.number, drop, actor=actor)
            self.state.assign(p["full"], issue.number, wanted, actor=actor)
        if state == "closed":
            if issue.state == "closed" and reason:
                issue.state_reason = reason
                issue.updated_at = self.now()
            self.state.close_issue(p["full"], issue.number, reason=reason or "completed", actor=actor)
        elif state == "open":
            self.state.reopen_issue(p["full"], issue.number, actor=actor)
        return Response(body=self.state.issue_json(issue))

    def _comments_sorted(self, req: Request, comments: list[GhComment]) -> list[GhComment] | Response:
        q = req.query
        if q.get("since"):
            since = parse_time(q["since"])
            if since is None:
                return _validation([{"resource": "IssueComment", "field": "since", "code": "invalid"}])
            comments = [c for c in comments if c.updated_at >= since]
        sort = q.get("sort", "created")
        key: Callable[[GhComment], Any] = (lambda c: (c.updated_at, c.id)) if sort == "updated" else (
            lambda c: (c.created_at, c.id))
        return sorted(comments, key=key, reverse=q.get("direction", "asc") == "desc")

    def _list_comments(self, req: Request, p: dict[str, str]) -> Response:
        issue = self._issue_or_404(p)
        if issue is None:
            return _not_found()
        comments = [c for c in self.state.repo(p["full"]).comments if c.issue_number == issue.number]
        result = self._comments_sorted(req, comments)
        if isinstance(result, Response):
            return result
        chunk, headers = self._paginate(req, result)
        return Response(body=[self.state.comment_json(c) for c in chunk], headers=headers)

    def _list_repo_comments(self, req: Request, p: dict[str, str]) -> Response:
        result = self._comments_sorted(req, list(self.state.repo(p["full"]).comments))
        if isinstance(result, Response):
            return result
        chunk, headers = self._paginate(req, result)
        return Response(body=[self.state.comment_json(c) for c in chunk], headers=headers)

    def _find_comment(self, p: dict[str, str]) -> GhComment | None:
        cid = int(p["cid"])
        return next((c for c in self.state.repo(p["full"]).comments if c.id == cid), None)

    def _get_comment(self, req: Request, p: dict[str, str]) -> Response:
        comment = self._find_comment(p)
        return _not_found() if comment is None else Response(body=self.state.comment_json(comment))

    def _edit_comment(self, req: Request, p: dict[str, str]) -> Response:
        comment = self._find_comment(p)
        if comment is None:
            return _not_found()
        body = req.body if isinstance(req.body, dict) else {}
        if not isinstance(body.get("body"), str):
            return _validation([{"resource": "IssueComment", "field": "body", "code": "missing_field"}])
        self.state.edit_comment(p["full"], comment.id, body["body"])
        return Response(body=self.state.comment_json(comment))

    def _create_comment(self, req: Request, p: dict[str, str]) -> Response:
        issue = self._issue_or_404(p)
        if issue is None:
            return _not_found()
        body = req.body if isinstance(req.body, dict) else {}
        text = body.get("body")
        if not isinstance(text, str) or not text:
            return _validation([{"resource": "IssueComment", "field": "body", "code": "missing_field"}])
        comment = self.state.add_comment(p["full"], issue.number, text, user=self.state.viewer)
        data = self.state.comment_json(comment)
        return Response(status=201, body=data, headers={"Location": data["url"]})

    def _list_events(self, req: Request, p: dict[str, str]) -> Response:
        issue = self._issue_or_404(p)
        if issue is None:
            return _not_found()
        events = [e for e in self.state.repo(p["full"]).events if e.issue_number == issue.number]
        chunk, headers = self._paginate(req, events)
        return Response(body=[self.state.event_json(e, with_issue=False) for e in chunk], headers=headers)

    def _list_repo_events(self, req: Request, p: dict[str, str]) -> Response:
        events = sorted(self.state.repo(p["full"]).events, key=lambda e: (e.created_at, e.id), reverse=True)
        chunk, headers = self._paginate(req, events)
        return Response(body=[self.state.event_json(e, with_issue=True) for e in chunk], headers=headers)

    def _add_assignees(self, req: Request, p: dict[str, str]) -> Response:
        issue = self._issue_or_404(p)
        if issue is None:
            return _not_found()
        body = req.body if isinstance(req.body, dict) else {}
        logins = [a for a in body.get("assignees") or [] if isinstance(a, str)]
        self.state.assign(p["full"], issue.number, logins, actor=self.state.viewer)
        return Response(status=201, body=self.state.issue_json(issue))

    def _remove_assignees(self, req: Request, p: dict[str, str]) -> Response:
        issue = self._issue_or_404(p)
        if issue is None:
            return _not_found()
        body = req.body if isinstance(req.body, dict) else {}
        logins = [a for a in body.get("assignees") or [] if isinstance(a, str)]
        self.state.unassign(p["full"], issue.number, logins, actor=self.state.viewer)
        return Response(status=200, body=self.state.issue_json(issue))

    def _labels_body(self, issue: GhIssue) -> list[dict[str, Any]]:
        return [self.state.label_json(issue.repo, name) for name in issue.labels]

    def _list_issue_labels(self, req: Request, p: dict[str, str]) -> Response:
        issue = self._issue_or_404(p)
        if issue is None:
            return _not_found()
        chunk, headers = self._paginate(req, self._labels_body(issue))
        return Response(body=chunk, headers=headers)

    def _add_labels(self, req: Request, p: dict[str, str]) -> Response:
        issue = self._issue_or_404(p)
        if issue is None:
            return _not_found()
        raw = req.body.get("labels") if isinstance(req.body, dict) else req.body
        names = _names(raw)
        if not names:
            return _validation([{"resource": "Label", "field": "labels", "code": "missing_field"}])
        self.state.add_labels(p["full"], issue.number, names, actor=self.state.viewer)
        return Response(body=self._labels_body(issue))

    def _set_labels(self, req: Request, p: dict[str, str]) -> Response:
        issue = self._issue_or_404(p)
        if issue is None:
            return _not_found()
        raw = req.body.get("labels") if isinstance(req.body, dict) else req.body
        self.state.set_labels(p["full"], issue.number, _names(raw), actor=self.state.viewer)
        return Response(body=self._labels_body(issue))

    def _remove_label(self, req: Request, p: dict[str, str]) -> Response:
        issue = self._issue_or_404(p)
        if issue is None:
            return _not_found()
        if not self.state.remove_label(p["full"], issue.number, p["name"], actor=self.state.viewer):
            return _error(404, "Label does not exist",
                          documentation_url="https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue")
        return Response(body=self._labels_body(issue))

    def _list_repo_labels(self, req: Request, p: dict[str, str]) -> Response:
        repo = self.state.repo(p["full"])
        chunk, headers = self._paginate(req, [self.state.label_json(repo.full_name, lb.name)
                                              for lb in repo.labels.values()])
        return Response(body=chunk, headers=headers)

    def _list_assignees(self, req: Request, p: dict[str, str]) -> Response:
        repo = self.state.repo(p["full"])
        chunk, headers = self._paginate(req, [self.state.user_json(c) for c in repo.collaborators])
        return Response(body=chunk, headers=headers)

    def _check_assignee(self, req: Request, p: dict[str, str]) -> Response:
        if self.state.is_collaborator(p["full"], p["login"]):
            return Response(status=204, body=None)
        return _not_found()


def _names(raw: Any) -> list[str]:
    """Label names from a list of strings or ``{"name": ...}`` objects."""
    if isinstance(raw, str):
        return [raw]
    if not isinstance(raw, list):
        return []
    out: list[str] = []
    for item in raw:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            out.append(item["name"])
    return out


def _etag_matches(header: str, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return etag in tags
