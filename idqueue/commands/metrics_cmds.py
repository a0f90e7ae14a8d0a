"""Metrics commands: ``idqueue report`` and ``idqueue survey import``."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from idqueue.clock import now as clock_now
from idqueue.commands.base import CliError, Context, Day, pass_ctx
from idqueue.domain.metrics import Period
from idqueue.safety import one_line


def resolve_period(ctx: Context, month: str | None, start: datetime | None, end: datetime | None) -> Period:
    """The period the options name (the current month by default).

    Raises:
        click.UsageError: for conflicting or malformed options.
    """
    tz = ctx.settings.sla.calendar.timezone
    now = clock_now(ctx.settings)
    if month and (start or end):
        raise click.UsageError("use either --month or --from/--to, not both")
    if end is not None and start is None:
        raise click.UsageError("--to needs --from")
    if month:
        try:
            return Period.parse_month(month, tz)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--month") from None
    if start is not None:
        first = start.date()
        last = end.date() if end is not None else now.astimezone(ZoneInfo(tz)).date()
        try:
            return Period.dates(first, last, tz)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    return Period.containing(now, tz)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder, so a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@click.command()
@click.option("--month", metavar="YYYY-MM", help="Calendar month in the team timezone (default: this month).")
@click.option("--from", "start", type=Day(), metavar="YYYY-MM-DD",
              help="First day of a custom period (inclusive).")
@click.option("--to", "end", type=Day(), metavar="YYYY-MM-DD",
              help="Last day of a custom period (inclusive; default: today).")
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "json", "html"]), default="md", show_default=True,
              help="Output format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@click.option("--schema", is_flag=True, help="Print the JSON Schema of --format json and exit.")
@pass_ctx
def report(ctx: Context, month: str | None, start: datetime | None, end: datetime | None, fmt: str,
           output: Path | None, schema: bool) -> None:
    """Write the KPI report for a month or a date range (compared with the period before).

    Counts requests received in the period, what became of them, response and resolution
    times, SLA attainment, the 48-hour rule, fulfilment through the process, reopenings,
    workload and satisfaction (CSAT). See the README section "Metrics" for definitions.
    """
    from idqueue.report import REPORT_SCHEMA, collect, render

    if schema:
        click.echo(json.dumps(REPORT_SCHEMA, indent=2))
        return
    period = resolve_period(ctx, month, start, end)
    data = collect(ctx.store, ctx.settings, period, now=clock_now(ctx.settings))
    text = render(data, fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        write_atomically(output, text)
    except OSError as exc:
        raise CliError(f"cannot write {output}: {exc.strerror or exc}") from exc
    click.echo(f"wrote {output} ({fmt}, {period.label}, {data.kpis.received} requests)", err=True)


@click.group()
def survey() -> None:
    """Satisfaction survey ratings (CSAT)."""


@survey.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def survey_import(ctx: Context, file: Path) -> None:
    """Import ratings from the survey tool's CSV export (safe to repeat).

    Columns are named in config ([survey.columns]: rating, date, request, comment). Rows
    already imported are recognised and skipped, so importing each new export in full is fine.
    """
    from idqueue.domain.survey import SurveyError, parse_survey_csv
    from idqueue.store.ratings import import_ratings

    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise CliError(f"{file} is not UTF-8 text; export the survey as UTF-8 CSV") from None
    except OSError as exc:
        raise CliError(f"cannot read {file}: {exc.strerror or exc}") from exc
    settings = ctx.settings
    try:
        parsed = parse_survey_csv(text, settings.survey.columns, tz=settings.sla.calendar.timezone)
    except SurveyError as exc:
        raise CliError(f"{file}: {exc}") from None
    result = import_ratings(ctx.store, parsed.rows, now=clock_now(settings))
    line = f"imported {result.added} rating{'s' if result.added != 1 else ''}"
    details = [f"{result.already} already imported"]
    if result.unlinked:
        details.append(f"{result.unlinked} not linked to a known request (counted in the overall CSAT only)")
    if result.relinked:
        details.append(f"{result.relinked} earlier ones now linked")
    click.echo(f"{line} ({', '.join(details)})")
    if parsed.skipped:
        click.echo(f"skipped {len(parsed.skipped)} line{'s' if len(parsed.skipped) != 1 else ''}:", err=True)
        for reason in parsed.skipped[:20]:
            click.echo(f"  {one_line(reason, 200)}", err=True)
        if len(parsed.skipped) > 20:
            click.echo(f"  … and {len(parsed.skipped) - 20} more", err=True)


COMMANDS: list[click.Command] = [report, survey]
