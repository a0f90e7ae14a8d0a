"""The injected clock: ``IDQUEUE_NOW`` freezes time for demos, screenshots and tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from idqueue.config import Settings
from idqueue.domain.models import parse_iso

Clock = Callable[[], datetime]


def now(settings: Settings | None = None) -> datetime:
    """The current time: the frozen ``settings.now`` if set, else the real UTC time."""
    if settings is not None and settings.now:
        frozen = parse_iso(settings.now)
        if frozen is not None:
            return frozen
    return datetime.now(UTC)


def clock_for(settings: Settings) -> Clock:
    """A zero-argument clock bound to the settings."""
    return lambda: now(settings)
