"""``Ledger``: the pure bookkeeping of a two-tier cache (memory, then disk).

It knows every key's size and tier and the order in which memory-resident keys were last used,
and answers one question: which keys must leave memory so that a value of a given size fits in
the budget (the least recently used first). It performs no I/O and holds no values; the
``Cache`` moves the values and tells the ledger what it did.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Literal

Tier = Literal["memory", "disk"]


class Ledger:
    """Sizes and tiers of cached keys under a memory budget (bytes)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._memory: OrderedDict[Hashable, int] = OrderedDict()  # least recently used first
        self._disk: dict[Hashable, int] = {}
        self.memory_bytes = 0
        self.disk_bytes = 0

    def __len__(self) -> int:
        return len(self._memory) + len(self._disk)

    def tier(self, key: Hashable) -> Tier | None:
        """Where ``key`` is, or ``None`` if it is not cached."""
        if key in self._memory:
            return "memory"
        if key in self._disk:
            return "disk"
        return None

    def size(self, key: Hashable) -> int:
        return self._memory[key] if key in self._memory else self._disk[key]

    def keys(self) -> list[Hashable]:
        """Every key: those on disk (used longest ago), then those in memory from the least
        to the most recently used."""
        return [*self._disk, *self._memory]

    def fits(self, size: int) -> bool:
        """Whether a value of ``size`` bytes may be held in memory at all."""
        return size <= self.budget

    def victims(self, size: int) -> list[Hashable]:
        """The keys to move to disk, least recently used first, so that ``size`` more bytes
        fit in memory (``size`` itself must fit)."""
        excess = self.memory_bytes + size - self.budget
        out: list[Hashable] = []
        for key, held in self._memory.items():
            if excess <= 0:
                break
            out.append(key)
            excess -= held
        return out

    def touch(self, key: Hashable) -> None:
        """``key`` (in memory) was used: it becomes the most recently used."""
        self._memory.move_to_end(key)

    def add(self, key: Hashable, size: int, tier: Tier) -> None:
        """A new key (not cached before) of ``size`` bytes, in ``tier``."""
        if tier == "memory":
            self._memory[key] = size
            self.memory_bytes += size
        else:
            self._disk[key] = size
            self.disk_bytes += size

    def spilled(self, key: Hashable) -> None:
        """``key`` moved from memory to disk."""
        size = self._memory.pop(key)
        self.memory_bytes -= size
        self._disk[key] = size
        self.disk_bytes += size

    def forget(self, key: Hashable) -> None:
        """``key`` is no longer cached (removed, or about to be added again)."""
        if key in self._memory:
            self.memory_bytes -= self._memory.pop(key)
        elif key in self._disk:
            self.disk_bytes -= self._disk.pop(key)
