"""``idqueue doctor``'s GitHub check for write-back: the backlog repo (``github.backlog_repo``)
exists for the token and the token can write issues there (backlogging a Slack-only request
creates one). Returns a :class:`~idqueue.integrations.base.Check`; nothing raises and no secret
reaches the message. :func:`scope_lines` reads the token's scopes from the reader's check facts.
"""

from __future__ import annotations

from typing import Any

import httpx

from idqueue.config import Settings
from idqueue.integrations.base import Check
from idqueue.integrations.github.api import request_headers
from idqueue.safety import redact


def check_backlog_repo(settings: Settings, *, timeout: float = 15.0) -> Check | None:
    """Whether the backlog repo exists and the token can write issues there (None: no GitHub)."""
    gh = settings.github
    repo = gh.backlog_repo or (gh.repos[0] if gh.repos else None)
    if gh.token is None or repo is None:
        return None
    name = "backlog repo"
    url = f"{gh.base_url.rstrip('/')}/repos/{repo}"
    headers = request_headers(gh.token.get_secret_value())
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


def doctor_checks(settings: Settings, *, skip: bool = False) -> list[Check]:
    """GitHub's doctor checks beyond the reader's: the backlog repo (skipped when the token
    already failed, ``skip``: it would only say the same thing again)."""
    check = None if skip else check_backlog_repo(settings)
    return [check] if check is not None else []


GITHUB_WRITES = "replies, assignment, labels, priority, close and backlog on GitHub"


def scope_lines(facts: dict[str, Any]) -> list[str]:
    """Doctor lines about the GitHub token's scopes; a line starting "missing" is a problem.

    Classic tokens list their scopes (``X-OAuth-Scopes``): ``repo`` covers everything,
    ``public_repo`` covers public repositories. Fine-grained tokens list none, so what they can
    do shows only in the real calls the check made (each repository's issues were read).
    """
    scopes = facts.get("scopes")
    repos: dict[str, Any] = facts.get("repos") or {}
    if scopes is None:
        lines = ["scope check fine-grained token: issues readable in " + (", ".join(repos) or "no repository")]
        for repo, info in repos.items():
            if not info.get("can_write"):
                lines.append(f"missing    write access to {repo} — disables {GITHUB_WRITES}")
        return lines
    have = set(scopes)
    if "repo" in have:
        return ["scope check repo: every feature available"]
    private = [repo for repo, info in repos.items() if info.get("private")]
    if "public_repo" in have and not private:
        return ["scope check public_repo: every feature available for these public repositories"]
    shown = ", ".join(sorted(have)) or "none"
    return [f"missing    scope repo (or public_repo for public repositories; token has: {shown}) — "
            f"disables {GITHUB_WRITES}"]
