"""``Threads``: the daemon threads one component (the group server, a member's service)
started, forgotten as they end, and joined when the component closes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Threads:
    """Start named daemon threads; ``join`` waits for those still running (not the caller)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[threading.Thread] = set()

    def start(self, target: Callable[..., Any], name: str, *args: Any) -> None:
        """Run ``target(*args)`` on a new daemon thread called ``name``."""

        def run() -> None:
            try:
                target(*args)
            finally:
                with self._lock:
                    self._live.discard(thread)

        thread = threading.Thread(target=run, name=name, daemon=True)
        with self._lock:
            self._live.add(thread)
        thread.start()

    def join(self, timeout: float = 5.0) -> None:
        """Wait up to ``timeout`` seconds for each thread still running, but the caller's own."""
        with self._lock:
            live = list(self._live)
        for thread in live:
            if thread is not threading.current_thread():
                thread.join(timeout=timeout)
