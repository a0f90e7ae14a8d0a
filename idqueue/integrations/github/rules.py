"""What counts as a GitHub request: issues, never pull requests (they share the issues list)."""

from __future__ import annotations

from typing import Any


def is_pull_request(raw: dict[str, Any]) -> bool:
    """GitHub lists pull requests as issues; they carry a ``pull_request`` key."""
    return raw.get("pull_request") is not None


def comment_on_pull_request(raw: dict[str, Any]) -> bool:
    """True when a comment's web URL points at a pull request."""
    return "/pull/" in str(raw.get("html_url") or "")
