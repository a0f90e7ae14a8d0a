"""Jira as a backlog destination: a new issue in the backlog project, linked back to the thread.

A request that cannot be backlogged in place (a Slack-only request) becomes one issue in
``jira.backlog_project`` (else ``jira.project``), of type ``jira.backlog_issue_type``, with the
request's title, its intake fields and its text quoted, and a remote link to the Slack thread
(the writer adds it; the thread gets the issue's link through the outbox's placeholder).
"""

from __future__ import annotations

import re
from datetime import datetime

from idqueue.config import Settings
from idqueue.domain.actions import ActionKind
from idqueue.domain.models import Request
from idqueue.integrations.backlog import BacklogDestination
from idqueue.integrations.planning import ActionError, Step

__all__ = ["JiraBacklog"]

QUOTE_LIMIT = 8000
"""How much of the request's text the issue quotes."""
_BREAKS = re.compile(r"[\r\n]+")


def _inline(text: str) -> str:
    return _BREAKS.sub(" ", text).strip()


class JiraBacklog(BacklogDestination):
    """A new issue in the Jira backlog project (see the module docstring)."""

    target = "jira"
    noun = "the backlog issue"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.project = settings.jira.backlog_project or settings.jira.project

    def describe(self) -> str:
        """The project, e.g. ``IDB on Jira``."""
        return f"{self.project or '(no project)'} on Jira"

    def plan(self, request: Request, *, actor: str | None, now: datetime) -> Step:
        """A ``create_issue`` step for the backlog project.

        Raises:
            ActionError: no backlog project (nor project) is configured.
        """
        if not self.project:
            raise ActionError("no Jira backlog project: set jira.backlog_project (IDQUEUE_JIRA__BACKLOG_PROJECT)")
        title = " ".join((request.title or "Slack request").split())[:240] or "Slack request"
        thread = request.links.get("slack") or request.url
        link = {"url": thread, "title": f"Slack thread: {title[:200]}"} if thread else {}
        return Step(
            kind=ActionKind.CREATE_ISSUE,
            target=self.target,
            summary=f"create an issue in {self.project} on Jira for the backlog: {title[:60]}",
            text=self.body(request, actor=actor, now=now),
            params={"project": self.project, "title": title, "link": link,
                    "issue_type": self.settings.jira.backlog_issue_type, "actor": actor},
        )

    def body(self, request: Request, *, actor: str | None, now: datetime) -> str:
        """The issue description (plain text; the writer makes it ADF with live links)."""
        who = self.settings.team[actor].name if actor and actor in self.settings.team else "the triage rotation"
        lines = [f"Moved to the backlog by {_inline(who)} on {now.date().isoformat()}.", ""]
        for system, url in request.links.items():
            lines.append(f"{system.capitalize()}: {_inline(url)}")
        if request.requester is not None:
            lines.append(f"Requested by: {_inline(request.requester.name)}")
        lines.append(f"Type: {_inline(request.type)}")
        lines.append(f"Priority: {request.priority}")
        for key, value in request.fields.items():
            if value:
                lines.append(f"{_inline(key.replace('_', ' ').capitalize())}: {_inline(str(value))[:500]}")
        original = (request.body or request.title or "").strip("\n")[:QUOTE_LIMIT]
        lines += ["", "Original request:", "", *(f"> {line}".rstrip() for line in original.split("\n"))]
        return "\n".join(lines) + "\n"
