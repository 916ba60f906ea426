"""``Combiner``: group (key, value) pairs by key and combine them as they arrive, the MapReduce
combiner and the inner node of an aggregation tree.

Values of one key are folded with ``combine(a, b)`` (it must be associative; the fold keeps
arrival order, so it need not be commutative). ``combine`` may update its first argument in
place and return it: a value given to ``add`` belongs to the Combiner from then on (do not add
one object under two keys, or keep using it). Two ways out:

- **Ship** (``ship`` given): the combined values are handed to ``ship(pairs)`` (a list of
  ``(key, value)`` in key order) and forgotten: every ``ship_every`` seconds (checked on each
  ``add`` and ``poll``, against ``clock``, so no thread of its own), whenever ``ship_keys``
  distinct keys are held, whenever the memory budget is exceeded, and at ``flush()`` and
  ``close()``. If ``ship`` raises, its pairs stay held (the error propagates): the next
  shipment, ``flush()`` or ``close()`` offers them again.
- **Collect** (no ``ship``): above the memory budget the table is sorted by key and written to
  local disk as a run; ``items()`` merges the runs and the table (k-way, ``heapq.merge``) and
  combines again, so the result is the same as with unlimited memory. Runs are compacted into
  one whenever ``MERGE_FAN_IN`` of them exist, which bounds the open files of a merge.

Memory is estimated per entry (``sys.getsizeof`` of key and value, ``nbytes`` of arrays, plus a
dictionary slot), re-measured when a value is combined. Keys must be orderable (and, to ship or
shuffle them between processes, picklable). Thread-safe.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import Any, Generic, TypeVar

import numpy as np

from reef.services.data import _runs
from reef.services.data._errors import DataError

K = TypeVar("K")
V = TypeVar("V")

MERGE_FAN_IN = 16
_SLOT_BYTES = 100  # a dict entry and its bookkeeping, roughly


def entry_size(key: object, value: object) -> int:
    """The estimated memory of one table entry."""
    held = value.nbytes if isinstance(value, np.ndarray) else sys.getsizeof(value)
    return _SLOT_BYTES + sys.getsizeof(key) + int(held)


class Combiner(Generic[K, V]):
    """Combines values by key in memory, spilling sorted runs to disk or shipping combined
    values on a schedule (see the module docstring). Use it as a context manager or ``close()``
    it."""

    def __init__(
        self,
        combine: Callable[[V, V], V],
        *,
        budget_bytes: int = 64 * 1024 * 1024,
        spill_directory: str | None = None,
        ship: Callable[[list[tuple[K, V]]], None] | None = None,
        ship_every: float | None = None,
        ship_keys: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not callable(combine):
            raise TypeError(f"combine must be a function (a, b) -> value, got {combine!r}")
        if isinstance(budget_bytes, bool) or not isinstance(budget_bytes, int) or budget_bytes < 0:
            raise ValueError(f"budget_bytes={budget_bytes!r} must be a whole number >= 0")
        if ship_every is not None and not ship_every > 0:
            raise ValueError(f"ship_every={ship_every!r} must be a number of seconds > 0")
        if ship_keys is not None and (isinstance(ship_keys, bool) or ship_keys < 1):
            raise ValueError(f"ship_keys={ship_keys!r} must be a whole number >= 1")
        if ship is None and (ship_every is not None or ship_keys is not None):
            raise ValueError("ship_every and ship_keys need ship= (where combined values go)")
        self._combine = combine
        self._budget = budget_bytes
        self._spill_parent = spill_directory
        self._ship = ship
        self._ship_every = ship_every
        self._ship_keys = ship_keys
        self._clock = clock
        self._lock = threading.RLock()
        self._table: dict[K, V] = {}
        self._sizes: dict[K, int] = {}
        self._bytes = 0
        self._runs: list[str] = []
        self._directory: str | None = None
        self._names = itertools.count()
        self._last_ship = clock()
        self._closed = False
        self.spills = 0
        """How many sorted runs were written to disk (compactions included)."""
        self.shipments = 0
        """How many times ``ship`` was called."""

    def __enter__(self) -> Combiner[K, V]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        """Distinct keys held in memory now (not counting spilled runs)."""
        with self._lock:
            return len(self._table)

    @property
    def memory_bytes(self) -> int:
        """The estimated memory of the table now."""
        return self._bytes

    # -- adding -----------------------------------------------------------------------------------

    def add(self, key: K, value: V) -> None:
        """Combine ``value`` into ``key``'s; may spill or ship."""
        with self._lock:
            self._check_open()
            self._add(key, value)
            self._after_add()

    def add_all(self, pairs: Iterable[tuple[K, V]]) -> None:
        """``add`` every pair."""
        with self._lock:
            self._check_open()
            for key, value in pairs:
                self._add(key, value)
                self._after_add()

    def _add(self, key: K, value: V) -> None:
        table = self._table
        if key in table:
            value = self._combine(table[key], value)
        table[key] = value
        size = entry_size(key, value)
        self._bytes += size - self._sizes.get(key, 0)
        self._sizes[key] = size

    def _after_add(self) -> None:
        if self._ship is not None:
            if (self._ship_keys is not None and len(self._table) >= self._ship_keys) or (
                self._bytes > self._budget
            ):
                self._ship_now()
            else:
                self._poll()
        elif self._bytes > self._budget:
            self._spill()

    # -- shipping ---------------------------------------------------------------------------------

    def poll(self) -> None:
        """Ship if ``ship_every`` seconds have passed since the last shipment (``add`` does this
        too; call it from a loop that may go a while without adding)."""
        with self._lock:
            self._check_open()
            self._poll()

    def _poll(self) -> None:
        if self._ship_every is not None and self._clock() - self._last_ship >= self._ship_every:
            self._ship_now()

    def flush(self) -> None:
        """Ship everything held now (nothing to do without ``ship``)."""
        with self._lock:
            self._check_open()
            if self._ship is not None:
                self._ship_now()

    def _ship_now(self) -> None:
        assert self._ship is not None
        self._last_ship = self._clock()
        if not self._table:
            return
        pairs = self._sorted_table()
        self._clear_table()
        try:
            self._ship(pairs)
        except BaseException:
            self._take_back(pairs)  # nothing is lost: the next flush or close ships them again
            raise
        self.shipments += 1

    def _take_back(self, pairs: list[tuple[K, V]]) -> None:
        """Put pairs that failed to ship back in front of whatever was added since (by ``ship``
        itself), as if they had never left."""
        since = self._table
        self._clear_table()
        for key, value in pairs:
            self._add(key, value)
        for key, value in since.items():
            self._add(key, value)

    # -- collecting -------------------------------------------------------------------------------

    def items(self) -> Iterator[tuple[K, V]]:
        """Every key with its combined value, in key order: the runs on disk and the table in
        memory merged. Do not add while iterating."""
        with self._lock:
            self._check_open()
            if not self._runs:
                return iter(self._sorted_table())  # each key once: nothing to combine
            if self._table:
                # The table joins the runs on disk, so the merge combines only values read back
                # from disk: a combine that updates an argument in place never changes a value
                # this Combiner still holds, and items() gives the same again.
                self._spill()
            runs = list(self._runs)
        return _runs.merge([_runs.read_run(p) for p in runs], self._combine)

    def _spill(self) -> None:
        pairs = self._sorted_table()
        self._runs.append(self._write_run(pairs))
        self._clear_table()
        if len(self._runs) >= MERGE_FAN_IN:
            old = self._runs
            merged = _runs.merge([_runs.read_run(p) for p in old], self._combine)
            self._runs = [self._write_run(merged)]
            for path in old:
                os.unlink(path)

    def _write_run(self, pairs: Iterable[tuple[Any, Any]]) -> str:
        if self._directory is None:
            if self._spill_parent is not None:
                os.makedirs(self._spill_parent, exist_ok=True)
            self._directory = tempfile.mkdtemp(prefix="reef-combine-", dir=self._spill_parent)
        path = os.path.join(self._directory, f"run-{next(self._names)}")
        _runs.write_run(path, pairs)
        self.spills += 1
        return path

    def _sorted_table(self) -> list[tuple[K, V]]:
        try:
            return sorted(self._table.items(), key=itemgetter(0))
        except TypeError as e:
            raise DataError(
                f"a Combiner's keys must be orderable (they are sorted to spill, ship and merge): "
                f"{e}"
            ) from e

    def _clear_table(self) -> None:
        self._table = {}
        self._sizes = {}
        self._bytes = 0

    # -- closing ----------------------------------------------------------------------------------

    def close(self) -> None:
        """Ship what is held (with ``ship``), then remove the spill files. Idempotent."""
        with self._lock:
            if self._closed:
                return
            try:
                if self._ship is not None:
                    self._ship_now()
            finally:
                self._closed = True
                self._clear_table()
                self._runs = []
                if self._directory is not None:
                    shutil.rmtree(self._directory, ignore_errors=True)

    def _check_open(self) -> None:
        if self._closed:
            raise DataError("this Combiner is closed")
