"""Database commands: ``idqueue db check`` and ``idqueue db migrate-to URL``.

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
    """Inspect the local database, or copy it to PostgreSQL."""


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


@db_group.command(name="migrate-to")
@click.argument("url", required=False, metavar="[URL]")
@pass_ctx
def migrate_to(ctx: Context, url: str | None) -> None:
    """Copy the SQLite database into an empty PostgreSQL database (team mode).

    URL is a postgresql://user:password@host:port/dbname URL (default: IDQUEUE_DATABASE_URL).
    Everything is copied in one transaction: requests and their items and timelines, cursors,
    snoozes and overrides, drafts, the outbox and its log, ratings. A database that already
    holds idqueue rows is refused. The row counts of both sides are printed at the end; the
    exit code is 1 when any differs. Afterwards, point idqueue at it with
    IDQUEUE_DATABASE_URL.
    """
    from idqueue.store.db import NewerSchemaError, Store, StoreError
    from idqueue.store.dialect import database_errors, is_postgres_url, redact_url
    from idqueue.store.transfer import copy_to_postgres

    settings = ctx.settings
    secret = settings.database_url.get_secret_value() if settings.database_url else ""
    target = (url or secret).strip()
    if not target:
        raise CliError("give the PostgreSQL URL: idqueue db migrate-to postgresql://user@host/dbname")
    if not is_postgres_url(target):
        raise CliError("the target must be a postgresql:// URL (postgresql://user:password@host/dbname)")
    if not settings.db.is_file():
        raise CliError(f"there is no SQLite database at {settings.db} to copy")
    shown = redact_url(target)
    try:
        source = Store.open(settings.db, key_prefix=settings.ui.key_prefix, busy_timeout=settings.busy_timeout)
        click.echo(f"copying {settings.db} into {shown} …", err=True)
        counts = copy_to_postgres(source, target, progress=lambda t, n: click.echo(f"  {t}: {n}", err=True))
    except NewerSchemaError as exc:
        raise CliError(f"{shown}: {exc}") from exc
    except StoreError as exc:
        raise CliError(str(exc)) from exc
    except database_errors() as exc:
        from idqueue.store.db import describe_db_error

        raise CliError(f"cannot copy into {shown}: {describe_db_error(exc, target)}") from exc
    width = max(len(c.table) for c in counts)
    click.echo(f"{'table'.ljust(width)}  {'sqlite':>8}  {'postgresql':>10}")
    for c in counts:
        mark = "" if c.ok else "  MISMATCH"
        click.echo(f"{c.table.ljust(width)}  {c.source:>8}  {c.target:>10}{mark}")
    if not all(c.ok for c in counts):
        click.echo("the copy does not match the source (see MISMATCH above)", err=True)
        sys.exit(1)
    click.echo(f"done: set IDQUEUE_DATABASE_URL to {shown} (with its password) to use it")


COMMANDS: list[click.Command] = [db_group]
