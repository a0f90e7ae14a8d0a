"""The priority picker: automatic (no override) or P1–P4, with ``0``–``4`` shortcuts."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType

from idqueue.screens.choice import ChoiceScreen

CHOICES = [
    ("auto", "0  Automatic (remove the override: the rules decide)"),
    ("P1", "1  P1 — urgent"),
    ("P2", "2  P2 — high"),
    ("P3", "3  P3 — normal"),
    ("P4", "4  P4 — low"),
]
HINT = ("Enter or 0–4 sets it. The new priority's SLA targets apply from now on: a first response "
        "already given stays met; running clocks keep the share of their budget already used.")


class PriorityScreen(ChoiceScreen):
    """Choose a priority override (or remove it).

    Args:
        title: what is being changed ("Priority for REQ-12 …").
        current: the current override (highlighted), None when the rules decide.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("0", "pick('auto')", "Automatic", id="priority.auto"),
        Binding("1", "pick('P1')", "P1", id="priority.p1"),
        Binding("2", "pick('P2')", "P2", id="priority.p2"),
        Binding("3", "pick('P3')", "P3", id="priority.p3"),
        Binding("4", "pick('P4')", "P4", id="priority.p4"),
    ]

    def __init__(self, title: str, *, current: str | None = None) -> None:
        super().__init__(title, CHOICES, current=current or "auto", hint=HINT)

    def action_pick(self, value: str) -> None:
        """Choose ``value`` at once."""
        self.dismiss(value)
