"""``TimerStage``: a handler called periodically, on any ``Clock``."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reef.wake._clock import Alarm, Clock, RealClock
from reef.wake._handler import ErrorHandler, EventHandler
from reef.wake._profile import DEFAULT_PROFILING, Profiling
from reef.wake._stage import NEVER, Stage

if TYPE_CHECKING:
    from reef.wake._registry import StageRegistry


@dataclass(frozen=True, slots=True)
class PeriodicEvent:
    """One tick of a ``TimerStage``: the clock's time when it fired and its number (from 0)."""

    timestamp: float
    sequence: int


class _Ticks:
    """The timer's moving parts (the stage itself is sealed): next tick number, next alarm."""

    __slots__ = ("alarm", "next")

    def __init__(self) -> None:
        self.next = 0
        self.alarm: Alarm | None = None


class TimerStage(Stage[PeriodicEvent]):
    """Calls ``handler(PeriodicEvent)`` every ``period`` seconds after ``initial_delay``, at a fixed
    rate: tick ``n`` is due at ``start + initial_delay + n * period``, so a late tick does not
    shift the ones after it (late ticks are delivered back to back).

    With no ``clock`` the stage runs its own ``RealClock`` (one thread, joined by ``close()``);
    with a shared clock the handler runs on that clock's thread, or, for a ``LogicalClock``, on
    the thread that advances it. ``on_next(event)`` delivers an extra event the same way. Ticks
    and ``on_next`` calls never overlap; ``close()`` waits for a running one, then stops.
    """

    __slots__ = (
        "_clock",
        "_every",
        "_handler",
        "_lock",
        "_origin",
        "_owns_clock",
        "_period",
        "_ticks",
    )
    KIND = "timer"

    def __init__(
        self,
        handler: EventHandler[PeriodicEvent],
        period: float,
        *,
        initial_delay: float = 0.0,
        clock: Clock | None = None,
        name: str | None = None,
        error_handler: ErrorHandler | None = None,
        profiling: Profiling = DEFAULT_PROFILING,
        registry: StageRegistry | None = None,
    ) -> None:
        if not (isinstance(period, int | float) and math.isfinite(period) and period > 0):
            raise ValueError(f"period={period!r}: a timer needs a finite period > 0 seconds")
        if not (
            isinstance(initial_delay, int | float)
            and math.isfinite(initial_delay)
            and initial_delay >= 0
        ):
            raise ValueError(f"initial_delay={initial_delay!r}: use a finite value >= 0 seconds")
        super().__init__(
            handler,
            name=name,
            profiling=profiling,
            error_handler=error_handler,
            registry=registry,
        )
        self._handler = handler
        self._period = float(period)
        self._owns_clock = clock is None
        self._clock: Clock = clock if clock is not None else RealClock(name=f"wake:{self.name}")
        self._every = profiling.latency_every or NEVER
        # Reentrant so that the handler may call close() or on_next() on its own stage.
        self._lock = threading.RLock()
        self._ticks = _Ticks()
        self._origin = self._clock.now() + initial_delay
        self.on_next = self._deliver
        with self._lock:
            self._ticks.alarm = self._clock.schedule_alarm(initial_delay, self._tick)

    def _tick(self, alarm: Alarm) -> None:
        with self._lock:
            if self._life.closed:
                return
            number = self._ticks.next
            self._ticks.next = number + 1
            self._call(PeriodicEvent(self._clock.now(), number))
            if self._life.is_closed():  # the handler closed its own stage
                return
            due = self._origin + (number + 1) * self._period
            self._ticks.alarm = self._clock.schedule_alarm(
                max(0.0, due - self._clock.now()), self._tick
            )

    def _deliver(self, event: PeriodicEvent) -> None:
        with self._lock:
            if self._life.closed:
                raise self._refusal()
            self._call(event)

    def _call(self, event: PeriodicEvent) -> None:
        """Run the handler once; the lock is held, so this thread is the shard's only writer."""
        if not self._profiling.counters:
            try:
                self._handler(event)
            except BaseException as exc:
                shard = self._shards.mine()
                shard.failed += 1
                self._report_failure(shard, exc, event)
            return
        shard = self._shards.mine()
        shard.arrived += 1
        started = 0 if shard.arrived % self._every else time.perf_counter_ns()
        try:
            self._handler(event)
        except BaseException as exc:  # never let a tick's failure stop the timer
            shard.failed += 1
            self._report_failure(shard, exc, event)
        else:
            shard.done += 1
        if started:
            shard.record_latency(time.perf_counter_ns() - started)

    def close(self, timeout: float | None = None) -> None:
        """Wait for a running tick, cancel the next one, and stop the clock if the stage owns it."""
        if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
            raise TimeoutError(
                f"stage {self.name!r}: a tick did not finish within {timeout} s; call close() again"
            )
        try:
            self._life.closed = True
            alarm = self._ticks.alarm
            if alarm is not None:
                alarm.cancel()
        finally:
            self._lock.release()
        if self._owns_clock:
            self._clock.close()
        self._mark_finished()

    def _threads(self) -> int:
        return 1 if self._owns_clock else 0
