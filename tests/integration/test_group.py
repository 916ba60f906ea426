"""Group communication between real evaluator processes: every collective against numpy
references over both transports and both topologies, large arrays, the YARN stand-in, and a
member killed in the middle of a collective."""

from __future__ import annotations

import json
from typing import Any

import pytest

import reef
from tests.integration.conftest import FAST, log_of
from tests.integration.group_jobs import (
    BigElements,
    Evaluators,
    GroupDriver,
    RepairDriver,
    Topology,
    Transport,
)

pytestmark = [pytest.mark.processes]


def reports(result: reef.JobResult, size: int) -> list[dict[str, Any]]:
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    got = sorted((json.loads(m) for m in result.messages), key=lambda r: r["rank"])
    assert [r["rank"] for r in got] == list(range(size))
    return got


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("size", "topology", "transport"),
    [
        (2, "flat", "tcp"),
        (3, "tree:2", "shm"),
        (4, "tree:2", "tcp"),
        (4, "flat", "shm"),
        (3, "tree:1", "auto"),
    ],
)
def test_every_collective_matches_numpy(size: int, topology: str, transport: str) -> None:
    result = reef.run(
        GroupDriver,
        parameters={**FAST, Evaluators: size, Topology: topology, Transport: transport},
        timeout=50,
    )
    for report in reports(result, size):
        assert report["failures"] == [], report
        assert report["topology"] == topology
        # all_to_all links every pair, both ways; one host: "auto" means shared memory
        assert len(report["links"]) == 2 * (size - 1), report["links"]
        expected = "tcp" if transport == "tcp" else "shm"
        assert set(report["links"].values()) == {expected}, report["links"]


@pytest.mark.timeout(90)
def test_collectives_on_each_runtime(runtime: Any) -> None:
    result = reef.run(GroupDriver, runtime=runtime, parameters={**FAST, Evaluators: 2}, timeout=80)
    for report in reports(result, 2):
        assert report["failures"] == [], report


@pytest.mark.timeout(90)
def test_a_large_array_is_chunked_and_pipelined_over_shm_and_tcp() -> None:
    elements = 8 * 1024 * 1024  # 64 MB of float64: 64 chunks
    result = reef.run(
        GroupDriver,
        parameters={**FAST, Evaluators: 2, BigElements: elements, Transport: "shm"},
        timeout=80,
    )
    for report in reports(result, 2):
        assert report["failures"] == [], report


@pytest.mark.timeout(60)
def test_a_member_killed_mid_collective_is_reported_and_the_group_reformed() -> None:
    result = reef.run(RepairDriver, parameters=FAST, timeout=50)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    log = log_of(result)
    failed = [e for e in log if e[0] == "GroupMemberFailed"]
    dead = [e[1] for e in log if e[0] == "FailedEvaluator"]
    assert len(dead) == 1
    assert failed == [["GroupMemberFailed", "train", 1, dead[0]]]
    steps = [e for e in log if e[0] == "steps"]
    assert len(steps) == 2
    for _, evaluator, outcome in steps:
        assert evaluator != dead[0]
        assert outcome["error"] == "GroupMemberLost", outcome
        assert outcome["member"] == dead[0]
        assert outcome["after"] < 10.0  # promptly, far under the 30 s timeout
    repaired = [e[2] for e in log if e[0] == "repaired"]
    assert len(repaired) == 2
    for outcome in repaired:
        assert outcome == {"total": 3.0, "word": "repaired", "size": 2, "generation": 2}
