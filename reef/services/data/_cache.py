"""``Cache``: an evaluator-local cache of parsed data, kept across activities, in two tiers.

Values live in memory up to a budget (``CacheMemoryBudget``, bytes). Putting a value that does
not fit moves the least recently used values to local disk (under the evaluator's ``workdir``:
``<workdir>/cache/spill-*``); getting a spilled value reads it back and makes it the most
recently used again (spilling others if needed), so callers never see the tiers. A value larger
than the whole budget goes straight to disk and is read from there each time.

The bookkeeping (sizes, tiers, recency) is the pure ``Ledger``; sizes come from ``_sizes``
(``nbytes``, ``len``, pickled size) and files from ``_spill`` (``.npy`` or pickle 5). One lock
guards the state; ``get_or_load`` runs its loader outside the lock, once per key even when
several threads ask for the same key at the same time.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from reef.common._identity import EvaluatorIdentity, scratch_directory
from reef.services.data import _spill
from reef.services.data._errors import DataError
from reef.services.data._ledger import Ledger
from reef.services.data._sizes import Measured, measure
from reef.tang import NamedParameter

T = TypeVar("T")

_MISSING: Any = object()


class CacheMemoryBudget(NamedParameter[int]):
    """How many bytes of values a ``Cache`` keeps in memory before it spills the least recently
    used ones to the evaluator's local disk. Default: 256 MiB, half of an evaluator of the
    default size (512 MB); raise it with the evaluator's ``memory_mb``. 0 keeps everything on
    disk."""

    default = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CacheStats:
    """What a ``Cache`` has done and holds: ``hits`` (values found, in memory or on disk),
    ``misses`` (keys not found; a ``get_or_load`` that loads counts one), ``loads`` (loaders
    ``get_or_load`` ran), ``spills`` (values written to disk), ``disk_reads`` (values read back
    from disk), ``bytes_in_memory``, ``bytes_on_disk`` (as measured) and ``entries``."""

    hits: int
    misses: int
    loads: int
    spills: int
    disk_reads: int
    bytes_in_memory: int
    bytes_on_disk: int
    entries: int


class Cache:
    """A key -> value cache in memory with a budget, spilling to local disk (see the module
    docstring). A context service: list it in a context's ``services`` and ask for it by type;
    it lives as long as the context, across activities. Keys are any hashable values; values
    are anything picklable (numpy arrays are written without pickle). Thread-safe."""

    def __init__(
        self,
        budget: Annotated[int, CacheMemoryBudget],
        me: EvaluatorIdentity,
    ) -> None:
        self._start(scratch_directory(me, "cache"), budget)

    @classmethod
    def in_directory(cls, path: str, budget: int = CacheMemoryBudget.default) -> Cache:
        """A cache outside an evaluator (a script, a test) spilling under ``path`` (created if
        missing)."""
        os.makedirs(path, exist_ok=True)
        cache = cls.__new__(cls)
        cache._start(path, budget)
        return cache

    def _start(self, parent: str, budget: int) -> None:
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
            raise DataError(f"CacheMemoryBudget={budget!r} must be a whole number of bytes >= 0")
        # A private folder: two caches of one evaluator never share files.
        self._directory = tempfile.mkdtemp(prefix="spill-", dir=parent)
        self._lock = threading.RLock()
        self._ledger = Ledger(budget)
        self._memory: dict[Hashable, Any] = {}
        self._files: dict[Hashable, _spill.SpillFile] = {}
        self._loading: dict[Hashable, Future[Any]] = {}
        self._names = itertools.count()
        self._counts = {"hits": 0, "misses": 0, "loads": 0, "spills": 0, "disk_reads": 0}
        self._closed = False

    def __repr__(self) -> str:
        return f"Cache({self._directory!r}, budget={self._ledger.budget})"

    @property
    def budget(self) -> int:
        """The memory budget in bytes."""
        return self._ledger.budget

    @property
    def directory(self) -> str:
        """The folder of this cache's spill files (removed by ``close()``)."""
        return self._directory

    # -- reading ----------------------------------------------------------------------------------

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The value of ``key`` (read back from disk if it was spilled), else ``default``."""
        with self._lock:
            value = self._lookup(key)
            if value is _MISSING:
                self._counts["misses"] += 1
                return default
            self._counts["hits"] += 1
            return value

    def __getitem__(self, key: Hashable) -> Any:
        """The value of ``key``; ``KeyError`` if it is not cached."""
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def get_or_load(self, key: Hashable, load: Callable[[], T]) -> T:
        """The value of ``key``; if it is not cached, ``load()`` makes it and it is put. Threads
        asking for one key at once run ``load`` once and all get its value (or its error)."""
        while True:
            with self._lock:
                value = self._lookup(key)
                if value is not _MISSING:
                    self._counts["hits"] += 1
                    return value  # type: ignore[no-any-return]
                pending = self._loading.get(key)
                if pending is None:
                    mine: Future[Any] = Future()
                    self._loading[key] = mine
                    self._counts["misses"] += 1
                    self._counts["loads"] += 1
            if pending is not None:
                try:
                    result: T = pending.result()
                except Exception:
                    continue  # that loader failed: try (and fail) for ourselves
                with self._lock:
                    self._counts["hits"] += 1
                return result
            try:
                loaded = load()
                self.put(key, loaded)
            except BaseException as e:
                with self._lock:
                    del self._loading[key]
                mine.set_exception(e)
                raise
            with self._lock:
                del self._loading[key]
            mine.set_result(loaded)
            return loaded

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return self._ledger.tier(key) is not None

    def __len__(self) -> int:
        with self._lock:
            return len(self._ledger)

    def keys(self) -> list[Hashable]:
        """The cached keys (a snapshot): spilled ones first, then those in memory from the
        least to the most recently used."""
        with self._lock:
            return self._ledger.keys()

    def stats(self) -> CacheStats:
        """Counters and sizes, now."""
        with self._lock:
            return CacheStats(
                **self._counts,
                bytes_in_memory=self._ledger.memory_bytes,
                bytes_on_disk=self._ledger.disk_bytes,
                entries=len(self._ledger),
            )

    # -- writing ----------------------------------------------------------------------------------

    def put(self, key: Hashable, value: Any) -> None:
        """Cache ``value`` under ``key`` (replacing any value it had), as the most recently used;
        spills others (or itself, if it is larger than the budget) to disk as needed."""
        measured = measure(value, key)
        with self._lock:
            self._check_open()
            self._drop(key)
            self._admit(key, value, measured)

    def remove(self, key: Hashable) -> bool:
        """Forget ``key`` (deleting its spill file); whether it was cached."""
        with self._lock:
            self._check_open()
            return self._drop(key)

    def close(self) -> None:
        """Forget every value and remove the spill files. Idempotent; the context calls it when
        it closes."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._memory.clear()
            self._files.clear()
            self._ledger = Ledger(self._ledger.budget)
            shutil.rmtree(self._directory, ignore_errors=True)

    # -- internals --------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise DataError(f"{self!r} is closed")

    def _lookup(self, key: Hashable) -> Any:
        """The value of ``key`` or ``_MISSING``; a spilled value is read back (and, if it fits,
        moved to memory as the most recently used)."""
        self._check_open()
        tier = self._ledger.tier(key)
        if tier == "memory":
            self._ledger.touch(key)
            return self._memory[key]
        if tier is None:
            return _MISSING
        spill = self._files[key]
        value = _spill.read(spill)
        self._counts["disk_reads"] += 1
        size = self._ledger.size(key)
        if self._ledger.fits(size):
            self._make_room(size)
            del self._files[key]
            self._ledger.forget(key)
            self._ledger.add(key, size, "memory")
            self._memory[key] = value
            _spill.remove(spill)
        return value

    def _admit(self, key: Hashable, value: Any, measured: Measured) -> None:
        if not self._ledger.fits(measured.size):
            self._write(key, value, measured)
            self._ledger.add(key, measured.size, "disk")
            return
        self._make_room(measured.size)
        self._memory[key] = value
        self._ledger.add(key, measured.size, "memory")

    def _make_room(self, size: int) -> None:
        for victim in self._ledger.victims(size):
            self._write(victim, self._memory[victim], None)
            del self._memory[victim]
            self._ledger.spilled(victim)

    def _write(self, key: Hashable, value: Any, measured: Measured | None) -> None:
        pickled = measured.pickled if measured is not None else None
        self._files[key] = _spill.write(self._directory, str(next(self._names)), value, pickled)
        self._counts["spills"] += 1

    def _drop(self, key: Hashable) -> bool:
        tier = self._ledger.tier(key)
        if tier is None:
            return False
        self._ledger.forget(key)
        if tier == "memory":
            del self._memory[key]
        else:
            _spill.remove(self._files.pop(key))
        return True
