"""A loopback emulator of the Jira Cloud platform REST API v3 (the parts idqueue uses).

It answers in the official wire format (``tests/specs/jira-platform.openapi.json``, a pruned copy
of Atlassian's ``swagger-v3.v3.json``): issue, comment, user, status and changelog objects, ADF
bodies, the ``GET|POST /rest/api/3/search/jql`` search with ``nextPageToken``/``isLast`` (the old
``/rest/api/{2,3}/search`` answers ``410`` with the body Jira sends), Jira's error body
``{"errorMessages": [...], "errors": {...}}``, ``429`` with ``Retry-After`` and
``RateLimit-Reason``. Jira Service Management comments carry ``jsdPublic``; an internal note is
made by the ``sd.public.comment`` property ``{"internal": true}``.

JQL is a subset: clauses joined by ``AND`` (parentheses allowed) over ``project``, ``key``,
``status``, ``statusCategory``, ``reporter``/``assignee`` (``currentUser()``), ``updated`` and
``created`` (``=``, ``!=``, ``in``, ``>=``, ``>``, ``<=``, ``<``; dates ``"yyyy-MM-dd HH:mm"`` in
the caller's time zone, as Jira reads them), then ``ORDER BY updated|created|key [ASC|DESC]``.
Anything else answers ``400`` like a JQL syntax error.

``server=True`` plays Jira Server/Data Center instead: REST v2 only, ``/rest/api/2/search`` paged
by ``startAt`` with a ``total``, plain-text descriptions and comment bodies (wiki markup), users
named by ``name``/``key`` (no ``accountId``), no ``jsdPublic`` (an internal note shows only in
the ``sd.public.comment`` property).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Self
from zoneinfo import ZoneInfo

from idqueue.integrations.jira.adf import to_text
from idqueue.integrations.loopback import EmulatorServer, Fault, Request, Response, as_clock

JIRA_EMAIL = "sandbox-bot@example.org"
JIRA_TOKEN = "ATATT3xFfGF0sandboxIdqueue000000000"
"""The API token the sandbox Jira accepts (with :data:`JIRA_EMAIL`)."""
JIRA_PAT = "sandbox-dc-pat-idqueue-0000000000"
"""The Server/Data Center personal access token the sandbox Jira accepts (bearer)."""

GONE_MESSAGE = ("The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046")
CATEGORIES = {
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
}
DEFAULT_STATUSES = (
    ("Open", "new"), ("Backlog", "new"), ("In Progress", "indeterminate"),
    ("Waiting for customer", "indeterminate"), ("Resolved", "done"), ("Closed", "done"),
)
PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
CHANGELOG_EMBEDDED = 100
"""Changelog entries an issue carries when expanded; the rest are read from ``.../changelog``."""


def jira_time(dt: datetime) -> str:
    """Jira's timestamp format, ``2024-03-11T15:30:00.000+0000``."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}" + dt.strftime("%z")


# --------------------------------------------------------------------------- state


@dataclass(slots=True)
class JUser:
    """A Jira account (``account_type``: ``atlassian``, ``customer`` (JSM) or ``app``)."""

    account_id: str
    display_name: str
    email: str | None = None
    account_type: str = "atlassian"
    time_zone: str = "UTC"
    email_hidden: bool = False
    """The profile hides the address (Cloud privacy): never sent, still matched by user search."""


@dataclass(slots=True)
class JComment:
    """A comment (``body`` as ADF, or plain text)."""

    id: int
    author: str
    body: Any
    created: datetime
    updated: datetime
    public: bool | None = None
    """JSM: ``jsdPublic`` (False: an internal note); None outside service projects."""
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class JIssue:
    """An issue, its comments, changelog (``histories``), entity properties and remote links."""

    id: int
    key: str
    project: str
    summary: str
    description: Any
    reporter: str
    issue_type: str
    status: str
    created: datetime
    updated: datetime
    priority: str = "Medium"
    assignee: str | None = None
    labels: list[str] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    resolution: str | None = None
    resolution_date: datetime | None = None
    comments: list[JComment] = field(default_factory=list)
    histories: list[dict[str, Any]] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    remote_links: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class JProject:
    """A project (a JSM service project when ``service_desk``)."""

    id: int
    key: str
    name: str
    service_desk: bool = True


class JiraState:
    """The emulated site: users, projects, workflow statuses and issues."""

    def __init__(self, *, now: Callable[[], datetime] | datetime | None = None) -> None:
        self.now = as_clock(now)
        self.lock = threading.RLock()
        self.base = "https://sandbox.atlassian.net"
        self.users: dict[str, JUser] = {}
        self.projects: dict[str, JProject] = {}
        self.issues: dict[str, JIssue] = {}
        self.statuses: dict[str, tuple[int, str]] = {
            name: (10000 + i, cat) for i, (name, cat) in enumerate(DEFAULT_STATUSES)
        }
        self.server = False
        """Jira Server/Data Center (REST v2, plain text, users by name) instead of Cloud."""
        self.forbidden_projects: set[str] = set()
        """Projects the caller may not browse (a 403 on the project, issues invisible)."""
        self._ids = {"issue": 10000, "comment": 20000, "history": 30000, "link": 40000}
        self.me = self.user("5f0c-sandbox-bot", "idqueue (sandbox)", email=JIRA_EMAIL, account_type="atlassian")

    def _next(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def user(self, account_id: str, name: str, *, email: str | None = None, account_type: str = "atlassian",
             time_zone: str = "UTC") -> JUser:
        """Add (or return) a user."""
        if account_id not in self.users:
            self.users[account_id] = JUser(account_id, name, email, account_type, time_zone)
        return self.users[account_id]

    def add_project(self, key: str, name: str, *, service_desk: bool = True) -> JProject:
        """Add a project (a JSM service project by default)."""
        project = JProject(10000 + len(self.projects) + 1, key, name, service_desk)
        self.projects[key] = project
        return project

    def issue(self, key: str) -> JIssue:
        """An issue by key (KeyError when absent)."""
        return self.issues[key.upper()]

    def add_issue(self, project: str, summary: str, *, description: Any = None, reporter: str | None = None,
                  issue_type: str = "Service Request", status: str = "Open", at: datetime | None = None,
                  priority: str = "Medium", labels: list[str] | None = None, components: list[str] | None = None,
                  properties: dict[str, Any] | None = None) -> JIssue:
        """Create an issue (``at``: its creation time, default now)."""
        with self.lock:
            when = at or self.now()
            project_ = self.projects[project]
            number = 1 + sum(1 for i in self.issues.values() if i.project == project)
            issue = JIssue(self._next("issue"), f"{project_.key}-{number}", project, summary, description,
                           reporter or self.me.account_id, issue_type, status, when, when, priority,
                           labels=list(labels or []), components=list(components or []),
                           properties=dict(properties or {}))
            self.issues[issue.key] = issue
            return issue

    def add_comment(self, key: str, body: Any, *, author: str, at: datetime | None = None,
                    internal: bool = False, properties: dict[str, Any] | None = None) -> JComment:
        """Add a comment (``internal``: a JSM internal note)."""
        with self.lock:
            issue = self.issue(key)
            when = at or self.now()
            public = (not internal) if self.projects[issue.project].service_desk else None
            props = dict(properties or {})
            if internal:
                props["sd.public.comment"] = {"internal": True}
            comment = JComment(self._next("comment"), author, body, when, when, public, props)
            issue.comments.append(comment)
            issue.updated = max(issue.updated, when)
            return comment

    def _history(self, issue: JIssue, author: str, when: datetime, items: list[dict[str, Any]]) -> None:
        # An empty side (no assignee before) is left out: the description types them as strings.
        items = [{k: v for k, v in item.items() if v is not None} for item in items]
        issue.histories.append({"id": str(self._next("history")), "author": author, "created": when, "items": items})
        issue.updated = max(issue.updated, when)

    def set_assignee(self, key: str, account_id: str | None, *, actor: str | None = None,
                     at: datetime | None = None) -> None:
        """Assign (None: unassign), with its changelog entry."""
        with self.lock:
            issue = self.issue(key)
            if issue.assignee == account_id:
                return
            old, issue.assignee = issue.assignee, account_id
            self._history(issue, actor or self.me.account_id, at or self.now(), [{
                "field": "assignee", "fieldtype": "jira", "fieldId": "assignee",
                "from": old, "fromString": self.users[old].display_name if old in self.users else None,
                "to": account_id,
                "toString": self.users[account_id].display_name if account_id in self.users else None}])

    def set_status(self, key: str, status: str, *, actor: str | None = None, at: datetime | None = None,
                   resolution: str = "Done") -> None:
        """Move to a status (sets ``resolution`` or clears it on entering or leaving *done*)."""
        with self.lock:
            issue = self.issue(key)
            if issue.status == status:
                return
            when = at or self.now()
            old = issue.status
            items: list[dict[str, Any]] = [{"field": "status", "fieldtype": "jira", "fieldId": "status",
                      "from": str(self.statuses[old][0]), "fromString": old,
                      "to": str(self.statuses[status][0]), "toString": status}]
            done = self.statuses[status][1] == "done"
            if done and issue.resolution is None:
                issue.resolution, issue.resolution_date = resolution, when
                items.append({"field": "resolution", "fieldtype": "jira", "fieldId": "resolution",
                              "from": None, "fromString": None, "to": "10000", "toString": resolution})
            elif not done and issue.resolution is not None:
                items.append({"field": "resolution", "fieldtype": "jira", "fieldId": "resolution",
                              "from": "10000", "fromString": issue.resolution, "to": None, "toString": None})
                issue.resolution, issue.resolution_date = None, None
            issue.status = status
            self._history(issue, actor or self.me.account_id, when, items)

    def set_fields(self, key: str, *, priority: str | None = None, labels: list[str] | None = None,
                   actor: str | None = None, at: datetime | None = None) -> None:
        """Change the priority and/or labels, with their changelog entries."""
        with self.lock:
            issue = self.issue(key)
            items = []
            if priority is not None and priority != issue.priority:
                items.append({"field": "priority", "fieldtype": "jira", "fieldId": "priority", "from": None,
                              "fromString": issue.priority, "to": None, "toString": priority})
                issue.priority = priority
            if labels is not None and labels != issue.labels:
                items.append({"field": "labels", "fieldtype": "jira", "fieldId": "labels", "from": None,
                              "fromString": " ".join(issue.labels), "to": None, "toString": " ".join(labels)})
                issue.labels = list(labels)
            if items:
                self._history(issue, actor or self.me.account_id, at or self.now(), items)

    # -- JSON ----------------------------------------------------------------------------------

    def user_json(self, account_id: str | None) -> dict[str, Any] | None:
        """A user as Jira sends it (None for nobody)."""
        if account_id is None:
            return None
        user = self.users.get(account_id) or JUser(account_id, "Former user")
        if self.server:
            return {"self": f"{self.base}/rest/api/2/user?username={user.account_id}", "key": user.account_id,
                    "name": user.account_id, "emailAddress": user.email or "", "displayName": user.display_name,
                    "active": True, "timeZone": user.time_zone}
        out: dict[str, Any] = {
            "self": f"{self.base}/rest/api/3/user?accountId={user.account_id}",
            "accountId": user.account_id, "accountType": user.account_type,
            "avatarUrls": {size: f"https://avatar.example/{user.account_id}/{size}" for size in
                           ("48x48", "24x24", "16x16", "32x32")},
            "displayName": user.display_name, "active": True, "timeZone": user.time_zone,
        }
        if user.email and not user.email_hidden:
            out["emailAddress"] = user.email
        return out

    def status_json(self, name: str) -> dict[str, Any]:
        """A status with its category."""
        sid, cat = self.statuses[name]
        category = dict(CATEGORIES[cat])
        category["self"] = f"{self.base}/rest/api/3/statuscategory/{category['id']}"
        return {"self": f"{self.base}/rest/api/3/status/{sid}", "description": "", "iconUrl": f"{self.base}/images/s.png",
                "name": name, "id": str(sid), "statusCategory": category}

    def project_json(self, project: JProject) -> dict[str, Any]:
        """A project as Jira sends it."""
        return {"self": f"{self.base}/rest/api/3/project/{project.id}", "id": str(project.id), "key": project.key,
                "name": project.name, "projectTypeKey": "service_desk" if project.service_desk else "software",
                "simplified": False, "avatarUrls": {"48x48": f"{self.base}/images/p.png"}}

    def comment_json(self, issue: JIssue, c: JComment, *, properties: bool = False) -> dict[str, Any]:
        """A comment as Jira sends it (``properties``: with its entity properties)."""
        out: dict[str, Any] = {
            "self": f"{self.base}/rest/api/3/issue/{issue.id}/comment/{c.id}", "id": str(c.id),
            "author": self.user_json(c.author), "body": self.text(c.body), "updateAuthor": self.user_json(c.author),
            "created": jira_time(c.created), "updated": jira_time(c.updated),
        }
        if c.public is not None and not self.server:
            out["jsdPublic"] = c.public
        if properties:
            out["properties"] = [{"key": k, "value": v} for k, v in sorted(c.properties.items())]
        return out

    def text(self, value: Any) -> Any:
        """A rich-text value as this site sends it (ADF on Cloud; plain text on Server/DC)."""
        if self.server and value is not None and not isinstance(value, str):
            return to_text(value)
        return value

    def history_json(self, h: dict[str, Any]) -> dict[str, Any]:
        """A changelog entry as Jira sends it."""
        return {"id": h["id"], "author": self.user_json(h["author"]), "created": jira_time(h["created"]),
                "items": h["items"]}

    def issue_json(self, issue: JIssue, fields: set[str] | None, *, changelog: bool = False) -> dict[str, Any]:
        """``fields`` None = every field; an empty set = none (ids only). An embedded changelog
        holds at most :data:`CHANGELOG_EMBEDDED` entries (the newest), like Jira's."""
        project = self.projects[issue.project]
        values: dict[str, Any] = {
            "summary": issue.summary, "description": self.text(issue.description),
            "reporter": self.user_json(issue.reporter), "creator": self.user_json(issue.reporter),
            "assignee": self.user_json(issue.assignee), "status": self.status_json(issue.status),
            "priority": {"self": f"{self.base}/rest/api/3/priority/{PRIORITIES.index(issue.priority) + 1}",
                         "iconUrl": f"{self.base}/images/prio.svg", "name": issue.priority,
                         "id": str(PRIORITIES.index(issue.priority) + 1)},
            "labels": list(issue.labels),
            "components": [{"self": f"{self.base}/rest/api/3/component/{abs(hash(n)) % 10000}",
                            "id": str(abs(hash(n)) % 10000), "name": n} for n in issue.components],
            "issuetype": {"self": f"{self.base}/rest/api/3/issuetype/10001", "id": "10001", "description": "",
                          "iconUrl": f"{self.base}/images/t.png", "name": issue.issue_type, "subtask": False,
                          "hierarchyLevel": 0},
            "project": self.project_json(project),
            "created": jira_time(issue.created), "updated": jira_time(issue.updated),
            "resolutiondate": jira_time(issue.resolution_date) if issue.resolution_date else None,
            "resolution": ({"self": f"{self.base}/rest/api/3/resolution/10000", "id": "10000",
                            "description": "", "name": issue.resolution} if issue.resolution else None),
            "comment": {"comments": [self.comment_json(issue, c) for c in issue.comments],
                        "self": f"{self.base}/rest/api/3/issue/{issue.id}/comment", "maxResults": len(issue.comments),
                        "total": len(issue.comments), "startAt": 0},
        }
        chosen = values if fields is None else {k: v for k, v in values.items() if k in fields}
        out: dict[str, Any] = {"expand": "renderedFields,names,schema,operations,editmeta,changelog",
                               "id": str(issue.id), "self": f"{self.base}/rest/api/3/issue/{issue.id}",
                               "key": issue.key, "fields": chosen}
        if changelog:
            shown = issue.histories[-CHANGELOG_EMBEDDED:]
            out["changelog"] = {"startAt": 0, "maxResults": len(shown), "total": len(issue.histories),
                                "histories": [self.history_json(h) for h in shown]}
        return out


# --------------------------------------------------------------------------- JQL subset


class JqlError(ValueError):
    """The query is outside the emulated subset (Jira answers 400)."""


_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<op>>=|<=|!=|=|>|<|~)'
                    r'|(?P<punct>[(),])|(?P<word>[A-Za-z0-9_.\-]+(?:\(\))?))')


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    at = 0
    text = text.strip()
    while at < len(text):
        m = _TOKEN.match(text, at)
        if m is None or m.end() == at:
            raise JqlError(f"Error in the JQL Query: The character '{text[at]}' is a reserved JQL character.")
        kind = m.lastgroup or "word"
        value = m.group(kind)
        if kind == "str":
            value = value[1:-1]
        out.append((kind, value))
        at = m.end()
        while at < len(text) and text[at].isspace():
            at += 1
    return out


@dataclass
class Query:
    """A parsed JQL query: ``(field, operator, values)`` clauses joined by AND, and the order."""

    clauses: list[tuple[str, str, list[str]]]
    order: tuple[str, bool]
    """(field, descending)."""


def parse_jql(jql: str) -> Query:
    """Parse the emulated subset (see the module docstring)."""
    text = jql.strip()
    order: tuple[str, bool] = ("key", False)
    m = re.search(r"\border\s+by\s+(\w+)(?:\s+(asc|desc))?\s*$", text, re.IGNORECASE)
    if m:
        order = (m.group(1).lower(), (m.group(2) or "asc").lower() == "desc")
        text = text[: m.start()].strip()
    tokens = [t for t in _tokens(text) if t[1] not in ("(", ")") or t[0] != "punct"] if text else []
    clauses: list[tuple[str, str, list[str]]] = []
    i = 0
    while i < len(tokens):
        if clauses:
            if tokens[i][1].lower() != "and":
                raise JqlError(f"Error in the JQL Query: expecting 'AND' but got '{tokens[i][1]}'.")
            i += 1
        if i + 2 > len(tokens):
            raise JqlError("Error in the JQL Query: the query ended early.")
        fld, op = tokens[i][1].lower(), tokens[i + 1][1].lower()
        i += 2
        if op == "in":
            values = []
            while i < len(tokens) and tokens[i][1].lower() != "and":
                if tokens[i][1] != ",":
                    values.append(tokens[i][1])
                i += 1
        else:
            if i >= len(tokens):
                raise JqlError("Error in the JQL Query: the query ended early.")
            values = [tokens[i][1]]
            i += 1
        if fld not in ("project", "key", "issuekey", "status", "statuscategory", "reporter", "assignee",
                       "updated", "created", "labels"):
            raise JqlError(f"Field '{fld}' does not exist or you do not have permission to view it.")
        clauses.append((fld, op, values))
    if order[0] not in ("updated", "created", "key"):
        raise JqlError(f"Not able to sort using field '{order[0]}'.")
    return Query(clauses, order)


def _jql_time(value: str, tz: ZoneInfo) -> datetime:
    for fmt in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    raise JqlError(f"Date value '{value}' for field 'updated' is invalid. Valid formats include: "
                   "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.")


def _compare(op: str, left: Any, right: Any) -> bool:
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b, "!=": lambda a, b: a != b, ">=": lambda a, b: a >= b,
        ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, "<": lambda a, b: a < b,
    }
    if op not in ops:
        raise JqlError(f"The operator '{op}' is not supported here.")
    return ops[op](left, right)


def matches(state: JiraState, issue: JIssue, query: Query, caller: JUser) -> bool:
    """Whether an issue satisfies every clause."""
    tz = ZoneInfo(caller.time_zone)
    for fld, op, values in query.clauses:
        if fld in ("updated", "created"):
            ours = issue.updated if fld == "updated" else issue.created
            # Jira compares at minute precision in the caller's zone.
            ours = ours.astimezone(tz).replace(second=0, microsecond=0)
            if not _compare(op, ours, _jql_time(values[0], tz)):
                return False
            continue
        current: list[str]
        if fld == "project":
            current = [issue.project.lower()]
        elif fld in ("key", "issuekey"):
            current = [issue.key.lower()]
        elif fld == "status":
            current = [issue.status.lower()]
        elif fld == "statuscategory":
            cat = CATEGORIES[state.statuses[issue.status][1]]
            current = [str(cat["name"]).lower(), str(cat["key"]).lower()]
        elif fld == "labels":
            current = [x.lower() for x in issue.labels]
        else:
            who = issue.reporter if fld == "reporter" else issue.assignee
            current = [str(who).lower()]
            values = [caller.account_id if v.lower() == "currentuser()" else v for v in values]
        wanted = {v.lower() for v in values}
        hit = bool(wanted & set(current))
        if (op in ("=", "in") and not hit) or (op in ("!=", "not") and hit):
            return False
        if op not in ("=", "in", "!="):
            raise JqlError(f"The operator '{op}' is not supported by the '{fld}' field.")
    return True


# --------------------------------------------------------------------------- the server


def _obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _error(status: int, *messages: str, errors: dict[str, str] | None = None) -> Response:
    return Response(status=status, body={"errorMessages": list(messages), "errors": errors or {}})


NOT_FOUND = "Issue does not exist or you do not have permission to see it."
_ISSUE = r"/rest/api/(?P<v>[23])/issue/(?P<key>[A-Za-z0-9_-]+)"


class JiraEmulator(EmulatorServer):
    """The Jira Cloud REST emulator.

    Args:
        state: the data (a fresh :class:`JiraState` by default).
        email / token: the basic-auth credentials accepted; ``pat``: the bearer token accepted.
        now: the clock (shared with ``state`` when given).
    """

    def __init__(self, state: JiraState | None = None, *, email: str = JIRA_EMAIL, token: str = JIRA_TOKEN,
                 pat: str = JIRA_PAT, now: Callable[[], datetime] | datetime | None = None) -> None:
        super().__init__(now=now if now is not None else (state.now if state is not None else None))
        self.state = state or JiraState(now=self.now)
        self.basic = base64.b64encode(f"{email}:{token}".encode()).decode()
        self.pat = pat
        self.max_results_cap = 100
        self._routes: list[tuple[str, re.Pattern[str], Callable[[Request, dict[str, str]], Response]]] = [
            ("GET", re.compile(r"/rest/api/[23]/myself"), self._myself),
            ("GET", re.compile(r"/rest/api/3/search/jql"), self._search),
            ("POST", re.compile(r"/rest/api/3/search/jql"), self._search),
            ("GET", re.compile(r"/rest/api/[23]/search"), self._gone),
            ("POST", re.compile(r"/rest/api/[23]/search"), self._gone),
            ("GET", re.compile(r"/rest/api/[23]/project/(?P<key>[A-Za-z0-9_]+)"), self._project),
            ("GET", re.compile(r"/rest/api/[23]/user/assignable/search"), self._assignable),
            ("POST", re.compile(r"/rest/api/[23]/issue"), self._create_issue),
            ("GET", re.compile(_ISSUE), self._get_issue),
            ("PUT", re.compile(_ISSUE), self._edit_issue),
            ("GET", re.compile(_ISSUE + "/changelog"), self._changelog),
            ("GET", re.compile(_ISSUE + "/comment"), self._list_comments),
            ("POST", re.compile(_ISSUE + "/comment"), self._add_comment),
            ("GET", re.compile(_ISSUE + "/transitions"), self._transitions),
            ("POST", re.compile(_ISSUE + "/transitions"), self._do_transition),
            ("PUT", re.compile(_ISSUE + "/assignee"), self._assign),
            ("GET", re.compile(_ISSUE + "/remotelink"), self._list_links),
            ("POST", re.compile(_ISSUE + "/remotelink"), self._add_link),
            ("GET", re.compile(_ISSUE + r"/properties/(?P<prop>[^/]+)"), self._get_issue_property),
            ("PUT", re.compile(_ISSUE + r"/properties/(?P<prop>[^/]+)"), self._put_issue_property),
            ("GET", re.compile(r"/rest/api/[23]/comment/(?P<cid>\d+)/properties/(?P<prop>[^/]+)"),
             self._get_comment_property),
            ("PUT", re.compile(r"/rest/api/[23]/comment/(?P<cid>\d+)/properties/(?P<prop>[^/]+)"),
             self._put_comment_property),
        ]

    def start(self) -> Self:
        """Bind and serve; ``self`` links in answers then point at this server."""
        super().start()
        self.state.base = self.origin
        return self

    # -- auth and faults ----------------------------------------------------------------------

    def _caller(self, req: Request) -> JUser | None:
        scheme, _, value = req.headers.get("authorization", "").partition(" ")
        if (scheme.lower() == "basic" and value.strip() == self.basic) or (
                scheme.lower() == "bearer" and value.strip() == self.pat):
            return self.state.me
        return None

    def fault_response(self, fault: Fault, req: Request) -> Response:
        """Jira-flavoured faults: ``ratelimited``/``rate_limit`` → 429 with ``Retry-After`` and
        ``RateLimit-Reason``; ``auth`` → 401; a plain status → Jira's error body."""
        retry = fault.retry_after if fault.retry_after is not None else 1
        if fault.kind in ("ratelimited", "rate_limit", "secondary_limit"):
            reason = fault.headers.get("RateLimit-Reason", "jira-burst-based")
            resp = Response(status=429, body=fault.body if fault.body is not None else
                            {"errorMessages": ["Rate limit exceeded."], "errors": {}},
                            headers={"Retry-After": str(retry), "RateLimit-Reason": reason,
                                     "X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                                     "X-RateLimit-Reset": jira_time(self.now() + timedelta(seconds=retry))})
        elif fault.kind == "auth" or fault.status == 401:
            resp = _error(401, "Client must be authenticated to access this resource.")
        elif fault.body is not None:
            resp = Response(status=fault.status or 500, body=fault.body)
        elif fault.status == 403:
            resp = _error(403, "You do not have permission to perform this operation.")
        elif fault.status == 404:
            resp = _error(404, NOT_FOUND)
        elif fault.status == 410:
            resp = _error(410, GONE_MESSAGE)
        else:
            resp = _error(fault.status or 500, "Internal server error")
        resp.headers.update({k: v for k, v in fault.headers.items() if k != "RateLimit-Reason"})
        return resp

    def route(self, req: Request) -> Response:
        """Authenticate, then route to an endpoint handler."""
        path = req.path.rstrip("/")
        with self.state.lock:
            if self._caller(req) is None:
                return _error(401, "Client must be authenticated to access this resource.")
            if self.state.server and path.startswith("/rest/api/3/"):
                return _error(404, "null for uri: " + req.base + req.path)
            if self.state.server and path == "/rest/api/2/search":
                return self._search(req, {"v": "2"})
            for verb, pattern, fn in self._routes:
                m = pattern.fullmatch(path)
                if m is not None and verb == req.method:
                    params = m.groupdict()
                    if "key" in params and pattern.pattern.startswith(_ISSUE):
                        issue = self.state.issues.get(params["key"].upper())
                        if issue is None or issue.project in self.state.forbidden_projects:
                            return _error(404, NOT_FOUND)
                    return fn(req, params)
            return _error(404, "null for uri: " + req.base + req.path)

    def _body(self, req: Request) -> dict[str, Any]:
        return req.body if isinstance(req.body, dict) else {}

    # -- endpoints ------------------------------------------------------------------------------

    def _myself(self, req: Request, p: dict[str, str]) -> Response:
        return Response(body=self.state.user_json(self.state.me.account_id))

    def _gone(self, req: Request, p: dict[str, str]) -> Response:
        return _error(410, GONE_MESSAGE)

    def _project(self, req: Request, p: dict[str, str]) -> Response:
        project = self.state.projects.get(p["key"].upper())
        if project is None:
            return _error(404, f"No project could be found with key '{p['key']}'.")
        if project.key in self.state.forbidden_projects:
            return _error(403, "You do not have permission to view this project.")
        return Response(body=self.state.project_json(project))

    def _fields(self, raw: Any) -> set[str] | None:
        """The ``fields`` parameter: None = all; a set of names; default ``id`` only."""
        if raw is None or raw == "" or raw == []:
            return set()
        names = raw if isinstance(raw, list) else str(raw).split(",")
        names = [str(n).strip() for n in names if str(n).strip()]
        if any(n in ("*all", "*navigable") for n in names):
            return None
        return set(names)

    def _search(self, req: Request, p: dict[str, str]) -> Response:
        body = self._body(req) if req.method == "POST" else {}
        get = (lambda k: body.get(k)) if req.method == "POST" else req.query.get
        jql = str(get("jql") or "")
        if not jql.strip():
            return _error(400, "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.")
        try:
            query = parse_jql(jql)
            for fld, op, values in query.clauses:
                unknown = [v for v in values if fld == "project" and op in ("=", "in") and (
                    v.upper() not in self.state.projects or v.upper() in self.state.forbidden_projects)]
                if unknown:
                    raise JqlError(f"The value '{unknown[0]}' does not exist for the field 'project'.")
            caller = self.state.me
            found = [i for i in self.state.issues.values()
                     if i.project not in self.state.forbidden_projects and matches(self.state, i, query, caller)]
        except JqlError as exc:
            return _error(400, str(exc))
        fld, desc = query.order
        keyf: Callable[[JIssue], Any] = {
            "updated": lambda i: (i.updated, i.id), "created": lambda i: (i.created, i.id),
        }.get(fld, lambda i: (i.project, i.id))
        found.sort(key=keyf, reverse=desc)
        try:
            size = max(1, min(int(get("maxResults") or 50), self.max_results_cap))
        except ValueError:
            return _error(400, "maxResults must be a number.")
        start = 0
        token = get("nextPageToken")
        if p.get("v") == "2":
            try:
                start = max(0, int(get("startAt") or 0))
            except ValueError:
                return _error(400, "startAt must be a number.")
        elif token:
            try:
                start = int(json.loads(base64.urlsafe_b64decode(str(token).encode()))["at"])
            except (ValueError, KeyError, TypeError):
                return _error(400, "The provided next page token is invalid or expired.")
        expand = str(get("expand") or "")
        page = found[start:start + size]
        fields = self._fields(get("fields"))
        wanted = get("properties")
        props = [str(x) for x in wanted] if isinstance(wanted, list) else str(wanted or "").split(",")
        issues = []
        for issue in page:
            one = self.state.issue_json(issue, fields, changelog="changelog" in expand)
            if any(props):
                one["properties"] = {k: issue.properties[k] for k in props if k in issue.properties}
            issues.append(one)
        out: dict[str, Any] = {"issues": issues}
        if p.get("v") == "2":
            return Response(body={"expand": "schema,names", "startAt": start, "maxResults": size,
                                  "total": len(found), "issues": issues})
        if start + size < len(found):
            out["nextPageToken"] = base64.urlsafe_b64encode(json.dumps({"at": start + size}).encode()).decode()
            out["isLast"] = False
        else:
            out["isLast"] = True
        return Response(body=out)

    def _assignable(self, req: Request, p: dict[str, str]) -> Response:
        """``GET /user/assignable/search``: the people who can be assigned an issue (or in a
        project) whose display name, a word of it, or email address starts with ``query``
        (``username`` on Server/DC), or exactly the ``accountId``; paged by ``startAt``."""
        q = req.query
        key, project_key = q.get("issueKey") or q.get("issueId"), q.get("project")
        if not key and not project_key:
            return _error(400, "At least one of the issueKey, issueId or project parameters is required.")
        query = q.get("username") if self.state.server else q.get("query")
        account = q.get("accountId")
        if (query is None) == (account is None):
            return _error(400, "Provide exactly one of the query or accountId parameters.")
        project = self.state.issues.get(str(key).upper()) if key else None
        if (key and project is None) or (project_key and project_key.upper() not in self.state.projects):
            return _error(404, NOT_FOUND if key else f"No project could be found with key '{project_key}'.")
        try:
            start = max(0, int(q.get("startAt", 0)))
            size = max(1, min(int(q.get("maxResults", 50)), 1000))
        except ValueError:
            return _error(400, "startAt and maxResults must be numbers.")
        people = [u for u in self.state.users.values() if u.account_type == "atlassian"]
        if account is not None:
            found = [u for u in people if u.account_id == account]
        else:
            needle = " ".join(str(query).split()).casefold()
            found = [u for u in people if not needle or any(
                s.startswith(needle) for s in (u.display_name.casefold(), *u.display_name.casefold().split(),
                                               (u.email or "").casefold()))]
        found.sort(key=lambda u: (u.display_name.casefold(), u.account_id))
        return Response(body=[self.state.user_json(u.account_id) for u in found[start:start + size]])

    def _get_issue(self, req: Request, p: dict[str, str]) -> Response:
        issue = self.state.issue(p["key"])
        fields = self._fields(req.query.get("fields")) if "fields" in req.query else None
        out = self.state.issue_json(issue, fields, changelog="changelog" in req.query.get("expand", ""))
        wanted = [k for k in req.query.get("properties", "").split(",") if k]
        if wanted:
            out["properties"] = {k: issue.properties[k] for k in wanted if k in issue.properties}
        return Response(body=out)

    def _edit_issue(self, req: Request, p: dict[str, str]) -> Response:
        issue = self.state.issue(p["key"])
        body = self._body(req)
        fields, update = _obj(body.get("fields")), _obj(body.get("update"))
        priority = None
        if "priority" in fields:
            name = (fields["priority"] or {}).get("name") if isinstance(fields["priority"], dict) else None
            if name not in PRIORITIES:
                return _error(400, errors={"priority": "Specify a valid 'id' or 'name' for Priority"})
            priority = name
        labels = list(fields["labels"]) if isinstance(fields.get("labels"), list) else None
        for op in update.get("labels") or []:
            labels = labels if labels is not None else list(issue.labels)
            if isinstance(op, dict) and isinstance(op.get("add"), str) and op["add"] not in labels:
                labels.append(op["add"])
            if isinstance(op, dict) and isinstance(op.get("remove"), str) and op["remove"] in labels:
                labels.remove(op["remove"])
        if labels is not None and any(" " in x for x in labels):
            return _error(400, errors={"labels": "The label can't contain spaces."})
        self.state.set_fields(issue.key, priority=priority, labels=labels)
        return Response(status=204)

    def _create_issue(self, req: Request, p: dict[str, str]) -> Response:
        body = self._body(req)
        fields = _obj(body.get("fields"))
        project = _obj(fields.get("project")).get("key")
        errors = {}
        if project not in self.state.projects:
            errors["project"] = "Specify a valid project ID or key"
        if not str(fields.get("summary") or "").strip():
            errors["summary"] = "You must specify a summary of the issue."
        if errors:
            return _error(400, errors=errors)
        props = {str(x.get("key")): x.get("value") for x in body.get("properties") or [] if isinstance(x, dict)}
        itype = _obj(fields.get("issuetype")).get("name")
        issue = self.state.add_issue(str(project), str(fields["summary"]), description=fields.get("description"),
                                     issue_type=str(itype or "Task"), status="Backlog",
                                     labels=[str(x) for x in fields.get("labels") or []], properties=props)
        return Response(status=201, body={"id": str(issue.id), "key": issue.key,
                                          "self": f"{self.state.base}/rest/api/3/issue/{issue.id}"})

    def _changelog(self, req: Request, p: dict[str, str]) -> Response:
        issue = self.state.issue(p["key"])
        try:
            start = int(req.query.get("startAt", 0))
            size = max(1, min(int(req.query.get("maxResults", 100)), 100))
        except ValueError:
            return _error(400, "startAt and maxResults must be numbers.")
        rows = issue.histories[start:start + size]
        return Response(body={"self": f"{self.state.base}/rest/api/3/issue/{issue.key}/changelog", "maxResults": size,
                              "startAt": start, "total": len(issue.histories),
                              "isLast": start + size >= len(issue.histories),
                              "values": [self.state.history_json(h) for h in rows]})

    def _list_comments(self, req: Request, p: dict[str, str]) -> Response:
        issue = self.state.issue(p["key"])
        comments = list(issue.comments)
        if req.query.get("orderBy", "").lstrip("+") == "-created":
            comments.reverse()
        try:
            start = int(req.query.get("startAt", 0))
            size = max(1, min(int(req.query.get("maxResults", 100)), 100))
        except ValueError:
            return _error(400, "startAt and maxResults must be numbers.")
        props = "properties" in req.query.get("expand", "")
        return Response(body={"startAt": start, "maxResults": size, "total": len(comments),
                              "comments": [self.state.comment_json(issue, c, properties=props)
                                           for c in comments[start:start + size]]})

    def _add_comment(self, req: Request, p: dict[str, str]) -> Response:
        issue = self.state.issue(p["key"])
        body = self._body(req)
        adf = body.get("body")
        valid = (isinstance(adf, str) and adf.strip()) if self.state.server else (
            isinstance(adf, dict) and adf.get("type") == "doc")
        if not valid:
            return _error(400, errors={"comment": "Comment body can not be empty!"})
        props = {str(x.get("key")): x.get("value") for x in body.get("properties") or [] if isinstance(x, dict)}
        internal = props.get("sd.public.comment") == {"internal": True}
        comment = self.state.add_comment(issue.key, adf, author=self.state.me.account_id, internal=internal,
                                         properties=props)
        return Response(status=201, body=self.state.comment_json(issue, comment, properties=True))

    def _transitions(self, req: Request, p: dict[str, str]) -> Response:
        issue = self.state.issue(p["key"])
        out = []
        for name, (sid, _) in self.state.statuses.items():
            if name == issue.status:
                continue
            out.append({"id": str(sid - 9000), "name": f"Move to {name}", "to": self.state.status_json(name),
                        "hasScreen": False, "isGlobal": True, "isInitial": False, "isAvailable": True,
                        "isConditional": False, "isLooped": False})
        return Response(body={"expand": "transitions", "transitions": out})

    def _do_transition(self, req: Request, p: dict[str, str]) -> Response:
        issue = self.state.issue(p["key"])
        transition = self._body(req).get("transition")
        tid = str(transition.get("id")) if isinstance(transition, dict) else ""
        target = next((n for n, (sid, _) in self.state.statuses.items() if str(sid - 9000) == tid), None)
        if target is None or target == issue.status:
            return _error(400, f"Transition id '{tid}' is not valid for this issue.")
        self.state.set_status(issue.key, target)
        return Response(status=204)

    def _assign(self, req: Request, p: dict[str, str]) -> Response:
        issue = self.state.issue(p["key"])
        body = self._body(req)
        account = body.get("name") if self.state.server else body.get("accountId")
        if account is not None and account not in self.state.users:
            return _error(404, f"User with accountId '{account}' does not exist")
        self.state.set_assignee(issue.key, account)
        return Response(status=204)

    def _list_links(self, req: Request, p: dict[str, str]) -> Response:
        issue = self.state.issue(p["key"])
        return Response(body=list(issue.remote_links))

    def _add_link(self, req: Request, p: dict[str, str]) -> Response:
        issue = self.state.issue(p["key"])
        body = self._body(req)
        obj = body.get("object")
        if not isinstance(obj, dict) or not obj.get("url") or not obj.get("title"):
            return _error(400, errors={"object": "'url' and 'title' are required."})
        global_id = body.get("globalId")
        for link in issue.remote_links:
            if global_id and link.get("globalId") == global_id:
                link["object"] = obj
                return Response(status=200, body={"id": link["id"], "self": link["self"]})
        lid = self.state._next("link")
        link = {"id": lid, "self": f"{self.state.base}/rest/api/3/issue/{issue.key}/remotelink/{lid}",
                "object": obj}
        if global_id:
            link["globalId"] = global_id
        issue.remote_links.append(link)
        issue.updated = self.now()
        return Response(status=201, body={"id": lid, "self": link["self"]})

    def _get_issue_property(self, req: Request, p: dict[str, str]) -> Response:
        issue = self.state.issue(p["key"])
        if p["prop"] not in issue.properties:
            return _error(404, f"The property with key '{p['prop']}' does not exist.")
        return Response(body={"key": p["prop"], "value": issue.properties[p["prop"]]})

    def _put_issue_property(self, req: Request, p: dict[str, str]) -> Response:
        issue = self.state.issue(p["key"])
        existed = p["prop"] in issue.properties
        issue.properties[p["prop"]] = req.body
        return Response(status=200 if existed else 201, body={})

    def _comment(self, cid: str) -> tuple[JIssue, JComment] | None:
        for issue in self.state.issues.values():
            for c in issue.comments:
                if str(c.id) == cid and issue.project not in self.state.forbidden_projects:
                    return issue, c
        return None

    def _get_comment_property(self, req: Request, p: dict[str, str]) -> Response:
        found = self._comment(p["cid"])
        if found is None or p["prop"] not in found[1].properties:
            return _error(404, f"The property with key '{p['prop']}' does not exist.")
        return Response(body={"key": p["prop"], "value": found[1].properties[p["prop"]]})

    def _put_comment_property(self, req: Request, p: dict[str, str]) -> Response:
        found = self._comment(p["cid"])
        if found is None:
            return _error(404, "Can not find a comment for the id.")
        comment = found[1]
        existed = p["prop"] in comment.properties
        comment.properties[p["prop"]] = req.body
        if p["prop"] == "sd.public.comment" and comment.public is not None and isinstance(req.body, dict):
            comment.public = not req.body.get("internal", False)
        return Response(status=200 if existed else 201, body={})
