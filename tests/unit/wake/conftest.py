"""Fixtures for the Wake tests: an isolated stage registry and a wait on a condition."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from reef.wake import StageRegistry


@pytest.fixture
def registry() -> Iterator[StageRegistry]:
    """A registry of this test's stages; any stage a failing test left open is closed after it."""
    stages = StageRegistry()
    yield stages
    stages.close_all(timeout=10)


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    pause = threading.Event()  # never set: its wait() is a bounded pause between two checks
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what or condition}")
        pause.wait(0.001)


@pytest.fixture
def wait_until() -> Callable[..., None]:
    """``wait_until(condition, timeout=10, what="")``: poll ``condition`` until true, else fail."""
    return _wait_until
