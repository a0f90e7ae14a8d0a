"""Signed webhook receivers of the team service: ``POST /hooks/<system>``.

A delivery is a hint, never the truth. A receiver checks the delivery's signature, turns it into
the ids of the items it concerns (``slack:C…/ts``, ``gh:owner/repo#N``, ``jira:<host>/KEY-1``,
``trello:<card id>``), notes them in the sync engine's :class:`~idqueue.sync.ReadFirst` and wakes
that system's poll; the poll reads the real state from the API with the ordinary readers. So a
signed but stale, reordered or forged payload can at worst cause one early poll: nothing in a body
is ever written to the queue.

Each receiver refuses, in this order, with one log line (system, reason, remote address, delivery
id; never the secret, the signature or the body) and a count in :attr:`WebhookReceivers.stats`:

- a body over ``webhooks.max_body`` → 413, read no further (one not sent within 10 s → 408);
- a missing or wrong signature → 401 (Slack: also a timestamp that is not a number);
- Slack: a genuine signature on a timestamp more than 5 minutes from now → 409 (a replay: Slack
  signs each retry afresh, so it never sends one);
- a body that is not the JSON object its system sends → 400;
- a delivery already accepted (Slack ``event_id``, ``X-GitHub-Delivery``, Trello action id,
  ``X-Atlassian-Webhook-Identifier``) → 200 without a second wake: the sender retries when it
  missed the first answer, and anything but a 2xx makes it retry again (Slack and Jira
  eventually disable a failing subscription). The ids of the last 10,000 accepted deliveries per
  system are kept in memory only: after a restart the first poll reads everything anyway, so a
  repeat costs at most one early poll.

Everything a handler does is in memory (HMAC, JSON, a dict), so it answers well within Slack's
3 seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import urllib.parse
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aiohttp import web
from slack_sdk.signature import Clock as SlackClock
from slack_sdk.signature import SignatureVerifier

from idqueue.config import ConfigError, Settings
from idqueue.domain.models import github_id
from idqueue.integrations.jira.api import Credentials
from idqueue.integrations.jira.convert import jira_id
from idqueue.integrations.slack.socket import event_item_ids, is_relevant
from idqueue.integrations.trello.convert import trello_id
from idqueue.integrations.trello.webhooks import verify_trello_signature
from idqueue.safety import one_line
from idqueue.sync import ReadFirst

__all__ = ["SEEN_LIMIT", "SLACK_MAX_AGE", "STAT_KEYS", "SYSTEMS", "WebhookReceivers", "hub_signature"]

log = logging.getLogger(__name__)

SYSTEMS: tuple[str, ...] = ("slack", "github", "trello", "jira")
"""The systems with a receiver, each at ``/hooks/<system>``."""
STAT_KEYS: tuple[str, ...] = (
    "accepted", "refused_signature", "refused_replay", "refused_size", "refused_malformed")
"""What :attr:`WebhookReceivers.stats` counts per system."""
SLACK_MAX_AGE = 5 * 60
"""Seconds a Slack request timestamp may be from now (Slack's own rule)."""
SEEN_LIMIT = 10_000
"""Accepted delivery ids remembered per system (the oldest are forgotten first)."""
BODY_TIMEOUT = 10.0
"""Seconds a sender has to deliver the whole body (a trickling sender would hold a handler)."""

_JIRA_KEY = re.compile(r"^[A-Z][A-Z0-9_]{1,9}-[1-9][0-9]{0,6}$")
_GITHUB_ISSUE_EVENTS = frozenset({"issues", "issue_comment"})


class _Refused(Exception):
    """Why a delivery is refused: the HTTP status, a short reason and the stat it counts in."""

    def __init__(self, status: int, reason: str, stat: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.stat = stat


def _malformed(reason: str) -> _Refused:
    return _Refused(400, reason, "refused_malformed")


def _unsigned(reason: str) -> _Refused:
    return _Refused(401, reason, "refused_signature")


@dataclass(frozen=True, slots=True)
class _Hint:
    """What one verified delivery says: the items to read first, and whether to wake the poll."""

    item_ids: tuple[str, ...] = ()
    wake: bool = False
    answer: Mapping[str, Any] | None = None
    """A body to answer with instead of ``{"ok": true}`` (Slack's URL check)."""


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A verified, parsed delivery: its id for deduplication (None: not deduplicated) and hint."""

    delivery: str | None
    hint: _Hint


class _SeenIds:
    """The ids of the last ``limit`` accepted deliveries (least recently seen forgotten first)."""

    def __init__(self, limit: int = SEEN_LIMIT) -> None:
        self.limit = limit
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, delivery: object) -> bool:
        return delivery in self._ids

    def add(self, delivery: str) -> None:
        self._ids[delivery] = None
        self._ids.move_to_end(delivery)
        while len(self._ids) > self.limit:
            self._ids.popitem(last=False)


class _SlackClock(SlackClock):
    """slack-sdk's verifier clock, reading the receivers' clock."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock

    def now(self) -> float:
        return self.clock().timestamp()


def hub_signature(body: bytes, secret: str) -> str:
    """``sha256=<hex HMAC-SHA256 of body>``: GitHub's ``X-Hub-Signature-256`` and Jira's
    ``X-Hub-Signature`` of a delivery."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _hub_signature_ok(body: bytes, secret: str, header: str | None) -> bool:
    """Whether ``header`` is the ``sha256=`` signature of ``body`` (compared in constant time)."""
    if not header:
        return False
    given = header.strip().encode("ascii", errors="replace")
    return hmac.compare_digest(hub_signature(body, secret).encode("ascii"), given)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _malformed("body is not JSON") from None
    if not isinstance(data, dict):
        raise _malformed("body is not a JSON object")
    return data


def _secret(*values: Any) -> str:
    """The first non-empty secret among ``SecretStr | None`` values ("" when none is set)."""
    for value in values:
        text = value.get_secret_value() if value is not None else ""
        if text.strip():
            return str(text)
    return ""


Verify = Callable[[web.Request, bytes], None]
Interpret = Callable[[web.Request, bytes], _Parsed]


class WebhookReceivers:
    """The push receivers of the systems whose webhook secret is configured.

    Args:
        settings: ``[webhooks]`` (secrets, ``public_url``, ``max_body``) and the systems' own
            sections (which Slack channels, GitHub repos and Jira site are watched).
        read_first: where the ids of the items a delivery concerns are noted for the next poll.
        wake: called as ``wake(system)`` (on the aiohttp loop; it must not block) after a valid
            delivery that concerns something the team watches.
        clock: the current time, for Slack's timestamp check (default: the real UTC time; a
            frozen ``IDQUEUE_NOW`` would refuse every real delivery).

    Raises:
        ConfigError: a Trello secret is set but no callback URL is known (``webhooks.public_url``
            or ``trello.callback_url``): Trello signs the callback URL, so nothing could verify.
    """

    def __init__(self, settings: Settings, read_first: ReadFirst, wake: Callable[[str], None], *,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.read_first = read_first
        self.wake = wake
        self.clock = clock or (lambda: datetime.now(UTC))
        hooks = settings.webhooks
        self.max_body = hooks.max_body
        self._secrets = {
            "slack": _secret(hooks.slack_signing_secret),
            "github": _secret(hooks.github_secret),
            "trello": _secret(hooks.trello_secret, settings.trello.webhook_secret),
            "jira": _secret(hooks.jira_secret),
        }
        self.trello_callback_url = settings.trello.callback_url or (
            f"{hooks.public_url}/hooks/trello" if hooks.public_url else None)
        if self._secrets["trello"] and not self.trello_callback_url:
            raise ConfigError("webhooks.trello_secret is set but webhooks.public_url is not: Trello signs "
                              "the callback URL, so set it (e.g. https://idqueue.example.org)")
        self.stats: dict[str, dict[str, int]] = {s: dict.fromkeys(STAT_KEYS, 0) for s in SYSTEMS}
        """Per system: deliveries accepted, and refused by reason."""
        self._seen = {s: _SeenIds() for s in SYSTEMS}
        self._repos = {repo.lower(): repo for repo in settings.github.repos}
        jira = settings.jira
        self._jira_host = Credentials(jira.base_url, None, {}, "3", jira.web_url or "").host if jira.base_url else None

    @property
    def systems(self) -> tuple[str, ...]:
        """The systems whose receiver is mounted (their secret is set)."""
        return tuple(s for s in SYSTEMS if self._secrets[s])

    def routes(self) -> list[web.RouteDef]:
        """``POST /hooks/<system>`` for each system whose secret is set (and ``HEAD /hooks/trello``,
        which Trello calls when a webhook is created)."""
        handlers: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]] = {
            "slack": self._slack, "github": self._github, "trello": self._trello, "jira": self._jira}
        routes = [web.post(f"/hooks/{system}", handlers[system]) for system in self.systems]
        if "trello" in self.systems:
            routes.append(web.head("/hooks/trello", self._trello_check))
        return routes

    # -- the shared path ------------------------------------------------------------------------

    async def _receive(self, request: web.Request, system: str, verify: Verify, interpret: Interpret,
                       delivery_header: str | None = None) -> web.Response:
        """Read, verify, parse, deduplicate and apply one delivery; refuse anything else."""
        label = request.headers.get(delivery_header, "") if delivery_header else ""
        try:
            body = await self._read_body(request)
            verify(request, body)
            parsed = interpret(request, body)
            label = parsed.delivery or label
            if parsed.delivery is not None and parsed.delivery in self._seen[system]:
                self._refused(request, system, "already accepted (a retry)", "refused_replay", label)
                return web.json_response({"ok": True, "duplicate": True})
        except _Refused as refusal:
            self._refused(request, system, refusal.reason, refusal.stat, label)
            return web.json_response({"ok": False, "error": refusal.reason}, status=refusal.status)
        if parsed.delivery is not None:
            self._seen[system].add(parsed.delivery)
        self.stats[system]["accepted"] += 1
        hint = parsed.hint
        for item_id in hint.item_ids:
            self.read_first.add(item_id)
        if hint.wake or hint.item_ids:
            try:
                self.wake(system)
            except Exception:  # the delivery was accepted; the next timed poll still runs
                log.exception("waking the %s poll failed", system)
        log.debug("webhook %s accepted: delivery %s, %d item(s)", system, _shown(label), len(hint.item_ids))
        return web.json_response(hint.answer if hint.answer is not None else {"ok": True})

    async def _read_body(self, request: web.Request) -> bytes:
        """The raw body, refused (413) as soon as it is known to exceed ``max_body``."""
        if request.content_length is not None and request.content_length > self.max_body:
            raise _Refused(413, f"body over {self.max_body} bytes", "refused_size")
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(BODY_TIMEOUT):
                async for chunk in request.content.iter_any():
                    size += len(chunk)
                    if size > self.max_body:
                        raise _Refused(413, f"body over {self.max_body} bytes", "refused_size")
                    chunks.append(chunk)
        except TimeoutError:
            raise _Refused(408, f"body not received within {BODY_TIMEOUT:g} s", "refused_malformed") from None
        return b"".join(chunks)

    def _refused(self, request: web.Request, system: str, reason: str, stat: str, delivery: str) -> None:
        self.stats[system][stat] += 1
        log.warning("webhook %s refused: %s (remote %s, delivery %s)",
                    system, reason, request.remote or "-", _shown(delivery))

    # -- Slack Events API -----------------------------------------------------------------------

    async def _slack(self, request: web.Request) -> web.Response:
        return await self._receive(request, "slack", self._verify_slack, self._interpret_slack)

    def _verify_slack(self, request: web.Request, body: bytes) -> None:
        """``X-Slack-Signature`` (v0) over ``v0:<timestamp>:<body>``, by slack-sdk's verifier."""
        timestamp = request.headers.get("X-Slack-Request-Timestamp")
        signature = request.headers.get("X-Slack-Signature")
        if not timestamp or not signature:
            raise _unsigned("no X-Slack-Signature / X-Slack-Request-Timestamp")
        if not timestamp.strip().isdigit():
            raise _unsigned("X-Slack-Request-Timestamp is not a number")
        verifier = SignatureVerifier(self._secrets["slack"], clock=_SlackClock(self.clock))
        try:
            if verifier.is_valid(body, timestamp, signature):
                return
            # Refused: a genuine signature on an old (or future) timestamp is a replay.
            genuine = hmac.compare_digest(
                (verifier.generate_signature(timestamp=timestamp, body=body) or "").encode(),
                signature.encode("ascii", errors="replace"))
        except UnicodeDecodeError:
            raise _unsigned("body is not UTF-8, so it cannot be Slack's") from None
        if genuine:
            raise _Refused(409, f"timestamp more than {SLACK_MAX_AGE // 60} minutes from now (a replay)",
                           "refused_replay")
        raise _unsigned("bad signature")

    def _interpret_slack(self, request: web.Request, body: bytes) -> _Parsed:
        payload = _json_object(body)
        kind = payload.get("type")
        if kind == "url_verification":
            challenge = payload.get("challenge")
            if not isinstance(challenge, str):
                raise _malformed("url_verification without a challenge")
            return _Parsed(None, _Hint(answer={"challenge": challenge}))
        if kind != "event_callback":
            return _Parsed(None, _Hint())  # app_rate_limited and the like: nothing changed
        event_id = payload.get("event_id")
        if not isinstance(event_id, str) or not event_id or not isinstance(payload.get("event"), dict):
            raise _malformed("event_callback without event_id or event")
        channels = self.settings.slack.channels
        return _Parsed(event_id, _Hint(event_item_ids(payload, channels), is_relevant(payload, channels)))

    # -- GitHub ---------------------------------------------------------------------------------

    async def _github(self, request: web.Request) -> web.Response:
        return await self._receive(request, "github", partial(self._verify_hub, "github", "X-Hub-Signature-256"),
                                   self._interpret_github, "X-GitHub-Delivery")

    def _verify_hub(self, system: str, header_name: str, request: web.Request, body: bytes) -> None:
        """GitHub's and Jira's check: ``header_name`` carries the ``sha256=`` HMAC of the body with
        the system's secret."""
        header = request.headers.get(header_name)
        if not header:
            raise _unsigned(f"no {header_name}")
        if not _hub_signature_ok(body, self._secrets[system], header):
            raise _unsigned("bad signature")

    def _interpret_github(self, request: web.Request, body: bytes) -> _Parsed:
        event = request.headers.get("X-GitHub-Event", "")
        if not event:
            raise _malformed("no X-GitHub-Event")
        delivery = request.headers.get("X-GitHub-Delivery") or None
        payload = _json_object(_github_json(request, body))
        repository = payload.get("repository")
        full_name = repository.get("full_name") if isinstance(repository, dict) else None
        repo = self._repos.get(full_name.lower()) if isinstance(full_name, str) else None
        if event in _GITHUB_ISSUE_EVENTS:
            issue = payload.get("issue")
            if not isinstance(issue, dict) or type(issue.get("number")) is not int or not isinstance(full_name, str):
                raise _malformed(f"{event} event without issue.number or repository.full_name")
            if repo is None or issue.get("pull_request"):
                return _Parsed(delivery, _Hint())  # not watched, or a pull request (never a request)
            return _Parsed(delivery, _Hint((github_id(repo, issue["number"]),), True))
        # A label renamed or deleted changes issues without touching them; ping and the rest: nothing.
        return _Parsed(delivery, _Hint(wake=event == "label" and repo is not None))

    # -- Trello ---------------------------------------------------------------------------------

    async def _trello_check(self, request: web.Request) -> web.Response:
        """Trello's ``HEAD`` of the callback URL when a webhook is created: 200 accepts it."""
        return web.Response(status=200)

    async def _trello(self, request: web.Request) -> web.Response:
        return await self._receive(request, "trello", self._verify_trello, self._interpret_trello)

    def _verify_trello(self, request: web.Request, body: bytes) -> None:
        header = request.headers.get("X-Trello-Webhook")
        if not header:
            raise _unsigned("no X-Trello-Webhook")
        assert self.trello_callback_url is not None  # checked by __init__
        if not verify_trello_signature(body, self.trello_callback_url, self._secrets["trello"], header):
            raise _unsigned("bad signature")

    def _interpret_trello(self, request: web.Request, body: bytes) -> _Parsed:
        payload = _json_object(body)
        action = payload.get("action")
        if not isinstance(action, dict) or not isinstance(action.get("id"), str) or not action["id"]:
            raise _malformed("no action.id")
        data = action.get("data")
        card = data.get("card") if isinstance(data, dict) else None
        card_id = card.get("id") if isinstance(card, dict) else None
        if not isinstance(card_id, str) or not card_id:
            return _Parsed(action["id"], _Hint())  # a board or list action: no card changed
        return _Parsed(action["id"], _Hint((trello_id(card_id),), True))

    # -- Jira -----------------------------------------------------------------------------------

    async def _jira(self, request: web.Request) -> web.Response:
        return await self._receive(request, "jira", partial(self._verify_hub, "jira", "X-Hub-Signature"),
                                   self._interpret_jira, "X-Atlassian-Webhook-Identifier")

    def _interpret_jira(self, request: web.Request, body: bytes) -> _Parsed:
        delivery = request.headers.get("X-Atlassian-Webhook-Identifier") or None
        payload = _json_object(body)
        if not isinstance(payload.get("webhookEvent"), str):
            raise _malformed("no webhookEvent")
        issue = payload.get("issue")
        if issue is None:
            return _Parsed(delivery, _Hint())  # a project, version or user event: no issue changed
        key = issue.get("key") if isinstance(issue, dict) else None
        if not isinstance(key, str) or not _JIRA_KEY.match(key):
            raise _malformed("issue without a valid key")
        if self._jira_host is None:
            return _Parsed(delivery, _Hint())  # no Jira site configured: nothing watches it
        return _Parsed(delivery, _Hint((jira_id(self._jira_host, key),), True))


def _github_json(request: web.Request, body: bytes) -> bytes:
    """The JSON of a GitHub delivery: the body, or its ``payload`` field when the webhook's
    content type is ``application/x-www-form-urlencoded``."""
    if request.content_type != "application/x-www-form-urlencoded":
        return body
    try:
        fields = urllib.parse.parse_qs(body.decode("utf-8"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise _malformed("form body is not valid") from None
    payload = fields.get("payload")
    if not payload:
        raise _malformed("form body without payload")
    return payload[0].encode("utf-8")


def _shown(delivery: str) -> str:
    """A delivery id fit for one log line (it comes from the sender: sanitised and shortened)."""
    return one_line(delivery, 80) or "-"
