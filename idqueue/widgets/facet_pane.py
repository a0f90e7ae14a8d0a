"""A pane of counts (priority, SLA state and age, request type); choosing an entry filters the queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from idqueue.safety import one_line
from idqueue.widgets.request_table import fit


@dataclass(frozen=True)
class FacetEntry:
    """One selectable line: the filter it toggles and its label."""

    facet: str  # "priority" | "sla" | "age" | "type"
    value: str
    label: str
    style: str = ""  # component class suffix for the label (e.g. "breached", "p1")


@dataclass(frozen=True)
class FacetHeading:
    """A non-selectable sub-heading (e.g. "Age" inside the SLA pane)."""

    label: str


class FacetPane(OptionList):
    """Counts for one pane; Enter (or a click) toggles the entry's filter.

    Args:
        title: the pane's border title.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = OptionList.COMPONENT_CLASSES | {
        "facet-pane--active",
        "facet-pane--count",
        "facet-pane--zero",
        "facet-pane--heading",
        "facet-pane--breached",
        "facet-pane--at-risk",
        "facet-pane--ok",
        "facet-pane--paused",
        "facet-pane--met",
        "facet-pane--none",
        "facet-pane--p1",
        "facet-pane--p2",
        "facet-pane--p3",
        "facet-pane--p4",
    }

    class Toggled(Message):
        """An entry was chosen: toggle ``facet == value`` in the query."""

        def __init__(self, facet: str, value: str) -> None:
            super().__init__()
            self.facet = facet
            self.value = value

    def __init__(self, title: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = title
        self._entries: list[FacetEntry | FacetHeading] = []
        self._counts: dict[tuple[str, str], int] = {}
        self._active: set[tuple[str, str]] = set()

    def show(
        self,
        entries: list[FacetEntry | FacetHeading],
        counts: dict[tuple[str, str], int],
        active: set[tuple[str, str]],
    ) -> None:
        """Show entries with their counts; ``active`` entries are marked as filters in use."""
        self._entries, self._counts, self._active = entries, counts, active
        self._rebuild()

    def on_resize(self) -> None:
        if self._entries:
            self._rebuild()

    def _rebuild(self) -> None:
        highlighted = self.highlighted
        width = max(self.scrollable_content_region.width - 2, 12)
        options: list[Option | None] = []
        for entry in self._entries:
            if isinstance(entry, FacetHeading):
                text = Text(fit(f"  {entry.label}", width), style=self._style("heading"))
                options.append(Option(text, disabled=True))
                continue
            key = (entry.facet, entry.value)
            n = self._counts.get(key, 0)
            active = key in self._active
            mark = "● " if active else "  "
            label = fit(one_line(entry.label), width - 8)
            text = Text()
            text.append(mark, self._style("active") if active else Style())
            text.append(label, self._style(entry.style) if entry.style else Style())
            count_style = self._style("count") if n else self._style("zero")
            text.append(f"{n:>6}", count_style)
            if active:
                text.stylize(self._style("active"))
            options.append(Option(text, id=f"{entry.facet}\x00{entry.value}"))
        with self.prevent(OptionList.OptionHighlighted):
            self.set_options(options)
            if highlighted is not None and highlighted < self.option_count:
                self.highlighted = highlighted

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"facet-pane--{name}", partial=True)

    @on(OptionList.OptionSelected)
    def _toggle(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            facet, value = event.option.id.split("\x00", 1)
            self.post_message(self.Toggled(facet, value))
