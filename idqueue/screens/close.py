"""Close a request: with the closing message (survey link) or silently, and why."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Label, RadioButton, RadioSet

from idqueue.widgets.steps_view import StepsView, missing_of

REASONS = (("completed", "Completed"), ("not_planned", "Not planned / out of scope"), ("duplicate", "Duplicate"))


@dataclass(frozen=True)
class CloseChoice:
    """How to close: the closing template (None = no message) and the reason."""

    template: str | None
    reason: str


class CloseScreen(ModalScreen[CloseChoice | None]):
    """Choose the closing message and reason, with a preview of what will be posted.

    Args:
        subject: what is being closed ("REQ-12 Title", "5 requests").
        planner: ``(template, reason) -> steps`` (``Actions.plan_close``; runs in a worker), or
            None for bulk closes where no single preview applies.
        template: the closing template key (``automation.on_close_template``).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Close it", id="close.yes"),
        Binding("escape", "cancel", "Cancel", id="close.no"),
    ]

    class _Planned(Message):
        def __init__(self, steps: Sequence[Any] | None, error: str | None) -> None:
            super().__init__()
            self.steps = steps
            self.error = error

    def __init__(self, subject: str, planner: Callable[[str | None, str], Sequence[Any]] | None,
                 *, template: str = "closed") -> None:
        super().__init__(classes="modal")
        self.subject = subject
        self.planner = planner
        self.template = template
        self.with_message = True
        self.reason = "completed"
        self.missing = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog dialog-wide"):
            yield Label(Text(f"Close {self.subject}"), classes="dialog-title")
            with Horizontal(classes="close-options"):
                with RadioSet(id="message"):
                    yield RadioButton("Send the closing message (survey link)", value=True, id="with")
                    yield RadioButton("Close without a message", id="without")
                with RadioSet(id="reason"):
                    for index, (value, label) in enumerate(REASONS):
                        yield RadioButton(label, value=index == 0, id=value)
            with VerticalScroll(classes="dialog-body"):
                yield StepsView(id="preview")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close it (y)", id="confirm", variant="error")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#message", RadioSet).focus()
        self._replan()

    def _replan(self) -> None:
        if self.planner is None:
            self.query_one(StepsView).show_text(
                "Each request gets its own closing message." if self.with_message else "No message is sent.")
            return
        self._plan(self.template if self.with_message else None, self.reason)

    @work(thread=True, exclusive=True, group="close-plan")
    def _plan(self, template: str | None, reason: str) -> None:
        assert self.planner is not None
        try:
            steps = self.planner(template, reason)
        except Exception as exc:
            self.post_message(self._Planned(None, str(exc)))
            return
        self.post_message(self._Planned(steps, None))

    @on(_Planned)
    def _show_plan(self, message: _Planned) -> None:
        preview = self.query_one(StepsView)
        if message.steps is None:
            preview.show_text(f"Cannot preview: {message.error}")
            self.missing = True
        else:
            preview.show(message.steps)
            self.missing = bool(missing_of(message.steps))
        self.query_one("#confirm", Button).disabled = self.missing

    @on(RadioSet.Changed, "#message")
    def _message_changed(self, event: RadioSet.Changed) -> None:
        self.with_message = event.pressed.id == "with"
        self._replan()

    @on(RadioSet.Changed, "#reason")
    def _reason_changed(self, event: RadioSet.Changed) -> None:
        self.reason = event.pressed.id or "completed"
        self._replan()

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        """Close with the chosen options."""
        if self.missing:
            return
        self.dismiss(CloseChoice(self.template if self.with_message else None, self.reason))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Cancel."""
        self.dismiss(None)

