"""``idqueue web``: the queue in a browser (one idqueue TUI per browser session, via textual-serve)."""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from idqueue.commands.base import CliError, CliSetupError, Context, pass_ctx
from idqueue.config import Settings
from idqueue.sandbox.teams import TEAMS, TEAMS_HELP, start_sandbox


@click.command("web")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8081, show_default=True,
              help="Port to listen on (0: any free port; the address is printed).")
@click.option("--insecure-no-auth", is_flag=True,
              help="No sign-in, every session as your own `me` (only with a loopback --host).")
@click.option("--sandbox", is_flag=True, help="Serve the built-in sandbox (a seeded month on loopback emulators).")
@click.option("--team", type=click.Choice(TEAMS), default="identity", show_default=True,
              help=f"The sandbox's team (with --sandbox). {TEAMS_HELP}")
@pass_ctx
def web_cmd(ctx: Context, host: str, port: int, insecure_no_auth: bool, sandbox: bool, team: str) -> None:
    """Serve the queue to browsers: each browser session runs idqueue on this configuration and
    database, as the signed-in person (read-only for anyone not on the roster).

    Sign-in is required: [web] secret or [web.tokens], or [web] trusted_header behind an
    authenticating reverse proxy (see README: The queue in a browser).
    """
    from idqueue.service.web import WebError, check_can_start

    settings = ctx.settings
    try:
        check_can_start(settings, host=host, insecure_no_auth=insecure_no_auth)
    except WebError as exc:
        raise CliSetupError(str(exc)) from None
    if sandbox:
        with _sandbox(settings, team) as (served, env):
            _serve(served, host=host, port=port, insecure_no_auth=insecure_no_auth, env=env)
    else:
        _serve(settings, host=host, port=port, insecure_no_auth=insecure_no_auth, env={})


def _serve(settings: Settings, *, host: str, port: int, insecure_no_auth: bool, env: dict[str, str]) -> None:
    from idqueue.service.web import build_web_app

    app = build_web_app(settings, insecure_no_auth=insecure_no_auth, env=env)
    how = ("no sign-in (loopback only)" if insecure_no_auth and not _signs_in(settings)
           else "sign in with the team secret or your token" if settings.web.secret or settings.web.tokens
           else f"signed in by the proxy's {settings.web.trusted_header} header")

    def ready(url: str) -> None:
        click.echo(f"idqueue web: {url} ({how}); Ctrl-C stops it", err=False)

    asyncio.run(_run_until_stopped(app, host=host, port=port, ready=ready))


def _signs_in(settings: Settings) -> bool:
    web = settings.web
    return web.secret is not None or bool(web.tokens) or web.trusted_header is not None


async def _run_until_stopped(app: Any, *, host: str, port: int, ready: Callable[[str], None]) -> None:
    """Listen until SIGINT/SIGTERM, then end every browser session and stop."""
    from idqueue.service.web import WebRunner

    runner = WebRunner(app, host=host, port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await runner.start()
        ready(runner.url)
        await stop.wait()
    finally:
        await runner.stop()


@contextmanager
def _sandbox(settings: Settings, team: str) -> Iterator[tuple[Settings, dict[str, str]]]:
    """Start the team's sandbox, sync its month once into a fresh database, and yield the
    settings to serve with and the variables that point every session at it.

    The sessions read an empty config file: your own (tokens, other systems) never reaches them.
    """
    from idqueue.commands.tui_cmds import sandbox_settings
    from idqueue.store.db import Store
    from idqueue.sync import SyncEngine, build_sources

    frozen = None
    if settings.now:
        from idqueue.clock import now as clock_now

        frozen = clock_now(settings)
    sb = start_sandbox(team, now=frozen)
    folder = Path(tempfile.mkdtemp(prefix="idqueue-web-"))
    try:
        db = folder / "sandbox.db"
        config = folder / "config.toml"
        config.write_text("", encoding="utf-8")
        served = sandbox_settings(sb, db, {"now": settings.now}).model_copy(update={"web": settings.web})
        store = Store.open(db, key_prefix=served.ui.key_prefix)
        try:
            report = SyncEngine(store, build_sources(served), served).poll()
        finally:
            store.close()
        if report.errors:
            raise CliError(f"the sandbox did not sync: {report.errors[0]}")
        yield served, {**sb.env(), "IDQUEUE_DB": str(db), "IDQUEUE_CONFIG_FILE": str(config)}
    finally:
        sb.stop()
        shutil.rmtree(folder, ignore_errors=True)


COMMANDS: list[click.Command] = [web_cmd]
