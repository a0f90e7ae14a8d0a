"""The outbox (``O``): every action not sent yet, across requests, and what to do about it.

One row per action (request key, what it does, where, state, attempts, next attempt, last
error), problems first. ``r`` queues the action under the cursor again (a conflict is then
done anyway, as with ``idqueue outbox --retry``), ``d`` drops it and the later unsent steps of
the same verb (after a confirmation), ``enter`` closes the screen on its request in the queue,
``a`` also lists sent and dropped actions. The list is read in a thread worker and read again
whenever the dispatcher reports (the queue screen calls :meth:`OutboxScreen.reload`).

An action held for undo (``hold_until`` still ahead, real time) reads "held — sends in 4s
(ctrl+z undoes)", counting down; ``ctrl+z`` takes back the verb of the held action under the
cursor, like the queue's undo.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from rich.console import Group, RenderableType
from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, Static
from textual.worker import Worker, WorkerState

from idqueue.integrations import registry
from idqueue.notify import action_label, outbox_request_keys
from idqueue.safety import one_line, sanitize_terminal
from idqueue.screens.access import hidden_in_read_only
from idqueue.screens.confirm import ConfirmScreen
from idqueue.screens.context import TuiContext

SENT_LIMIT = 500
"""With sent actions shown, only the latest ones (the outbox keeps every action forever)."""

_STATE_ORDER = {"needs_attention": 0, "failed": 1, "sending": 2, "queued": 3, "sent": 4, "dropped": 5}
_STATE_LABEL = {"needs_attention": "needs attention", "failed": "failed", "sending": "sending",
                "queued": "queued", "sent": "sent", "dropped": "dropped"}
_PROBLEMS = ("needs_attention", "failed")
_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("Request", "key", 9), ("Action", "kind", 13), ("Target", "target", 7), ("State", "state", 15),
    ("Tries", "tries", 5), ("Next attempt", "next", 12),
)
_UNSENT = ("queued", "sending", "failed", "needs_attention")


@dataclass(frozen=True)
class OutboxRow:
    """One action as the screen lists it.

    Attributes:
        action: the outbox action (``idqueue.outbox.models.Action``).
        key: the request's short key (``REQ-12``), or its id if the request is gone.
        request_id: the request's canonical id now (for the jump to the queue).
        blocked_by: for a queued action, the kind of an earlier action of the same request
            that failed or needs attention: the dispatcher keeps the order, so this one waits.
    """

    action: Any
    key: str
    request_id: str
    blocked_by: str | None = None

    @property
    def state(self) -> str:
        """The action's state value (``queued``, ``needs_attention`` …)."""
        return str(self.action.state.value)


def load_rows(ctx: TuiContext, *, show_sent: bool) -> list[OutboxRow]:
    """The actions to list (blocking: call from a thread), problems first, then queue order."""
    from idqueue.outbox.models import ActionState

    actions = ctx.require_actions()
    found = list(actions.all(states=[ActionState(s) for s in _UNSENT]))
    if show_sent:
        done = actions.all(states=[ActionState.SENT, ActionState.DROPPED])
        found += list(reversed(done[-SENT_LIMIT:]))  # the latest first
    keys = outbox_request_keys(ctx.store, (a.request_id for a in found))
    stuck: dict[str, str] = {}  # request id → kind of its first failed / needs-attention action
    rows: list[OutboxRow] = []
    for action in found:  # queue order for the unsent ones, so "earlier" is meaningful
        key, rid = keys[action.request_id]
        state = action.state.value
        blocked = stuck.get(action.request_id) if state in ("queued", "sending") else None
        if state in _PROBLEMS:
            stuck.setdefault(action.request_id, action_label(action))
        rows.append(OutboxRow(action, key, rid, blocked))
    # A stable sort: within a state, the order above (queue order; sent ones latest first).
    return sorted(rows, key=lambda r: _STATE_ORDER.get(r.state, 9))


class OutboxScreen(Screen[str | None]):
    """Unsent, failed and needs-attention actions of every request, with retry / drop / jump.

    Args:
        ctx: the core objects (``ctx.actions`` must be the outbox service).
        dispatch: called after a retry, to send it now (the queue's poller).

    Dismisses with the id of the request to show in the queue, or None.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "outbox-screen--needs-attention",
        "outbox-screen--failed",
        "outbox-screen--queued",
        "outbox-screen--sending",
        "outbox-screen--sent",
        "outbox-screen--dropped",
        "outbox-screen--dim",
        "outbox-screen--key",
        "outbox-screen--label",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "retry", "Retry", id="outbox.retry"),
        Binding("d", "drop", "Drop", id="outbox.drop"),
        # Priority: the table's own Enter ("select") would hide it from the footer.
        Binding("enter", "jump", "Show request", id="outbox.jump", priority=True),
        Binding("a", "toggle_sent", "Show sent", id="outbox.toggle_sent"),
        Binding("ctrl+z", "undo", "Undo (held)", show=False, id="outbox.undo"),
        Binding("escape,O", "close", "Back to the queue", id="outbox.close"),
    ]

    class Loaded(Message):
        """The worker read the outbox."""

        def __init__(self, rows: list[OutboxRow], show_sent: bool) -> None:
            super().__init__()
            self.rows = rows
            self.show_sent = show_sent

    def __init__(self, ctx: TuiContext, *, dispatch: Callable[[], None] | None = None,
                 changed: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.dispatch = dispatch
        self.changed = changed
        """Told after a retry or drop, so the queue's ``↑n`` / ``!n`` markers follow at once."""
        self.tz = ZoneInfo(ctx.settings.sla.calendar.timezone)
        self.show_sent = False
        self.rows: list[OutboxRow] = []
        self.loaded = False
        self.loads = 0

    # ------------------------------------------------------------------ layout
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A read-only session's footer leaves out retry, drop and undo."""
        return not hidden_in_read_only(self, action, self.ctx.settings.read_only)

    def compose(self) -> ComposeResult:
        yield Header(icon="▤", classes="-sandbox" if self.ctx.sandbox else "")
        yield Label(Text("Outbox (loading…)"), id="outbox-title")
        table: DataTable[Text] = DataTable(id="outbox-table", cursor_type="row", zebra_stripes=True)
        yield table
        with VerticalScroll(id="outbox-detail-scroll"):
            yield Static(id="outbox-detail", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#outbox-table", DataTable).focus()
        self._fill()
        self.reload()
        self.set_interval(1.0, self._count_down)

    def _wall(self) -> datetime:
        """The real time holds are measured in (the outbox service's clock for them)."""
        wall = getattr(self.ctx.actions, "wall", None)
        return wall() if callable(wall) else datetime.now(UTC)

    def held_for(self, row: OutboxRow) -> int | None:
        """Whole seconds until a held (undoable) queued action may be sent, or None."""
        until = row.action.hold_until
        if row.state != "queued" or until is None:
            return None
        left = (until - self._wall()).total_seconds()
        return math.ceil(left) if left > 0 else None

    def _state_label(self, row: OutboxRow) -> str:
        held = self.held_for(row)
        if held is None:
            return _STATE_LABEL.get(row.state, row.state)
        return f"held — sends in {held}s (ctrl+z undoes)"

    def _count_down(self) -> None:
        """Repaint the state of held rows (the seconds left; "queued" once the hold is over)."""
        if not any(r.action.hold_until is not None and r.state == "queued" for r in self.rows):
            return
        table = self.query_one("#outbox-table", DataTable)
        for row in self.rows:
            if row.action.hold_until is not None and row.state == "queued":
                table.update_cell(row.action.id, "state", self._state_cell(row))
        self._detail()

    def on_resize(self) -> None:
        self._fill()  # the last column takes the rest of the width

    def _fill(self, keep: str | None = None, index: int | None = None) -> None:
        """(Re)build the table from :attr:`rows`, with the cursor on action ``keep`` if it is
        still listed, else at ``index`` (default: where the cursor is)."""
        table = self.query_one("#outbox-table", DataTable)
        if index is None:
            keep = self.current.action.id if self.current else None
            index = table.cursor_row
        index = max(0, index)
        held = any(self.held_for(r) is not None for r in self.rows)
        columns = tuple((label, key, 36 if key == "state" and held else width) for label, key, width in _COLUMNS)
        fixed = sum(w for _, _, w in columns)
        # Each column has one cell of padding on both sides; one more for the scrollbar.
        rest = max(20, self.size.width - fixed - 2 * (len(_COLUMNS) + 1) - 1)
        table.clear(columns=True)
        for label, key, width in (*columns, ("Last error", "error", rest)):
            table.add_column(label, key=key, width=width)
        for row in self.rows:
            table.add_row(*self._cells(row, rest), key=row.action.id)
        if self.rows:
            ids = [r.action.id for r in self.rows]
            table.move_cursor(row=ids.index(keep) if keep in ids else min(index, len(ids) - 1), animate=False)

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"outbox-screen--{name}", partial=True)

    # ------------------------------------------------------------------ data
    def reload(self) -> None:
        """Read the outbox again (in a thread worker; the cursor stays on its action)."""
        self._load(self.show_sent)

    @work(thread=True, exclusive=True, group="outbox-view")
    def _load(self, show_sent: bool) -> None:
        try:
            rows = load_rows(self.ctx, show_sent=show_sent)
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"Cannot read the outbox: {exc}", severity="error", markup=False)
            return
        self.post_message(self.Loaded(rows, show_sent))

    @on(Loaded)
    def _show(self, message: Loaded) -> None:
        if message.show_sent != self.show_sent:
            return  # a toggle happened meanwhile; its own load follows
        keep = self.current.action.id if self.current else None
        index = self.query_one("#outbox-table", DataTable).cursor_row
        self.rows = message.rows
        self._fill(keep, index)
        self.loaded = True
        self.loads += 1
        self._title()
        self._detail()

    def _cells(self, row: OutboxRow, error_width: int) -> list[Text]:
        action = row.action
        state = row.state
        style = self._style(state.replace("_", "-"))
        error = "" if state == "sent" else action.last_error or ""
        if row.blocked_by and not error:
            error = f"waits for the {row.blocked_by} above"
        return [
            Text(one_line(row.key, 12), style=self._style("key")),
            Text(one_line(action_label(action), 16)),
            Text(self._system(action.target)),
            self._state_cell(row),
            Text(str(action.attempts), justify="right"),
            Text("blocked" if row.blocked_by else self._when(action), style=self._style("dim")),
            Text(one_line(error, error_width), style=style if action.last_error else self._style("dim")),
        ]

    @staticmethod
    def _systems() -> list[str]:
        """The display names of the systems idqueue writes back to, in registry order."""
        return [i.display for i in registry.integrations() if i.planner is not None]

    @staticmethod
    def _system(target: str) -> str:
        """A target's display name from the registry ("GitHub"); an unknown one as stored."""
        integration = registry.find(target)
        return integration.display if integration is not None else one_line(target, 10)

    def _state_cell(self, row: OutboxRow) -> Text:
        return Text(self._state_label(row), style=self._style(row.state.replace("_", "-")))

    def _when(self, action: Any) -> str:
        state = action.state.value
        if state == "sent" and action.sent_at is not None:
            return f"sent {self._time(action.sent_at)}"
        if state not in ("queued", "sending"):
            return "—" if state != "dropped" else ""
        if action.next_attempt_at is None:
            return "now" if state == "queued" else "sending"
        return self._time(action.next_attempt_at)

    def _time(self, at: datetime) -> str:
        local, today = at.astimezone(self.tz), self.ctx.clock().astimezone(self.tz)
        return local.strftime("%H:%M:%S" if local.date() == today.date() else "%a %d %H:%M")

    def _title(self) -> None:
        unsent = [r for r in self.rows if r.state in _UNSENT]
        problems = sum(r.state in _PROBLEMS for r in self.rows)
        text = Text("Outbox — ", style=self._style("label"))
        if not unsent:
            text.append("everything was sent", style=self._style("dim"))
        else:
            text.append(f"{len(unsent)} not sent")
            if problems:
                text.append(f" · {problems} need{'s' if problems == 1 else ''} you",
                            style=self._style("needs-attention"))
        if self.show_sent:
            text.append("  (sent and dropped shown: a hides them)", style=self._style("dim"))
        else:
            text.append("  (a shows sent and dropped too)", style=self._style("dim"))
        self.query_one("#outbox-title", Label).update(text)

    @property
    def current(self) -> OutboxRow | None:
        """The row under the cursor."""
        table = self.query_one("#outbox-table", DataTable)
        if not self.rows or table.cursor_row < 0 or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    @on(DataTable.RowHighlighted, "#outbox-table")
    def _highlighted(self) -> None:
        self._detail()

    def _detail(self) -> None:
        detail = self.query_one("#outbox-detail", Static)
        row = self.current
        if row is None:
            detail.update(Text(f"Nothing waiting: every action reached {'/'.join(self._systems())}." if not self.show_sent
                               else "No actions yet.", style=self._style("dim")))
            return
        detail.update(self._describe(row))

    def _describe(self, row: OutboxRow) -> RenderableType:
        action = row.action
        label = self._style("label")
        parts: list[RenderableType] = []
        head = Text()
        head.append(f"{row.key}  ", style=self._style("key"))
        head.append(one_line(action.summary or action.kind.value, 200))
        parts.append(head)
        line = Text()
        line.append("state ", style=label)
        line.append(self._state_label(row), style=self._style(row.state.replace("_", "-")))
        line.append("   tries ", style=label)
        line.append(str(action.attempts))
        line.append("   created ", style=label)
        line.append(self._time(action.created_at))
        if action.actor:
            line.append("   by ", style=label)
            line.append(one_line(action.actor, 60))
        line.append("   id ", style=label)
        line.append(action.id)
        parts.append(line)
        if action.last_error and row.state != "sent":
            parts.append(Text(f"✗ {one_line(action.last_error, 600)}", style=self._style(row.state.replace("_", "-"))))
        if row.blocked_by:
            parts.append(Text(f"Waits for the earlier {row.blocked_by} of {row.key}, which is stuck: retry or drop "
                              "that one first.", style=self._style("dim")))
        if action.text:
            lines = sanitize_terminal(str(action.text)).rstrip("\n").split("\n")
            shown = Text(style=self._style("dim"))
            for index, text in enumerate(lines[:6]):
                shown.append(("\n" if index else "") + f"  │ {text}")
            if len(lines) > 6:
                shown.append("\n  │ …")
            parts.append(shown)
        hint = ("r retry · d drop · enter show the request" if row.state in _UNSENT else "enter show the request")
        parts.append(Text(hint, style=self._style("dim")))
        return Group(*parts)

    # ------------------------------------------------------------------ actions
    def action_retry(self) -> None:
        """Queue the action again now (a conflict is then done anyway)."""
        row = self.current
        if row is None:
            return
        if row.state not in ("queued", "failed", "needs_attention"):
            self.notify(f"This action is {_STATE_LABEL.get(row.state, row.state)}: nothing to retry.", markup=False)
            return
        self._retry(row)

    @work(group="outbox-action", exit_on_error=False)
    async def _retry(self, row: OutboxRow) -> None:
        try:
            action = await asyncio.to_thread(self.ctx.require_actions().retry, row.action.id)
        except Exception as exc:  # ActionError: e.g. it is being sent right now
            self.notify(one_line(str(exc), 300), title="Retry", severity="error", markup=False)
            return
        forced = " (conflict check skipped)" if action.params.get("force") else ""
        self.notify(f"Queued again{forced}: {one_line(action.summary, 120)}", title=f"Retry {row.key}", markup=False)
        self.reload()
        if self.changed is not None:
            self.changed()
        if self.dispatch is not None:
            self.dispatch()

    def action_drop(self) -> None:
        """Drop the action, and the later unsent steps of the same verb (asks first)."""
        row = self.current
        if row is None:
            return
        if row.state not in _UNSENT:
            self.notify(f"This action is {_STATE_LABEL.get(row.state, row.state)}: nothing to drop.", markup=False)
            return
        self._drop(row)

    @work(group="outbox-action", exit_on_error=False)
    async def _drop(self, row: OutboxRow) -> None:
        later = [r for r in self.rows if r.action.group_id == row.action.group_id and r.action.seq > row.action.seq
                 and r.state in ("queued", "failed", "needs_attention")]
        body = Text(f"{row.key}: {one_line(row.action.summary, 200)}\n")
        if later:
            body.append("\nThe later steps of the same action are dropped too (they depend on it):\n")
            for other in later[:10]:
                body.append(f"  • {one_line(other.action.summary, 120)}\n")
        body.append(f"\nNothing is sent to {' or '.join(self._systems())} for them; this cannot be undone.")
        if not await self.app.push_screen_wait(ConfirmScreen("Drop this action?", body, confirm="Drop", danger=True)):
            return
        try:
            dropped = await asyncio.to_thread(self.ctx.require_actions().dropped_with, row.action.id)
        except Exception as exc:
            self.notify(one_line(str(exc), 300), title="Drop", severity="error", markup=False)
            return
        count = len(dropped)
        self.notify(f"Dropped {count} action{'s' if count != 1 else ''} of {row.key}.", title="Drop", markup=False)
        self.reload()
        if self.changed is not None:
            self.changed()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """An unexpected error in retry/drop is reported, never fatal."""
        if event.state is WorkerState.ERROR and event.worker.group == "outbox-action":
            error = event.worker.error
            self.notify(one_line(f"{type(error).__name__}: {error}", 300), title="That did not work",
                        severity="error", markup=False)

    def action_jump(self) -> None:
        """Show the action's request in the queue."""
        row = self.current
        if row is not None:
            self.dismiss(row.request_id)

    def action_undo(self) -> None:
        """Take back the verb of the held action under the cursor (nothing of it is sent)."""
        row = self.current
        if row is None or self.held_for(row) is None:
            self.notify("Only an action held for undo can be taken back here (r retry, d drop).", markup=False)
            return
        self._undo(row)

    @work(group="outbox-action", exit_on_error=False)
    async def _undo(self, row: OutboxRow) -> None:
        try:
            cancelled = await asyncio.to_thread(self.ctx.require_actions().undo, [row.action.group_id])
        except Exception as exc:  # too late: something of it was sent meanwhile
            self.notify(one_line(str(exc), 300), title="Undo", severity="error", markup=False)
            return
        count = len(cancelled)
        self.notify(f"Undone: {count} action{'s' if count != 1 else ''} of {row.key}. Nothing was sent.",
                    title="Undo", markup=False)
        self.reload()
        if self.changed is not None:
            self.changed()

    def action_toggle_sent(self) -> None:
        """Also list sent and dropped actions (the latest 500), or only what is not sent."""
        self.show_sent = not self.show_sent
        self._title()
        self.reload()

    def action_close(self) -> None:
        """Back to the queue."""
        self.dismiss(None)
