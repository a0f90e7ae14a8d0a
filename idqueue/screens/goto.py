"""The go-to prompt (``:``): type a key, number, GitHub URL or Slack permalink and jump there."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

Resolve = Callable[[str], "tuple[str | None, str]"]
"""``text -> (request id, "")`` when found, ``(None, why)`` otherwise; runs in a thread worker."""


class GoToScreen(ModalScreen[str | None]):
    """Ask for a request reference; returns its request id (None when cancelled).

    A reference that names no request keeps the prompt open with one line saying so
    ("No request REQ-99."), so a typo is fixed in place.

    Args:
        resolve: looks the text up in the store (called in a thread worker).
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="goto.cancel")]

    def __init__(self, resolve: Resolve) -> None:
        super().__init__(classes="modal")
        self.resolve = resolve

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog dialog-small", id="goto-dialog"):
            yield Label(Text("Go to request"), classes="dialog-title")
            yield Input(placeholder="REQ-44 · 44 · #35 · GitHub URL · Slack permalink", id="goto")
            yield Label(Text(""), classes="dialog-warning", id="goto-error")
            yield Label(Text("Enter jumps · Esc cancels · finds closed ones too"), classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#goto-error", Label).display = False
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.dismiss(None)
            return
        self._look_up(text)

    @work(thread=True, exclusive=True, group="goto")
    def _look_up(self, text: str) -> None:
        try:
            found, why = self.resolve(text)
        except Exception as exc:  # a database problem is a message, not a crash
            found, why = None, f"Cannot look it up: {exc}"
        self.app.call_from_thread(self._answer, found, why)

    def _answer(self, found: str | None, why: str) -> None:
        if found is not None:
            self.dismiss(found)
            return
        error = self.query_one("#goto-error", Label)
        error.update(Text(why))
        error.display = True

    def action_cancel(self) -> None:
        """Close without moving."""
        self.dismiss(None)
