"""What a driver's constructor may ask for: ``EvaluatorRequestor``, ``JobMessenger``, ``Clock``."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from reef.wake import Alarm
from reef.wake import Clock as WakeClock


@dataclass(frozen=True)
class EvaluatorRequest:
    """``count`` evaluators of ``memory_mb`` and ``cores`` each, optionally on given nodes or
    racks (``relax_locality``: elsewhere if those are busy), from a named runtime, with a Python
    ``environment`` (an interpreter, a virtual environment, or a runtime-specific archive)."""

    count: int = 1
    memory_mb: int = 512
    cores: int = 1
    node_names: Sequence[str] = ()
    rack_names: Sequence[str] = ()
    runtime_name: str | None = None
    relax_locality: bool = True
    environment: str | None = None

    def problems(self) -> list[str]:
        """What is wrong with this request (empty if nothing)."""
        found = []
        for name in ("count", "memory_mb", "cores"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                found.append(f"{name}={value!r} must be a whole number >= 1")
        for name in ("node_names", "rack_names"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) and v for v in value):
                found.append(f"{name}={value!r} must be a sequence of non-empty names")
        if self.environment is not None and not (
            isinstance(self.environment, str) and self.environment
        ):
            found.append(f"environment={self.environment!r} must be a path or None")
        return found


class EvaluatorRequestor:
    """Requests evaluators from the job's runtime: ``submit(EvaluatorRequest(...))``; each one
    arrives as an ``AllocatedEvaluator`` event."""

    def __init__(self, submit: Callable[[EvaluatorRequest], None]) -> None:
        self._submit = submit

    def submit(self, request: EvaluatorRequest) -> None:
        """Ask for ``request.count`` evaluators. Invalid values raise ``ValueError`` at once."""
        if not isinstance(request, EvaluatorRequest):
            raise TypeError(f"submit() takes an EvaluatorRequest, got {type(request).__name__}")
        problems = request.problems()
        if problems:
            raise ValueError("invalid EvaluatorRequest: " + "; ".join(problems))
        self._submit(request)


class JobMessenger:
    """Sends messages to the job's client: ``send(data)``; they arrive, in order, in
    ``JobResult.messages``."""

    def __init__(self, send: Callable[[bytes], None]) -> None:
        self._send = send

    def send(self, data: bytes) -> None:
        """Send ``data`` (bytes) to the client."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"send() takes bytes, got {type(data).__name__}")
        self._send(bytes(data))


class Clock:
    """The driver's clock: ``schedule_alarm(seconds, callback)`` calls ``callback`` on the
    dispatcher (one at a time with the handlers) after ``seconds``; a pending alarm keeps the
    driver alive. The callback takes no argument or the ``Alarm``."""

    def __init__(self, clock: WakeClock, dispatch: Callable[[Callable[[], None]], None]) -> None:
        self._clock = clock
        self._dispatch = dispatch

    def now(self) -> float:
        """Seconds on the driver's clock (monotonic)."""
        return self._clock.now()

    def schedule_alarm(self, seconds: float, callback: Callable[..., Any]) -> Alarm:
        """Call ``callback`` after ``seconds``; returns the alarm (``.cancel()`` stops it)."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise TypeError(f"schedule_alarm(seconds={seconds!r}) needs a number of seconds")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"schedule_alarm(seconds={seconds!r}) needs a finite value >= 0")
        if not callable(callback):
            raise TypeError(f"schedule_alarm() needs a callable, got {callback!r}")
        wants_alarm = _takes_an_argument(callback)

        def fire(alarm: Alarm) -> None:
            self._dispatch(lambda: callback(alarm) if wants_alarm else callback())

        return self._clock.schedule_alarm(seconds, fire)


def _takes_an_argument(callback: Callable[..., Any]) -> bool:
    try:
        signature = inspect.signature(callback)
    except (TypeError, ValueError):
        return False
    for p in signature.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return True
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
            return True
    return False
