"""The team service in-process over a shared PostgreSQL store, for the team-mode client tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import SecretStr

from idqueue.config import Settings
from idqueue.sandbox.runner import Sandbox
from idqueue.service.leader import leadership_for
from idqueue.service.runner import ServiceRunner
from idqueue.store.db import open_store


def service_settings(sb: Sandbox, tmp_path: Path, url: str) -> Settings:
    """The team service's settings: the sandbox's tokens and the shared database."""
    return Settings(db=tmp_path / "unused.db", database_url=SecretStr(url), now=sb.clock().isoformat(),
                    **sb.settings_overrides())


def running_services() -> Iterator[Callable[[Settings], ServiceRunner]]:
    """The body of a ``start_service`` fixture: starts in-process services, stops them after."""
    made: list[ServiceRunner] = []

    def start(settings: Settings) -> ServiceRunner:
        runner = ServiceRunner(settings, open_store(settings), leadership_for(settings), interval=3600,
                               retry_every=0.1, check_every=0.1, outbox_every=0.1, throttle=0.0)
        made.append(runner)
        runner.start()
        return runner

    yield start
    for runner in made:
        runner.stop()
