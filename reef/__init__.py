"""reef: retainable evaluators for Python, on YARN and on one machine.

This module only re-exports the public names of the project; nothing inside ``reef`` imports it.
Configuration lives in :mod:`reef.tang`, event stages in :mod:`reef.wake`, runtimes in
:mod:`reef.runtime`, job settings in :mod:`reef.settings`.
"""

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

# Where each public name lives. Imported on first use, so that an evaluator process, which
# needs none of the driver's side, starts without loading it.
_WHERE = {
    "ActiveContext": "reef.driver._events",
    "Activity": "reef.common._activity",
    "ActivityConfiguration": "reef.driver._submission",
    "ActivityMessage": "reef.driver._events",
    "AllocatedEvaluator": "reef.driver._events",
    "ClientMessage": "reef.driver._events",
    "Clock": "reef.driver._requestor",
    "ClosedContext": "reef.driver._events",
    "CompletedActivity": "reef.driver._events",
    "CompletedEvaluator": "reef.driver._events",
    "ConfigurationError": "reef.errors",
    "ContextConfiguration": "reef.driver._submission",
    "ContextMessage": "reef.driver._events",
    "ContextMessenger": "reef.common._activity",
    "Driver": "reef.driver._declare",
    "DriverIdentity": "reef.driver._services",
    "DriverServices": "reef.driver._services",
    "EvaluatorIdentity": "reef.common._identity",
    "DriverDefinitionError": "reef.errors",
    "EvaluatorDescriptor": "reef.driver._events",
    "EvaluatorRequest": "reef.driver._requestor",
    "EvaluatorRequestor": "reef.driver._requestor",
    "FailedActivity": "reef.driver._events",
    "FailedContext": "reef.driver._events",
    "FailedEvaluator": "reef.driver._events",
    "Job": "reef.client",
    "JobMessenger": "reef.driver._requestor",
    "JobResult": "reef.client",
    "JobStatus": "reef.client",
    "ReefError": "reef.errors",
    "RemoteError": "reef.errors",
    "RunningActivity": "reef.driver._events",
    "ServiceEvent": "reef.driver._events",
    "StartTime": "reef.driver._events",
    "StateError": "reef.errors",
    "StopTime": "reef.driver._events",
    "SuspendedActivity": "reef.driver._events",
    "on": "reef.driver._declare",
    "run": "reef.client",
    "submit": "reef.client",
    "settings": "reef.settings",
}

if TYPE_CHECKING:
    from reef import settings
    from reef.client import Job, JobResult, JobStatus, run, submit
    from reef.common._activity import Activity, ContextMessenger
    from reef.common._identity import EvaluatorIdentity
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
        ServiceEvent,
        StartTime,
        StopTime,
        SuspendedActivity,
    )
    from reef.driver._requestor import Clock, EvaluatorRequest, EvaluatorRequestor, JobMessenger
    from reef.driver._services import DriverIdentity, DriverServices
    from reef.driver._submission import ActivityConfiguration, ContextConfiguration
    from reef.errors import (
        ConfigurationError,
        DriverDefinitionError,
        ReefError,
        RemoteError,
        StateError,
    )


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'reef' has no attribute {name!r}")
    value = importlib.import_module(module)
    if name != "settings":
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


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
    "DriverIdentity",
    "DriverServices",
    "EvaluatorDescriptor",
    "EvaluatorIdentity",
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
    "ServiceEvent",
    "StartTime",
    "StateError",
    "StopTime",
    "SuspendedActivity",
    "__version__",
    "on",
    "run",
    "settings",
    "submit",
]
