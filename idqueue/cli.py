"""The command line: ``idqueue`` opens the TUI; sub-commands share the same headless core.

Every command exits 0 on success and non-zero with one line on stderr otherwise
(2 for a configuration error). Commands live in :mod:`idqueue.commands` by area and are
registered here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from idqueue.config import ConfigError, Settings, load_settings
from idqueue.safety import redact, sanitize_terminal

if TYPE_CHECKING:
    from idqueue.store.db import Store

F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    """A one-line error for the user (exit code 1)."""

    def show(self, file: Any = None) -> None:
        click.echo(f"idqueue: {sanitize_terminal(redact(self.format_message()))}", err=True)


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
            from idqueue.store.db import Store, StoreError

            try:
                self._store = Store.open(self.settings.db, key_prefix=self.settings.ui.key_prefix)
            except StoreError as exc:
                raise CliError(str(exc)) from exc
        return self._store


def fail_config(message: str) -> NoReturn:
    """Print a config error and exit with code 2."""
    click.echo(f"idqueue: invalid configuration: {sanitize_terminal(redact(message))}", err=True)
    sys.exit(2)


pass_ctx = click.make_pass_decorator(Context, ensure=True)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="idqueue")
@click.pass_context
def cli(click_ctx: click.Context) -> None:
    """idqueue: the terminal queue for the person on support triage.

    Without a command, opens the TUI on the configured sources.
    """
    click_ctx.ensure_object(Context)
    if click_ctx.invoked_subcommand is None:
        from idqueue.commands.tui_cmds import open_tui

        open_tui(click_ctx.obj, sandbox=False)


def _register() -> None:
    from idqueue.commands import (
        action_cmds,
        metrics_cmds,
        sync_cmds,
        triage_cmds,
        tui_cmds,
    )

    for module in (sync_cmds, triage_cmds, action_cmds, metrics_cmds, tui_cmds):
        for command in getattr(module, "COMMANDS", []):
            cli.add_command(command)


_register()


def main() -> None:
    """Console-script entry point."""
    try:
        cli.main(prog_name="idqueue", standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("idqueue: interrupted", err=True)
        sys.exit(130)
