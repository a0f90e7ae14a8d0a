"""GitHub as a backlog destination: a new issue in the backlog repository."""

from __future__ import annotations

import re
from datetime import datetime

from idqueue.config import Settings
from idqueue.domain.actions import ActionKind
from idqueue.domain.models import Request
from idqueue.integrations.backlog import BacklogDestination
from idqueue.integrations.planning import ActionError, Step

__all__ = ["GitHubBacklog", "github_safe"]

# @login or @org/team: GitHub would notify them. The look-behind keeps e-mail addresses out.
_GH_MENTION_RE = re.compile(r"(?<![\w@`/.])@([A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38})(/[\w.-]+)?")
_LINE_BREAKS = re.compile(r"[\r\n]+")


def github_safe(text: str, *, inline: bool = False) -> str:
    """Make untrusted text (a Slack message, a field value) harmless in a GitHub issue body.

    * ``@name`` is wrapped in backticks, so copying a Slack message does not notify GitHub users;
    * ``<`` becomes ``&lt;`` (shown as ``<``), so the text cannot open HTML or a hidden
      ``<!-- … -->`` comment (which could forge idqueue's marker);
    * with ``inline``, line breaks become spaces (a field value stays on its line).
    """
    text = _GH_MENTION_RE.sub(lambda m: f"`{m.group(0)}`", text.replace("<", "&lt;"))
    if inline:
        text = _LINE_BREAKS.sub(" ", text).strip()
    return text


def _quote(text: str) -> str:
    lines = github_safe(text).strip("\n").split("\n") or [""]
    return "\n".join(f"> {line}".rstrip() for line in lines)


class GitHubBacklog(BacklogDestination):
    """A new issue in the backlog repository (``github.backlog_repo``, else the first repo).

    The issue has the backlog label, the request's title, its parsed intake fields, the original
    text quoted, and a link back to the request's thread.
    """

    target = "github"
    noun = "the backlog issue"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.repo = settings.github.backlog_repo or (settings.github.repos[0] if settings.github.repos else None)

    def describe(self) -> str:
        """The repository, e.g. ``va-identity/backlog on GitHub``."""
        return f"{self.repo or '(no repo)'} on GitHub"

    def plan(self, request: Request, *, actor: str | None, now: datetime) -> Step:
        """A ``create_issue`` step for the backlog repository."""
        if not self.repo:
            raise ActionError("no backlog repository: set github.backlog_repo (or github.repos) in the config")
        title = " ".join((request.title or "Slack request").split())[:240] or "Slack request"
        body = self.body(request, actor=actor, now=now)
        labels = [self.settings.github.backlog_label] if self.settings.github.backlog_label else []
        return Step(
            kind=ActionKind.CREATE_ISSUE,
            target=self.target,
            summary=f"create an issue in {self.repo} for the backlog: {title[:60]}",
            text=body,
            params={"repo": self.repo, "title": title, "labels": labels, "actor": actor},
        )

    def body(self, request: Request, *, actor: str | None, now: datetime) -> str:
        """The issue body (Markdown); untrusted parts are made harmless (:func:`github_safe`)."""
        who = self.settings.team[actor].name if actor and actor in self.settings.team else "the triage rotation"
        link = request.links.get("slack") or request.url
        lines = [f"Moved to the backlog from Slack by {github_safe(who, inline=True)} on {now.date().isoformat()}.", ""]
        if link:
            lines += [f"**Slack thread:** {github_safe(link, inline=True)}", ""]
        if request.requester is not None:
            lines.append(f"**Requested by:** {github_safe(request.requester.name, inline=True)}")
        lines.append(f"**Type:** {github_safe(request.type, inline=True)}")
        lines.append(f"**Priority:** {request.priority}")
        for key, value in request.fields.items():
            if not value:
                continue
            label = key.replace("_", " ").capitalize()
            lines.append(f"**{github_safe(label, inline=True)}:** {github_safe(str(value), inline=True)[:500]}")
        lines += ["", "Original request:", "", _quote(request.body or request.title or "")]
        return "\n".join(lines) + "\n"
