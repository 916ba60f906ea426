"""Every driver event, in order, with real evaluator processes."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

import reef
from reef.settings import FastPath
from tests.integration import jobs
from tests.integration.conftest import FAST, container_logs, log_of

pytestmark = [pytest.mark.processes, pytest.mark.timeout(90)]


@pytest.fixture(params=[True, False], ids=["fast-path", "stream-only"])
def fast_path(request: pytest.FixtureRequest) -> dict[Any, Any]:
    return {FastPath: request.param}


class Reuse(jobs.Logging):
    """The API's job: a Counter service kept across activities."""

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        ev.submit_context_and_activity(
            reef.ContextConfiguration(id=f"ctx-{ev.id}", services=[jobs.Counter]),
            reef.ActivityConfiguration(id=f"count-{ev.id}-1", activity=jobs.Count),
        )

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        n = int(done.result or b"0")
        self.note("CompletedActivity", done.id, n)
        if n < 5:
            done.context.submit_activity(
                reef.ActivityConfiguration(
                    id=f"count-{done.context.evaluator_id}-{n + 1}", activity=jobs.Count
                )
            )
        else:
            done.context.close()


def test_services_are_retained_across_activities(fast_path: dict[Any, Any], runtime: Any) -> None:
    result = reef.run(
        Reuse, runtime=runtime, parameters={jobs.Evaluators: 2, **fast_path}, timeout=60
    )
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    log = log_of(result)
    counts = sorted(n for kind, _, n in (e for e in log if e[0] == "CompletedActivity"))
    assert counts == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


class EveryEvent(jobs.Logging):
    """Walks one evaluator through every event type but the failures."""

    contexts: dict[str, reef.ActiveContext]

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        self.note("AllocatedEvaluator", ev.descriptor.memory_mb, ev.descriptor.runtime_name)
        self.contexts = {}
        ev.submit_context(reef.ContextConfiguration(id="root", services=[jobs.Echo, jobs.Counter]))

    @reef.on(reef.ActiveContext)
    def active(self, ctx: reef.ActiveContext) -> None:
        self.note("ActiveContext", ctx.id, ctx.parent_id)
        self.contexts[ctx.id] = ctx
        if ctx.id == "root":
            ctx.send_message(b"ping")  # answered by the Echo service
        else:
            ctx.submit_activity(reef.ActivityConfiguration(id="chat", activity=jobs.Chatty))

    @reef.on(reef.ContextMessage)
    def context_message(self, msg: reef.ContextMessage) -> None:
        self.note("ContextMessage", msg.context_id, msg.data.decode())
        if msg.data == b"echo:ping":
            self.contexts["root"].submit_context(
                reef.ContextConfiguration(id="child", services=[jobs.First])
            )

    @reef.on(reef.RunningActivity)
    def running(self, act: reef.RunningActivity) -> None:
        self.note("RunningActivity", act.id, act.context.id)
        self.running_activity = act

    @reef.on(reef.ActivityMessage)
    def activity_message(self, msg: reef.ActivityMessage) -> None:
        self.note("ActivityMessage", msg.activity_id, msg.context_id, msg.data.decode())
        self.running_activity.send_message(b"hi activity")

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        self.note("CompletedActivity", done.id, (done.result or b"").decode())
        done.context.close()

    @reef.on(reef.ClosedContext)
    def closed(self, closed: reef.ClosedContext) -> None:
        self.note("ClosedContext", closed.id, closed.parent.id if closed.parent else None)
        if closed.parent is not None:
            closed.parent.close()

    @reef.on(reef.CompletedEvaluator)
    def gone(self, ev: reef.CompletedEvaluator) -> None:
        self.note("CompletedEvaluator")


def test_every_event_in_order(fast_path: dict[Any, Any], runtime: Any) -> None:
    result = reef.run(EveryEvent, runtime=runtime, parameters=fast_path, timeout=60)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    assert log_of(result) == [
        ["StartTime"],
        ["AllocatedEvaluator", 128, "local" if runtime == "local" else "yarn"],
        ["ActiveContext", "root", None],
        ["ContextMessage", "root", "echo:ping"],
        ["ActiveContext", "child", "root"],
        ["RunningActivity", "chat", "child"],
        ["ActivityMessage", "chat", "child", "hello driver"],
        ["CompletedActivity", "chat", "got hi activity"],
        ["ContextMessage", "child", "closed first"],
        ["ClosedContext", "child", "root"],
        ["ClosedContext", "root", None],
        ["CompletedEvaluator"],
        ["StopTime"],
    ]


class Nested(jobs.Logging):
    """Child contexts see their parents' services; services close in reverse order."""

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        ev.submit_context(reef.ContextConfiguration(id="root", services=[jobs.Counter, jobs.First]))

    @reef.on(reef.ActiveContext)
    def active(self, ctx: reef.ActiveContext) -> None:
        if ctx.id == "root":
            ctx.submit_context(reef.ContextConfiguration(id="child", services=[jobs.Second]))
        else:
            ctx.submit_activity(reef.ActivityConfiguration(id="both", activity=jobs.UsesBoth))

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        self.note("CompletedActivity", (done.result or b"").decode())
        done.context.close()

    @reef.on(reef.ContextMessage)
    def context_message(self, msg: reef.ContextMessage) -> None:
        self.note("ContextMessage", msg.context_id, msg.data.decode())


def test_child_contexts_share_and_close_in_reverse_order(runtime: Any) -> None:
    result = reef.run(Nested, runtime=runtime, timeout=60)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    assert log_of(result)[1:-1] == [
        ["CompletedActivity", "shared"],
        ["ContextMessage", "child", "closed second"],
        ["ContextMessage", "root", "closed first"],
    ]


class Defaults(reef.Driver):
    """Handles nothing but StartTime: REEF's defaults close everything."""

    def __init__(self, requestor: reef.EvaluatorRequestor) -> None:
        self.requestor = requestor

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.requestor.submit(reef.EvaluatorRequest(count=2))


def test_an_unwanted_evaluator_is_closed_and_the_job_ends(runtime: Any) -> None:
    result = reef.run(Defaults, runtime=runtime, timeout=60)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    assert result.messages == []
    # the evaluators' own logs (local: evaluators/*/evaluator.log; YARN: the containers' logs)
    texts = container_logs(result)
    assert sum("exits (0): shut down by the driver" in t for t in texts) == 2


class DefaultsAfterActivity(jobs.Logging):
    """Handles allocation only: the completed activity's context and then the evaluator close
    by default."""

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        ev.submit_context(reef.ContextConfiguration(id="root", services=[jobs.Counter]))

    @reef.on(reef.ActiveContext)
    def active(self, ctx: reef.ActiveContext) -> None:
        if ctx.id == "root":
            ctx.submit_context(reef.ContextConfiguration(id="child"))
        else:
            ctx.submit_activity(reef.ActivityConfiguration(id="a", activity=jobs.Count))

    @reef.on(reef.CompletedEvaluator)
    def gone(self, ev: reef.CompletedEvaluator) -> None:
        self.note("CompletedEvaluator")


def test_defaults_close_a_completed_activitys_context_and_then_its_parents(runtime: Any) -> None:
    result = reef.run(DefaultsAfterActivity, runtime=runtime, timeout=60)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    assert log_of(result) == [["StartTime"], ["CompletedEvaluator"], ["StopTime"]]


class Suspending(jobs.Logging):
    """Suspends an activity, resumes it from its memento on the same context, then closes it."""

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        ev.submit_context_and_activity(
            reef.ContextConfiguration(id="root"),
            reef.ActivityConfiguration(id="patient-1", activity=jobs.Patient),
        )

    @reef.on(reef.RunningActivity)
    def running(self, act: reef.RunningActivity) -> None:
        self.current = act

    @reef.on(reef.ActivityMessage)
    def started(self, msg: reef.ActivityMessage) -> None:
        if msg.activity_id == "patient-1":
            self.current.suspend(b"take a break")
        else:
            self.current.close(b"enough")

    @reef.on(reef.SuspendedActivity)
    def suspended(self, s: reef.SuspendedActivity) -> None:
        assert s.memento is not None
        self.memento = int(s.memento)
        self.note("SuspendedActivity", s.id, self.memento > 0)
        s.context.submit_activity(
            reef.ActivityConfiguration(id="patient-2", activity=jobs.Patient, memento=s.memento)
        )

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        text = (done.result or b"").decode()
        self.note("CompletedActivity", done.id, int(text.split()[-1]) > self.memento)
        done.context.close()


def test_suspend_resume_and_close(fast_path: dict[Any, Any], runtime: Any) -> None:
    result = reef.run(Suspending, runtime=runtime, parameters=fast_path, timeout=60)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    assert log_of(result) == [
        ["StartTime"],
        ["SuspendedActivity", "patient-1", True],
        ["CompletedActivity", "patient-2", True],
        ["StopTime"],
    ]


class Alarms(jobs.Logging):
    """An alarm keeps the driver alive and runs on the dispatcher."""

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.note("StartTime")
        self.clock.schedule_alarm(0.2, lambda: self.note("alarm without argument"))
        self.clock.schedule_alarm(0.3, lambda alarm: self.note("alarm", alarm.deadline > 0))


def test_alarms_keep_the_driver_alive(runtime: Any) -> None:
    result = reef.run(Alarms, runtime=runtime, timeout=30)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    assert log_of(result) == [
        ["StartTime"],
        ["alarm without argument"],
        ["alarm", True],
        ["StopTime"],
    ]


class OneAtATime(jobs.Logging):
    """Three evaluators on a runtime that runs one at a time."""

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        self.note("AllocatedEvaluator", ev.id)
        ev.close()

    @reef.on(reef.CompletedEvaluator)
    def gone(self, ev: reef.CompletedEvaluator) -> None:
        self.note("CompletedEvaluator", ev.id)


def test_max_evaluators_bounds_what_runs_at_once() -> None:
    from reef.runtime import LocalRuntime

    result = reef.run(
        OneAtATime,
        runtime=LocalRuntime(max_evaluators=1),
        parameters={jobs.Evaluators: 3},
        timeout=60,
    )
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    assert log_of(result)[1:-1] == [
        ["AllocatedEvaluator", "evaluator-1"],
        ["CompletedEvaluator", "evaluator-1"],
        ["AllocatedEvaluator", "evaluator-2"],
        ["CompletedEvaluator", "evaluator-2"],
        ["AllocatedEvaluator", "evaluator-3"],
        ["CompletedEvaluator", "evaluator-3"],
    ]


def test_client_messages_reach_the_driver(runtime: Any) -> None:
    job = reef.submit(Echoing, runtime=runtime, timeout=30)
    job.send(b"one")
    job.send(b"two")
    job.send(b"stop")
    result = job.wait(30)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    assert result.messages == [b"echo one", b"echo two", b"echo stop"]


class Echoing(reef.Driver):
    def __init__(self, client: reef.JobMessenger, clock: reef.Clock) -> None:
        self.client, self.clock = client, clock

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.alarm = self.clock.schedule_alarm(30, lambda: None)  # stay alive until told

    @reef.on(reef.ClientMessage)
    def from_client(self, msg: reef.ClientMessage) -> None:
        self.client.send(b"echo " + msg.data)
        if msg.data == b"stop":
            self.alarm.cancel()


class ClosesWhenRunning(jobs.Logging):
    """RunningActivity arrives while a silent activity runs: the driver can act on it."""

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        ev.submit_activity(reef.ActivityConfiguration(id="quiet", activity=jobs.Quiet))

    @reef.on(reef.RunningActivity)
    def running(self, act: reef.RunningActivity) -> None:
        self.note("RunningActivity", act.id)
        act.close(b"now")

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        self.note("CompletedActivity", (done.result or b"").decode())
        done.context.close()


def test_running_is_reported_while_a_silent_activity_runs(runtime: Any) -> None:
    result = reef.run(ClosesWhenRunning, runtime=runtime, timeout=60)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    assert log_of(result)[1:-1] == [["RunningActivity", "quiet"], ["CompletedActivity", "closed"]]


class SlowStop(jobs.Logging):
    """A StopTime handler that takes several liveness ticks (HeartbeatPeriod 0.2 s): the ticks
    queued meanwhile must not bring a second StopTime."""

    @reef.on(reef.StopTime)
    def stop(self, stop: reef.StopTime) -> None:
        time.sleep(0.7)  # the slow handler under test (ticks pile up behind it)
        super().stop(stop)


def test_stop_time_fires_once_however_long_its_handler_takes(runtime: Any) -> None:
    result = reef.run(SlowStop, runtime=runtime, parameters=dict(FAST), timeout=60)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    assert [entry[0] for entry in log_of(result)].count("StopTime") == 1
    assert len(result.messages) == 1


class GoesOn(jobs.Logging):
    """Its first StopTime starts new work (another evaluator); the job stops when that is done."""

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        self.note("AllocatedEvaluator", ev.id)
        ev.close()

    @reef.on(reef.StopTime)
    def stop(self, stop: reef.StopTime) -> None:
        self.note("StopTime")
        if len(self.log) < 4:
            self.requestor.submit(reef.EvaluatorRequest(count=1, memory_mb=128))
        else:
            self.client.send(json.dumps(self.log).encode())


def test_work_started_at_stop_time_keeps_the_job_going(runtime: Any) -> None:
    result = reef.run(GoesOn, runtime=runtime, parameters=dict(FAST), timeout=60)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    assert log_of(result) == [
        ["StartTime"],
        ["AllocatedEvaluator", "evaluator-1"],
        ["StopTime"],
        ["AllocatedEvaluator", "evaluator-2"],
        ["StopTime"],
    ]
