"""The GitHub source: support issues, their comments and issue events, polled over REST.

Polling uses httpx rather than PyGithub because PyGithub cannot send ``If-None-Match`` on list
calls, and a conditional request answered ``304`` costs no rate limit (PERFORMANCE.md: an idle
poll must cost nothing). Writes (the outbox) use PyGithub in :mod:`idqueue.integrations.github.writer`.

Per configured repository, one poll reads three lists, each with its own cursor (comments
and events are read first but handed over after the issues; see ``GitHubSource._fetch_repo``):

* ``issues:<repo>`` — ``GET /repos/{repo}/issues?state=all&sort=updated&direction=asc&since=S``
  (``{"since", "etag", "max_updated", "label"}``). ``S`` stays fixed until a listing completes,
  so the next poll repeats the *same* URL with ``If-None-Match`` and an unchanged repo answers
  ``304``. After a complete listing ``S`` moves to ``max_updated - 5 s`` (GitHub does not say
  whether ``since`` is inclusive; the overlap plus upsert-by-id makes it irrelevant), and one
  extra "settle" request reads the first page of the new URL so that its ETag is the one the
  next poll sends.
* ``comments:<repo>`` — the repo-wide ``/issues/comments`` list with the same scheme.
* ``events:<repo>`` — the repo-wide ``/issues/events`` list (newest first, no ``since``):
  ``{"etag", "last_id"}``; pages are read until an event at or below ``last_id``.
* ``comment_links:<repo>`` — Slack permalinks found in issue *comments*
  (``{"comments": {comment id: [issue number, [slack ids]]}, "dirty": [issue numbers]}``).
  They are added to the issue item's links whenever the item is emitted, so a permalink posted
  in a comment links the two homes like one in the body. An issue whose comment links changed
  but that the issues listing did not return (an edited comment) is read with
  ``GET /repos/{repo}/issues/{n}`` (at most ``MAX_ISSUE_READS`` a poll; the rest stay "dirty"
  for the next poll).

Removing the configured ``label`` retires the issue (``deleted_items``); its ``UNLABELED``
event carries ``data["filter_label_removed"] = True`` so the request can say "label removed"
rather than "deleted at the source".

Every page is one :class:`~idqueue.integrations.base.Batch`; a cursor value only travels in the
batch that completes its listing, so the cursor never advances past what was committed.

Known limits: deleted comments and deleted/transferred issues are not visible through
``since`` (they stay as last seen; a deleted comment's Slack link stays linked).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Generator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from idqueue.clock import clock_for
from idqueue.config import Settings
from idqueue.domain.models import (
    SourceItem,
    SourceKind,
    github_id,
    iso,
    parse_iso,
)
from idqueue.integrations.base import (
    AuthError,
    Batch,
    FetchStats,
    RateLimited,
    Source,
    SourceError,
    Unavailable,
)
from idqueue.integrations.decoding import describe_replacements, loads_lenient
from idqueue.integrations.github.api import (
    BAD_JSON,
    MAX_RATE_WAITS,
    SECONDARY_WAIT,
    Page,
    RepoBadPayload,
    RepoError,
    RepoForbidden,
    RepoNotFound,
    RepoValidationFailed,
    clamp_wait,
    error_message,
    format_until,
    request_headers,
    retry_after,
)
from idqueue.integrations.github.convert import (
    comment_issue_number,
    comment_to_event,
    issue_event_to_events,
    issue_to_item,
    parse_time,
    slack_links,
)
from idqueue.integrations.github.cursor import (
    OVERLAP,
    CommentLinks,
    Listing,
    months_before,
    valid_cursor,
)
from idqueue.integrations.github.rules import comment_on_pull_request, is_pull_request
from idqueue.safety import redact

log = logging.getLogger(__name__)

MAX_ISSUE_READS = 20
"""Single-issue reads per repo and poll for issues whose comment links changed unseen."""




# --------------------------------------------------------------------------- pure converters
































# --------------------------------------------------------------------------- HTTP plumbing






















class GitHubSource(Source):
    """Support issues from GitHub repositories.

    Args:
        settings: configuration (``settings.github``: token, base URL, repos, label,
            backlog label, bot logins, page size; ``history_months``; SLA pending labels).
        client: an httpx client (tests inject one with short timeouts); by default one with
            a 5 s connect and 20 s read timeout.
        clock: "now" (aware UTC); defaults to the settings' clock (``IDQUEUE_NOW``).
        sleep: how to wait (tests pass a recorder); defaults to :func:`time.sleep`.
        max_wait: the longest rate-limit wait (seconds) sat out inside a poll; longer waits
            raise :class:`RateLimited` with ``until``.
        max_attempts: attempts per request on 5xx, timeouts and connection errors.
    """

    kind = SourceKind("github")
    can_write = True

    def __init__(
        self,
        settings: Settings,
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 60.0,
        max_attempts: int = 3,
    ) -> None:
        self.settings = settings
        self.name = "github"
        self._own_client = client is None
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(20.0, connect=5.0), follow_redirects=False
        )
        self._clock = clock or clock_for(settings)
        self._sleep = sleep
        self.max_wait = max_wait
        self.max_attempts = max(1, max_attempts)
        self._base = httpx.URL(settings.github.base_url.rstrip("/") + "/")
        self._stats = FetchStats()
        self._prs: dict[str, set[int]] = {}
        """Pull-request numbers seen per repo, so their comments and events are skipped."""
        self._comment_links: dict[str, dict[int, tuple[int, list[str]]]] = {}
        """Per repo, the comments read in this poll: comment id → (issue number, Slack ids)."""

    # ------------------------------------------------------------------ public API

    def fetch(self, cursors: dict[str, Any]) -> Iterator[Batch]:
        """Yield one batch per page of issues, comments and issue events of every repo.

        A repository that is gone, forbidden or answers garbage does not stop the others: its
        error is raised after every other repo was polled. Bad credentials, rate limits and
        outages stop the poll at once (batches already yielded stay valid). The last batch
        may carry only ``stats`` (e.g. when everything answered ``304``).

        Raises:
            AuthError, RateLimited, Unavailable, NotFound, BadPayload, ValidationFailed.
        """
        self._token()  # fail fast, before any request, when no token is configured
        self._stats = FetchStats()
        errors: list[SourceError] = []
        for repo in self.settings.github.repos:
            try:
                yield from self._fetch_repo(repo, cursors)
            except RepoError as exc:
                log.warning("GitHub %s: %s", repo, exc.title)
                errors.append(exc)
        yield Batch(stats=self._take_stats())
        if errors:
            first = errors[0]
            if len(errors) > 1:
                first.detail = "; ".join(e.title for e in errors)
            raise first

    def check(self) -> dict[str, Any]:
        """Facts for ``idqueue doctor``: login, token scopes, rate limit, repo access.

        Raises:
            AuthError, RateLimited, Unavailable, NotFound: the first failing check.
        """
        self._stats = FetchStats()
        user = self._request(self._url("user"))
        user_data = self._json(user)
        header = user.headers.get("x-oauth-scopes")
        facts: dict[str, Any] = {
            "login": user_data.get("login") if isinstance(user_data, dict) else None,
            # Classic tokens list their scopes; fine-grained ones send no header (None).
            "scopes": None if header is None else [s.strip() for s in header.split(",") if s.strip()],
        }
        rate = self._json(self._request(self._url("rate_limit")))
        core: dict[str, Any] = {}
        if isinstance(rate, dict):
            core = (rate.get("resources") or {}).get("core") or rate.get("rate") or {}
        facts["rate_limit"] = {
            "limit": core.get("limit"),
            "remaining": core.get("remaining"),
            "reset": iso(datetime.fromtimestamp(int(core["reset"]), UTC)) if core.get("reset") else None,
        }
        repos: dict[str, Any] = {}
        for repo in self.settings.github.repos:
            data = self._json(self._request(self._url(f"repos/{repo}"), repo=repo))
            if not isinstance(data, dict):
                raise RepoBadPayload("GitHub sent an unexpected repository object", source="github", detail=repo)
            perms = data.get("permissions") or {}
            # A real read of the issues list: what a fine-grained token may do shows only here.
            self._request(self._url(f"repos/{repo}/issues"), params={"per_page": "1", "state": "all"}, repo=repo)
            repos[repo] = {
                "full_name": data.get("full_name", repo),
                "private": data.get("private"),
                "can_write": bool(perms.get("push") or perms.get("triage") or perms.get("admin")),
                "issues": "readable",
            }
        facts["repos"] = repos
        return facts

    def close(self) -> None:
        """Close the HTTP client if this source created it."""
        if self._own_client:
            self._client.close()

    # ------------------------------------------------------------------ per repository

    def _fetch_repo(self, repo: str, cursors: dict[str, Any]) -> Generator[Batch, None, None]:
        """Poll one repository.

        Comments and issue events are *read* before the issues but *yielded* after them: a
        comment or event that exists when it is read belongs to an issue that exists then, so
        the issues listing that follows includes it and the store (which drops events of
        unknown items) has it by the time the comment is applied. Read the other way round, a
        comment on an issue opened between the two listings would be dropped while its cursor
        moved past it.
        """
        history_start = months_before(self._clock(), self.settings.history_months).replace(microsecond=0)
        label = self.settings.github.label
        per_page = str(self.settings.github.per_page)
        self._comment_links[repo] = {}
        later = list(self._since_list(
            repo=repo,
            key=f"comments:{repo}",
            path=f"repos/{repo}/issues/comments",
            params={"sort": "updated", "direction": "asc", "per_page": per_page},
            cursor=valid_cursor(cursors.get(f"comments:{repo}")),
            default_since=history_start,
            handle=self._comment_rows,
        ))
        later.extend(self._events(repo, cursors.get(f"events:{repo}"), history_start))
        links_key = f"comment_links:{repo}"
        stored_links = cursors.get(links_key)
        comment_links = CommentLinks.load(stored_links)
        comment_links.update(self._comment_links.pop(repo, {}))
        issue_params = {"state": "all", "sort": "updated", "direction": "asc", "per_page": per_page}
        if label:
            issue_params["labels"] = label
        listed: set[str] = set()
        for batch in self._since_list(
            repo=repo,
            key=f"issues:{repo}",
            path=f"repos/{repo}/issues",
            params=issue_params,
            cursor=valid_cursor(cursors.get(f"issues:{repo}"), label=label),
            default_since=history_start,
            handle=self._issue_rows,
        ):
            for item in batch.items:
                self._add_comment_links(item, comment_links)
            listed.update(item.id for item in batch.items)
            yield batch
        # The cursor may travel ahead of the comments cursor: re-reading a comment whose links
        # are already recorded changes nothing, and unemitted issues stay in ``dirty``.
        extra = self._read_dirty_issues(repo, comment_links)
        dumped = comment_links.dump()
        if dumped != (stored_links if isinstance(stored_links, dict) else CommentLinks().dump()):
            extra.cursors[links_key] = dumped
        if extra.items or extra.cursors:
            yield self._finish(extra)
        for batch in later:
            # The issues listing is fresher than the events read before it: an issue it just
            # returned (so it carries the label now) is not dropped for an older "unlabeled".
            batch.deleted_items = [i for i in batch.deleted_items if i not in listed]
            yield batch

    @staticmethod
    def _add_comment_links(item: SourceItem, comment_links: CommentLinks) -> None:
        """Add the Slack links from an issue's comments to its item (the item is now current)."""
        number = item.raw.get("number")
        if not isinstance(number, int):
            return
        item.links.extend(x for x in comment_links.links_for(number) if x not in item.links)
        comment_links.dirty.discard(number)

    def _read_dirty_issues(self, repo: str, comment_links: CommentLinks) -> Batch:
        """Re-emit issues whose comment links changed though the issues listing skipped them.

        Returns:
            A batch with those issue items (those still requests: not PRs, with the label).
        """
        batch = Batch()
        label = (self.settings.github.label or "").lower()
        for number in sorted(comment_links.dirty)[:MAX_ISSUE_READS]:
            try:
                raw = self._json(self._request(self._url(f"repos/{repo}/issues/{number}"), repo=repo), repo=repo)
            except RepoNotFound:
                raw = None  # deleted or transferred: nothing to link
            comment_links.dirty.discard(number)
            if not isinstance(raw, dict) or is_pull_request(raw):
                continue
            names = {str(x.get("name") if isinstance(x, dict) else x).lower() for x in raw.get("labels") or []}
            if label and label not in names:
                continue  # not a request; if it gets the label, the listing brings it with its links
            try:
                item = issue_to_item(raw, repo, self.settings)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                log.warning("GitHub %s: skipping an unreadable issue (%s)", repo, redact(str(exc))[:120])
                continue
            self._add_comment_links(item, comment_links)
            batch.items.append(item)
        return batch

    def _since_list(
        self,
        *,
        repo: str,
        key: str,
        path: str,
        params: dict[str, str],
        cursor: dict[str, Any],
        default_since: datetime,
        handle: Callable[[str, list[dict[str, Any]], Batch, Listing], None],
    ) -> Generator[Batch, None, None]:
        """Read a ``since`` + ``sort=updated&direction=asc`` list, one batch per page.

        The ``since`` of a cursor stays fixed until a listing completes, so an unchanged list
        answers ``304`` to the stored ETag. An ETag is only kept for a one-page listing: with
        several pages, page 1's ETag would not notice a change on a later page.

        Offset pagination over a list sorted by ``updated_at`` shifts when a row already read
        is updated mid-listing (it jumps to the end and pulls the next page's first row onto a
        page already read). Such a row shows up twice; ``since`` then only advances to just
        before its first appearance, so the next poll re-reads whatever may have been skipped.
        """
        since = parse_iso(cursor.get("since")) or default_since
        etag = cursor.get("etag") if isinstance(cursor.get("etag"), str) else None
        listing = Listing(max_updated=parse_iso(cursor.get("max_updated")))
        per_page = int(params.get("per_page", "100"))
        url = self._url(path)
        first = self._page(url, params={**params, "since": iso(since) or ""}, etag=etag, repo=repo)
        if first is None:  # 304: nothing changed; the cursor stays as it is
            return
        page = first
        done = 0
        while True:
            batch = Batch()
            handle(repo, page.rows, batch, listing)
            done += len(page.rows)
            if page.next_url is None:
                break
            batch.progress = (done, page.total_pages * per_page if page.total_pages else None)
            yield self._finish(batch)
            # A 304 on a follow-up page (sent without an ETag) is not expected; treat as empty.
            page = self._page(page.next_url, repo=repo) or Page(rows=[], etag=None, next_url=None)

        new_since = since
        limit = listing.max_updated
        if listing.duplicate_min is not None:
            limit = listing.duplicate_min if limit is None else min(limit, listing.duplicate_min)
        if limit is not None:
            new_since = max(since, (limit - OVERLAP).replace(microsecond=0))
        new_etag = first.etag if first.next_url is None else None
        if new_since != since:
            # Settle: read page 1 of the URL the next poll will send, so its ETag is the one
            # stored (the old URL's ETag would never match the new URL: no 304 ever).
            settle = self._page(url, params={**params, "since": iso(new_since) or ""}, repo=repo)
            if settle is not None:
                listing.settling = True
                handle(repo, settle.rows, batch, listing)
                new_etag = settle.etag if settle.next_url is None else None
        if listing.duplicate_min is not None:
            new_etag = None  # force a full read next time
        batch.cursors[key] = {
            "since": iso(new_since),
            "etag": new_etag,
            "max_updated": iso(listing.max_updated),
            **({"label": self.settings.github.label} if key.startswith("issues:") else {}),
        }
        _dedupe_items(batch)
        batch.progress = (done, done)
        yield self._finish(batch)

    def _issue_rows(self, repo: str, rows: list[dict[str, Any]], batch: Batch, listing: Listing) -> None:
        prs = self._prs.setdefault(repo, set())
        for raw in rows:
            try:
                updated = parse_time(raw.get("updated_at")) or parse_time(raw["created_at"])
                if updated is None:
                    raise ValueError("issue without timestamps")
                listing.see(int(raw["id"]), updated)
                if is_pull_request(raw):
                    prs.add(int(raw["number"]))
                    continue
                batch.items.append(issue_to_item(raw, repo, self.settings))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                # One odd row must not block the repo forever; it is skipped and logged.
                log.warning("GitHub %s: skipping an unreadable issue (%s)", repo, redact(str(exc))[:120])

    def _comment_rows(self, repo: str, rows: list[dict[str, Any]], batch: Batch, listing: Listing) -> None:
        prs = self._prs.setdefault(repo, set())
        for raw in rows:
            try:
                created = parse_time(raw["created_at"])
                updated = parse_time(raw.get("updated_at")) or created
                if created is None or updated is None:
                    raise ValueError("comment without timestamps")
                listing.see(int(raw["id"]), updated)
                number = comment_issue_number(raw)
                if comment_on_pull_request(raw) or number in prs:
                    continue
                batch.events.append(comment_to_event(raw, repo, self.settings))
                read = self._comment_links.setdefault(repo, {})
                read[int(raw["id"])] = (number, slack_links(str(raw.get("body") or "")))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                log.warning("GitHub %s: skipping an unreadable comment (%s)", repo, redact(str(exc))[:120])

    def _events(self, repo: str, cursor: Any, history_start: datetime) -> Generator[Batch, None, None]:
        """Read the repo-wide issue events, newest first, down to the stored ``last_id``.

        The first sync reads back to the history start. Newest-first pages only shift towards
        repeats (never skips) when events arrive mid-read, and repeats are upserts.
        """
        key = f"events:{repo}"
        cur = cursor if isinstance(cursor, dict) else {}
        first_sync = not isinstance(cur.get("last_id"), int)
        last_id: int = 0 if first_sync else int(cur["last_id"])
        etag = cur.get("etag") if isinstance(cur.get("etag"), str) and not first_sync else None
        label = (self.settings.github.label or "").lower()
        prs = self._prs.setdefault(repo, set())
        first = self._page(self._url(f"repos/{repo}/issues/events"),
                           params={"per_page": str(self.settings.github.per_page)}, etag=etag, repo=repo)
        if first is None:
            return
        page = first
        newest = last_id
        label_state_seen: set[int] = set()
        done = 0
        while True:
            batch = Batch()
            stop = False
            for raw in page.rows:
                try:
                    event_id = int(raw["id"])
                    at = parse_time(raw["created_at"])
                    if at is None:
                        raise ValueError("event without created_at")
                    if event_id <= last_id or at < history_start:
                        stop = True
                        break
                    newest = max(newest, event_id)
                    issue = raw.get("issue")
                    if not isinstance(issue, dict):
                        continue
                    number = int(issue["number"])
                    if is_pull_request(issue) or number in prs:
                        prs.add(number)
                        continue
                    batch.events.extend(issue_event_to_events(raw, repo, self.settings, number=number))
                    name = str((raw.get("label") or {}).get("name") or "").lower()
                    if label and name == label and number not in label_state_seen:
                        # Newest first: the first filter-label event seen is the current
                        # state. Without the label the issue is no longer a request.
                        label_state_seen.add(number)
                        if raw.get("event") == "unlabeled":
                            batch.deleted_items.append(github_id(repo, number))
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    log.warning("GitHub %s: skipping an unreadable issue event (%s)", repo, redact(str(exc))[:120])
            done += len(page.rows)
            if stop or page.next_url is None:
                break
            batch.progress = (done, None)
            yield self._finish(batch)
            page = self._page(page.next_url, repo=repo) or Page(rows=[], etag=None, next_url=None)
        batch.cursors[key] = {"etag": first.etag, "last_id": newest}
        batch.progress = (done, done)
        yield self._finish(batch)

    # ------------------------------------------------------------------ HTTP

    def _token(self) -> str:
        token = self.settings.github.token
        if token is None or not token.get_secret_value():
            raise AuthError("no GitHub token is configured (set IDQUEUE_GITHUB_TOKEN)", source="github")
        return token.get_secret_value()

    def _url(self, path: str) -> str:
        return str(self._base.join(path.lstrip("/")))

    def _headers(self, etag: str | None) -> dict[str, str]:
        return request_headers(self._token(), etag=etag)

    def _finish(self, batch: Batch) -> Batch:
        batch.stats = self._take_stats()
        batch.stats.fetched = len(batch.items) + len(batch.events)
        return batch

    def _take_stats(self) -> FetchStats:
        stats, self._stats = self._stats, FetchStats()
        return stats

    def _page(
        self, url: str, *, params: dict[str, str] | None = None, etag: str | None = None, repo: str | None = None
    ) -> Page | None:
        """GET one list page; None for ``304 Not Modified``."""
        resp = self._request(url, params=params, etag=etag, repo=repo)
        if resp.status_code == 304:
            return None
        rows = self._json(resp, repo=repo)
        if not isinstance(rows, list):
            raise RepoBadPayload("GitHub sent an unexpected response (not a list)", source="github",
                                 detail=repo or "")
        next_url = resp.links.get("next", {}).get("url")
        if next_url is not None and not self._same_origin(next_url):
            # Never send the token to another host, whatever a Link header says.
            raise RepoBadPayload("GitHub sent a pagination link to another host", source="github",
                                 detail=repo or "")
        total = None
        last_url = resp.links.get("last", {}).get("url")
        if last_url:
            try:
                total = int(httpx.URL(last_url).params.get("page", ""))
            except ValueError:
                total = None
        return Page(
            rows=[r for r in rows if isinstance(r, dict)],
            etag=resp.headers.get("etag"),
            next_url=next_url,
            total_pages=total,
        )

    def _same_origin(self, url: str) -> bool:
        other = httpx.URL(url)
        return (other.scheme, other.host, other.port) == (self._base.scheme, self._base.host, self._base.port)

    def _json(self, resp: httpx.Response, *, repo: str | None = None) -> Any:
        ctype = resp.headers.get("content-type", "")
        if "json" not in ctype.lower():
            raise RepoBadPayload(
                f"GitHub sent {ctype.split(';')[0] or 'an untyped body'} instead of JSON",
                source="github", detail=repo or "",
            )
        try:
            return json.loads(resp.content)
        except UnicodeDecodeError:
            pass  # a stray byte costs one item its characters, not the page: decode leniently
        except ValueError:
            raise RepoBadPayload(BAD_JSON, source="github", detail=repo or "") from None
        try:
            value, offsets = loads_lenient(resp.content)
        except ValueError:
            raise RepoBadPayload(BAD_JSON, source="github", detail=repo or "") from None
        note = describe_replacements(f"GitHub {resp.url.path.lstrip('/')}", value, offsets)
        log.warning("%s", note)
        self._stats.notes.append(note)
        return value

    def _request(
        self, url: str, *, params: dict[str, str] | None = None, etag: str | None = None, repo: str | None = None
    ) -> httpx.Response:
        """GET with the retry policy; returns a 2xx or 304 response, else raises the mapped error.

        * 5xx, timeouts, connection errors: ``max_attempts`` tries with exponential backoff.
        * 403/429 rate limits: wait ``Retry-After``, or until ``x-ratelimit-reset`` + 1 s when
          ``remaining`` is 0, or ≥ 60 s doubling for a secondary limit without headers — in the
          poll when the wait is ≤ ``max_wait``, else :class:`RateLimited`.
        """
        headers = self._headers(etag)
        failures = 0
        rate_waits = 0
        while True:
            self._stats.requests += 1
            problem: str
            try:
                resp = self._client.get(url, params=params, headers=headers)
            except httpx.TimeoutException:
                problem = "GitHub did not answer in time"
            except httpx.TransportError as exc:
                problem = f"cannot reach GitHub ({redact(type(exc).__name__)})"
            else:
                self._read_rate(resp)
                status = resp.status_code
                if status == 304:
                    self._stats.not_modified += 1
                    return resp
                if 200 <= status < 300:
                    return resp
                if status == 401:
                    raise AuthError("GitHub rejected the token (401 Bad credentials)", source="github")
                if status in (403, 429):
                    wait = self._rate_wait(resp, rate_waits)
                    if wait is not None:
                        rate_waits += 1
                        self._wait_or_raise(wait, rate_waits)
                        continue
                    message = error_message(resp)
                    raise RepoForbidden(
                        f"GitHub refused access to {repo or 'the API'} (403{': ' + message if message else ''})",
                        source="github", detail=repo or "",
                    )
                where = f"repository {repo}" if repo else "resource"
                if status in (404, 410):
                    raise RepoNotFound(
                        f"GitHub {where} was not found ({status})"
                        if status == 404 else f"GitHub {where} is gone ({status})",
                        source="github", detail=repo or "",
                    )
                if 300 <= status < 400:
                    raise RepoNotFound(f"GitHub {where} has moved ({status}); update the config",
                                       source="github", detail=repo or "")
                if status == 422:
                    raise RepoValidationFailed(
                        f"GitHub refused a request for {where} (422 {error_message(resp) or 'Validation Failed'})",
                        source="github", detail=repo or "",
                    )
                if status < 500:
                    raise RepoBadPayload(f"GitHub answered HTTP {status} for {where}", source="github",
                                         detail=repo or "")
                problem = f"GitHub is unavailable (HTTP {status})"
            failures += 1
            if failures >= self.max_attempts:
                raise Unavailable(problem, source="github", detail=repo or "")
            self._sleep(min(2.0 ** (failures - 1), 30.0))

    def _read_rate(self, resp: httpx.Response) -> None:
        remaining = resp.headers.get("x-ratelimit-remaining")
        reset = resp.headers.get("x-ratelimit-reset")
        try:
            if remaining is not None:
                self._stats.rate_remaining = int(remaining)
            if reset is not None:
                self._stats.rate_reset = datetime.fromtimestamp(int(reset), UTC)
        except (ValueError, OverflowError, OSError):
            pass

    def _rate_wait(self, resp: httpx.Response, waits_so_far: int) -> float | None:
        """Seconds to wait for a rate limit, or None when the 403/429 is not one."""
        header = resp.headers.get("retry-after")
        if header is not None:
            wait = retry_after(header)
            return 1.0 if wait is None else wait  # an unreadable value: retry soon, never hot-loop
        if resp.headers.get("x-ratelimit-remaining") == "0":
            try:
                reset = datetime.fromtimestamp(int(resp.headers.get("x-ratelimit-reset", "")), UTC)
            except (ValueError, OverflowError, OSError):
                return SECONDARY_WAIT
            return clamp_wait((reset + timedelta(seconds=1) - self._clock()).total_seconds())
        if resp.status_code == 429 or "rate limit" in error_message(resp).lower():
            return SECONDARY_WAIT * (2.0**waits_so_far)
        return None

    def _wait_or_raise(self, wait: float, waits: int) -> None:
        if wait <= self.max_wait and waits <= MAX_RATE_WAITS:
            self._sleep(wait)
            return
        until = (self._clock() + timedelta(seconds=wait)).replace(microsecond=0)
        raise RateLimited(
            f"GitHub rate limit reached; resumes at {format_until(until)}", until=until, source="github"
        )


def _dedupe_items(batch: Batch) -> None:
    """Keep one copy per item id (the newest), in first-seen order."""
    if len(batch.items) < 2:
        return
    newest: dict[str, SourceItem] = {}
    for item in batch.items:
        seen = newest.get(item.id)
        if seen is None or item.updated_at >= seen.updated_at:
            newest[item.id] = item
    batch.items = list(newest.values())
