"""A yes/no confirmation for bulk and irreversible actions."""

from __future__ import annotations

from typing import ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """Ask before doing something that cannot be taken back.

    Args:
        title: the question ("Close 5 requests?").
        body: details (plain text or Rich renderables built from ``Text``; never markup).
        confirm: the confirm button's label.
        danger: style the confirm button as destructive.
        cancel: the cancel button's label (``n`` and escape press it).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Yes", id="confirm.yes"),
        Binding("n,escape", "cancel", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, body: RenderableType | str = "", *, confirm: str = "Confirm",
                 danger: bool = False, cancel: str = "Cancel") -> None:
        super().__init__(classes="modal")
        self.title_text = title
        self.body = Text(body) if isinstance(body, str) else body
        self.confirm_label = confirm
        self.danger = danger
        self.cancel_label = cancel

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(Text(self.title_text), classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(self.body, markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.confirm_label} (y)", id="confirm",
                             variant="error" if self.danger else "primary")
                yield Button(f"{self.cancel_label} (n)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#confirm", Button).focus()

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        """Confirm."""
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Cancel."""
        self.dismiss(False)
