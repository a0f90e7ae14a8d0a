"""The upstream directories a verb asks about people, beyond the roster.

A team that has not written a roster can still assign: what the triager types is checked where
the request lives before anything is queued, by that system's own directory in its integration
package (:mod:`idqueue.integrations.github.people`, :mod:`idqueue.integrations.slack.people`,
:mod:`idqueue.integrations.jira.people`). :class:`People` opens each one on first use and closes
them together; the planners ask for theirs with :meth:`People.of`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from idqueue.config import Settings
from idqueue.integrations.planning import Assignee

__all__ = ["Assignee", "Directory", "People"]


class Directory(Protocol):
    """One system's people directory (read-only API calls)."""

    def close(self) -> None:
        """Release its connections."""


D = TypeVar("D", bound=Directory)


class People:
    """The directories of one look-up, one per system, opened on first use.

    Args:
        settings: tokens and API roots, handed to each directory.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._open: dict[str, Directory] = {}

    def of(self, system: str, make: Callable[[Settings], D]) -> D:
        """``system``'s directory, made by ``make(settings)`` the first time it is asked for."""
        found = self._open.get(system)
        if found is None:
            found = self._open[system] = make(self.settings)
        return found  # type: ignore[return-value]

    def close(self) -> None:
        """Close every directory opened so far."""
        opened, self._open = list(self._open.values()), {}
        for directory in opened:
            directory.close()
