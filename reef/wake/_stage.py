"""The ``Stage`` base (immutable wiring, lifecycle, error routing, statistics) and ``SyncStage``."""

from __future__ import annotations

import threading
import time
from abc import ABCMeta, abstractmethod
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar

from reef.errors import StageClosedError
from reef.wake._handler import ErrorHandler, EventHandler, describe, log, short_repr
from reef.wake._profile import DEFAULT_PROFILING, Profiling, Shard, Shards, Totals
from reef.wake._registry import StageRegistry, default_registry
from reef.wake._statistics import StageStatistics

T = TypeVar("T")

# Sampling "1 event in 2**62" never samples: it lets counters-only share the sampled code path.
NEVER = 1 << 62


class _Sealing(ABCMeta):
    """Seals a stage once its constructor returns: from then on its attributes cannot change."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        stage = super().__call__(*args, **kwargs)
        object.__setattr__(stage, "_sealed", True)
        return stage


class Lifecycle:
    """A stage's mutable state: whether it is closed, and when it started and finished."""

    __slots__ = ("closed", "finished", "started")

    def __init__(self) -> None:
        self.closed = False
        self.started = time.perf_counter()
        self.finished: float | None = None

    def is_closed(self) -> bool:
        """``closed``, read afresh (a call, so a type checker does not assume it unchanged)."""
        return self.closed


class Floor:
    """The figures the last snapshot reported, so that the next one never reports less."""

    __slots__ = ("busy_seconds", "events_in", "events_out", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events_in = 0
        self.events_out = 0
        self.busy_seconds = 0.0


class Stage(Generic[T], metaclass=_Sealing):
    """A handler with a thread policy, built sink to source and never re-wired.

    ``stage.on_next(event)`` offers an event; it is an attribute fixed at construction (for some
    configurations it is the handler itself), so pass ``stage.on_next`` as the upstream's
    downstream handler. ``close()`` handles what was accepted, then refuses further events with
    ``StageClosedError``. Stages are context managers (``with`` closes them) and register weakly
    with a ``StageRegistry`` (the process-wide one unless ``registry=`` says otherwise).
    """

    __slots__ = (
        "__weakref__",
        "_error_handler",
        "_floor",
        "_life",
        "_profiling",
        "_sealed",
        "_shards",
        "name",
        "on_next",
    )

    KIND: ClassVar[str] = "stage"
    on_next: EventHandler[T]
    name: str

    def __init__(
        self,
        handler: EventHandler[T],
        *,
        name: str | None,
        profiling: Profiling,
        error_handler: ErrorHandler | None,
        registry: StageRegistry | None,
    ) -> None:
        if not callable(handler):
            raise TypeError(f"{type(self).__name__} needs a callable handler, got {handler!r}")
        if not isinstance(profiling, Profiling):
            raise TypeError(
                f"profiling={profiling!r} is not a Profiling; use Profiling.off(), .on(), "
                ".counters_only() or .sampled(k)"
            )
        self._profiling = profiling
        self._shards = Shards()
        self._life = Lifecycle()
        self._floor = Floor()
        self._error_handler: ErrorHandler = error_handler or self._log_failure
        target = registry if registry is not None else default_registry()
        self.name = target._register(self, name or f"{self.KIND}:{describe(handler)}")

    def __setattr__(self, attribute: str, value: object) -> None:
        if getattr(self, "_sealed", False):
            raise AttributeError(
                f"{type(self).__name__} {self.name!r} is immutable: handlers are wired in the "
                f"constructor, so {attribute!r} cannot be set; build a new stage instead"
            )
        object.__setattr__(self, attribute, value)

    def __delattr__(self, attribute: str) -> None:
        raise AttributeError(
            f"{type(self).__name__} {self.name!r} is immutable: handlers are wired in the "
            f"constructor, so {attribute!r} cannot be deleted"
        )

    @abstractmethod
    def close(self, timeout: float | None = None) -> None:
        """Handle everything already accepted, release threads, then refuse new events.

        Raises ``TimeoutError`` if that takes longer than ``timeout`` seconds; the stage stays
        closed to new events and keeps draining, and ``close()`` may be called again.
        """

    @property
    def closed(self) -> bool:
        """Whether ``close()`` has been called."""
        return self._life.closed

    @property
    def profiling(self) -> Profiling:
        """What this stage measures."""
        return self._profiling

    def statistics(self) -> StageStatistics:
        """A frozen snapshot of this stage's counters, busy time and latency histogram."""
        totals = self._shards.totals(self._queue_length)
        life = self._life
        end = life.finished if life.finished is not None else time.perf_counter()
        events_in, events_out, busy, busy_seconds = self._figures(totals)
        # Figures are read without stopping the workers (and busy time of inline stages is an
        # estimate), so one read can trail the one before; the floor keeps every snapshot's
        # counters at or above the previous one's, as monotonic counters must be.
        floor = self._floor
        with floor.lock:
            floor.events_in = events_in = max(floor.events_in, events_in)
            floor.events_out = events_out = max(floor.events_out, events_out)
            floor.busy_seconds = busy_seconds = max(floor.busy_seconds, busy_seconds)
        return StageStatistics(
            name=self.name,
            kind=self.KIND,
            profiling=str(self._profiling),
            closed=life.closed,
            threads=self._threads(),
            events_in=events_in,
            events_out=events_out,
            events_failed=totals.failed,
            events_rejected=totals.rejected,
            error_handler_failures=totals.error_handler_failures,
            queue_length=totals.queued,
            busy=busy,
            uptime_seconds=max(0.0, end - life.started),
            busy_seconds=busy_seconds,
            latency_histogram=totals.histogram,
            latency_total_ns=totals.latency_ns,
        )

    def _threads(self) -> int:
        return 0

    def _queue_length(self) -> int:
        return 0

    def _figures(self, totals: Totals) -> tuple[int, int, int, float]:
        """``(events_in, events_out, busy, busy_seconds)``. Inline stages count calls in and out;
        busy is the calls in progress, and busy time is estimated from the timed calls."""
        in_progress = max(0, totals.arrived - totals.done - totals.failed)
        samples = sum(totals.histogram)
        busy_seconds = 0.0
        if samples:
            busy_seconds = totals.latency_ns / samples * (totals.done + totals.failed) / 1e9
        return totals.arrived, totals.done, in_progress, busy_seconds

    def _refusal(self) -> StageClosedError:
        return StageClosedError(
            f"stage {self.name!r} ({self.KIND}) refused an event: it was closed, and a closed "
            "stage accepts nothing; offer events before close() or build a new stage"
        )

    def _report_failure(self, shard: Shard, exc: BaseException, event: object) -> None:
        """Hand a handler's exception to the error handler; one that raises is logged, counted."""
        try:
            self._error_handler(exc, event)
        except BaseException as second:  # a failing error handler must not kill the worker
            shard.error_handler_failures += 1
            log.error(
                "stage %r: the error handler raised while handling %s from event %s",
                self.name,
                type(exc).__name__,
                short_repr(event),
                exc_info=second,
            )

    def _log_failure(self, exc: BaseException, event: object) -> None:
        log.error(
            "stage %r: the handler raised on event %s", self.name, short_repr(event), exc_info=exc
        )

    def _mark_finished(self) -> None:
        if self._life.finished is None:
            self._life.finished = time.perf_counter()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._life.closed else "open"
        return f"<{type(self).__name__} {self.name!r} {state}>"


class SyncStage(Stage[T]):
    """Runs the handler on the caller's thread: an inlined hop, Click-style.

    With ``Profiling.off()`` and no ``error_handler``, ``on_next`` *is* the handler: it costs
    nothing, counts nothing and, having no closed state to check, cannot refuse events after
    ``close()``. Without an ``error_handler`` a handler's exception propagates to the caller (as in
    Java REEF's SyncStage), after being counted when profiling is on. With one, exceptions
    (``Exception`` subclasses) go to it and ``on_next`` returns normally.
    """

    __slots__ = ()
    KIND = "sync"

    def __init__(
        self,
        handler: EventHandler[T],
        *,
        name: str | None = None,
        error_handler: ErrorHandler | None = None,
        profiling: Profiling = DEFAULT_PROFILING,
        registry: StageRegistry | None = None,
    ) -> None:
        super().__init__(
            handler,
            name=name,
            profiling=profiling,
            error_handler=error_handler,
            registry=registry,
        )
        propagate = error_handler is None
        if not profiling.counters:
            self.on_next = handler if propagate else self._guarded(handler)
        else:
            self.on_next = self._profiled(handler, propagate)

    def _guarded(self, handler: EventHandler[T]) -> EventHandler[T]:
        life, mine, refusal, report = (
            self._life,
            self._shards.mine,
            self._refusal,
            self._report_failure,
        )

        def on_next(event: T) -> None:
            if life.closed:
                raise refusal()
            try:
                handler(event)
            except Exception as exc:
                shard = mine()
                shard.failed += 1
                report(shard, exc, event)

        return on_next

    def _profiled(self, handler: EventHandler[T], propagate: bool) -> EventHandler[T]:
        life, local, mine = self._life, self._shards.local, self._shards.mine
        refusal, report = self._refusal, self._report_failure
        every = self._profiling.latency_every or NEVER
        clock = time.perf_counter_ns

        def on_next(event: T) -> None:
            if life.closed:
                raise refusal()
            try:
                shard = local.shard
            except AttributeError:
                shard = mine()
            count = shard.arrived + 1
            shard.arrived = count
            started = 0 if count % every else clock()
            try:
                handler(event)
            except BaseException as exc:
                shard.failed += 1
                if started:
                    shard.record_latency(clock() - started)
                if propagate or not isinstance(exc, Exception):
                    raise
                report(shard, exc, event)
                return
            if started:
                elapsed = clock() - started  # monotonic, so 0 <= elapsed < 2**63: a valid index
                histogram = shard.histogram
                histogram[elapsed.bit_length()] += 1
                shard.latency_ns += elapsed
            shard.done += 1

        return on_next

    def close(self, timeout: float | None = None) -> None:
        """Refuse further events (unless ``on_next`` is the bare handler, see the class doc)."""
        self._life.closed = True
        self._mark_finished()
