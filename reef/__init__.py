"""reef: retainable evaluators for Python, on YARN and on one machine.

This module only re-exports the public names of the project; nothing inside ``reef`` imports it.
Configuration lives in :mod:`reef.tang`, event stages in :mod:`reef.wake`, runtimes in
:mod:`reef.runtime`, job settings in :mod:`reef.settings`.
"""

from reef.client import Job, JobResult, JobStatus, run, submit
from reef.common._activity import Activity, ContextMessenger
from reef.driver._declare import Driver, on
from reef.driver._events import (
    ActiveContext,
    ActivityMessage,
    AllocatedEvaluator,
    ClientMessage,
    ClosedContext,
    CompletedActivity,
    CompletedEvaluator,
    ContextMessage,
    EvaluatorDescriptor,
    FailedActivity,
    FailedContext,
    FailedEvaluator,
    RunningActivity,
    StartTime,
    StopTime,
    SuspendedActivity,
)
from reef.driver._requestor import Clock, EvaluatorRequest, EvaluatorRequestor, JobMessenger
from reef.driver._submission import ActivityConfiguration, ContextConfiguration
from reef.errors import (
    ConfigurationError,
    DriverDefinitionError,
    ReefError,
    RemoteError,
    StateError,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "ActiveContext",
    "Activity",
    "ActivityConfiguration",
    "ActivityMessage",
    "AllocatedEvaluator",
    "ClientMessage",
    "Clock",
    "ClosedContext",
    "CompletedActivity",
    "CompletedEvaluator",
    "ConfigurationError",
    "ContextConfiguration",
    "ContextMessage",
    "ContextMessenger",
    "Driver",
    "DriverDefinitionError",
    "EvaluatorDescriptor",
    "EvaluatorRequest",
    "EvaluatorRequestor",
    "FailedActivity",
    "FailedContext",
    "FailedEvaluator",
    "Job",
    "JobMessenger",
    "JobResult",
    "JobStatus",
    "ReefError",
    "RemoteError",
    "RunningActivity",
    "StartTime",
    "StateError",
    "StopTime",
    "SuspendedActivity",
    "__version__",
    "on",
    "run",
    "submit",
]
