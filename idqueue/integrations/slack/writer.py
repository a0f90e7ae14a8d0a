"""Slack writes for the outbox, through the real ``slack_sdk.WebClient``
(:func:`~idqueue.integrations.slack.api.web_client`).

* Thread replies (``chat.postMessage`` with ``thread_ts``) carry message metadata
  ``{"event_type": "idqueue_action", "event_payload": {"action_id", "action", "assignee",
  "actor", "automation", "reason"}}``. The Slack read source turns them back into timeline
  events; that is how a Slack-only request gets an assignee and a status.
* ``chat.postMessage`` has no idempotency key, so when a previous attempt may have reached Slack
  the dispatcher first calls :meth:`SlackWriter.reconcile`, which reads the thread's replies
  posted since the action's first attempt (``conversations.replies`` with ``oldest`` and
  ``include_all_metadata``, every page), and the action is not posted again if a message with
  this action id is there.
* A reply without ``thread_ts`` is a top-level message in the channel (the support-channel
  notifications); its look-up reads the channel's history from ``oldest`` instead
  (``conversations.history``, every page).
* every write is preceded by the dispatcher's fence check
  (:func:`~idqueue.integrations.base.before_write`).
* Messages that change a Slack-only request's state re-read the thread first: if someone else's
  idqueue assigned or closed it meanwhile, the writer raises
  :class:`~idqueue.integrations.base.ConflictError` instead of posting.
* Reactions mark state on the request message; ``already_reacted`` counts as done.

slack-sdk's retry handlers are off: its default ``ConnectionErrorRetryHandler`` would re-send a
``chat.postMessage`` whose response was lost. The dispatcher retries with reconciliation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from idqueue.config import Settings
from idqueue.domain.actions import Action, ActionKind
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
from idqueue.integrations.slack.api import map_slack_error, web_client
from idqueue.integrations.slack.convert import IDQUEUE_EVENT_TYPE, idqueue_payload
from idqueue.safety import one_line

__all__ = ["IDQUEUE_EVENT_TYPE", "SlackWriter", "thread_state"]

_T = TypeVar("_T")

# State a Slack-only request is in, as its idqueue thread messages say.
_STATUS_OF_ACTION = {"close": "closed", "backlog": "backlog", "pending": "pending", "reopen": "open", "resume": "open"}
_VERB = {
    "assign": "assigned it", "unassign": "unassigned it", "close": "closed it", "backlog": "moved it to the backlog",
    "pending": "marked it pending", "reopen": "reopened it", "resume": "resumed it",
}


def thread_state(messages: list[dict[str, Any]], *, skip_action: str | None = None) -> tuple[str | None, str, dict[str, Any] | None]:
    """The (assignee, status, last state payload) a thread's idqueue messages describe.

    ``status`` is one of ``open``, ``pending``, ``closed``, ``backlog``. Messages are applied in
    ``ts`` order, the way the read source and the assembler derive a Slack-only request's state.

    Args:
        messages: thread messages (``conversations.replies``, with metadata).
        skip_action: ignore the message of this action id (our own, when reconciling).
    """
    assignee: str | None = None
    status = "open"
    last: dict[str, Any] | None = None
    ordered = sorted(messages, key=lambda m: _ts_key(str(m.get("ts", "0"))))
    for msg in ordered:
        payload = idqueue_payload(msg)
        if payload is None or (skip_action and payload.get("action_id") == skip_action):
            continue
        action = str(payload.get("action") or "")
        if action == "assign":
            assignee = str(payload.get("assignee")) if payload.get("assignee") is not None else None
        elif action == "unassign":
            assignee = None
        elif action in _STATUS_OF_ACTION:
            status = _STATUS_OF_ACTION[action]
        else:
            continue
        last = {**payload, "ts": msg.get("ts")}
    return assignee, status, last


def _ts_key(ts: str) -> tuple[int, int]:
    sec, _, frac = ts.partition(".")
    try:
        return int(sec), int((frac + "000000")[:6])
    except ValueError:
        return (0, 0)


class SlackWriter:
    """Carries outbox actions to Slack.

    Args:
        settings: token, API root, roster (for names in conflict messages).
        client: a prepared ``WebClient`` (tests); built from settings otherwise.
        timeout: HTTP timeout in seconds.
        clock: the clock (for rate-limit ``until`` times).
    """

    target = "slack"

    def __init__(
        self,
        settings: Settings,
        *,
        client: WebClient | None = None,
        timeout: float = 20.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))
        if client is None:
            token = settings.slack.token
            if token is None:
                raise AuthError("no Slack token configured (IDQUEUE_SLACK_TOKEN)", source="slack")
            client = web_client(token.get_secret_value(), settings.slack.base_url, timeout=timeout)
        else:
            # Never let the SDK re-send a write on its own (see the module docstring).
            client.retry_handlers = []
        self._client = client

    def close(self) -> None:
        """Nothing to release (urllib opens a connection per call)."""

    def reconcile(self, action: Action, *, since: datetime) -> dict[str, Any] | None:
        """Find this action's thread reply among those posted since ``since``.

        Returns:
            The result to record when the reply is in the thread; None when it is not, or for
            reactions (adding one twice is harmless: ``already_reacted``).

        Raises:
            SourceError: the look-up failed (the action is retried later).
        """
        if action.kind is not ActionKind.REPLY:
            return None
        p = action.params
        channel, thread_ts = str(p["channel"]), str(p.get("thread_ts") or "")
        oldest = f"{max(0.0, since.timestamp()):.6f}"
        if thread_ts:
            messages = self._call(action, lambda: self._thread(channel, thread_ts, oldest=oldest))
        else:
            messages = self._call(action, lambda: self._history(channel, oldest=oldest))
        for msg in reversed(messages):
            found = idqueue_payload(msg)
            if found is not None and found.get("action_id") == action.id:
                return {"channel": channel, "ts": msg.get("ts"), "thread_ts": thread_ts or None}
        return None

    def send(self, action: Action, *, maybe_sent: bool) -> dict[str, Any]:
        """Carry out one action (thread reply or reaction).

        Args:
            action: the action.
            maybe_sent: a previous attempt may have reached Slack (it was looked for with
                :meth:`reconcile` and not found).

        Raises:
            SourceError: a mapped failure (transient or permanent), or ConflictError.
        """
        if action.kind is ActionKind.REPLY:
            return self._call(action, lambda: self._post(action, maybe_sent))
        if action.kind is ActionKind.REACT:
            return self._call(action, lambda: self._react(action))
        raise ValidationFailed(f"Slack cannot carry out a {action.kind.value} action", source="slack")

    def _call(self, action: Action, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` with Slack's failures mapped to the project's error types."""
        what = _what(action)
        try:
            return fn()
        except SourceError:
            raise
        except SlackApiError as exc:
            raise map_slack_error(exc, what, now=self._clock()) from None
        except TimeoutError:
            raise TimedOut(f"Slack timed out while trying to {what}", source="slack") from None
        except (OSError, SlackClientError) as exc:
            raise Unavailable(f"cannot reach Slack ({type(exc).__name__}) while trying to {what}",
                              source="slack") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise BadPayload(f"Slack sent an unexpected answer while trying to {what}: {type(exc).__name__}",
                             source="slack") from None

    # ------------------------------------------------------------------ helpers
    def _thread(self, channel: str, thread_ts: str, *, oldest: str | None = None) -> list[dict[str, Any]]:
        """The thread's messages (every page); with ``oldest``, the parent and the replies from then on."""
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            kwargs: dict[str, Any] = {"channel": channel, "ts": thread_ts, "include_all_metadata": True, "limit": 200}
            if oldest is not None:
                kwargs.update(oldest=oldest, inclusive=True)
            if cursor:
                kwargs["cursor"] = cursor
            resp = self._client.conversations_replies(**kwargs)
            page = resp.get("messages")
            if not isinstance(page, list):
                raise BadPayload("Slack sent a thread without messages", source="slack")
            messages.extend(m for m in page if isinstance(m, dict))
            meta = resp.get("response_metadata") or {}
            cursor = meta.get("next_cursor") if isinstance(meta, dict) else None
            if not cursor:
                break
        return messages

    def _history(self, channel: str, *, oldest: str) -> list[dict[str, Any]]:
        """The channel's top-level messages from ``oldest`` on (every page), oldest first."""
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            kwargs: dict[str, Any] = {"channel": channel, "oldest": oldest, "inclusive": True,
                                      "include_all_metadata": True, "limit": 200}
            if cursor:
                kwargs["cursor"] = cursor
            resp = self._client.conversations_history(**kwargs)
            page = resp.get("messages")
            if not isinstance(page, list):
                raise BadPayload("Slack sent a channel history without messages", source="slack")
            messages.extend(m for m in page if isinstance(m, dict))
            meta = resp.get("response_metadata") or {}
            cursor = meta.get("next_cursor") if isinstance(meta, dict) else None
            if not cursor:
                break
        return sorted(messages, key=lambda m: _ts_key(str(m.get("ts", "0"))))

    def _name(self, key: Any) -> str:
        if isinstance(key, str) and key in self.settings.team:
            return self.settings.team[key].name
        return str(key) if key else "someone"

    def _check(self, action: Action, messages: list[dict[str, Any]]) -> None:
        check = action.params.get("check")
        if not isinstance(check, dict):
            return
        thread = [m for m in messages if m.get("ts") != action.params.get("thread_ts")]
        assignee, status, last = thread_state(thread, skip_action=action.id)
        want = (check.get("assignee"), check.get("status", "open"))
        if (assignee, status) == want:
            return
        if last is None:
            # No idqueue state message in the thread: the expected state came from what a
            # teammate did by hand (reactions, a backlog link; see domain/assemble.py), which
            # this check cannot see, and nothing changed through idqueue since it was queued.
            return
        if last is not None:
            verb = _VERB.get(str(last.get("action")), str(last.get("action")))
            if last.get("action") == "assign" and last.get("assignee"):
                verb = f"assigned it to {self._name(last.get('assignee'))}"
            when = ""
            try:
                at = datetime.fromtimestamp(_ts_key(str(last.get("ts")))[0], UTC)
                when = f" at {at.strftime('%Y-%m-%d %H:%M UTC')}"
            except (OverflowError, OSError, ValueError):
                pass
            who = f"{self._name(last.get('actor'))} (via idqueue) {verb}{when}"
        else:
            who = "its state changed"
        raise ConflictError(
            f"the Slack request changed after this was queued: {one_line(who, 160)}; not posted. "
            "Retry to do it anyway, or drop it.", source="slack")

    # ------------------------------------------------------------------ actions
    def _post(self, action: Action, maybe_sent: bool) -> dict[str, Any]:
        p = action.params
        channel, thread_ts = str(p["channel"]), str(p.get("thread_ts") or "") or None
        if thread_ts and isinstance(p.get("check"), dict) and not p.get("force"):
            self._check(action, self._thread(channel, thread_ts))
        payload: dict[str, Any] = {
            "action_id": action.id,
            "action": str(p.get("action") or "reply"),
            "automation": bool(p.get("automation")),
        }
        for key in ("assignee", "actor", "reason"):
            if p.get(key):
                payload[key] = str(p[key])
        before_write()
        resp = self._client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=action.text or "",
            metadata={"event_type": IDQUEUE_EVENT_TYPE, "event_payload": payload},
            unfurl_links=False,
            unfurl_media=False,
        )
        ts = resp.get("ts")
        if not isinstance(ts, str):
            raise BadPayload("Slack did not return the message ts", source="slack")
        return {"channel": channel, "ts": ts, "thread_ts": thread_ts}

    def _react(self, action: Action) -> dict[str, Any]:
        p = action.params
        name = str(p["name"]).strip(":")
        before_write()
        try:
            self._client.reactions_add(channel=str(p["channel"]), timestamp=str(p["ts"]), name=name)
        except SlackApiError as exc:
            data = getattr(exc.response, "data", None)
            if isinstance(data, dict) and data.get("error") == "already_reacted":
                return {"reaction": name, "already": True}
            raise
        return {"reaction": name}


def _what(action: Action) -> str:
    p = action.params
    if action.kind is ActionKind.REACT:
        return f"react :{p.get('name')}: in {p.get('channel')}"
    if not p.get("thread_ts"):
        return f"post in the Slack channel {p.get('channel')}"
    return f"reply in the Slack thread {p.get('channel')}/{p.get('thread_ts')}"
