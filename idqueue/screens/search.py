"""The search prompt (``/``): words, references and qualifiers (see :mod:`idqueue.domain.query`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

HINT = ("REQ-44 · #35 · a URL · type:bug priority:p1 assignee:ana source:slack\n"
        "is:breached is:at-risk is:mine is:unassigned is:open is:closed\n"
        "Enter searches · empty clears · Esc cancels")


class SearchScreen(ModalScreen[str | None]):
    """Enter a search; an empty search clears it. Returns None when cancelled.

    Args:
        current: the search in effect.
        check: parses the text (pure, no I/O) and raises ``ValueError`` with a one-line
            message when it cannot run; the prompt then stays open and shows the message.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="search.cancel")]

    def __init__(self, current: str = "", check: Callable[[str], Any] | None = None) -> None:
        super().__init__(classes="modal")
        self.current = current
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="search-dialog"):
            yield Label(Text("Search requests"), classes="dialog-title")
            yield Input(value=self.current, placeholder="words, a key or link, qualifiers", id="search")
            yield Label(Text(""), classes="dialog-warning", id="search-error")
            yield Label(Text(HINT), classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#search-error", Label).display = False
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text and self.check is not None:
            try:
                self.check(text)
            except ValueError as exc:
                error = self.query_one("#search-error", Label)
                error.update(Text(str(exc)))
                error.display = True
                return
        self.dismiss(text)

    def action_cancel(self) -> None:
        """Close without changing the search."""
        self.dismiss(None)
