"""Activity side of recovery: a memento that points at checkpoints, and ``PeriodicCheckpoint``,
which restores an activity's state from one and saves it every N steps or seconds and when the
driver asks the activity to suspend.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from reef.services import _ids
from reef.services._checkpoint import Checkpoint, CheckpointService
from reef.services._errors import CheckpointCorrupted, CheckpointNotFound

_log = logging.getLogger("reef.services.recovery")

_PREFIX = b"reef.checkpoint/1:"

State = bytes | Callable[..., bytes]


@dataclass(frozen=True, slots=True)
class CheckpointMemento:
    """A memento that says where an activity resumes: the checkpoint ``id`` of ``series``, or,
    with ``id=None``, the newest committed checkpoint of ``series`` (none yet: start afresh).
    ``encode()`` gives the bytes to pass as ``ActivityConfiguration(memento=...)``."""

    series: str
    id: str | None = None

    def __post_init__(self) -> None:
        _ids.check_series(self.series)
        if self.id is not None and _ids.parse_id(self.id).series != self.series:
            raise ValueError(f"checkpoint {self.id!r} is not of series {self.series!r}")

    def encode(self) -> bytes:
        """The memento's bytes."""
        return _PREFIX + json.dumps({"series": self.series, "id": self.id}).encode()

    @classmethod
    def decode(cls, memento: bytes) -> CheckpointMemento:
        """The memento encoded in ``memento``; ``ValueError`` if it is not one."""
        if not isinstance(memento, bytes) or not memento.startswith(_PREFIX):
            raise ValueError(
                f"memento {memento[:40]!r} is not a checkpoint memento (made by "
                "CheckpointMemento.encode(), PeriodicCheckpoint or Recovery)"
            )
        try:
            doc = json.loads(memento[len(_PREFIX) :])
            return cls(doc["series"], doc["id"])
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(
                f"memento {memento[:80]!r} is a damaged checkpoint memento: {e}"
            ) from e


@dataclass(frozen=True, slots=True)
class Restored:
    """The state an activity resumes from: the ``step`` it had reached, its ``data``, and the
    checkpoint ``id`` they came from."""

    step: int
    data: bytes
    id: str


class _Suspendable(Protocol):
    suspend_requested: threading.Event


class PeriodicCheckpoint:
    """Restores an activity's state from its memento, and checkpoints it as it runs.

    ``every_steps`` saves at each step that is a multiple of it (so where checkpoints fall does
    not depend on where a run was resumed); ``every_seconds`` saves when that long has passed
    since the last save; either, both or neither (then only a suspension saves). With
    ``activity``, a suspend request from the driver saves at once and ``tick`` returns the
    memento to return from ``run``::

        def run(self, memento):
            saver = PeriodicCheckpoint(self.checkpoints, memento, activity=self, every_steps=50)
            step, state = 0, initial()
            if saver.restored is not None:
                step, state = saver.restored.step, decode(saver.restored.data)
            while step < self.steps:
                state = advance(state)
                step += 1
                if (suspended := saver.tick(step, encode, state)) is not None:
                    return suspended
            return encode(state)

    ``memento`` is a ``CheckpointMemento`` (from ``Recovery``, or a suspended run of this
    activity) or ``None`` (a fresh start, in a new series unless ``series`` names one). Resuming
    from the newest checkpoint of a series skips corrupted ones (logged, and listed in
    ``skipped``) and takes the newest intact one (none intact: a fresh start, ``restored`` is
    ``None``); a memento naming one checkpoint takes that one or raises ``CheckpointCorrupted``.
    """

    def __init__(
        self,
        service: CheckpointService,
        memento: bytes | None,
        *,
        activity: _Suspendable | None = None,
        every_steps: int | None = None,
        every_seconds: float | None = None,
        series: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if every_steps is not None and (
            not isinstance(every_steps, int) or isinstance(every_steps, bool) or every_steps < 1
        ):
            raise ValueError(f"every_steps={every_steps!r} must be a whole number >= 1 or None")
        if every_seconds is not None and not (
            isinstance(every_seconds, (int, float)) and every_seconds > 0
        ):
            raise ValueError(f"every_seconds={every_seconds!r} must be a number > 0 or None")
        self._service = service
        self._activity = activity
        self._every_steps = every_steps
        self._every_seconds = every_seconds
        self._clock = clock
        self._last_save = clock()
        self.skipped: tuple[str, ...] = ()
        self.restored: Restored | None = None
        if memento is None:
            self.series = _ids.check_series(series or f"activity-{secrets.token_hex(4)}")
            self.last_id: str | None = None
        else:
            where = CheckpointMemento.decode(memento)
            self.series = where.series
            found = self._restore(where)
            self.last_id = found.id if found else None
            if found is not None:
                step = found.metadata.get("step")
                if not isinstance(step, int) or isinstance(step, bool):
                    raise ValueError(
                        f"checkpoint {found.id!r} records no step: it was not saved by "
                        "PeriodicCheckpoint"
                    )
                self.restored = Restored(step, found.data, found.id)

    def _restore(self, where: CheckpointMemento) -> Checkpoint | None:
        if where.id is not None:
            return self._service.read(where.id)
        skipped: list[str] = []
        found: Checkpoint | None = None
        for info in reversed(self._service.list(where.series)):
            try:
                found = self._service.read(info.id)
                break
            except CheckpointCorrupted as e:
                _log.error("resuming %s: skipping a corrupted checkpoint: %s", where.series, e)
                skipped.append(info.id)
            except CheckpointNotFound:  # deleted (retention) since it was listed: older ones
                continue
        self.skipped = tuple(skipped)
        return found

    @property
    def memento(self) -> bytes:
        """A memento that resumes from the last checkpoint saved or restored (or, if there is
        none, from the newest of this series)."""
        return CheckpointMemento(self.series, self.last_id).encode()

    def due(self, step: int) -> bool:
        """Whether a periodic checkpoint is due after ``step``."""
        if self._every_steps is not None and step % self._every_steps == 0:
            return True
        return (
            self._every_seconds is not None
            and self._clock() - self._last_save >= self._every_seconds
        )

    def save(self, step: int, state: State, *args: Any) -> bytes:
        """Checkpoint the state as of ``step`` now: ``state`` is its bytes, or a function that
        returns them when called with ``args`` (``saver.save(step, encode, state)``); the
        memento that resumes from it."""
        data = state(*args) if callable(state) else state
        self.last_id = self._service.save(data, series=self.series, metadata={"step": step})
        self._last_save = self._clock()
        return self.memento

    def tick(self, step: int, state: State, *args: Any) -> bytes | None:
        """Call after each step, with the state as for ``save`` (the function is called only
        when a checkpoint is due): saves when one is due, and when the driver asked the
        activity to suspend returns the memento ``run`` must return (else ``None``)."""
        if self._activity is not None and self._activity.suspend_requested.is_set():
            return self.save(step, state, *args)
        if self.due(step):
            self.save(step, state, *args)
        return None
