"""Failures of activities, contexts, evaluators and handlers, with real processes."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

import reef
from tests.integration import jobs
from tests.integration.conftest import FAST, log_of, on_real_yarn

pytestmark = [pytest.mark.processes, pytest.mark.timeout(90)]


class Recovering(jobs.Logging):
    """An activity fails; the evaluator and its context stay usable."""

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        ev.submit_context_and_activity(
            reef.ContextConfiguration(id="root", services=[jobs.Counter]),
            reef.ActivityConfiguration(id="divide", activity=jobs.Divide),
        )

    @reef.on(reef.FailedActivity)
    def failed(self, f: reef.FailedActivity) -> None:
        e = f.error
        self.note("FailedActivity", f.id, e.type_name, e.message, "1 / 0" in e.traceback, e.ids)
        assert f.context is not None
        f.context.submit_activity(reef.ActivityConfiguration(id="count", activity=jobs.Count))

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        self.note("CompletedActivity", done.id, (done.result or b"").decode())
        done.context.close()


def test_a_failed_activity_leaves_the_evaluator_usable(runtime: Any) -> None:
    result = reef.run(Recovering, runtime=runtime, timeout=60)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    assert log_of(result)[1:-1] == [
        [
            "FailedActivity",
            "divide",
            "ZeroDivisionError",
            "division by zero",
            True,
            {"evaluator": "evaluator-1", "context": "root", "activity": "divide"},
        ],
        ["CompletedActivity", "count", "1"],
    ]


class Unhandled(reef.Driver):
    """Starts something that fails, and handles nothing but allocation."""

    def __init__(self, requestor: reef.EvaluatorRequestor) -> None:
        self.requestor = requestor

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.requestor.submit(reef.EvaluatorRequest())


class UnhandledActivityFailure(Unhandled):
    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        ev.submit_activity(reef.ActivityConfiguration(id="divide", activity=jobs.Divide))


class UnhandledContextFailure(Unhandled):
    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        ev.submit_context(reef.ContextConfiguration(id="root", services=[jobs.Exploding]))


class UnhandledSuspension(Unhandled):
    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        ev.submit_activity(reef.ActivityConfiguration(id="patient", activity=jobs.Patient))

    @reef.on(reef.ActivityMessage)
    def started(self, msg: reef.ActivityMessage) -> None:
        self.running.suspend()

    @reef.on(reef.RunningActivity)
    def running_activity(self, act: reef.RunningActivity) -> None:
        self.running = act


class UnhandledEvaluatorFailure(Unhandled):
    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        ev.submit_activity(reef.ActivityConfiguration(id="suicide", activity=jobs.Suicide))


class RaisingHandler(reef.Driver):
    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        {}["missing"]


@pytest.mark.parametrize(
    ("driver", "type_name", "fragment"),
    [
        (UnhandledActivityFailure, "ZeroDivisionError", "division by zero"),
        (UnhandledContextFailure, "ValueError", "service cannot start"),
        (UnhandledSuspension, "UnhandledSuspension", "no SuspendedActivity handler"),
        # YARN says a container failed, not how: no exit code, no signal
        (UnhandledEvaluatorFailure, "EvaluatorExited", "killed by signal 9|Container failed"),
        (RaisingHandler, "KeyError", "missing"),
    ],
)
def test_unhandled_failures_fail_the_job_with_the_original_error(
    driver: type[reef.Driver], type_name: str, fragment: str, runtime: Any
) -> None:
    result = reef.run(driver, runtime=runtime, parameters=dict(FAST), timeout=60)
    assert result.status is reef.JobStatus.FAILED
    assert result.error is not None
    assert result.error.type_name == type_name
    local, _, yarn = fragment.partition("|")
    assert (local if runtime == "local" or not yarn else yarn) in result.error.message


class ContextFailures(jobs.Logging):
    """A child context whose service raises fails alone; its parent goes on."""

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        ev.submit_context(reef.ContextConfiguration(id="root", services=[jobs.Counter]))

    @reef.on(reef.ActiveContext)
    def active(self, ctx: reef.ActiveContext) -> None:
        ctx.submit_context(reef.ContextConfiguration(id="bad", services=[jobs.Exploding]))

    @reef.on(reef.FailedContext)
    def failed(self, f: reef.FailedContext) -> None:
        assert f.parent is not None
        self.note("FailedContext", f.id, f.error.type_name, f.error.message, f.parent.id)
        f.parent.submit_activity(reef.ActivityConfiguration(id="count", activity=jobs.Count))

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        self.note("CompletedActivity", done.context.id)
        done.context.close()


def test_a_failed_context_leaves_its_parent(runtime: Any) -> None:
    result = reef.run(ContextFailures, runtime=runtime, timeout=60)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    assert log_of(result)[1:-1] == [
        ["FailedContext", "bad", "ValueError", "service cannot start", "root"],
        ["CompletedActivity", "root"],
    ]


class CallbackFailure(jobs.Logging):
    """An activity callback that raises fails the activity, not the evaluator."""

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        ev.submit_activity(reef.ActivityConfiguration(id="stubborn", activity=jobs.FailsOnSuspend))

    @reef.on(reef.RunningActivity)
    def running(self, act: reef.RunningActivity) -> None:
        self.running_activity = act

    @reef.on(reef.ActivityMessage)
    def started(self, _: reef.ActivityMessage) -> None:
        self.running_activity.suspend(b"now")

    @reef.on(reef.FailedActivity)
    def failed(self, f: reef.FailedActivity) -> None:
        self.note("FailedActivity", f.id, f.error.type_name, f.error.message)
        assert f.context is not None
        if f.id == "stubborn":
            f.context.submit_activity(reef.ActivityConfiguration(id="after", activity=jobs.Divide))
        else:
            f.context.close()


def test_an_activity_callback_that_raises_fails_the_activity(runtime: Any) -> None:
    result = reef.run(CallbackFailure, runtime=runtime, timeout=60)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    assert log_of(result)[1:-1] == [
        ["FailedActivity", "stubborn", "RuntimeError", "cannot suspend: b'now'"],
        ["FailedActivity", "after", "ZeroDivisionError", "division by zero"],
    ]


class Killing(jobs.Logging):
    """Kills (or stops) its evaluator while an activity runs."""

    how = signal.SIGKILL

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        ev.submit_context_and_activity(
            reef.ContextConfiguration(id="root"),
            reef.ActivityConfiguration(id="forever", activity=jobs.Forever),
        )

    @reef.on(reef.ActivityMessage)
    def pid(self, msg: reef.ActivityMessage) -> None:
        self.pid = int(msg.data)
        os.kill(self.pid, self.how)

    @reef.on(reef.FailedEvaluator)
    def failed(self, f: reef.FailedEvaluator) -> None:
        activity = f.failed_activity
        self.note(
            "FailedEvaluator",
            f.id,
            f.error.type_name,
            f.failed_contexts,
            activity.id if activity else None,
            activity.context if activity else "?",
            bool(f.error.log_path),  # where to look: a file, or the container's YARN logs
        )
        self.message = f.error.message


class Stopping(Killing):
    how = signal.SIGSTOP


def test_a_killed_evaluator_fails_at_once_with_its_activity(runtime: Any) -> None:
    result = reef.run(Killing, runtime=runtime, timeout=60)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    log = log_of(result)
    if on_real_yarn(runtime) and log[1][2] == "EvaluatorLost":
        # real YARN reports a container's end seconds later (the AM's heartbeat): the broken
        # connection told first
        log[1][2] = "EvaluatorExited"
    assert log[1:-1] == [
        [
            "FailedEvaluator",
            "evaluator-1",
            "EvaluatorExited",
            ["root"],
            "forever",
            None,
            True,
        ]
    ]


def test_a_stopped_evaluator_fails_after_the_timeout_and_is_killed(runtime: Any) -> None:
    result = reef.run(Stopping, runtime=runtime, parameters=dict(FAST), timeout=60)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    assert log_of(result)[1:-1] == [
        [
            "FailedEvaluator",
            "evaluator-1",
            "EvaluatorTimeout",
            ["root"],
            "forever",
            None,
            True,
        ]
    ]
    # the conftest fixture checks that the stopped process was killed, not left behind


class BadEnvironment(reef.Driver):
    def __init__(self, requestor: reef.EvaluatorRequestor) -> None:
        self.requestor = requestor

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.requestor.submit(reef.EvaluatorRequest(environment="/nonexistent/python"))


def test_a_request_the_runtime_can_never_satisfy_fails_at_submit(runtime: Any) -> None:
    result = reef.run(BadEnvironment, runtime=runtime, timeout=30)
    assert result.status is reef.JobStatus.FAILED
    assert result.error is not None
    assert result.error.type_name == "ValueError"
    assert "/nonexistent/python" in result.error.message


class BadRequest(reef.Driver):
    def __init__(self, requestor: reef.EvaluatorRequestor, client: reef.JobMessenger) -> None:
        self.requestor, self.client = requestor, client

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        try:
            self.requestor.submit(reef.EvaluatorRequest(count=0, memory_mb=-1))
        except ValueError as e:
            self.client.send(str(e).encode())


def test_invalid_requests_raise_value_error(runtime: Any) -> None:
    result = reef.run(BadRequest, runtime=runtime, timeout=30)
    assert result.status is reef.JobStatus.SUCCEEDED
    assert result.messages == [
        b"invalid EvaluatorRequest: count=0 must be a whole number >= 1; memory_mb=-1 must be a "
        b"whole number >= 1"
    ]
