"""``BufferPool``: large arrays a member received before, whose memory is reused for the next
message of the same shape and dtype once the program has let go of them.

An iterative job receives an array of the same shape every round (``weights =
comm.broadcast(...)``), dropping the previous one. Fresh memory costs the kernel a page fault
and a page of zeros per 4 KiB, about as much as copying the data into it; a pooled array costs
neither. An array is reused only when nothing outside the pool refers to it (CPython's
reference count: a view of it, or any other reference, keeps it out of reach), so a result the
program still holds is never overwritten. The pool keeps at most ``max_count`` arrays and
``max_bytes`` bytes (the least recently used go first).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np

MIN_POOLED = 1 << 20  # smaller arrays are cheap to allocate


def _refs(arr: np.ndarray) -> int:
    return sys.getrefcount(arr)


class BufferPool:
    """See the module's docstring. Thread-safe."""

    def __init__(self, max_bytes: int = 1 << 30, max_count: int = 8) -> None:
        self.max_bytes, self.max_count = max_bytes, max_count
        self._items: list[np.ndarray] = []
        self._lock = threading.Lock()
        self.reused = 0
        # What the reference count of an array nobody else holds reads in ``take``.
        self._items.append(np.empty(1))
        self._free_refs = self._count(0)
        self._items.clear()

    def _count(self, index: int) -> int:
        return _refs(self._items[index])

    def take(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` (contents undefined)."""
        dtype = np.dtype(dtype)
        with self._lock:
            for i in range(len(self._items) - 1, -1, -1):
                cand = self._items[i]
                if cand.shape == shape and cand.dtype == dtype:
                    del cand
                    if self._count(i) == self._free_refs:
                        arr = self._items.pop(i)
                        self._items.append(arr)
                        self.reused += 1
                        return arr
        arr = np.empty(shape, dtype=dtype)
        if arr.nbytes >= MIN_POOLED and arr.nbytes <= self.max_bytes:
            with self._lock:
                self._items.append(arr)
                while (
                    len(self._items) > self.max_count
                    or sum(a.nbytes for a in self._items) > self.max_bytes
                ):
                    self._items.pop(0)
        return arr

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
