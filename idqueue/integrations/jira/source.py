"""The Jira source: the issues of a JQL search, their comments and changelog.

One poll runs ``POST /rest/api/3/search/jql`` (the only search Jira Cloud still has; the old
``/search`` answers ``410``) with ``fields`` and ``expand=changelog``, page after page by
``nextPageToken`` until ``isLast``; Server/Data Center (a PAT, REST v2) pages ``/rest/api/2/search``
by ``startAt``. The JQL is the configured one (``jira.jql``, default ``project = <jira.project>
ORDER BY updated DESC``) narrowed to ``updated >= <cursor − overlap>`` and ordered by ``updated``
ascending (see :mod:`.cursor`: JQL dates are minutes in the account's time zone, read from
``/myself``). A first sync reads ``history_months`` back.

Each page is one :class:`~idqueue.integrations.base.Batch` (items and their events); the cursor
travels only in the last batch, so a poll that fails half-way reads the same issues again next
time (upserts make that harmless). An issue whose embedded comment list or changelog is cut short
is read in full (``GET .../comment``, ``GET .../changelog``). The remote links of changed *open*
issues are read too, at most :data:`MAX_LINK_READS` a poll (a Slack permalink there links the
Slack thread and the issue; Jira does not count a new remote link as an update, so one added later
is seen at the issue's next change). Permalinks in the description always count.

Backlog items: a Slack or email request moved to the backlog becomes an issue in the backlog
project (``jira.backlog_project``, else ``jira.project``) that carries idqueue's ``idqueue``
property (with the request's id). Whether or not the JQL covers that project, each poll also
asks which of its issues changed since the last poll (``project = <backlog> AND updated >= …``,
keys, ``updated`` and that property only) and reads in full, by key in chunks of
:data:`KEY_CHUNK`, those that are idqueue's or that a request links to: they become that
request's *backlog item* (see :mod:`.fold`), never requests of their own. Backlog-project issues a
request links to are remembered in the ``follow`` cursor (the store's hints name them only while
the request is open). Issues an open request links to that were never read (the store's
``linked`` hints) are read by key, at most :data:`MAX_LINK_READS` a poll. An idle poll costs two
searches.

Reads are retried (5xx, timeouts: ``max_attempts``; a 429 whose ``Retry-After`` is at most
``max_wait`` is sat out on the injected ``sleep``); anything else becomes one clear
:class:`~idqueue.integrations.base.SourceError` line without secrets.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from idqueue.clock import clock_for
from idqueue.config import Settings
from idqueue.domain.models import SourceKind
from idqueue.integrations.base import (
    AuthError,
    BadPayload,
    Batch,
    FetchStats,
    NotFound,
    PollHints,
    RateLimited,
    Source,
    SourceError,
    Unavailable,
    ValidationFailed,
)
from idqueue.integrations.github.cursor import months_before
from idqueue.integrations.jira.api import SOURCE, JiraApi, JiraConfigError
from idqueue.integrations.jira.convert import (
    ACTION_PROPERTY,
    PRIORITY_PROPERTY,
    comment_to_event,
    history_to_events,
    issue_marker,
    issue_to_item,
    parse_time,
)
from idqueue.integrations.jira.cursor import SearchCursor, incremental_jql, zone

FIELDS = ["summary", "description", "reporter", "assignee", "status", "priority", "labels", "components",
          "issuetype", "created", "updated", "resolutiondate", "resolution", "comment"]
"""The fields a search asks for (``*navigable`` would send every custom field too)."""
MAX_RATE_WAITS = 3
MAX_LINK_READS = 50
"""Remote-link reads per poll (one request each): only for open issues, the first 50 changed;
also the most issues read by key per poll because an open request links to them."""
KEY_CHUNK = 50
"""Issue keys per ``key in (…)`` search."""
MAX_FOLLOWED = 5000
"""The most backlog-project keys the ``follow`` cursor remembers (the newest stay)."""
_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,9}-[1-9][0-9]{0,9}$")


class JiraSource(Source):
    """Requests from a Jira project (or any JQL).

    Args:
        settings: ``settings.jira`` (site, credentials, JQL, page size, pending statuses) and
            ``history_months``.
        client: an httpx client (tests inject one); by default one with a 20 s timeout.
        clock: "now" (aware UTC); defaults to the settings' clock (``IDQUEUE_NOW``).
        sleep: how to wait (tests pass a recorder).
        max_wait: the longest ``Retry-After`` sat out inside a poll; longer raises RateLimited.
        max_attempts: attempts per read on 5xx, timeouts and connection errors.
    """

    kind = SourceKind("jira")
    can_write = True
    wants_hints = True

    def __init__(self, settings: Settings, *, client: httpx.Client | None = None,
                 clock: Callable[[], datetime] | None = None, sleep: Callable[[float], None] = time.sleep,
                 max_wait: float = 60.0, max_attempts: int = 3) -> None:
        self.settings = settings
        self.name = "jira"
        self._client = client
        self._clock = clock or clock_for(settings)
        self._sleep = sleep
        self.max_wait = max_wait
        self.max_attempts = max(1, max_attempts)
        self._api: JiraApi | None = None
        self._tz: ZoneInfo | None = None
        self._me = ""
        """The API account's id: its comments may be idqueue's, whose marker is a property."""
        self._link_reads = 0
        self._hinted: list[str] = []
        """Jira item ids the store says open requests have, or link to without having them."""
        self._missing: list[str] = []
        """Of those, the ones never read (the store's ``linked`` hints)."""
        self._follow: dict[str, None] = {}
        """Backlog-project keys requests link to (the ``follow`` cursor), oldest first."""
        self._emitted: set[str] = set()
        """Keys this poll already converted."""

    def prepare(self, hints: PollHints) -> None:
        """Remember the Jira items open requests have or link to (see the module docstring)."""
        self._hinted = [i for i in (*hints.open_items, *hints.linked, *hints.read_first) if i.startswith("jira:")]
        self._missing = [i for i in hints.linked if i.startswith("jira:")]

    # ------------------------------------------------------------------ plumbing

    @property
    def api(self) -> JiraApi:
        """The client (built on first use, so a missing setting fails the poll, not the start)."""
        if self._api is None:
            self._api = JiraApi(self.settings, client=self._client, clock=self._clock)
        return self._api

    def _read(self, method: str, path: str, what: str, *, params: dict[str, Any] | None = None,
              body: Any = None) -> Any:
        """A read, retried on outages and short rate limits."""
        attempt, waits = 0, 0
        while True:
            attempt += 1
            try:
                return self.api.call(method, path, what, params=params, body=body)
            except RateLimited as exc:
                wait = (exc.until - self._clock()).total_seconds()
                if waits >= MAX_RATE_WAITS or wait > self.max_wait:
                    raise
                waits += 1
                self._sleep(max(1.0, wait))
            except Unavailable:
                if attempt >= self.max_attempts:
                    raise
                self._sleep(float(2 ** (attempt - 1)))

    def _zone(self) -> ZoneInfo:
        if self._tz is None:
            me = self._read("GET", "myself", "read the Jira account")
            me = me if isinstance(me, dict) else {}
            self._tz = zone(me.get("timeZone"))
            self._me = str(me.get("accountId") or me.get("name") or "")
        return self._tz

    def _jql(self) -> str:
        jql = self.settings.jira.effective_jql
        if not jql:
            raise JiraConfigError("no Jira project or JQL configured (IDQUEUE_JIRA__PROJECT or IDQUEUE_JIRA__JQL)",
                                  source=SOURCE)
        return jql

    # ------------------------------------------------------------------ public API

    def fetch(self, cursors: dict[str, Any]) -> Iterator[Batch]:
        """Yield one batch per search page, then the backlog items and linked issues, then one
        with the new cursors.

        Raises:
            AuthError, RateLimited, Unavailable, NotFound, BadPayload, ValidationFailed.
        """
        jql = self._jql()
        self.api.requests = 0
        cursor = SearchCursor.load(cursors.get("search"), jql)
        since = cursor.since() or months_before(self._clock(), self.settings.history_months)
        query = incremental_jql(jql, since, self._zone())
        done = 0
        self._link_reads = 0
        self._emitted = set()
        self._load_follow(cursors.get("follow"))
        for page in self._pages(query):
            batch = Batch()
            for raw in page:
                if self._seen(raw, cursor):
                    self._issue(raw, batch)
            done += len(page)
            batch.stats = FetchStats(requests=self.api.requests, fetched=len(batch.items))
            self.api.requests = 0
            batch.progress = (done, None)
            yield batch
        cursor.prune()
        cursors_out: dict[str, Any] = {"search": cursor.dump()}
        refused: SourceError | None = None
        try:
            backlog = yield from self._backlog_items(cursors.get("backlog"))
        except (AuthError, NotFound, ValidationFailed) as exc:
            # The backlog project is missing or out of reach: the requests are still read, and
            # the error is reported after them (``idqueue doctor`` says which setting to fix).
            refused, backlog = exc, None
        if backlog is not None:
            cursors_out["backlog"] = backlog.dump()
        yield from self._linked_issues()
        cursors_out["follow"] = list(self._follow)[-MAX_FOLLOWED:]
        yield Batch(cursors=cursors_out, stats=FetchStats(requests=self.api.requests))
        if refused is not None:
            raise refused

    # ------------------------------------------------------------------ backlog items
    def _backlog_project(self) -> str:
        jira = self.settings.jira
        return (jira.backlog_project or jira.project or "").strip().upper()

    def _load_follow(self, stored: Any) -> None:
        """The ``follow`` cursor, plus the backlog-project issues the store's hints name now."""
        keys = [str(k) for k in stored if isinstance(k, str)] if isinstance(stored, list) else []
        self._follow = dict.fromkeys(keys)
        project = self._backlog_project()
        distinct = project and project != (self.settings.jira.project or "").strip().upper()
        for item_id in self._hinted:
            key = self._own_key(item_id)
            if distinct and key is not None and key.rsplit("-", 1)[0] == project:
                self._follow.pop(key, None)
                self._follow[key] = None

    def _own_key(self, item_id: str) -> str | None:
        """The issue key of an item id of this site (None for another site or a malformed id)."""
        host, _, key = item_id.removeprefix("jira:").rpartition("/")
        return key if host.lower() == self.api.creds.host.lower() and _KEY.match(key) else None

    def _is_backlog_item(self, raw: dict[str, Any]) -> bool:
        """idqueue created it for a request (its property), or it is a backlog-project issue a
        request links to."""
        return bool(issue_marker(raw)) or str(raw.get("key") or "") in self._follow

    def _backlog_items(self, stored: Any) -> Generator[Batch, None, SearchCursor | None]:
        """The backlog project's changed issues that are requests' backlog items, read in full.

        Returns (as the generator's value) the backlog search's cursor, or None when no backlog
        project is configured.
        """
        project = self._backlog_project()
        jira = self.settings.jira
        if not project or (not jira.jql and project == (jira.project or "").strip().upper()):
            return None  # none, or the default JQL (``project = <it>``) read it already
        jql = f'project = "{project}" ORDER BY updated DESC'
        cursor = SearchCursor.load(stored, jql)
        since = cursor.since() or months_before(self._clock(), self.settings.history_months)
        keys: list[str] = []
        for page in self._pages(incremental_jql(jql, since, self._zone()), fields=["updated"], size=100):
            for raw in page:
                if self._seen(raw, cursor) and self._is_backlog_item(raw) and raw["key"] not in self._emitted:
                    keys.append(str(raw["key"]))
        cursor.prune()
        for start in range(0, len(keys), KEY_CHUNK):
            yield self._by_keys(keys[start:start + KEY_CHUNK])
        return cursor

    def _by_keys(self, keys: list[str]) -> Batch:
        """One batch of the issues with these keys (one ``key in (…)`` search, all its pages)."""
        batch = Batch()
        for page in self._pages(f"key in ({', '.join(keys)}) ORDER BY key ASC"):
            for raw in page:
                if str(raw.get("key") or "") not in self._emitted:
                    self._issue(raw, batch)
        batch.stats = FetchStats(requests=self.api.requests, fetched=len(batch.items))
        self.api.requests = 0
        return batch

    def _linked_issues(self) -> Iterator[Batch]:
        """Issues open requests link to that were never read, one by one (a key named in a
        thread may not exist: a 404 is skipped)."""
        keys = [k for k in dict.fromkeys(self._own_key(i) for i in self._missing) if k and k not in self._emitted]
        if not keys:
            return
        batch = Batch()
        for key in keys[:MAX_LINK_READS]:
            try:
                raw = self._read("GET", f"issue/{key}", f"read the linked issue {key}",
                                 params={"fields": ",".join(FIELDS), "expand": "changelog",
                                         "properties": f"{ACTION_PROPERTY},{PRIORITY_PROPERTY}"})
            except NotFound:
                self._follow.pop(key, None)
                continue
            if isinstance(raw, dict) and isinstance(raw.get("key"), str):
                self._issue(raw, batch)
        self._missing = []
        batch.stats = FetchStats(requests=self.api.requests, fetched=len(batch.items))
        self.api.requests = 0
        yield batch

    # ------------------------------------------------------------------ search and issues
    def _pages(self, query: str, *, fields: list[str] | None = None,
               size: int | None = None) -> Iterator[list[dict[str, Any]]]:
        """The search's pages of issues (``nextPageToken`` on Cloud, ``startAt`` on Server/DC);
        ``fields`` narrows what each issue carries (default: :data:`FIELDS` and the changelog),
        ``size`` the page (default ``jira.page_size``)."""
        size = size or self.settings.jira.page_size
        token: str | None = None
        start = 0
        while True:
            body: dict[str, Any] = {"jql": query, "fields": fields or FIELDS, "maxResults": size,
                                    "properties": [ACTION_PROPERTY, PRIORITY_PROPERTY]}
            if fields is None:
                body["expand"] = "changelog"
            if self.api.version == "3":
                if token:
                    body["nextPageToken"] = token
                data = self._read("POST", "search/jql", "search Jira issues", body=body)
            else:
                body["startAt"] = start
                if fields is None:
                    body["expand"] = ["changelog"]
                data = self._read("POST", "search", "search Jira issues", body=body)
            if not isinstance(data, dict) or not isinstance(data.get("issues"), list):
                raise BadPayload("Jira sent a search answer without an issue list", source=SOURCE)
            issues = [i for i in data["issues"] if isinstance(i, dict)]
            yield issues
            if self.api.version == "3":
                token = data.get("nextPageToken") if isinstance(data.get("nextPageToken"), str) else None
                if data.get("isLast", token is None) or not token:
                    return
            else:
                start += len(issues)
                if not issues or start >= int(data.get("total") or 0):
                    return

    @staticmethod
    def _seen(raw: dict[str, Any], cursor: SearchCursor) -> bool:
        """Record an issue in the search's cursor; False when it is a boundary repeat.

        Raises:
            BadPayload: the issue has no key or ``updated`` time.
        """
        fields = raw.get("fields")
        key = raw.get("key")
        updated = parse_time(fields.get("updated")) if isinstance(fields, dict) else None
        if not isinstance(key, str) or updated is None:
            raise BadPayload("Jira sent an issue without a key or an updated time", source=SOURCE)
        if cursor.unchanged(key, updated):
            return False
        cursor.see(key, updated)
        return True

    def _issue(self, raw: dict[str, Any], batch: Batch) -> None:
        """Convert one issue (and read what the search cut short) into the batch."""
        fields: dict[str, Any] = _dig(raw, "fields") if isinstance(_dig(raw, "fields"), dict) else {}
        key = str(raw.get("key"))
        self._emitted.add(key)
        api = self.api
        urls: list[str] = []
        backlog = self._is_backlog_item(raw)
        open_issue = _dig(fields, "status", "statusCategory", "key") != "done"
        knows_request = backlog and bool(issue_marker(raw).get("request"))
        if open_issue and not knows_request and self._link_reads < MAX_LINK_READS:
            self._link_reads += 1
            links = self._read("GET", f"issue/{key}/remotelink", f"read the remote links of {key}")
            urls = [str(_dig(x, "object", "url")) for x in links or [] if _dig(x, "object", "url")]
        try:
            item = issue_to_item(raw, api.creds.host, api.creds.site, self.settings, remote_urls=urls,
                                 backlog_item=backlog)
            batch.items.append(item)
            for comment in self._comments(key, fields):
                batch.events.append(comment_to_event(comment, item.id, api.creds.host, item.url, self.settings,
                                                     backlog_item=backlog))
            for history in self._histories(key, raw):
                if isinstance(history, dict):
                    batch.events.extend(history_to_events(history, item.id, api.creds.host, self.settings,
                                                          backlog_item=backlog))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadPayload(f"Jira sent an unreadable issue {key} ({type(exc).__name__})", source=SOURCE) from None

    def _histories(self, key: str, raw: dict[str, Any]) -> list[dict[str, Any]]:
        """The issue's changelog: the embedded one, or all pages when it was cut short."""
        changelog: dict[str, Any] = raw["changelog"] if isinstance(raw.get("changelog"), dict) else {}
        histories = [h for h in changelog.get("histories") or [] if isinstance(h, dict)]
        total = changelog.get("total")
        if not isinstance(total, int) or total <= len(histories) or self.api.version != "3":
            return histories
        histories, start = [], 0
        while True:
            page = self._read("GET", f"issue/{key}/changelog", f"read the changelog of {key}",
                              params={"startAt": start, "maxResults": 100})
            rows = [h for h in (page or {}).get("values") or [] if isinstance(h, dict)]
            histories.extend(rows)
            start += len(rows)
            if not rows or (page or {}).get("isLast", True):
                return histories

    def _comments(self, key: str, fields: dict[str, Any]) -> list[dict[str, Any]]:
        """The issue's comments: the embedded list, or all pages when it was cut short."""
        embedded: dict[str, Any] = fields["comment"] if isinstance(fields.get("comment"), dict) else {}
        comments = [c for c in embedded.get("comments") or [] if isinstance(c, dict)]
        total = embedded.get("total")
        # Server/DC marks internal notes only in a comment property, and idqueue's own comments
        # (written as the API account) carry their marker there too: read those with properties.
        mine = any(_dig(c, "author", "accountId") == self._me for c in comments) if self._me else False
        if self.api.version == "3" and not mine and (not isinstance(total, int) or total <= len(comments)):
            return comments
        if isinstance(total, int) and total == 0:
            return []
        comments, start = [], 0
        while True:
            page = self._read("GET", f"issue/{key}/comment", f"read the comments of {key}",
                              params={"startAt": start, "maxResults": 100, "expand": "properties"})
            rows = [c for c in (page or {}).get("comments") or [] if isinstance(c, dict)]
            comments.extend(rows)
            start += len(rows)
            if not rows or start >= int((page or {}).get("total") or 0):
                return comments

    def check(self) -> dict[str, Any]:
        """Facts for ``idqueue doctor``: the account, its time zone, the API, what the JQL finds.

        Raises:
            AuthError, NotFound, RateLimited, Unavailable, ValidationFailed: the first failing check.
        """
        me = self._read("GET", "myself", "read the Jira account (the token check)")
        me = me if isinstance(me, dict) else {}
        jql = self._jql()
        path = "search/jql" if self.api.version == "3" else "search"
        found = self._read("POST", path, "run the configured JQL", body={"jql": jql, "maxResults": 1, "fields": ["key"]})
        return {
            "account": me.get("displayName"),
            "account_id": me.get("accountId") or me.get("name"),
            "time_zone": me.get("timeZone"),
            "api": "REST v3 (Cloud)" if self.api.version == "3" else "REST v2 (Server/Data Center)",
            "jql": jql,
            "issues": "the JQL finds some" if isinstance(found, dict) and found.get("issues") else "none yet",
        }

    def close(self) -> None:
        """Close the HTTP client if this source created it."""
        if self._api is not None:
            self._api.close()


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


__all__ = ["JiraSource"]
