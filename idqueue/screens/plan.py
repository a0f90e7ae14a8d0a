"""Preview of what an action will do (the outbox's planned steps) before it is queued."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from idqueue.widgets.steps_view import StepsView, missing_of


class PlanScreen(ModalScreen[bool]):
    """Shows the steps an action will queue (assign, labels, messages) and asks to go ahead.

    Args:
        title: e.g. "Take REQ-12".
        steps: ``Step`` objects from ``Actions.plan_*`` (kind, target, summary, text, missing, pii).
        confirm: the confirm button's label.
        note: an extra line under the steps.
        warning: a line above the steps that must not be missed (e.g. "this reassigns it from
            Erin Walsh to Ana Reyes"); the dialog is styled as a warning.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Go ahead", id="plan.yes"),
        Binding("n,escape", "cancel", "Cancel", id="plan.no"),
    ]

    def __init__(self, title: str, steps: Sequence[Any], *, confirm: str = "Queue it", note: str = "",
                 warning: str = "") -> None:
        super().__init__(classes="modal")
        self.title_text = title
        self.steps = list(steps)
        self.confirm_label = confirm
        self.note = note
        self.warning = warning
        self.blocked = bool(missing_of(self.steps)) or not self.steps

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog dialog-wide" + (" -warning" if self.warning else ""), id="plan-dialog"):
            yield Label(Text(self.title_text), classes="dialog-title")
            if self.warning:
                yield Label(Text(self.warning), id="plan-warning", classes="dialog-warning")
            with VerticalScroll(classes="dialog-body"):
                yield StepsView(id="steps")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.confirm_label} (y)", id="confirm", variant="warning" if self.warning else "primary",
                             disabled=self.blocked)
                yield Button("Cancel (n)", id="cancel")

    def on_mount(self) -> None:
        self.query_one(StepsView).show(self.steps, note=self.note)
        self.query_one("#cancel" if self.blocked else "#confirm", Button).focus()

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        """Queue the steps."""
        if not self.blocked:
            self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Cancel."""
        self.dismiss(False)
