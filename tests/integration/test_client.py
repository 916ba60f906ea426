"""The client's side of a job: checks before launch, kill, timeout, Ctrl-C, lost drivers, and
classes of a user's main script on evaluators."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import pytest

import reef
from reef.tang import ConfigurationError, NamedParameter
from tests.integration import jobs

pytestmark = [pytest.mark.processes, pytest.mark.timeout(90)]

REPO = Path(__file__).resolve().parents[2]


class Needed(NamedParameter[str]):
    """A parameter without a default."""


class NeedsParameter(reef.Driver):
    def __init__(self, value: Annotated[str, Needed], requestor: reef.EvaluatorRequestor) -> None:
        self.value = value


class UnnamedValue(reef.Driver):
    def __init__(self, n: int) -> None: ...


def test_configuration_errors_raise_before_any_process_starts(reef_home: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        reef.run(NeedsParameter)
    assert "named parameter Needed has no value and no default" in str(info.value)
    with pytest.raises(ConfigurationError, match="asks for an unnamed int"):
        reef.run(UnnamedValue)
    with pytest.raises(ConfigurationError, match="expected str, got 3"):
        reef.run(NeedsParameter, parameters={Needed: 3})
    assert not (reef_home / "jobs").exists()  # nothing was launched, nothing was written


def test_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match=r"reef\.Driver subclass"):
        reef.run(object)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"runtime='mesos'"):
        reef.run(jobs.Logging, runtime="mesos")
    with pytest.raises(ValueError, match="timeout=-1"):
        reef.run(jobs.Logging, timeout=-1)


class BadActivity(reef.Driver):
    """Submits a misconfigured activity: the error is raised in the handler, nothing is sent."""

    def __init__(self, requestor: reef.EvaluatorRequestor, client: reef.JobMessenger) -> None:
        self.requestor, self.client = requestor, client

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.requestor.submit(reef.EvaluatorRequest())

    @reef.on(reef.ActiveContext)
    def active(self, ctx: reef.ActiveContext) -> None:
        for activity in (
            reef.ActivityConfiguration(
                id="a", activity=jobs.NeedsRounds, parameters={jobs.Rounds: "x"}
            ),
            reef.ActivityConfiguration(id="b", activity=jobs.NeedsStore),
            reef.ActivityConfiguration(id="c", activity=jobs.Counter),
        ):
            try:
                ctx.submit_activity(activity)
            except ConfigurationError as e:
                self.client.send(str(e).encode())
        ctx.close()

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        ev.submit_context(reef.ContextConfiguration(id="root"))


def test_a_misconfigured_activity_is_refused_in_the_driver() -> None:
    result = reef.run(BadActivity, timeout=60)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    first, second, third = (m.decode() for m in result.messages)
    assert "activity a: Rounds: cannot parse 'x' as int" in first
    assert "activity b: NeedsStore(store): no implementation bound for AbstractStore" in second
    assert "activity c: " in third and "is not a reef.Activity subclass" in third
    log = Path(result.log_dir, "evaluators", "evaluator-1", "evaluator.log").read_text()
    assert "activity" not in log.lower().replace("activity thread", "")  # nothing was started


class Endless(jobs.Logging):
    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        ev.submit_activity(reef.ActivityConfiguration(id="forever", activity=jobs.Forever))

    @reef.on(reef.ActivityMessage)
    def pid(self, msg: reef.ActivityMessage) -> None:
        self.client.send(msg.data)


def _wait_for(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)  # a poll with a deadline


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_kill_ends_the_job_and_its_evaluators() -> None:
    job = reef.submit(Endless, timeout=60)
    _wait_for(lambda: bool(job.messages))
    pid = int(job.messages[0])
    assert _alive(pid)
    assert job.status() is reef.JobStatus.RUNNING
    job.kill()
    result = job.wait(30)
    assert result.status is reef.JobStatus.KILLED
    assert not _alive(pid)


def test_timeout_kills_the_job() -> None:
    result = reef.run(Endless, timeout=1.5)
    assert result.status is reef.JobStatus.KILLED
    assert result.error is not None
    assert "timed out after 1.5 s" in result.error.message


def test_wait_with_a_timeout_leaves_the_job_running() -> None:
    job = reef.submit(Endless, timeout=60)
    with pytest.raises(TimeoutError, match="still running"):
        job.wait(0.2)
    job.kill()
    assert job.wait(30).status is reef.JobStatus.KILLED


def test_logs_are_in_the_log_dir() -> None:
    result = reef.run(jobs.Logging, timeout=30)
    log_dir = Path(result.log_dir)
    assert (log_dir / "driver.log").read_text().count("succeeded") == 1
    assert json.loads((log_dir / "status.json").read_text())["status"] == "SUCCEEDED"
    assert (log_dir / "evaluators" / "evaluator-1" / "evaluator.log").exists()


SCRIPT = """\
import json, sys
from typing import Annotated
import reef
from reef.tang import NamedParameter

class Greeting(NamedParameter[str]):
    '''What to say.'''
    default = "hello"

class Remember:                      # a service defined in the main script
    def __init__(self) -> None:
        self.said = []

class Say(reef.Activity):
    def __init__(self, memory: Remember, text: Annotated[str, Greeting]) -> None:
        self.memory, self.text = memory, text
    def run(self, memento):
        self.memory.said.append(self.text)
        return " ".join(self.memory.said).encode()

class Main(reef.Driver):
    def __init__(self, requestor: reef.EvaluatorRequestor, client: reef.JobMessenger) -> None:
        self.requestor, self.client, self.n = requestor, client, 0
    @reef.on(reef.StartTime)
    def start(self, _):
        self.requestor.submit(reef.EvaluatorRequest())
    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev):
        ev.submit_context_and_activity(
            reef.ContextConfiguration(id="root", services=[Remember]),
            reef.ActivityConfiguration(id="a1", activity=Say, parameters={Greeting: "hi"}))
    @reef.on(reef.CompletedActivity)
    def done(self, c):
        self.n += 1
        if self.n < 3:
            c.context.submit_activity(reef.ActivityConfiguration(id=f"a{self.n + 1}", activity=Say))
        else:
            self.client.send(c.result)
            c.context.close()

if __name__ == "__main__":
    result = reef.run(Main, timeout=60)
    print(json.dumps({"status": result.status.value, "messages": [m.decode() for m in result.messages],
                      "error": str(result.error)}))
"""


def _script_env(reef_home: Path) -> dict[str, str]:
    return dict(os.environ, REEF_HOME=str(reef_home), PYTHONPATH=str(REPO))


def test_classes_of_the_main_script_work_on_evaluators(tmp_path: Path, reef_home: Path) -> None:
    script = tmp_path / "my_job.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env=_script_env(reef_home),
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"status": "SUCCEEDED", "messages": ["hi hello hello"], "error": "None"}


DRIVER_SCRIPT = """\
import sys
import reef
from reef.settings import DriverTimeout, HeartbeatPeriod
from tests.integration.test_client import Endless

class Printing(Endless):
    @reef.on(reef.ActivityMessage)
    def pid(self, msg):
        print(int(msg.data), flush=True)

try:
    reef.run(Printing, parameters={DriverTimeout: 2.0, HeartbeatPeriod: 0.2})
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def _start_driver(tmp_path: Path, reef_home: Path, mode: str) -> tuple[subprocess.Popen[str], int]:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER_SCRIPT)
    driver = subprocess.Popen(
        [sys.executable, str(script), mode],
        stdout=subprocess.PIPE,
        text=True,
        env=_script_env(reef_home),
    )
    assert driver.stdout is not None
    pid = int(driver.stdout.readline())
    assert _alive(pid)
    return driver, pid


def test_ctrl_c_kills_the_job_and_leaves_no_process(tmp_path: Path, reef_home: Path) -> None:
    driver, pid = _start_driver(tmp_path, reef_home, "ctrl-c")
    try:
        driver.send_signal(signal.SIGINT)
        out, _ = driver.communicate(timeout=30)
        assert out.strip() == "interrupted"
        assert driver.returncode == 0
        _wait_for(lambda: not _alive(pid), timeout=10)
    finally:  # a driver that did not end must not outlive the test
        driver.kill()
        driver.communicate(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_a_ctrl_c_while_the_job_starts_kills_it(
    reef_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interrupt lands in reef.run before it waits (here: while the job's status is
    written): the job is killed all the same and nothing is left running (the fixture checks
    threads and child processes)."""
    from reef import client

    write_status = client._write_status

    def interrupted(root: str, doc: dict[str, object]) -> None:
        if doc.get("status") == "RUNNING":
            raise KeyboardInterrupt
        write_status(root, doc)

    monkeypatch.setattr(client, "_write_status", interrupted)
    with pytest.raises(KeyboardInterrupt):
        reef.run(Endless)
    (job,) = (reef_home / "jobs").iterdir()
    assert json.loads((job / "status.json").read_text())["status"] == "KILLED"


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGSTOP])
def test_an_evaluator_that_loses_its_driver_exits(
    tmp_path: Path, reef_home: Path, how: int
) -> None:
    driver, pid = _start_driver(tmp_path, reef_home, "plain")
    try:
        driver.send_signal(how)
        # killed: the stream breaks at once; stopped: silence for DriverTimeout (2 s)
        _wait_for(lambda: not _alive(pid), timeout=20)
    finally:
        driver.kill()
        driver.communicate(timeout=30)
    log = next(reef_home.glob("jobs/*/evaluators/evaluator-1/evaluator.log")).read_text()
    assert "exits (4)" in log
