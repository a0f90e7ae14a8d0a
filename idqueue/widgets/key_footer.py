"""The footer: every shown key when there is room; otherwise the main keys, as many others as
fit, and ``? more`` (the help screen lists every key)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

NARROW_WIDTH = 120
"""Below this many columns screens switch to their narrow layout (``-narrow`` class)."""


def _key_width(key: FooterKey) -> int:
    # " key description " as FooterKey draws it (padding either side, one space between).
    return cell_len(key.key_display) + cell_len(key.description) + 3


class KeyFooter(Footer):
    """A footer that never cuts keys off: when they do not all fit it keeps the main ones.

    Args:
        main: the actions (binding action names, e.g. ``assign``) always kept.
    """

    room: reactive[int] = reactive(0, recompose=True)
    """Columns available (set on resize; the keys are chosen to fit)."""

    def __init__(self, main: Iterable[str] = (), *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.main = frozenset(main)

    def on_resize(self, event: events.Resize) -> None:
        self.room = event.size.width

    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        keys = [w for w in widgets if isinstance(w, FooterKey)]
        if not self.room or sum(_key_width(k) for k in keys) <= self.room or any(
            not isinstance(w, FooterKey) for w in widgets
        ):
            yield from widgets
            return
        yield from self._fitting(keys)

    def _fitting(self, keys: list[FooterKey]) -> list[Widget]:
        """The main keys, ``? more``, then the other keys in order while they fit."""
        helper = next((k for k in keys if k.action == "help"), None)
        if helper is not None:
            helper.description = "more"
        kept = {id(k) for k in keys if k.action in self.main or k is helper}
        budget = self.room - sum(_key_width(k) for k in keys if id(k) in kept)
        for key in keys:
            if id(key) in kept or "-command-palette" in key.classes:
                continue
            if _key_width(key) <= budget:
                kept.add(id(key))
                budget -= _key_width(key)
        shown = [k for k in keys if id(k) in kept and k is not helper]
        return [*shown, helper] if helper is not None else list(shown)
