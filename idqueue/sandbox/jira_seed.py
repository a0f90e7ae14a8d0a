"""The identity team after its move to Jira: the seeded support month, in a Jira service project.

:func:`seed_identity_jira` seeds the same month as :func:`~idqueue.sandbox.seed.seed_month`
(same random seed, same ``now``) and carries every GitHub support request over to Jira issue by
issue, with its history in order: the issue's text (its Slack permalink included, so linked
Slack threads stay linked), requester, labels, comments, assignments, pending (status *Waiting
for customer*), backlog (status *Backlog*), closes (*Resolved*, resolution *Done* or *Won't Do*)
and reopens, at the same instants. The Slack side is seeded exactly as for the identity sandbox.
So the two sandboxes hold the same requests, and :attr:`JiraSeed.issue_of` names which Jira issue
is which GitHub issue (for comparing what idqueue makes of each).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from idqueue.domain.models import github_id
from idqueue.integrations.jira.adf import from_text
from idqueue.integrations.jira.emulator import JiraState
from idqueue.sandbox.github_emulator import GhIssue, GitHubState
from idqueue.sandbox.seed import (
    BACKLOG_LABEL,
    GITHUB_BOT,
    LABEL,
    PENDING_LABEL,
    REQUESTERS,
    ROSTER,
    SUPPORT_REPO,
    SeedSummary,
    seed_month,
)
from idqueue.sandbox.slack_emulator import SlackState

PROJECT = "ID"
BACKLOG_PROJECT = "IDB"
PRIORITIES = {"priority:P1": "Highest", "priority:P2": "High", "priority:P3": "Medium", "priority:P4": "Low"}
STATUS_OPEN, STATUS_WORKING = "Open", "In Progress"
STATUS_PENDING, STATUS_BACKLOG, STATUS_DONE = "Waiting for customer", "Backlog", "Resolved"


def account_of(login: str) -> str:
    """The Jira account id of a seeded GitHub login (roster ``acc-<key>``, others ``cust-<login>``)."""
    member = next((m for m in ROSTER if m.github == login), None)
    if member is not None:
        return f"acc-{member.key}"
    return "app-id-bot" if login == GITHUB_BOT else f"cust-{login}"


@dataclass
class JiraSeed:
    """What :func:`seed_identity_jira` created."""

    month: SeedSummary
    issue_of: dict[str, str] = field(default_factory=dict)
    """GitHub item id (``gh:…#N``) → Jira issue key."""


def seed_identity_jira(jira: JiraState, slack: SlackState, now: datetime | None = None) -> JiraSeed:
    """Seed the Jira and Slack states with the identity month (see the module docstring)."""
    gh = GitHubState(now=jira.now)
    month = seed_month(gh, slack, now)
    with jira.lock:
        jira.add_project(PROJECT, "Identity support")
        jira.add_project(BACKLOG_PROJECT, "Identity backlog", service_desk=False)
        for member in ROSTER:
            jira.user(account_of(member.github), member.name, email=member.email, time_zone="America/New_York")
        for req in REQUESTERS:
            jira.user(account_of(req.github), req.name, email=req.email, account_type="customer")
        jira.user(account_of(GITHUB_BOT), "ID Bot", account_type="app")
        seed = JiraSeed(month)
        repo = gh.repo(SUPPORT_REPO)
        for number in sorted(repo.issues):
            issue = repo.issues[number]
            if issue.pull_request or LABEL not in issue.labels:
                continue
            seed.issue_of[github_id(SUPPORT_REPO, number)] = _carry(jira, gh, issue)
    return seed


def _carry(jira: JiraState, gh: GitHubState, issue: GhIssue) -> str:
    """Create one Jira issue for a GitHub issue and replay its history; returns its key."""
    repo = gh.repo(issue.repo)
    labels = [x.replace(" ", "-") for x in issue.labels if x not in (LABEL, PENDING_LABEL, BACKLOG_LABEL)
              and x not in PRIORITIES]
    priority = next((PRIORITIES[x] for x in issue.labels if x in PRIORITIES), "Medium")
    created = jira.add_issue(PROJECT, issue.title, description=from_text(issue.body or ""),
                             reporter=account_of(issue.user), at=issue.created_at, priority=priority,
                             labels=labels, status=STATUS_OPEN)
    key = created.key
    steps: list[tuple[datetime, int, Any]] = []
    steps.extend((c.created_at, c.id, c) for c in repo.comments if c.issue_number == issue.number)
    steps.extend((e.created_at, e.id, e) for e in repo.events if e.issue_number == issue.number)
    for at, _, step in sorted(steps, key=lambda s: (s[0], s[1])):
        if hasattr(step, "body"):
            jira.add_comment(key, from_text(step.body), author=account_of(step.user), at=at)
            continue
        _event(jira, key, step.event, step, at)
    return key


def _event(jira: JiraState, key: str, event: str, step: Any, at: datetime) -> None:
    actor = account_of(step.actor)
    current = jira.issue(key)
    if event == "assigned" and step.assignee:
        jira.set_assignee(key, account_of(step.assignee), actor=actor, at=at)
        if current.status == STATUS_OPEN:
            jira.set_status(key, STATUS_WORKING, actor=actor, at=at)
    elif event == "unassigned" and step.assignee and current.assignee == account_of(step.assignee):
        jira.set_assignee(key, None, actor=actor, at=at)
    elif event == "labeled" and step.label == PENDING_LABEL:
        jira.set_status(key, STATUS_PENDING, actor=actor, at=at)
    elif event == "unlabeled" and step.label == PENDING_LABEL and current.status == STATUS_PENDING:
        jira.set_status(key, STATUS_WORKING if current.assignee else STATUS_OPEN, actor=actor, at=at)
    elif event == "labeled" and step.label == BACKLOG_LABEL:
        jira.set_status(key, STATUS_BACKLOG, actor=actor, at=at)
    elif event == "closed":
        jira.set_status(key, STATUS_DONE, actor=actor, at=at,
                        resolution="Won't Do" if step.state_reason == "not_planned" else "Done")
    elif event == "reopened":
        jira.set_status(key, STATUS_WORKING if current.assignee else STATUS_OPEN, actor=actor, at=at)
    elif event == "labeled" and step.label in PRIORITIES:
        jira.set_fields(key, priority=PRIORITIES[step.label], actor=actor, at=at)
    elif event in ("labeled", "unlabeled") and step.label and step.label not in (LABEL, PENDING_LABEL, BACKLOG_LABEL):
        name = step.label.replace(" ", "-")
        labels = [x for x in current.labels if x != name] + ([name] if event == "labeled" else [])
        jira.set_fields(key, labels=labels, actor=actor, at=at)
