"""The saved views as tabs above the queue (``[[views]]`` in the config; ``[``/``]`` switch)."""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

ALL_VIEWS = "All"
"""The tab that applies no saved view."""


class ViewsBar(Static):
    """One line of tabs: ``All`` then each saved view; the active one is highlighted.

    Hidden when no view is configured.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"views-bar--active", "views-bar--tab", "views-bar--dim"}

    def __init__(self, names: list[str], *, keys: str = "[ ]", id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.names = [ALL_VIEWS, *names]
        self.keys = keys
        self.active = ALL_VIEWS

    def on_mount(self) -> None:
        self.display = len(self.names) > 1
        self._redraw()

    def show(self, active: str) -> None:
        """Highlight the view in use (``""`` or :data:`ALL_VIEWS` for none)."""
        active = active or ALL_VIEWS
        if active != self.active:  # every query change calls this: repaint only on a switch
            self.active = active
            self._redraw()

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"views-bar--{name}", partial=True)

    def _redraw(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" Views ", self._style("dim"))
        for name in self.names:
            text.append(f" {name} ", self._style("active" if name == self.active else "tab"))
            text.append(" ")
        text.append(f" {self.keys} switch", self._style("dim"))
        self.update(text)
