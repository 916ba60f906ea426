"""Sorted runs of (key, value) pairs on local disk, and their k-way merge.

A run is a file of pickled batches (protocol 5) of pairs in increasing key order, each key once.
``merge`` reads any number of runs (and in-memory sorted streams) at once with ``heapq.merge``,
holding one batch per run in memory, and combines the values of equal keys; ties keep the order
of the streams, so an associative ``combine`` gives the same result as combining in arrival
order when the streams are given oldest first.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import pickle
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import Any

from reef.services.data._errors import DataError

BATCH = 1024  # pairs per pickle: large enough to amortize pickling, small enough to stream

Pair = tuple[Any, Any]


def write_run(path: str, pairs: Iterable[Pair]) -> int:
    """Write sorted ``pairs`` to ``path``; how many. A failed write leaves no file."""
    count = 0
    try:
        with open(path, "wb") as f:
            batch: list[Pair] = []
            for pair in pairs:
                batch.append(pair)
                if len(batch) == BATCH:
                    pickle.dump(batch, f, protocol=5)
                    count += len(batch)
                    batch = []
            if batch:
                pickle.dump(batch, f, protocol=5)
                count += len(batch)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(path)
        if isinstance(e, OSError):
            raise DataError(f"cannot write the combiner's spill file {path}: {e}") from e
        raise
    return count


def read_run(path: str) -> Iterator[Pair]:
    """The pairs of a run, in order, one batch in memory at a time."""
    with open(path, "rb") as f:
        while True:
            try:
                batch = pickle.load(f)
            except EOFError:
                return
            yield from batch


def merge(streams: list[Iterable[Pair]], combine: Callable[[Any, Any], Any]) -> Iterator[Pair]:
    """The pairs of sorted ``streams`` in key order, values of equal keys combined (oldest
    stream first)."""
    merged = heapq.merge(*streams, key=itemgetter(0))
    sentinel: Any = object()
    key, value = sentinel, None
    for k, v in merged:
        if key is not sentinel and k == key:
            value = combine(value, v)
            continue
        if key is not sentinel:
            yield key, value
        key, value = k, v
    if key is not sentinel:
        yield key, value
