"""``reef submit`` / ``status`` / ``logs`` / ``kill``: jobs that outlive the command that
started them, on the local runtime and on YARN (the skein stand-in, reached as a real cluster
would be: through ``REEF_SKEIN_DRIVER`` and ``REEF_SKEIN_SECURITY``)."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reef import cli
from tests.yarn.standin import StandinYarn

pytestmark = [pytest.mark.processes, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parents[2]
HELLO = f"{REPO}/examples/hello.py:HelloDriver"


def reef(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = cli.main(list(args), out=out)
    return code, out.getvalue()


def poll(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)  # a poll with a deadline: the job runs in other processes
    return found


@pytest.fixture
def yarn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StandinYarn]:
    """A cluster the reef command finds as users configure theirs."""
    with StandinYarn(tmp_path / "yarn", allocation_delay=0.05) as cluster:
        credentials = tmp_path / "skein-credentials"
        cluster.security.to_directory(str(credentials))
        monkeypatch.setenv("REEF_SKEIN_DRIVER", cluster.address)
        monkeypatch.setenv("REEF_SKEIN_SECURITY", str(credentials))
        yield cluster


def status_line(app_id: str) -> str:
    code, out = reef("status", app_id)
    assert code == cli.EXIT_OK
    return next(line for line in out.splitlines() if line.strip().startswith("state"))


def test_submit_on_yarn_then_status_and_logs(yarn: StandinYarn, reef_home: Path) -> None:
    code, out = reef("submit", HELLO, "--runtime", "yarn", "--set", "Greeting=Ahoy")
    assert code == cli.EXIT_OK
    app_id = out.strip()
    assert app_id.startswith("application_"), out
    assert (reef_home / "jobs" / app_id / "reef-job.json").is_file()  # what rerun reads
    poll(lambda: "SUCCEEDED" in status_line(app_id), "the job to succeed")
    client = yarn.client()
    poll(lambda: str(client.application_report(app_id).state) == "FINISHED", "YARN to agree")
    code, logs = reef("logs", app_id)
    assert code == cli.EXIT_OK
    assert "==> " in logs
    assert f"job {app_id} succeeded" in logs  # the driver's log, in the master's container
    assert "evaluator evaluator-1 registered with" in logs
    code, logs = reef("logs", app_id, "--evaluator", "evaluator-1")
    assert code == cli.EXIT_OK
    assert logs.count("==> ") == 1
    assert "evaluator evaluator-1 exits (0)" in logs


def test_kill_on_yarn_ends_the_application(yarn: StandinYarn) -> None:
    code, out = reef("submit", "tests.integration.test_client:Endless", "--runtime", "yarn")
    assert code == cli.EXIT_OK, out
    app_id = out.strip()
    client = yarn.client()
    poll(
        lambda: any(c.state == "RUNNING" for c in _containers(client, app_id)),
        "an evaluator to run",
    )
    code, out = reef("kill", app_id)
    assert code == cli.EXIT_OK
    assert f"job {app_id}: killed on YARN" in out
    assert "KILLED" in status_line(app_id)
    poll(lambda: not yarn.processes(live=True), "every container process to end")


def _containers(client: Any, app_id: str) -> list[Any]:
    report = client.application_report(app_id)
    if str(report.state) != "RUNNING":
        return []
    return list(client.connect(app_id, wait=False).get_containers())


def test_status_of_an_unknown_application_says_so(
    yarn: StandinYarn, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = reef("status", "application_1_0042")
    assert code == cli.EXIT_FAILED
    assert "YARN does not know application application_1_0042" in capsys.readouterr().err


def test_without_a_cluster_the_command_says_how_to_reach_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REEF_SKEIN_DRIVER", "127.0.0.1:1")  # nothing listens there
    monkeypatch.setenv("REEF_SKEIN_SECURITY", str(tmp_path / "no-credentials"))
    code, _ = reef("kill", "application_1_0001")
    assert code == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert "cannot reach the skein driver at 127.0.0.1:1" in err
    assert "REEF_SKEIN_SECURITY" in err


def test_submit_locally_returns_while_the_job_runs_on(reef_home: Path) -> None:
    code, out = reef("submit", HELLO, "--set", "Greeting=Salut")
    assert code == cli.EXIT_OK
    job_id = out.strip()
    status_file = reef_home / "jobs" / job_id / "status.json"

    def final() -> dict[str, Any] | None:
        doc: dict[str, Any] = json.loads(status_file.read_text())
        return doc if doc["status"] != "RUNNING" else None

    status = poll(final, "the detached job to end")
    assert status["status"] == "SUCCEEDED"
    # the detached `reef run` is this test's child: it must not outlive the test
    poll(lambda: _ended(status["pid"]), "the detached reef run to exit")
    code, out = reef("status", job_id)
    assert "SUCCEEDED" in out
    # what it printed after announcing its id is kept beside its logs
    assert "Salut from evaluator pid" in (status_file.parent / "output.txt").read_text()


def test_submit_reports_configuration_problems_before_starting_anything(
    reef_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = reef("submit", HELLO, "--set", "Nope=1")
    assert code == cli.EXIT_USAGE
    assert "no such named parameter (known: Greeting)" in capsys.readouterr().err
    assert not (reef_home / "jobs").exists()


def _ended(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:  # already reaped (by subprocess's own clean-up)
        return True


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("hello.py:HelloDriver", "Hello from evaluator pid"),
        ("evaluator_reuse.py:CountingDriver", "3\n3\n"),
    ],
)
def test_examples_run_on_yarn_with_only_the_runtime_changed(
    yarn: StandinYarn, target: str, expected: str
) -> None:
    code, out = reef("run", f"{REPO}/examples/{target}", "--runtime", "yarn", "--quiet")
    assert code == cli.EXIT_OK, out
    assert expected in out


def test_a_yarn_job_leaves_its_record_profile_and_final_status_to_rerun(
    yarn: StandinYarn, reef_home: Path
) -> None:
    code, out = reef("run", HELLO, "--runtime", "yarn", "--quiet", "--set", "Greeting=Hej")
    assert code == cli.EXIT_OK, out
    (job,) = (reef_home / "jobs").glob("application_*")
    assert json.loads((job / "final-status.json").read_text())["state"] == "SUCCEEDED"
    code, profile = reef("profile", job.name)
    assert code == cli.EXIT_OK
    assert "driver.dispatch" in profile
    record = job / "job-record.yaml"
    assert "Greeting" in record.read_text()
    code, out = reef("rerun", str(record))
    assert code == cli.EXIT_OK
    assert out.startswith("Hej from evaluator pid ")
    assert len(list((reef_home / "jobs").glob("application_*"))) == 2  # ran on YARN again
