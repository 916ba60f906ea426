"""Chunk plans: how a message's bytes are cut for pipelining (pure computation).

A large value is sent as consecutive chunks so that a member in the middle of a tree forwards
chunk ``i`` to its children while it still receives chunk ``i + 1``, and a reduction combines
chunk ``i`` while the next ones are on their way. Chunks of an array are cut at element
boundaries so that each can be combined on its own.
"""

from __future__ import annotations

CHUNK_BYTES = 1 << 20
"""The pipelining unit, and the size of a shared-memory slot: 1 MiB keeps a chunk in the
processor's cache between its copy in and its copy out."""

SHM_SLOTS = 8
"""Slots of a shared-memory ring (per direction of a pair of members)."""


def plan(nbytes: int, chunk: int = CHUNK_BYTES, itemsize: int = 1) -> list[tuple[int, int]]:
    """``(start, stop)`` byte ranges covering ``nbytes`` in order, each at most ``chunk`` bytes
    (at least one item) and a multiple of ``itemsize`` except when ``nbytes`` is not."""
    if nbytes < 0 or chunk < 1 or itemsize < 1:
        raise ValueError(f"plan({nbytes}, chunk={chunk}, itemsize={itemsize})")
    step = max(itemsize, chunk - chunk % itemsize)
    return [(start, min(start + step, nbytes)) for start in range(0, nbytes, step)]
