"""What the driver offers to driver-side services (group communication, data loading): a way
to see the job's events before the driver's handlers do, to fire events of their own through the
driver's dispatcher, and the job's identity and credentials.

A driver-side service is a plain class the driver's constructor asks for; it asks for
``DriverServices`` in its own constructor. Tang makes one of each per job.

Service events subclass ``ServiceEvent``: ``@on`` accepts them like the built-in events. One the
driver does not handle goes to its ``unhandled()`` method (by default: logged).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from reef.common._tls import CredentialFiles
from reef.driver._events import ServiceEvent

_log = logging.getLogger("reef.driver")

E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class DriverIdentity:
    """The job as its driver-side services see it: its id, its directory, the address
    evaluators reach the driver at, and the driver's credentials (a server certificate named
    ``reef-driver`` that every evaluator trusts, signed by the job's CA)."""

    job_id: str
    job_dir: str
    host: str
    credentials: CredentialFiles


class DriverServices:
    """The driver's hooks for its services (thread-safe)."""

    def __init__(
        self,
        identity: DriverIdentity,
        post: Callable[[object], None],
        call: Callable[[Callable[[], None]], None],
    ) -> None:
        self.identity = identity
        self._post = post
        self._call = call
        self._lock = threading.Lock()
        self._observers: dict[type, list[Callable[[Any], None]]] = {}
        self._closers: list[Callable[[], None]] = []
        # event type -> its observers (subclasses included), filled as types are first seen:
        # every event of the job asks, so the answer is one dictionary look-up
        self._resolved: dict[type, tuple[Callable[[Any], None], ...]] = {}

    def observe(self, event_type: type[E], callback: Callable[[E], None]) -> None:
        """Call ``callback(event)`` on the dispatcher thread for every event of ``event_type``
        (built-in or service event), before the driver's handler (or its default) sees it.
        A callback that raises fails the job, like a handler."""
        with self._lock:
            self._observers.setdefault(event_type, []).append(callback)
            self._resolved = {}

    def fire(self, event: ServiceEvent) -> None:
        """Deliver ``event`` to the driver's ``@on`` handler for its type (from any thread; it
        is queued behind the events already waiting)."""
        if not isinstance(event, ServiceEvent):
            raise TypeError(f"only ServiceEvent instances can be fired, not {type(event)!r}")
        self._post(event)

    def call(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` on the dispatcher thread (queued), where the job's state may be used
        without locks. An exception fails the job."""
        self._call(fn)

    def on_close(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` when the job ends (after the last event; errors are logged)."""
        with self._lock:
            self._closers.append(fn)

    # -- used by the driver core ------------------------------------------------------------------

    def observers_of(self, event_type: type) -> tuple[Callable[[Any], None], ...]:
        found = self._resolved.get(event_type)
        if found is not None:
            return found
        with self._lock:
            found = tuple(
                callback
                for kind, callbacks in self._observers.items()
                if issubclass(event_type, kind)
                for callback in callbacks
            )
            self._resolved[event_type] = found
            return found

    def close(self) -> None:
        with self._lock:
            closers, self._closers = self._closers[::-1], []
        for fn in closers:
            try:
                fn()
            except Exception:
                _log.exception("a driver service failed to close")
