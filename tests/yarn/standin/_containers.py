"""What the application master stand-in knows of containers and how applications end: the
records it keeps and the Java AM's mappings of exit statuses to states and messages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from skein.proto import skein_pb2 as pb

from ._common import NODE_HTTP_ADDRESS
from ._nodemanager import KILLED_EXCEEDED_PMEM, KILLED_EXCEEDED_VMEM, SUCCESS, Process, Timer

C = pb.Container
FAILED_MESSAGE = "Container failed during execution, see logs for more information."
KILLED_MESSAGE = "Killed by user request."
SUCCEEDED_MESSAGE = "Completed successfully."
ACTIVE = (C.WAITING, C.REQUESTED, C.RUNNING)


def completion(exit_status: int, diagnostics: str = "") -> tuple[int, str]:
    """The container state and exit message for a YARN completion status, as the Java AM maps
    them (it never exposes the exit code itself)."""
    if exit_status == SUCCESS:
        return C.SUCCEEDED, SUCCEEDED_MESSAGE
    if exit_status in (KILLED_EXCEEDED_PMEM, KILLED_EXCEEDED_VMEM):
        kind = "physical" if exit_status == KILLED_EXCEEDED_PMEM else "virtual"
        found = re.search(rf"[0-9.]+ [KMG]B of [0-9.]+ [KMG]B {kind} memory used", diagnostics)
        return C.FAILED, (
            found.group() if found else "Container killed by YARN for exceeding memory limits"
        )
    if exit_status > 0:
        return C.FAILED, FAILED_MESSAGE
    return C.FAILED, diagnostics


def driver_outcome(exit_status: int) -> tuple[int, str]:
    """The final status and diagnostics for the master script's exit status."""
    if exit_status == 0:
        return pb.FinalStatus.SUCCEEDED, "Application driver completed successfully."
    if exit_status == 143:
        return pb.FinalStatus.FAILED, (
            "Application driver failed with exit code 143. This is often due to the "
            "application master memory limit being exceeded. See the diagnostics for more "
            "information."
        )
    return pb.FinalStatus.FAILED, (
        f"Application driver failed with exit code {exit_status}, see logs for more information."
    )


@dataclass(frozen=True)
class Outcome:
    """How an application ended: YARN state, final status and diagnostics."""

    state: int  # pb.ApplicationState.Type
    final_status: int  # pb.FinalStatus.Type
    diagnostics: str


@dataclass(eq=False)
class ContainerRecord:
    """One container of a service: its state, YARN ids, times, process and owned keys."""

    service: ServiceRecord
    instance: int
    env: dict[str, str]
    state: int = C.WAITING
    yarn_container_id: str = ""
    start_time: int = 0
    finish_time: int = 0
    exit_message: str = ""
    request_order: int = 0
    allocation_order: int = 0
    timer: Timer | None = None
    process: Process | None = None
    owned_keys: set[str] = field(default_factory=set)

    @property
    def id(self) -> str:
        return f"{self.service.name}_{self.instance}"

    @property
    def completed(self) -> bool:
        return self.state not in ACTIVE

    def to_proto(self) -> pb.Container:
        out = C(
            service_name=self.service.name,
            instance=self.instance,
            state=self.state,
            start_time=self.start_time,
            finish_time=self.finish_time,
            exit_message=self.exit_message,
        )
        if self.yarn_container_id:
            out.yarn_container_id = self.yarn_container_id
            out.yarn_node_http_address = NODE_HTTP_ADDRESS
        return out


@dataclass(eq=False)
class ServiceRecord:
    """One service: its containers (instance n at index n) and restart bookkeeping."""

    name: str
    spec: pb.Service
    containers: list[ContainerRecord] = field(default_factory=list)
    waiting_on: set[str] = field(default_factory=set)  # dependencies not yet running
    dependents: list[ServiceRecord] = field(default_factory=list)
    initially_running: bool = False
    failed: int = 0
    restarted: int = 0

    def active(self, state: int | None = None) -> list[ContainerRecord]:
        return [
            c
            for c in self.containers
            if (c.state == state if state is not None else not c.completed)
        ]

    @property
    def finished(self) -> bool:
        return not self.active()

    @property
    def failed_for_good(self) -> bool:
        return self.failed > self.restarted and not self.spec.allow_failures
