"""Against a real YARN cluster, by hand: ``REEF_TEST_YARN=1`` (skein must reach the cluster: a
running ``skein driver``, or ``HADOOP_CONF_DIR`` and Java for one); see the README's
"Developing" section for the variables. The
lifecycle and failure scenarios of tests/integration also run on the cluster then (their
``runtime`` fixture). CI has no cluster, so these are skipped there."""

from __future__ import annotations

import io
import json
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

import reef
from reef import cli
from tests.integration.conftest import REAL_YARN, real_yarn_runtime

pytestmark = [
    pytest.mark.skipif(not REAL_YARN, reason="needs a real YARN cluster: set REEF_TEST_YARN=1"),
    pytest.mark.processes,
    pytest.mark.timeout(600),
]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ROUND_TRIPS = 30


@pytest.fixture(autouse=True)
def reef_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "reef-home"
    monkeypatch.setenv("REEF_HOME", str(home))
    return home


@pytest.mark.parametrize(
    ("target", "expected"),
    [("hello.py:HelloDriver", "Hello from evaluator pid"), ("evaluator_reuse.py", "3\n3\n")],
)
def test_examples_run_on_the_cluster(target: str, expected: str) -> None:
    if ":" not in target:
        target += ":CountingDriver"
    out = io.StringIO()
    code = cli.main(["run", f"{EXAMPLES}/{target}", "--runtime", "yarn", "--quiet"], out=out)
    assert code == cli.EXIT_OK
    assert expected in out.getvalue()


class Noop(reef.Activity):
    def run(self, memento: bytes | None) -> bytes:
        return b""


class Timing(reef.Driver):
    """One evaluator: the time from request to its active context, then no-op activities one
    after another on the retained evaluator, each timed from submission to completion."""

    def __init__(self, requestor: reef.EvaluatorRequestor, client: reef.JobMessenger) -> None:
        self.requestor, self.client = requestor, client
        self.samples: list[float] = []

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.requested = time.perf_counter()
        self.requestor.submit(reef.EvaluatorRequest(count=1, memory_mb=128))

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, evaluator: reef.AllocatedEvaluator) -> None:
        evaluator.submit_context(reef.ContextConfiguration(id="root"))

    @reef.on(reef.ActiveContext)
    def active(self, context: reef.ActiveContext) -> None:
        self.start_seconds = time.perf_counter() - self.requested
        self._next(context)

    def _next(self, context: reef.ActiveContext) -> None:
        self.submitted = time.perf_counter()
        n = len(self.samples)
        context.submit_activity(reef.ActivityConfiguration(id=f"noop-{n}", activity=Noop))

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        self.samples.append(time.perf_counter() - self.submitted)
        if len(self.samples) < ROUND_TRIPS:
            self._next(done.context)
            return
        figures = {"evaluator_start_s": self.start_seconds, "round_trips_s": self.samples}
        self.client.send(json.dumps(figures).encode())
        done.context.close()


def test_a_retained_evaluator_on_the_cluster(record_property: Any) -> None:
    """Reports (does not judge) evaluator start and activity round trips on real YARN."""
    result = reef.run(Timing, runtime=real_yarn_runtime(), timeout=300)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    figures = json.loads(result.messages[-1])
    assert len(figures["round_trips_s"]) == ROUND_TRIPS
    warm = figures["round_trips_s"][1:]
    report = {
        "evaluator_start_s": round(figures["evaluator_start_s"], 2),
        "first_activity_ms": round(figures["round_trips_s"][0] * 1e3, 2),
        "warm_round_trip_p50_ms": round(statistics.median(warm) * 1e3, 3),
        "warm_round_trip_max_ms": round(max(warm) * 1e3, 3),
    }
    record_property("real_yarn", report)
    print("real YARN:", json.dumps(report))
