"""Clocks with alarms: ``RealClock`` (one timer thread) and ``LogicalClock`` (time moves on demand).

Both fire alarms in deadline order, ties in scheduling order. A callback that raises is reported
to the clock's error handler (default: logged to ``reef.wake``) and counted; it never stops the
clock.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import math
import threading
import time
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

from reef.errors import StageClosedError
from reef.wake._handler import ErrorHandler, EventHandler, log


class _State(enum.Enum):
    PENDING = "pending"
    FIRING = "firing"
    FIRED = "fired"
    CANCELLED = "cancelled"


class Alarm:
    """A callback due on a clock at ``deadline`` (in that clock's seconds). The callback receives
    the alarm itself, as a Wake event."""

    __slots__ = ("_callback", "_clock", "_deadline", "_state")

    def __init__(self, clock: Clock, deadline: float, callback: EventHandler[Alarm]) -> None:
        self._clock = clock
        self._deadline = deadline
        self._callback = callback
        self._state = _State.PENDING

    @property
    def deadline(self) -> float:
        """When the alarm is due, on its clock's time line."""
        return self._deadline

    @property
    def cancelled(self) -> bool:
        """Whether ``cancel()`` stopped the alarm before it fired."""
        return self._state is _State.CANCELLED

    @property
    def fired(self) -> bool:
        """Whether the callback has run (and returned or raised)."""
        return self._state is _State.FIRED

    def cancel(self) -> bool:
        """Stop the alarm from firing. ``True`` if it was still pending; ``False`` if it has
        fired, is firing, or was cancelled already."""
        return self._clock._cancel(self)

    def __repr__(self) -> str:
        return f"<Alarm deadline={self._deadline:.6f} {self._state.value}>"


class Clock(ABC):
    """Time and alarms for Wake. ``pending()`` counts alarms that have not finished firing: a
    driver is idle only when it is 0. ``close()`` discards pending alarms and stops the clock."""

    def __init__(self, name: str, error_handler: ErrorHandler | None) -> None:
        self._name = name
        self._error_handler: ErrorHandler = error_handler or self._log_failure
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Alarm]] = []
        self._order = itertools.count()
        self._pending = 0
        self._cancelled_in_heap = 0
        self._closed = False
        self._failures = 0

    @abstractmethod
    def now(self) -> float:
        """The current time in seconds."""

    @abstractmethod
    def close(self) -> None:
        """Discard pending alarms, let a running callback finish, and stop the clock."""

    @property
    def name(self) -> str:
        """The clock's name, used in logs and thread names."""
        return self._name

    @property
    def callback_failures(self) -> int:
        """How many alarm callbacks raised."""
        return self._failures

    def schedule_alarm(self, seconds: float, callback: EventHandler[Alarm]) -> Alarm:
        """Call ``callback(alarm)`` ``seconds`` from now (0 or more)."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise TypeError(f"schedule_alarm(seconds={seconds!r}) needs a number of seconds")
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"schedule_alarm(seconds={seconds!r}) needs a finite value >= 0")
        if not callable(callback):
            raise TypeError(f"schedule_alarm needs a callable callback, got {callback!r}")
        with self._cond:
            if self._closed:
                raise StageClosedError(
                    f"clock {self._name!r} refused an alarm: it was closed; schedule alarms "
                    "before close()"
                )
            alarm = Alarm(self, self.now() + seconds, callback)
            heapq.heappush(self._heap, (alarm.deadline, next(self._order), alarm))
            self._pending += 1
            self._scheduled(alarm)
        return alarm

    def pending(self) -> int:
        """Alarms scheduled and not yet finished firing (cancelled ones excluded)."""
        with self._cond:
            return self._pending

    def _scheduled(self, alarm: Alarm) -> None:  # noqa: B027 (an optional hook)
        """Called with the lock held after ``alarm`` joined the heap."""

    def _cancel(self, alarm: Alarm) -> bool:
        with self._cond:
            if alarm._state is not _State.PENDING:
                return False
            alarm._state = _State.CANCELLED
            self._pending -= 1
            self._cancelled_in_heap += 1
            if self._cancelled_in_heap > 64 and self._cancelled_in_heap * 2 > len(self._heap):
                # Cancelled entries stay in the heap until popped; purge them once they dominate.
                self._heap = [e for e in self._heap if e[2]._state is _State.PENDING]
                heapq.heapify(self._heap)
                self._cancelled_in_heap = 0
            return True

    def _pop_due(self, now: float) -> Alarm | None:
        """The next alarm due at ``now``, marked firing; the lock must be held."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            alarm = heapq.heappop(heap)[2]
            if alarm._state is _State.CANCELLED:
                self._cancelled_in_heap -= 1
                continue
            alarm._state = _State.FIRING
            return alarm
        return None

    def _fire(self, alarm: Alarm) -> None:
        """Run the callback without the lock held, then mark the alarm fired."""
        try:
            alarm._callback(alarm)
        except BaseException as exc:  # a callback must never stop the clock
            self._failures += 1
            try:
                self._error_handler(exc, alarm)
            except BaseException as second:
                log.error(
                    "clock %r: the error handler raised on %r", self._name, alarm, exc_info=second
                )
        finally:
            with self._cond:
                alarm._state = _State.FIRED
                self._pending -= 1
                self._cond.notify_all()

    def _discard(self) -> None:
        """Cancel every pending alarm; the lock must be held."""
        for _, _, alarm in self._heap:
            if alarm._state is _State.PENDING:
                alarm._state = _State.CANCELLED
                self._pending -= 1
        self._heap.clear()
        self._cancelled_in_heap = 0

    def _log_failure(self, exc: BaseException, alarm: object) -> None:
        log.error("clock %r: an alarm callback raised on %r", self._name, alarm, exc_info=exc)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class RealClock(Clock):
    """Monotonic time (``time.monotonic``). Alarms fire on one timer thread, started with the
    first alarm; a long callback delays the alarms after it, so hand long work to a queued stage.
    """

    def __init__(self, *, name: str = "wake-clock", error_handler: ErrorHandler | None = None):
        super().__init__(name, error_handler)
        self._thread: threading.Thread | None = None

    def now(self) -> float:
        """Seconds on the monotonic clock."""
        return time.monotonic()

    def _scheduled(self, alarm: Alarm) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        elif self._heap[0][2] is alarm:  # a new earliest deadline: wake the thread to re-aim
            self._cond.notify_all()

    def _run(self) -> None:
        cond = self._cond
        with cond:
            while not self._closed:
                if not self._heap:
                    cond.wait()
                    continue
                delay = self._heap[0][0] - time.monotonic()
                if delay > 0:
                    cond.wait(delay)
                    continue
                alarm = self._pop_due(time.monotonic())
                if alarm is None:
                    continue
                cond.release()
                try:
                    self._fire(alarm)
                finally:
                    cond.acquire()

    def close(self) -> None:
        """Discard pending alarms, let a running callback finish, and join the timer thread."""
        with self._cond:
            self._closed = True
            self._discard()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()


class LogicalClock(Clock):
    """Time that moves only when told to: ``advance()`` and ``advance_to()`` fire the alarms that
    come due, on the caller's thread, in deadline order (ties in scheduling order). During a
    callback ``now()`` is that alarm's deadline, so alarms scheduled from it fire in the same
    advance when they are due by its end. No thread: made for deterministic tests."""

    def __init__(self, start: float = 0.0, *, error_handler: ErrorHandler | None = None) -> None:
        super().__init__("logical-clock", error_handler)
        self._now = float(start)
        self._advancing = False

    def now(self) -> float:
        """The logical time in seconds."""
        return self._now

    def advance(self, seconds: float) -> int:
        """Move time forward by ``seconds`` (>= 0); returns how many alarms fired."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"advance(seconds={seconds!r}) needs a finite value >= 0")
        return self.advance_to(self._now + seconds)

    def advance_to(self, when: float) -> int:
        """Move time forward to ``when``; returns how many alarms fired."""
        with self._cond:
            if self._closed:
                raise StageClosedError(f"clock {self._name!r} is closed: time cannot advance")
            if self._advancing:
                raise RuntimeError(
                    "LogicalClock.advance called while an advance is running (from an alarm "
                    "callback or another thread); schedule an alarm instead"
                )
            if not when >= self._now:
                raise ValueError(f"advance_to({when!r}) is before now ({self._now!r})")
            self._advancing = True
        fired = 0
        try:
            while True:
                with self._cond:
                    alarm = self._pop_due(when)
                    if alarm is None:
                        self._now = when
                        return fired
                    self._now = max(self._now, alarm.deadline)
                self._fire(alarm)
                fired += 1
        finally:
            with self._cond:
                self._advancing = False

    def close(self) -> None:
        """Discard pending alarms; scheduling or advancing afterwards raises."""
        with self._cond:
            self._closed = True
            self._discard()
