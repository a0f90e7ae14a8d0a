"""The queue table: a virtual, windowed view over the queue query.

Why not ``DataTable``: adding rows costs ~0.3 ms each and the table holds every row, so 10k
requests would take seconds and a reload would move the cursor. This widget uses the Line API
instead: the virtual height is the query's row count (plus group headers), only the pages of
rows around the viewport are loaded (in thread workers, by :class:`QueueData`), and each visible
line is rendered from a cached row. Sort, filter and group are SQL (``ORDER BY`` / ``WHERE``),
so a reload costs the same at 500 or 50,000 requests, and the cursor is kept on the same
request (and the same screen line) across reloads.

What is painted follows two reactive attributes: ``cursor`` (its watcher repaints the two lines
that changed, keeps the cursor in view and loads the pages around it) and the inherited
``scroll_y`` (its watcher repaints the whole viewport). Scrolling always goes through
``scroll_y``, never ``set_scroll``, which changes the offset without telling the watchers and
left rows of the previous viewport on screen after a jump.

State is styled through component classes (``request-table--breached``, ``--p1``, ``--new``…)
defined in ``app.tcss``; cell text is sanitised plain text, never markup.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events, on, work
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from idqueue.domain.sla_live import LiveClock, live_clock, sla_cell
from idqueue.store.queue import QueueQuery
from idqueue.widgets.rows import SLA_LABELS, QueueData, Row, Snapshot, customer_name, member_name


@dataclass(frozen=True)
class Column:
    """A table column: header, sort key (``SORTABLE``), width (0 = takes the rest)."""

    name: str
    sort: str | None
    width: int
    drop: int = 0  # dropped first (highest) when the table is narrow; 0 = never


COLUMNS: tuple[Column, ...] = (
    Column("", None, 1),
    Column("Key", "key", 7),
    Column("Age", "age", 4),
    Column("SLA", "sla", 11),
    Column("Pri", "priority", 3),
    Column("Type", "type", 16, drop=2),
    Column("Title", "title", 0),
    Column("Requester", "requester", 14, drop=3),
    Column("Customer", "customer", 12, drop=2),  # shown only when customers are configured
    Column("Assignee", "assignee", 12),
    Column("Src", "source", 4, drop=1),
    Column("", None, 2),
)
MIN_TITLE = 24


@dataclass(frozen=True)
class _Group:
    label: str
    count: int
    start_pos: int
    start_line: int


def format_age(created: datetime, now: datetime) -> str:
    """Compact age: ``45m``, ``5h``, ``3d``."""
    seconds = max((now - created).total_seconds(), 0)
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


def fit(text: str, width: int) -> str:
    """Pad or cut ``text`` to exactly ``width`` cells (an ellipsis marks a cut)."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + "…"


class RequestTable(ScrollView, can_focus=True):
    """The queue: one line per request, windowed over SQLite.

    Args:
        data: reads pages and snapshots of the query (in workers).
        sla: the SLA configuration, to tick countdowns without I/O.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "request-table--header",
        "request-table--header-sorted",
        "request-table--cursor",
        "request-table--cursor-blur",
        "request-table--selected",
        "request-table--group",
        "request-table--placeholder",
        "request-table--key",
        "request-table--dim",
        "request-table--breached",
        "request-table--at-risk",
        "request-table--ok",
        "request-table--met",
        "request-table--paused",
        "request-table--none",
        "request-table--p1",
        "request-table--p2",
        "request-table--p3",
        "request-table--p4",
        "request-table--new",
        "request-table--unread",
        "request-table--pending",
        "request-table--failed",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False, id="queue.up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="queue.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="queue.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="queue.page_down"),
        Binding("home", "first", "First", show=False, id="queue.first"),
        Binding("end", "last", "Last", show=False, id="queue.last"),
        Binding("space", "toggle_select", "Select", id="queue.select"),
        Binding("enter", "activate", "Detail", show=False, id="queue.activate"),
    ]

    cursor: var[int] = var(0, init=False)
    """Query position of the cursor; its watcher repaints, scrolls and loads what changed."""

    class RequestHighlighted(Message):
        """The cursor moved to another request (``request_id`` None when the queue is empty)."""

        def __init__(self, request_id: str | None, row: Row | None) -> None:
            super().__init__()
            self.request_id = request_id
            self.row = row

    class Reloaded(Message):
        """A reload finished: ``total`` rows match the query."""

        def __init__(self, total: int, query: QueueQuery) -> None:
            super().__init__()
            self.total = total
            self.query = query

    class SortRequested(Message):
        """A column header was clicked."""

        def __init__(self, sort: str) -> None:
            super().__init__()
            self.sort = sort

    class Activated(Message):
        """Enter or double click on a request."""

        def __init__(self, request_id: str) -> None:
            super().__init__()
            self.request_id = request_id

    class SelectionChanged(Message):
        """Multi-selection changed."""

        def __init__(self, selected: frozenset[str]) -> None:
            super().__init__()
            self.selected = selected

    class CursorRequestLeft(Message):
        """A reload no longer holds the request the cursor was on (closed or changed elsewhere)."""

        def __init__(self, request_id: str, key: str) -> None:
            super().__init__()
            self.request_id = request_id
            self.key = key

    class LoadFailed(Message):
        """Reading the queue failed (the message is for the user)."""

        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    class _SnapshotLoaded(Message):
        def __init__(self, generation: int, snapshot: Snapshot, start_id: str | None) -> None:
            super().__init__()
            self.generation = generation
            self.snapshot = snapshot
            self.start_id = start_id

    class _PageLoaded(Message):
        def __init__(self, generation: int, page: int, rows: list[Row | None]) -> None:
            super().__init__()
            self.generation = generation
            self.page = page
            self.rows = rows

    def __init__(
        self,
        data: QueueData,
        *,
        query: QueueQuery | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.data = data
        self.queue_query = query or QueueQuery()
        self.selected: set[str] = set()
        self.new_ids: set[str] = set()
        self.loaded = False
        self.empty_message = "Loading the queue…"
        self._total = 0
        self._ids: list[str] = []
        self._groups: list[_Group] = []
        self._group_starts: list[int] = []
        self._pages: dict[int, list[Row | None]] = {}
        self._loading: set[int] = set()
        self._generation = 0
        self.applied_generation = 0
        """The reload whose rows are shown (reloads are numbered; stale ones are dropped)."""
        self._jump: tuple[str, str | None] | None = None
        """An explicit ``go_to`` not shown yet: (target id, the cursor's id when it was asked)."""
        self._key_width = 7
        self._now = data.clock()
        self._tick = 0
        self._lines: dict[tuple[object, ...], Strip] = {}
        self._clocks: dict[str, LiveClock] = {}
        self._last_highlight: str | None = None

    # ------------------------------------------------------------------ public API
    @property
    def total(self) -> int:
        """Rows matching the query."""
        return self._total

    @property
    def cursor_row(self) -> Row | None:
        """The row under the cursor, if loaded."""
        return self.row_at(self.cursor)

    @property
    def cursor_id(self) -> str | None:
        """The request id under the cursor (known even before its row is loaded)."""
        return self._ids[self.cursor] if 0 <= self.cursor < len(self._ids) else None

    def id_at(self, pos: int) -> str | None:
        """The request id at a query position."""
        return self._ids[pos] if 0 <= pos < len(self._ids) else None

    def row_at(self, pos: int) -> Row | None:
        """The loaded row at a query position."""
        if not 0 <= pos < self._total:
            return None
        page = self._pages.get(pos // self.data.page_size)
        index = pos % self.data.page_size
        if page is None or index >= len(page):
            return None
        return page[index]

    def loaded_rows(self) -> list[Row]:
        """Every row currently held (a few pages)."""
        return [row for _, rows in sorted(self._pages.items()) for row in rows if row is not None]

    def reload(self, query: QueueQuery | None = None, *, anchor_id: str | None = None, keep: bool = True) -> None:
        """Re-run the query in a worker; the cursor stays on the same request when it can.

        Args:
            query: the new query (default: the current one).
            anchor_id: put the cursor on this request (default: the current one).
            keep: keep the cursor on its request; False keeps only its position.
        """
        if query is not None:
            self.queue_query = query
        self._generation += 1
        if anchor_id is not None:
            self._jump = (anchor_id, self.cursor_id)
        elif keep and self._jump is not None and self._jump[1] == self.cursor_id:
            # A background refresh arrived before the jump landed: it must not cancel it
            # (the cursor has not moved since the jump was asked for).
            anchor_id = self._jump[0]
        anchor = anchor_id or (self.cursor_id if keep else None)
        visible = max(self.size.height, 50)
        if not self.loaded and self._generation == 1 and anchor is None:
            # The very first window is read here, before the first frame (one indexed query,
            # ~30 ms at 10k): the frame shows rows instead of "Loading…" and a repaint later.
            try:
                first = self.data.snapshot(self.queue_query, anchor_pos=self.cursor, visible=visible)
            except Exception:  # the worker below reports the error
                pass
            else:
                self._apply_snapshot(self._SnapshotLoaded(self._generation, first, None))
                return
        self._run_snapshot(self._generation, self.queue_query, anchor, self.cursor, visible, self.cursor_id)

    def move_next(self) -> None:
        """Act-and-advance: put the cursor on the next request."""
        if self.cursor < self._total - 1:
            self._set_cursor(self.cursor + 1)

    def go_to(self, request_id: str) -> None:
        """Reload with the cursor on ``request_id``."""
        self.reload(anchor_id=request_id)

    def tick(self) -> None:
        """Re-render ages and SLA countdowns for the current time (no I/O)."""
        self._now = self.data.clock()
        self._tick += 1
        self._clocks.clear()
        self._lines.clear()
        self.refresh()

    def mark_new(self, ids: set[str]) -> None:
        """Highlight newly arrived requests (until the cursor visits them)."""
        self.new_ids |= ids
        self._lines.clear()
        self.refresh()

    def mark_read(self, request_id: str, at: datetime) -> None:
        """Show a request as read (its read mark was just stored), without a reload."""
        for page in self._pages.values():
            for row in page:
                if row is not None and row.id == request_id:
                    row.request.seen_at = at
        self.refresh()  # the line cache is keyed on ``unread``: the row is drawn afresh

    def clear_selection(self) -> None:
        """Forget the multi-selection."""
        if self.selected:
            self.selected.clear()
            self._lines.clear()
            self.refresh()
            self.post_message(self.SelectionChanged(frozenset()))

    def set_empty_message(self, text: str) -> None:
        """What to show when no request matches (or before the first load)."""
        self.empty_message = text
        self._lines.clear()
        self.refresh()

    # ------------------------------------------------------------------ workers
    @work(thread=True, exclusive=True, group="request-table-reload")
    def _run_snapshot(
        self, generation: int, query: QueueQuery, anchor_id: str | None, anchor_pos: int, visible: int,
        start_id: str | None,
    ) -> None:
        try:
            snapshot = self.data.snapshot(query, anchor_id=anchor_id, anchor_pos=anchor_pos, visible=visible)
        except Exception as exc:  # SQLite errors must not kill the app
            self.post_message(self.LoadFailed(f"cannot read the queue: {exc}"))
            return
        self.post_message(self._SnapshotLoaded(generation, snapshot, start_id))

    @work(thread=True, group="request-table-page")
    def _run_page(self, generation: int, page: int, ids: list[str]) -> None:
        try:
            rows = self.data.rows(ids)
        except Exception as exc:
            self.post_message(self.LoadFailed(f"cannot read the queue: {exc}"))
            return
        self.post_message(self._PageLoaded(generation, page, rows))

    @on(_SnapshotLoaded)
    def _apply_snapshot(self, message: _SnapshotLoaded) -> None:
        message.stop()
        if message.generation != self._generation:
            return
        snap = message.snapshot
        old_offset = self._line_of(self.cursor) - int(self.scroll_y) if self._total else 0
        current = self.cursor_id
        current_row = self.cursor_row
        self._total = snap.total
        self._ids = snap.ids
        self._key_width = snap.key_width
        self._pages = snap.pages
        self._loading.clear()
        self._set_groups(snap.groups)
        cursor = snap.cursor
        if current is not None and current != message.start_id and current in snap.ids:
            # The user moved while the reload ran: follow them (an explicit ``go_to`` anchor
            # wins otherwise, since the cursor has not moved since the reload started).
            cursor = snap.ids.index(current)
        # A reload places the cursor and the viewport itself (same request, same screen line).
        self.set_reactive(RequestTable.cursor, min(cursor, max(self._total - 1, 0)))
        self.loaded = True
        self.applied_generation = message.generation
        self._jump = None
        self._lines.clear()
        self._clocks.clear()
        self.virtual_size = Size(self.size.width, self._total_lines() + 1)
        target = self._line_of(self.cursor) - max(old_offset, 0)
        self._scroll_to_line(target)
        self._ensure_cursor_visible()
        self.refresh()
        self._ensure_pages()
        if current is not None and current == message.start_id and current not in snap.ids:
            self.post_message(self.CursorRequestLeft(current, current_row.key if current_row else current))
        self.post_message(self.Reloaded(self._total, snap.query))
        self._announce()

    @on(_PageLoaded)
    def _apply_page(self, message: _PageLoaded) -> None:
        message.stop()
        self._loading.discard(message.page)
        if message.generation != self._generation:
            return
        self._pages[message.page] = message.rows
        self._lines.clear()
        self.refresh()
        self._announce()

    # ------------------------------------------------------------------ geometry
    def _set_groups(self, groups: list[tuple[str, int]]) -> None:
        self._groups = []
        pos = line = 0
        for label, n in groups:
            self._groups.append(_Group(label, n, pos, line))
            pos += n
            line += n + 1
        self._group_starts = [g.start_pos for g in self._groups]

    def _total_lines(self) -> int:
        return self._total + len(self._groups)

    def _line_of(self, pos: int) -> int:
        if not self._groups:
            return pos
        g = self._groups[max(bisect_right(self._group_starts, pos) - 1, 0)]
        return g.start_line + 1 + (pos - g.start_pos)

    def _at_line(self, line: int) -> tuple[_Group | None, int]:
        """(group header, -1) or (None, query position) for a virtual line."""
        if not self._groups:
            return None, line
        lines = [g.start_line for g in self._groups]
        g = self._groups[max(bisect_right(lines, line) - 1, 0)]
        if line == g.start_line:
            return g, -1
        return None, g.start_pos + (line - g.start_line - 1)

    def _visible_rows(self) -> int:
        return max(self.size.height - 1, 1)

    def _scroll_to_line(self, line: int) -> None:
        self._scroll_top(min(line, self._total_lines() - self._visible_rows()))

    def _scroll_top(self, line: int) -> None:
        """Put ``line`` at the top of the viewport (through ``scroll_y``, whose watcher repaints)."""
        self.scroll_y = max(line, 0)

    def _ensure_cursor_visible(self) -> None:
        line = self._line_of(self.cursor)
        top = int(self.scroll_y)
        height = self._visible_rows()
        if self._groups and line - 1 >= 0 and line - 1 < top:
            line -= 1  # show the group header above the first row of a group
        if line < top:
            self._scroll_top(line)
        elif line >= top + height:
            self._scroll_top(line - height + 1)

    def _ensure_pages(self) -> None:
        if not self._total:
            return
        size = self.data.page_size
        top = int(self.scroll_y)
        first = self._at_line(top)[1]
        last = self._at_line(min(top + self._visible_rows(), self._total_lines() - 1))[1]
        first = self.cursor if first < 0 else min(first, self.cursor)
        last = max(last, self.cursor)
        margin = size // 2
        lo = max(first - margin, 0) // size
        hi = min(last + margin, self._total - 1) // size
        for page in range(lo, hi + 1):
            if page not in self._pages and page not in self._loading:
                self._loading.add(page)
                self._run_page(self._generation, page, self._ids[page * size : (page + 1) * size])
        for page in [p for p in self._pages if p < lo - 1 or p > hi + 1]:
            del self._pages[page]

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value) and self.loaded:
            self._ensure_pages()

    def on_resize(self, event: events.Resize) -> None:
        self._lines.clear()
        self.virtual_size = Size(event.size.width, self._total_lines() + 1)
        if self.loaded:
            self._ensure_cursor_visible()
            self._ensure_pages()

    # ------------------------------------------------------------------ cursor
    def _set_cursor(self, pos: int) -> None:
        if self._total:
            self.cursor = min(max(pos, 0), self._total - 1)

    def validate_cursor(self, pos: int) -> int:
        return min(max(pos, 0), max(self._total - 1, 0))

    def watch_cursor(self, old: int, new: int) -> None:
        if not self.loaded:
            return
        self._refresh_pos(old)
        self._refresh_pos(new)
        self._ensure_cursor_visible()  # a scroll repaints the whole viewport (watch_scroll_y)
        self._ensure_pages()
        self._announce()

    def _refresh_pos(self, pos: int) -> None:
        y = self._line_of(pos) - int(self.scroll_y) + 1
        if 0 < y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def _announce(self) -> None:
        row = self.cursor_row
        rid = row.id if row else None
        if rid is not None and rid in self.new_ids:
            self.new_ids.discard(rid)
            self._lines.clear()
            self.refresh()
        if rid != self._last_highlight:
            self._last_highlight = rid
            self.post_message(self.RequestHighlighted(rid, row))

    def action_cursor_up(self) -> None:
        """Move up one request."""
        self._set_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        """Move down one request."""
        self._set_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        """Move up one screen."""
        self._set_cursor(self.cursor - self._visible_rows())

    def action_page_down(self) -> None:
        """Move down one screen."""
        self._set_cursor(self.cursor + self._visible_rows())

    def action_first(self) -> None:
        """Go to the first request."""
        self._set_cursor(0)

    def action_last(self) -> None:
        """Go to the last request."""
        self._set_cursor(self._total - 1)

    def action_toggle_select(self) -> None:
        """Add or remove the request under the cursor from the multi-selection, then advance."""
        rid = self.cursor_id
        if rid is None:
            return
        if rid in self.selected:
            self.selected.discard(rid)
        else:
            self.selected.add(rid)
        self._lines.clear()
        self.refresh()
        self.post_message(self.SelectionChanged(frozenset(self.selected)))
        self.move_next()

    def action_activate(self) -> None:
        """Open the detail of the request under the cursor."""
        rid = self.cursor_id
        if rid is not None:
            self.post_message(self.Activated(rid))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column = self._column_at(offset.x)
            if column is not None and column.sort:
                self.post_message(self.SortRequested(column.sort))
            return
        group, pos = self._at_line(offset.y - 1 + int(self.scroll_y))
        if group is None and 0 <= pos < self._total:
            self._set_cursor(pos)
            if event.chain >= 2:
                self.action_activate()

    # ------------------------------------------------------------------ rendering
    def _layout(self, width: int) -> list[tuple[Column, int]]:
        shown = COLUMNS if self.data.settings.customers else tuple(c for c in COLUMNS if c.name != "Customer")
        cols = [(c, self._key_width if c.name == "Key" else c.width) for c in shown]
        for level in (1, 2, 3):
            fixed = sum(w + 1 for c, w in cols if c.width or c.name == "Key")
            if width - fixed - 1 >= MIN_TITLE:  # the title's own separator counts too
                break
            cols = [(c, w) for c, w in cols if c.drop != level]
        fixed = sum(w + 1 for c, w in cols if c.width or c.name == "Key")
        return [(c, w if (c.width or c.name == "Key") else max(width - fixed - 1, 8)) for c, w in cols]

    def _column_at(self, x: int) -> Column | None:
        pos = 0
        for column, width in self._layout(self.size.width):
            if pos <= x < pos + width + 1:
                return column
            pos += width + 1
        return None

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"request-table--{name}", partial=True)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y == 0:
            return self._render_header(width, base)
        line = y - 1 + int(self.scroll_y)
        if not self._total:
            if y == 1:
                text = fit("  " + self.empty_message, width)
                return Strip([Segment(text, base + self._style("dim"))], width)
            return Strip.blank(width, base)
        if line >= self._total_lines():
            return Strip.blank(width, base)
        group, pos = self._at_line(line)
        if group is not None:
            label = SLA_LABELS.get(group.label, group.label) if self.queue_query.group == "sla" else group.label
            label = label or ("Unassigned" if self.queue_query.group == "assignee" else "—")
            if self.queue_query.group == "assignee":
                label = member_name(self.data.settings, group.label) or "Unassigned"
            elif self.queue_query.group == "customer":
                label = customer_name(self.data.settings, group.label) or "No customer"
            text = fit(f" ▾ {label} ({group.count})", width)
            return Strip([Segment(text, base + self._style("group"))], width)
        row = self.row_at(pos)
        focused = self.has_focus
        if row is None:
            return self._render_placeholder(width, base, pos == self.cursor, focused)
        key = (
            self._generation, pos, width, pos == self.cursor, focused, row.id in self.selected,
            row.id in self.new_ids, row.request.unread, self._tick, self._key_width,
        )
        strip = self._lines.get(key)
        if strip is None:
            if len(self._lines) > 2000:
                self._lines.clear()
            strip = self._render_row(row, width, base, key[3], focused)
            self._lines[key] = strip
        return strip

    def _render_header(self, width: int, base: Style) -> Strip:
        style = base + self._style("header")
        sorted_style = style + self._style("header-sorted")
        segments: list[Segment] = []
        for column, w in self._layout(width):
            name = column.name
            active = column.sort is not None and column.sort == self.queue_query.sort
            if active:
                name = f"{name}{'▼' if self.queue_query.descending else '▲'}"
            segments.append(Segment(fit(name, w), sorted_style if active else style))
            segments.append(Segment(" ", style))
        return Strip(segments).adjust_cell_length(width, style)

    def _render_placeholder(self, width: int, base: Style, cursor: bool, focused: bool) -> Strip:
        style = base + self._style("placeholder")
        if cursor:
            style += self._style("cursor" if focused else "cursor-blur")
        return Strip([Segment(fit("  …", width), style)], width)

    def _sla_cell(self, row: Row) -> tuple[str, str]:
        clock = self._clocks.get(row.id)
        if clock is None:
            clock = self._clocks[row.id] = live_clock(row.request, self.data.settings.sla, now=self._now)
        return sla_cell(row.request, clock, now=self._now, labels=SLA_LABELS)

    def _render_row(self, row: Row, width: int, base: Style, cursor: bool, focused: bool) -> Strip:
        row_style = base
        if row.id in self.new_ids:
            row_style += self._style("new")
        elif row.request.unread:
            row_style += self._style("unread")
        if row.id in self.selected:
            row_style += self._style("selected")
        if cursor:
            row_style += self._style("cursor" if focused else "cursor-blur")
        segments: list[Segment] = []
        space = Segment(" ", row_style)
        for column, w in self._layout(width):
            text, state = self._cell(column, row)
            style = row_style + self._style(state) if state else row_style
            segments.append(Segment(fit(text, w), style))
            segments.append(space)
        return Strip(segments).adjust_cell_length(width, row_style)

    def _cell(self, column: Column, row: Row) -> tuple[str, str | None]:
        name = column.name
        request = row.request
        if name == "Key":
            return row.key, "key"
        if name == "Age":
            return format_age(request.created_at, self._now), "dim"
        if name == "SLA":
            text, state = self._sla_cell(row)
            return text, state.replace("_", "-")
        if name == "Pri":
            return request.priority, request.priority.lower() if request.priority in ("P1", "P2", "P3", "P4") else None
        if name == "Type":
            return row.type, None
        if name == "Title":
            return row.title, None
        if name == "Requester":
            return row.requester, "dim"
        if name == "Customer":
            return (row.customer, None) if row.customer else ("no customer", "dim")
        if name == "Assignee":
            if row.pending is not None and row.pending.assignee:
                return f"→{member_name(self.data.settings, row.pending.assignee)}", "pending"
            return (row.assignee or "—"), (None if row.assignee else "dim")
        if name == "Src":
            return row.source, "dim"
        if column is COLUMNS[0]:
            if row.id in self.selected:
                return "◉", "selected"
            if row.id in self.new_ids:
                return "●", "new"
            if row.request.unread:
                return "◆", "unread"
            return "", None
        # Last column: unsent outbox actions.
        pending = row.pending
        if pending is None or not pending.total:
            return "", None
        if pending.failed:
            return f"!{pending.failed}", "failed"
        return f"↑{pending.queued}", "pending"
