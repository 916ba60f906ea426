"""Stages with a queue and worker threads: ``ThreadPoolStage`` and ``SingleThreadStage``."""

from __future__ import annotations

import threading
import time
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from reef.errors import ReefError
from reef.wake._handler import ErrorHandler, EventHandler
from reef.wake._profile import DEFAULT_PROFILING, Profiling, Shard, Totals
from reef.wake._stage import NEVER, Stage

if TYPE_CHECKING:
    from reef.wake._registry import StageRegistry

T = TypeVar("T")

WhenFull = Literal["block", "raise"]


class StageFullError(ReefError):
    """An event offered to a bounded stage whose queue is full, with ``when_full="raise"``."""


class _Stamped(tuple[int, object]):
    """An event carrying its enqueue time (ns), for the events whose latency is sampled."""

    __slots__ = ()


# The sentinel that tells one worker to exit; it queues behind every accepted event. It is a
# _Stamped so that the worker's one type test per event also catches it.
_STOP = _Stamped((0, None))


class _QueuedStage(Stage[T]):
    """A FIFO queue (C-level ``SimpleQueue``) drained in batches by ``threads`` worker threads.

    A bounded stage (``capacity``) hands out that many tokens, themselves kept in a
    ``SimpleQueue``: a producer takes one to enqueue, a worker returns it when it dequeues, so
    blocking and refusing cost no Python-level lock.
    """

    __slots__ = (
        "_capacity",
        "_close_lock",
        "_handler",
        "_queue",
        "_threads_",
        "_tokens",
        "_when_full",
    )

    def __init__(
        self,
        handler: EventHandler[T],
        threads: int,
        *,
        name: str | None,
        capacity: int | None,
        when_full: WhenFull,
        error_handler: ErrorHandler | None,
        profiling: Profiling,
        registry: StageRegistry | None,
    ) -> None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads={threads!r}: a stage needs at least one thread")
        if capacity is not None and (
            isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1
        ):
            raise ValueError(f"capacity={capacity!r}: use a positive int, or None for unbounded")
        if when_full not in ("block", "raise"):
            raise ValueError(f'when_full={when_full!r}: use "block" or "raise"')
        super().__init__(
            handler,
            name=name,
            profiling=profiling,
            error_handler=error_handler,
            registry=registry,
        )
        self._handler = handler
        self._capacity = capacity
        self._when_full = when_full
        # Reentrant: the straggler sweep runs handlers under it, and a handler may call close().
        self._close_lock = threading.RLock()
        self._queue: SimpleQueue[object] = SimpleQueue()
        self._tokens: SimpleQueue[None] | None = None
        if capacity is not None:
            self._tokens = SimpleQueue()
            for _ in range(capacity):
                self._tokens.put(None)
        self.on_next = self._make_on_next()
        self._threads_ = tuple(
            threading.Thread(target=self._run, name=f"wake:{self.name}:{i}", daemon=True)
            for i in range(threads)
        )
        for thread in self._threads_:
            thread.start()

    # -- producers ---------------------------------------------------------------------------

    def _make_on_next(self) -> EventHandler[T]:
        """Workers do the counting, so a producer pays only for a Python call, the closed test,
        the C-level ``SimpleQueue.put`` and, when latency is sampled, a countdown. The countdown
        is shared by all producers without a lock: a lost update only moves a sample, and the
        ``> 0`` test recovers from any torn update. The cost is the same with profiling
        ``off`` and ``counters_only``."""
        if self._tokens is not None:
            return self._bounded_on_next()
        life, put, refusal = self._life, self._queue.put, self._refusal
        clock = time.perf_counter_ns
        every = self._profiling.latency_every
        if every == 0:

            def on_next(event: T) -> None:
                # No switch point separates the test from the put, so under the GIL an event is
                # either refused or queued ahead of close()'s stop sentinels.
                if life.closed:
                    raise refusal()
                put(event)

            return on_next
        if every == 1:

            def on_next_timed(event: T) -> None:
                if life.closed:
                    raise refusal()
                put(_Stamped((clock(), event)))

            return on_next_timed
        left = every

        def on_next_sampled(event: T) -> None:
            nonlocal left
            if life.closed:
                raise refusal()
            left -= 1
            if left > 0:
                put(event)
            else:
                left = every
                put(_Stamped((clock(), event)))

        return on_next_sampled

    def _bounded_on_next(self) -> EventHandler[T]:
        assert self._tokens is not None
        life, put, refusal, mine = self._life, self._queue.put, self._refusal, self._shards.mine
        take = self._tokens.get if self._when_full == "block" else self._tokens.get_nowait
        give_back = self._tokens.put
        every = self._profiling.latency_every or NEVER
        clock = time.perf_counter_ns
        name, capacity = self.name, self._capacity
        left = every

        def on_next(event: T) -> None:
            nonlocal left
            if life.closed:
                raise refusal()
            try:
                take()
            except Empty:
                mine().rejected += 1
                raise StageFullError(
                    f"stage {name!r} refused an event: its queue is full ({capacity} events) "
                    'and when_full="raise"; raise capacity, add threads, or use "block"'
                ) from None
            if life.is_closed():  # closed while this producer waited for room
                give_back(None)
                raise refusal()
            left -= 1
            if left > 0:
                put(event)
            else:
                left = every
                put(_Stamped((clock(), event)))

        return on_next

    # -- workers -----------------------------------------------------------------------------

    def _run(self) -> None:
        shard = self._shards.mine()  # this thread's shard, also used if the handler re-enters
        self._work(shard)

    def _work(self, shard: Shard) -> None:
        """Drain the queue in batches until a stop sentinel. Never raises: handler exceptions go
        to the error handler. Counters are written by this thread only."""
        get, get_nowait = self._queue.get, self._queue.get_nowait
        handler: EventHandler[Any] = self._handler
        report = self._report_failure
        give_back = self._tokens.put if self._tokens is not None else None
        counting = self._profiling.counters
        histogram = shard.histogram
        clock = time.perf_counter_ns
        while True:
            event = get()
            started = clock()
            shard.since = started
            shard.seq += 1  # odd: busy since `started`
            while True:
                # One type test per event separates plain events from the stop sentinel and
                # from the sampled events that carry their enqueue time.
                enqueued = 0
                if type(event) is _Stamped:
                    if event is _STOP:
                        shard.busy_ns += clock() - started
                        shard.seq += 1
                        return
                    enqueued, event = event
                if give_back is not None:
                    give_back(None)
                if counting:
                    shard.taken += 1
                try:
                    handler(event)
                except BaseException as exc:  # no caller to raise to: the error handler
                    shard.failed += 1
                    report(shard, exc, event)
                if enqueued:
                    # perf_counter_ns is monotonic across threads, so elapsed >= 0, and below
                    # 2**63 ns its bit length indexes the 64 buckets.
                    elapsed = clock() - enqueued
                    histogram[elapsed.bit_length()] += 1
                    shard.latency_ns += elapsed
                try:
                    event = get_nowait()
                except Empty:
                    break
            shard.busy_ns += clock() - started
            shard.seq += 1

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self, timeout: float | None = None) -> None:
        """Refuse new events, let the workers handle every queued event, and join them."""
        deadline = None if timeout is None else time.monotonic() + timeout
        life = self._life
        me = threading.current_thread()
        with self._close_lock:
            first = not life.closed
            life.closed = True
        if first:
            for _ in self._threads_:
                self._queue.put(_STOP)
        for thread in self._threads_:
            if thread is me:  # closing from our own handler: that worker finishes by itself
                continue
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                raise TimeoutError(
                    f"stage {self.name!r} did not drain within {timeout} s "
                    f"({self._queue.qsize()} events still queued); it stays closed to new "
                    "events and keeps draining: call close() again to wait for it"
                )
        if me in self._threads_:
            self._mark_finished()
            return
        with self._close_lock:
            # An event that slipped in behind the stop sentinels (possible only where the
            # check-then-put above is not atomic) is handled here rather than lost.
            stragglers = self._queue.qsize() > 0 and life.finished is None
            if stragglers:
                self._queue.put(_STOP)
                self._work(self._shards.mine())
            self._mark_finished()

    def _threads(self) -> int:
        return len(self._threads_)

    def _queue_length(self) -> int:
        return self._queue.qsize()

    def _figures(self, totals: Totals) -> tuple[int, int, int, float]:
        """Events in are those the workers took plus those still queued; events out are those
        taken and neither failed nor in a busy worker's hands. While events flow both may lag
        by the busy workers (never lead). Exact whenever the stage is quiescent."""
        if not self._profiling.counters:
            return 0, 0, totals.busy_workers, totals.busy_ns / 1e9
        events_in = totals.taken + totals.queued
        events_out = max(0, totals.taken - totals.failed - totals.busy_workers)
        return events_in, events_out, totals.busy_workers, totals.busy_ns / 1e9


class ThreadPoolStage(_QueuedStage[T]):
    """A queue drained by ``threads`` worker threads; events may finish out of order.

    ``capacity`` bounds the queue (``None``: unbounded). When it is full, ``when_full="block"``
    makes ``on_next`` wait for room (back-pressure) and ``"raise"`` refuses the event with
    ``StageFullError`` and counts it as rejected. A handler's exception goes to ``error_handler``
    (default: logged to ``reef.wake`` and counted); it never stops a worker.
    """

    __slots__ = ()
    KIND = "thread_pool"

    def __init__(
        self,
        handler: EventHandler[T],
        threads: int = 1,
        *,
        name: str | None = None,
        capacity: int | None = None,
        when_full: WhenFull = "block",
        error_handler: ErrorHandler | None = None,
        profiling: Profiling = DEFAULT_PROFILING,
        registry: StageRegistry | None = None,
    ) -> None:
        super().__init__(
            handler,
            threads,
            name=name,
            capacity=capacity,
            when_full=when_full,
            error_handler=error_handler,
            profiling=profiling,
            registry=registry,
        )


class SingleThreadStage(_QueuedStage[T]):
    """One worker thread: events are handled one at a time, in the order they were accepted.

    Queue bound, full-queue policy and error handling are those of ``ThreadPoolStage``.
    """

    __slots__ = ()
    KIND = "single_thread"

    def __init__(
        self,
        handler: EventHandler[T],
        *,
        name: str | None = None,
        capacity: int | None = None,
        when_full: WhenFull = "block",
        error_handler: ErrorHandler | None = None,
        profiling: Profiling = DEFAULT_PROFILING,
        registry: StageRegistry | None = None,
    ) -> None:
        super().__init__(
            handler,
            1,
            name=name,
            capacity=capacity,
            when_full=when_full,
            error_handler=error_handler,
            profiling=profiling,
            registry=registry,
        )
