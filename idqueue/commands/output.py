"""Shared CLI output: times in the team's zone, check lines, one-line usage errors."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import NoReturn
from zoneinfo import ZoneInfo

import click

from idqueue.safety import redact, sanitize_terminal


def format_time(at: datetime | None, timezone: str, *, utc: bool = False, seconds: bool = False) -> str:
    """``2026-03-11 10:30 EDT`` in the team's zone (as the TUI shows it), or ``… UTC``; ``-`` for None."""
    if at is None:
        return "-"
    zone = UTC if utc else ZoneInfo(timezone)
    local = at.astimezone(zone)
    pattern = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return f"{local.strftime(pattern)} {'UTC' if utc else local.tzname()}"


def check_line(label: str, value: object, *, indent: int = 0, width: int = 12) -> None:
    """Print one ``label  value`` line: the value as readable text, never a Python repr.

    Lists and tuples are joined with commas, dicts as ``key=value`` pairs, booleans as yes/no;
    secrets are redacted and terminal control characters stripped.
    """
    click.echo(f"{' ' * indent}{label:<{width}} {sanitize_terminal(redact(readable(value)), keep_newlines=False)}")


def readable(value: object) -> str:
    """A value as a person reads it (``a, b``; ``k=v, …``; ``yes``/``no``; ``-`` for empty)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or value == "":
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={readable(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(readable(v) for v in value) or "-"
    return str(value)


def fail_usage(message: str) -> NoReturn:
    """A bad option value: one line on stderr, exit code 2 (like click's usage errors)."""
    click.echo(f"idqueue: {sanitize_terminal(redact(message), keep_newlines=False)}", err=True)
    sys.exit(2)
