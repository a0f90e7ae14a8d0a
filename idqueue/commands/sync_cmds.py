"""Foundation commands: sync, list, show, doctor, sandbox."""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from idqueue.clock import now as clock_now
from idqueue.commands.base import CliError, Context, pass_ctx
from idqueue.commands.output import check_line, fail_usage, format_time
from idqueue.config import TEAM_CLIENT_REFUSAL, SlaConfig, team_client
from idqueue.domain.models import Request, iso
from idqueue.integrations import registry
from idqueue.safety import grid_text, one_line, redact, sanitize_terminal
from idqueue.sandbox.teams import TEAMS, TEAMS_HELP, start_sandbox
from idqueue.store.db import describe_db_error
from idqueue.store.dialect import database_errors
from idqueue.store.queue import json_item


def live_remaining(request: Request, ctx: Context, now: datetime) -> float | None:
    """Working seconds left on the running SLA clock at ``now`` (negative when overdue)."""
    from idqueue.domain.sla_live import remaining_at

    return remaining_at(request, ctx.settings.sla, now=now)


def request_json(request: Request, ctx: Context, now: datetime) -> dict[str, Any]:
    """The JSON contract item with the SLA remaining time brought up to ``now``."""
    data = json_item(request)
    data["sla"]["remaining_seconds"] = live_remaining(request, ctx, now)
    return data


def _progress(name: str, done: int, total: int | None) -> None:
    if sys.stderr.isatty():
        of = f"/{total}" if total else ""
        click.echo(f"\r{name}: {done}{of} …", nl=False, err=True)


def run_sync(ctx: Context, *, quiet: bool = False, read_first: Any = None) -> int:
    """Poll every configured source once; print a summary line per source. Returns the exit code.

    ``read_first`` (a :class:`idqueue.sync.ReadFirst`) carries the threads Socket Mode events
    named since the last poll.
    """
    from idqueue.sync import SyncEngine, build_sources

    settings = ctx.settings
    sources = build_sources(settings)
    if not sources:
        raise CliError(
            "no sources configured: set IDQUEUE_GITHUB_TOKEN + IDQUEUE_GITHUB_REPOS and/or "
            "IDQUEUE_SLACK_TOKEN + IDQUEUE_SLACK_CHANNELS (or try `idqueue demo`)"
        )
    quiet_library_logs()
    try:
        engine = SyncEngine(ctx.store, sources, settings, read_first=read_first)
        report = engine.poll(progress=None if quiet else _progress)
    except database_errors() as exc:
        # Each batch is one transaction, so what was committed before stays consistent.
        raise CliError(f"the local database failed during sync: {describe_db_error(exc)}") from None
    finally:
        for source in sources:
            source.close()
    if not quiet and sys.stderr.isatty():
        click.echo("\r", nl=False, err=True)
    for source_report in report.sources:
        line = sanitize_terminal(redact(source_report.summary()), keep_newlines=False)
        click.echo(line, err=source_report.error is not None)
    notified = run_notify(ctx, report.created)
    return 1 if report.errors or not notified else 0


def run_notify(ctx: Context, created: list[str]) -> bool:
    """Queue the support-channel notifications of a poll and send what is due (``[notify]``).

    Prints one line for the notifications and one for the outbox. Returns False when that failed
    (the line says why); True when it worked or notifications are off.
    """
    if not ctx.settings.notify.channel:
        return True
    from idqueue.notify import Notifier
    from idqueue.outbox.dispatcher import Dispatcher

    try:
        click.echo(Notifier(ctx.store, ctx.settings).after_poll(created).summary())
        dispatcher = Dispatcher(ctx.store, ctx.settings)
        try:
            sent = dispatcher.run_once()
        finally:
            dispatcher.close()
    except Exception as exc:  # one line, never a traceback; the next poll tries again
        click.echo(f"notify: FAILED — {one_line(redact(f'{type(exc).__name__}: {exc}'), 200)}", err=True)
        return False
    click.echo(f"outbox: {sent.summary()}")
    for reason in sent.blocked:
        click.echo(f"outbox: {one_line(reason, 200)}", err=True)
    return True


def quiet_library_logs() -> None:
    """Keep library warnings off the terminal unless logging was configured.

    The CLI prints one line per source (what failed included); without a handler, Python's
    last-resort handler would print every source warning a second time on stderr.
    """
    logger = logging.getLogger("idqueue")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


@click.command()
@click.option("--once", is_flag=True, help="Poll once and exit (default: keep polling).")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.option("--force", is_flag=True, help="Team mode: poll from here even though the team service does.")
@pass_ctx
def sync(ctx: Context, once: bool, quiet: bool, force: bool) -> None:
    """Poll every configured integration (GitHub, Slack, Jira, the mailbox, Trello) into the store.

    In team mode the team service (`idqueue serve`) does this; a client refuses unless --force.
    """
    if team_client(ctx.settings) and not force:
        click.echo(TEAM_CLIENT_REFUSAL, err=True)
        sys.exit(2)
    if once:
        sys.exit(run_sync(ctx, quiet=quiet))
    sync_forever(ctx, quiet=quiet)


def sync_forever(ctx: Context, *, quiet: bool = False, rounds: int | None = None,
                 after_round: Callable[[int], None] | None = None) -> None:
    """Poll every ``ui.poll_interval`` seconds — sooner when Slack Socket Mode or a push watcher
    (IMAP IDLE) reports a change (:class:`~idqueue.service.loop.PollLoop`).

    With an app-level token, a Slack event ends the wait early (a change during a poll makes the
    next one start right after it); polling stays the fallback and the only thing that writes
    the store.

    Args:
        ctx: the CLI context.
        quiet: no progress or Socket Mode lines.
        rounds: stop after this many polls (tests); None polls until interrupted.
        after_round: called with the number of polls done after each one (tests).
    """
    from idqueue.service.loop import PollLoop

    quiet_library_logs()  # Socket Mode states get their own lines; SDK log records stay quiet
    loop = PollLoop(ctx.settings, lambda read_first: run_sync(ctx, quiet=quiet, read_first=read_first),
                    on_slack_health=None if quiet else slack_health_printer(ctx.settings.ui.poll_interval))
    loop.run(rounds=rounds, after_round=after_round)


def slack_health_printer(interval: float) -> Callable[[Any], None]:
    """Prints a line on stderr when Slack Socket Mode connects, reconnects or is refused."""
    from idqueue.integrations.slack.socket import LiveHealth, LiveState

    def report(health: LiveHealth) -> None:
        if health.state in (LiveState.CONNECTING, LiveState.OFF):
            return
        if health.live:
            line = "Slack Socket Mode: connected; Slack changes sync at once"
        elif health.state is LiveState.RECONNECTING:
            line = "Slack Socket Mode: reconnecting; polling meanwhile"
        else:
            line = f"Slack Socket Mode: {health.describe()}; polling every {interval:g} s"
        click.echo(sanitize_terminal(redact(line), keep_newlines=False), err=True)

    return report


STATUS_CHOICES = ["new", "acknowledged", "assigned", "pending", "resolved", "closed", "backlog", "deleted"]


@click.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array (the documented contract).")
@click.option("--status", "statuses", multiple=True, metavar="STATUS",
              help=f"Only this status, any case (repeatable): {', '.join(STATUS_CHOICES)}.")
@click.option("--type", "types", multiple=True, help="Only this request type, any case (repeatable).")
@click.option("--source", "sources", multiple=True, metavar="SYSTEM",
              help="Only requests with a home in this system, by name or code (repeatable): github, slack, GH, S, ….")
@click.option("--all", "include_closed", is_flag=True, help="Include closed, backlog and resolved requests.")
@click.option("--mine", is_flag=True, help="Only requests assigned to you (settings `me`) or unassigned.")
@click.option("--search", default="", help="A search as in the TUI: words, REQ-44, #35, a URL or permalink, "
              "qualifiers (type: priority: assignee: source: status: is:breached is:mine is:open …).")
@click.option("--view", "view_name", default=None, metavar="NAME", help="A saved view from the config ([[views]]).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many rows (1 or more).")
@pass_ctx
def list_cmd(
    ctx: Context,
    as_json: bool,
    statuses: tuple[str, ...],
    types: tuple[str, ...],
    sources: tuple[str, ...],
    include_closed: bool,
    mine: bool,
    search: str,
    view_name: str | None,
    limit: int | None,
) -> None:
    """List requests in queue order (open P1s first, then breached, at-risk, priority, age)."""
    from idqueue.store.queue import fetch_window

    now = clock_now(ctx.settings)
    if mine and not ctx.settings.me:
        raise CliError("--mine needs `me` set in the config (your roster key)")
    query = _list_query(ctx, statuses=statuses, types=types, sources=sources, include_closed=include_closed,
                        mine=mine, search=search, view_name=view_name)
    requests = fetch_window(ctx.store, query, now=now, offset=0, limit=limit or -1)
    if as_json:
        click.echo(json.dumps([request_json(r, ctx, now) for r in requests], ensure_ascii=False, indent=1))
        return
    if ctx.settings.sandbox:
        click.echo(registry.sandbox_banner(ctx.settings), err=True)
    if team_client(ctx.settings):
        click.echo(_service_line(ctx)[0], err=True)
    if not requests:
        click.echo("No requests match.")
        return
    _print_list(ctx, requests, now)


def _list_query(ctx: Context, *, statuses: tuple[str, ...], types: tuple[str, ...], sources: tuple[str, ...],
                include_closed: bool, mine: bool, search: str, view_name: str | None) -> Any:
    """The queue query of ``list``'s options; a bad value exits 2 with one line naming the valid ones."""
    from idqueue.domain.query import SearchContext, SearchError, parse_search
    from idqueue.store.queue import QueueQuery, known_types

    settings = ctx.settings
    search_ctx = SearchContext.from_settings(settings, systems=registry.name_codes())
    statuses = tuple(_pick("--status", v, STATUS_CHOICES) for v in statuses)
    sources = tuple(_system("--source", v) for v in sources)
    if types:
        valid = list(dict.fromkeys([*search_ctx.types, *known_types(ctx.store)]))
        types = tuple(_pick("--type", v, valid) for v in types)
    view = None
    if view_name is not None:
        view = next((v for v in settings.views if v.name.casefold() == view_name.casefold()), None)
        if view is None:
            names = ", ".join(v.name for v in settings.views) or "none configured ([[views]] in config.toml)"
            fail_usage(f"no view {view_name!r}; views: {names}")
    view_spec = spec = None
    try:
        if view is not None:
            view_spec = parse_search(view.query, search_ctx)
    except SearchError as exc:
        fail_usage(f"view {view_name!r} in the config: {exc}")
    try:
        spec = parse_search(search, search_ctx) if search.strip() else None
    except SearchError as exc:
        fail_usage(str(exc))
    return QueueQuery(
        include_closed=include_closed, statuses=statuses, types=types, sources=sources,
        mine=settings.me if mine else None, search=search, spec=spec,
        view=view.name if view else "", view_spec=view_spec,
    )


def _system(option: str, value: str) -> str:
    """The name of the integration ``value`` names (name or code, any case), or exit 2 listing them."""
    found = registry.lookup(value)
    if found is None:
        fail_usage(f"{option} {value!r} is not one of: {', '.join(registry.names())}")
    return found.name


def _pick(option: str, value: str, valid: list[str]) -> str:
    """The valid value equal to ``value`` ignoring case, or exit 2 listing them."""
    for candidate in valid:
        if candidate.casefold() == value.strip().casefold():
            return candidate
    fail_usage(f"{option} {value!r} is not one of: {', '.join(valid)}")


def sla_text(request: Request, cfg: SlaConfig, now: datetime) -> str:
    """The list's SLA column: the state, then the TUI's cell when it carries a time
    (``breached 2h 00m over``, ``ok ⏸ 1h 54m``, ``met``, ``none``)."""
    from idqueue.domain.sla_live import live_clock, sla_cell
    from idqueue.widgets.rows import SLA_LABELS

    text, state = sla_cell(request, live_clock(request, cfg, now=now), now=now, labels=SLA_LABELS)
    word = state.replace("_", "-")
    # Only a cell that carries a time adds to the state word ("—", "Met", "Breached" do not).
    return f"{word} {text}" if any(ch.isdigit() for ch in text) else word


def _print_list(ctx: Context, requests: list[Request], now: datetime) -> None:
    """The text table: a header row, then one line per request with its source and outbox marks."""
    from idqueue.widgets.rows import source_text

    pending = _pending_marks(ctx, [r.id for r in requests])
    click.echo(f"{'KEY':<9} {'PRI':<3} {'SLA':<20} {'TYPE':<22} {'STATUS':<12} {'ASSIGNEE':<10} "
               f"{'SRC':<4} {'OUT':<3} TITLE")
    for r in requests:
        sla = sla_text(r, ctx.settings.sla, now)
        source = source_text(r)
        click.echo(
            f"{r.key:<9} {r.priority:<3} {sla:<20} {grid_text(r.type, 22):<22} {r.status.value:<12} "
            f"{grid_text(r.assignee or '-', 10):<10} {source:<4} {pending.get(r.id, '-'):<3} {grid_text(r.title, 70)}"
        )


def _pending_marks(ctx: Context, ids: list[str]) -> dict[str, str]:
    """``↑2`` (queued write-backs) or ``!1`` (failed) per request, as the TUI marks rows."""
    from idqueue.clock import clock_for
    from idqueue.outbox.pending import outbox_lookup
    from idqueue.outbox.service import Actions

    try:
        lookup = outbox_lookup(Actions(ctx.store, ctx.settings, clock=clock_for(ctx.settings)))
        infos = lookup(ids)
    except Exception:  # the list must print even when the outbox cannot be read
        return {}
    return {rid: f"!{i.failed}" if i.failed else f"↑{i.queued}" for rid, i in infos.items() if i.total}


@click.command()
@click.argument("request_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (request, fields, timeline).")
@click.option("--utc", is_flag=True, help="Times in UTC instead of the team's zone (text output).")
@pass_ctx
def show(ctx: Context, request_id: str, as_json: bool, utc: bool) -> None:
    """Show one request: fields, parsed intake fields, why its type/priority, SLA, timeline.

    REQUEST_ID is gh:OWNER/REPO#N, slack:CHANNEL/TS, the short key (REQ-12), its number, a
    GitHub issue URL or a Slack permalink. Times are in the team's zone (``--utc``: UTC);
    ``--json`` always gives ISO 8601 UTC.
    """
    request = ctx.store.get_request(request_id) or _by_reference(ctx, request_id)
    if request is None:
        raise CliError(f"no request {request_id!r} (try `idqueue list`)")
    now = clock_now(ctx.settings)
    timeline = ctx.store.timeline(request.id)
    if as_json:
        data = request_json(request, ctx, now)
        data["body"] = request.body
        data["fields"] = request.fields
        data["status_reason"] = request.status_reason
        data["timeline"] = [
            {
                "kind": e.kind.value,
                "at": iso(e.at),
                "source": e.source.value,
                "actor": e.actor_name or e.actor_id,
                "actor_id": e.actor_id,
                "body": e.body,
                "url": e.url,
                "bot": e.is_bot,
            }
            for e in timeline
        ]
        click.echo(json.dumps(data, ensure_ascii=False, indent=1))
        return
    s = sanitize_terminal
    tz = ctx.settings.sla.calendar.timezone

    def at(value: datetime | None) -> str:
        return format_time(value, tz, utc=utc)

    click.echo(f"{request.key}  {request.id}")
    click.echo(f"  {one_line(request.title)}")
    click.echo(f"  status    {request.status.value} ({request.status_reason})")
    click.echo(f"  type      {one_line(request.type)} — {one_line(request.type_reason)}")
    click.echo(f"  priority  {request.priority} — {one_line(request.priority_reason)}")
    remaining = live_remaining(request, ctx, now)
    click.echo(f"  SLA       {request.sla.state} — {one_line(request.sla.reason)}")
    if request.sla.first_response_due:
        click.echo(f"            first response due {at(request.sla.first_response_due)}")
    if request.sla.resolution_due:
        click.echo(f"            resolution due {at(request.sla.resolution_due)}")
    if remaining is not None:
        click.echo(f"            remaining {remaining / 3600:.1f} business h")
    click.echo(f"  requester {one_line(request.requester.name if request.requester else '-')}")
    customers = ctx.settings.customers
    if customers:
        found = customers.get(request.customer or "")
        click.echo(f"  customer  {one_line(found.name) if found else request.customer or 'no customer'}")
    click.echo(f"  assignee  {one_line(', '.join(request.assignees) or request.assignee or '-')}")
    click.echo(f"  created   {at(request.created_at)}   first response {at(request.first_response_at)}")
    if request.labels:
        click.echo(f"  labels    {one_line(', '.join(request.labels))}")
    for name, url in request.links.items():
        click.echo(f"  {name:<9} {one_line(url)}")
    if request.backlog_state:
        click.echo(f"  backlog   {one_line(request.backlog_state)}")
    if request.fields:
        click.echo("  intake fields:")
        for key, value in request.fields.items():
            click.echo(f"    {one_line(key, 24):<24} {one_line(value, 100)}")
    click.echo("")
    click.echo(s(request.body[:4000]) + ("\n… (truncated)" if len(request.body) > 4000 else ""))
    click.echo("")
    click.echo("Timeline:")
    for e in timeline:
        who = one_line(e.actor_name or e.actor_id or "?", 24)
        text = one_line(e.body, 100)
        click.echo(f"  {at(e.at)}  {e.source.value:<6} {e.kind.value:<10} {who:<24} {text}")


def _by_reference(ctx: Context, text: str) -> Request | None:
    """The request a number, URL or permalink names (as the TUI's go-to prompt reads it)."""
    from idqueue.domain.query import SearchContext, parse_reference
    from idqueue.store.queue import find_reference

    ref = parse_reference(text, SearchContext.from_settings(ctx.settings, systems=registry.name_codes()))
    found = find_reference(ctx.store, ref) if ref else []
    return ctx.store.get_request(found[0]) if found else None


@click.command()
@pass_ctx
def doctor(ctx: Context) -> None:
    """Check config, tokens and scopes, reachability and rate limits."""
    from idqueue.integrations.base import SourceError
    from idqueue.sync import build_sources

    settings = ctx.settings
    ok = True
    click.echo(f"config file  {settings.config_file or '(none; env and defaults)'}")
    shared = bool(settings.database_url and settings.database_url.get_secret_value().strip())
    click.echo(f"database     {'PostgreSQL (IDQUEUE_DATABASE_URL)' if shared else settings.db}")
    try:
        check = ctx.store.quick_check()
    except Exception as exc:
        check = f"failed: {exc}"
    click.echo(f"  integrity  {check}")
    ok &= check == "ok"
    click.echo(f"team         {len(settings.team)} members; me = {settings.me or '(not set)'}")
    if team_client(settings):
        # A client needs no tokens: the team service polls and sends; check that it does.
        line, fine = _service_line(ctx)
        click.echo(f"service      {'ok' if fine else 'WARNING'}: {line}")
        if not settings.me:
            click.echo("  me         not set: your actions are queued unsigned, and your snoozes and drafts "
                       "are shared with everyone else who has no `me`")
        sys.exit(0 if ok and fine else 1)
    sources = build_sources(settings)
    if not sources:
        click.echo("sources      none configured (IDQUEUE_GITHUB_TOKEN/REPOS, IDQUEUE_SLACK_TOKEN/CHANNELS)")
        ok = False
    quiet_library_logs()
    failed: set[str] = set()
    for source in sources:
        label = source.kind.value
        try:
            facts = source.check()
        except SourceError as exc:
            ok = False
            failed.add(label)
            click.echo(f"{label:<12} FAILED: {sanitize_terminal(redact(exc.title), keep_newlines=False)}")
            continue
        except Exception as exc:  # a bug must not hide the other checks behind a traceback
            ok = False
            failed.add(label)
            what = redact(f"unexpected error: {type(exc).__name__}: {exc}")
            click.echo(f"{label:<12} FAILED: {one_line(what, 200)}")
            continue
        finally:
            source.close()
        click.echo(f"{label:<12} ok")
        print_facts(facts)
        integration = registry.find(label)
        scope_lines = integration.scope_lines(facts) if integration is not None else []
        for line in scope_lines:
            click.echo(f"  {line}")
        ok &= not any(line.startswith("missing") for line in scope_lines)
    ok &= _extra_checks(settings, failed=failed)
    sys.exit(0 if ok else 1)


def _service_line(ctx: Context) -> tuple[str, bool]:
    """What the team service last reported, as one line for a client, and whether all is well."""
    from datetime import UTC
    from zoneinfo import ZoneInfo

    from idqueue.team_state import describe_service, read_service_state

    try:
        state = read_service_state(ctx.store)
    except database_errors() as exc:
        return f"team service: cannot read its state: {describe_db_error(exc)}", False
    line, fine = describe_service(state, datetime.now(UTC), ZoneInfo(ctx.settings.sla.calendar.timezone))
    return sanitize_terminal(line, keep_newlines=False), fine


def print_facts(facts: dict[str, Any], *, indent: int = 2) -> None:
    """A source's doctor facts as readable lines: nested maps one line per entry, no reprs."""
    for key, value in facts.items():
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            click.echo(f"{' ' * indent}{sanitize_terminal(key, keep_newlines=False)}")
            for name, sub in value.items():
                check_line(str(name), sub, indent=indent + 2, width=20)
        else:
            check_line(key, value, indent=indent, width=10)


def _extra_checks(settings: Any, *, failed: set[str]) -> bool:
    """Each integration's own checks beyond its reader's (e.g. a backlog destination, an
    app-level token for live updates).

    An integration whose reader check already failed is not checked again: it would only say
    the same thing again.
    """
    from idqueue.integrations import registry

    ok = True
    for integration in registry.integrations():
        for check in integration.run_checks(settings, skip=integration.name in failed):
            ok &= check.ok
            check_line(f"{integration.name} {check.name}", ("ok: " if check.ok else "FAILED: ") + check.detail,
                       width=20)
    return ok


@click.command()
@click.option("--empty", is_flag=True, help="Start the emulators without the seeded month.")
@click.option("--profile", type=click.Choice(["internal", "non_marketplace"]), default="internal",
              help="Slack rate-limit profile.")
@click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the variables to this dotenv file (removed when the sandbox stops).")
@click.option("--print-env", is_flag=True,
              help='Start the sandbox in the background and print only shell lines: eval "$(idqueue sandbox --print-env)".')
@click.option("--team", type=click.Choice(TEAMS), default="identity", show_default=True, help=TEAMS_HELP)
def sandbox(empty: bool, profile: str, env_file: Path | None, print_env: bool, team: str) -> None:
    """Run the loopback emulators of a team's systems in the foreground (``--team``: the identity
    team's Slack + GitHub, or the consultancy's mailbox + Trello boards).

    Prints the IDQUEUE_* variables (shell-quoted ``export`` lines) that point a second shell
    at them, with a database of its own (the sandbox's temporary folder) so your real one is
    never touched. ``--print-env`` runs the sandbox in the background instead and prints only
    lines a shell can ``eval``.
    """
    if print_env:
        _sandbox_in_background(empty=empty, profile=profile, team=team)
        return
    # ``kill PID`` (SIGTERM) must stop the emulators and remove the files like Ctrl-C does.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    sb = start_sandbox(team, seed=not empty, slack_profile=profile)
    folder = Path(tempfile.mkdtemp(prefix="idqueue-sandbox-"))
    try:
        env = {**sb.env(), "IDQUEUE_DB": str(folder / "sandbox.db")}
        if env_file is not None:
            write_env_file(env_file, env)
        click.echo("# idqueue sandbox is running; in another shell paste these lines, or run")
        click.echo("# eval \"$(idqueue sandbox --print-env)\" there instead of this command.")
        for line in export_lines(env):
            click.echo(line)
        click.echo("# Then: idqueue sync --once && idqueue list   (or just: idqueue)")
        click.echo("# Ctrl-C stops it.")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sb.stop()
        if env_file is not None:
            env_file.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def export_lines(env: dict[str, str]) -> list[str]:
    """``export KEY=VALUE`` lines with every value quoted for POSIX shells (JSON included)."""
    return [f"export {key}={shlex.quote(value)}" for key, value in env.items()]


def write_env_file(path: Path, env: dict[str, str]) -> None:
    """Write a dotenv file (``KEY='value'``; ``set -a; . FILE`` reads it too), atomically, mode 0600."""
    text = "".join(f"{key}={shlex.quote(value)}\n" for key, value in env.items())
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(partial, path)


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of a file written by :func:`write_env_file`."""
    env: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            env[key.strip()] = shlex.split(value)[0] if value else ""
    return env


def _sandbox_in_background(*, empty: bool, profile: str, team: str = "identity", timeout: float = 60.0) -> None:
    """Start ``idqueue sandbox --env-file …`` detached, wait for its variables, print them."""
    folder = Path(tempfile.mkdtemp(prefix="idqueue-sandbox-env-"))
    env_file = folder / "sandbox.env"
    args = [sys.executable, "-m", "idqueue", "sandbox", "--env-file", str(env_file), "--profile", profile,
            "--team", team]
    if empty:
        args.append("--empty")
    child = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not env_file.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            shutil.rmtree(folder, ignore_errors=True)
            raise CliError("the sandbox did not start (run `idqueue sandbox` to see why)")
        time.sleep(0.05)
    env = read_env_file(env_file)
    shutil.rmtree(folder, ignore_errors=True)  # the variables are printed; the child's unlink is a no-op
    for line in export_lines(env):
        click.echo(line)
    # A plain shell variable (not exported, not IDQUEUE_*): the config never sees it.
    click.echo(f"idqueue_sandbox_pid={child.pid}")
    click.echo(f"# idqueue sandbox runs in the background; stop it with: kill {child.pid}  (or kill $idqueue_sandbox_pid)")


COMMANDS = [sync, list_cmd, show, doctor, sandbox]
