"""Restoring the sending order of messages that arrive over two channels (the control stream
and the fast path): each direction numbers its messages 1, 2, 3, ...; the receiver delivers them
in that order, holding back any that arrive early."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
_log = logging.getLogger("reef.control")


class OrderedInbox(Generic[T]):
    """Delivers items offered with sequence numbers in sequence order, each exactly once."""

    __slots__ = ("_deliver", "_held", "_lock", "_next")

    def __init__(self, deliver: Callable[[T], None], first: int = 1) -> None:
        self._deliver = deliver
        self._next = first
        self._held: dict[int, T] = {}
        self._lock = threading.Lock()

    def offer(self, seq: int, item: T) -> None:
        """Accept ``item`` numbered ``seq``; deliver it and any held successors if it is next.
        Delivery happens under the inbox's lock, so that two channels' threads cannot
        interleave deliveries out of order; ``deliver`` must not block for long."""
        with self._lock:
            if seq < self._next or seq in self._held:
                _log.warning("dropping duplicate message %d (expected %d)", seq, self._next)
                return
            if seq != self._next:
                self._held[seq] = item
                return
            self._deliver(item)
            self._next += 1
            while self._next in self._held:
                self._deliver(self._held.pop(self._next))
                self._next += 1

    @property
    def waiting(self) -> int:
        """How many items are held back, waiting for an earlier one."""
        return len(self._held)
