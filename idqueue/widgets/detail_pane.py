"""The detail pane: the selected request's fields, why it is classified as it is, its SLA
clocks, unsent outbox actions, its body and the timeline merged from all its homes.

Everything shown comes from the outside systems and is untrusted: it is sanitised
(:func:`idqueue.safety.sanitize_terminal`) and wrapped in Rich ``Text`` objects, never parsed as
markup or Markdown, so a title like ``[@click=app.quit]`` is just text.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar
from zoneinfo import ZoneInfo

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import work
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from idqueue.config import Settings
from idqueue.domain.homes import TeamIndex
from idqueue.domain.models import EventKind, Request, TimelineEvent
from idqueue.domain.mrkdwn import unescape_mrkdwn
from idqueue.domain.sla_live import LiveClock, describe_clock, live_clock
from idqueue.integrations import registry
from idqueue.outbox.pending import PendingInfo, PendingLookup
from idqueue.safety import one_line, sanitize_terminal
from idqueue.store.db import Store
from idqueue.widgets.rows import SLA_LABELS, customer_name, member_name, source_text

QUOTE_MARKER = "\u2500\u2500 quoted history \u2500\u2500"
"""Where a reader puts a message's quoted history (the email reader's marker, repeated here so
the pane names no integration): the pane shows the text before it and collapses the rest."""
BODY_LIMIT = 20_000
"""Characters of a request body shown (a 200 KB body would only slow the pane down)."""
EVENT_LIMIT = 2_000
NEW_KINDS = frozenset({EventKind.MESSAGE, EventKind.COMMENT, EventKind.NOTE})
"""Timeline entries marked new (◆) when written after this person last looked at the request."""
"""Characters shown per timeline message."""

STYLE_NAMES = (
    "title", "label", "heading", "dim", "link", "breached", "at-risk", "ok", "met", "paused", "none",
    "p1", "p2", "p3", "p4", "actor", "failed", "pending", "new", *registry.names(),
)
"""Component classes (``detail-pane--<name>``); a system's events are styled with its name."""

_SLACK_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_SLACK_LINK = re.compile(r"<(https?://[^|>\s]+)\|([^>]*)>")

EVENT_VERBS = {
    EventKind.CREATED: "opened",
    EventKind.MESSAGE: "replied",
    EventKind.COMMENT: "commented",
    EventKind.NOTE: "added an internal note",
    EventKind.ASSIGNED: "assigned",
    EventKind.UNASSIGNED: "unassigned",
    EventKind.LABELED: "labelled",
    EventKind.UNLABELED: "unlabelled",
    EventKind.PENDING: "set pending",
    EventKind.RESUMED: "resumed",
    EventKind.CLOSED: "closed",
    EventKind.REOPENED: "reopened",
    EventKind.BACKLOG: "moved to backlog",
    EventKind.EDITED: "edited",
    EventKind.DELETED: "deleted",
    EventKind.RATING: "rated",
}


@dataclass
class RequestDetail:
    """Everything the pane shows for one request (loaded in a worker)."""

    request: Request
    timeline: list[TimelineEvent]
    pending: PendingInfo | None = None
    clock: LiveClock | None = None
    now: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)
    seen_at: datetime | None = None
    """When this person last looked at it: later messages are marked new (◆)."""


def load_detail(
    store: Store,
    settings: Settings,
    request_id: str,
    *,
    now: datetime,
    pending: PendingLookup | None = None,
) -> RequestDetail | None:
    """Read a request, its timeline and its unsent actions (call from a worker)."""
    request = store.get_request(request_id)
    if request is None:
        return None
    timeline = store.timeline(request.id)
    info = pending([request.id]).get(request.id) if pending else None
    return RequestDetail(request, timeline, info, live_clock(request, settings.sla, now=now), now,
                         seen_at=store.seen_at(request.id))


class DetailPane(ScrollView, can_focus=True):
    """Shows one request. Loading *and* rendering happen in a thread worker, so a long body
    or timeline never blocks the queue; the pane then only paints cached lines.

    Args:
        store: the store.
        settings: roster names, timezone, SLA configuration.
        clock: the injected clock.
        pending: unsent outbox actions lookup.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {f"detail-pane--{name}" for name in STYLE_NAMES}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll_up", "Scroll up", show=False, id="detail.up"),
        Binding("down,j", "scroll_down", "Scroll down", show=False, id="detail.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="detail.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="detail.page_down"),
        Binding("home", "scroll_home", "Top", show=False, id="detail.top"),
        Binding("end", "scroll_end", "Bottom", show=False, id="detail.bottom"),
    ]

    class Loaded(Message):
        """A request's detail was loaded and rendered (``detail`` None when it no longer exists)."""

        def __init__(self, request_id: str, detail: RequestDetail | None, lines: list[Strip], width: int,
                     same: bool) -> None:
            super().__init__()
            self.request_id = request_id
            self.detail = detail
            self.lines = lines
            self.width = width
            self.same = same

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        clock: Callable[[], datetime],
        pending: PendingLookup | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.store = store
        self.settings = settings
        self.clock = clock
        self.pending = pending
        self.request_id: str | None = None
        self.detail: RequestDetail | None = None
        # Blank until the queue says which request to show (the first frame comes before that).
        self._lines: list[Strip] = [Strip([])]
        self._width = 0

    def _content_width(self) -> int:
        return max(self.scrollable_content_region.width, 20)

    def _styles(self) -> dict[str, Style]:
        return {n: self.get_component_rich_style(f"detail-pane--{n}", partial=True) for n in STYLE_NAMES}

    def show_request(self, request_id: str | None) -> None:
        """Load and show a request (None clears the pane)."""
        same = request_id == self.request_id
        self.request_id = request_id
        if request_id is None:
            self.detail = None
            self._set_lines([Strip([Segment("No request selected.")])], same=False)
            return
        self._load(request_id, self._content_width(), self._styles(), same)

    def refresh_detail(self) -> None:
        """Reload the request currently shown (after a poll or an action), keeping the scroll."""
        if self.request_id is not None:
            self._load(self.request_id, self._content_width(), self._styles(), True)

    def text(self) -> str:
        """The pane's plain text (for tests and the e2e check)."""
        return "\n".join(strip.text.rstrip() for strip in self._lines)

    @work(thread=True, exclusive=True, group="detail")
    def _load(self, request_id: str, width: int, styles: dict[str, Style], same: bool) -> None:
        renderer = DetailRenderer(self.settings, styles)
        try:
            detail = load_detail(self.store, self.settings, request_id, now=self.clock(), pending=self.pending)
            if detail is None:
                lines = [Strip([Segment("This request no longer exists.")])]
            else:
                lines = renderer.lines(detail, width)
        except Exception as exc:  # a broken row must not take the app down
            lines = [Strip([Segment(one_line(f"Cannot show {request_id}: {exc}", 300))])]
            detail = None
        self.post_message(self.Loaded(request_id, detail, lines, width, same))

    def on_detail_pane_loaded(self, message: Loaded) -> None:
        message.stop()
        if message.request_id != self.request_id:
            return
        self.detail = message.detail
        self._width = message.width
        self._set_lines(message.lines, same=message.same)

    def _set_lines(self, lines: list[Strip], *, same: bool) -> None:
        self._lines = lines
        self.virtual_size = Size(self._content_width(), len(lines))
        if not same:
            self.set_scroll(0, 0)
        self.refresh()

    def on_resize(self) -> None:
        if self.request_id is not None and self._content_width() != self._width:
            self.refresh_detail()

    def render_line(self, y: int) -> Strip:
        index = y + int(self.scroll_y)
        width = self.size.width
        base = self.rich_style
        if index >= len(self._lines):
            return Strip.blank(width, base)
        return self._lines[index].apply_style(base).adjust_cell_length(width, base)


class DetailRenderer:
    """Builds the pane's content from a :class:`RequestDetail` (pure; safe in a worker thread).

    Args:
        settings: roster names and the team's timezone.
        styles: component-class name (``title``, ``breached``…) → Rich style, read from the
            pane's CSS on the UI thread.
    """

    def __init__(self, settings: Settings, styles: dict[str, Style]) -> None:
        self.settings = settings
        self.styles = styles
        self._tz = ZoneInfo(settings.sla.calendar.timezone)
        self._team = TeamIndex(settings, registry.rulebook(settings).rules)

    def lines(self, detail: RequestDetail, width: int) -> list[Strip]:
        """The content rendered to ``width`` cells, one strip per line."""
        console = Console(width=max(width, 20), file=io.StringIO(), force_terminal=True,
                          color_system="truecolor", legacy_windows=False, highlight=False)
        options = console.options.update(width=max(width, 20), highlight=False)
        rendered = console.render_lines(self.render_detail(detail), options, pad=False)
        return [Strip(line).simplify() for line in rendered]

    def _style(self, name: str) -> Style:
        return self.styles.get(name, Style())

    def _when(self, value: datetime | None) -> str:
        if value is None:
            return "—"
        return value.astimezone(self._tz).strftime("%a %d %b %H:%M")

    def render_detail(self, detail: RequestDetail) -> RenderableType:
        """Build the pane's content (Rich renderables of plain ``Text``)."""
        r = detail.request
        parts: list[RenderableType] = []
        parts.append(Text(one_line(r.title), style=self._style("title")))
        head = Text()
        head.append(r.key, self._style("label"))
        head.append("  ")
        head.append(r.priority, self._style(r.priority.lower()) if r.priority in ("P1", "P2", "P3", "P4") else Style())
        head.append(f"  {r.status.value}  ")
        head.append(one_line(r.type))
        head.append(f"  {source_text(r)}", self._style("dim"))
        parts.append(head)
        parts.append(Text())

        grid = Table.grid(padding=(0, 2))
        grid.add_column(style=self._style("label"), no_wrap=True)
        grid.add_column()
        requester = one_line(r.requester.name) if r.requester else "—"
        grid.add_row(Text("Requester"), Text(requester))
        if self.settings.customers:
            grid.add_row(Text("Customer"), Text(one_line(customer_name(self.settings, r.customer)) or "no customer"))
        grid.add_row(Text("Assignee"), Text(one_line(member_name(self.settings, r.assignee)) or "unassigned"))
        grid.add_row(Text("Created"), Text(self._when(r.created_at)))
        grid.add_row(Text("First reply"), Text(self._when(r.first_response_at)))
        if r.labels:
            grid.add_row(Text("Labels"), Text(", ".join(one_line(label, 40) for label in r.labels)))
        if r.snoozed_until is not None:
            grid.add_row(Text("Snoozed"), Text(f"until {self._when(r.snoozed_until)}"))
        if r.backlog_state:
            grid.add_row(Text("Backlog"), Text(one_line(r.backlog_state, 60)))
        for name, url in sorted(r.links.items()):
            link = one_line(url, 300)
            label = one_line(registry.display(name))
            cell = Text()
            cell.append(link, self._style("link") + Style(link=link))
            grid.add_row(Text(label), cell)
        parts.append(grid)
        parts.append(Text())

        parts.append(Text("Why", style=self._style("heading")))
        why = Table.grid(padding=(0, 2))
        why.add_column(style=self._style("label"), no_wrap=True)
        why.add_column()
        why.add_row(Text("Type"), Text(f"{one_line(r.type)} — {one_line(r.type_reason) or 'no reason recorded'}"))
        reason = one_line(r.priority_reason) or "no reason recorded"
        if r.priority_override:
            reason = f"manual override ({one_line(r.priority_override)})"
        why.add_row(Text("Priority"), Text(f"{r.priority} — {reason}"))
        parts.append(why)
        parts.append(Text())

        parts.append(self._render_sla(detail))
        if r.fields:
            parts.append(Text())
            parts.append(Text("Intake fields", style=self._style("heading")))
            fields = Table.grid(padding=(0, 2))
            fields.add_column(style=self._style("label"), no_wrap=True)
            fields.add_column()
            for key, value in r.fields.items():
                fields.add_row(Text(one_line(key, 40)), Text(one_line(value, 300)))
            parts.append(fields)
        if detail.pending is not None and detail.pending.total:
            parts.append(Text())
            parts.append(self._render_pending(detail.pending))
        # The conversation comes before the raw body: the intake fields above already summarise
        # the request, and a huge body would otherwise push the timeline out of reach.
        parts.append(Text())
        parts.append(Text(f"Timeline ({len(detail.timeline)})", style=self._style("heading")))
        if not detail.timeline:
            parts.append(Text("No replies or events yet.", style=self._style("dim")))
        seen = detail.seen_at
        for event in detail.timeline:
            new = seen is not None and event.at > seen and event.kind in NEW_KINDS
            parts.append(self._render_event(event, new=new))
        parts.append(Text())
        parts.append(Text("Request", style=self._style("heading")))
        parts.append(self._body_text(r.body, mrkdwn=_is_mrkdwn(r.source)))
        return Group(*parts)

    def _render_sla(self, detail: RequestDetail) -> RenderableType:
        r = detail.request
        sla = r.sla
        state = sla.state
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style=self._style("label"), no_wrap=True)
        grid.add_column()
        label = Text(SLA_LABELS.get(state, state), style=self._style(state.replace("_", "-")))
        clock = detail.clock
        if clock is not None and clock.overdue is not None:
            label.append(f"  {describe_clock(clock.overdue)} overdue")
        elif clock is not None and clock.remaining is not None and state != "breached":
            label.append(f"  {describe_clock(clock.remaining)} left")
            if clock.resumes_at is not None:
                label.append(f"  ⏸ outside business hours, counts again {self._when(clock.resumes_at)}",
                             self._style("dim"))
        grid.add_row(Text("SLA"), label)
        if sla.policy:
            grid.add_row(Text("Policy"), Text(one_line(sla.policy)))
        grid.add_row(Text("First reply due"), Text(self._when(sla.first_response_due)))
        grid.add_row(Text("Resolution due"), Text(self._when(sla.resolution_due)))
        if sla.reason:
            grid.add_row(Text("Clock"), Text(one_line(sla.reason)))
        return Group(Text("SLA clocks", style=self._style("heading")), grid)

    def _render_pending(self, pending: PendingInfo) -> RenderableType:
        lines = [Text("Outbox — not yet confirmed upstream", style=self._style("heading"))]
        for item in pending.items:
            if item.failed:
                line = Text(f"  ✗ {item.summary}", style=self._style("failed"))
                line.append(f"\n    {item.error or 'failed'} — press ! to retry")
            else:
                line = Text(f"  ↑ {item.summary} ({item.state})", style=self._style("pending"))
            if item.actor:
                line.append(f" · by {item.actor}", style=self._style("actor"))
            lines.append(line)
        return Group(*lines)

    def _body_text(self, body: str, *, mrkdwn: bool) -> Text:
        body, quoted = _own_text(body)
        text = body[:BODY_LIMIT]
        if mrkdwn:
            text = self._slack_display(text)
        out = Text(sanitize_terminal(text).strip() or "(empty)")
        if len(body) > BODY_LIMIT:
            out.append(f"\n… truncated ({len(body) - BODY_LIMIT:,} more characters; press o to open it)",
                       self._style("dim"))
        if quoted:
            out.append(f"\n{quoted}", self._style("dim"))
        return out

    def _slack_display(self, text: str) -> str:
        """Slack mrkdwn → readable text: names for known user mentions, link text, unescaped."""

        def mention(m: re.Match[str]) -> str:
            key = self._team.member(m.group(1))
            return f"@{member_name(self.settings, key)}" if key else f"@{m.group(1)}"

        text = _SLACK_MENTION.sub(mention, text)
        text = _SLACK_LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
        return unescape_mrkdwn(text)

    def _render_event(self, event: TimelineEvent, *, new: bool = False) -> RenderableType:
        head = Text()
        if new:  # written since this person last looked at the request
            head.append("◆ new  ", self._style("new"))
        head.append(self._when(event.at), self._style("dim"))
        head.append("  ")
        member = self._member_of(event.actor_id)
        actor = one_line(member or event.actor_name or event.actor_id or "someone", 60)
        head.append(actor, self._style("actor"))
        head.append(f" {EVENT_VERBS.get(event.kind, event.kind.value)}")
        head.append(f"  {one_line(registry.display(event.source), 40)}", self._style(event.source))
        if event.kind in (EventKind.ASSIGNED, EventKind.UNASSIGNED) and event.data.get("assignee"):
            who = str(event.data["assignee"])
            head.append(f" → {one_line(self._member_of(who) or member_name(self.settings, who), 40)}")
        if event.kind in (EventKind.LABELED, EventKind.UNLABELED) and event.data.get("label"):
            head.append(f" “{one_line(str(event.data['label']), 40)}”")
        if event.url:
            link = one_line(event.url, 300)
            head.append("  ↗", self._style("link") + Style(link=link))
        if not event.body or event.kind not in (EventKind.MESSAGE, EventKind.COMMENT, EventKind.NOTE, EventKind.CREATED,
                                                 EventKind.EDITED, EventKind.RATING):
            return head
        own, quoted = _own_text(event.body)
        body = own[:EVENT_LIMIT]
        if _is_mrkdwn(event.source):
            body = self._slack_display(body)
        body = sanitize_terminal(body).strip()
        if len(own) > EVENT_LIMIT:
            body += " …"
        text = Text(body)
        if quoted:
            text.append(f"\n{quoted}", self._style("dim"))
        return Group(head, Padding(text, (0, 0, 0, 4)))

    def _member_of(self, actor_id: str | None) -> str | None:
        """The roster name of a person's id in any system (a GitHub login, a Slack user id)."""
        if not actor_id:
            return None
        key = self._team.member(actor_id)
        return member_name(self.settings, key) if key else None


def _own_text(body: str) -> tuple[str, str]:
    """A mail's own text, and a one-line note standing for its quoted history (collapsed: the
    reader puts the history after :data:`QUOTE_MARKER`); other texts are returned whole."""
    at = body.find(QUOTE_MARKER)
    if at < 0:
        return body, ""
    hidden = body[at + len(QUOTE_MARKER):].strip("\n")
    lines = hidden.count("\n") + 1 if hidden else 0
    return body[:at].rstrip(), f"▸ quoted history ({lines} line{'s' if lines != 1 else ''}) hidden"


def _is_mrkdwn(system: str) -> bool:
    """Whether a system's text is Slack mrkdwn (mentions, ``<url|text>`` links, escapes)."""
    found = registry.find(system)
    return found is not None and found.text_format == "mrkdwn"
