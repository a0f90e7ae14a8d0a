"""The command line: ``idqueue`` opens the TUI; sub-commands share the same headless core.

Every command exits 0 on success and non-zero with one line on stderr otherwise
(2 for a configuration error). Commands live in :mod:`idqueue.commands` by area and are
registered here.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from idqueue.config import ConfigError, Settings, load_settings
from idqueue.safety import one_line, redact

if TYPE_CHECKING:
    from idqueue.store.db import Store

F = TypeVar("F", bound=Callable[..., Any])


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
            from idqueue.store.db import NewerSchemaError, Store, StoreError

            settings = self.settings
            try:
                self._store = Store.open(
                    settings.db, key_prefix=settings.ui.key_prefix, busy_timeout=settings.busy_timeout
                )
            except NewerSchemaError as exc:
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
        db_cmds,
        metrics_cmds,
        sync_cmds,
        triage_cmds,
        tui_cmds,
    )

    for module in (sync_cmds, triage_cmds, action_cmds, metrics_cmds, tui_cmds, db_cmds):
        for command in getattr(module, "COMMANDS", []):
            cli.add_command(command)


_register()


def main(args: list[str] | None = None) -> NoReturn:
    """Console-script entry point: every failure ends as one line on stderr, never a traceback.

    Click's own ``standalone_mode`` would print "Aborted!" on Ctrl-C and exit 1; here Ctrl-C
    prints "idqueue: interrupted" and exits 130 (128 + SIGINT), as shells expect.

    Args:
        args: the arguments (default: ``sys.argv[1:]``).
    """
    try:
        with cli.make_context("idqueue", list(sys.argv[1:] if args is None else args)) as click_ctx:
            cli.invoke(click_ctx)
    except (KeyboardInterrupt, click.Abort):
        _fail("interrupted", 130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        where = f"idqueue {exc.ctx.command_path.removeprefix('idqueue').strip()}".strip() if exc.ctx else "idqueue"
        _fail(f"{exc.format_message().rstrip('.')} (see `{where} --help`)", exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except sqlite3.Error as exc:
        from idqueue.store.db import describe_db_error

        _fail(describe_db_error(exc), 1)
    except BrokenPipeError:
        # The reader went away (`idqueue list | head`): nothing to say, and nothing more to flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except OSError as exc:
        _fail(_describe_os_error(exc), 1)
    except Exception as exc:  # the last line of defence: a bug still gets one line
        _fail(f"unexpected error: {type(exc).__name__}: {exc} (please report this)", 1)
    sys.exit(0)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"idqueue: {one_line(redact(message), 400)}", err=True)
    sys.exit(code)


def _describe_os_error(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full; free some space and retry"
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or type(exc).__name__}{where}"
