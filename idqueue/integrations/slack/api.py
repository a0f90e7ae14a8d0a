"""The Slack Web API as every Slack module uses it: one client, one error map.

* :func:`web_client` builds the one client the reader and the writer use: a
  :class:`LenientWebClient` (slack-sdk ``WebClient``) whose own retry handlers are off, because
  the SDK's handlers sleep real time unbounded and would re-send a write on their own.
* :data:`AUTH_ERRORS` is the one list of error codes that mean "the token is refused" (polling,
  Socket Mode, write-backs and ``idqueue doctor`` all use it), and :func:`retry_after` the one
  reading of a ``Retry-After`` header.
* :func:`map_error` (reads) and :func:`map_slack_error` (writes) turn Slack's answers into the
  project's error types, with titles that never carry a token.

The SDK decodes every answer strictly, so one stray byte in one message raises
``UnicodeDecodeError`` out of ``api_call`` on every poll, and the whole channel stops syncing.
:class:`LenientWebClient` decodes the 200 answers leniently
(:func:`~idqueue.integrations.decoding.decode_utf8`) and keeps the byte offsets it replaced,
for the source to report.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from idqueue.integrations.base import (
    AuthError,
    NotFound,
    RateLimited,
    SourceError,
    Unavailable,
    ValidationFailed,
)
from idqueue.integrations.decoding import decode_utf8
from idqueue.safety import one_line, redact

AUTH_ERRORS = frozenset({
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "invalid_token",
    "missing_scope", "no_permission", "ekm_access_denied", "not_allowed_token_type", "team_access_not_granted",
})
"""Error codes that mean Slack refuses the token (or its scopes): no retry can fix them."""
CHANNEL_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived"})
"""Error codes that mean the channel is gone, archived, or the app is not in it."""
MESSAGE_ERRORS = frozenset({"thread_not_found", "message_not_found"})
"""Error codes that mean the message or thread is gone."""
INVALID_ERRORS = frozenset({
    "msg_too_long", "no_text", "invalid_blocks", "invalid_metadata_format", "invalid_metadata_schema",
    "metadata_too_large", "invalid_arguments", "restricted_action", "too_many_attachments",
    "invalid_name", "too_many_emoji", "too_many_reactions", "cannot_reply_to_message",
})
"""Error codes of a write Slack refuses as it is (retrying the same write cannot help)."""
TRANSIENT_ERRORS = frozenset({
    "internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited",
})
"""Error codes of a failure that a later retry may not meet."""
NON_JSON_PREFIX = "Received a response in a non-JSON format"

MAX_RATE_RETRIES = 4
MAX_TRANSIENT_RETRIES = 3

def retry_after(headers: Any, *, fallback: float = 1.0) -> float:
    """Seconds to wait from a ``Retry-After`` header: missing, garbage, 0 or negative → at
    least 1 s (``fallback`` when the header is missing or unreadable)."""
    value: Any = None
    if isinstance(headers, Mapping):
        for key, val in headers.items():
            if str(key).lower() == "retry-after":
                value = val[0] if isinstance(val, list) and val else val
                break
    if value is None:
        return max(1.0, fallback)
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return max(1.0, fallback)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
        return max(1.0, fallback)
    return max(1.0, seconds)


def map_error(method: str, error: str, source: str, params: Mapping[str, Any]) -> SourceError:
    """Map a Slack ``ok:false`` error code to our error type (titles never carry tokens)."""
    code = redact(error)[:80] or "unknown_error"
    if error in AUTH_ERRORS:
        return AuthError(f"Slack refused the token ({code}) on {method}", source=source)
    if error in CHANNEL_ERRORS:
        channel = str(params.get("channel") or "")
        what = "is not in" if error == "not_in_channel" else "cannot find"
        return NotFound(f"Slack {what} channel {channel} ({code})", source=source)
    if error in MESSAGE_ERRORS or error == "user_not_found":
        return NotFound(f"Slack {method}: {code}", source=source)
    return Unavailable(f"Slack {method} failed: {code}", source=source)


def map_slack_error(exc: SlackApiError, what: str, *, now: datetime) -> SourceError:
    """Map a ``SlackApiError`` of a write to the project's error types (titles never carry tokens)."""
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    data = getattr(response, "data", None)
    error = str(data.get("error") or "") if isinstance(data, dict) else ""
    code = one_line(redact(error), 60) or f"HTTP {status}"
    if status == 429 or error == "ratelimited":
        wait = retry_after(getattr(response, "headers", {}))
        return RateLimited(f"Slack rate limit while trying to {what}", until=now + timedelta(seconds=wait),
                           source="slack")
    if error in AUTH_ERRORS:
        return AuthError(f"Slack refused the token ({code}) while trying to {what}", source="slack")
    if error in CHANNEL_ERRORS or error in MESSAGE_ERRORS:
        return NotFound(f"Slack cannot {what} ({code}): the channel or message is gone, archived, "
                        "or the app is not in the channel", source="slack")
    if error in INVALID_ERRORS:
        return ValidationFailed(f"Slack refused to {what} ({code})", source="slack")
    if status >= 500 or error in TRANSIENT_ERRORS or not error:
        return Unavailable(f"Slack is unavailable ({code}) while trying to {what}", source="slack")
    return Unavailable(f"Slack answered {code} while trying to {what}", source="slack")


def web_client(token: str | None, base_url: str, *, timeout: float) -> LenientWebClient:
    """The Slack client of the reader and the writer, with the SDK's own retries off.

    Args:
        token: the bot or user token (None: calls answer ``not_authed``).
        base_url: the Web API root; a missing trailing ``/`` is added (the SDK joins method
            names onto it).
        timeout: HTTP timeout in seconds; fractions are kept (``WebClient`` annotates an int
            but hands the value unchanged to urllib, which takes float seconds).
    """
    client = LenientWebClient(token=token, base_url=base_url if base_url.endswith("/") else base_url + "/")
    client.timeout = max(0.001, float(timeout))  # type: ignore[assignment]
    client.retry_handlers = []
    return client


class LenientWebClient(WebClient):
    """``WebClient`` with a lenient decoder; :meth:`take_replacements` hands over what it fixed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._replaced = threading.local()

    def take_replacements(self) -> list[int]:
        """Byte offsets replaced in this thread's last answer (then forgotten)."""
        offsets: list[int] = getattr(self._replaced, "offsets", [])
        self._replaced.offsets = []
        return offsets

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        """As the SDK's, for http(s) URLs, but decoding with replacement (the hook)."""
        if not url.lower().startswith("http"):
            return super()._perform_urllib_http_request_internal(url, req)  # type: ignore[no-any-return]
        if self.proxy is not None:
            opener = urllib.request.build_opener(
                urllib.request.ProxyHandler({"http": self.proxy, "https": self.proxy}),
                urllib.request.HTTPSHandler(context=self.ssl),
            )
            resp = opener.open(req, timeout=self.timeout)
        else:
            resp = urllib.request.urlopen(req, context=self.ssl, timeout=self.timeout)
        raw: bytes = resp.read()
        if resp.headers.get_content_type() == "application/gzip":
            return {"status": resp.code, "headers": resp.headers, "body": raw}
        charset = (resp.headers.get_content_charset() or "utf-8").lower()
        offsets: list[int] = []
        if charset in ("utf-8", "utf8"):
            body, offsets = decode_utf8(raw)
        else:
            body = raw.decode(charset, errors="replace")
        self._replaced.offsets = offsets
        return {"status": resp.code, "headers": resp.headers, "body": body}
