"""The header line of the queue: what is shown (filters, toggles, sort, group) and how many."""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from idqueue.safety import one_line
from idqueue.store.queue import QueueQuery

SORT_NAMES = {
    "rank": "triage rank",
    "key": "key",
    "age": "age",
    "created": "created",
    "sla": "SLA due",
    "priority": "priority",
    "type": "type",
    "title": "title",
    "requester": "requester",
    "assignee": "assignee",
    "status": "status",
    "updated": "updated",
    "source": "source",
    "customer": "customer",
}
GROUP_NAMES = {"type": "type", "priority": "priority", "sla": "SLA state", "assignee": "assignee",
               "customer": "customer"}


class FilterBar(Static):
    """Shows ``QueueQuery.describe()`` plus the count, sort, grouping and selection."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "filter-bar--label",
        "filter-bar--filter",
        "filter-bar--dim",
        "filter-bar--count",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.query_state = QueueQuery()
        self.total: int | None = None
        self.selected = 0
        self.snoozed = 0
        """Open requests snoozed until later (hidden from the queue unless in the snoozed view)."""
        self.snoozed_key = "S"

    def show(self, query: QueueQuery, total: int | None, selected: int) -> None:
        """Redraw for a query, its row count and the multi-selection size."""
        self.query_state, self.total, self.selected = query, total, selected
        self._redraw()

    def set_snoozed(self, count: int, key: str = "S") -> None:
        """Show "N snoozed" next to the count (``key`` opens the snoozed view)."""
        if (count, key) != (self.snoozed, self.snoozed_key):
            self.snoozed, self.snoozed_key = count, key
            self._redraw()

    def on_mount(self) -> None:
        self._redraw()

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"filter-bar--{name}", partial=True)

    def _redraw(self) -> None:
        q = self.query_state
        text = Text(no_wrap=True, overflow="ellipsis")
        scope = "All requests" if q.include_closed else "Open + backlog" if q.include_backlog else "Open queue"
        text.append(f" {'Snoozed' if q.only_snoozed else scope}", self._style("label"))
        if self.total is not None:
            text.append(f"  {self.total:,} ", self._style("count"))
            text.append("request" if self.total == 1 else "requests")
        if self.snoozed and not q.only_snoozed:
            text.append(f" · {self.snoozed:,} snoozed", self._style("filter"))
            text.append(f" ({self.snoozed_key} shows)", self._style("dim"))
        filters = [f for f in q.describe() if not f.startswith("incl. ") and f != "snoozed only"]
        text.append("  │  ", self._style("dim"))
        if filters:
            text.append("Filters: ", self._style("dim"))
            for index, part in enumerate(filters):
                if index:
                    text.append(" · ", self._style("dim"))
                text.append(one_line(part, 60), self._style("filter"))
            text.append("  (esc clears)", self._style("dim"))
        else:
            text.append("No filters", self._style("dim"))
        text.append("  │  ", self._style("dim"))
        arrow = " ▼" if q.descending else ""
        text.append(f"sort: {SORT_NAMES.get(q.sort, q.sort)}{arrow}", self._style("dim"))
        if q.group:
            text.append(f" · group: {GROUP_NAMES.get(q.group, q.group)}", self._style("dim"))
        if self.selected:
            text.append("  │  ", self._style("dim"))
            text.append(f"{self.selected} selected", self._style("filter"))
        self.update(text)
