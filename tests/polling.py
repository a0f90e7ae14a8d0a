"""Waiting in tests that run real threads or processes: poll a condition until it holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def eventually(condition: Callable[[], Any], timeout: float = 30.0, *, what: str = "", step: float = 0.05) -> Any:
    """``condition()``'s first truthy value, polled every ``step`` seconds for ``timeout``.

    Raises:
        AssertionError: it never held (the message names ``what``, or the condition).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(step)
