"""The status bar: per-source health, last sync time, outbox backlog and poll activity."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar
from zoneinfo import ZoneInfo

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from idqueue.safety import one_line
from idqueue.sync import SourceHealth

_HEALTH_CLASS = {
    "ok": "ok",
    "idle": "dim",
    "rate_limited": "warning",
    "auth_failed": "error",
    "offline": "error",
    "error": "error",
}


class StatusBar(Static):
    """One line at the bottom of the queue screen (state colours come from ``app.tcss``)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-bar--ok",
        "status-bar--warning",
        "status-bar--error",
        "status-bar--dim",
        "status-bar--sandbox",
    }

    def __init__(self, *, timezone: str, sandbox: bool = False, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self._tz = ZoneInfo(timezone)
        self.sandbox = sandbox
        self.health: list[SourceHealth] = []
        self.last_sync: datetime | None = None
        self.pending = 0
        self.failed = 0
        self.polling = False
        self.message = ""
        self.outbox_key = "O"
        """The key that opens the outbox screen (hinted next to the counts)."""
        self.live: tuple[str, bool] | None = None
        """Slack Socket Mode: (label, live) — "Slack live" / "Slack polling (…)"; None hides it.
        In a client of the team service: the service's line ("team service: active on …")."""
        self.client = False
        """A client of the team service: the sources are the service's, not configured here."""

    def on_mount(self) -> None:
        self._redraw()

    def set_health(self, health: Sequence[SourceHealth], last_sync: datetime | None) -> None:
        """Show each source's state and the last successful sync."""
        self.health = list(health)
        self.last_sync = last_sync
        self._redraw()

    def set_outbox(self, pending: int, failed: int) -> None:
        """Show how many actions are waiting to be sent / have failed."""
        self.pending, self.failed = pending, failed
        self._redraw()

    def set_live(self, label: str | None, live: bool = False) -> None:
        """Show whether Slack changes arrive instantly (Socket Mode) or by polling; None hides it."""
        self.live = (label, live) if label else None
        self._redraw()

    def set_polling(self, polling: bool, message: str = "") -> None:
        """Show that a poll is running (and optional progress text)."""
        self.polling, self.message = polling, message
        self._redraw()

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"status-bar--{name}", partial=True)

    def _redraw(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.sandbox:
            text.append(" SANDBOX ", self._style("sandbox"))
            text.append(" ")
        if not self.health and not self.client:
            text.append("no sources configured", self._style("dim"))
        for index, health in enumerate(self.health):
            if index:
                text.append("  ")
            state = _HEALTH_CLASS.get(health.state, "dim")
            text.append("● ", self._style(state))
            text.append(one_line(health.describe(self._tz), 80))
            if health.threads_skipped:
                # Never silent: threads the poll's budget could not re-check may hide replies.
                text.append(f" · {threads_unchecked(health.threads_skipped)}", self._style("warning"))
        if self.live is not None:
            if self.health or not self.client:
                text.append("  ")
            text.append(one_line(self.live[0], 60), self._style("ok") if self.live[1] else self._style("warning"))
        text.append(" │ ", self._style("dim"))
        if self.last_sync is not None:
            text.append(f"synced {self.last_sync.astimezone(self._tz).strftime('%H:%M')}")
        else:
            text.append("not synced yet", self._style("dim"))
        if self.polling:
            text.append("  ⟳ syncing", self._style("dim"))
            if self.message:
                text.append(f" {one_line(self.message, 40)}", self._style("dim"))
        text.append(" │ ", self._style("dim"))
        if self.pending or self.failed:
            text.append(f"outbox: {self.pending} pending", self._style("warning") if self.pending else Style())
            if self.failed:
                text.append(f", {self.failed} failed", self._style("error"))
            if self.outbox_key:
                text.append(f" ({self.outbox_key} to view)", self._style("dim"))
        else:
            text.append("outbox: all sent", self._style("dim"))
        self.update(text)


def threads_unchecked(count: int) -> str:
    """``12 threads unchecked`` (``1 thread unchecked``): open threads a poll's budget skipped."""
    return f"{count} thread{'s' if count != 1 else ''} unchecked"
