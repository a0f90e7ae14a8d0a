"""The command line: ``idqueue`` opens the TUI; sub-commands share the same headless core.

Every command exits 0 on success and non-zero with one line on stderr otherwise
(2 for a configuration error). Commands live in :mod:`idqueue.commands` by area; the group
below names each command's module and imports it only when that command runs (or on
``--help``), so ``idqueue`` alone loads only what the TUI's first frame needs.
"""

from __future__ import annotations

import errno
import importlib
import os
import sys
from typing import NoReturn

import click

from idqueue.commands.base import CliError, Context
from idqueue.safety import one_line, redact
from idqueue.store.dialect import database_errors

__all__ = ["COMMAND_MODULES", "CliError", "Context", "cli", "main"]

COMMAND_MODULES: dict[str, str] = {
    **dict.fromkeys(("sync", "list", "show", "doctor", "sandbox"), "sync_cmds"),
    **dict.fromkeys(("templates", "rota", "handover"), "triage_cmds"),
    **dict.fromkeys(("assign", "take", "unassign", "reply", "pending", "resume", "backlog", "close",
                     "reopen", "priority", "snooze", "unsnooze", "snoozed", "customer", "outbox"), "action_cmds"),
    **dict.fromkeys(("report", "survey"), "metrics_cmds"),
    **dict.fromkeys(("demo", "run-default"), "tui_cmds"),
    "db": "db_cmds",
    "web": "web_cmds",
    "serve": "serve_cmds",
}
"""Sub-command name → its module in :mod:`idqueue.commands` (each module lists its ``COMMANDS``)."""


class LazyGroup(click.Group):
    """A group whose sub-commands are imported when they are used (click's documented pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every sub-command name, sorted (for ``--help``)."""
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import the command's module and return the command, or None for an unknown name."""
        module_name = COMMAND_MODULES.get(cmd_name)
        if module_name is None:
            return None
        module = importlib.import_module(f"idqueue.commands.{module_name}")
        commands: list[click.Command] = getattr(module, "COMMANDS", [])
        for command in commands:
            if command.name == cmd_name:
                return command
        raise RuntimeError(f"idqueue.commands.{module_name} does not define {cmd_name!r}")


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
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
    except database_errors() as exc:
        from idqueue.store.db import describe_db_error

        _fail(describe_db_error(exc, os.environ.get("IDQUEUE_DATABASE_URL", "")), 1)
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
