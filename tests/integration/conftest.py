"""Integration tier: real evaluator processes, on the local runtime and (the ``runtime``
fixture) on YARN through the skein stand-in. Every job's files go to a temporary REEF_HOME;
settings are shortened so failures are detected in a second."""

from __future__ import annotations

import json
import os
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


# A real cluster, by hand: REEF_TEST_YARN=1 with skein able to reach it (a running `skein driver`,
# or HADOOP_CONF_DIR and Java for one); REEF_TEST_YARN_AM_CONF optionally names a configuration
# directory for application masters (e.g. one with a lower yarn.am.liveness-monitor.expiry-
# interval-ms, for a faster AM heartbeat). CI has no cluster: there the scenarios run locally and on the stand-in only.
REAL_YARN = os.environ.get("REEF_TEST_YARN") == "1"


def real_yarn_runtime() -> Any:
    """The YarnRuntime of a real cluster's tests (sizes as the stand-in's)."""
    from reef.runtime.yarn import YarnRuntime

    class RealYarn(YarnRuntime):
        """A YarnRuntime on a real cluster (tests tell it from the stand-in's by its class)."""

    am_conf = os.environ.get("REEF_TEST_YARN_AM_CONF")
    return RealYarn(
        evaluator_sizes=[(128, 1), (512, 1)],
        driver_memory_mb=512,
        env={"HADOOP_CONF_DIR": am_conf} if am_conf else None,
    )


def on_real_yarn(runtime: Any) -> bool:
    """Whether a scenario runs on a real cluster (where YARN's timing is its own)."""
    return type(runtime).__name__ == "RealYarn"


def container_logs(result: reef.JobResult) -> list[str]:
    """The texts of a job's logs: what the client collected into its directory, and, on a real
    cluster without log aggregation, the NodeManager's log directory of the application
    (REEF_TEST_YARN_LOGS: yarn.nodemanager.log-dirs of a single-node cluster)."""
    paths = list(Path(result.log_dir).rglob("*.log"))
    node_logs = os.environ.get("REEF_TEST_YARN_LOGS")
    if node_logs and (Path(node_logs) / result.id).is_dir():
        paths += list((Path(node_logs) / result.id).rglob("*.log"))
    return [p.read_text() for p in paths]


@pytest.fixture(params=["local", "yarn", *(["real-yarn"] if REAL_YARN else [])])
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The runtime a scenario runs on: the local one, or YARN (the skein stand-in: the driver
    in an application master process, evaluators in containers; and a real cluster when
    REEF_TEST_YARN=1)."""
    if request.param == "local":
        yield "local"
        return
    if request.param == "real-yarn":
        yield real_yarn_runtime()
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
