"""Entry points that open the TUI: ``idqueue`` (configured sources), ``idqueue demo`` (sandbox),
and ``idqueue run-default`` (``make run``: the sandbox when no tokens are configured)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import click

from idqueue.commands.base import CliError, Context, fail_config, pass_ctx
from idqueue.config import ConfigError, check_keymap
from idqueue.integrations import registry
from idqueue.sandbox.teams import TEAMS, TEAMS_HELP, start_sandbox

# The flat env-var aliases (IDQUEUE_GITHUB_TOKEN, …) are folded into the nested sections after
# validation; the sandbox must neutralise them so a real token or API root never reaches (or
# replaces) the loopback emulators.
_NEUTRALISE = {
    # The tokens are passed by their first alias: it wins over GITHUB_TOKEN/GH_TOKEN/SLACK_BOT_TOKEN.
    "IDQUEUE_GITHUB_TOKEN": None,
    "github_base_url": None,
    "github_repos": None,
    "github_label": None,
    "IDQUEUE_SLACK_TOKEN": None,
    "slack_base_url": None,
    "slack_channels": None,
}


def _quiet_logging() -> None:
    """Route log records to Textual's devtools console instead of the terminal under the UI."""
    from textual.logging import TextualHandler

    from idqueue.safety import install_log_redaction

    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(TextualHandler())
    root.setLevel(logging.WARNING)
    install_log_redaction()


def sandbox_settings(sandbox: Any, db: Path, base: dict[str, Any] | None = None) -> Any:
    """Settings pointing at a running sandbox, with a fresh database."""
    from idqueue.config import load_settings

    overrides = {**(base or {}), **_NEUTRALISE, **sandbox.settings_overrides(), "db": db}
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        raise CliError(f"cannot configure the sandbox: {exc}") from exc


def open_tui(ctx: Context, *, sandbox: bool, team: str = "identity") -> None:
    """Open the TUI on the configured sources, or on the built-in sandbox.

    The sandbox starts its emulators in this process (seeded with the team's support month,
    frozen at ``IDQUEUE_NOW`` when set) and uses a fresh temporary database for each run.
    """
    from idqueue.app import IdqueueApp, binding_contexts

    settings = ctx.settings
    _quiet_logging()
    if settings.ui.keymap:  # the built-in keys never conflict: only a remap needs checking
        try:
            check_keymap(settings.ui.keymap, binding_contexts(settings.ui.keymap))
        except ConfigError as exc:
            fail_config(str(exc))
    if not sandbox:
        # A shell pointed at a running `idqueue sandbox` (IDQUEUE_SANDBOX=true) shows the banner too.
        IdqueueApp.build(settings, store=ctx.store, sandbox=settings.sandbox).run()
        return

    frozen = None
    if settings.now:
        from idqueue.clock import now as clock_now

        frozen = clock_now(settings)
    sb = start_sandbox(team, now=frozen)
    try:
        with tempfile.TemporaryDirectory(prefix="idqueue-demo-") as tmp:
            base = {"now": settings.now, "ui": settings.ui.model_dump()}
            demo = sandbox_settings(sb, Path(tmp) / "demo.db", base)
            app = IdqueueApp.build(demo, sandbox=True)
            try:
                app.run()
            finally:
                app.ctx.store.close()
    finally:
        sb.stop()


@click.command("demo")
@click.option("--team", type=click.Choice(TEAMS), default="identity", show_default=True, help=TEAMS_HELP)
@pass_ctx
def demo(ctx: Context, team: str) -> None:
    """Open the TUI on the built-in sandbox (loopback emulators of the team's systems)."""
    open_tui(ctx, sandbox=True, team=team)


@click.command("run-default", hidden=True)
@pass_ctx
def run_default(ctx: Context) -> None:
    """``make run``: the configured sources when tokens are set, else the sandbox."""
    open_tui(ctx, sandbox=not registry.any_configured(ctx.settings))


COMMANDS: list[click.Command] = [demo, run_default]
