"""Snooze until: 1 hour, tomorrow 9:00, next Monday 9:00, or a custom time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

_RELATIVE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class SnoozeChoice:
    """The chosen snooze end (None = unsnooze)."""

    until: datetime | None


def parse_until(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """``3h`` / ``2d`` / ``45m`` / ``1w``, ``YYYY-MM-DD`` (9:00) or ``YYYY-MM-DD HH:MM`` in the team's timezone."""
    m = _RELATIVE.match(text)
    if m:
        return now + timedelta(**{_UNITS[m.group(2).lower()]: int(m.group(1))})
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(text.strip(), fmt)  # noqa: DTZ007 - made aware just below
        except ValueError:
            continue
        if fmt == "%Y-%m-%d":
            parsed = parsed.replace(hour=9)
        return parsed.replace(tzinfo=tz).astimezone(UTC)
    return None


def presets(now: datetime, tz: ZoneInfo) -> list[tuple[str, str, datetime]]:
    """``(id, label, until)`` for the usual choices."""
    local = now.astimezone(tz)
    tomorrow = datetime.combine(local.date() + timedelta(days=1), time(9, 0), tzinfo=tz)
    days = (7 - local.weekday()) % 7 or 7
    monday = datetime.combine(local.date() + timedelta(days=days), time(9, 0), tzinfo=tz)
    return [
        ("1h", "For 1 hour", now + timedelta(hours=1)),
        ("tomorrow", f"Until tomorrow 9:00 ({tomorrow:%a %d %b})", tomorrow.astimezone(UTC)),
        ("monday", f"Until next Monday 9:00 ({monday:%d %b})", monday.astimezone(UTC)),
    ]


class SnoozeScreen(ModalScreen[SnoozeChoice | None]):
    """Hide a request from the queue until a time (local only; teammates still see it).

    Args:
        now: the current time.
        timezone: the team's timezone (for "tomorrow 9:00").
        snoozed: the request is snoozed now (offers "unsnooze").
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="snooze.cancel")]

    def __init__(self, now: datetime, timezone: str, *, snoozed: bool = False) -> None:
        super().__init__(classes="modal")
        self.now = now
        self.tz = ZoneInfo(timezone)
        self.snoozed = snoozed
        self._presets = presets(now, self.tz)

    def compose(self) -> ComposeResult:
        options = [Option(Text(label), id=key) for key, label, _ in self._presets]
        options.append(Option(Text("Custom…"), id="custom"))
        if self.snoozed:
            options.append(Option(Text("Unsnooze (show it again now)"), id="clear"))
        with Vertical(classes="dialog dialog-small"):
            yield Label(Text("Snooze until"), classes="dialog-title")
            yield OptionList(*options, id="choices")
            yield Input(placeholder="3h · 2d · 2026-03-20 · 2026-03-20 14:00", id="custom")
            yield Label(Text("Snoozed requests leave your queue until then (only on this machine)."),
                        classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#custom", Input).display = False
        self.query_one("#choices", OptionList).focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id == "custom":
            field = self.query_one("#custom", Input)
            field.display = True
            field.focus()
            return
        if event.option.id == "clear":
            self.dismiss(SnoozeChoice(None))
            return
        until = next(u for key, _, u in self._presets if key == event.option.id)
        self.dismiss(SnoozeChoice(until))

    @on(Input.Submitted, "#custom")
    def _custom(self, event: Input.Submitted) -> None:
        until = parse_until(event.value, self.now, self.tz)
        if until is None or until <= self.now:
            self.notify("Use 3h, 2d, 1w, YYYY-MM-DD or YYYY-MM-DD HH:MM (in the future).", severity="warning")
            return
        self.dismiss(SnoozeChoice(until))

    def action_cancel(self) -> None:
        """Close without snoozing."""
        self.dismiss(None)
