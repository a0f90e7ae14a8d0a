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

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from idqueue.config import Settings
    from idqueue.domain.models import Request
    from idqueue.integrations.base import Check, Source

BUILTIN: tuple[str, ...] = (
    "idqueue.integrations.github",
    "idqueue.integrations.jira",
    "idqueue.integrations.slack",
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
    verbs: frozenset[str] = field(default_factory=frozenset)
    backlog_noun: str = ""

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


def for_id(item_id: str) -> Integration | None:
    """The integration an item or request id belongs to (by its id scheme), or None."""
    return next((i for i in integrations() if i.owns(item_id)), None)


def homes_of(request: Request) -> list[tuple[Integration, str]]:
    """A request's homes as ``(integration, item id)``, in order of preference (the first is
    its primary home); one per system (the first of its item ids in that system)."""
    found: list[tuple[Integration, str]] = []
    for integration in integrations():
        item_id = next((i for i in request.item_ids if integration.owns(i)), None)
        if item_id is not None:
            found.append((integration, item_id))
    return found


def home_of(request: Request, name: str) -> str | None:
    """The request's item id in the system called ``name``, or None when it has no home there."""
    integration = get(name)
    return next((i for i in request.item_ids if integration.owns(i)), None)


def configured(settings: Settings) -> list[Integration]:
    """The integrations whose reader the settings turn on."""
    return [i for i in integrations() if i.source is not None and i.configured(settings)]


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
