"""A job as its client sees it: its status, its result, and the backend that runs it (in this
process on the local runtime, as a YARN application on YARN)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol

from reef.errors import RemoteError

RECORD_FILE = "job-record.yaml"  # in every job's directory: what `reef rerun` reads


class JobStatus(enum.Enum):
    """Where a job is: ``RUNNING``, or how it ended."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    KILLED = "KILLED"


@dataclass(frozen=True)
class JobResult:
    """How a job ended: its ``status``, the ``error`` that failed it (a ``RemoteError``, with
    the original type name, message and traceback), the ``messages`` its driver sent with
    ``JobMessenger.send`` (in order), its ``id`` and ``log_dir`` (driver and evaluator logs)."""

    status: JobStatus
    error: RemoteError | None
    messages: list[bytes] = field(default_factory=list)
    id: str = ""
    log_dir: str = ""


class JobBackend(Protocol):
    """What runs a job for its client (``reef.Job`` delegates to it)."""

    id: str
    log_dir: str

    def status(self) -> JobStatus: ...

    def wait(self, timeout: float | None) -> JobResult | None:
        """The result, or ``None`` if the job is still running after ``timeout`` seconds."""
        ...

    def send(self, data: bytes) -> None: ...

    def kill(self) -> None: ...

    def messages(self) -> list[bytes]: ...

    def snapshot(self) -> dict[str, Any]: ...

    @property
    def status_url(self) -> str: ...
