"""Database commands: ``idqueue db check``.

The local database is mostly a copy of Slack and GitHub (requests, timelines, cursors), so a
damaged file is recovered by moving it aside and syncing again; ``db check`` says so, and names
what only this file holds (unsent outbox actions, snoozes, imported ratings) before anyone
deletes it.
"""

from __future__ import annotations

import sys

import click

from idqueue.commands.base import CliError, Context, pass_ctx
from idqueue.safety import one_line


@click.group(name="db")
def db_group() -> None:
    """Inspect the local database."""


@db_group.command(name="check")
@pass_ctx
def check(ctx: Context) -> None:
    """Run SQLite's integrity check on the database and say how to recover from damage.

    Opens the file read-only and changes nothing. Exits 0 when the database is healthy, 1 when
    it is damaged.
    """
    from idqueue.store.db import StoreError, integrity_check, local_only_counts

    path = ctx.settings.db
    try:
        problems = integrity_check(path)
    except StoreError as exc:
        raise CliError(str(exc)) from exc
    if not problems:
        click.echo(f"database {path}: ok (PRAGMA integrity_check)")
        return
    click.echo(f"database {path}: DAMAGED — PRAGMA integrity_check found:")
    for line in problems:
        click.echo(f"  {one_line(line, 160)}")
    click.echo("")
    click.echo("To recover: requests, timelines and cursors are copies of Slack and GitHub, so")
    click.echo(f"  1. move the damaged file aside:  mv '{path}' '{path}.damaged'")
    click.echo("     (also move its -wal and -shm files, if any)")
    click.echo("  2. rebuild from the upstream systems:  idqueue sync --once")
    lost = {what: n for what, n in local_only_counts(path).items() if n != 0}
    if lost:
        click.echo("Only this file holds (not rebuilt by a sync):")
        for what, n in lost.items():
            click.echo(f"  {what}: {'unreadable' if n is None else n}")
        click.echo("Re-import survey ratings with `idqueue survey import FILE`; re-do unsent actions and")
        click.echo("snoozes by hand (`sqlite3 FILE .recover` may salvage rows from the damaged copy).")
    sys.exit(1)


COMMANDS: list[click.Command] = [db_group]
