"""The consultancy sandbox: a support mailbox (loopback IMAP + SMTP), the customers' Trello
boards (the loopback Trello emulator) and the team's Slack workspace, whose #support channel
gets a message for each new request (``[notify]``), seeded with a support fortnight.

``idqueue demo --team consultancy`` opens the TUI on it; ``idqueue sandbox --team consultancy``
prints the variables that point a second shell at it. The customers are the mail seed's (their
mail domains decide whose board a request's backlog card goes to); one request was already
backlogged to its customer's board and moved to "Up next" by the team.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from idqueue.integrations.email import seed as mail_seed
from idqueue.integrations.email.convert import item_id, mid_url
from idqueue.integrations.email.emulator import MailServers
from idqueue.integrations.loopback import Clock
from idqueue.integrations.trello.emulator import (
    TRELLO_KEY,
    TRELLO_TOKEN,
    TBoard,
    TrelloEmulator,
    TrelloState,
)
from idqueue.integrations.trello.seed import Backlogged, SeedCustomer, customers_config, seed_boards
from idqueue.sandbox.base import SandboxServers, Server, start_all
from idqueue.sandbox.slack_emulator import SLACK_TOKEN, SlackEmulator, SlackState

__all__ = ["CUSTOMERS", "ConsultancySandbox"]

ME = "nick"
TEAM_NAME = "Made Tech"
SURVEY_URL = "https://survey.madetech.example/support"
CUSTOMERS: tuple[SeedCustomer, ...] = tuple(
    SeedCustomer(key, name, (domain,), f"{name} — Support",
                 *((("Inbox", "Up next", "Recently Completed"), "Inbox") if key == "initech" else ()))
    for key, (name, domain) in mail_seed.CUSTOMERS.items()
)
"""The mail seed's customers, each with a board (Initech's backlog list is called "Inbox")."""
SUPPORT_CHANNEL = "C0SUPPORT"
"""The team's #support channel: new requests, and ones at risk or breached, are announced there."""
WORKSPACE_URL = "https://madetech-sandbox.slack.com/"
SLACK_IDS = {"nick": "U0NICK", "luke": "U0LUKE", "chris": "U0CHRIS", "rory": "U0RORY"}
"""The triage team's Slack user ids (the roster's ``slack`` field)."""
WELSH = "html-1@" + mail_seed.CUSTOMERS["globex"][1]
"""The Message-ID of the request the team already backlogged (Globex's Welsh translation)."""


def _backlogged(now: datetime) -> list[Backlogged]:
    """The requests already on a customer's board (the mail seed's request ids)."""
    at = now - timedelta(days=13) + timedelta(hours=110)
    return [Backlogged(request_id=item_id(WELSH), action_id="seed-backlog-1",
                       title="Patient portal: add Welsh translation", customer="globex", at=at,
                       moves=(("Up next", 30.0),), links={"email": mid_url(WELSH)})]


class ConsultancySandbox(SandboxServers):
    """The mail servers and the Trello emulator sharing one clock (see the module docstring).

    Use :meth:`start` (or ``with ConsultancySandbox.start() as sb:``).
    """

    def __init__(self, mail: MailServers, trello: TrelloEmulator, boards: dict[str, TBoard], clock: Clock,
                 now: datetime, slack: SlackEmulator) -> None:
        self.mail = mail
        self.trello = trello
        self.slack = slack
        self.boards = boards
        self.clock = clock
        self.seeded_at = now
        """The reference instant of the seed."""

    @classmethod
    def start(cls, *, seed: bool = True, now: datetime | None = None,
              slack_profile: str = "internal") -> ConsultancySandbox:
        """Start the servers on free loopback ports.

        Args:
            seed: fill the mailbox and the boards with the fortnight (otherwise empty boards).
            now: freeze the clock at this instant (default: follow the wall clock; the seed is
                placed relative to the current minute).
        """
        clock = Clock(now)
        ref = now.astimezone(UTC) if now is not None else datetime.now(UTC).replace(second=0, microsecond=0)
        mail = MailServers(address=mail_seed.SUPPORT, now=clock)
        state = TrelloState(now=clock)
        if seed:
            mail_seed.seed_mailbox(mail.store, ref, inbox=mail.mailbox, sent=mail.sent_mailbox)
            boards = seed_boards(state, now=ref, backlogged=_backlogged(ref), customers=CUSTOMERS)
        else:
            boards = seed_boards(state, now=ref, customers=CUSTOMERS)
        trello = TrelloEmulator(state)
        slack = SlackEmulator(_workspace(clock), now=clock, profile=slack_profile)
        start_all(mail, trello, slack)
        return cls(mail, trello, boards, clock, ref, slack)

    def servers(self) -> tuple[Server, ...]:
        """The mail servers (IMAP + SMTP), the Trello emulator and the Slack emulator."""
        return (self.mail, self.trello, self.slack)

    def support_messages(self) -> list[str]:
        """The texts posted in #support so far, oldest first (thread replies included)."""
        channel = self.slack.state.channels[SUPPORT_CHANNEL]
        return [m.text for m in sorted(channel.messages.values(), key=lambda m: m.ts)]

    # -- configuration handed to idqueue ------------------------------------------------------

    @staticmethod
    def team() -> dict[str, dict[str, str]]:
        """The roster as ``Settings(team=...)`` wants it."""
        return {key: {"name": name, "email": address, "slack": SLACK_IDS[key]}
                for key, (name, address) in mail_seed.ROSTER.items()}

    def customers(self) -> dict[str, dict[str, Any]]:
        """The customers with their boards."""
        return customers_config(self.boards, CUSTOMERS)

    def settings_overrides(self) -> dict[str, Any]:
        """Keyword arguments for ``idqueue.config.Settings(...)`` pointing at the servers."""
        return {
            "email": self.mail.settings_overrides(history_days=30, display_name=f"{TEAM_NAME} Support"),
            "trello": {"base_url": self.trello.url, "key": TRELLO_KEY, "token": TRELLO_TOKEN},
            "customers": self.customers(),
            "github": {},
            # Slack only for the #support pings: no intake channels, so it is not a source.
            "slack": {"token": SLACK_TOKEN, "base_url": self.slack.url, "workspace_url": WORKSPACE_URL},
            "notify": {"channel": SUPPORT_CHANNEL},
            "team": self.team(),
            "me": ME,
            "team_name": TEAM_NAME,
            "survey": {"url": SURVEY_URL},
            "sandbox": True,
        }

    def env(self) -> dict[str, str]:
        """``IDQUEUE_*`` variables that point a second shell at these servers."""
        out = {
            **self.mail.env(),
            "IDQUEUE_EMAIL__HISTORY_DAYS": "30",
            "IDQUEUE_EMAIL__DISPLAY_NAME": f"{TEAM_NAME} Support",
            "IDQUEUE_TRELLO__BASE_URL": self.trello.url,
            "IDQUEUE_TRELLO__KEY": TRELLO_KEY,
            "IDQUEUE_TRELLO__TOKEN": TRELLO_TOKEN,
            "IDQUEUE_SLACK__TOKEN": SLACK_TOKEN,
            "IDQUEUE_SLACK__BASE_URL": self.slack.url,
            "IDQUEUE_SLACK__WORKSPACE_URL": WORKSPACE_URL,
            "IDQUEUE_NOTIFY__CHANNEL": SUPPORT_CHANNEL,
            "IDQUEUE_CUSTOMERS": json.dumps(self.customers()),
            "IDQUEUE_TEAM": json.dumps(self.team()),
            "IDQUEUE_ME": ME,
            "IDQUEUE_TEAM_NAME": TEAM_NAME,
            "IDQUEUE_SURVEY__URL": SURVEY_URL,
            "IDQUEUE_SANDBOX": "true",
        }
        if self.clock.frozen:
            out["IDQUEUE_NOW"] = self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
        return out


def _workspace(clock: Clock) -> SlackState:
    """The team's Slack: the four of them and idqueue's bot in #support (no messages yet)."""
    state = SlackState(now=clock, workspace_url=WORKSPACE_URL)
    state.add_channel(SUPPORT_CHANNEL, "support", purpose="New support requests and SLA warnings")
    for key, (name, address) in mail_seed.ROSTER.items():
        state.add_user(SLACK_IDS[key], key, name, email=address)
    state.join(SUPPORT_CHANNEL, *SLACK_IDS.values())
    return state
