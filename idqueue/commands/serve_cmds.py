"""``idqueue serve``: the team's one service (team mode)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import sys

import click

from idqueue.commands.base import CliError, Context, pass_ctx
from idqueue.integrations import registry
from idqueue.safety import RedactingFilter


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address of the HTTP endpoints (/healthz, /metrics). Loopback by default.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port of the HTTP endpoints (0: any free port; the log line says which).")
@pass_ctx
def serve(ctx: Context, host: str, port: int) -> None:
    """Run the team service: poll every integration, send the outbox, serve /healthz and /metrics.

    One service per team does all the talking to Slack, GitHub and the others; teammates' idqueue
    only read the shared database and queue actions. Start two on one database and one is active
    while the other waits as a standby, taking over within seconds when the active one dies.
    Runs until SIGTERM or Ctrl-C.
    """
    from aiohttp.web import RouteDef

    from idqueue.service.http import build_app, serve_forever
    from idqueue.service.leader import leadership_for
    from idqueue.service.metrics import ServiceMetrics
    from idqueue.service.runner import ServiceRunner

    settings = ctx.settings
    if not registry.any_configured(settings):
        raise CliError("no sources configured: `idqueue serve` polls the team's integrations; configure at "
                       "least one (see `idqueue doctor`), or try it on `idqueue sandbox --print-env`")
    _log_to_stderr()
    metrics = ServiceMetrics()
    runner = ServiceRunner(settings, ctx.store, leadership_for(settings), metrics=metrics)
    extra_routes: list[RouteDef] = []
    # The webhook receivers and the browser view plug in here: their routes join extra_routes, and
    # the receivers get runner.read_first and runner.wake (and metrics.use_webhook_stats).
    app = build_app(runner, metrics, extra_routes=extra_routes)
    if not _is_loopback(host):
        click.echo(f"serve: listening on {host}, not loopback: anyone who reaches it can read /healthz "
                   "and /metrics (no secrets are in them)", err=True)
    try:
        asyncio.run(serve_forever(app, runner, host=host, port=port, on_listening=_listening))
    except OSError as exc:
        raise CliError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    click.echo("serve: stopped", err=True)


def _listening(host: str, port: int) -> None:
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"serve: listening on http://{shown}:{port} (/healthz, /metrics)", err=True)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _log_to_stderr() -> None:
    """The service's log lines on stderr, timestamped and redacted; other libraries stay quiet.

    ``idqueue.service`` logs at INFO (role changes, poll summaries, sends); the rest of idqueue
    only warnings (the poll summary already says what failed, so the sync engine's own warning
    is not repeated). Library loggers get no handler: httpx logs request URLs at INFO.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger("idqueue")
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("idqueue.service").setLevel(logging.INFO)
    logging.getLogger("idqueue.sync").setLevel(logging.ERROR)


COMMANDS = [serve]
