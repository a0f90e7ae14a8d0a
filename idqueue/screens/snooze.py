"""Snooze until: 1 hour, tomorrow 9:00, next Monday 9:00, or a natural custom time (resolved as you type)."""

from __future__ import annotations

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

from idqueue.config import CalendarConfig
from idqueue.domain.when import EXAMPLES, describe_when, parse_when


@dataclass(frozen=True)
class SnoozeChoice:
    """The chosen snooze end (None = unsnooze)."""

    until: datetime | None


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

    def __init__(self, now: datetime, timezone: str, *, snoozed: bool = False,
                 calendar: CalendarConfig | None = None) -> None:
        super().__init__(classes="modal")
        self.now = now
        self.tz = ZoneInfo(timezone)
        self.snoozed = snoozed
        self.calendar = calendar or CalendarConfig(timezone=timezone)
        self._presets = presets(now, self.tz)
        self.resolved: datetime | None = None
        """The custom time as typed so far, resolved (None: not understood yet)."""

    def compose(self) -> ComposeResult:
        options = [Option(Text(label), id=key) for key, label, _ in self._presets]
        options.append(Option(Text("Custom… (3h, 2d, tomorrow, monday 9am, a date)"), id="custom"))
        if self.snoozed:
            options.append(Option(Text("Unsnooze (show it again now)"), id="clear"))
        with Vertical(classes="dialog dialog-small"):
            yield Label(Text("Snooze until"), classes="dialog-title")
            yield OptionList(*options, id="choices")
            yield Input(placeholder=EXAMPLES, id="custom")
            yield Label(Text(""), id="resolved", classes="dialog-hint")
            yield Label(Text("Snoozed requests leave your queue until then (only on this machine); "
                             "S lists them, Z brings one back."), classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#custom", Input).display = False
        self.query_one("#resolved", Label).display = False
        self.query_one("#choices", OptionList).focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id == "custom":
            field = self.query_one("#custom", Input)
            field.display = True
            self.query_one("#resolved", Label).display = True
            field.focus()
            return
        if event.option.id == "clear":
            self.dismiss(SnoozeChoice(None))
            return
        until = next(u for key, _, u in self._presets if key == event.option.id)
        self.dismiss(SnoozeChoice(until))

    @on(Input.Changed, "#custom")
    def _typed(self, event: Input.Changed) -> None:
        """Show what the text means before it is confirmed."""
        label = self.query_one("#resolved", Label)
        if not event.value.strip():
            self.resolved = None
            label.update(Text(""))
            return
        try:
            self.resolved = parse_when(event.value, self.now, self.calendar)
        except ValueError as exc:
            self.resolved = None
            label.update(Text(f"✗ {exc}"))
            return
        label.update(Text(f"→ until {describe_when(self.resolved, self.now, self.calendar.timezone)} "
                          "— Enter to snooze"))

    @on(Input.Submitted, "#custom")
    def _custom(self, event: Input.Submitted) -> None:
        if self.resolved is None:
            self.notify(f"Say when, in the future: {EXAMPLES}.", severity="warning", markup=False)
            return
        self.dismiss(SnoozeChoice(self.resolved))

    def action_cancel(self) -> None:
        """Close without snoozing."""
        self.dismiss(None)
