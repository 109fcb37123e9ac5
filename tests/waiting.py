"""Bounded condition waits for tests that watch other processes (the one place that polls)."""

from __future__ import annotations

import time
from collections.abc import Callable

POLL_S = 0.02
"""Interval between checks of a condition; never a fixed delay on its own."""


def poll_until(condition: Callable[[], bool], timeout: float, interval: float = POLL_S) -> bool:
    """Check ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def wait_for(condition: Callable[[], bool], what: str, timeout: float) -> None:
    """Like ``poll_until`` but fails the test, naming ``what``, when the deadline passes."""
    assert poll_until(condition, timeout), f"timed out waiting for {what}"
