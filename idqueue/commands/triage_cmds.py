"""Triage commands: response templates, the rota and the handover note.

* ``idqueue templates`` lists the response templates (shipped and the team's own);
  ``idqueue templates render KEY ID`` previews one for a request, per target, with the
  missing variables and any personal-data warnings.
* ``idqueue rota`` shows who is on triage this week.
* ``idqueue handover`` prints (or writes) the Markdown handover note for the next triager.

Everything printed that came from Slack, GitHub or config goes through
:func:`~idqueue.safety.sanitize_terminal`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from idqueue.clock import now as clock_now
from idqueue.commands.base import CliError, Context, Day, pass_ctx
from idqueue.config import Settings
from idqueue.domain.models import Request, SourceKind
from idqueue.domain.rota import handover_note, is_workday, member_name, week_rota
from idqueue.domain.templates import (
    ResponseTemplate,
    Target,
    TemplateError,
    check_var_name,
    load_templates,
    render_for,
    targets_for,
)
from idqueue.integrations import registry
from idqueue.safety import one_line, sanitize_terminal


def _echo(text: str) -> None:
    click.echo(sanitize_terminal(text))


def _load(settings: Settings) -> dict[str, ResponseTemplate]:
    try:
        return load_templates(settings.templates_dir)
    except TemplateError as exc:
        raise CliError(str(exc)) from exc


def _parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise CliError(f"--var {pair!r}: expected NAME=VALUE")
        try:
            check_var_name(name)
        except ValueError as exc:
            raise CliError(str(exc)) from exc
        values[name] = value
    return values


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


# ------------------------------------------------------------------------------ templates
@click.group("templates", invoke_without_command=True)
@pass_ctx
@click.pass_context
def templates_group(click_ctx: click.Context, ctx: Context) -> None:
    """List the response templates (shipped defaults and the team's own)."""
    if click_ctx.invoked_subcommand is not None:
        return
    templates = sorted(_load(ctx.settings).values(), key=lambda t: (t.order, t.key))
    rows: list[tuple[str, ...]] = [("KEY", "TITLE", "TYPES", "SIDE EFFECTS", "SOURCE")]
    for tpl in templates:
        source = f"{tpl.origin} ({Path(tpl.path).name})" if tpl.path else tpl.origin
        rows.append(
            (
                one_line(tpl.key),
                one_line(tpl.title, 64),
                one_line(", ".join(tpl.types) or "any", 30),
                one_line(tpl.side_effects.describe() or "-"),
                one_line(source),
            )
        )
    for line in _table(rows):
        _echo(line)
    if ctx.settings.templates_dir is None:
        _echo("\n(team templates: set templates_dir in the config file; a file with the same key replaces a shipped one)")


def _preview_targets(template: ResponseTemplate, request: Request, target: str | None) -> tuple[list[Target], str]:
    """The targets to preview, and a note when one is not a home of the request."""
    renderable = [i.name for i in registry.integrations() if i.planner is not None]
    if target in ("both", "all"):
        wanted: list[Target] = renderable
    elif target is not None:
        if target not in renderable:
            raise CliError(f"--target {target!r} is not one of: {', '.join([*renderable, 'all'])}")
        wanted = [target]
    else:
        wanted = targets_for(template, request)
        if not wanted:
            # Nowhere to post it (e.g. a Slack-only template on a GitHub-only request): still
            # show what it would say.
            dest = template.destination
            wanted = renderable if dest in ("auto", "both", "all") else [dest]
    homeless = [t for t in wanted if SourceKind(t) not in request.sources]
    note = ""
    if homeless:
        where = " or ".join(registry.get(t).home_noun for t in homeless)
        note = f"note: {request.key} has no {where}; shown as a preview only"
    return wanted, note


@templates_group.command("render")
@click.argument("key")
@click.argument("request_id", metavar="ID")
@click.option("--target", metavar="SYSTEM", help="github, slack, … or all. Default: where the template goes for this request.")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="Extra template variable, e.g. due_date=2026-03-20 (repeatable).")
@click.option("--as", "as_user", metavar="USER", help="Render as this roster member (default: `me` from config).")
@pass_ctx
def render_template(
    ctx: Context, key: str, request_id: str, target: str | None, variables: tuple[str, ...], as_user: str | None
) -> None:
    """Preview template KEY for request ID (gh:…, slack:… or REQ-12).

    Missing variables and text that looks like personal data are listed under the text;
    the preview itself always exits 0.
    """
    settings = ctx.settings
    templates = _load(settings)
    template = templates.get(key)
    if template is None:
        raise CliError(f"no template {key!r} (known: {', '.join(sorted(templates))})")
    if as_user is not None and settings.team and as_user not in settings.team:
        raise CliError(f"--as {as_user!r} is not in [team] (known: {', '.join(sorted(settings.team))})")
    request = ctx.store.get_request(request_id)
    if request is None:
        raise CliError(f"no request {request_id!r} (run `idqueue sync` first?)")
    extra = _parse_vars(variables)
    targets, note = _preview_targets(template, request, target)

    _echo(f"{one_line(request.key)} · {one_line(request.title, 70)} · {one_line(request.type)}")
    _echo(f"template {template.key}: {one_line(template.title)}")
    _echo(f"side effects: {template.side_effects.describe() or 'none'}")
    if note:
        _echo(note)
    for tgt in targets:
        try:
            rendered = render_for(request, template, settings, target=tgt, me=as_user, extra=extra)
        except (TemplateError, ValueError) as exc:
            raise CliError(str(exc)) from exc
        _echo(f"\n── {tgt} " + "─" * 40)
        _echo(rendered.text.rstrip("\n"))
        _echo("─" * (len(tgt) + 44))
        if rendered.missing:
            hints = " ".join(f"--var {name}=…" for name in rendered.missing if "." not in name)
            _echo(f"missing: {', '.join(rendered.missing)} — not sendable until these have values" + (f" ({hints})" if hints else ""))
        integration = registry.get(tgt)
        planner = integration.get_planner()
        public = planner is not None and planner.public
        for match in rendered.pii:
            where = f"a public {integration.home_noun}" if public else integration.display
            _echo(f"warning: looks like personal data ({match.kind}) and would be posted to {where}: {one_line(match.text)}")


# ------------------------------------------------------------------------------ rota
def _team_today(settings: Settings) -> date:
    return clock_now(settings).astimezone(ZoneInfo(settings.sla.calendar.timezone)).date()


@click.command("rota")
@click.option("--date", "day", type=Day(), help="Show the week of this date (YYYY-MM-DD).")
@pass_ctx
def rota(ctx: Context, day: datetime | None) -> None:
    """Show who is on triage each day of this week (or the week of --date)."""
    settings = ctx.settings
    today = _team_today(settings)
    shown = day.date() if day is not None else today
    if not settings.rota.weekly and not settings.rota.overrides:
        _echo("No rota configured: add [rota] weekly = [\"roster-key\", …] (and start = a Monday) to the config file.")
        return
    days = week_rota(settings, shown)
    monday = shown - timedelta(days=shown.weekday())
    _echo(f"Triage rota — ISO week {monday.isocalendar().week}, {monday:%a %d %b %Y} to {monday + timedelta(days=6):%a %d %b %Y}")
    for d, people in days:
        names = ", ".join(member_name(settings, p) for p in people) or "nobody"
        marks = []
        if d in settings.rota.overrides:
            marks.append("override")
        if not is_workday(settings, d):
            marks.append("holiday" if d in settings.sla.calendar.holidays else "day off")
        if settings.me and settings.me in people:
            marks.append("you")
        suffix = f"  ({', '.join(marks)})" if marks else ""
        pointer = "  ← today" if d == today else ""
        _echo(f"  {d:%a %d %b}  {one_line(names)}{suffix}{pointer}")


# ------------------------------------------------------------------------------ handover
def _handover_now(settings: Settings, day: date | None) -> datetime:
    """Now, or the end of the business day of ``day`` (a note written at close of play)."""
    now = clock_now(settings)
    cal = settings.sla.calendar
    tz = ZoneInfo(cal.timezone)
    if day is None or day == now.astimezone(tz).date():
        return now
    return datetime.combine(day, cal.end, tzinfo=tz)


@click.command("handover")
@click.option("--date", "day", type=Day(), help="Write the note as of the end of this business day.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the Markdown to this file.")
@click.option("--to", "to_member", metavar="USER", help="Address the note to this roster member (default: next on triage).")
@pass_ctx
def handover(ctx: Context, day: datetime | None, output: Path | None, to_member: str | None) -> None:
    """Print the Markdown handover note for the next triager.

    Lists open requests in sections: breached, at risk, unassigned, pending (waiting on the
    requester) and open (assigned), each with its link, type, priority, SLA and assignee.
    """
    from idqueue.domain.sla_live import remaining_at

    settings = ctx.settings
    if to_member is not None and settings.team and to_member not in settings.team:
        raise CliError(f"--to {to_member!r} is not in [team] (known: {', '.join(sorted(settings.team))})")
    now = _handover_now(settings, day.date() if day is not None else None)
    requests = ctx.store.list_requests(open_only=True, now=now)
    for request in requests:
        # The store has the state at `now`; bring the stored countdown up to `now` too.
        request.sla.remaining_seconds = remaining_at(request, settings.sla, now=now)
    note = sanitize_terminal(handover_note(requests, settings, now=now, for_member=to_member))
    if output is None:
        click.echo(note, nl=False)
        return
    try:
        output.write_text(note, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {output}: {exc.strerror or exc}") from exc
    _echo(f"wrote the handover note to {output}")


COMMANDS: list[click.Command] = [templates_group, rota, handover]
