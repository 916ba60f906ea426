"""Checkpoints with real evaluators: migration, SIGKILL recovery, a crash in the middle of a
checkpoint write, a corrupted checkpoint, a seeded soak of kills, and N -> fewer -> N
evaluators. Every result is compared bit for bit with an uninterrupted run computed here."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import reef
from reef.services import CheckpointMemento, CheckpointService
from tests.integration import checkpoint_jobs as jobs

pytestmark = [pytest.mark.processes, pytest.mark.timeout(120)]

SEED, SIZE, STEPS, EVERY = jobs.Seed.default, jobs.Size.default, jobs.Steps.default, 10


@pytest.fixture(scope="module")
def expected() -> str:
    return jobs.reference(SEED, SIZE, STEPS)


def run(
    driver: type[reef.Driver], parameters: dict[Any, Any] | None = None, runtime: Any = "local"
) -> tuple[reef.JobResult, dict[str, Any]]:
    result = reef.run(
        driver, runtime=runtime, parameters={jobs.Every: EVERY, **(parameters or {})}, timeout=90
    )
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    assert result.messages, "the driver sent no record"
    return result, json.loads(result.messages[-1])


def evaluators_of(record: dict[str, Any], work: str = "sim0") -> list[str]:
    return [evaluator for name, _, evaluator in record["runs"] if name == work]


def test_a_suspended_simulation_resumes_on_another_evaluator_bit_identical(
    expected: str,
) -> None:
    result, record = run(jobs.Recovering, {jobs.SuspendAt: 45})
    assert record["results"]["sim0"] == {"digest": expected, "resumed_from": 46}
    assert record["suspended"] == [["sim0-1", "evaluator-1"]]
    assert evaluators_of(record) == ["evaluator-1", "evaluator-2"]
    assert [started for _, started, _ in record["started"]] == [0, 46]
    # By default the checkpoints are in the job's directory.
    kept = CheckpointService(str(Path(result.log_dir) / "checkpoints")).list()
    assert {info.series for info in kept} == {kept[0].series}
    assert kept[0].series.startswith("sim0-")


def test_a_killed_evaluators_simulation_resumes_from_its_last_checkpoint(
    expected: str, runtime: Any, tmp_path: Path
) -> None:
    # On YARN the job's directory is not known to evaluators: a shared folder is given.
    folder = {} if runtime == "local" else {jobs.CheckpointFolder: str(tmp_path / "shared")}
    _, record = run(jobs.Recovering, {jobs.KillAt: [37], **folder}, runtime)
    assert record["killed"] == [37]
    assert [lost for _, lost in record["lost"]] == [["sim0"]]
    assert evaluators_of(record) == ["evaluator-1", "evaluator-2"]
    assert [started for _, started, _ in record["started"]] == [0, 30]
    assert record["results"]["sim0"] == {"digest": expected, "resumed_from": 30}


def test_a_crash_in_the_middle_of_a_checkpoint_write_leaves_the_previous_one_intact(
    expected: str, tmp_path: Path
) -> None:
    folder = tmp_path / "ckpt"
    _, record = run(
        jobs.Recovering, {jobs.TearAt: 25, jobs.KillAt: [25], jobs.CheckpointFolder: str(folder)}
    )
    assert record["torn"] == [25]
    assert [started for _, started, _ in record["started"]] == [0, 20]  # not the torn one
    assert record["results"]["sim0"] == {"digest": expected, "resumed_from": 20}
    leftovers = [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) == 1, "the killed write should have left its temporary file"
    service = CheckpointService(str(folder))
    listed = service.list()
    assert all(not info.id.endswith(".tmp") for info in listed)
    steps = [service.read(info.id).metadata["step"] for info in listed]
    assert steps == list(range(EVERY, STEPS + 1, EVERY))  # 10 and 20 from before the crash


class Corrupting(jobs.Recovering):
    """Damages the newest checkpoint of the lost simulation before it is resumed."""

    @reef.on(reef.FailedEvaluator)
    def failed(self, f: reef.FailedEvaluator) -> None:
        assert self.folder is not None
        newest = max(Path(self.folder).glob("*.ckpt"))
        raw = bytearray(newest.read_bytes())
        raw[len(raw) // 3] ^= 0x01
        newest.write_bytes(bytes(raw))
        self.record["corrupted"] = newest.name.removesuffix(".ckpt")
        super().failed(f)


def test_a_corrupted_checkpoint_is_detected_and_skipped(expected: str, tmp_path: Path) -> None:
    _, record = run(Corrupting, {jobs.KillAt: [37], jobs.CheckpointFolder: str(tmp_path)})
    corrupted = record["corrupted"]
    assert record["started"][1][1:] == [20, [corrupted]]  # step 30's checkpoint was refused
    assert record["results"]["sim0"] == {"digest": expected, "resumed_from": 20}


class ResumesACorruptedOne(jobs.Recovering):
    """Suspends the simulation, damages the checkpoint its memento names, and resumes it."""

    @reef.on(reef.SuspendedActivity)
    def suspended(self, s: reef.SuspendedActivity) -> None:
        assert s.memento is not None
        named = CheckpointMemento.decode(s.memento).id
        path = Path(self.folder or "") / f"{named}.ckpt"
        path.write_bytes(path.read_bytes()[:-1])  # truncated
        self.record["corrupted"] = named
        super().suspended(s)

    @reef.on(reef.FailedActivity)
    def failed_activity(self, f: reef.FailedActivity) -> None:
        self.record["failure"] = [f.error.type_name, f.error.message]
        assert f.context is not None
        f.context.close()


def test_resuming_from_a_named_corrupted_checkpoint_fails_clearly(tmp_path: Path) -> None:
    _, record = run(
        ResumesACorruptedOne, {jobs.SuspendAt: 12, jobs.CheckpointFolder: str(tmp_path)}
    )
    type_name, message = record["failure"]
    assert type_name == "CheckpointCorrupted"
    assert record["corrupted"] in message and "truncated" in message
    assert record["results"] == {}


@pytest.mark.parametrize("seed", [2024, 7])
def test_soak_random_kills_during_one_job(seed: int, expected: str) -> None:
    kills = sorted(random.Random(seed).sample(range(1, STEPS), 6))
    _, record = run(jobs.Recovering, {jobs.KillAt: kills, jobs.Works: 2, jobs.Evaluators: 2})
    assert record["killed"] == kills
    assert len(evaluators_of(record)) == len(kills) + 1
    assert len(set(evaluators_of(record))) == len(kills) + 1  # a new evaluator each time
    resumed = [started for activity, started, _ in record["started"] if activity.startswith("sim0")]
    assert resumed == [0] + [kill - kill % EVERY for kill in kills]
    assert record["results"]["sim0"]["digest"] == expected
    # the other simulation, on an evaluator never killed, ran once and is right too
    assert len(evaluators_of(record, "sim1")) == 1
    assert record["results"]["sim1"]["digest"] == jobs.reference(SEED + 1, SIZE, STEPS)


def test_n_to_fewer_to_n_evaluators_gives_the_same_results() -> None:
    works = 3
    _, record = run(jobs.Elastic, {jobs.Works: works})
    assert record["phases"] == ["shrinking", "fewer", "grown"]
    names = {f"sim{n}" for n in range(works)}
    for n in range(works):
        assert record["results"][f"sim{n}"]["digest"] == jobs.reference(SEED + n, SIZE, STEPS)
    assert all(phase == "grown" for _, phase in record["completed"])
    first = {"evaluator-1", "evaluator-2", "evaluator-3"}
    released = sorted(ev for _, ev, phase in record["suspended"] if phase == "shrinking")
    assert released == ["evaluator-2", "evaluator-3"]
    turns = [name for name, ev, phase in record["suspended"] if phase == "fewer"]
    assert sorted(turns) == sorted(names)  # each work had a turn on the one evaluator left
    assert {name for name, _, ev in record["runs"] if ev == "evaluator-1"} == names
    regrown = {ev for _, _, ev in record["runs"]} - first
    assert len(regrown) == works - 1, "work should have spread out onto new evaluators"


def test_the_migration_example_runs_bit_identical() -> None:
    script = Path(__file__).parents[2] / "examples" / "checkpoint_migrate.py"
    done = subprocess.run(
        [sys.executable, str(script), "--kill"], capture_output=True, text=True, timeout=100
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("ran on evaluator-1 -> evaluator-2 -> evaluator-3")
    assert lines[-1] == "bit-identical"
