"""Seeing a job: its status page (JSON, metrics, the page in a browser), `reef status` of a
running job, the job record and `reef rerun`, and the diagnostics of broken jobs."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

import reef
from reef import cli
from tests.integration import jobs

pytestmark = [pytest.mark.processes, pytest.mark.timeout(120)]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)  # a poll with a deadline


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body


@pytest.fixture
def holding() -> Any:
    """A job whose two evaluators each run a silent activity until told to stop."""
    job = reef.submit(jobs.Holding, parameters={jobs.Evaluators: 2}, timeout=90)
    try:
        _until(
            lambda: (
                job.snapshot()["activities"]["running"] == 2
                and all(e["phase"] == "running" for e in job.snapshot()["evaluators"])
                and len(job.snapshot()["evaluators"]) == 2
            )
        )
        yield job
        job.send(b"stop")
        result = job.wait(60)
        assert result.status is reef.JobStatus.SUCCEEDED, result.error
    finally:
        job.kill()
        job.wait(60)


def test_json_api_and_metrics_agree_with_the_driver(holding: reef.Job) -> None:
    url = holding.status_url
    assert url.startswith("http://127.0.0.1:")  # loopback only
    api = json.loads(_get(url + "api/status"))
    mine = holding.snapshot()
    assert api["job"] == mine["job"] == holding.id
    assert [e["id"] for e in api["evaluators"]] == ["evaluator-1", "evaluator-2"]
    assert [e["phase"] for e in api["evaluators"]] == ["running", "running"]
    assert sorted(a["id"] for a in api["activities"]["in_flight"]) == [
        "hold-evaluator-1",
        "hold-evaluator-2",
    ]
    assert {s["name"] for s in api["stages"]} >= {"driver.dispatch", "driver.liveness"}
    metrics = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(_get(url + "metrics").decode())
        for sample in family.samples
    }
    assert metrics[("reef_evaluators", (("job", holding.id), ("phase", "running")))] == 2
    assert metrics[("reef_activities_running", ())] == 2
    assert metrics[("reef_activities_total", (("job", holding.id), ("outcome", "completed")))] == 0
    dispatched = [
        v
        for (name, labels), v in metrics.items()
        if name == "wake_stage_events_total" and ("stage", "driver.dispatch") in labels
    ]
    assert dispatched and sum(dispatched) >= api["stages"][0]["events_in"] > 0
    assert b"driver.dispatch" in _get(url + "api/profile")


def test_reef_status_of_a_running_job_asks_its_driver(holding: reef.Job) -> None:
    out = io.StringIO()
    assert cli.main(["status", holding.id], out=out) == cli.EXIT_OK
    text = out.getvalue()
    assert "state       RUNNING" in text
    assert "2 running, 0 completed" in text
    assert "ctx-evaluator-2" in text and "hold-evaluator-2" in text


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)"
)
def test_the_page_renders_evaluators_and_activities_in_a_browser(
    holding: reef.Job, tmp_path: Path
) -> None:
    assert CHROMIUM is not None
    flags = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
    ]
    dom = subprocess.run(
        [*flags, "--dump-dom", holding.status_url], capture_output=True, text=True, timeout=60
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert 'data-loaded="yes"' in html  # the script ran and rendered the JSON
    assert 'data-evaluator="evaluator-1"' in html and 'data-evaluator="evaluator-2"' in html
    assert 'data-activity="hold-evaluator-1"' in html and 'data-activity="hold-evaluator-2"' in html
    assert 'data-stage="driver.dispatch"' in html
    assert '<svg class="histogram" data-stage="driver.dispatch"' in html
    assert f">{holding.id}<" in html
    shot = tmp_path / "page.png"
    done = subprocess.run(
        [*flags, "--window-size=1200,1600", f"--screenshot={shot}", holding.status_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # a rendered page, not a blank one


def _record(result: reef.JobResult) -> dict[str, Any]:
    return yaml.safe_load(Path(result.log_dir, "job-record.yaml").read_text())


def test_the_job_record_reruns_the_same_job(reef_home: Path) -> None:
    first = reef.run(jobs.Deterministic, parameters={jobs.Evaluators: 1}, timeout=60)
    assert first.status is reef.JobStatus.SUCCEEDED, first.error
    record = _record(first)
    assert record["status"] == "SUCCEEDED"
    assert record["driver"] == {"class": "tests.integration.jobs:Deterministic", "script": None}
    assert "tests.integration.jobs:Evaluators: 1" in record["configuration"]
    assert record["runtime"]["name"] == "local"
    assert record["packages"]["pyreef"] == reef.__version__
    assert [(s["kind"], s["id"]) for s in record["shipped"]] == [
        ("context", "root"),
        ("activity", "r-1"),
        ("activity", "r-2"),
        ("activity", "r-3"),
    ]
    assert record["shipped"][0]["services"] == ["tests.integration.jobs:Counter"]
    assert (
        "tests.integration.jobs:Rounds: 2"
        in record["documents"][record["shipped"][2]["configuration"]]
    )
    out = io.StringIO()
    assert cli.main(["rerun", str(Path(first.log_dir, "job-record.yaml")), "--quiet"], out=out) == 0
    second_dir = max((reef_home / "jobs").iterdir(), key=lambda p: p.stat().st_mtime)
    again = yaml.safe_load((second_dir / "job-record.yaml").read_text())
    assert again["job"] != record["job"]
    for key in ("driver", "configuration", "runtime", "shipped", "documents", "status"):
        assert again[key] == record[key], key


def test_rerun_says_what_it_cannot_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    class Local(reef.Driver):
        pass

    result = reef.run(Local, timeout=30)
    record = Path(result.log_dir, "job-record.yaml")
    assert cli.main(["rerun", str(record)]) == cli.EXIT_USAGE
    assert "cannot be run again" in capsys.readouterr().err
    junk = tmp_path / "junk.yaml"
    junk.write_text("- not a record\n")
    assert cli.main(["rerun", str(junk)]) == cli.EXIT_USAGE
    assert "is not a job record written by reef" in capsys.readouterr().err


BROKEN = '''\
from typing import Annotated
import reef
from reef.tang import NamedParameter

class Size(NamedParameter[int]):
    """How big."""

class Label(NamedParameter[str]):
    """A label."""

class Worker(reef.Activity):
    def __init__(self, size: Annotated[int, Size]) -> None:
        self.size = size
    def run(self, memento):
        return b""

class Broken(reef.Driver):
    def __init__(self, label: Annotated[str, Label], size: Annotated[int, Size],
                 requestor: reef.EvaluatorRequestor) -> None:
        self.requestor = requestor
    @reef.on(reef.StartTime)
    def start(self, _):
        self.requestor.submit(reef.EvaluatorRequest())
    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev):
        ev.submit_activity(reef.ActivityConfiguration(id="w", activity=Worker))
'''


def test_diagnostics_name_the_declaration_the_expectation_and_a_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "broken.py"
    script.write_text(BROKEN)
    code = cli.main(["check", f"{script}:Broken", "--set", "Size=big"])
    assert code == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert "[Bind] Size: cannot parse 'big' as int" in err
    assert "broken.py:5]" in err  # where Size is declared
    assert "(hint: give Size a int)" in err
    assert "[Injection] Broken(label): named parameter Label has no value and no default" in err
    assert "broken.py:8]" in err
    assert "hint: set it: parameters={Label: ...}" in err
    # the same diagnostics, at run time, for a misconfigured activity: in the driver, before
    # anything is sent to an evaluator
    module = __import__("reef.tang", fromlist=["load_main_script"]).load_main_script(str(script))
    result = reef.run(module.Broken, parameters={module.Label: "x", module.Size: 3}, timeout=60)
    assert result.status is reef.JobStatus.FAILED
    assert result.error is not None and result.error.type_name == "InjectionError"
    assert (
        "activity w: Worker(size): named parameter Size has no value and no default"
        in result.error.message
    )
    assert "broken.py:5]" in result.error.message
    log = Path(result.log_dir, "evaluators", "evaluator-1", "evaluator.log").read_text()
    assert "StartActivity" not in log and "activity w" not in log
