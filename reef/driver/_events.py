"""Driver events: immutable values handed to ``@on`` handlers. Some are also handles: their
methods send commands to the evaluator (through the driver's ``DriverOps``) and raise
``StateError`` when the object cannot do what is asked in its current state.

Order, for one activity: ``RunningActivity``, any ``ActivityMessage``s, then exactly one of
``CompletedActivity``, ``FailedActivity``, ``SuspendedActivity`` (or ``FailedEvaluator`` carrying
it). ``ActiveContext`` fires once per context, when it is started and idle (a context started
together with an activity fires ``RunningActivity`` instead). ``ClosedContext`` comes after a
context's services are closed; ``CompletedEvaluator`` after the root context is closed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from reef.errors import RemoteError

_log = logging.getLogger("reef.driver")

if TYPE_CHECKING:
    from reef.driver._submission import ActivityConfiguration, ContextConfiguration


class DriverOps(Protocol):
    """What handles ask of the driver (implemented by the driver core)."""

    def submit_context(
        self,
        evaluator_id: str,
        parent_id: str | None,
        context: ContextConfiguration,
        activity: ActivityConfiguration | None,
    ) -> None: ...

    def submit_activity(
        self, evaluator_id: str, context_id: str | None, activity: ActivityConfiguration
    ) -> None: ...

    def close_context(self, evaluator_id: str, context_id: str) -> None: ...

    def close_evaluator(self, evaluator_id: str) -> None: ...

    def send_to_context(self, evaluator_id: str, context_id: str, data: bytes) -> None: ...

    def send_to_activity(self, evaluator_id: str, activity_id: str, data: bytes) -> None: ...

    def signal_activity(
        self, evaluator_id: str, activity_id: str, suspend: bool, message: bytes | None
    ) -> None: ...


_OPS: Any = field(repr=False, compare=False)  # handles' link to the driver: not part of the value


# ---------------------------------------------------------------------------------------------
# time


@dataclass(frozen=True, slots=True)
class StartTime:
    """The driver has started (the first event)."""

    timestamp: float


@dataclass(frozen=True, slots=True)
class StopTime:
    """Nothing more can happen: no evaluators, no outstanding requests, no alarms. Handlers may
    request evaluators or schedule alarms to keep the driver going."""

    timestamp: float


@dataclass(frozen=True, slots=True)
class ClientMessage:
    """A message from the client (``Job.send``)."""

    data: bytes


# ---------------------------------------------------------------------------------------------
# evaluators


@dataclass(frozen=True, slots=True)
class EvaluatorDescriptor:
    """Where an evaluator runs and what it was given."""

    host: str
    memory_mb: int
    cores: int
    runtime_name: str


@dataclass(frozen=True, slots=True)
class AllocatedEvaluator:
    """A new evaluator, up and connected, with no context yet. Submit a context (and maybe an
    activity) to use it, or ``close()`` it; unhandled, it is closed."""

    id: str
    descriptor: EvaluatorDescriptor
    _ops: DriverOps = _OPS

    def submit_context(self, context: ContextConfiguration) -> None:
        """Start the root context; ``ActiveContext`` follows (or ``FailedContext``)."""
        self._ops.submit_context(self.id, None, context, None)

    def submit_activity(self, activity: ActivityConfiguration) -> None:
        """Start an activity on a root context without services (its id: ``<evaluator>-root``)."""
        self._ops.submit_activity(self.id, None, activity)

    def submit_context_and_activity(
        self, context: ContextConfiguration, activity: ActivityConfiguration
    ) -> None:
        """Start the root context with an activity on it; ``RunningActivity`` follows."""
        self._ops.submit_context(self.id, None, context, activity)

    def close(self) -> None:
        """Release the evaluator; ``CompletedEvaluator`` follows."""
        self._ops.close_evaluator(self.id)


@dataclass(frozen=True, slots=True)
class CompletedEvaluator:
    """An evaluator ended cleanly (its root context closed, or it was closed)."""

    id: str


@dataclass(frozen=True, slots=True)
class FailedEvaluator:
    """An evaluator died, stopped answering, or failed to start. ``failed_contexts`` lists the
    contexts it had (root first); ``failed_activity`` is the activity it was running, if any."""

    id: str
    error: RemoteError
    failed_contexts: tuple[str, ...] = ()
    failed_activity: FailedActivity | None = None


# ---------------------------------------------------------------------------------------------
# contexts


@dataclass(frozen=True, slots=True)
class ActiveContext:
    """A started, idle context: give it an activity or a child context, send it messages, or
    close it (closing the root context releases the evaluator)."""

    id: str
    evaluator_id: str
    parent_id: str | None
    _ops: DriverOps = _OPS

    def submit_activity(self, activity: ActivityConfiguration) -> None:
        """Run an activity on this context (it must be the top context, and idle)."""
        self._ops.submit_activity(self.evaluator_id, self.id, activity)

    def submit_context(self, context: ContextConfiguration) -> None:
        """Start a child context on this one; it sees this context's services."""
        self._ops.submit_context(self.evaluator_id, self.id, context, None)

    def send_message(self, data: bytes) -> None:
        """Send ``data`` to the context's services that define ``on_context_message``."""
        self._ops.send_to_context(self.evaluator_id, self.id, data)

    def close(self) -> None:
        """Close this context (its services in reverse order); ``ClosedContext`` follows."""
        self._ops.close_context(self.evaluator_id, self.id)


@dataclass(frozen=True, slots=True)
class ClosedContext:
    """A context closed; ``parent`` is its parent, active again (``None`` for the root)."""

    id: str
    evaluator_id: str
    parent: ActiveContext | None


@dataclass(frozen=True, slots=True)
class FailedContext:
    """A context failed to start (a service's constructor raised) or to close."""

    id: str
    evaluator_id: str
    error: RemoteError
    parent: ActiveContext | None


@dataclass(frozen=True, slots=True)
class ContextMessage:
    """A message sent by a service through its ``ContextMessenger``."""

    context_id: str
    data: bytes
    evaluator_id: str = ""


# ---------------------------------------------------------------------------------------------
# activities


@dataclass(frozen=True, slots=True)
class RunningActivity:
    """An activity has started: send it messages, ask it to suspend or to close."""

    id: str
    context: ActiveContext
    _ops: DriverOps = _OPS

    def send_message(self, data: bytes) -> None:
        """Deliver ``data`` to the activity's ``on_message``."""
        self._ops.send_to_activity(self.context.evaluator_id, self.id, data)

    def suspend(self, message: bytes | None = None) -> None:
        """Ask the activity to suspend: it sees ``suspend_requested`` and ``on_suspend(message)``;
        what its ``run`` returns becomes the memento of ``SuspendedActivity``."""
        self._ops.signal_activity(self.context.evaluator_id, self.id, True, message)

    def close(self, message: bytes | None = None) -> None:
        """Ask the activity to finish early: it sees ``close_requested`` and
        ``on_close(message)``."""
        self._ops.signal_activity(self.context.evaluator_id, self.id, False, message)


@dataclass(frozen=True, slots=True)
class CompletedActivity:
    """An activity's ``run`` returned; ``result`` is what it returned."""

    id: str
    context: ActiveContext
    result: bytes | None


@dataclass(frozen=True, slots=True)
class FailedActivity:
    """An activity raised (in ``run``, its constructor or a callback). Its context stays up
    (``context``), unless the whole evaluator failed (then ``None``)."""

    id: str
    context: ActiveContext | None
    error: RemoteError


@dataclass(frozen=True, slots=True)
class SuspendedActivity:
    """An activity returned after a suspend request; resubmit it with ``memento`` to go on."""

    id: str
    context: ActiveContext
    memento: bytes | None


@dataclass(frozen=True, slots=True)
class ActivityMessage:
    """A message an activity sent with ``send_message``."""

    activity_id: str
    context_id: str
    data: bytes
    evaluator_id: str = ""


class ServiceEvent:
    """Base of the events that services define (a group member failed, ...). ``@on`` accepts
    any subclass; services fire them with ``DriverServices.fire``. When the driver has no
    handler for one, ``unhandled()`` runs: by default it is logged; a subclass may raise to
    fail the job."""

    def unhandled(self) -> None:
        """What happens when no handler takes this event (run on the dispatcher thread)."""
        _log.info("no handler for %r", self)


EVENT_TYPES: tuple[type, ...] = (
    StartTime,
    StopTime,
    AllocatedEvaluator,
    CompletedEvaluator,
    FailedEvaluator,
    ActiveContext,
    ClosedContext,
    FailedContext,
    ContextMessage,
    RunningActivity,
    CompletedActivity,
    FailedActivity,
    SuspendedActivity,
    ActivityMessage,
    ClientMessage,
)
"""Every built-in event type a driver can handle with ``@on`` (and subclasses of
``ServiceEvent``)."""
