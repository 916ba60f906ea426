"""Driver side of recovery: ``Recovery`` keeps track of activities that resume from
checkpoints, and ``checkpoint_context`` builds the context that holds their service.

Both build ``reef.ContextConfiguration`` / ``reef.ActivityConfiguration`` values, which live in
``reef.driver._submission``; they import it when called, which happens in the driver process
only, so evaluators and the rest of this package never load the driver's side.
"""

from __future__ import annotations

import os
import secrets
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reef.errors import StateError
from reef.services import _ids
from reef.services._checkpoint import CheckpointPath, CheckpointRetention, CheckpointService
from reef.services._errors import RecoveryExhausted
from reef.services._periodic import CheckpointMemento
from reef.tang import Configuration, NamedParameter

if TYPE_CHECKING:
    from reef.driver._events import (
        CompletedActivity,
        FailedActivity,
        FailedEvaluator,
        RunningActivity,
        SuspendedActivity,
    )
    from reef.driver._submission import ActivityConfiguration, ContextConfiguration

Parameters = Mapping[type[NamedParameter[Any]], Any]


def checkpoint_context(
    id: str,
    path: str | None = None,
    *,
    retention: int | None = None,
    services: Sequence[type] = (),
    parameters: Parameters | None = None,
    configuration: Configuration | None = None,
) -> ContextConfiguration:
    """A ``reef.ContextConfiguration`` whose services are a ``CheckpointService`` and
    ``services``. ``path`` (a folder or an fsspec URL every evaluator can reach; a relative
    local path is made absolute here, in the driver) sets ``CheckpointPath``; without it the
    service uses the folder ``checkpoints`` of the job's directory (local runtime).
    ``retention`` sets ``CheckpointRetention``."""
    from reef.driver._submission import ContextConfiguration  # noqa: PLC0415 (driver side)

    own: dict[type[NamedParameter[Any]], Any] = dict(parameters or {})
    if path is not None:
        if not isinstance(path, str) or not path:
            raise ValueError(f"path={path!r} must be a non-empty folder or URL, or None")
        own[CheckpointPath] = path if "://" in path else os.path.abspath(path)
    if retention is not None:
        own[CheckpointRetention] = retention
    return ContextConfiguration(
        id=id,
        services=[CheckpointService, *services],
        parameters=own or None,
        configuration=configuration,
    )


@dataclass(slots=True)
class _Work:
    name: str
    activity: type
    parameters: Parameters | None
    configuration: Configuration | None
    series: str
    memento: bytes
    runs: int = 0
    failures: int = 0
    current: str | None = None  # the id of its submitted run
    evaluator: str | None = None
    handle: RunningActivity | None = None
    done: bool = False


class Recovery:
    """Driver-side bookkeeping for activities that resume from checkpoints (activities that
    use ``PeriodicCheckpoint`` or read ``CheckpointMemento``).

    ``add`` names a piece of work; ``next()`` gives the ``ActivityConfiguration`` of the next
    one waiting to run (a new one, or one to resume), for any evaluator. Feed it the activity
    events: ``running`` (needed for ``suspend``), ``suspended`` (queues the work to resume from
    the memento its run returned), ``lost`` (``FailedEvaluator`` or ``FailedActivity``: queues
    the work to resume from its newest committed checkpoint; raises ``RecoveryExhausted`` after
    ``max_failures`` losses of one piece of work) and ``completed``. Each run has the id
    ``<name>-<n>``, and every run of one piece of work writes its checkpoints to one series,
    unique to this ``Recovery``, so a job never resumes from another job's checkpoints.
    Events of activities it did not start are ignored (the methods return ``None`` or ``[]``).
    """

    def __init__(self, *, max_failures: int = 3) -> None:
        if not isinstance(max_failures, int) or isinstance(max_failures, bool) or max_failures < 0:
            raise ValueError(f"max_failures={max_failures!r} must be a whole number >= 0")
        self.max_failures = max_failures
        self._token = secrets.token_hex(4)
        self._work: dict[str, _Work] = {}
        self._runs: dict[str, _Work] = {}  # activity id -> its work
        self._queue: deque[_Work] = deque()

    # -- what there is to do ----------------------------------------------------------------------

    def add(
        self,
        name: str,
        activity: type,
        *,
        parameters: Parameters | None = None,
        configuration: Configuration | None = None,
    ) -> None:
        """Queue a new piece of work: ``activity`` run with ``parameters``/``configuration``."""
        if not isinstance(name, str) or len(name) > 80:
            raise ValueError(f"name={name!r} must be a string of at most 80 characters")
        _ids.check_series(name)
        if name in self._work:
            raise ValueError(f"Recovery already has work named {name!r}")
        series = f"{name}-{self._token}"
        work = _Work(
            name, activity, parameters, configuration, series, CheckpointMemento(series).encode()
        )
        self._work[name] = work
        self._queue.append(work)

    def next(self) -> ActivityConfiguration | None:
        """The next run to submit (new work first come, resumptions as they were queued), or
        ``None`` if nothing waits."""
        from reef.driver._submission import ActivityConfiguration  # noqa: PLC0415 (driver side)

        if not self._queue:
            return None
        work = self._queue.popleft()
        work.runs += 1
        work.current = f"{work.name}-{work.runs}"
        work.evaluator = work.handle = None
        self._runs[work.current] = work
        return ActivityConfiguration(
            id=work.current,
            activity=work.activity,
            parameters=work.parameters,
            configuration=work.configuration,
            memento=work.memento,
        )

    @property
    def pending(self) -> int:
        """How many runs wait for ``next()``."""
        return len(self._queue)

    @property
    def done(self) -> bool:
        """Whether every piece of work added has completed."""
        return all(work.done for work in self._work.values())

    # -- where things are -------------------------------------------------------------------------

    def name_of(self, activity_id: str) -> str | None:
        """The work an activity id is a run of, or ``None``."""
        work = self._runs.get(activity_id)
        return work.name if work else None

    def evaluator_of(self, name: str) -> str | None:
        """The evaluator the work runs on (known from ``running``), or ``None``."""
        return self._get(name).evaluator

    def running_on(self, evaluator_id: str) -> list[str]:
        """The work running on an evaluator."""
        return [w.name for w in self._work.values() if w.evaluator == evaluator_id and not w.done]

    def failures(self, name: str) -> int:
        """How many times the work was lost."""
        return self._get(name).failures

    def _get(self, name: str) -> _Work:
        work = self._work.get(name)
        if work is None:
            raise KeyError(f"Recovery has no work named {name!r} (known: {sorted(self._work)})")
        return work

    def _current(self, activity_id: str) -> _Work | None:
        work = self._runs.get(activity_id)
        return work if work is not None and work.current == activity_id else None

    # -- events -----------------------------------------------------------------------------------

    def running(self, event: RunningActivity) -> str | None:
        """Record where a run is, and its handle (for ``suspend``); the work's name."""
        work = self._current(event.id)
        if work is None:
            return None
        work.evaluator = event.context.evaluator_id
        work.handle = event
        return work.name

    def suspend(self, name: str, message: bytes | None = None) -> None:
        """Ask the running work to suspend (it checkpoints and returns a memento; feed the
        ``SuspendedActivity`` to ``suspended``). ``StateError`` if it is not running."""
        work = self._get(name)
        if work.handle is None:
            raise StateError(
                f"work {name!r} is not running (wait for its RunningActivity and pass it to "
                "Recovery.running)"
            )
        work.handle.suspend(message)

    def suspend_on(self, evaluator_id: str, message: bytes | None = None) -> list[str]:
        """Ask the work running on an evaluator to suspend; the names asked."""
        names = [n for n in self.running_on(evaluator_id) if self._work[n].handle is not None]
        for name in names:
            self.suspend(name, message)
        return names

    def suspended(self, event: SuspendedActivity) -> str | None:
        """Queue the work to resume from the memento its run returned; its name."""
        work = self._current(event.id)
        if work is None:
            return None
        if event.memento is not None:
            CheckpointMemento.decode(event.memento)  # a clear error now, not on the next run
            work.memento = event.memento
        else:  # the run saved nothing at its suspension: resume from its newest checkpoint
            work.memento = CheckpointMemento(work.series).encode()
        self._requeue(work)
        return work.name

    def lost(self, event: FailedEvaluator | FailedActivity) -> list[str]:
        """Queue the work whose run failed (its evaluator died, or it raised) to resume from
        its newest committed checkpoint; the names queued. ``RecoveryExhausted`` when one piece
        of work has been lost more than ``max_failures`` times."""
        failed = getattr(event, "failed_activity", event)
        if failed is None:
            return []
        work = self._current(failed.id)
        if work is None:
            return []
        work.failures += 1
        if work.failures > self.max_failures:
            work.current = work.evaluator = work.handle = None
            raise RecoveryExhausted(
                f"work {work.name!r} was lost {work.failures} times, more than "
                f"max_failures={self.max_failures}; the last time: {event.error}"
            )
        work.memento = CheckpointMemento(work.series).encode()
        self._requeue(work)
        return [work.name]

    def completed(self, event: CompletedActivity) -> str | None:
        """Record that the work completed; its name."""
        work = self._current(event.id)
        if work is None:
            return None
        work.done = True
        work.current = work.evaluator = work.handle = None
        return work.name

    def _requeue(self, work: _Work) -> None:
        work.current = work.evaluator = work.handle = None
        self._queue.append(work)
