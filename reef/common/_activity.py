"""``Activity``: one unit of work run on an evaluator's top context."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Binding:
    """What the evaluator gives an activity it constructs: where its messages go, and the flags
    the driver's signals set (which may arrive before construction ends)."""

    outbox: Callable[[bytes], None]
    suspend_requested: threading.Event
    close_requested: threading.Event


# Set by the evaluator while it constructs an activity.
current_binding: contextvars.ContextVar[Binding | None] = contextvars.ContextVar(
    "reef_activity_binding", default=None
)


class Activity:
    """Subclass it and implement ``run(memento) -> bytes | None``.

    The constructor is injected (services of the contexts below, named parameters). While ``run``
    executes, ``suspend_requested`` and ``close_requested`` are set by the driver's
    ``RunningActivity.suspend()`` and ``.close()``; ``send_message(data)`` reaches the driver as an
    ``ActivityMessage``; ``on_message``, ``on_suspend`` and ``on_close`` may be overridden and run
    on the evaluator's control thread (keep them short). ``run`` returning after a suspend request
    makes a ``SuspendedActivity`` whose memento is the return value; otherwise a
    ``CompletedActivity``. An exception in ``run`` or in a callback makes a ``FailedActivity``,
    and the evaluator and its contexts stay up.
    """

    suspend_requested: threading.Event
    close_requested: threading.Event
    _reef_outbox: Callable[[bytes], None] | None

    def __new__(cls, *args: Any, **kwargs: Any) -> Activity:
        # Set up in __new__ so that subclasses need not call super().__init__().
        self = super().__new__(cls)
        binding = current_binding.get()
        if binding is None:  # constructed outside an evaluator (a user's unit test)
            self.suspend_requested = threading.Event()
            self.close_requested = threading.Event()
            self._reef_outbox = None
        else:
            self.suspend_requested = binding.suspend_requested
            self.close_requested = binding.close_requested
            self._reef_outbox = binding.outbox
        return self

    def run(self, memento: bytes | None) -> bytes | None:
        """The work. ``memento`` is what a suspended run of this activity returned (or the
        driver's ``ActivityConfiguration(memento=...)``), else ``None``."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement run(memento)")

    def send_message(self, data: bytes) -> None:
        """Send ``data`` to the driver at once (an ``ActivityMessage``)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"send_message() takes bytes, got {type(data).__name__}")
        outbox = self._reef_outbox
        if outbox is None:
            raise RuntimeError("send_message() works only while the activity runs on an evaluator")
        outbox(bytes(data))

    def on_message(self, data: bytes) -> None:
        """A message from the driver (``RunningActivity.send_message``). Override it to receive
        messages; the default fails the activity, so that no message is lost unnoticed."""
        raise NotImplementedError(
            f"{type(self).__qualname__} received a driver message of {len(data)} bytes but does "
            "not override on_message(data)"
        )

    def on_suspend(self, message: bytes | None) -> None:
        """The driver asked to suspend (``suspend_requested`` is already set)."""

    def on_close(self, message: bytes | None) -> None:
        """The driver asked to close (``close_requested`` is already set)."""


def implements_run(cls: type) -> bool:
    """Whether ``cls`` overrides ``Activity.run``."""
    return getattr(cls, "run", None) is not Activity.run


class ContextMessenger:
    """Injectable into services and activities: ``send(data)`` reaches the driver as a
    ``ContextMessage`` from the context the object lives in. A service receives the driver's
    ``ActiveContext.send_message`` if it defines ``on_context_message(self, data)``."""

    __slots__ = ("_context_id", "_send")

    def __init__(self, context_id: str, send: Callable[[str, bytes], None]) -> None:
        self._context_id = context_id
        self._send = send

    @property
    def context_id(self) -> str:
        """The id of the context this messenger speaks for."""
        return self._context_id

    def send(self, data: bytes) -> None:
        """Send ``data`` to the driver."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"send() takes bytes, got {type(data).__name__}")
        self._send(self._context_id, bytes(data))
