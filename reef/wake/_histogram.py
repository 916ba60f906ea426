"""Log2 latency histograms: bucket ``i`` counts durations whose ``int.bit_length()`` is ``i``."""

from __future__ import annotations

import math
from collections.abc import Sequence

BUCKETS = 64
"""Bucket 0 holds 0 ns; bucket ``i > 0`` holds ``[2**(i-1), 2**i - 1]`` ns; 63 holds the rest."""


def bucket_of(ns: int) -> int:
    """The bucket a duration of ``ns`` nanoseconds falls in."""
    if ns <= 0:
        return 0
    return min(ns.bit_length(), BUCKETS - 1)


def bucket_bounds(index: int) -> tuple[int, int]:
    """The smallest and largest duration (ns, inclusive) that bucket ``index`` holds."""
    if not 0 <= index < BUCKETS:
        raise ValueError(f"bucket index {index!r} is outside 0..{BUCKETS - 1}")
    if index == 0:
        return 0, 0
    return 1 << (index - 1), (1 << index) - 1


def percentile_ns(histogram: Sequence[int], q: float) -> int | None:
    """The ``q``-quantile (``0 < q <= 1``) of the durations in ``histogram``, in ns.

    Nearest rank: the answer lies in the same bucket as the ``ceil(q * n)``-th smallest duration,
    placed inside that bucket by its rank (integer arithmetic, so it never leaves the bucket).
    ``None`` when the histogram is empty.
    """
    if not 0.0 < q <= 1.0:
        raise ValueError(f"quantile {q!r} is outside (0, 1]; pass e.g. 0.99 for p99")
    total = sum(histogram)
    if total == 0:
        return None
    # Rounding first keeps float noise (0.29 * 100 == 28.999...) from moving the rank.
    rank = min(total, max(1, math.ceil(round(q * total, 6))))
    seen = 0
    for index, count in enumerate(histogram):
        if count and seen + count >= rank:
            low, high = bucket_bounds(index)
            return low + (high - low) * (rank - seen) // count
        seen += count
    raise AssertionError("unreachable: rank <= total")  # pragma: no cover
