"""Recovery: the driver-side bookkeeping of activities that resume from checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import reef
from reef.driver._events import (
    ActiveContext,
    CompletedActivity,
    FailedActivity,
    FailedEvaluator,
    RunningActivity,
    SuspendedActivity,
)
from reef.errors import RemoteError, StateError
from reef.services import (
    CheckpointMemento,
    CheckpointPath,
    CheckpointRetention,
    CheckpointService,
    Recovery,
    RecoveryExhausted,
    checkpoint_context,
)


class Work(reef.Activity):
    def run(self, memento: bytes | None) -> bytes:
        return b""


class Ops:
    def __init__(self) -> None:
        self.signals: list[tuple[str, str, bool, bytes | None]] = []

    def signal_activity(self, ev: str, act: str, suspend: bool, message: bytes | None) -> None:
        self.signals.append((ev, act, suspend, message))

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected driver operation {name}")


OPS = Ops()


def context(evaluator: str) -> ActiveContext:
    return ActiveContext(f"ctx-{evaluator}", evaluator, None, OPS)


def running(activity_id: str, evaluator: str = "evaluator-1") -> RunningActivity:
    return RunningActivity(activity_id, context(evaluator), OPS)


def died(evaluator: str, activity_id: str | None) -> FailedEvaluator:
    error = RemoteError("EvaluatorExited", "killed by signal 9", evaluator_id=evaluator)
    failed = FailedActivity(activity_id, None, error) if activity_id else None
    return FailedEvaluator(evaluator, error, ("root",), failed)


def test_runs_are_numbered_and_carry_a_memento_of_their_series() -> None:
    work = Recovery()
    work.add("sim", Work, parameters={CheckpointRetention: 2})
    first = work.next()
    assert first is not None and work.next() is None
    assert (first.id, first.activity, first.parameters) == ("sim-1", Work, {CheckpointRetention: 2})
    assert first.memento is not None
    where = CheckpointMemento.decode(first.memento)
    assert where.id is None and where.series.startswith("sim-")
    other = Recovery()
    other.add("sim", Work)
    second = other.next()
    assert second is not None and second.memento is not None
    assert CheckpointMemento.decode(second.memento).series != where.series  # one per Recovery


def test_a_lost_run_resumes_from_the_newest_checkpoint_of_its_series() -> None:
    work = Recovery()
    work.add("a", Work)
    work.add("b", Work)
    a, b = work.next(), work.next()
    assert a is not None and b is not None
    assert work.running(running(a.id, "evaluator-1")) == "a"
    assert work.running(running(b.id, "evaluator-2")) == "b"
    assert work.running_on("evaluator-2") == ["b"] and work.evaluator_of("a") == "evaluator-1"
    assert work.lost(died("evaluator-2", b.id)) == ["b"]
    assert work.pending == 1 and work.failures("b") == 1
    again = work.next()
    assert again is not None and again.id == "b-2" and again.memento == b.memento
    assert work.name_of("b-2") == "b" and work.name_of("b-1") == "b"
    assert work.lost(died("evaluator-3", None)) == []  # nothing was running there
    assert work.lost(died("evaluator-2", b.id)) == []  # a stale report of the old run
    assert work.lost(died("evaluator-9", "someone-else")) == []


def test_a_failed_activity_is_lost_too() -> None:
    work = Recovery()
    work.add("a", Work)
    a = work.next()
    assert a is not None
    error = RemoteError("OSError", "disk hiccup")
    assert work.lost(FailedActivity(a.id, context("evaluator-1"), error)) == ["a"]


def test_too_many_losses_exhaust_recovery() -> None:
    work = Recovery(max_failures=1)
    work.add("a", Work)
    run = work.next()
    assert run is not None
    work.lost(died("evaluator-1", run.id))
    run = work.next()
    assert run is not None
    with pytest.raises(RecoveryExhausted, match=r"'a' was lost 2 times.*killed by signal 9"):
        work.lost(died("evaluator-2", run.id))
    assert work.pending == 0


def test_suspend_and_resume_elsewhere() -> None:
    work = Recovery()
    work.add("a", Work)
    run = work.next()
    assert run is not None
    with pytest.raises(StateError, match="not running"):
        work.suspend("a")
    work.running(running(run.id, "evaluator-1"))
    assert work.suspend_on("evaluator-1", b"shrink") == ["a"]
    assert OPS.signals[-1] == ("evaluator-1", "a-1", True, b"shrink")
    memento = CheckpointMemento("a-x", "a-x.0000000000000000005.abcdefabcdef").encode()
    assert work.suspended(SuspendedActivity(run.id, context("evaluator-1"), memento)) == "a"
    resumed = work.next()
    assert resumed is not None and (resumed.id, resumed.memento) == ("a-2", memento)
    work.running(running(resumed.id))
    with pytest.raises(ValueError, match="not a checkpoint memento"):
        work.suspended(SuspendedActivity(resumed.id, context("evaluator-1"), b"7"))


def test_completion_and_done() -> None:
    work = Recovery()
    assert work.done
    work.add("a", Work)
    assert not work.done
    run = work.next()
    assert run is not None
    assert work.completed(CompletedActivity("stranger", context("evaluator-1"), b"")) is None
    assert work.completed(CompletedActivity(run.id, context("evaluator-1"), b"")) == "a"
    assert work.done and work.running_on("evaluator-1") == []


def test_names_are_checked() -> None:
    work = Recovery()
    work.add("a", Work)
    with pytest.raises(ValueError, match="already has work named 'a'"):
        work.add("a", Work)
    with pytest.raises(ValueError, match="not a valid checkpoint series name"):
        work.add("a.b", Work)
    with pytest.raises(KeyError, match="no work named 'zzz'"):
        work.failures("zzz")
    with pytest.raises(ValueError, match="max_failures"):
        Recovery(max_failures=-1)


def test_checkpoint_context_holds_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Other:
        pass

    plain = checkpoint_context("ctx")
    assert (plain.id, plain.services, plain.parameters) == ("ctx", (CheckpointService,), None)
    monkeypatch.chdir(tmp_path)
    conf = checkpoint_context("ctx", "relative", retention=3, services=[Other])
    assert conf.services == (CheckpointService, Other)
    assert conf.parameters == {CheckpointPath: str(tmp_path / "relative"), CheckpointRetention: 3}
    assert checkpoint_context("c", "hdfs://nn/x").parameters == {CheckpointPath: "hdfs://nn/x"}
    with pytest.raises(ValueError, match="non-empty"):
        checkpoint_context("c", "")
