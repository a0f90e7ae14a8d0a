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
from textual.widgets import Button, Input, Label, RadioButton, RadioSet

from idqueue.widgets.steps_view import StepsView, missing_of

REASONS = (("completed", "Completed"), ("not_planned", "Not planned / out of scope"), ("duplicate", "Duplicate"))


@dataclass(frozen=True)
class CloseChoice:
    """How to close: the closing template (None = no message), the reason, and the original of a duplicate."""

    template: str | None
    reason: str
    duplicate_of: str | None = None


class CloseScreen(ModalScreen[CloseChoice | None]):
    """Choose the closing message and reason, with a preview of what will be posted.

    Args:
        subject: what is being closed ("REQ-12 Title", "5 requests").
        planner: ``(template, reason, duplicate_of) -> steps`` (``Actions.plan_close``; runs in a
            worker), or None for bulk closes where no single preview applies.
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

    def __init__(self, subject: str, planner: Callable[[str | None, str, str | None], Sequence[Any]] | None,
                 *, template: str = "closed") -> None:
        super().__init__(classes="modal")
        self.subject = subject
        self.planner = planner
        self.template = template
        self.with_message = True
        self.reason = "completed"
        self.duplicate_of = ""
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
            yield Input(placeholder="Duplicate of: a key (REQ-12), an id or a URL", id="duplicate-of")
            with VerticalScroll(classes="dialog-body"):
                yield StepsView(id="preview")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close it (y)", id="confirm", variant="error")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#duplicate-of", Input).display = False
        self.query_one("#message", RadioSet).focus()
        self._replan()

    @property
    def duplicate(self) -> bool:
        """Closing as a duplicate: the original is asked for, no closing message or survey."""
        return self.reason == "duplicate"

    def _replan(self) -> None:
        if self.duplicate and not self.duplicate_of.strip():
            self.query_one(StepsView).show_text("Type the original request (key or URL): the requester is pointed "
                                                "there, and gets no survey.")
            self.missing = True
            self.query_one("#confirm", Button).disabled = True
            return
        if self.planner is None:
            self.missing = False
            self.query_one("#confirm", Button).disabled = False
            self.query_one(StepsView).show_text(
                "Each request is pointed at the original." if self.duplicate
                else "Each request gets its own closing message." if self.with_message else "No message is sent.")
            return
        self._plan(self.template if self.with_message else None, self.reason,
                   self.duplicate_of.strip() if self.duplicate else None)

    @work(thread=True, exclusive=True, group="close-plan")
    def _plan(self, template: str | None, reason: str, duplicate_of: str | None) -> None:
        assert self.planner is not None
        try:
            steps = self.planner(template, reason, duplicate_of)
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
        field = self.query_one("#duplicate-of", Input)
        field.display = self.duplicate
        self.query_one("#message", RadioSet).disabled = self.duplicate
        if self.duplicate:
            field.focus()
        self._replan()

    @on(Input.Changed, "#duplicate-of")
    def _original_typed(self, event: Input.Changed) -> None:
        self.duplicate_of = event.value
        self._replan()

    @on(Input.Submitted, "#duplicate-of")
    def _original_submitted(self) -> None:
        self.action_confirm()

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        """Close with the chosen options."""
        if self.missing:
            return
        if self.duplicate:
            self.dismiss(CloseChoice(None, "duplicate", self.duplicate_of.strip()))
            return
        self.dismiss(CloseChoice(self.template if self.with_message else None, self.reason))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Cancel."""
        self.dismiss(None)

