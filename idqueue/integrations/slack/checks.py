"""``idqueue doctor``'s Slack check for live updates: ``apps.connections.open`` accepts the
app-level token (``slack.app_token``), so Socket Mode can connect (no WebSocket is opened here).
Returns a :class:`~idqueue.integrations.base.Check`; nothing raises and no secret reaches the
message. :func:`scope_lines` reads the bot token's scopes from the reader's check facts.
"""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from idqueue.config import Settings
from idqueue.integrations.base import Check
from idqueue.integrations.slack.api import AUTH_ERRORS
from idqueue.safety import redact


def check_app_token(settings: Settings, *, timeout: float = 15.0) -> Check | None:
    """Whether Slack accepts the app-level token for Socket Mode (None: no app token)."""
    slack = settings.slack
    if slack.app_token is None or not slack.app_token.get_secret_value():
        return None
    name = "app token"
    client = WebClient(base_url=slack.base_url, timeout=int(timeout))
    try:
        answer = client.apps_connections_open(app_token=slack.app_token.get_secret_value())
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        hint = " (an xapp- token with connections:write is needed)" if error in AUTH_ERRORS else ""
        return Check(name, False, redact(f"apps.connections.open failed: {error or 'unknown error'}{hint}"))
    except Exception as exc:  # network errors from the SDK (urllib): one line, no traceback
        return Check(name, False, redact(f"apps.connections.open failed: {type(exc).__name__}"))
    if not answer.get("ok") or not answer.get("url"):
        return Check(name, False, "apps.connections.open gave no WebSocket URL")
    return Check(name, True, "Socket Mode can connect (apps.connections.open ok)")


def check_notify_channel(settings: Settings, *, timeout: float = 15.0) -> Check | None:
    """Whether the bot can post to the notification channel (``notify.channel``): it exists and
    the bot is a member (``conversations.info`` → ``is_member``). None when notifications are off."""
    channel = settings.notify.channel
    if not channel:
        return None
    name = "notify channel"
    token = settings.slack.token
    if token is None or not token.get_secret_value():
        return Check(name, False, f"notifications to {channel} need a Slack bot token (IDQUEUE_SLACK_TOKEN)")
    client = WebClient(token=token.get_secret_value(), base_url=settings.slack.base_url, timeout=int(timeout))
    client.retry_handlers = []
    try:
        info = client.conversations_info(channel=channel).get("channel") or {}
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        return Check(name, False, redact(f"conversations.info {channel} failed: {error or 'unknown error'}"))
    except Exception as exc:  # network errors from the SDK (urllib): one line, no traceback
        return Check(name, False, redact(f"conversations.info {channel} failed: {type(exc).__name__}"))
    label = f"#{info.get('name')} ({channel})" if info.get("name") else channel
    if info.get("is_archived"):
        return Check(name, False, f"{label} is archived: notifications cannot be posted there")
    if not info.get("is_member"):
        return Check(name, False, f"the bot is not a member of {label}: invite it there (/invite @your-app)")
    return Check(name, True, f"the bot is a member of {label}; notifications can be posted")


def doctor_checks(settings: Settings, *, skip: bool = False) -> list[Check]:
    """Slack's doctor checks beyond the reader's: the app-level token for Socket Mode, and the
    channel notifications go to."""
    if skip:
        return []
    checks = [check_app_token(settings), check_notify_channel(settings)]
    return [check for check in checks if check is not None]


SLACK_SCOPE_FEATURES: dict[str, str] = {
    "channels:history": "reading the intake channels and their threads (Slack sync)",
    "chat:write": "replies and automatic messages in Slack threads",
    "reactions:write": "the taken/done/backlog reactions on Slack requests",
    "users:read": "requester and teammate names (Slack ids are shown instead)",
}
"""The bot scopes idqueue uses, and what stops working without each."""


def scope_lines(facts: dict[str, Any]) -> list[str]:
    """Doctor lines about the Slack bot token's scopes (``x-oauth-scopes``), one per missing scope."""
    scopes = facts.get("scopes")
    if scopes is None:
        return ["scope check Slack sent no x-oauth-scopes header; scopes not checked"]
    have = set(scopes)
    missing = [scope for scope in SLACK_SCOPE_FEATURES if scope not in have]
    if not missing:
        return ["scope check " + ", ".join(SLACK_SCOPE_FEATURES) + ": every feature available"]
    return [f"missing    scope {scope} — disables {SLACK_SCOPE_FEATURES[scope]}" for scope in missing]
