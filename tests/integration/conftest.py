"""Integration tier: real evaluator processes, on the local runtime and (the ``runtime``
fixture) on YARN through the skein stand-in. Every job's files go to a temporary REEF_HOME;
settings are shortened so failures are detected in a second."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import reef
from reef.settings import EvaluatorTimeout, HeartbeatPeriod


@pytest.fixture(autouse=True)
def reef_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "reef-home"
    monkeypatch.setenv("REEF_HOME", str(home))
    return home


FAST = {HeartbeatPeriod: 0.2, EvaluatorTimeout: 2.0}


@pytest.fixture(params=["local", "yarn"])
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The runtime a scenario runs on: the local one, or YARN (the skein stand-in: the driver
    in an application master process, evaluators in containers)."""
    if request.param == "local":
        yield "local"
        return
    from reef.runtime.yarn import YarnRuntime
    from tests.yarn.standin import StandinYarn

    with StandinYarn(tmp_path / "yarn", allocation_delay=0.05) as yarn:
        yield YarnRuntime(client=yarn.client(), evaluator_sizes=[(128, 1), (512, 1)])


def log_of(result: reef.JobResult) -> list[Any]:
    """The event log a test driver sent as its last message."""
    assert result.messages, (
        f"the job sent no messages (status {result.status}, error {result.error})"
    )
    return json.loads(result.messages[-1])
