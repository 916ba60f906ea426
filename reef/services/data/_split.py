"""Dividing a data set into partitions of roughly equal size. Pure: no I/O.

The files are laid end to end (each contributing its extent: the bytes after any header, or
its rows for ``.npy``) and cut at ``k * total // n``; a partition is the list of segments its
range covers, at most one per file, in file order. Empty segments are never made (a zero-length
text segment would claim a line under the line rule of ``_text``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Cut:
    """Part of one file: ``[start, end)`` in bytes or rows, of file number ``file``."""

    file: int
    start: int
    end: int


def cut(extents: Sequence[tuple[int, int]], partitions: int) -> list[list[Cut]]:
    """``partitions`` lists of cuts covering each file's ``[lo, hi)`` exactly once."""
    total = sum(hi - lo for lo, hi in extents)
    out: list[list[Cut]] = []
    for k in range(partitions):
        a, b = k * total // partitions, (k + 1) * total // partitions
        cuts: list[Cut] = []
        offset = 0  # where this file starts, end to end
        for i, (lo, hi) in enumerate(extents):
            length = hi - lo
            start, end = max(a, offset), min(b, offset + length)
            if start < end:
                cuts.append(Cut(i, lo + start - offset, lo + end - offset))
            offset += length
        out.append(cuts)
    return out
