"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from idqueue.sandbox.runner import Sandbox

# --- sandbox fixtures (owned by the emulator work) --------------------------------------------

SANDBOX_NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
"""A fixed Wednesday afternoon (New York business hours) for deterministic sandbox tests."""


@pytest.fixture
def sandbox_now() -> datetime:
    """The frozen instant the sandbox fixtures use."""
    return SANDBOX_NOW


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A started, seeded sandbox on a frozen clock (``sb.clock.advance(...)`` moves it)."""
    sb = Sandbox.start(seed=True, now=SANDBOX_NOW)
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture
def empty_sandbox() -> Iterator[Sandbox]:
    """A started sandbox with repos, channels and people but no issues or messages."""
    sb = Sandbox.start(seed=False, now=SANDBOX_NOW)
    try:
        yield sb
    finally:
        sb.stop()
