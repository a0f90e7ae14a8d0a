"""The integration registry: the one table that names the outside systems idqueue talks to.

Each system is one package under ``idqueue/integrations/<name>/`` whose ``__init__`` defines
``INTEGRATION``, an :class:`Integration`: what the rest of the program needs to know about the
system (names, id scheme, roster field, verbs) and *where* its parts live (reader, writer,
doctor checks) as ``"module:attribute"`` strings. The parts are imported only when used, so
listing the integrations costs no SDK import (start-up, ``idqueue --help``).

Why a static table and not entry points (harlequin discovers its database adapters through the
``harlequin.adapter`` entry-point group, importing every installed plug-in at start-up): every
integration idqueue supports ships inside the package, each one's settings are a typed section
of :class:`~idqueue.config.Settings` (the ``IDQUEUE_<SYSTEM>__*`` environment contract), and the
order of the table is the order of preference of a request's homes. A static table keeps start-up
free of a metadata scan, keeps the set of systems reviewable in one place, and is typed end to
end. Tests (and a future third-party plug-in loader) add integrations with :func:`registered`.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from idqueue.domain.homes import HomeRules, Rulebook

if TYPE_CHECKING:
    from idqueue.config import Settings
    from idqueue.domain.models import Request
    from idqueue.integrations.backlog import BacklogDestination
    from idqueue.integrations.base import Check, Source
    from idqueue.integrations.planning import HomePlanner

log = logging.getLogger(__name__)

BUILTIN: tuple[str, ...] = (
    "idqueue.integrations.github",
    "idqueue.integrations.jira",
    "idqueue.integrations.slack",
    "idqueue.integrations.email",
    "idqueue.integrations.trello",
)
"""The packages of the built-in integrations, in order of preference of a request's homes
(the first one a request lives in is its primary home: ``source`` in ``list --json``)."""

VERBS = frozenset({"reply", "assign", "label", "close", "reopen", "pending", "priority", "backlog"})
"""What a writer can carry (``Integration.verbs`` is a subset)."""


def _load(ref: str) -> Any:
    """Import ``"package.module:attribute"`` and return the attribute."""
    module, _, attribute = ref.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True, slots=True)
class Integration:
    """One outside system, as the rest of idqueue sees it.

    Attributes:
        name: the key everywhere else: settings section, ``list --json`` ``source``, outbox
            action targets, reply targets (``--target <name>``), cursor names.
        display: the system's name for people ("GitHub").
        code: the short code in the queue's source column ("GH").
        id_prefix: the request-id scheme (``gh:``); item ids start with it.
        home_noun: what one of its items is called ("GitHub issue", "Slack thread").
        roster_field: the :class:`~idqueue.config.TeamMember` attribute that holds a person's id
            in this system (``github`` login, ``slack`` user id).
        verbs: what its writer carries (a subset of :data:`VERBS`); empty for a read-only system.
        backlog_noun: what a backlog entry is called when this system is a backlog destination
            ("the backlog issue"); empty when it is not one.
        configured: whether the settings turn its reader on (token and what to read).
        writable: whether the settings let its writer send (a token).
        source: ``"module:Class"`` of its :class:`~idqueue.integrations.base.Source`, built with
            the settings.
        writer: ``"module:Class"`` of its outbox writer, built with
            ``(settings, clock=…, timeout=…)``.
        checks: ``"module:function"`` returning the extra ``idqueue doctor`` checks
            (``list[Check]``) beyond the reader's own :meth:`Source.check`.
        scopes: ``"module:function"`` turning its reader's doctor facts into lines about the
            token's scopes (a line starting ``missing`` is a problem); None: no such lines.
        text_format: how its texts are written: ``"markdown"`` (GitHub-flavoured), ``"mrkdwn"``
            (Slack's: ``<@U…>`` mentions, ``<url|text>`` links, ``&amp;`` escapes) or
            ``"plain"``; the detail pane makes mrkdwn readable.
        fold: ``"module:Class"`` of its :class:`~idqueue.domain.homes.HomeRules` (how its
            items fold into a request), built with ``(name, roster_field, settings)``; None
            for the generic rules (a plain ticket: its assignees, open/closed state and
            idqueue's own action events).

        planner: ``"module:attribute"`` of its
            :class:`~idqueue.integrations.planning.HomePlanner` (how a verb writes to one of its
            items); None for a system idqueue does not write back to.
        backlog: ``"module:Class"`` of its
            :class:`~idqueue.integrations.backlog.BacklogDestination`, built with the settings,
            when backlogged requests can be tracked there (``[backlog] destination``).
        refs: ``"module:function"`` of its link recogniser, ``(text, settings) -> [item id]``:
            the ids of its items that another system's text names (a Jira issue URL or key in a
            Slack message), so the two homes become one request; None: none.
    """

    name: str
    display: str
    code: str
    id_prefix: str
    home_noun: str
    roster_field: str
    configured: Callable[[Settings], bool]
    writable: Callable[[Settings], bool]
    source: str | None = None
    writer: str | None = None
    checks: str | None = None
    fold: str | None = None
    scopes: str | None = None
    text_format: str = "markdown"
    verbs: frozenset[str] = field(default_factory=frozenset)
    backlog_noun: str = ""
    planner: str | None = None
    backlog: str | None = None
    live: str | None = None
    """``"module:function"`` ``(settings, on_change) -> watcher | None`` of its push channel (IMAP
    IDLE): a watcher with ``start()``/``stop()`` that calls ``on_change`` (from its own thread)
    when something changed upstream, so the TUI polls at once; None: the system is polled only."""
    refs: str | None = None

    def owns(self, item_id: str) -> bool:
        """Whether an item or request id belongs to this system (by its id scheme)."""
        return item_id.startswith(self.id_prefix)

    def build_source(self, settings: Settings) -> Source:
        """Its reader, configured from the settings (imports the reader's module)."""
        if self.source is None:
            raise LookupError(f"{self.display} has no reader")
        source: Source = _load(self.source)(settings)
        return source

    def build_writer(self, settings: Settings, **kwargs: Any) -> Any:
        """Its outbox writer (imports the writer's module); ``kwargs`` go to its constructor."""
        if self.writer is None:
            raise LookupError(f"{self.display} cannot write")
        return _load(self.writer)(settings, **kwargs)

    def build_fold(self, settings: Settings) -> HomeRules:
        """Its fold rules for the assembler (imports the rules' module; generic when none)."""
        factory = _load(self.fold) if self.fold is not None else HomeRules
        rules: HomeRules = factory(self.name, self.roster_field, settings)
        return rules

    def scope_lines(self, facts: dict[str, Any]) -> list[str]:
        """``idqueue doctor`` lines about the token's scopes, from its reader's check facts."""
        if self.scopes is None:
            return []
        lines: list[str] = _load(self.scopes)(facts)
        return lines

    def get_planner(self) -> HomePlanner | None:
        """Its write-back planner (imports the planner's module), or None."""
        if self.planner is None:
            return None
        planner: HomePlanner = _load(self.planner)
        return planner

    def build_backlog(self, settings: Settings) -> BacklogDestination:
        """Its backlog destination, configured from the settings (imports its module)."""
        if self.backlog is None:
            raise LookupError(f"{self.display} is not a backlog destination")
        destination: BacklogDestination = _load(self.backlog)(settings)
        return destination

    def start_live(self, settings: Settings, on_change: Callable[[], None]) -> Any | None:
        """Its push watcher, started (None when it has none, or the settings do not turn it on)."""
        if self.live is None:
            return None
        watcher = _load(self.live)(settings, on_change)
        if watcher is not None:
            watcher.start()
        return watcher

    def run_checks(self, settings: Settings, **kwargs: Any) -> list[Check]:
        """Its extra doctor checks (none when it declares none)."""
        if self.checks is None:
            return []
        checks: list[Check] = _load(self.checks)(settings, **kwargs)
        return checks


_extra: list[Integration] = []
_cache: tuple[Integration, ...] | None = None


def integrations() -> tuple[Integration, ...]:
    """Every registered integration, built-in ones first, in order of preference."""
    global _cache
    if _cache is None:
        _cache = tuple(_load(f"{package}:INTEGRATION") for package in BUILTIN)
    return (*_cache, *_extra)


def names() -> tuple[str, ...]:
    """The registered integrations' names, in order of preference."""
    return tuple(i.name for i in integrations())


def get(name: str) -> Integration:
    """The integration called ``name``.

    Raises:
        KeyError: no such integration (the message lists the known ones).
    """
    for integration in integrations():
        if integration.name == name:
            return integration
    raise KeyError(f"unknown system {name!r} (known: {', '.join(names())})")


def find(name: str) -> Integration | None:
    """The integration called ``name``, or None."""
    return next((i for i in integrations() if i.name == name), None)


def lookup(word: str) -> Integration | None:
    """The integration a user named by its name or its code, any case (``slack``, ``GH``)."""
    folded = word.strip().casefold()
    return next((i for i in integrations() if folded in (i.name.casefold(), i.code.casefold())), None)


def name_codes() -> tuple[tuple[str, str], ...]:
    """``(name, code)`` of every integration, in order (what a ``source:`` filter accepts)."""
    return tuple((i.name, i.code) for i in integrations())


def for_id(item_id: str) -> Integration | None:
    """The integration an item or request id belongs to (by its id scheme), or None."""
    return next((i for i in integrations() if i.owns(item_id)), None)


def homes_of(request: Request) -> list[tuple[Integration, str]]:
    """A request's homes as ``(integration, item id)``, in order of preference (the first is
    its primary home); one per system (the first of its item ids in that system).

    The order is the request's own (``request.sources``, as the fold decided it: a system
    that only holds the request's backlog item comes after its primary home), then the
    registry's."""
    found: list[tuple[Integration, str]] = []
    for integration in integrations():
        item_id = next((i for i in request.item_ids if integration.owns(i)), None)
        if item_id is not None:
            found.append((integration, item_id))
    rank = {str(name): n for n, name in enumerate(request.sources)}
    return sorted(found, key=lambda home: rank.get(home[0].name, len(rank)))


def home_of(request: Request, name: str) -> str | None:
    """The request's item id in the system called ``name``, or None when it has no home there."""
    integration = get(name)
    return next((i for i in request.item_ids if integration.owns(i)), None)


def rulebook(settings: Settings) -> Rulebook:
    """Every integration's fold rules, in order of preference, for
    :func:`~idqueue.domain.assemble.make_assembler`."""
    return Rulebook([i.build_fold(settings) for i in integrations()])


def link_finders(settings: Settings, *, exclude: str = "") -> list[Callable[[str], list[str]]]:
    """Every integration's link recogniser bound to the settings (except ``exclude``'s own): a
    reader calls them on its texts to find the items of other systems they name."""
    found: list[Callable[[str], list[str]]] = []
    for integration in integrations():
        if integration.refs is None or integration.name == exclude:
            continue
        found.append(functools.partial(_load(integration.refs), settings=settings))
    return found


def codes(sources: Iterable[str]) -> str:
    """The queue's source-column text of a request's systems: their codes joined by ``+``, in
    order of preference (``GH+S``); an unregistered system shows its name."""
    known = {i.name: i.code for i in integrations()}
    return "+".join(known.get(s, s) for s in sources)


def display(name: str) -> str:
    """A system's name for people (``GitHub``); an unregistered system's own name."""
    found = find(name)
    return found.display if found is not None else name


def configured(settings: Settings) -> list[Integration]:
    """The integrations whose reader the settings turn on."""
    return [i for i in integrations() if i.source is not None and i.configured(settings)]


def start_live_watchers(settings: Settings, on_change: Callable[[str], None]) -> list[Any]:
    """Start the push watchers (IMAP IDLE…) of the configured integrations that have one.

    Args:
        settings: the configuration.
        on_change: called with the integration's name when its watcher sees a change (from the
            watcher's thread).

    A watcher that cannot start is logged and skipped: push is an optimisation, polling goes on.
    """
    watchers: list[Any] = []
    for integration in configured(settings):
        try:
            watcher = integration.start_live(settings, functools.partial(on_change, integration.name))
        except Exception:
            log.exception("cannot start %s's live updates", integration.display)
            continue
        if watcher is not None:
            watchers.append(watcher)
    return watchers


def any_configured(settings: Settings) -> bool:
    """Whether the settings turn on at least one reader (else ``make run`` opens the sandbox)."""
    return bool(configured(settings))


def sandbox_banner(settings: Settings) -> str:
    """The sandbox's warning line, naming the systems it stands in for (``not real GitHub/Slack``):
    the sources, and Slack when it only carries the #support notifications."""
    names = [i.display for i in configured(settings)]
    if settings.notify.channel and get("slack").display not in names:
        names.append(get("slack").display)
    systems = "/".join(names) or "services"
    return f"SANDBOX — loopback emulators, not real {systems}"


def writable(settings: Settings) -> list[Integration]:
    """The integrations whose writer the settings let send."""
    return [i for i in integrations() if i.writer is not None and i.writable(settings)]


@contextmanager
def registered(integration: Integration) -> Iterator[Integration]:
    """Add an integration for the duration of a ``with`` block (tests, plug-ins).

    Raises:
        ValueError: the name or id scheme is already taken.
    """
    for other in integrations():
        if other.name == integration.name or other.id_prefix == integration.id_prefix:
            raise ValueError(f"{integration.name!r} clashes with the registered {other.name!r}")
    _extra.append(integration)
    try:
        yield integration
    finally:
        _extra.remove(integration)
