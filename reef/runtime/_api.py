"""The runtime interface: what the driver asks of a resource manager, and what it is told back.

A runtime starts evaluator processes ("containers") and reports how they end; it knows nothing of
contexts or activities. The driver is the runtime's ``RuntimeHost``:

1. the driver calls ``runtime.request(ResourceRequest)`` (``count`` evaluators of one size);
2. for each evaluator it can start, the runtime asks ``host.prepare(request, placement)`` for a
   ``Launch`` (the evaluator's id, its command-line arguments, environment and private files),
   starts the process and calls ``host.launched(evaluator_id, placement)``;
3. when a process ends, for any reason, the runtime calls ``host.exited(evaluator_id, exit)``
   exactly once;
4. ``runtime.kill(evaluator_id)`` ends one evaluator; ``runtime.stop()`` ends every evaluator
   and releases everything. Neither blocks the caller for long.

Callbacks may come from the runtime's own threads; the host must be thread-safe.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ResourceRequest:
    """``count`` evaluators of one size, and where and with what they should run."""

    count: int
    memory_mb: int
    cores: int
    node_names: tuple[str, ...] = ()
    rack_names: tuple[str, ...] = ()
    relax_locality: bool = True
    environment: str | None = None
    runtime_name: str | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an evaluator was placed: its host and the resources it was given."""

    host: str
    memory_mb: int
    cores: int
    runtime_name: str
    container_id: str = ""
    log_path: str = ""


@dataclass(frozen=True, slots=True)
class Launch:
    """How to start one evaluator: ``python -m <module> *args`` (``reef.evaluator`` unless said
    otherwise) in its own directory, with ``env`` added to the environment and ``files``
    (name -> content) written into that directory readable by the owner only."""

    evaluator_id: str
    args: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, bytes] = field(default_factory=dict)
    python: str | None = None  # an interpreter or a virtual environment; None: the driver's
    module: str = "reef.evaluator"  # another module only for tests and tools


class ExitKind(enum.Enum):
    """Why an evaluator process ended."""

    EXITED = "exited"  # the process ended by itself (exit code in ``ContainerExit.code``)
    KILLED = "killed"  # ended on request (``kill`` or ``stop``)
    LOST = "lost"  # the resource manager lost it (node failure, preemption, ...)
    FAILED_TO_START = "failed to start"


@dataclass(frozen=True, slots=True)
class ContainerExit:
    """How an evaluator process ended: its kind, exit code or signal, and what the resource
    manager said about it."""

    kind: ExitKind
    code: int | None = None
    signal: int | None = None
    diagnostics: str = ""
    log_path: str = ""

    @property
    def clean(self) -> bool:
        """Whether the process ended by itself with exit code 0."""
        return self.kind is ExitKind.EXITED and self.code == 0

    def describe(self) -> str:
        """A sentence for error messages."""
        # A signal first: a process that a signal ended "exited" with no code.
        if self.signal is not None:
            text = f"was killed by signal {self.signal}"
        elif self.kind is ExitKind.EXITED and self.code is None:
            text = "failed"  # the resource manager did not say how (YARN gives no exit code)
        elif self.kind is ExitKind.EXITED:
            text = f"exited with code {self.code}"
        else:
            text = self.kind.value
        if self.diagnostics:
            text += f" ({self.diagnostics})"
        return text


class RuntimeHost(Protocol):
    """The driver side of a runtime: it prepares launches and hears about processes."""

    def prepare(self, request: ResourceRequest, placement: Placement) -> Launch:
        """The launch of one new evaluator for ``request``, placed at ``placement``."""
        ...

    def launched(self, evaluator_id: str, placement: Placement) -> None:
        """The evaluator's process has been started (it has not yet connected)."""
        ...

    def exited(self, evaluator_id: str, exit: ContainerExit) -> None:
        """The evaluator's process has ended; called exactly once per launched evaluator."""
        ...

    def request_failed(self, request: ResourceRequest, reason: str) -> None:
        """The runtime cannot satisfy (the rest of) ``request``."""
        ...


@dataclass(frozen=True, slots=True)
class JobPaths:
    """Where a job keeps its files on the driver's machine."""

    job_id: str
    root: str  # the job's directory: logs, records
    evaluators: str  # one subdirectory per evaluator


class Runtime(abc.ABC):
    """A resource manager: starts evaluator processes and reports how they end."""

    name: str = "runtime"

    @property
    def remote_driver(self) -> bool:
        """Whether the driver runs elsewhere (in the cluster) rather than in the client."""
        return False

    @property
    def driver_host(self) -> str:
        """The address the driver's control plane listens on, reachable from every evaluator
        (loopback when evaluators run on the driver's machine)."""
        return "127.0.0.1"

    @abc.abstractmethod
    def start(self, host: RuntimeHost, paths: JobPaths) -> None:
        """Begin serving ``host`` for one job."""

    @abc.abstractmethod
    def check(self, request: ResourceRequest) -> None:
        """Raise ``ValueError`` (saying why and what would work) if this runtime can never
        satisfy ``request``; called before the request is accepted."""

    @abc.abstractmethod
    def request(self, request: ResourceRequest) -> None:
        """Start ``request.count`` evaluators as resources allow (asynchronously)."""

    @abc.abstractmethod
    def kill(self, evaluator_id: str) -> None:
        """End one evaluator's process (asynchronously; ``exited`` follows)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """End every evaluator, drop pending requests and release the runtime's threads.
        Blocks until every process it started has ended."""

    def describe(self) -> Mapping[str, object]:
        """The runtime's settings, for records and status pages."""
        return {"name": self.name}
