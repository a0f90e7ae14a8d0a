"""The Jira REST API as the Jira source and writer use it: one httpx client, the credentials,
and the one mapping of Jira's answers to the project's error types.

Why httpx and not a Jira client library: ``atlassian-python-api`` (5.0.5, ``enhanced_jql``)
and ``jira`` (3.10.5, ``enhanced_search_issues``) both reach ``/rest/api/3/search/jql`` with
``nextPageToken``, but both sit on ``requests`` with whole-second timeouts, sleep in real
time on ``429`` (``atlassian-python-api`` retries once after ``Retry-After`` by default, for
writes too; ``jira``'s ``ResilientSession`` retries 429/5xx for every method), and hide
``RateLimit-Reason``. The outbox's exactly-once rules need the opposite: no retry of a write
by the HTTP layer, a timeout reported as such, waits on the injected clock. A thin httpx layer,
like the GitHub source's, does exactly that, and needs no new dependency.

Cloud (``IDQUEUE_JIRA__EMAIL`` + ``IDQUEUE_JIRA__API_TOKEN``) uses basic auth and REST v3 (ADF
bodies); Server/Data Center (``IDQUEUE_JIRA__PAT``) a bearer token and REST v2 (plain-text
bodies).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from idqueue.config import Settings
from idqueue.integrations.base import (
    AuthError,
    BadPayload,
    NotFound,
    RateLimited,
    SourceError,
    TimedOut,
    Unavailable,
    ValidationFailed,
)
from idqueue.safety import one_line, redact

SOURCE = "jira"
DEFAULT_RATE_WAIT = 60.0
"""Seconds to wait after a 429 without a readable ``Retry-After``."""
TOKEN_HINT = ("Atlassian API tokens expire within a year of their creation: make a new one at "
              "id.atlassian.com/manage-profile/security/api-tokens")


class JiraConfigError(AuthError):
    """The Jira settings are incomplete (no site or no credentials)."""


class JiraGone(NotFound):
    """410: Jira removed the API (e.g. the old ``/search``)."""


@dataclass(frozen=True)
class Credentials:
    """How to authenticate, and which REST version the site speaks."""

    base_url: str
    auth: httpx.Auth | None
    headers: dict[str, str]
    version: str
    """``"3"`` (Cloud, ADF) or ``"2"`` (Server/Data Center, plain text)."""
    web_url: str = ""
    """The site's address for people (``jira.web_url``; ``base_url`` when empty)."""

    @property
    def site(self) -> str:
        """The web root of the site's links."""
        return (self.web_url or self.base_url).rstrip("/")

    @property
    def host(self) -> str:
        """The site's host name (request ids: ``jira:<host>/<KEY-1>``)."""
        return urllib.parse.urlsplit(self.site).hostname or "jira"


def credentials(settings: Settings) -> Credentials:
    """The credentials from the settings.

    Raises:
        JiraConfigError: no base URL, or neither email + API token nor a PAT.
    """
    cfg = settings.jira
    if not cfg.base_url:
        raise JiraConfigError("no Jira site configured (IDQUEUE_JIRA__BASE_URL)", source=SOURCE)
    headers = {"Accept": "application/json", "User-Agent": "idqueue"}
    if cfg.api_token is not None and cfg.email:
        auth = httpx.BasicAuth(cfg.email, cfg.api_token.get_secret_value())
        return Credentials(cfg.base_url, auth, headers, "3", cfg.web_url or "")
    if cfg.pat is not None:
        headers["Authorization"] = f"Bearer {cfg.pat.get_secret_value()}"
        return Credentials(cfg.base_url, None, headers, "2", cfg.web_url or "")
    raise JiraConfigError("no Jira credentials configured (IDQUEUE_JIRA__EMAIL + IDQUEUE_JIRA__API_TOKEN, "
                          "or IDQUEUE_JIRA__PAT)", source=SOURCE)


def messages(resp: httpx.Response) -> str:
    """Jira's ``errorMessages`` and ``errors`` of an error answer, redacted, one line (≤ 200)."""
    try:
        data = resp.json()
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    parts = [str(m) for m in data.get("errorMessages") or [] if isinstance(m, str)]
    errors = data.get("errors")
    if isinstance(errors, dict):
        parts.extend(f"{k}: {v}" for k, v in errors.items())
    return one_line(redact("; ".join(parts)), 200)


def retry_seconds(resp: httpx.Response) -> float:
    """Seconds a 429 asks to wait (``Retry-After``; at least 1 s, default one minute)."""
    try:
        seconds = float(resp.headers.get("retry-after", ""))
    except ValueError:
        return DEFAULT_RATE_WAIT
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return DEFAULT_RATE_WAIT
    return max(1.0, seconds)


def map_status(resp: httpx.Response, what: str, *, now: datetime) -> SourceError:
    """The error for a failed answer (status ≥ 400) while trying to ``what``."""
    status = resp.status_code
    detail = messages(resp)
    suffix = f": {detail}" if detail else ""
    if status == 401:
        return AuthError(f"Jira refused the credentials (HTTP 401) while trying to {what}; {TOKEN_HINT}",
                         source=SOURCE, detail=detail)
    if status == 403:
        return AuthError(f"Jira refused access (HTTP 403) to {what}: the account lacks permission{suffix}",
                         source=SOURCE, detail=detail)
    if status == 404:
        return NotFound(f"cannot {what}: Jira says it does not exist or the account cannot see it",
                        source=SOURCE, detail=detail)
    if status == 410:
        return JiraGone(f"Jira removed the API used to {what} (HTTP 410){suffix}", source=SOURCE, detail=detail)
    if status == 429:
        wait = retry_seconds(resp)
        reason = one_line(resp.headers.get("ratelimit-reason", ""), 40)
        until = now + timedelta(seconds=wait)
        label = f" ({reason})" if reason else ""
        return RateLimited(f"Jira rate limit{label} while trying to {what}; retry after "
                           f"{until.astimezone(UTC).strftime('%H:%M:%S UTC')}", until=until, source=SOURCE)
    if status in (400, 409, 422):
        return ValidationFailed(f"Jira refused to {what} (HTTP {status}){suffix}", source=SOURCE, detail=detail)
    if status >= 500:
        return Unavailable(f"Jira answered HTTP {status} while trying to {what}", source=SOURCE, detail=detail)
    return BadPayload(f"Jira answered HTTP {status} while trying to {what}{suffix}", source=SOURCE)


class JiraApi:
    """One client to one Jira site.

    Args:
        settings: the ``jira`` section gives the site and credentials.
        client: an httpx client (tests inject one); by default one with ``timeout``.
        timeout: seconds for a request (connect at most 5 s).
        clock: "now" (aware UTC), for rate-limit times.
    """

    def __init__(self, settings: Settings, *, client: httpx.Client | None = None, timeout: float = 20.0,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.creds = credentials(settings)
        self._own = client is None
        self._client = client or httpx.Client(timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
                                              follow_redirects=False)
        self._clock = clock or (lambda: datetime.now(UTC))
        self.requests = 0

    @property
    def version(self) -> str:
        """The REST version path segment (``"3"`` Cloud, ``"2"`` Server/DC)."""
        return self.creds.version

    def url(self, path: str) -> str:
        """The full URL of ``rest/api/<version>/<path>``."""
        return f"{self.creds.base_url}/rest/api/{self.version}/{path.lstrip('/')}"

    def browse_url(self, key: str) -> str:
        """The web link of an issue."""
        return f"{self.creds.site}/browse/{key}"

    def call(self, method: str, path: str, what: str, *, params: dict[str, Any] | None = None,
             body: Any = None) -> Any:
        """One request; returns the parsed JSON (None for an empty answer).

        Never retries: a caller that may repeat (a read) decides so itself.

        Raises:
            TimedOut: no answer in time (a write may still be applied).
            Unavailable: the site is unreachable, or answered 5xx.
            AuthError, NotFound, RateLimited, ValidationFailed, BadPayload: see :func:`map_status`.
        """
        self.requests += 1
        try:
            resp = self._client.request(method, self.url(path), params=params, json=body,
                                        headers=self.creds.headers, auth=self.creds.auth or httpx.USE_CLIENT_DEFAULT)
        except httpx.TimeoutException:
            raise TimedOut(f"Jira did not answer in time while trying to {what}", source=SOURCE) from None
        except httpx.HTTPError as exc:
            raise Unavailable(f"cannot reach Jira ({type(exc).__name__}) while trying to {what}",
                              source=SOURCE) from None
        if resp.status_code >= 400:
            raise map_status(resp, what, now=self._clock())
        if not resp.content:
            return None
        if "json" not in resp.headers.get("content-type", "application/json"):
            raise BadPayload(f"Jira sent something that is not JSON while trying to {what}", source=SOURCE)
        try:
            return json.loads(resp.content.decode("utf-8", errors="replace"))
        except ValueError:
            raise BadPayload(f"Jira sent a response that is not valid JSON while trying to {what}",
                             source=SOURCE) from None

    def close(self) -> None:
        """Close the HTTP client if this object made it."""
        if self._own:
            self._client.close()
