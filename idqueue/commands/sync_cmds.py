"""Foundation commands: sync, list, show, doctor, sandbox."""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from idqueue.cli import CliError, Context, pass_ctx
from idqueue.clock import now as clock_now
from idqueue.domain.models import Request, iso
from idqueue.safety import one_line, redact, sanitize_terminal
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
    except sqlite3.Error as exc:
        # Each batch is one transaction, so what was committed before stays consistent.
        raise CliError(f"the local database failed during sync: {exc}") from None
    finally:
        for source in sources:
            source.close()
    if not quiet and sys.stderr.isatty():
        click.echo("\r", nl=False, err=True)
    for source_report in report.sources:
        line = sanitize_terminal(redact(source_report.summary()), keep_newlines=False)
        click.echo(line, err=source_report.error is not None)
    return 1 if report.errors else 0


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
@pass_ctx
def sync(ctx: Context, once: bool, quiet: bool) -> None:
    """Poll Slack and GitHub into the local store."""
    if once:
        sys.exit(run_sync(ctx, quiet=quiet))
    sync_forever(ctx, quiet=quiet)


def sync_forever(ctx: Context, *, quiet: bool = False, rounds: int | None = None,
                 after_round: Callable[[int], None] | None = None) -> None:
    """Poll every ``ui.poll_interval`` seconds — sooner when Slack Socket Mode reports a change.

    With an app-level token, a Slack event ends the wait early (a change during a poll makes the
    next one start right after it); polling stays the fallback and the only thing that writes
    the store.

    Args:
        ctx: the CLI context.
        quiet: no progress or Socket Mode lines.
        rounds: stop after this many polls (tests); None polls until interrupted.
        after_round: called with the number of polls done after each one (tests).
    """
    from idqueue.sync import ReadFirst

    interval = ctx.settings.ui.poll_interval
    quiet_library_logs()  # Socket Mode states get their own lines; SDK log records stay quiet
    wake = threading.Event()
    read_first = ReadFirst()
    events = _start_slack_events(ctx, wake.set, quiet=quiet, on_thread=read_first.add)
    done = 0
    try:
        while rounds is None or done < rounds:
            wake.clear()
            run_sync(ctx, quiet=quiet, read_first=read_first)
            done += 1
            if after_round is not None:
                after_round(done)
            if rounds is not None and done >= rounds:
                break
            wake.wait(interval)
    finally:
        if events is not None:
            events.stop()


def _start_slack_events(ctx: Context, on_event: Callable[[], None], *, quiet: bool,
                        on_thread: Callable[[str], None] | None = None) -> Any:
    """Start Slack Socket Mode when an app-level token is configured (None otherwise)."""
    from idqueue.sources.slack_socket import (
        LiveHealth,
        LiveState,
        SlackEvents,
        socket_mode_configured,
    )

    if not socket_mode_configured(ctx.settings):
        return None

    def report(health: LiveHealth) -> None:
        if quiet or health.state in (LiveState.CONNECTING, LiveState.OFF):
            return
        if health.live:
            line = "Slack Socket Mode: connected; Slack changes sync at once"
        elif health.state is LiveState.RECONNECTING:
            line = "Slack Socket Mode: reconnecting; polling meanwhile"
        else:
            line = f"Slack Socket Mode: {health.describe()}; polling every {ctx.settings.ui.poll_interval:g} s"
        click.echo(sanitize_terminal(redact(line), keep_newlines=False), err=True)

    events = SlackEvents(ctx.settings, on_event, on_health=report, on_thread=on_thread)
    events.start()
    return events


STATUS_CHOICES = ["new", "acknowledged", "assigned", "pending", "resolved", "closed", "backlog", "deleted"]


@click.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array (the documented contract).")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUS_CHOICES), help="Only this status (repeatable).")
@click.option("--type", "types", multiple=True, help="Only this request type (repeatable).")
@click.option("--source", "sources", multiple=True, type=click.Choice(["github", "slack"]), help="Only this source.")
@click.option("--all", "include_closed", is_flag=True, help="Include closed, backlog and resolved requests.")
@click.option("--mine", is_flag=True, help="Only requests assigned to you (settings `me`) or unassigned.")
@click.option("--search", default="", help="Full-text search in titles, bodies and intake fields.")
@click.option("--limit", type=int, default=None, help="At most this many rows.")
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
    limit: int | None,
) -> None:
    """List requests in queue order (breached first, then at-risk, priority, age)."""
    from idqueue.store.queue import QueueQuery, fetch_window

    now = clock_now(ctx.settings)
    if mine and not ctx.settings.me:
        raise CliError("--mine needs `me` set in the config (your roster key)")
    query = QueueQuery(
        include_closed=include_closed,
        statuses=statuses,
        types=types,
        sources=sources,
        mine=ctx.settings.me if mine else None,
        search=search,
    )
    requests = fetch_window(ctx.store, query, now=now, offset=0, limit=limit or -1)
    if as_json:
        click.echo(json.dumps([request_json(r, ctx, now) for r in requests], ensure_ascii=False, indent=1))
        return
    if not requests:
        click.echo("No requests match.")
        return
    for r in requests:
        remaining = live_remaining(r, ctx, now)
        sla = r.sla.state.replace("_", "-")
        if remaining is not None and r.sla.state in ("ok", "at_risk", "breached"):
            from idqueue.domain.sla import describe_remaining

            sla = f"{sla} {describe_remaining(remaining)}"
        click.echo(
            f"{r.key:<9} {r.priority:<3} {sla:<18} {one_line(r.type, 22):<22} {r.status.value:<12} "
            f"{one_line(r.assignee or '-', 10):<10} {one_line(r.title, 70)}"
        )


@click.command()
@click.argument("request_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (request, fields, timeline).")
@pass_ctx
def show(ctx: Context, request_id: str, as_json: bool) -> None:
    """Show one request: fields, parsed intake fields, why its type/priority, SLA, timeline.

    REQUEST_ID is gh:OWNER/REPO#N, slack:CHANNEL/TS, or the short key (REQ-12).
    """
    request = ctx.store.get_request(request_id)
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
    click.echo(f"{request.key}  {request.id}")
    click.echo(f"  {one_line(request.title)}")
    click.echo(f"  status    {request.status.value} ({request.status_reason})")
    click.echo(f"  type      {one_line(request.type)} — {one_line(request.type_reason)}")
    click.echo(f"  priority  {request.priority} — {one_line(request.priority_reason)}")
    remaining = live_remaining(request, ctx, now)
    click.echo(f"  SLA       {request.sla.state} — {one_line(request.sla.reason)}")
    if request.sla.first_response_due:
        click.echo(f"            first response due {iso(request.sla.first_response_due)}")
    if request.sla.resolution_due:
        click.echo(f"            resolution due {iso(request.sla.resolution_due)}")
    if remaining is not None:
        click.echo(f"            remaining {remaining / 3600:.1f} business h")
    click.echo(f"  requester {one_line(request.requester.name if request.requester else '-')}")
    click.echo(f"  assignee  {one_line(request.assignee or '-')}")
    click.echo(f"  created   {iso(request.created_at)}   first response {iso(request.first_response_at) or '-'}")
    if request.labels:
        click.echo(f"  labels    {one_line(', '.join(request.labels))}")
    for name, url in request.links.items():
        click.echo(f"  {name:<9} {one_line(url)}")
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
        click.echo(f"  {iso(e.at)}  {e.source.value:<6} {e.kind.value:<10} {who:<24} {text}")


@click.command()
@pass_ctx
def doctor(ctx: Context) -> None:
    """Check config, tokens and scopes, reachability and rate limits."""
    from idqueue.sources.base import SourceError
    from idqueue.sync import build_sources

    settings = ctx.settings
    ok = True
    click.echo(f"config file  {settings.config_file or '(none; env and defaults)'}")
    click.echo(f"database     {settings.db}")
    try:
        check = ctx.store.quick_check()
    except Exception as exc:
        check = f"failed: {exc}"
    click.echo(f"  integrity  {check}")
    ok &= check == "ok"
    click.echo(f"team         {len(settings.team)} members; me = {settings.me or '(not set)'}")
    sources = build_sources(settings)
    if not sources:
        click.echo("sources      none configured (IDQUEUE_GITHUB_TOKEN/REPOS, IDQUEUE_SLACK_TOKEN/CHANNELS)")
        ok = False
    quiet_library_logs()
    for source in sources:
        label = source.kind.value
        try:
            facts = source.check()
        except SourceError as exc:
            ok = False
            click.echo(f"{label:<12} FAILED: {sanitize_terminal(redact(exc.title), keep_newlines=False)}")
            continue
        except Exception as exc:  # a bug must not hide the other checks behind a traceback
            ok = False
            what = redact(f"unexpected error: {type(exc).__name__}: {exc}")
            click.echo(f"{label:<12} FAILED: {one_line(what, 200)}")
            continue
        finally:
            source.close()
        click.echo(f"{label:<12} ok")
        for key, value in facts.items():
            click.echo(f"  {key:<10} {sanitize_terminal(redact(str(value)), keep_newlines=False)}")
    sys.exit(0 if ok else 1)


@click.command()
@click.option("--empty", is_flag=True, help="Start the emulators without the seeded month.")
@click.option("--profile", type=click.Choice(["internal", "non_marketplace"]), default="internal",
              help="Slack rate-limit profile.")
def sandbox(empty: bool, profile: str) -> None:
    """Run the loopback Slack/GitHub emulators in the foreground.

    Prints the IDQUEUE_* variables that point a second shell at them.
    """
    from idqueue.sandbox.runner import Sandbox

    sb = Sandbox.start(seed=not empty, slack_profile=profile)
    try:
        click.echo("# idqueue sandbox is running; in another shell:")
        for key, value in sb.env().items():
            click.echo(f"export {key}={value}")
        click.echo("# Ctrl-C stops it.")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sb.stop()


COMMANDS = [sync, list_cmd, show, doctor, sandbox]
