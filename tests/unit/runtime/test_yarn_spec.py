"""What a job asks of YARN, without a cluster: size classes, request checks, the skein
application specification, and how YARN's reports read as job outcomes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import skein

from reef.common._job import JobStatus
from reef.runtime._api import ResourceRequest
from reef.runtime.yarn import (
    ENVIRONMENT_DIR,
    JOB_FILE,
    PythonEnvironment,
    SizeClass,
    YarnRuntime,
    _from_report,
    check_request,
    smallest_fit,
)

SIZES = (SizeClass(1024, 1), SizeClass(4096, 2), SizeClass(4096, 4))


def req(memory_mb: int = 512, cores: int = 1, **more: Any) -> ResourceRequest:
    return ResourceRequest(count=1, memory_mb=memory_mb, cores=cores, **more)


@pytest.mark.parametrize(
    ("memory_mb", "cores", "expected"),
    [
        (1, 1, SizeClass(1024, 1)),
        (1024, 1, SizeClass(1024, 1)),
        (1025, 1, SizeClass(4096, 2)),
        (100, 2, SizeClass(4096, 2)),
        (100, 3, SizeClass(4096, 4)),
        (4097, 1, None),
        (100, 5, None),
    ],
)
def test_a_request_gets_the_smallest_size_that_fits(
    memory_mb: int, cores: int, expected: SizeClass | None
) -> None:
    assert smallest_fit(SIZES, memory_mb, cores) == expected


def test_sizes_are_sorted_deduplicated_and_validated() -> None:
    runtime = YarnRuntime(evaluator_sizes=[(4096, 2), (1024, 1), SizeClass(1024, 1)])
    assert runtime.sizes == (SizeClass(1024, 1), SizeClass(4096, 2))
    with pytest.raises(ValueError, match="at least one"):
        YarnRuntime(evaluator_sizes=[])
    with pytest.raises(ValueError, match="memory_mb >= 1 and cores >= 1"):
        YarnRuntime(evaluator_sizes=[(0, 1)])


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"driver_memory_mb": 0}, "driver_memory_mb and driver_cores must be >= 1"),
        ({"max_attempts": 0}, "max_attempts=0 must be >= 1"),
        ({"files": {"data.csv": "/no/such/file"}}, "files['data.csv'] = '/no/such/file'"),
        ({"environments": {"bad name": "/usr/bin/python3"}}, "use letters, digits and '-'"),
    ],
)
def test_bad_settings_are_refused_at_construction(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        YarnRuntime(**kwargs)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("request_", "fragment"),
    [
        (req(8192, 1), "no evaluator size fits 8192 MB and 1 cores"),
        (req(8192, 1), "add a size to YarnRuntime(evaluator_sizes=...)"),
        (req(environment="gpu"), "environment='gpu' is not one of this job's environments"),
        (req(runtime_name="local"), "runtime_name='local': this job runs on 'yarn'"),
        (
            req(node_names=("n1",), relax_locality=False),
            "strict locality cannot be honoured",
        ),
    ],
)
def test_requests_no_service_can_serve_are_rejected_clearly(
    request_: ResourceRequest, fragment: str
) -> None:
    with pytest.raises(ValueError) as caught:
        check_request(SIZES, {"cpu": PythonEnvironment("/opt/cpu/bin/python")}, request_)
    assert fragment in str(caught.value)


def test_requests_a_service_serves_pass() -> None:
    environments = {"cpu": PythonEnvironment("/opt/cpu/bin/python")}
    for ok in (
        req(4096, 4),
        req(environment="cpu"),
        req(runtime_name="yarn"),
        req(node_names=("n1",)),  # a hint, with relaxed locality
    ):
        check_request(SIZES, environments, ok)


@pytest.mark.parametrize(
    ("source", "archive", "python"),
    [
        ("envs/ml.tar.gz", True, f"{ENVIRONMENT_DIR}/bin/python"),
        ("envs/ml.tgz", True, f"{ENVIRONMENT_DIR}/bin/python"),
        ("envs/ml.zip", True, f"{ENVIRONMENT_DIR}/bin/python"),
        ("/opt/python3.11/bin/python", False, "/opt/python3.11/bin/python"),
    ],
)
def test_an_environment_is_an_archive_or_an_interpreter(
    source: str, archive: bool, python: str
) -> None:
    env = PythonEnvironment(source)
    assert env.archive is archive
    assert env.python(ENVIRONMENT_DIR) == python


@pytest.fixture
def job(tmp_path: Path) -> dict[str, Path]:
    paths = {name: tmp_path / name for name in (JOB_FILE, "main.py", "data.csv", "ml.tar.gz")}
    for path in paths.values():
        path.write_text("x")
    return paths


def spec_of(runtime: YarnRuntime, job: dict[str, Path], **more: Any) -> skein.ApplicationSpec:
    return runtime.specification(
        str(job[JOB_FILE]), str(job["main.py"]), more.pop("python_path", ()), driver="m:MyDriver"
    )


def test_one_service_per_size_and_environment(job: dict[str, Path]) -> None:
    runtime = YarnRuntime(
        queue="research",
        evaluator_sizes=[(1024, 1), (4096, 2)],
        environments={"ml": str(job["ml.tar.gz"]), "cpu": "/opt/cpu/bin/python"},
        node_label="big",
        max_attempts=2,
        driver_memory_mb=2048,
        driver_cores=2,
    )
    spec = spec_of(runtime, job)
    assert spec.name == "reef-MyDriver"
    assert (spec.queue, spec.node_label, spec.max_attempts) == ("research", "big", 2)
    assert "reef" in spec.tags
    assert sorted(spec.services) == [
        "evaluator-1024m-1c",
        "evaluator-1024m-1c-cpu",
        "evaluator-1024m-1c-ml",
        "evaluator-4096m-2c",
        "evaluator-4096m-2c-cpu",
        "evaluator-4096m-2c-ml",
    ]
    for name, service in spec.services.items():
        # started one by one by the driver, never restarted by skein, and allowed to fail
        assert (service.instances, service.max_restarts, service.allow_failures) == (0, 0, True)
        size = name.split("-")[1:3]
        assert f"{service.resources.memory}m" == size[0]
        assert f"{service.resources.vcores}c" == size[1]
        assert service.node_label == "big"
    ml = spec.services["evaluator-4096m-2c-ml"]
    assert ml.script == f"exec {ENVIRONMENT_DIR}/bin/python -m reef.evaluator --from-skein"
    assert ml.files[ENVIRONMENT_DIR].type == "archive"
    cpu = spec.services["evaluator-1024m-1c-cpu"]
    assert cpu.script == "exec /opt/cpu/bin/python -m reef.evaluator --from-skein"
    assert ENVIRONMENT_DIR not in cpu.files
    default = spec.services["evaluator-1024m-1c"]
    assert default.script == f"exec {sys.executable} -m reef.evaluator --from-skein"
    master = spec.master
    assert (master.resources.memory, master.resources.vcores) == (2048, 2)
    assert master.script == f"exec {sys.executable} -m reef.runtime.yarn master {JOB_FILE}"


def test_the_job_file_script_and_declared_files_reach_every_container(
    job: dict[str, Path],
) -> None:
    runtime = YarnRuntime(
        files={"data.csv": str(job["data.csv"])}, environment=str(job["ml.tar.gz"])
    )
    spec = spec_of(runtime, job)
    for files in [spec.master.files, *(s.files for s in spec.services.values())]:
        assert {JOB_FILE, "main.py", "data.csv", ENVIRONMENT_DIR} <= set(files)
        assert files["data.csv"].source == f"file://{job['data.csv']}"
        assert files[ENVIRONMENT_DIR].type == "archive"
    assert (
        spec.master.script
        == f"exec {ENVIRONMENT_DIR}/bin/python -m reef.runtime.yarn master {JOB_FILE}"
    )


def test_container_environment_and_python_path(
    job: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", "/site/extra")
    runtime = YarnRuntime(env={"OMP_NUM_THREADS": "1"})
    spec = spec_of(runtime, job, python_path=("/home/me/project",))
    for env in [spec.master.env, *(s.env for s in spec.services.values())]:
        assert env["PYTHONUNBUFFERED"] == "1"
        assert env["OMP_NUM_THREADS"] == "1"
        assert env["PYTHONPATH"] == os.pathsep.join(["/home/me/project", "/site/extra"])


def test_no_credentials_in_the_specification(job: dict[str, Path]) -> None:
    """The control plane's keys are made in the application master and given to each container
    as it is added; the submitted specification (readable by the cluster's admins) has none."""
    text = spec_of(YarnRuntime(), job).to_yaml()
    assert "PRIVATE KEY" not in text
    assert "REEF_EVALUATOR_FILES_KEY" not in text  # given to each container as it is added


def report(state: str, final: str, diagnostics: str = "") -> Any:
    return SimpleNamespace(state=state, final_status=final, diagnostics=diagnostics)


@pytest.mark.parametrize(
    ("yarn", "status", "error"),
    [
        (report("FINISHED", "SUCCEEDED"), JobStatus.SUCCEEDED, None),
        (report("KILLED", "KILLED", "killed by alice"), JobStatus.KILLED, "killed by alice"),
        (report("KILLED", "UNDEFINED"), JobStatus.KILLED, "killed on YARN"),
        (report("FAILED", "FAILED", "AM container exited 137"), JobStatus.FAILED, "exited 137"),
        (report("FINISHED", "FAILED"), JobStatus.FAILED, "FAILED"),
        (None, JobStatus.FAILED, "the application's end is unknown"),
    ],
)
def test_yarn_reports_read_as_job_outcomes(yarn: Any, status: JobStatus, error: str | None) -> None:
    got, err = _from_report(yarn)
    assert got is status
    if error is None:
        assert err is None
    else:
        assert err is not None and error in err.message


def test_a_recorded_description_gives_back_the_runtime(job: dict[str, Path]) -> None:
    runtime = YarnRuntime(
        queue="research",
        environment=str(job["ml.tar.gz"]),
        environments={"cpu": "/opt/cpu/bin/python"},
        driver_memory_mb=2048,
        evaluator_sizes=[(512, 1), (2048, 2)],
        node_label="big",
        max_attempts=2,
    )
    again = YarnRuntime(**YarnRuntime.settings_from(runtime.describe()))
    assert again.describe() == runtime.describe()
