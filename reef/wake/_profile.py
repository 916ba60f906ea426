"""Profiling settings and the lock-free counters behind ``Stage.statistics()``.

Every counter has a single writer. Each thread that runs a stage's handler (a worker, or the
caller of an inline stage) writes only its own ``Shard``; a reader sums the shards. No lock is
taken on the event path; the lock below guards the list of shards (which changes when a thread
touches a stage for the first time) and the readers.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from reef.wake._histogram import BUCKETS


@dataclass(frozen=True, slots=True)
class Profiling:
    """What a stage measures. Build one with ``off()``, ``counters()``, ``on()`` or ``sampled(k)``.

    ``counters``: count events in, out, failed and rejected, and busy time.
    ``latency_every``: time 1 event in ``latency_every`` (0: none). Queued stages time an event
    from ``on_next`` to the end of its handler, so queueing is included; inline and timer stages
    time the handler alone. Counters stay exact whatever the sampling. Queued stages count in
    their workers, so with ``counters_only()`` their ``on_next`` costs what it costs with
    ``off()``.
    """

    counters: bool = True
    latency_every: int = 64

    def __post_init__(self) -> None:
        if self.latency_every < 0:
            raise ValueError(
                f"latency_every={self.latency_every!r} is negative; use 0 for no latency, "
                "1 for every event, k for 1 event in k"
            )
        if self.latency_every and not self.counters:
            raise ValueError("latency sampling needs counters=True (samples ride on the count)")

    @classmethod
    def off(cls) -> Profiling:
        """No per-event work beyond handling. Still measured: failures and rejections (rare
        paths), queue length, busy threads and, on queued stages, busy time (read once per
        batch of events)."""
        return cls(counters=False, latency_every=0)

    @classmethod
    def counters_only(cls) -> Profiling:
        """Exact counters and busy time, no latency."""
        return cls(counters=True, latency_every=0)

    @classmethod
    def on(cls) -> Profiling:
        """Counters and the latency of every event (the most expensive setting)."""
        return cls(counters=True, latency_every=1)

    @classmethod
    def sampled(cls, every: int = 64) -> Profiling:
        """Counters and the latency of 1 event in ``every``."""
        if every < 1:
            raise ValueError(f"sampled(every={every!r}) needs every >= 1")
        return cls(counters=True, latency_every=every)

    def __str__(self) -> str:
        if not self.counters:
            return "off"
        if self.latency_every == 0:
            return "counters"
        if self.latency_every == 1:
            return "on"
        return f"sampled(1/{self.latency_every})"


DEFAULT_PROFILING = Profiling.sampled(64)
"""Always on and cheap: exact counters, latency of 1 event in 64."""


class Shard:
    """The counters one thread writes for one stage. Only that thread writes them."""

    __slots__ = (
        "arrived",
        "busy_ns",
        "done",
        "error_handler_failures",
        "failed",
        "histogram",
        "latency_ns",
        "owner",
        "rejected",
        "seq",
        "since",
        "taken",
    )

    def __init__(self, owner: threading.Thread | None = None) -> None:
        self.arrived = 0  # inline and timer stages: calls that entered the handler
        self.done = 0  # inline and timer stages: handler returned
        self.taken = 0  # queued stages: events this worker dequeued (its handler may be running)
        self.failed = 0  # handler raised
        self.rejected = 0  # refused by a full queue
        self.error_handler_failures = 0
        # A worker's busy time, guarded by a sequence count: odd while the worker is busy (since
        # ``since``), so a reader can add the running stretch and retry a torn read.
        self.seq = 0
        self.since = 0
        self.busy_ns = 0
        self.histogram = [0] * BUCKETS
        self.latency_ns = 0
        self.owner: weakref.ref[threading.Thread] | None = (
            weakref.ref(owner) if owner is not None else None
        )

    def owner_gone(self) -> bool:
        """Whether the thread that writes this shard has ended (so it will never write again)."""
        if self.owner is None:
            return False
        thread = self.owner()
        return thread is None or not thread.is_alive()

    def record_latency(self, ns: int) -> None:
        """Add one latency sample (``ns`` nanoseconds)."""
        self.histogram[min(max(ns, 0).bit_length(), BUCKETS - 1)] += 1
        self.latency_ns += ns


@dataclass(slots=True)
class Totals:
    """The sum of a stage's shards at one moment."""

    arrived: int = 0
    taken: int = 0
    done: int = 0
    failed: int = 0
    rejected: int = 0
    error_handler_failures: int = 0
    busy_workers: int = 0
    busy_ns: int = 0
    queued: int = 0
    latency_ns: int = 0
    histogram: tuple[int, ...] = ()


class Shards:
    """The shards of one stage: one per thread that has touched it, plus the retired ones."""

    __slots__ = ("_lock", "_retired", "_shards", "local")

    def __init__(self) -> None:
        self.local = threading.local()
        """``local.shard`` is the calling thread's shard, once it has one (see ``mine``)."""
        self._lock = threading.Lock()
        self._shards: list[Shard] = []
        self._retired = Shard()

    def mine(self) -> Shard:
        """The calling thread's shard, created on the thread's first event."""
        shard: Shard | None = getattr(self.local, "shard", None)
        if shard is None:
            shard = Shard(threading.current_thread())
            with self._lock:
                self._shards.append(shard)
            self.local.shard = shard
        return shard

    def totals(self, queued: Callable[[], int]) -> Totals:
        """Sum every shard. Reads outcomes, then ``queued()``, then arrivals: an event counts as
        arrived before it is handled, and a queued event is never yet taken, so in this order
        ``arrived >= done + failed`` and ``taken + queued <= accepted`` hold while events flow."""
        # The lock (never taken on the event path) keeps a concurrent snapshot from folding a
        # dead thread's shard while this one reads it.
        with self._lock:
            self._retire_dead()
            shards = [self._retired, *self._shards]
            now = time.perf_counter_ns()
            totals = Totals()
            histogram = [0] * BUCKETS
            for shard in shards:
                taken, failed, busy, busy_ns = _read_worker(shard, now)
                totals.taken += taken
                totals.failed += failed
                totals.busy_workers += busy
                totals.busy_ns += busy_ns
                totals.done += shard.done
                totals.error_handler_failures += shard.error_handler_failures
                totals.latency_ns += shard.latency_ns
                for index, count in enumerate(shard.histogram):
                    histogram[index] += count
            totals.histogram = tuple(histogram)
            totals.queued = queued()
            for shard in shards:
                totals.arrived += shard.arrived
                totals.rejected += shard.rejected
        return totals

    def _retire_dead(self) -> None:
        """Fold the shards of ended threads into one, so thread churn does not grow the list."""
        retired = self._retired
        alive: list[Shard] = []
        for shard in self._shards:
            if not shard.owner_gone():
                alive.append(shard)
                continue
            retired.arrived += shard.arrived
            retired.taken += shard.taken
            retired.done += shard.done
            retired.failed += shard.failed
            retired.rejected += shard.rejected
            retired.error_handler_failures += shard.error_handler_failures
            retired.busy_ns += shard.busy_ns
            retired.latency_ns += shard.latency_ns
            for index, count in enumerate(shard.histogram):
                retired.histogram[index] += count
        self._shards = alive


def _read_worker(shard: Shard, now_ns: int) -> tuple[int, int, int, int]:
    """``(taken, failed, 1 if busy else 0, busy ns so far)``, read within one stretch of the
    worker's sequence count (retrying a torn read): an idle worker's counts are then exact, and a
    busy one's ``taken - failed - 1`` never exceeds what it has finished."""
    while True:
        seq = shard.seq
        taken = shard.taken
        failed = shard.failed
        busy_ns = shard.busy_ns
        since = shard.since
        if shard.seq == seq:
            break
    if seq & 1:
        return taken, failed, 1, busy_ns + max(0, now_ns - since)
    return taken, failed, 0, busy_ns
