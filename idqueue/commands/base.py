"""What every sub-command shares: the lazily built core objects (:class:`Context`), the
one-line error types, and option types. The sub-command modules import this, never
:mod:`idqueue.cli`, so the CLI can load them on demand without an import cycle.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import click

from idqueue.config import ConfigError, Settings, load_settings
from idqueue.safety import one_line, redact

if TYPE_CHECKING:
    from idqueue.store.db import Store


class CliError(click.ClickException):
    """A one-line error for the user (exit code 1)."""

    def show(self, file: Any = None) -> None:
        click.echo(f"idqueue: {one_line(redact(self.format_message()))}", err=True)


class CliSetupError(CliError):
    """A one-line error about the setup rather than the request (exit code 2, as config errors)."""

    exit_code = 2


@dataclass
class Context:
    """Lazily built core objects shared by the sub-commands."""

    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None
    _store: Store | None = None

    @property
    def settings(self) -> Settings:
        """The settings; a config error exits with code 2 and one line naming the key."""
        if self._settings is None:
            try:
                self._settings = load_settings(**self.overrides)
            except ConfigError as exc:
                fail_config(str(exc))
        return self._settings

    def use_settings(self, settings: Settings) -> None:
        """Replace the settings (the sandbox builds its own)."""
        self._settings = settings
        self._store = None

    @property
    def store(self) -> Store:
        """The store, opened (and migrated) on first use."""
        if self._store is None:
            from idqueue.store.db import NewerSchemaError, OlderSchemaError, StoreError, open_store

            try:
                self._store = open_store(self.settings)
            except (NewerSchemaError, OlderSchemaError) as exc:
                raise CliSetupError(str(exc)) from exc
            except StoreError as exc:
                raise CliError(str(exc)) from exc
        return self._store


FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2999, 12, 31)
"""Dates the CLI accepts: wide enough for any team's history and plans, narrow enough that a
week, a month or "the period before" around them stays inside Python's calendar."""


class Day(click.DateTime):
    """A ``YYYY-MM-DD`` option value between :data:`FIRST_DAY` and :data:`LAST_DAY`."""

    name = "date"

    def __init__(self) -> None:
        super().__init__(["%Y-%m-%d"])

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Parse the date and refuse one outside the supported range (a usage error)."""
        parsed = super().convert(value, param, ctx)
        if isinstance(parsed, datetime) and not FIRST_DAY <= parsed.date() <= LAST_DAY:
            self.fail(f"{parsed.date().isoformat()} is outside {FIRST_DAY} … {LAST_DAY}", param, ctx)
        return parsed


def fail_config(message: str) -> NoReturn:
    """Print a config error and exit with code 2."""
    click.echo(f"idqueue: invalid configuration: {one_line(redact(message, bare_hex=True))}", err=True)
    sys.exit(2)


pass_ctx = click.make_pass_decorator(Context, ensure=True)
