"""The ``identity-jira`` sandbox: the identity team after its move to Jira.

The Jira emulator holds the support month carried over issue by issue
(:func:`~idqueue.sandbox.jira_seed.seed_identity_jira`), the Slack emulator the same channels as
the identity sandbox; the roster maps everyone to a Jira account, and Slack-only requests moved
to the backlog become issues in the backlog project. Same interface as
:class:`~idqueue.sandbox.runner.Sandbox` (``start``, ``settings_overrides``, ``env``, ``stop``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from idqueue.integrations.jira.emulator import JIRA_EMAIL, JIRA_TOKEN, JiraEmulator, JiraState
from idqueue.integrations.loopback import Clock
from idqueue.sandbox import seed as seed_mod
from idqueue.sandbox.base import SandboxServers, Server, start_all
from idqueue.sandbox.github_emulator import GitHubState
from idqueue.sandbox.jira_seed import (
    BACKLOG_PROJECT,
    PROJECT,
    JiraSeed,
    account_of,
    seed_identity_jira,
)
from idqueue.sandbox.runner import identity_env, identity_people, identity_rota, identity_slack
from idqueue.sandbox.slack_emulator import SlackEmulator, SlackState

__all__ = ["IdentityJiraSandbox"]

JIRA_SITE = "https://identity.atlassian.net"
"""The site the sandbox's links and request ids name (the API itself is the loopback emulator)."""


def _directory(jira: JiraState, slack: SlackState) -> None:
    """The channels, people and projects without the month (``seed=False``)."""
    seed_mod.seed_directory(GitHubState(now=jira.now), slack)
    with jira.lock:
        jira.add_project(PROJECT, "Identity support")
        jira.add_project(BACKLOG_PROJECT, "Identity backlog", service_desk=False)
        for member in seed_mod.ROSTER:
            jira.user(account_of(member.github), member.name, email=member.email, time_zone="America/New_York")
        for req in seed_mod.REQUESTERS:
            jira.user(account_of(req.github), req.name, email=req.email, account_type="customer")


class IdentityJiraSandbox(SandboxServers):
    """Loopback Jira + Slack emulators sharing one clock, seeded with the identity month.

    Attributes:
        jira, slack: the running emulators.
        clock: their clock (frozen when ``now`` was given).
        seeded: what the seed created (which Jira issue is which GitHub issue of the identity
            sandbox); None when started with ``seed=False``.
        summary: the month's summary (None without a seed).
        seeded_at: the seed's reference instant.
    """

    def __init__(self, jira: JiraEmulator, slack: SlackEmulator, clock: Clock, seeded: JiraSeed | None,
                 now: datetime) -> None:
        self.jira = jira
        self.slack = slack
        self.clock = clock
        self.seeded = seeded
        self.summary = seeded.month if seeded is not None else None
        self.seeded_at = now

    @classmethod
    def start(cls, *, seed: bool = True, now: datetime | None = None,
              slack_profile: str = "internal") -> IdentityJiraSandbox:
        """Start both emulators on free loopback ports (see :meth:`Sandbox.start`)."""
        clock = Clock(now)
        ref = now.astimezone(UTC) if now is not None else seed_mod.default_now()
        jira_state = JiraState(now=clock)
        slack_state = SlackState(now=clock, workspace_url=seed_mod.WORKSPACE_URL)
        seeded = seed_identity_jira(jira_state, slack_state, ref) if seed else None
        if not seed:
            _directory(jira_state, slack_state)
        jira = JiraEmulator(jira_state, now=clock)
        slack = SlackEmulator(slack_state, now=clock, profile=slack_profile)
        start_all(jira, slack)
        return cls(jira, slack, clock, seeded, ref)

    def servers(self) -> tuple[Server, ...]:
        """The Jira and Slack emulators."""
        return (self.jira, self.slack)

    # -- configuration handed to idqueue ------------------------------------------------------

    @staticmethod
    def team() -> dict[str, dict[str, str]]:
        """The roster, each member with their Jira account id."""
        return {m.key: {"name": m.name, "slack": m.slack, "email": m.email, "jira": account_of(m.github)}
                for m in seed_mod.ROSTER}

    def rota(self) -> dict[str, Any]:
        """A weekly rota that puts ``me`` on triage in the seed's current week."""
        return identity_rota(self.seeded_at)

    def settings_overrides(self) -> dict[str, Any]:
        """Keyword arguments for ``idqueue.config.Settings(...)`` pointing at the emulators."""
        return {
            "jira": {"base_url": self.jira.origin, "web_url": JIRA_SITE, "email": JIRA_EMAIL,
                     "api_token": JIRA_TOKEN,
                     "project": PROJECT, "backlog_project": BACKLOG_PROJECT,
                     "bot_accounts": [account_of(seed_mod.GITHUB_BOT)]},
            # No GitHub token: GitHub is not read. Old Slack threads still link the team's former
            # GitHub backlog issues, which keep meaning "moved to the backlog".
            "github": {"backlog_repo": seed_mod.BACKLOG_REPO, "web_url": seed_mod.WEB_URL},
            "slack": identity_slack(self.slack.url),
            "backlog": {"destination": "jira"},
            **identity_people(self.team(), self.rota()),
        }

    def env(self) -> dict[str, str]:
        """``IDQUEUE_*`` variables that point a second shell at these emulators."""
        return {
            "IDQUEUE_JIRA__BASE_URL": self.jira.origin,
            "IDQUEUE_JIRA__WEB_URL": JIRA_SITE,
            "IDQUEUE_JIRA__EMAIL": JIRA_EMAIL,
            "IDQUEUE_JIRA__API_TOKEN": JIRA_TOKEN,
            "IDQUEUE_JIRA__PROJECT": PROJECT,
            "IDQUEUE_JIRA__BACKLOG_PROJECT": BACKLOG_PROJECT,
            "IDQUEUE_JIRA__BOT_ACCOUNTS": account_of(seed_mod.GITHUB_BOT),
            "IDQUEUE_BACKLOG__DESTINATION": "jira",
            "IDQUEUE_GITHUB__BACKLOG_REPO": seed_mod.BACKLOG_REPO,
            "IDQUEUE_GITHUB__WEB_URL": seed_mod.WEB_URL,
            **identity_env(self.slack.url, self.team(), self.rota(), self.clock),
        }

    def survey_csv(self) -> str:
        """The seeded survey export (CSV) for this sandbox's closed requests."""
        return seed_mod.survey_csv(self.summary, self.seeded_at)
