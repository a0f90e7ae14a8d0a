"""The GitHub REST API as every GitHub module uses it: request headers, rate-limit waits, and
the one mapping of GitHub's answers to the project's error types.

Reads (polling) go through httpx, because only it can send ``If-None-Match`` on list calls (a
``304`` costs no rate limit); writes go through PyGithub (:mod:`.writer`). Both read a
``Retry-After`` header with :func:`retry_after` and map failures here: :class:`RepoForbidden`
and friends for a read, :func:`map_github_error` for a write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from idqueue.integrations.base import (
    AuthError,
    BadPayload,
    NotFound,
    RateLimited,
    SourceError,
    Unavailable,
    ValidationFailed,
)
from idqueue.safety import one_line, redact

if TYPE_CHECKING:  # PyGithub is imported by the writer only: polling does not load it
    from github import GithubException

API_VERSION = "2022-11-28"


SECONDARY_WAIT = 60.0
"""GitHub: after a secondary limit without headers, wait at least a minute."""


MAX_RATE_WAITS = 3
"""How many rate-limit waits one request may sit through before giving up."""


BAD_JSON = "GitHub sent a response that is not valid JSON"


def clamp_wait(value: Any, *, floor: float = 1.0) -> float:
    """Seconds from a ``Retry-After``-like value; 0, negative or garbage become ``floor``."""
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return floor
    if seconds != seconds or seconds < floor:  # NaN or too small: never hot-loop
        return floor
    return seconds


@dataclass
class Page:
    """One successful list response."""

    rows: list[dict[str, Any]]
    etag: str | None
    next_url: str | None
    total_pages: int | None = None


class RepoError(SourceError):
    """Marker mixin: an error that concerns one repository, so the others are still polled."""


class RepoForbidden(AuthError, RepoError):
    """403 without a rate limit: the token cannot read this repository."""


class RepoNotFound(NotFound, RepoError):
    """404 / 410 / 301 on a repository."""


class RepoBadPayload(BadPayload, RepoError):
    """A response for this repository could not be parsed."""


class RepoValidationFailed(ValidationFailed, RepoError):
    """422 on a list call (e.g. a ``since`` GitHub refuses)."""


def format_until(until: datetime) -> str:
    """A rate-limit end as people read it (``14:05 UTC``)."""
    return until.astimezone(UTC).strftime("%H:%M UTC")


def error_message(resp: httpx.Response) -> str:
    """GitHub's ``message`` of an error answer (redacted, ≤ 200 characters; "" when none)."""
    try:
        data = resp.json()
    except ValueError:
        return ""
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return redact(str(data["message"]))[:200]
    return ""


def lower_headers(headers: Any) -> dict[str, str]:
    """Response headers with lower-case names (PyGithub hands them over as a plain dict)."""
    if not isinstance(headers, dict):
        return {}
    return {str(k).lower(): str(v) for k, v in headers.items()}


def retry_after(value: Any) -> float | None:
    """Seconds a ``Retry-After`` header asks for (at least 1 s, never a hot loop).

    None when the header is absent or not a finite number: the caller decides what an unreadable
    value means (the poller retries after a second, the outbox waits :data:`SECONDARY_WAIT`).
    """
    if value is None:
        return None
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return None
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(1.0, seconds)


def request_headers(token: str, *, etag: str | None = None) -> dict[str, str]:
    """The headers of an httpx request to the REST API (``If-None-Match`` with an ``etag``)."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": "idqueue",
    }
    if etag:
        headers["If-None-Match"] = etag
    return headers


def map_github_error(exc: GithubException, what: str, *, now: datetime) -> SourceError:
    """Map a PyGithub exception to the project's error types (titles never carry tokens).

    Args:
        exc: the exception.
        what: what was being done, e.g. ``comment on va-identity/support#12``.
        now: the clock, for rate-limit ``until`` times.
    """
    status = int(exc.status or 0)
    headers = lower_headers(exc.headers)
    data = exc.data if isinstance(exc.data, dict) else {}
    message = one_line(redact(str(data.get("message") or exc.message or "")), 200)
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        details = []
        for err in errors[:3]:
            if isinstance(err, dict):
                details.append(one_line(redact(str(err.get("message") or f"{err.get('field', '')} {err.get('code', '')}")), 80))
            else:
                details.append(one_line(redact(str(err)), 80))
        message = f"{message}: {'; '.join(d for d in details if d.strip())}"
    wait_for = retry_after(headers.get("retry-after"))
    limited = headers.get("x-ratelimit-remaining") == "0"
    secondary = "secondary rate limit" in message.lower()
    if status in (403, 429) and (limited or secondary or wait_for is not None or status == 429):
        if wait_for is not None:
            wait = wait_for
        elif limited:
            try:
                reset = datetime.fromtimestamp(int(headers.get("x-ratelimit-reset", "")), UTC)
                wait = max(1.0, (reset - now).total_seconds() + 1)
            except (ValueError, OverflowError, OSError):
                wait = SECONDARY_WAIT
        else:
            wait = SECONDARY_WAIT
        kind = "secondary rate limit" if secondary else "rate limit"
        return RateLimited(f"GitHub {kind} while trying to {what}", until=now + timedelta(seconds=wait),
                           source="github", detail=message)
    if status == 401:
        return AuthError(f"GitHub rejected the token (401 {message or 'Bad credentials'}) while trying to {what}",
                         source="github")
    if status == 403:
        return AuthError(f"GitHub refused to {what} (403 {message or 'Forbidden'}): check the token's scopes "
                         "and your access to the repository", source="github")
    if status in (404, 410):
        return NotFound(f"GitHub cannot {what} ({status} {message or 'Not Found'}): the issue or repository "
                        "is gone, moved, or not visible to this token", source="github")
    if status in (400, 422):
        return ValidationFailed(f"GitHub refused to {what} ({status} {message or 'Validation Failed'})",
                                source="github")
    if status >= 500 or status == 0:
        return Unavailable(f"GitHub is unavailable ({status or 'no status'}) while trying to {what}", source="github")
    return Unavailable(f"GitHub answered {status} {message} while trying to {what}", source="github")
