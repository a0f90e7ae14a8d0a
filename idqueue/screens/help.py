"""Every key binding with its stable id (for remapping in ``[ui.keymap]``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


@dataclass(frozen=True)
class HelpEntry:
    """One binding as the help screen lists it."""

    section: str
    keys: str
    description: str
    binding_id: str


class HelpScreen(ModalScreen[None]):
    """Lists every binding: the key(s) in effect, what it does, its id.

    Args:
        entries: the bindings (keys already reflect the user's keymap).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close"),
    ]

    def __init__(self, entries: list[HelpEntry]) -> None:
        super().__init__(classes="modal")
        self.entries = entries

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog dialog-wide", id="help-dialog"):
            yield Label(Text("Keys"), classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(self._table(), markup=False, id="help-table")
            yield Label(
                Text('Remap any key in config.toml, e.g.  [ui.keymap]  "queue.assign" = "A"  ·  '
                     "ctrl+p opens the command palette  ·  esc closes"),
                classes="dialog-hint",
            )

    def _table(self) -> Group:
        sections: dict[str, list[HelpEntry]] = {}
        for entry in self.entries:
            sections.setdefault(entry.section, []).append(entry)
        parts: list[Table | Text] = []
        for section, entries in sections.items():
            table = Table(title=Text(section), title_justify="left", show_edge=False, expand=True,
                          box=None, padding=(0, 2), show_header=False)
            table.add_column("Key", no_wrap=True, width=10)
            table.add_column("Action", ratio=1)
            table.add_column("Id", no_wrap=True, width=22)
            for entry in entries:
                table.add_row(Text(entry.keys, style="bold"), Text(entry.description), Text(entry.binding_id, style="dim"))
            parts.append(table)
            parts.append(Text())
        return Group(*parts)

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)
