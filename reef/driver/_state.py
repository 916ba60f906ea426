"""The driver's view of one evaluator, as a pure state machine.

Inputs are what the user asks through handles (``add_context``, ``start_activity``, ...), which
return the command to send or raise ``StateError``; and what the evaluator and the runtime report
(``registered``, ``context_status``, ``activity_status``, ``exited``, ...), which return the driver
events to fire. No I/O happens here, so every rule is testable without processes.

Phases::

    LAUNCHING -registered-> ALLOCATED -root context-> RUNNING -goodbye-> CLOSING -exit-> DONE
        \\___________________ any failure, lost connection or bad exit ____________/-> FAILED
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from reef.common._wire import remote_error
from reef.driver._events import (
    ActiveContext,
    ActivityMessage,
    AllocatedEvaluator,
    ClosedContext,
    CompletedActivity,
    CompletedEvaluator,
    ContextMessage,
    DriverOps,
    EvaluatorDescriptor,
    FailedActivity,
    FailedContext,
    FailedEvaluator,
    RunningActivity,
    SuspendedActivity,
)
from reef.driver._submission import CheckedActivity, CheckedContext
from reef.errors import RemoteError, StateError
from reef.proto import control_pb2 as pb
from reef.runtime._api import ContainerExit, Placement
from reef.tang import Configuration

Event = object


class Phase(enum.Enum):
    """Where an evaluator is in its life."""

    LAUNCHING = "launching"  # process started, not yet connected
    ALLOCATED = "allocated"  # connected, no context
    RUNNING = "running"  # has a root context
    CLOSING = "closing"  # said goodbye or asked to, process ending
    DONE = "done"
    FAILED = "failed"


_LIVE = (Phase.ALLOCATED, Phase.RUNNING)


class CtxState(enum.Enum):
    """A context's state, as far as the driver knows."""

    STARTING = "starting"
    ACTIVE = "active"
    CLOSING = "closing"


@dataclass(slots=True)
class ContextRecord:
    """One context on the evaluator's stack."""

    id: str
    parent_id: str | None
    effective: Configuration
    stack_services: tuple[type, ...]
    state: CtxState = CtxState.STARTING
    with_activity: bool = False


@dataclass(slots=True)
class ActivityRecord:
    """The activity the evaluator runs (at most one)."""

    id: str
    context_id: str
    running: bool = False  # RUNNING reported


@dataclass(slots=True)
class EvaluatorManager:
    """The state of one evaluator and the rules of its transitions."""

    id: str
    placement: Placement
    ops: DriverOps
    phase: Phase = Phase.LAUNCHING
    contexts: list[ContextRecord] = field(default_factory=list)
    activity: ActivityRecord | None = None
    host: str = ""
    pid: int = 0
    goodbye: str | None = None
    last_heard: float = 0.0
    launched_at: float = 0.0
    rss_bytes: int = 0
    process_ended: bool = False  # the runtime reported the process's end
    ended_at: float = 0.0  # when it became terminal (time.monotonic())

    # -- helpers --------------------------------------------------------------------------------

    @property
    def terminal(self) -> bool:
        """Whether the evaluator is gone for good (its process may still be ending)."""
        return self.phase in (Phase.DONE, Phase.FAILED)

    @property
    def settled(self) -> bool:
        """Whether nothing more can come of this evaluator: gone, and its process ended."""
        return self.terminal and self.process_ended

    @property
    def top(self) -> ContextRecord | None:
        """The top context."""
        return self.contexts[-1] if self.contexts else None

    def context(self, context_id: str) -> ContextRecord | None:
        """The context with that id."""
        for c in self.contexts:
            if c.id == context_id:
                return c
        return None

    def handle(self, context_id: str) -> ActiveContext:
        """The ``ActiveContext`` handle of a context."""
        record = self.context(context_id)
        parent = record.parent_id if record is not None else None
        return ActiveContext(context_id, self.id, parent, self.ops)

    def _require_live(self, action: str) -> None:
        if self.phase not in _LIVE:
            raise StateError(f"cannot {action}: evaluator {self.id} is {self.phase.value}")

    # -- commands (the user, through handles) ---------------------------------------------------

    def add_context(
        self, parent_id: str | None, context: CheckedContext, activity: CheckedActivity | None
    ) -> pb.DriverMessage:
        """Start a context (and maybe an activity on it)."""
        self._require_live(f"start context {context.id!r}")
        top = self.top
        if parent_id is None:
            if top is not None:
                raise StateError(
                    f"evaluator {self.id} already has a root context ({self.contexts[0].id!r}); "
                    "submit a child context on its top context instead"
                )
        else:
            parent = self.context(parent_id)
            if parent is None:
                raise StateError(f"evaluator {self.id} has no context {parent_id!r}")
            if parent is not top:
                raise StateError(
                    f"context {parent_id!r} has a child context ({top.id if top else ''!r}); only "
                    "the top context takes a child"
                )
            if parent.state is not CtxState.ACTIVE:
                raise StateError(f"context {parent_id!r} is {parent.state.value}")
            if self.activity is not None:
                raise StateError(
                    f"context {parent_id!r} runs activity {self.activity.id!r}; a child context "
                    "can start once it has ended"
                )
        if self.context(context.id) is not None:
            raise StateError(f"evaluator {self.id} already has a context {context.id!r}")
        self.contexts.append(
            ContextRecord(
                context.id,
                parent_id,
                context.effective,
                context.stack_services,
                with_activity=activity is not None,
            )
        )
        self.phase = Phase.RUNNING
        add = pb.AddContext(
            context_id=context.id,
            parent_id=parent_id or "",
            configuration=context.document,
            services=list(context.service_paths),
        )
        if activity is not None:
            self.activity = ActivityRecord(activity.id, context.id)
            add.activity.CopyFrom(_start(activity, context.id))
        return pb.DriverMessage(add_context=add)

    def start_activity(self, context_id: str, activity: CheckedActivity) -> pb.DriverMessage:
        """Run an activity on the top context."""
        self._require_live(f"start activity {activity.id!r}")
        record = self.context(context_id)
        if record is None:
            raise StateError(f"evaluator {self.id} has no context {context_id!r}")
        if record is not self.top:
            raise StateError(
                f"context {context_id!r} has a child context; activities run on the top context "
                f"({self.top.id if self.top else ''!r})"
            )
        if record.state is not CtxState.ACTIVE:
            raise StateError(f"context {context_id!r} is {record.state.value}")
        if self.activity is not None:
            raise StateError(
                f"evaluator {self.id} runs activity {self.activity.id!r}; one activity at a time "
                "(submit the next one when it has ended)"
            )
        self.activity = ActivityRecord(activity.id, context_id)
        return pb.DriverMessage(start_activity=_start(activity, context_id))

    def close_context(self, context_id: str) -> pb.DriverMessage:
        """Close the top context."""
        self._require_live(f"close context {context_id!r}")
        record = self.context(context_id)
        if record is None:
            raise StateError(f"evaluator {self.id} has no context {context_id!r}")
        if record is not self.top:
            child = self.top.id if self.top else ""
            raise StateError(
                f"context {context_id!r} has a child context ({child!r}); close the child first"
            )
        if record.state is CtxState.CLOSING:
            raise StateError(f"context {context_id!r} is already closing")
        if self.activity is not None and self.activity.context_id == context_id:
            raise StateError(
                f"context {context_id!r} runs activity {self.activity.id!r}; close or suspend "
                "the activity first"
            )
        record.state = CtxState.CLOSING
        return pb.DriverMessage(close_context=pb.CloseContext(context_id=context_id))

    def close(self, reason: str = "") -> pb.DriverMessage | None:
        """Release the evaluator; ``None`` if it is already closing or gone."""
        if self.phase not in _LIVE:
            return None
        self.phase = Phase.CLOSING
        return pb.DriverMessage(shutdown=pb.Shutdown(reason=reason))

    def signal(self, activity_id: str, suspend: bool, message: bytes | None) -> pb.DriverMessage:
        """Ask the running activity to suspend or to close."""
        self._require_live(f"signal activity {activity_id!r}")
        if self.activity is None or self.activity.id != activity_id:
            raise StateError(f"activity {activity_id!r} is not running on evaluator {self.id}")
        sig = pb.SignalActivity(
            activity_id=activity_id,
            kind=pb.SignalActivity.SUSPEND if suspend else pb.SignalActivity.CLOSE,
        )
        if message is not None:
            sig.message = _bytes(message)
        return pb.DriverMessage(signal=sig)

    def to_activity(self, activity_id: str, data: bytes) -> pb.DriverMessage:
        """A message for the running activity."""
        self._require_live(f"message activity {activity_id!r}")
        if self.activity is None or self.activity.id != activity_id:
            raise StateError(f"activity {activity_id!r} is not running on evaluator {self.id}")
        return pb.DriverMessage(
            message=pb.UserMessage(
                source=pb.UserMessage.ACTIVITY,
                source_id=activity_id,
                context_id=self.activity.context_id,
                data=_bytes(data),
            )
        )

    def to_context(self, context_id: str, data: bytes) -> pb.DriverMessage:
        """A message for a context's services."""
        self._require_live(f"message context {context_id!r}")
        if self.context(context_id) is None:
            raise StateError(f"evaluator {self.id} has no context {context_id!r}")
        return pb.DriverMessage(
            message=pb.UserMessage(
                source=pb.UserMessage.CONTEXT,
                source_id=context_id,
                context_id=context_id,
                data=_bytes(data),
            )
        )

    # -- reports (the evaluator and the runtime) ------------------------------------------------

    def registered(self, register: pb.Register, now: float) -> list[Event]:
        """The evaluator connected."""
        if self.phase is not Phase.LAUNCHING:
            raise StateError(f"evaluator {self.id} registered twice")
        self.phase = Phase.ALLOCATED
        self.host, self.pid, self.last_heard = register.host, register.pid, now
        p = self.placement
        descriptor = EvaluatorDescriptor(
            register.host or p.host, p.memory_mb, p.cores, p.runtime_name
        )
        return [AllocatedEvaluator(self.id, descriptor, self.ops)]

    def context_status(self, status: pb.ContextStatus) -> list[Event]:
        """A context started, closed or failed."""
        record = self.context(status.context_id)
        if record is None:
            raise StateError(f"evaluator {self.id} reported unknown context {status.context_id!r}")
        parent = self.handle(record.parent_id) if record.parent_id else None
        if status.state == pb.ContextStatus.ACTIVE:
            record.state = CtxState.ACTIVE
            if record.with_activity:
                return []  # RunningActivity speaks for it
            return [ActiveContext(record.id, self.id, record.parent_id, self.ops)]
        self.contexts.remove(record)
        if not self.contexts and self.phase is Phase.RUNNING:
            self.phase = Phase.CLOSING  # the evaluator leaves with its root context
        if status.state == pb.ContextStatus.CLOSED:
            return [ClosedContext(record.id, self.id, parent)]
        if self.activity is not None and self.activity.context_id == record.id:
            self.activity = None  # it never started: the context it needed failed
        return [FailedContext(record.id, self.id, self._error(status.error), parent)]

    def activity_status(self, status: pb.ActivityStatus) -> list[Event]:
        """An activity is running, or has ended."""
        current = self.activity
        if current is None or current.id != status.activity_id:
            raise StateError(
                f"evaluator {self.id} reported activity {status.activity_id!r}, which it does "
                "not run"
            )
        context = self.handle(current.context_id)
        if status.state == pb.ActivityStatus.RUNNING:
            current.running = True
            return [RunningActivity(current.id, context, self.ops)]
        events: list[Event] = []
        if not current.running:  # every activity shows RUNNING before it ends
            events.append(RunningActivity(current.id, context, self.ops))
        self.activity = None
        record = self.context(current.context_id)
        if record is not None:
            record.with_activity = False
        result = status.result if status.HasField("result") else None
        if status.state == pb.ActivityStatus.COMPLETED:
            events.append(CompletedActivity(current.id, context, result))
        elif status.state == pb.ActivityStatus.SUSPENDED:
            events.append(SuspendedActivity(current.id, context, result))
        else:
            events.append(FailedActivity(current.id, context, self._error(status.error)))
        return events

    def user_message(self, message: pb.UserMessage) -> list[Event]:
        """A message from an activity or a context."""
        if message.source == pb.UserMessage.ACTIVITY:
            return [ActivityMessage(message.source_id, message.context_id, message.data, self.id)]
        return [ContextMessage(message.source_id, message.data, self.id)]

    def said_goodbye(self, reason: str) -> None:
        """The evaluator is closing cleanly (its process ends next). It has closed whatever
        contexts it still had (when the driver shut it down)."""
        self.goodbye = reason
        self.contexts.clear()
        self.activity = None
        if self.phase in _LIVE:
            self.phase = Phase.CLOSING

    def failed(self, error: RemoteError) -> list[Event]:
        """The evaluator is lost: dead, silent, unreachable, or it reported a fatal error."""
        if self.terminal:
            return []
        self.phase = Phase.FAILED
        contexts = tuple(c.id for c in self.contexts)
        failed_activity = None
        if self.activity is not None:
            failed_activity = FailedActivity(
                self.activity.id, None, _with_ids(error, self.activity)
            )
        self.contexts.clear()
        self.activity = None
        return [FailedEvaluator(self.id, error, contexts, failed_activity)]

    def exited(self, exit: ContainerExit) -> list[Event]:
        """The evaluator's process ended."""
        if self.terminal:
            return []
        if exit.clean and self.goodbye is not None and not self.contexts:
            self.phase = Phase.DONE
            return [CompletedEvaluator(self.id)]
        if self.phase is Phase.LAUNCHING:
            message = f"evaluator {self.id} {exit.describe()} before it connected to the driver"
            kind = "EvaluatorLaunchFailure"
        else:
            message = f"evaluator {self.id} {exit.describe()}"
            kind = "EvaluatorExited"
        return self.failed(
            RemoteError(kind, message, evaluator_id=self.id, log_path=exit.log_path or None)
        )

    def _error(self, error: pb.RemoteError) -> RemoteError:
        return remote_error(error, log_path=self.placement.log_path)


def _start(activity: CheckedActivity, context_id: str) -> pb.StartActivity:
    start = pb.StartActivity(
        activity_id=activity.id,
        context_id=context_id,
        activity_class=activity.class_path,
        configuration=activity.document,
    )
    if activity.memento is not None:
        start.memento = activity.memento
    return start


def _bytes(data: bytes) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"messages are bytes, got {type(data).__name__}")
    return bytes(data)


def _with_ids(error: RemoteError, activity: ActivityRecord) -> RemoteError:
    return RemoteError(
        error.type_name,
        error.message,
        error.traceback,
        evaluator_id=error.evaluator_id,
        context_id=activity.context_id,
        activity_id=activity.id,
        log_path=error.log_path,
    )
