"""Wake: event handlers, stages (sync, thread pool, single thread, timer), clocks and per-stage
profiling.

May import: the standard library and ``reef.errors`` (a leaf module) only. The optional
``prometheus_client`` and ``matplotlib`` are imported lazily, by the reports that need them.

An event handler is any callable ``(event) -> None``. A stage wraps one with a thread policy and
is wired once, sink to source::

    store = ThreadPoolStage(save, threads=4)          # the sink is built first...
    parse = SyncStage(make_parser(store.on_next))     # ...then its source: an inlined call
    parse.on_next(raw)
    parse.close()                                     # source first: each drains downstream
    store.close()
    print(default_registry().text_report())

``build_chain`` does the same from handler factories and ``StageSpec`` values, so that whether a
hop is a call or a queue is configuration, not code.
"""

from reef.errors import StageClosedError
from reef.wake._chain import Chain, HandlerFactory, StageSpec, build_chain
from reef.wake._clock import Alarm, Clock, LogicalClock, RealClock
from reef.wake._handler import ErrorHandler, EventHandler
from reef.wake._profile import DEFAULT_PROFILING, Profiling
from reef.wake._queued import SingleThreadStage, StageFullError, ThreadPoolStage
from reef.wake._registry import StageRegistry, default_registry
from reef.wake._stage import Stage, SyncStage
from reef.wake._statistics import StageStatistics
from reef.wake._timer import PeriodicEvent, TimerStage

__all__ = [
    "DEFAULT_PROFILING",
    "Alarm",
    "Chain",
    "Clock",
    "ErrorHandler",
    "EventHandler",
    "HandlerFactory",
    "LogicalClock",
    "PeriodicEvent",
    "Profiling",
    "RealClock",
    "SingleThreadStage",
    "Stage",
    "StageClosedError",
    "StageFullError",
    "StageRegistry",
    "StageSpec",
    "StageStatistics",
    "SyncStage",
    "ThreadPoolStage",
    "TimerStage",
    "build_chain",
    "default_registry",
]
