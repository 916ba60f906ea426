"""Running activities: one at a time, each on the evaluator's activity thread.

The control thread starts an activity and forwards the driver's signals (suspend, close,
messages); the activity thread constructs it (Tang injection) and runs it. Exactly one terminal
status (completed, suspended, failed) is reported per activity.

``RUNNING`` is reported only for an activity that is still running ``RUNNING_DELAY`` seconds
after it started (a watchdog thread sees to it), or that sends a message first: an activity that
ends sooner costs one message instead of two, and the driver, which always fires
``RunningActivity`` before the end of an activity, cannot tell the difference.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reef.common import _activity as act
from reef.common._wire import capture
from reef.proto import control_pb2 as pb

_log = logging.getLogger("reef.evaluator")

RUNNING_DELAY = 0.002  # seconds an activity runs before RUNNING is reported

Status = pb.ActivityStatus


@dataclass(eq=False, slots=True)
class Run:
    """One activity's run: what to construct, and how far it got."""

    activity_id: str
    context_id: str
    make: Callable[[], Any]
    memento: bytes | None
    suspend_requested: threading.Event = field(default_factory=threading.Event)
    close_requested: threading.Event = field(default_factory=threading.Event)
    activity: Any = None
    ended: bool = False
    reported: bool = False  # RUNNING sent
    started: float = 0.0  # when run() was called (time.monotonic())


class ActivityRunner:
    """Runs activities on one dedicated thread and reports their statuses."""

    def __init__(
        self,
        evaluator_id: str,
        send_status: Callable[[pb.ActivityStatus], None],
        send_message: Callable[[Run, bytes], None],
        max_result_bytes: int,
    ) -> None:
        self._evaluator_id = evaluator_id
        self._send_status = send_status
        self._send_message = send_message
        self.max_result = max_result_bytes
        self._lock = threading.Lock()
        self._current: Run | None = None
        self._executing: Run | None = None
        self._work: queue.SimpleQueue[Run | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="reef-activity", daemon=True)
        self._thread.start()
        self._watch = threading.Condition(self._lock)
        self._armed: Run | None = None
        self._watch_idle = True
        self._stopped = False
        self._watchdog = threading.Thread(
            target=self._watch_loop, name="reef-activity-watch", daemon=True
        )
        self._watchdog.start()

    @property
    def current(self) -> Run | None:
        """The activity that has not ended yet, if any."""
        return self._current

    def start(self, run: Run) -> None:
        """Queue ``run`` for the activity thread."""
        with self._lock:
            if self._current is not None:
                raise RuntimeError(f"activity {self._current.activity_id!r} is still running")
            self._current = run
            if self._executing is not None:
                _log.warning(
                    "activity %s waits: the thread of failed activity %s has not returned yet",
                    run.activity_id,
                    self._executing.activity_id,
                )
        self._work.put(run)

    def stop(self) -> None:
        """Let the activity thread end once it is free (it is a daemon thread: a run that never
        returns does not keep the process alive), and the watchdog at once."""
        self._work.put(None)
        with self._lock:
            self._stopped = True
            self._watch.notify()

    def report_running(self, run: Run) -> None:
        """Report ``RUNNING`` now, if it has not been (before an activity's first message)."""
        with self._lock:
            self._report(run)

    def _report(self, run: Run) -> None:
        # under the lock
        if not run.reported and not run.ended:
            run.reported = True
            self._send_status(Status(activity_id=run.activity_id, context_id=run.context_id))

    def _arm(self, run: Run) -> None:
        with self._lock:
            run.started = time.monotonic()
            self._armed = run
            if self._watch_idle:
                self._watch.notify()

    def _watch_loop(self) -> None:
        quiet = 0
        with self._lock:
            while not self._stopped:
                run = self._armed
                if run is None or run.reported or run.ended:
                    self._armed = None
                    quiet += 1
                    if quiet > 2:  # nothing to watch lately: sleep until armed
                        self._watch_idle = True
                        self._watch.wait()
                        self._watch_idle = False
                        quiet = 0
                        continue
                else:
                    quiet = 0
                    due = run.started + RUNNING_DELAY - time.monotonic()
                    if due <= 0:
                        self._report(run)
                        continue
                self._watch.wait(RUNNING_DELAY)

    # -- driver signals (control thread) -------------------------------------------------------

    def signal(self, activity_id: str, kind: int, message: bytes | None) -> None:
        """Suspend or close: set the flag, then call the activity's callback."""
        run = self._live(activity_id)
        if run is None:
            return
        if kind == pb.SignalActivity.SUSPEND:
            run.suspend_requested.set()
            callback = "on_suspend"
        else:
            run.close_requested.set()
            callback = "on_close"
        if run.activity is not None:
            self._callback(run, callback, message)

    def message(self, activity_id: str, data: bytes) -> None:
        """A driver message for the activity."""
        run = self._live(activity_id)
        if run is None:
            return
        if run.activity is None:
            self._fail(run, RuntimeError("a driver message arrived before the activity started"))
            return
        self._callback(run, "on_message", data)

    def _live(self, activity_id: str) -> Run | None:
        run = self._current
        if run is None or run.activity_id != activity_id or run.ended:
            _log.debug("signal for activity %s that is not running: ignored", activity_id)
            return None
        return run

    def _message_from(self, run: Run, data: bytes) -> None:
        self.report_running(run)  # RUNNING always comes before an activity's messages
        self._send_message(run, data)

    def _callback(self, run: Run, name: str, arg: bytes | None) -> None:
        try:
            getattr(run.activity, name)(arg)
        except Exception as e:
            e.add_note(f"(raised by {type(run.activity).__qualname__}.{name})")
            self._fail(run, e)

    def _fail(self, run: Run, exc: BaseException) -> None:
        run.close_requested.set()  # ask run() to stop; its result will be ignored
        self._finish(run, pb.ActivityStatus.FAILED, error=exc)

    # -- the activity thread ----------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            run = self._work.get()
            if run is None:
                return
            self._executing = run
            try:
                self._execute(run)
            finally:
                self._executing = None

    def _execute(self, run: Run) -> None:
        binding = act.Binding(
            lambda data: self._message_from(run, data),
            run.suspend_requested,
            run.close_requested,
        )
        token = act.current_binding.set(binding)
        try:
            activity = run.make()
        except BaseException as e:
            self._fail(run, e)
            return
        finally:
            act.current_binding.reset(token)
        run.activity = activity
        self._arm(run)
        try:
            result = activity.run(run.memento)
        except BaseException as e:
            self._fail(run, e)
            return
        if result is not None and not isinstance(result, bytes):
            if isinstance(result, (bytearray, memoryview)):
                result = bytes(result)
            else:
                self._fail(
                    run,
                    TypeError(
                        f"{type(activity).__qualname__}.run() returned "
                        f"{type(result).__name__}; return bytes or None"
                    ),
                )
                return
        if result is not None and len(result) > self.max_result:
            self._fail(
                run,
                ValueError(
                    f"{type(activity).__qualname__}.run() returned {len(result)} bytes, more "
                    f"than the job's limit of {self.max_result} (MaxMessageBytes); keep large "
                    "data in a service or a file and return a reference"
                ),
            )
            return
        state = (
            pb.ActivityStatus.SUSPENDED
            if run.suspend_requested.is_set()
            else pb.ActivityStatus.COMPLETED
        )
        self._finish(run, state, result=result)

    def _finish(
        self,
        run: Run,
        state: pb.ActivityStatus.State,
        *,
        result: bytes | None = None,
        error: BaseException | None = None,
    ) -> None:
        with self._lock:
            if run.ended:
                return
            run.ended = True
            if self._current is run:
                self._current = None
            status = Status(activity_id=run.activity_id, context_id=run.context_id, state=state)
            if result is not None:
                status.result = result
            if error is not None:
                status.error.CopyFrom(
                    capture(
                        error,
                        evaluator_id=self._evaluator_id,
                        context_id=run.context_id,
                        activity_id=run.activity_id,
                    )
                )
            self._send_status(status)
