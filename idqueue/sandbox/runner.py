"""The sandbox: both emulators started on loopback, seeded, plus the settings that point at them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from idqueue.integrations.loopback import Clock
from idqueue.sandbox import seed as seed_mod
from idqueue.sandbox.base import SandboxServers, Server, start_all
from idqueue.sandbox.github_emulator import GITHUB_TOKEN, GitHubEmulator, GitHubState
from idqueue.sandbox.slack_emulator import SLACK_APP_TOKEN, SLACK_TOKEN, SlackEmulator, SlackState


class Sandbox(SandboxServers):
    """Loopback GitHub + Slack emulators sharing one clock, optionally seeded with the month.

    Use :meth:`start` (or ``with Sandbox.start() as sb:``). ``clock`` is frozen when ``now`` was
    given (tests move it with ``sb.clock.advance(...)``) and follows the wall clock otherwise.
    """

    def __init__(self, github: GitHubEmulator, slack: SlackEmulator, clock: Clock,
                 summary: seed_mod.SeedSummary | None, now: datetime) -> None:
        self.github = github
        self.slack = slack
        self.clock = clock
        self.summary = summary
        """What the seed created (None when started with ``seed=False``)."""
        self.seeded_at = now
        """The reference instant of the seed."""

    @classmethod
    def start(cls, *, seed: bool = True, now: datetime | None = None, slack_profile: str = "internal") -> Sandbox:
        """Start both emulators on free loopback ports.

        Args:
            seed: fill them with the support month (otherwise only repos, channels and people).
            now: freeze the emulators' clock at this instant (default: follow the wall clock; the
                seed is then placed relative to the current minute).
            slack_profile: ``internal`` or ``non_marketplace`` (1 history/replies call a minute,
                at most 15 items a page).
        """
        clock = Clock(now)
        ref = (now.astimezone(UTC) if now is not None else seed_mod.default_now())
        gh_state = GitHubState(now=clock, web_url=seed_mod.WEB_URL)
        slack_state = SlackState(now=clock, workspace_url=seed_mod.WORKSPACE_URL)
        summary = None
        if seed:
            summary = seed_mod.seed_month(gh_state, slack_state, ref)
        else:
            seed_mod.seed_directory(gh_state, slack_state)
        github = GitHubEmulator(gh_state, now=clock)
        slack = SlackEmulator(slack_state, now=clock, profile=slack_profile)
        start_all(github, slack)
        return cls(github, slack, clock, summary, ref)

    def servers(self) -> tuple[Server, ...]:
        """The GitHub and Slack emulators."""
        return (self.github, self.slack)

    # -- configuration handed to idqueue ------------------------------------------------------

    @staticmethod
    def team() -> dict[str, dict[str, str]]:
        """The roster as ``Settings(team=...)`` wants it."""
        return {m.key: {"name": m.name, "github": m.github, "slack": m.slack, "email": m.email}
                for m in seed_mod.ROSTER}

    def rota(self) -> dict[str, Any]:
        """A weekly rota that puts ``me`` on triage in the seed's current week."""
        return identity_rota(self.seeded_at)

    def settings_overrides(self) -> dict[str, Any]:
        """Keyword arguments for ``idqueue.config.Settings(...)`` pointing at the emulators."""
        return {
            "github": {
                "token": GITHUB_TOKEN,
                "base_url": self.github.url,
                "repos": [seed_mod.SUPPORT_REPO],
                "label": seed_mod.LABEL,
                "backlog_repo": seed_mod.BACKLOG_REPO,
                "backlog_label": seed_mod.BACKLOG_LABEL,
                "web_url": seed_mod.WEB_URL,
                "bot_logins": ["github-actions[bot]", seed_mod.GITHUB_BOT],
            },
            "slack": identity_slack(self.slack.url),
            **identity_people(self.team(), self.rota()),
        }

    def env(self) -> dict[str, str]:
        """``IDQUEUE_*`` variables that point a second shell at these emulators."""
        return {
            "IDQUEUE_GITHUB_BASE_URL": self.github.url,
            "IDQUEUE_GITHUB_TOKEN": GITHUB_TOKEN,
            "IDQUEUE_GITHUB_REPOS": seed_mod.SUPPORT_REPO,
            "IDQUEUE_GITHUB_LABEL": seed_mod.LABEL,
            "IDQUEUE_GITHUB__BACKLOG_REPO": seed_mod.BACKLOG_REPO,
            "IDQUEUE_GITHUB__WEB_URL": seed_mod.WEB_URL,
            **identity_env(self.slack.url, self.team(), self.rota(), self.clock),
        }

    def survey_csv(self) -> str:
        """The seeded survey export (CSV) for this sandbox's closed requests."""
        return seed_mod.survey_csv(self.summary, self.seeded_at)


# -- what the identity team's sandboxes share (GitHub + Slack here, Jira + Slack after the move) --

def identity_rota(seeded_at: datetime) -> dict[str, Any]:
    """A weekly rota that puts ``me`` on triage in the seed's current week."""
    monday = seed_mod.monday_of(seeded_at.astimezone(seed_mod.TEAM_TZ).date())
    return {"weekly": [m.key for m in seed_mod.ROSTER], "start": monday.isoformat()}


def identity_slack(slack_url: str) -> dict[str, Any]:
    """The ``slack`` settings of the identity team's channels on the Slack emulator."""
    return {
        "token": SLACK_TOKEN,
        # Socket Mode: events from the emulator trigger early polls (``Poller``).
        "app_token": SLACK_APP_TOKEN,
        "base_url": slack_url,
        "channels": [seed_mod.CHANNEL, seed_mod.SUPPORT_CHANNEL],
        "intake_bot_ids": [seed_mod.INTAKE_BOT_ID, seed_mod.INTAKE_BOT_USER],
        "workspace_url": seed_mod.WORKSPACE_URL,
        # The seeded month spans ~35 days: read all of it on the first sync.
        "history_days": 40,
    }


def identity_people(team: dict[str, dict[str, str]], rota: dict[str, Any]) -> dict[str, Any]:
    """The roster, rota, ``me``, team name, sandbox flag and survey of the identity team."""
    return {"team": team, "rota": rota, "me": seed_mod.ME, "team_name": "Identity", "sandbox": True,
            "survey": {"url": seed_mod.SURVEY_URL}}


def identity_env(slack_url: str, team: dict[str, dict[str, str]], rota: dict[str, Any],
                 clock: Clock) -> dict[str, str]:
    """The ``IDQUEUE_*`` variables of :func:`identity_slack` and :func:`identity_people` (and
    the frozen clock's ``IDQUEUE_NOW``)."""
    out = {
        "IDQUEUE_SLACK_BASE_URL": slack_url,
        "IDQUEUE_SLACK_TOKEN": SLACK_TOKEN,
        "IDQUEUE_SLACK__APP_TOKEN": SLACK_APP_TOKEN,
        "IDQUEUE_SLACK_CHANNELS": f"{seed_mod.CHANNEL},{seed_mod.SUPPORT_CHANNEL}",
        "IDQUEUE_SLACK__INTAKE_BOT_IDS": json.dumps([seed_mod.INTAKE_BOT_ID, seed_mod.INTAKE_BOT_USER]),
        "IDQUEUE_SLACK__WORKSPACE_URL": seed_mod.WORKSPACE_URL,
        "IDQUEUE_SLACK__HISTORY_DAYS": "40",
        "IDQUEUE_TEAM": json.dumps(team),
        "IDQUEUE_ROTA": json.dumps(rota),
        "IDQUEUE_ME": seed_mod.ME,
        "IDQUEUE_SANDBOX": "true",
        "IDQUEUE_SURVEY__URL": seed_mod.SURVEY_URL,
    }
    if clock.frozen:
        out["IDQUEUE_NOW"] = clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    return out
