"""A write-back test environment: the loopback emulators, a temp store, the real sources and writers.

Used by ``tests/unit/test_outbox_*.py`` and ``tests/integration/test_writeback_*.py``. Requests are
created in the emulators and brought into the store by the *real* read sources (so every test
also checks that what idqueue writes reads back the way the rest of the app expects).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from pydantic import SecretStr

from idqueue.cli import Context, cli
from idqueue.config import Settings
from idqueue.domain.models import github_id, slack_id
from idqueue.integrations.github.writer import GitHubWriter
from idqueue.integrations.loopback import Call
from idqueue.integrations.slack.writer import SlackWriter
from idqueue.outbox.dispatcher import Dispatcher, DispatchReport
from idqueue.outbox.service import Actions
from idqueue.sandbox import seed as seed_mod
from idqueue.sandbox.runner import Sandbox
from idqueue.store.db import Store, open_store

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
REPO = seed_mod.SUPPORT_REPO
BACKLOG_REPO = seed_mod.BACKLOG_REPO
CHANNEL = seed_mod.CHANNEL
REQUESTER = seed_mod.REQUESTERS[0]  # Marcus Lee, marcus-lee-va, U0REQ01
ANA = seed_mod.ROSTER[0]  # me: ana-reyes / U0ANA
BEN = seed_mod.ROSTER[1]


def settings_for(sb: Sandbox, db: Path, **overrides: Any) -> Settings:
    """Settings pointing at the sandbox, with a temp database and the frozen clock."""
    data = sb.settings_overrides()
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    data.setdefault("now", NOW.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return Settings(db=db, **data)


@dataclass
class WritebackEnv:
    """One sandbox + one store + helpers."""

    sb: Sandbox
    settings: Settings
    store: Store
    sleeps: list[float] = field(default_factory=list)

    # -- handy views ---------------------------------------------------------------------------
    @property
    def clock(self) -> Any:
        """The sandbox's frozen clock (shared by emulators, sources, actions and dispatcher)."""
        return self.sb.clock

    @property
    def gh(self) -> Any:
        return self.sb.github.state

    @property
    def slack(self) -> Any:
        return self.sb.slack.state

    def actions(self) -> Actions:
        return Actions(self.store, self.settings, clock=self.clock)

    def writers(self, *, timeout: float = 2.0) -> dict[str, Any]:
        return {
            "github": GitHubWriter(self.settings, clock=self.clock, timeout=timeout),
            "slack": SlackWriter(self.settings, clock=self.clock, timeout=timeout),
        }

    def dispatcher(self, *, store: Store | None = None, timeout: float = 2.0, **kwargs: Any) -> Dispatcher:
        kwargs.setdefault("sleep", self.sleeps.append)
        return Dispatcher(store or self.store, self.settings, writers=self.writers(timeout=timeout),
                          clock=self.clock, **kwargs)

    def drain(self, dispatcher: Dispatcher | None = None, *, rounds: int = 20) -> DispatchReport:
        """Run the dispatcher until nothing is due, moving the frozen clock to each retry time."""
        dispatcher = dispatcher or self.dispatcher()
        total = DispatchReport()
        for _ in range(rounds):
            report = dispatcher.run_once()
            total.merge(report)
            if report.next_due is None:
                break
            if report.next_due > self.clock():
                self.clock.set(report.next_due)
        return total

    def writes(self) -> list[Call]:
        """Every non-GET call to both emulators (Slack: the write methods), in order."""
        gh = [c for c in self.sb.github.calls.all() if c.method not in ("GET", "HEAD")]
        slack_writes = {"chat.postMessage", "chat.update", "chat.delete", "reactions.add", "reactions.remove"}
        sl = [c for c in self.sb.slack.calls.all() if c.path.rsplit("/", 1)[-1] in slack_writes]
        return gh + sl

    def clear_calls(self) -> None:
        self.sb.github.calls.clear()
        self.sb.slack.calls.clear()

    def posts(self, method: str = "chat.postMessage") -> list[Call]:
        return self.sb.slack.calls.api(method)

    # -- requests --------------------------------------------------------------------------------
    def sync(self) -> None:
        """Poll both sandbox sources into the store (real sources, frozen clock, no sleeping)."""
        from idqueue.integrations.github.source import GitHubSource
        from idqueue.integrations.slack.source import SlackSource
        from idqueue.sync import SyncEngine

        sources = [
            GitHubSource(self.settings, clock=self.clock, sleep=lambda _s: None),
            SlackSource(self.settings, clock=self.clock, sleep=lambda _s: None),
        ]
        report = SyncEngine(self.store, sources, self.settings, clock=self.clock).poll()  # type: ignore[arg-type]
        for source in sources:
            source.close()
        assert not report.errors, [str(e) for e in report.errors]

    def github_request(self, title: str = "Mock auth user cannot sign in", body: str = "It fails on staging.",
                       *, assignees: tuple[str, ...] = (), labels: tuple[str, ...] = (), sync: bool = True) -> str:
        issue = self.gh.add_issue(REPO, title, body, user=REQUESTER.github,
                                  labels=(seed_mod.LABEL, *labels), assignees=assignees)
        if sync:
            self.sync()
        return github_id(REPO, issue.number)

    def slack_request(self, text: str = "Can someone help me with a test user for staging?", *,
                      user: str = REQUESTER.slack, sync: bool = True) -> str:
        msg = self.slack.post(CHANNEL, user, text)
        self.slack.react(CHANNEL, msg.ts, self.settings.slack.intake_reaction, BEN.slack)
        if sync:
            self.sync()
        return slack_id(CHANNEL, msg.ts)

    def linked_request(self, title: str = "Data pull for sign-ins", *, sync: bool = True) -> tuple[str, str]:
        """A Slack request and a GitHub issue that link to each other (the ID Bot flow)."""
        msg = self.slack.post(CHANNEL, REQUESTER.slack, f"{title}\n*Type:* Data request")
        self.slack.react(CHANNEL, msg.ts, self.settings.slack.intake_reaction, BEN.slack)
        permalink = self.slack.permalink(CHANNEL, msg.ts)
        issue = self.gh.add_issue(REPO, title, f"From Slack: {permalink}", user=REQUESTER.github,
                                  labels=(seed_mod.LABEL,))
        if sync:
            self.sync()
        return github_id(REPO, issue.number), slack_id(CHANNEL, msg.ts)


def make_env(sb: Sandbox, tmp_path: Path, db_target: str | Path | None = None, **overrides: Any) -> WritebackEnv:
    """A fresh environment on a started sandbox (its store at ``db_target``: a SQLite file by
    default, or a ``postgresql://`` URL)."""
    settings = settings_for(sb, tmp_path / "idqueue.db", **overrides)
    if isinstance(db_target, str):
        settings = settings.model_copy(update={"database_url": SecretStr(db_target)})
    store = open_store(settings)
    return WritebackEnv(sb=sb, settings=settings, store=store)


def run_cli(env: WritebackEnv, *args: str) -> Result:
    """Run an ``idqueue`` command against the environment's settings and store."""
    ctx = Context()
    ctx.use_settings(env.settings)
    ctx._store = env.store
    return CliRunner().invoke(cli, list(args), obj=ctx, catch_exceptions=False)
