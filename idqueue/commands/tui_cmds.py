"""Entry points that open the TUI: ``idqueue`` (configured sources), ``idqueue demo`` (sandbox)."""

from __future__ import annotations

import click

from idqueue.cli import CliError, Context, pass_ctx


def open_tui(ctx: Context, *, sandbox: bool) -> None:
    """Open the TUI (placeholder until the TUI issue lands: sync and print the queue)."""
    from idqueue.commands.sync_cmds import run_sync

    if sandbox:
        raise CliError("the sandbox TUI is not available yet")
    run_sync(ctx)


COMMANDS: list[click.Command] = []
