"""Shows an action's planned steps (``Actions.plan_*``): summaries, message texts, warnings."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from idqueue.safety import one_line, sanitize_terminal

MISSING_RE = re.compile(r"«(?:missing|cannot render): [^»]*»")
"""The visible marker the template renderer leaves for a missing value."""


SLACK_MENTION_RE = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
"""A Slack user mention in mrkdwn: ``<@U0123>`` or ``<@U0123|name>``."""


def readable_mentions(text: str, names: Mapping[str, str]) -> str:
    """Show Slack mentions as Slack shows them (``@Erin Walsh``) for the people we know."""
    return SLACK_MENTION_RE.sub(lambda m: "@" + (names.get(m.group(1)) or m.group(2) or m.group(1)), text)


def slack_names(settings: Any) -> dict[str, str]:
    """Slack user id → name for the roster (``settings.team``)."""
    return {m.slack: m.name for m in getattr(settings, "team", {}).values() if getattr(m, "slack", None)}


def _without_snippet(summary: str) -> str:
    """A step summary without its quoted first line (the text is shown in full below it)."""
    head, sep, _ = summary.partition(': "')
    return head if sep and summary.endswith('"') else summary


def missing_of(steps: Sequence[Any]) -> list[str]:
    """All missing variable names across steps."""
    return sorted({m for s in steps for m in (getattr(s, "missing", ()) or ())})


class StepsView(Static):
    """A numbered list of steps; missing values and personal-data warnings stand out."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "steps-view--missing",
        "steps-view--warning",
        "steps-view--summary",
        "steps-view--dim",
        "steps-view--text",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.steps: list[Any] = []
        self.names: dict[str, str] = {}
        """Slack user id → name, so mentions read as names (the app's roster when it has one)."""

    def on_mount(self) -> None:
        ctx = getattr(self.app, "ctx", None)
        if ctx is not None:
            self.names = slack_names(ctx.settings)

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"steps-view--{name}", partial=True)

    def show(self, steps: Sequence[Any], *, note: str = "") -> None:
        """Render ``steps`` (objects with summary, target, text, missing, pii)."""
        self.steps = list(steps)
        self.update(self.render_steps(note))

    def show_text(self, text: str) -> None:
        """Show a plain message instead of steps."""
        self.update(Text(text, style=self._style("dim")))

    def render_steps(self, note: str = "") -> RenderableType:
        """The renderable for the current steps."""
        from idqueue.integrations import registry
        from idqueue.outbox.service import planner_of

        parts: list[RenderableType] = []
        if not self.steps:
            parts.append(Text("Nothing to do.", style=self._style("dim")))
        for number, step in enumerate(self.steps, 1):
            summary = str(step.summary)
            if getattr(step, "text", None):
                summary = _without_snippet(summary)  # the message follows in full: say it once
            summary = readable_mentions(summary, self.names)
            line = Text(f"{number}. {one_line(summary, 200)}", style=self._style("summary"))
            if getattr(step, "edited", False):
                line.append(" (your edited text)", style=self._style("dim"))
            parts.append(line)
            target = str(getattr(step, "target", ""))
            planner = planner_of(target)
            if getattr(step, "text", None):
                text = str(step.text)
                if planner is not None and planner.markup == "mrkdwn":
                    text = readable_mentions(text, self.names)
                body = Text(sanitize_terminal(text).rstrip("\n"), style=self._style("text"))
                body.highlight_regex(MISSING_RE, self._style("missing"))
                lines = body.split("\n")
                indented = Text()
                for index, line in enumerate(lines):
                    if index:
                        indented.append("\n")
                    indented.append("    ")
                    indented.append_text(line)
                parts.append(indented)
            pii = getattr(step, "pii", ()) or ()
            if pii and planner is not None and planner.public:
                found = ", ".join(sorted({one_line(str(getattr(p, "kind", "data"))) for p in pii}))
                where = registry.get(target).home_noun
                parts.append(Text(f"    ⚠ looks like personal data ({found}) — this {where} may be public",
                                  style=self._style("warning")))
        missing = missing_of(self.steps)
        if missing:
            parts.append(Text())
            parts.append(Text(f"Missing values: {', '.join(missing)} — cannot send until they are provided.",
                              style=self._style("missing")))
        if note:
            parts.append(Text())
            parts.append(Text(note, style=self._style("dim")))
        return Group(*parts)
