"""``idqueue serve``: the team's one service (team mode)."""

from __future__ import annotations

import asyncio
import logging
import sys

import click

from idqueue.commands.base import CliError, CliSetupError, Context, pass_ctx
from idqueue.config import Settings
from idqueue.integrations import registry
from idqueue.safety import RedactingFilter
from idqueue.service.http import Site
from idqueue.service.net import is_loopback


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address of the HTTP endpoints (/healthz, /metrics). Loopback by default.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port of the HTTP endpoints (0: any free port; the log line says which).")
@click.option("--web", is_flag=True, help="Also serve the queue to browsers (as `idqueue web`; sign-in required).")
@click.option("--web-host", default="127.0.0.1", show_default=True, help="Address of the browser view (with --web).")
@click.option("--web-port", type=click.IntRange(0, 65535), default=8081, show_default=True,
              help="Port of the browser view (with --web; 0: any free port).")
@pass_ctx
def serve(ctx: Context, host: str, port: int, web: bool, web_host: str, web_port: int) -> None:
    """Run the team service: poll every integration, send the outbox, serve /healthz and /metrics.

    One service per team does all the talking to Slack, GitHub and the others; teammates' idqueue
    only read the shared database and queue actions. Start two on one database and one is active
    while the other waits as a standby, taking over within seconds when the active one dies.
    Webhook receivers (/hooks/<system>) are served for every system whose [webhooks] secret is
    set; with --web the browser view listens on its own port. Runs until SIGTERM or Ctrl-C.
    """
    from idqueue.config import ConfigError
    from idqueue.service.http import build_app, serve_forever
    from idqueue.service.leader import leadership_for
    from idqueue.service.metrics import ServiceMetrics
    from idqueue.service.runner import ServiceRunner
    from idqueue.service.webhooks import WebhookReceivers

    settings = ctx.settings
    if not registry.any_configured(settings):
        raise CliError("no sources configured: `idqueue serve` polls the team's integrations; configure at "
                       "least one (see `idqueue doctor`), or try it on `idqueue sandbox --print-env`")
    sites = [_web_view(settings, web_host, web_port)] if web else []
    _log_to_stderr()
    metrics = ServiceMetrics()
    runner = ServiceRunner(settings, ctx.store, leadership_for(settings), metrics=metrics)
    try:
        receivers = WebhookReceivers(settings, runner.read_first, runner.wake)
    except ConfigError as exc:
        raise CliSetupError(f"invalid configuration: {exc}") from None
    metrics.use_webhook_stats(lambda: receivers.stats)
    app = build_app(runner, metrics, extra_routes=receivers.routes())
    if not is_loopback(host):
        click.echo(f"serve: listening on {host}, not loopback: anyone who reaches it can read /healthz "
                   "and /metrics (no secrets are in them)", err=True)
    try:
        asyncio.run(serve_forever(app, runner, host=host, port=port, on_listening=_listening, sites=sites))
    except OSError as exc:
        raise CliError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    click.echo("serve: stopped", err=True)


def _listening(host: str, port: int) -> None:
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"serve: listening on http://{shown}:{port} (/healthz, /metrics, /hooks/…)", err=True)


def _web_view(settings: Settings, host: str, port: int) -> Site:
    """The browser view as a site of the service (refused at once when sign-in is not set up)."""
    from idqueue.service.web import WebError, WebRunner, build_web_app, check_can_start

    try:
        check_can_start(settings, host=host, insecure_no_auth=False)
    except WebError as exc:
        raise CliSetupError(str(exc)) from None
    view = WebRunner(build_web_app(settings), host=host, port=port)

    def ready() -> None:
        click.echo(f"serve: browser view on {view.url}", err=True)

    return Site(view.start, view.stop, ready)


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
