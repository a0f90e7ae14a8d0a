"""Assign picker: team members with their open load and who is on triage; type to filter.

Without a roster, the picker offers the people GitHub and Slack say can be assigned (the
repository's assignable users, the channel's members: :func:`outsiders`), and Enter on a
filter that matches nobody assigns what was typed (a login, Slack id or ``@name``, checked
before anything is queued).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from idqueue.config import Settings
from idqueue.safety import one_line
from idqueue.widgets.request_table import fit

if TYPE_CHECKING:  # the directory pulls in the API clients: imported when assigning, not at start
    from idqueue.outbox.people import Assignee


@dataclass(frozen=True)
class MemberChoice:
    """One roster member as the picker shows them."""

    key: str
    name: str
    login: str
    load: int
    on_triage: bool
    is_me: bool

    def matches(self, text: str) -> bool:
        """Case-insensitive substring match on key, name or login."""
        needle = text.casefold().strip()
        return not needle or any(needle in s.casefold() for s in (self.key, self.name, self.login))


def roster(settings: Settings, load: dict[str, int], on_triage: list[str]) -> list[MemberChoice]:
    """The roster for the picker: people on triage first, then by name."""
    members = [
        MemberChoice(
            key=key,
            name=one_line(member.name, 40),
            login=one_line(member.github or member.slack or "", 40),
            load=load.get(key, 0),
            on_triage=key in on_triage,
            is_me=key == settings.me,
        )
        for key, member in settings.team.items()
    ]
    return sorted(members, key=lambda m: (not m.on_triage, m.name.casefold()))


def _where(p: Assignee) -> str:
    """Who they are upstream: ``@login``, ``Slack U…``, or their id in another system (``Jira …``)."""
    if p.github:
        return p.handle
    if p.slack or not p.ids:
        return f"Slack {p.slack or p.key}"
    system, value = next(iter(p.ids.items()))
    return f"{system.capitalize()} {value}"


def outsiders(people: Sequence[Assignee], load: dict[str, int]) -> list[MemberChoice]:
    """People off the roster for the picker (GitHub assignable users, Slack channel members, Jira
    assignable users), by name."""
    members = [
        MemberChoice(
            key=p.key,
            name=one_line(p.name, 40),
            login=one_line(_where(p), 40),
            load=load.get(p.key, 0),
            on_triage=False,
            is_me=False,
        )
        for p in people
    ]
    return sorted(members, key=lambda m: m.name.casefold())


class AssignScreen(ModalScreen[str | None]):
    """Pick the assignee; returns the roster key or None.

    Args:
        members: the roster with loads (see :func:`roster`), or the people upstream
            (see :func:`outsiders`).
        subject: what is being assigned ("REQ-12 Title", "5 requests").
        typed: Enter on a filter that matches nobody returns the typed text (no roster: a
            GitHub login, Slack id or ``@name``).
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"assign-screen--triage", "assign-screen--dim", "assign-screen--me"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="assign.cancel"),
        Binding("down", "move(1)", "Next", show=False, id="assign.down"),
        Binding("up", "move(-1)", "Previous", show=False, id="assign.up"),
    ]

    def __init__(self, members: list[MemberChoice], subject: str, *, typed: bool = False) -> None:
        super().__init__(classes="modal")
        self.members = members
        self.subject = subject
        self.typed = typed

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(f"Assign {one_line(self.subject, 80)}"), classes="dialog-title")
            placeholder = ("filter, or type a GitHub login / Slack @name" if self.typed
                           else "type to filter by name or login")
            yield Input(placeholder=placeholder, id="filter")
            yield OptionList(id="members")
            hint = ("No roster: people who can be assigned on GitHub and Slack · Enter assigns · Esc cancels"
                    if self.typed else "★ on triage now · N open = current load · Enter assigns · Esc cancels")
            yield Label(Text(hint), classes="dialog-hint")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#filter", Input).focus()

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"assign-screen--{name}", partial=True)

    def _fill(self, text: str) -> None:
        options = self.query_one("#members", OptionList)
        shown = [m for m in self.members if m.matches(text)]
        prompts: list[Option] = []
        for m in shown:
            line = Text()
            line.append("★ " if m.on_triage else "  ", self._style("triage"))
            line.append(fit(m.name + (" (you)" if m.is_me else ""), 24), self._style("me") if m.is_me else Style())
            line.append(fit(m.login, 18), self._style("dim"))
            line.append(f"{m.load:>3} open", self._style("dim") if not m.load else Style())
            if m.on_triage:
                line.append("  on triage", self._style("triage"))
            prompts.append(Option(line, id=m.key))
        options.set_options(prompts)
        if prompts:
            options.highlighted = 0

    @on(Input.Changed, "#filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#filter")
    def _submit(self, event: Input.Submitted) -> None:
        options = self.query_one("#members", OptionList)
        if options.highlighted is not None and options.option_count:
            option = options.get_option_at_index(options.highlighted)
            self.dismiss(option.id)
        elif self.typed and event.value.strip():
            self.dismiss(event.value.strip())

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_move(self, step: int) -> None:
        """Move the highlight while typing."""
        options = self.query_one("#members", OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = (current + step) % options.option_count

    def action_cancel(self) -> None:
        """Close without assigning."""
        self.dismiss(None)
