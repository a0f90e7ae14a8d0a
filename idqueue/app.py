"""The Textual app: the composition root. It wires the core into the queue screen, applies
the user's keymap and theme, and offers every binding in the help screen and the command
palette. Behaviour lives in ``screens/`` and ``widgets/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache, partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual.actions import ActionParseResult
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.screen import Screen

from idqueue.clock import Clock, clock_for
from idqueue.config import KeyContexts, Settings, team_client
from idqueue.integrations import registry
from idqueue.outbox.pending import PendingLookup
from idqueue.screens.access import READ_ONLY_REFUSAL, WRITE_BINDINGS, write_actions
from idqueue.screens.context import TuiContext
from idqueue.screens.help import HelpEntry, HelpScreen
from idqueue.screens.queue import QueueScreen
from idqueue.store.db import Store, open_store
from idqueue.widgets.request_table import RequestTable
from idqueue.widgets.rows import QueueData

if TYPE_CHECKING:  # the outbox is imported when the app is built, not when this module loads
    from idqueue.outbox.dispatcher import Dispatcher
    from idqueue.outbox.service import Actions


class IdqueueApp(App[None]):
    """idqueue's TUI.

    Args:
        ctx: the core objects; build them with :meth:`build`.
    """

    CSS_PATH = "app.tcss"
    TITLE = "idqueue"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("m", "metrics", "Metrics", id="app.metrics"),
        Binding("O", "outbox", "Outbox", id="app.outbox"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(self, ctx: TuiContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.title = "idqueue"
        self.sub_title = registry.sandbox_banner(ctx.settings) if ctx.sandbox else f"{ctx.settings.team_name} triage queue"
        if ctx.settings.read_only:
            self.sub_title += " · read-only"

    @classmethod
    def build(cls, settings: Settings, *, store: Store | None = None, sandbox: bool = False,
              live: bool = True, poll: bool = True) -> IdqueueApp:
        """Wire the store, sync engine and outbox for ``settings``.

        Args:
            settings: the configuration.
            store: an open store (default: :func:`~idqueue.store.db.open_store` of the settings).
            sandbox: show the sandbox banner.
            live: poll the sources on the configured interval.
            poll: build the sync engine (False: no sources, e.g. for screenshots of a prepared DB).
        """
        store = store or open_store(settings)
        clock = clock_for(settings)
        engine = None
        client = team_client(settings)  # the team service polls and sends; this TUI only reads
        if poll and not client:
            from idqueue.sync import SyncEngine, build_sources

            # The sources (and their API clients) are built on the first poll, after the first frame.
            engine = SyncEngine(store, partial(build_sources, settings), settings, clock=clock)
        actions, dispatcher, pending = _outbox(store, settings, clock)
        if client:
            dispatcher = None
        data = QueueData(store, settings, clock=clock, pending=pending)
        return cls(TuiContext(settings, store, clock, data, engine, actions, dispatcher, pending,
                              sandbox=sandbox, live=live))

    def on_mount(self) -> None:
        try:
            self.theme = self.ctx.settings.ui.theme
        except Exception:
            self.notify(f"Unknown theme {self.ctx.settings.ui.theme!r}; using the default.", severity="warning",
                        markup=False)
        keymap = self.ctx.settings.ui.keymap
        if keymap:
            self.set_keymap(keymap)
        # Pushed once the app's own mount is over: Textual holds every frame until then (a
        # screen pushed here would be composed, mounted and painted inside that hold, and its
        # first frame dropped), so the queue's first frame reaches the terminal as soon as it
        # is painted.
        self.call_later(self.push_screen, QueueScreen(self.ctx))
        # A client of the team service needs no sources of its own: the service polls.
        if not self.ctx.sandbox and not team_client(self.ctx.settings) and not registry.any_configured(self.ctx.settings):
            self.notify("No sources configured: set tokens and repos/channels (see README), or run `idqueue demo`.",
                        title="Nothing to poll", severity="warning", timeout=20, markup=False)

    @property
    def queue(self) -> QueueScreen:
        """The queue screen."""
        return next(s for s in self.screen_stack if isinstance(s, QueueScreen))

    # ------------------------------------------------------------------ keys everywhere
    def binding_sources(self) -> list[tuple[str, Any, list[Binding]]]:
        """(section, target, bindings) for everything that has a stable binding id."""
        out: list[tuple[str, Any, list[Binding]]] = []
        for section, target, bindings in (
            ("Queue", "queue", QueueScreen.BINDINGS),
            ("Navigation", "table", RequestTable.BINDINGS),
            ("App", "app", self.BINDINGS),
        ):
            unavailable = QueueScreen.unavailable(self.ctx.settings)
            out.append((section, target, [b for b in bindings if isinstance(b, Binding) and b.id
                                          and b.id not in unavailable]))
        return out

    def keys_for(self, binding: Binding) -> str:
        """The key(s) in effect for a binding (the user's keymap wins), for display."""
        keys = self.ctx.settings.ui.keymap.get(binding.id or "", binding.key)
        return ", ".join(self.get_key_display(Binding(k.strip(), "")) for k in keys.split(","))

    def help_entries(self) -> list[HelpEntry]:
        """Every binding for the help screen."""
        owners: dict[str, type] = {"queue": QueueScreen, "table": RequestTable, "app": type(self)}
        entries = [
            HelpEntry(section, self.keys_for(b), _explain(owners[target], b), b.id or "")
            for section, target, bindings in self.binding_sources()
            for b in bindings
        ]
        # Other screens' own keys (they work there, so they are not in the palette here).
        openers = {b.id: self.keys_for(b) for b in self.BINDINGS if isinstance(b, Binding)}
        openers["queue.reply"] = self.keys_for(next(b for b in QueueScreen.BINDINGS
                                                    if isinstance(b, Binding) and b.id == "queue.reply"))
        for title, opener, owner in _other_screens():
            entries += [
                HelpEntry(f"{title} ({openers.get(opener, '')})", self.keys_for(b), _explain(owner, b), b.id or "")
                for b in owner.BINDINGS if isinstance(b, Binding) and b.id
            ]
        entries.append(HelpEntry("App", "ctrl+p", "Command palette (every action)", "app.command_palette"))
        if self.ctx.settings.read_only:  # a viewer is shown the keys that read, as in the footer
            entries = [e for e in entries if e.binding_id not in WRITE_BINDINGS]
        return entries

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not isinstance(screen, QueueScreen):
            return
        for _, target, bindings in self.binding_sources():
            node = screen if target == "queue" else screen.query_one(RequestTable) if target == "table" else self
            for b in bindings:
                if b.action in ("quit", "help") or (self.ctx.settings.read_only and b.id in WRITE_BINDINGS):
                    continue
                yield SystemCommand(b.description, f"{self.keys_for(b)}  ·  {b.id}",
                                    partial(node.run_action, b.action))

    async def run_action(self, action: str | ActionParseResult, default_namespace: DOMNode | None = None,
                         namespaces: Mapping[str, DOMNode] | None = None) -> bool:
        """Run an action, unless the session is read-only and the action would change something.

        Every key, footer click and command-palette entry reaches its action through here, so
        this is the one place a read-only session (a browser viewer who is not on the roster)
        is stopped before any dialog opens or anything is queued.
        """
        if self.ctx.settings.read_only:
            target, name, _ = self._parse_action(action, self if default_namespace is None else default_namespace,
                                                 namespaces)
            if any(isinstance(target, owner) and name == verb for owner, verb in _write_actions()):
                self.notify(READ_ONLY_REFUSAL, severity="warning", markup=False, timeout=4)
                return True
        return await super().run_action(action, default_namespace, namespaces)

    async def action_quit(self) -> None:
        """Quit (saying so when actions are still waiting in the outbox)."""
        queues = [s for s in self.screen_stack if isinstance(s, QueueScreen)]
        self.exit(message=queues[0].quit_message() if queues else None)

    def action_help(self) -> None:
        """Show every key."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.help_entries()))

    def action_metrics(self) -> None:
        """Open the metrics dashboard."""
        try:
            from idqueue.screens.dashboard import DashboardScreen
        except ImportError:
            self.notify("The metrics dashboard is not available in this build.", severity="warning")
            return
        self.push_screen(DashboardScreen(self.ctx.store, self.ctx.settings, clock=self.ctx.clock),
                         self._jump_to)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The outbox opens from the queue only (not over a dialog or the dashboard), so its key
        # is hidden from the footer elsewhere.
        if action == "outbox" and not isinstance(self.screen, QueueScreen):
            return False
        return True

    def action_outbox(self) -> None:
        """Open the outbox: unsent and failed actions; retry, drop, show the request."""
        if self.ctx.actions is None:
            self.notify("Write-back is not available in this build (no outbox).", severity="warning")
            return
        if not isinstance(self.screen, QueueScreen):
            return  # not over a dialog that waits for an answer (or over itself)
        from idqueue.screens.outbox import OutboxScreen

        queue = self.queue
        self.push_screen(OutboxScreen(self.ctx, dispatch=queue.poller.dispatch_now, changed=queue.outbox_changed),
                         self._jump_to)

    def _jump_to(self, request_id: str | None) -> None:
        if request_id:
            self.queue.go_to(request_id)


def _other_screens() -> list[tuple[str, str, Any]]:
    """(help section, id of the binding that opens it, screen class) for the non-queue screens."""
    # Imported here: the first frame needs none of them (the dashboard pulls in plotext, the
    # composer Jinja2).
    from idqueue.screens.dashboard import DashboardScreen
    from idqueue.screens.outbox import OutboxScreen
    from idqueue.screens.reply import ReplyScreen

    return [("Outbox", "app.outbox", OutboxScreen), ("Dashboard", "app.metrics", DashboardScreen),
            ("Reply composer", "queue.reply", ReplyScreen)]


@cache
def _write_actions() -> tuple[tuple[type, str], ...]:
    """(class that owns the binding, action name) of every binding in :data:`WRITE_BINDINGS`."""
    from idqueue.screens.outbox import OutboxScreen
    from idqueue.screens.reply import ReplyScreen

    return tuple((owner, verb) for owner in (QueueScreen, OutboxScreen, ReplyScreen) for verb in write_actions(owner))


def binding_contexts(keymap: dict[str, str]) -> KeyContexts:
    """Every binding id with its default keys, per screen (the app's own keys work on each).

    The dashboard's module is only imported when the keymap may name one of its ids.
    """
    from idqueue.screens.outbox import OutboxScreen
    from idqueue.screens.reply import ReplyScreen

    def ids(*owners: Any) -> list[tuple[str, str]]:
        return [(b.id, b.key) for owner in owners for b in owner.BINDINGS if isinstance(b, Binding) and b.id]

    contexts: KeyContexts = {
        "queue": ids(QueueScreen, RequestTable, IdqueueApp),
        "outbox": ids(OutboxScreen, IdqueueApp),
        "reply composer": ids(ReplyScreen),
        "help": ids(HelpScreen),
    }
    known = {bid for bindings in contexts.values() for bid, _ in bindings}
    if any(bid not in known for bid in keymap):
        from idqueue.screens.dashboard import DashboardScreen

        contexts["dashboard"] = ids(DashboardScreen, IdqueueApp)
    return contexts


def _explain(owner: type, binding: Binding) -> str:
    """The help text of a binding: the first line of its action's docstring."""
    name = f"action_{binding.action.split('(', 1)[0]}"
    # Only our own actions: Textual's built-in docstrings are written for its docs site.
    method = next((k.__dict__[name] for k in owner.__mro__ if k.__module__.startswith("idqueue")
                   and name in k.__dict__), None)
    doc = getattr(method, "__doc__", None) or ""
    first = doc.strip().splitlines()[0].rstrip(".") if doc.strip() else ""
    return first or binding.description


def _outbox(
    store: Store, settings: Settings, clock: Clock
) -> tuple[Actions | None, Dispatcher | None, PendingLookup | None]:
    """The outbox service, dispatcher and pending lookup (None when the outbox is absent)."""
    try:
        from idqueue.outbox.dispatcher import Dispatcher
        from idqueue.outbox.service import Actions
    except ImportError:
        return None, None, None
    from idqueue.outbox.pending import outbox_lookup

    actions = Actions(store, settings, clock=clock, hold_seconds=settings.ui.undo_seconds)
    return actions, Dispatcher(store, settings, clock=clock), outbox_lookup(actions)
