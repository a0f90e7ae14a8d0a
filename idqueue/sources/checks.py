"""Extra ``idqueue doctor`` checks for what write-back and live updates need.

* the GitHub backlog repo (``github.backlog_repo``): it exists for the token and the token can
  write issues there (backlogging a Slack-only request creates one);
* the Slack app-level token (``slack.app_token``): ``apps.connections.open`` accepts it, so
  Socket Mode can connect (no WebSocket is opened here).

Each check returns a :class:`Check`; nothing raises and no secret reaches the message.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from idqueue.config import Settings
from idqueue.safety import redact

API_VERSION = "2022-11-28"


@dataclass(frozen=True)
class Check:
    """One doctor line: ``ok`` and what was found (or why it failed, with the fix)."""

    name: str
    ok: bool
    detail: str


def check_backlog_repo(settings: Settings, *, timeout: float = 15.0) -> Check | None:
    """Whether the backlog repo exists and the token can write issues there (None: no GitHub)."""
    gh = settings.github
    repo = gh.backlog_repo or (gh.repos[0] if gh.repos else None)
    if gh.token is None or repo is None:
        return None
    name = "backlog repo"
    url = f"{gh.base_url.rstrip('/')}/repos/{repo}"
    headers = {
        "Authorization": f"Bearer {gh.token.get_secret_value()}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": "idqueue",
    }
    try:
        response = httpx.get(url, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        return Check(name, False, redact(f"{repo}: GitHub is unreachable ({type(exc).__name__})"))
    if response.status_code == 404:
        return Check(name, False, f"{repo}: not found, or the token cannot see it (github.backlog_repo)")
    if response.status_code in (401, 403):
        return Check(name, False, f"{repo}: GitHub refused the token (HTTP {response.status_code})")
    if response.status_code >= 400:
        return Check(name, False, f"{repo}: GitHub answered HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        return Check(name, False, f"{repo}: GitHub sent an unreadable answer")
    perms = data.get("permissions") or {} if isinstance(data, dict) else {}
    if isinstance(data, dict) and data.get("has_issues") is False:
        return Check(name, False, f"{repo}: issues are turned off in this repository")
    if not any(perms.get(k) for k in ("push", "triage", "maintain", "admin")):
        return Check(name, False, f"{repo}: the token can read it but not write issues (needs triage or write access)")
    return Check(name, True, f"{repo}: exists; the token can create and label issues")


def check_app_token(settings: Settings, *, timeout: float = 15.0) -> Check | None:
    """Whether Slack accepts the app-level token for Socket Mode (None: no app token)."""
    slack = settings.slack
    if slack.app_token is None or not slack.app_token.get_secret_value():
        return None
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    name = "app token"
    client = WebClient(base_url=slack.base_url, timeout=int(timeout))
    try:
        answer = client.apps_connections_open(app_token=slack.app_token.get_secret_value())
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        hint = " (an xapp- token with connections:write is needed)" if error in (
            "invalid_auth", "not_allowed_token_type", "missing_scope", "not_authed") else ""
        return Check(name, False, redact(f"apps.connections.open failed: {error or 'unknown error'}{hint}"))
    except Exception as exc:  # network errors from the SDK (urllib): one line, no traceback
        return Check(name, False, redact(f"apps.connections.open failed: {type(exc).__name__}"))
    if not answer.get("ok") or not answer.get("url"):
        return Check(name, False, "apps.connections.open gave no WebSocket URL")
    return Check(name, True, "Socket Mode can connect (apps.connections.open ok)")
