"""The Trello REST API as idqueue uses it: one thin httpx client and the one mapping of Trello's
answers to the project's error types.

Why httpx and not py-trello: py-trello (0.20.1, June 2024, last commit a release) wraps the same
REST calls in objects idqueue would convert back to dicts, hides status codes and
``Retry-After`` behind its own exceptions, and goes through ``requests`` with no say over
retries; idqueue needs six calls, exact error mapping (429 bodies, 401 lines, timeouts that may
still have written) and the same client for the reader, the writer and ``doctor``. httpx is
already a dependency (the GitHub reader), retries nothing by itself, and talks to the loopback
emulator like to Trello.

Credentials travel in the ``Authorization: OAuth oauth_consumer_key="…", oauth_token="…"``
header, which Trello accepts in place of the ``key``/``token`` query parameters (its authorization
guide, "Passing token and key in API requests"), so no URL
idqueue builds carries them; every message still goes through
:func:`~idqueue.safety.redact`, which hides ``key=``/``token=`` query values as well.
"""

from __future__ import annotations

from collections.abc import Callable
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

__all__ = ["RATE_WINDOW", "TrelloApi", "map_trello_error"]

RATE_WINDOW = 10.0
"""Trello's rate limits count requests per 10 s window (300 per key, 100 per token): without a
``Retry-After`` a 429 waits one whole window."""

LIMIT_ERRORS = {
    "API_TOKEN_LIMIT_EXCEEDED": "the token's rate limit (100 requests per 10 s)",
    "API_KEY_LIMIT_EXCEEDED": "the API key's rate limit (300 requests per 10 s)",
    "API_TOKEN_DB_LIMIT_EXCEEDED": "the token's database-time limit",
    "API_TOO_MANY_CARDS_REQUESTED": "the limit on cards per request",
}


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(1.0, seconds)


def _message(resp: httpx.Response) -> tuple[str, str]:
    """``(error code, message)`` of an error answer: Trello sends JSON for 429s and plain text
    (``invalid token``, ``The requested resource was not found.``) for most others."""
    try:
        data = resp.json()
    except ValueError:
        try:
            text = resp.text
        except (UnicodeDecodeError, LookupError):
            text = ""
        return "", one_line(redact(text), 160)
    if isinstance(data, dict):
        code = str(data.get("error") or "")
        message = str(data.get("message") or code)
        return code, one_line(redact(message), 160)
    return "", one_line(redact(str(data)), 160)


def map_trello_error(resp: httpx.Response, what: str, *, now: datetime) -> SourceError:
    """A Trello error answer as the project's error type (titles carry no credentials).

    Args:
        resp: the answer (status ≥ 400).
        what: what was being done, e.g. ``create a card on board AbCd1234``.
        now: the clock, for the rate limit's end.
    """
    status = resp.status_code
    code, message = _message(resp)
    if status == 429:
        wait = _retry_after(resp.headers.get("retry-after")) or RATE_WINDOW
        which = LIMIT_ERRORS.get(code, "its rate limit")
        return RateLimited(f"Trello: over {which} while trying to {what}",
                           until=now + timedelta(seconds=wait), source="trello", detail=code)
    if status in (401, 403):
        return AuthError(f"Trello refused the key or token ({status} {message or 'unauthorized'}) while trying to "
                         f"{what}: check IDQUEUE_TRELLO__KEY and IDQUEUE_TRELLO__TOKEN", source="trello")
    if status == 404:
        return NotFound(f"Trello cannot {what} (404 {message or 'not found'}): the board, list or card is gone "
                        "or not visible to this token", source="trello")
    if status in (400, 422):
        return ValidationFailed(f"Trello refused to {what} ({status} {message or 'bad request'})", source="trello")
    if status >= 500:
        return Unavailable(f"Trello is unavailable ({status}) while trying to {what}", source="trello")
    return Unavailable(f"Trello answered {status} {message} while trying to {what}", source="trello")


class TrelloApi:
    """A thin Trello REST client: JSON in and out, errors mapped, nothing retried.

    Args:
        settings: ``trello.base_url``, ``trello.key``, ``trello.token``.
        timeout: seconds per request (connect, read and write).
        clock: the clock (rate-limit ends).
        transport: an httpx transport (tests); the network otherwise.

    Raises:
        AuthError: no key or token configured.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float = 20.0,
        clock: Callable[[], datetime] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        cfg = settings.trello
        if cfg.key is None or cfg.token is None:
            raise AuthError("no Trello key and token configured (IDQUEUE_TRELLO__KEY, IDQUEUE_TRELLO__TOKEN)",
                            source="trello")
        self.base_url = cfg.base_url.rstrip("/")
        self.clock = clock or (lambda: datetime.now(UTC))
        key, token = cfg.key.get_secret_value(), cfg.token.get_secret_value()
        self.requests = 0
        """Requests sent (for ``idqueue sync``'s stats and the benchmark)."""
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            headers={
                "Authorization": f'OAuth oauth_consumer_key="{key}", oauth_token="{token}"',
                "Accept": "application/json",
                "User-Agent": "idqueue",
            },
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def get(self, path: str, what: str, params: dict[str, Any] | None = None) -> Any:
        """GET a JSON resource (a read: a timeout is :class:`Unavailable`)."""
        return self._call("GET", path, what, params)

    def post(self, path: str, what: str, params: dict[str, Any]) -> Any:
        """POST (a write: a timeout is :class:`TimedOut`, the write may still land)."""
        return self._call("POST", path, what, params)

    def put(self, path: str, what: str, params: dict[str, Any]) -> Any:
        """PUT (a write, like :meth:`post`)."""
        return self._call("PUT", path, what, params)

    def _call(self, method: str, path: str, what: str, params: dict[str, Any] | None) -> Any:
        self.requests += 1
        write = method != "GET"
        try:
            if write:
                # Trello takes write parameters in the query string or a JSON body; the body keeps
                # text (card descriptions) out of URLs and their length limits.
                resp = self._http.request(method, path, json=params or {})
            else:
                resp = self._http.request(method, path, params=_query(params))
        except httpx.TimeoutException:
            if write:
                raise TimedOut(f"Trello timed out while trying to {what}", source="trello") from None
            raise Unavailable(f"Trello timed out while trying to {what}", source="trello") from None
        except httpx.HTTPError as exc:
            if write and isinstance(exc, httpx.RemoteProtocolError):
                # The connection dropped after the request went out: the write may have landed.
                raise TimedOut(f"Trello dropped the connection while trying to {what}", source="trello") from None
            raise Unavailable(f"cannot reach Trello ({type(exc).__name__}) while trying to {what}",
                              source="trello") from None
        if resp.status_code >= 400:
            raise map_trello_error(resp, what, now=self.clock())
        try:
            return resp.json()
        except ValueError:
            raise BadPayload(f"Trello sent an answer that is not JSON while trying to {what}",
                             source="trello") from None


def _query(params: dict[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out
