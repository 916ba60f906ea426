"""The hooks data services are built on: driver-side services that see events first and fire
their own, and the evaluator's identity in every context."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import pytest

import reef
from tests.integration.conftest import FAST

pytestmark = [pytest.mark.processes, pytest.mark.timeout(90)]


@dataclass(frozen=True)
class Counted(reef.ServiceEvent):
    """A service's event: how many evaluators it has seen allocated."""

    seen: int


@dataclass(frozen=True)
class Ignored(reef.ServiceEvent):
    def unhandled(self) -> None:
        raise RuntimeError("nobody handled Ignored")


class Tally:
    """A driver-side service: counts allocations before the driver's handler runs."""

    def __init__(self, services: reef.DriverServices) -> None:
        self.services = services
        self.seen: list[str] = []
        self.closed = False
        services.observe(reef.AllocatedEvaluator, self.allocated)
        services.on_close(self.close)

    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        self.seen.append(ev.id)
        self.services.fire(Counted(len(self.seen)))

    def close(self) -> None:
        self.closed = True


class WhoAmI(reef.Activity):
    def __init__(self, me: reef.EvaluatorIdentity) -> None:
        self.me = me

    def run(self, memento: bytes | None) -> bytes:
        files = self.me.credentials
        return json.dumps(
            {
                "evaluator": self.me.evaluator_id,
                "job": self.me.job_id,
                "workdir_is_cwd": os.path.samefile(self.me.workdir, os.getcwd()),
                "credentials": all(os.path.isfile(p) for p in (files.ca, files.cert, files.key)),
                "host_key": bool(self.me.host_key),
            }
        ).encode()


class HookDriver(reef.Driver):
    def __init__(
        self, requestor: reef.EvaluatorRequestor, client: reef.JobMessenger, tally: Tally
    ) -> None:
        self.requestor, self.client, self.tally = requestor, client, tally
        self.order: list[Any] = []

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        assert self.tally.services.identity.job_dir
        self.requestor.submit(reef.EvaluatorRequest(count=1, memory_mb=128))

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        self.order.append(["handler", len(self.tally.seen)])  # the service saw it first
        ev.submit_activity(reef.ActivityConfiguration(id="who", activity=WhoAmI))

    @reef.on(Counted)
    def counted(self, event: Counted) -> None:
        self.order.append(["counted", event.seen])

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        self.client.send(done.result or b"")
        self.client.send(json.dumps(self.order).encode())
        done.context.close()


def test_driver_services_see_events_first_and_fire_their_own() -> None:
    result = reef.run(HookDriver, parameters=FAST, timeout=60)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    who = json.loads(result.messages[0])
    assert who["evaluator"].startswith("evaluator-")
    assert who["job"] == result.id
    assert who["workdir_is_cwd"] and who["credentials"] and who["host_key"]
    assert json.loads(result.messages[1]) == [["handler", 1], ["counted", 1]]


class Unhandled(reef.Driver):
    def __init__(self, services: reef.DriverServices) -> None:
        self.services = services

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.services.fire(Ignored())


def test_an_unhandled_service_event_runs_its_default() -> None:
    result = reef.run(Unhandled, parameters=FAST, timeout=30)
    assert result.status is reef.JobStatus.FAILED
    assert result.error is not None and "nobody handled Ignored" in result.error.message


def test_on_accepts_service_events_but_not_their_base() -> None:
    with pytest.raises(reef.DriverDefinitionError, match="ServiceEvent subclass"):

        class Bad(reef.Driver):
            @reef.on(reef.ServiceEvent)
            def any_event(self, event: reef.ServiceEvent) -> None: ...

    class Good(reef.Driver):
        @reef.on(Counted)
        def counted(self, event: Counted) -> None: ...

    assert Good.__reef_handlers__[Counted] == "counted"
