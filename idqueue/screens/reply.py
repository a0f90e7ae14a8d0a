"""Reply: pick a standard response (or write free text), preview it exactly as it will be
posted (Slack mrkdwn in the thread, GitHub Markdown as a comment, or both), fill missing values,
edit, then send.

One syntax to write in: free text and edits of a template are Markdown whatever the target; for
Slack the outbox converts them to mrkdwn (the preview shows that conversion). A request on Slack
and GitHub can be answered in both at once (the "Both" target: one message each, both previews
shown). An edited template keeps its side effects (assign me, labels, pending, close, backlog). Sending is refused while the text still contains a
``«missing: …»`` marker, and text that looks like personal data needs a second confirmation
before it goes to a (public) GitHub issue.

Nothing typed is lost: a reply closed without sending (escape, then "keep draft", or the app
quitting) is handed to ``keep`` as a draft, and the next composer on that request restores it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    ContentSwitcher,
    Input,
    Label,
    OptionList,
    RadioButton,
    RadioSet,
    Static,
    TextArea,
)
from textual.widgets.option_list import Option

from idqueue.config import Settings
from idqueue.domain.models import Request
from idqueue.domain.pii import PiiMatch, find_pii
from idqueue.domain.templates import (
    RESERVED_NAMES,
    ResponseTemplate,
    TemplateError,
    render_for,
    targets_for,
)
from idqueue.integrations import registry
from idqueue.integrations.planning import HomePlanner
from idqueue.outbox.service import MARKUP_NAMES, planned_homes, planner_of
from idqueue.safety import one_line, sanitize_terminal
from idqueue.screens.confirm import ConfirmScreen
from idqueue.widgets.key_footer import NARROW_WIDTH
from idqueue.widgets.request_table import fit
from idqueue.widgets.steps_view import MISSING_RE, readable_mentions, slack_names

Target = str
"""A writable integration's name, or :data:`ALL` (every home of the request)."""
Home = str
"""A writable integration's name."""
FREE_TEXT = "\x00free"
ALL = "both"
"""The composer's "every home" target (the outbox also accepts ``all``)."""


def composer_planners(settings: Settings | None = None, homes: Iterable[str] = ()) -> list[HomePlanner]:
    """The systems a reply can go to, as the composer lists them: where requesters talk to the
    team first (a Slack thread), then the others, each group in registry order. With
    ``settings``, only the systems they let idqueue write to, and the request's ``homes``."""
    keep = set(homes)
    planners = [p for i in registry.integrations() if (p := i.get_planner()) is not None
                and (settings is None or i.name in keep or i.writable(settings))]
    return [p for p in planners if p.conversational] + [p for p in planners if not p.conversational]


def target_name(target: str, *, short: bool = False, homes: int | None = None) -> str:
    """The composer's label of a target ("Slack thread", "GitHub comment"; short: "Slack");
    every home is "Both" for two (``homes``: how many the request has), else "All"."""
    if target == ALL:
        return "Both" if (len(composer_planners()) if homes is None else homes) <= 2 else "All"
    integration = registry.find(target)
    display = integration.display if integration is not None else target
    planner = planner_of(target)
    return display if short or planner is None or not planner.reply_label else planner.reply_label


def registry_planners() -> list[HomePlanner]:
    """The writable systems' planners in registry order (the order the outbox posts in)."""
    return [p for p in (i.get_planner() for i in registry.integrations()) if p is not None]


def _reply_noun(planner: HomePlanner) -> str:
    return planner.reply_noun or f"{registry.get(planner.name).display} reply"


def _public_note(planner: HomePlanner) -> str:
    """"the issue may be public", from the home's noun ("GitHub issue")."""
    return f"the {registry.get(planner.name).home_noun.split()[-1]} may be public"


@dataclass(frozen=True)
class ReplyChoice:
    """What to send, and where.

    Attributes:
        template: the template key (its side effects run, edited or not), or None for free text.
        text: None to send the template as the outbox renders it; otherwise Markdown (free
            text, or the user's edit of the template), converted to mrkdwn for Slack.
        target: the destination chosen in the composer (``both``: the Slack thread and the
            GitHub issue, one message each).
        extra: values typed for missing template variables.
    """

    template: str | None
    text: str | None
    target: Target
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def edited(self) -> bool:
        """A template whose text was edited by hand."""
        return self.template is not None and self.text is not None

    def reply_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``Actions.reply(request_id, **kwargs)`` / ``plan_reply``."""
        kwargs: dict[str, Any] = {"template": self.template, "target": self.target, "extra": self.extra or None}
        if self.text is not None:
            kwargs["text"] = self.text
        return kwargs


class ReplyScreen(ModalScreen[ReplyChoice | None]):
    """The reply composer.

    Args:
        request: the request being answered.
        templates: the templates that fit its type (picker order).
        settings: for rendering (roster, team name, survey link).
        initial: a template key to start with.
        draft: a draft kept from an earlier composer on this request (see :meth:`draft_state`);
            it is restored, with a note saying so.
        keep: called once when the composer closes without sending, with the draft to keep
            (None: nothing to keep). A reply that is sent is the caller's to keep until it is
            queued (:meth:`draft_state`).

    Below ``NARROW_WIDTH`` columns (``-narrow``) the dialog takes the whole screen, the template
    list is narrower (titles only), and the target, inputs and buttons are one line each.
    """

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW_WIDTH, "-wide")]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "reply-screen--missing",
        "reply-screen--warning",
        "reply-screen--dim",
        "reply-screen--key",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "send", "Send", id="reply.send", priority=True),
        Binding("ctrl+e", "toggle_edit", "Edit / preview", id="reply.edit", priority=True),
        Binding("ctrl+t", "switch_target", "Slack / GitHub / Both", id="reply.target", priority=True),
        Binding("ctrl+g", "discard_draft", "Discard draft", id="reply.discard_draft", priority=True),
        Binding("escape", "cancel", "Cancel", id="reply.cancel"),
    ]

    def __init__(self, request: Request, templates: list[ResponseTemplate], settings: Settings,
                 *, initial: str | None = None, draft: dict[str, Any] | None = None,
                 keep: Callable[[dict[str, Any] | None], None] | None = None) -> None:
        super().__init__(classes="modal")
        self.request = request
        self.templates = {t.key: t for t in templates}
        self.order = [t.key for t in templates]
        self.settings = settings
        here = {p.name for p, _ in planned_homes(request)}
        self.planners = composer_planners(settings, here)
        self.homes: list[Home] = [p.name for p in self.planners if p.name in here]
        self.template_key: str | None = initial if initial in self.templates else (self.order[0] if self.order else None)
        self.target: Target = self.homes[0] if self.homes else (self.planners[0].name if self.planners else ALL)
        self.chosen_target: Target | None = None
        """The target the user picked; kept across template switches wherever a template can go there."""
        self.extra: dict[str, str] = {}
        self.text = ""
        """The Markdown being written: free text, the user's edit, or the template's Markdown."""
        self.rendered: dict[Home, str] = {}
        """The template as the outbox renders it, per home (GitHub Markdown / Slack mrkdwn)."""
        self.missing: tuple[str, ...] = ()
        self.edit: str | None = None
        """The user's Markdown edit of the template (one text for every target)."""
        self.error: str | None = None
        self.keep = keep
        self.had_draft = draft is not None
        self.restored: str | None = None
        """When the draft shown was kept (HH:MM), while it is shown."""
        self.discarded = False
        self.sent = False
        self.pending: tuple[str | None, str | None, str] | None = None
        """A restored draft's (template, edit, free text), applied when that entry is chosen."""
        if self.template_key is not None:
            self._pick_target_for(self.templates[self.template_key])
        if draft is not None:
            self._restore(draft)

    def _restore(self, draft: dict[str, Any]) -> None:
        """Take a kept draft's template, target, edits and values (before mounting)."""
        key = draft.get("template")
        if key is not None and key not in self.templates:
            return  # the template is gone: the draft cannot be shown as it was
        self.template_key = key
        target = draft.get("target")
        if target in self.homes or (target in (ALL, "all") and len(self.homes) > 1):
            target = ALL if target == "all" else target
            self.target = self.chosen_target = target
        self.extra = {str(k): str(v) for k, v in (draft.get("extra") or {}).items()}
        edit = draft.get("edit")
        self.edit = str(edit) if edit is not None and key is not None else None
        self.pending = (key, self.edit, str(draft.get("text") or "") if key is None else "")
        saved = str(draft.get("saved_at") or "")
        try:
            self.restored = datetime.fromisoformat(saved).astimezone().strftime("%H:%M")
        except ValueError:
            self.restored = "earlier"

    # ------------------------------------------------------------------ layout
    @property
    def narrow(self) -> bool:
        """The terminal is narrower than ``NARROW_WIDTH``."""
        return self.app.size.width < NARROW_WIDTH

    def compose(self) -> ComposeResult:
        title = f"Reply to {self.request.key} — {one_line(self.request.title, 70)}"
        options = [Option(self._template_label(t), id=t.key) for t in self.templates.values()]
        options.append(Option(Text("✎ Free text"), id=FREE_TEXT))
        with Vertical(classes="dialog dialog-wide", id="reply-dialog"):
            yield Label(Text(title), classes="dialog-title")
            with Horizontal(id="reply-main"):
                yield OptionList(*options, id="templates")
                with Vertical(id="reply-right"):
                    with RadioSet(id="target"):
                        # The request's own homes (a system it does not live in is no choice).
                        for planner in [p for p in self.planners if p.name in self.homes] or self.planners:
                            yield RadioButton(target_name(planner.name, short=self.narrow),
                                              value=planner.name == self.target, id=planner.name,
                                              disabled=planner.name not in self.homes)
                        yield RadioButton(target_name(ALL, homes=len(self.homes)), value=self.target == ALL, id=ALL,
                                          disabled=len(self.homes) < 2)
                    yield Vertical(id="values")
                    with ContentSwitcher(initial="preview-scroll", id="switcher"):
                        with VerticalScroll(id="preview-scroll"):
                            yield Static(id="preview", markup=False)
                        yield TextArea(id="editor", soft_wrap=True, show_line_numbers=False)
                    yield Static(id="warnings", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Send (ctrl+s)", id="send", variant="primary")
                yield Button("Edit (ctrl+e)", id="edit")
                yield Button("Cancel (esc)", id="cancel")

    def _template_label(self, template: ResponseTemplate) -> Text:
        width = 20 if self.narrow else 30
        text = Text(fit(one_line(template.title), width), no_wrap=True)
        effects = template.side_effects.describe()
        if effects and not self.narrow:
            text.append("\n")
            text.append(fit(f"  {one_line(effects)}", width), self._style("dim"))
        return text

    def on_resize(self, event: events.Resize) -> None:
        for widget in self.query("Button, Input"):
            if isinstance(widget, Button | Input):
                widget.compact = self.narrow

    def on_mount(self) -> None:
        templates = self.query_one("#templates", OptionList)
        keys = [*self.order, FREE_TEXT]
        templates.highlighted = keys.index(self.template_key) if self.template_key else len(keys) - 1
        templates.focus()
        if self.template_key is None:
            self._choose(FREE_TEXT)
            if self.restored is not None:  # back to writing where the draft stopped
                editor = self.query_one("#editor", TextArea)
                editor.move_cursor(editor.document.end)
                editor.focus()
        else:
            self._render_template()

    def on_unmount(self) -> None:
        """Hand what was typed to ``keep`` (a draft), or None to forget an earlier one."""
        if self.keep is None or self.sent:
            return
        state = None if self.discarded else self.draft_state()
        if state is not None or self.had_draft:
            try:
                self.keep(state)
            except Exception as exc:  # the store may be gone while the app quits
                self.app.log.warning(f"reply draft not kept: {one_line(str(exc), 200)}")

    def draft_state(self) -> dict[str, Any] | None:
        """What was typed, as JSON-able values to restore later (None: nothing typed)."""
        if not self.changed:
            return None
        return {
            "template": self.template_key,
            "target": self.target,
            "text": self.text if self.template_key is None else None,
            "edit": self.edit,
            "extra": {k: v for k, v in self.extra.items() if v.strip()},
            "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"reply-screen--{name}", partial=True)

    # ------------------------------------------------------------------ state changes
    def _choices(self, template: ResponseTemplate | None) -> list[Target]:
        """The targets a template (None: free text) can go to here, in ``ctrl+t`` order."""
        fits = targets_for(template, self.request, homes=self.homes) if template is not None else self.homes
        wanted: list[Target] = [t for t in self.homes if t in fits]
        return [*wanted, ALL] if len(wanted) > 1 else wanted

    def _pick_target_for(self, template: ResponseTemplate) -> None:
        wanted = self._choices(template)
        if self.chosen_target in wanted:
            self.target = self.chosen_target  # back to the user's choice after a one-target template
        elif wanted and self.target not in wanted:
            self.target = wanted[0]

    @property
    def targets(self) -> list[Home]:
        """Where Send posts: the chosen home, or every home."""
        return list(self.homes) if self.target == ALL else [self.target]

    @property
    def _base(self) -> str:
        """The Markdown target whose rendering of a template an edit starts from (GitHub)."""
        return next((p.name for p in registry_planners() if p.markup == "markdown"), "")

    @property
    def edited(self) -> bool:
        """The template's text is a hand edit (Markdown, for every target)."""
        return self.template_key is not None and self.edit is not None

    def _choose(self, key: str) -> None:
        editor = self.query_one("#editor", TextArea)
        self.edit = None
        restore = self.pending
        if restore is not None and (restore[0] or FREE_TEXT) == key:
            self.edit = restore[1]
            self.pending = None
        if key == FREE_TEXT:
            self.template_key = None
            self.rendered = {}
            self.text = restore[2] if restore is not None and self.pending is None else ""
            self.missing = ()
            editor.load_text(self.text)
            self._set_values([])
            self._enable_targets()
            self._show_editor(True, focus=False)
        else:
            self.template_key = key
            self._pick_target_for(self.templates[key])
            self.query_one(f"#{self.target}", RadioButton).value = True
            self._enable_targets()
            self._show_editor(False)
            self._render_template()
        self._update_preview()

    def _render_template(self) -> None:
        """Render the chosen template for the chosen target (pure; no I/O)."""
        if self.template_key is None:
            return
        template = self.templates[self.template_key]
        extra = {k: v for k, v in self.extra.items() if v.strip()}
        try:
            # The Markdown rendering (GitHub's) is the template's own text: what an edit starts from.
            homes: list[Home] = list(dict.fromkeys([self._base, *self.homes]))
            rendered = {t: render_for(self.request, template, self.settings, target=t, extra=extra,
                                      markup=p.markup if (p := planner_of(t)) is not None else None) for t in homes}
        except TemplateError as exc:
            self.error = str(exc)
            self.rendered = {}
            self.text = ""
            self.missing = ()
        else:
            self.error = None
            self.rendered = {t: p.as_sent(r.text) if (p := planner_of(t)) is not None else r.text
                             for t, r in rendered.items()}
            self.text = self.edit if self.edit is not None else self.rendered[self._base]
            self.missing = tuple(dict.fromkeys(m for t in self.targets for m in rendered[t].missing))
        self.query_one("#editor", TextArea).load_text(self.text)
        self._set_values([m for m in self.missing if "." not in m and m not in RESERVED_NAMES])
        self._update_preview()

    def _set_values(self, names: list[str]) -> None:
        """One input per missing value the user can provide (e.g. ``due_date``)."""
        box = self.query_one("#values", Vertical)
        existing = {w.id for w in box.query(Input)}
        wanted = {f"var-{n}" for n in names} | {f"var-{n}" for n, v in self.extra.items() if v}
        for widget in list(box.query(Input)):
            if widget.id not in wanted:
                widget.remove()
        for name in names:
            if f"var-{name}" not in existing:
                box.mount(Input(value=self.extra.get(name, ""), placeholder=f"value for {name}", id=f"var-{name}",
                                compact=self.narrow))
        box.display = bool(wanted)

    def _show_editor(self, editing: bool, *, focus: bool = True) -> None:
        switcher = self.query_one("#switcher", ContentSwitcher)
        switcher.current = "editor" if editing else "preview-scroll"
        self.query_one("#edit", Button).label = "Preview (ctrl+e)" if editing else "Edit (ctrl+e)"
        if editing and focus:
            self.query_one("#editor", TextArea).focus()

    def _current_missing(self) -> list[str]:
        if self.edited or self.template_key is None:
            return [m.group(0) for m in MISSING_RE.finditer(self.text)]
        return list(self.missing)

    def sent_for(self, home: Home) -> str:
        """The text exactly as it will be posted to ``home``: Markdown (free text or an edit) is
        converted for Slack the way the outbox converts it (mrkdwn, broadcasts neutralised)."""
        if self.template_key is not None and self.edit is None:
            return self.rendered.get(home, "")
        planner = planner_of(home)
        return planner.from_markdown(self.text) if planner is not None else self.text

    @property
    def sent_texts(self) -> dict[Home, str]:
        """What each destination of Send receives."""
        return {home: self.sent_for(home) for home in self.targets}

    @property
    def sent_text(self) -> str:
        """The text posted to the chosen target (with every home: where the requester talks, Slack)."""
        return self.sent_for(self.targets[0] if self.targets else self.target)

    @property
    def changed(self) -> bool:
        """Something typed by hand (free text, an edit, a value) would be lost on cancel."""
        typed = self.text.strip() if self.template_key is None else self.edit is not None
        return bool(typed) or any(v.strip() for v in self.extra.values())

    def _shown(self, home: Home) -> Text:
        """The preview of one destination (Slack mentions read as names)."""
        shown = self.sent_for(home)
        planner = planner_of(home)
        if planner is not None and planner.markup == "mrkdwn":
            # Mentions read as Slack shows them (@Erin Walsh), not as <@U0…> ids.
            people = slack_names(self.settings)
            if self.request.requester is not None:
                people.setdefault(self.request.requester.id, self.request.requester.name)
            shown = readable_mentions(shown, people)
        preview = Text(sanitize_terminal(shown).rstrip("\n") or "(nothing to send yet)")
        preview.highlight_regex(MISSING_RE, self._style("missing"))
        return preview

    def _update_preview(self) -> None:
        if self.target == ALL:
            preview = Text()
            for planner in self._in_registry_order():
                if preview:
                    preview.append("\n\n")
                title = f"{target_name(planner.name)} ({MARKUP_NAMES.get(planner.markup, planner.markup)})"
                preview.append(f"── {title} ──\n", self._style("key"))
                preview.append_text(self._shown(planner.name))
        else:
            preview = self._shown(self.target)
        self.query_one("#preview", Static).update(preview)
        warnings = Text()
        if self.restored is not None:
            warnings.append(f"✎ Draft restored (kept {self.restored}) — ctrl+g discards it\n", self._style("warning"))
        warnings.append(f"Posts as: {self._posts_as()}", self._style("dim"))
        if self.template_key is not None:
            effects = self.templates[self.template_key].side_effects.describe()
            if self.edited:
                warnings.append(" · ✎ edited (Markdown, every target): posted as previewed", self._style("dim"))
            if effects:
                warnings.append(f"\nAlso does: {effects}" + (" (kept with your edit)" if self.edited else ""),
                                self._style("warning" if self.edited else "dim"))
        if self.error:
            warnings.append(f"\n✗ {one_line(self.error, 200)}", self._style("missing"))
        missing = self._current_missing()
        if missing:
            names = ", ".join(sorted({m.removeprefix("«missing: ").removesuffix("»") for m in missing}))
            warnings.append(f"\n✗ Missing values: {names} — fill them in before sending", self._style("missing"))
        pii = self._pii()
        public = self._public_target()
        if pii and public is not None:
            kinds = ", ".join(sorted({p.kind for p in pii}))
            warnings.append(f"\n⚠ Looks like personal data ({kinds}); {registry.get(public.name).home_noun}s may be "
                            "public", self._style("warning"))
        self.query_one("#warnings", Static).update(warnings)
        self.query_one("#send", Button).disabled = bool(missing) or not self.text.strip() or bool(self.error)

    def _pii(self) -> list[PiiMatch]:
        allow = [self.settings.survey.url, *(m.email for m in self.settings.team.values() if m.email)]
        allow += [u for u in (self.request.url, *self.request.links.values()) if u]
        public = self._public_target()
        text = self.sent_for(public.name) if public is not None else self.text
        return list(find_pii(text, allow=allow))

    def _public_target(self) -> HomePlanner | None:
        """The first target where a reply may be public (a GitHub issue), if Send posts there."""
        return next((p for p in self._in_registry_order() if p.public), None)

    def _in_registry_order(self) -> list[HomePlanner]:
        """The planners of the targets Send posts to, in registry order (the outbox's order)."""
        return [p for p in registry_planners() if p.name in self.targets]

    def _posts_as(self) -> str:
        """Where and in which markup Send posts, for the line under the preview."""
        def markup(planner: HomePlanner) -> str:
            return MARKUP_NAMES.get(planner.markup, planner.markup)

        chosen = self._in_registry_order()
        if self.target == ALL:
            each = [f"one {_reply_noun(p)} ({markup(p)}{'; ' + _public_note(p) if p.public else ''})" for p in chosen]
            return f"{target_name(ALL, homes=len(self.homes)).lower()} — {' and '.join(each)}, as previewed"
        planner = chosen[0] if chosen else None
        if planner is None:
            return target_name(self.target)
        if planner.markup == "markdown":
            return f"{_reply_noun(planner)}, Markdown" + (f" ({_public_note(planner)})" if planner.public else "")
        if self.template_key is None or self.edited:
            return f"{_reply_noun(planner)} — you write Markdown; the preview is the {markup(planner)} that is posted"
        display = registry.get(planner.name).display
        return f"{_reply_noun(planner)}, {display} {markup(planner)} (ctrl+e edits it in Markdown)"

    # ------------------------------------------------------------------ events
    @on(OptionList.OptionHighlighted, "#templates")
    def _template_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index != event.option_list.highlighted:
            return  # stale (the list's own first highlight, overtaken by on_mount's pick)
        key = event.option.id or FREE_TEXT
        if key != (self.template_key or FREE_TEXT):
            self._choose(key)

    @on(OptionList.OptionSelected, "#templates")
    def _template_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id == FREE_TEXT:
            self._show_editor(True)
            return
        # A value still to fill in takes the focus (the Send button would be disabled anyway).
        empty = [i for i in self.query("#values Input").results(Input) if not i.value.strip()]
        (empty[0] if empty else self.query_one("#send", Button)).focus()

    @on(RadioSet.Changed, "#target")
    def _target_changed(self, event: RadioSet.Changed) -> None:
        target = event.pressed.id
        if target is not None and target in (*self.homes, ALL) and target != self.target:
            # Only a user's switch reaches here: a template's own pick sets self.target first.
            self.target = self.chosen_target = target  # type: ignore[assignment]
            if self.template_key is None:
                self._update_preview()  # free Markdown: the outbox converts it for either target
            else:
                self._render_template()  # this target's own rendering, or its own edit

    @on(Input.Changed, "#values Input")
    def _value_changed(self, event: Input.Changed) -> None:
        if event.input.id:
            self.extra[event.input.id.removeprefix("var-")] = event.value
            if self.edited:
                self.notify("The text was edited by hand; the value was not inserted.", severity="warning")
            else:
                self._render_template()
                event.input.focus()

    @on(TextArea.Changed, "#editor")
    def _edited(self, event: TextArea.Changed) -> None:
        text = event.text_area.text
        if text != self.text:
            self.text = text
            if self.template_key is not None:
                self.edit = text if text != self.rendered.get(self._base) else None
            self._update_preview()

    @on(Button.Pressed, "#edit")
    def action_toggle_edit(self) -> None:
        """Switch between the preview and the editor."""
        switcher = self.query_one("#switcher", ContentSwitcher)
        self._show_editor(switcher.current != "editor")

    def action_switch_target(self) -> None:
        """Cycle Slack → GitHub → Both where the request (and the template) can go."""
        choices = self._choices(self.templates[self.template_key] if self.template_key else None)
        if len(choices) > 1:
            following = choices[(choices.index(self.target) + 1) % len(choices)] if self.target in choices else choices[0]
            self.query_one(f"#{following}", RadioButton).value = True

    def _enable_targets(self) -> None:
        """Grey out the targets the chosen template cannot go to."""
        choices = self._choices(self.templates[self.template_key] if self.template_key else None)
        for button in self.query("#target RadioButton").results(RadioButton):
            button.disabled = button.id not in choices

    @on(Button.Pressed, "#send")
    def action_send(self) -> None:
        """Send (after a personal-data confirmation for GitHub)."""
        if self.query_one("#send", Button).disabled:
            self.notify("Nothing to send yet, or values are missing.", severity="warning")
            return
        # An unedited template is rendered again by the outbox (same text); an edit is Markdown
        # (converted for Slack, as previewed), and the template's side effects apply either way.
        choice = ReplyChoice(
            template=self.template_key,
            text=self.text if self.edited or self.template_key is None else None,
            target=self.target,
            extra={k: v for k, v in self.extra.items() if v.strip()},
        )
        pii = self._pii()
        public = self._public_target()
        if pii and public is not None:
            kinds = ", ".join(sorted({getattr(p, "kind", "data") for p in pii}))
            found = Text(f"The reply contains what looks like personal data ({kinds}):\n\n")
            for match in pii[:5]:
                found.append(f"  • {one_line(str(getattr(match, 'text', '')), 80)}\n")
            found.append(f"\n{registry.get(public.name).home_noun}s may be public. Post it anyway?")
            def posted(ok: bool | None) -> None:
                if ok:
                    self.sent = True
                    self.dismiss(choice)

            self.app.push_screen(
                ConfirmScreen(f"Personal data in a {target_name(public.name)}", found, confirm="Post anyway",
                              danger=True), posted
            )
            return
        self.sent = True
        self.dismiss(choice)

    def action_discard_draft(self) -> None:
        """Throw away what was typed (a restored draft too) and start again from the template."""
        if not self.changed and self.restored is None:
            return
        self.restored = None
        self.edit = None
        self.extra.clear()
        for field_input in self.query("#values Input").results(Input):
            field_input.value = ""
        if self.template_key is None:
            self.text = ""
            self.query_one("#editor", TextArea).load_text("")
            self._update_preview()
        else:
            self._render_template()
        self.notify("Draft discarded.")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without sending (asks first when something was typed: discard it or keep it as a draft)."""
        if not self.changed:
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            self.discarded = bool(discard)
            self.dismiss(None)

        body = Text(f"Discard throws away what you typed. Keep closes the composer and keeps it as a draft: "
                    f"replying to {self.request.key} again restores it.")
        self.app.push_screen(ConfirmScreen("Discard this reply?", body, confirm="Discard", danger=True,
                                           cancel="Keep draft"), answered)
