"""The local runtime: real child processes (``tests.integration.runtime.child``) under a recording host."""

from __future__ import annotations

import json
import math
import os
import select
import signal
import socket
import stat
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reef.runtime import LocalRuntime
from reef.runtime._api import (
    ContainerExit,
    ExitKind,
    JobPaths,
    Launch,
    Placement,
    ResourceRequest,
)
from reef.runtime.local import LocalStatistics

ROOT = str(Path(__file__).resolve().parents[3])
CHILD = "tests.integration.runtime.child"
SECRET = b"-----BEGIN PRIVATE KEY-----\nnot really\n"
WAIT = 30.0  # generous: the machines are shared and noisy


# -- a recording host -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """What the fake host's prepare() returns for one request."""

    args: tuple[str, ...]
    python: str | None = None
    files: dict[str, bytes] = field(default_factory=lambda: {"secret.pem": SECRET})
    fail: bool = False  # prepare() raises


class FakeHost:
    """A thread-safe ``RuntimeHost`` that records every call and checks the runtime's promises:
    ``launched`` once per prepared evaluator, then ``exited`` exactly once."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.cond = threading.Condition()
        self.plans: dict[ResourceRequest, Plan] = {}
        self.prepared: list[tuple[str, ResourceRequest, Placement]] = []
        self.launched_at: dict[str, Placement] = {}
        self.exits: dict[str, ContainerExit] = {}
        self.failures: list[tuple[ResourceRequest, str]] = []
        self.problems: list[str] = []
        self.running = 0
        self.most_running = 0
        self.on_launched: Callable[[str], None] | None = None
        self.on_exited: Callable[[str, ContainerExit], None] | None = None

    def plan(self, request: ResourceRequest, *args: str, **kwargs: Any) -> ResourceRequest:
        """Make prepare() answer ``request`` with ``Plan(args or serve, **kwargs)``."""
        self.plans[request] = Plan(args or ("serve", self.address), **kwargs)
        return request

    # the RuntimeHost protocol

    def prepare(self, request: ResourceRequest, placement: Placement) -> Launch:
        with self.cond:
            plan = self.plans.get(request) or Plan(("serve", self.address))
            if plan.fail:
                raise RuntimeError("no launch for you")
            evaluator_id = f"ev-{len(self.prepared)}"
            self.prepared.append((evaluator_id, request, placement))
            self.cond.notify_all()
        env = {"PYTHONPATH": ROOT, "REEF_TEST_ID": evaluator_id, "REEF_TEST_TOKEN": "t0k3n"}
        return Launch(evaluator_id, plan.args, env, plan.files, plan.python, module=CHILD)

    def launched(self, evaluator_id: str, placement: Placement) -> None:
        with self.cond:
            if evaluator_id in self.launched_at or evaluator_id in self.exits:
                self.problems.append(f"launched({evaluator_id}) twice or after exited")
            self.launched_at[evaluator_id] = placement
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            self.cond.notify_all()
        if self.on_launched:
            self.on_launched(evaluator_id)

    def exited(self, evaluator_id: str, exit: ContainerExit) -> None:
        with self.cond:
            if evaluator_id in self.exits:
                self.problems.append(f"exited({evaluator_id}) twice")
            if (evaluator_id in self.launched_at) == (exit.kind is ExitKind.FAILED_TO_START):
                self.problems.append(f"exited({evaluator_id}, {exit}) does not match launched")
            if evaluator_id in self.launched_at:
                self.running -= 1
            self.exits[evaluator_id] = exit
            self.cond.notify_all()
        if self.on_exited:
            self.on_exited(evaluator_id, exit)

    def request_failed(self, request: ResourceRequest, reason: str) -> None:
        with self.cond:
            self.failures.append((request, reason))
            self.cond.notify_all()

    # waiting

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        with self.cond:
            if not self.cond.wait_for(condition, WAIT):
                pytest.fail(f"timed out waiting for {what}")

    def wait_launched(self, *ids: str) -> None:
        self.wait_for(lambda: all(i in self.launched_at for i in ids), f"launched {ids}")

    def wait_exited(self, evaluator_id: str) -> ContainerExit:
        self.wait_for(lambda: evaluator_id in self.exits, f"exited({evaluator_id})")
        return self.exits[evaluator_id]


# -- talking to the children ----------------------------------------------------------------------


@dataclass
class Child:
    """A connected ``serve`` child and what it said about itself."""

    conn: socket.socket
    report: dict[str, Any]

    def tell(self, command: str) -> None:
        self.conn.sendall(command.encode() + b"\n")


class Children:
    """An abstract Unix socket that ``serve`` children connect to (no path length limit)."""

    def __init__(self) -> None:
        self.address = f"reef-test-{uuid.uuid4().hex}"
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind("\0" + self.address)
        self.server.listen(64)
        self.server.settimeout(WAIT)
        self.known: dict[str, Child] = {}

    def hello(self, evaluator_id: str) -> Child:
        """The child of ``evaluator_id``, once it has connected and reported."""
        while evaluator_id not in self.known:
            conn, _ = self.server.accept()
            conn.settimeout(WAIT)
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(65536)
                assert chunk, "a child hung up before it reported"
                data += chunk
            report = json.loads(data)
            self.known[report["id"]] = Child(conn, report)
        return self.known[evaluator_id]

    def close(self) -> None:
        for child in self.known.values():
            child.conn.close()
        self.server.close()


def wait_gone(pid: int) -> None:
    """Wait until ``pid`` (not our child: no waitpid) has ended, by its pidfd."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(WAIT * 1000):
            pytest.fail(f"process {pid} is still alive")
    finally:
        os.close(fd)


def fake_venv(where: Path) -> Path:
    """A directory that looks like a virtual environment: ``bin/python`` -> this interpreter."""
    (where / "bin").mkdir(parents=True)
    (where / "bin" / "python").symlink_to(sys.executable)
    return where


def req(count: int = 1, memory_mb: int = 128, **kwargs: Any) -> ResourceRequest:
    return ResourceRequest(count=count, memory_mb=memory_mb, cores=1, **kwargs)


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def children() -> Iterator[Children]:
    kids = Children()
    yield kids
    kids.close()


@pytest.fixture
def paths(tmp_path: Path) -> JobPaths:
    return JobPaths("job-1", str(tmp_path), str(tmp_path / "evaluators"))


Started = Callable[..., tuple[LocalRuntime, FakeHost]]


@pytest.fixture
def started(children: Children, paths: JobPaths) -> Iterator[Started]:
    """``started(**settings)``: a LocalRuntime serving a FakeHost; stopped after the test."""
    made: list[tuple[LocalRuntime, FakeHost]] = []

    def start(**settings: Any) -> tuple[LocalRuntime, FakeHost]:
        runtime = LocalRuntime(**settings)
        host = FakeHost(children.address)
        runtime.start(host, paths)
        made.append((runtime, host))
        return runtime, host

    yield start
    for runtime, host in made:
        runtime.stop()
        assert not host.problems


# -- launching ------------------------------------------------------------------------------------


@pytest.mark.processes
@pytest.mark.timeout(60)
def test_an_evaluator_starts_in_its_folder_with_env_args_and_private_files(
    started: Started, children: Children, paths: JobPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REEF_TEST_INHERITED", "from the driver")
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # the runtime must set it itself
    runtime, host = started()
    request = host.plan(req(memory_mb=256), "serve", children.address, "--on-term", "exit")
    runtime.request(request)
    report = children.hello("ev-0").report

    folder = os.path.join(paths.evaluators, "ev-0")
    assert report["cwd"] == folder
    assert report["dir_mode"] == 0o700
    assert report["argv"] == ["serve", children.address, "--on-term", "exit"]
    assert report["executable"] == sys.executable
    assert report["env"] == {
        "REEF_TEST_ID": "ev-0",
        "REEF_TEST_TOKEN": "t0k3n",
        "REEF_TEST_INHERITED": "from the driver",
        "PYTHONUNBUFFERED": "1",
    }
    assert report["stdin"] == "/dev/null"
    assert report["files"] == {
        "evaluator.log": {"mode": 0o600, "content": ""},
        "secret.pem": {"mode": 0o600, "content": SECRET.decode()},
    }
    # A session of its own: terminal signals (Ctrl-C) reach the driver only.
    assert report["pid"] == report["pgid"] == report["sid"]

    host.wait_launched("ev-0")
    placement = host.launched_at["ev-0"]
    assert placement.host == socket.gethostname()
    assert (placement.memory_mb, placement.cores, placement.runtime_name) == (256, 1, "local")
    assert placement.container_id
    assert placement.log_path == os.path.join(folder, "evaluator.log")
    assert host.prepared[0][2].container_id == placement.container_id

    children.known["ev-0"].tell("exit 0")
    assert host.wait_exited("ev-0") == ContainerExit(
        ExitKind.EXITED, code=0, log_path=placement.log_path
    )
    log = Path(placement.log_path).read_text()
    assert log.startswith("hello from ev-0\nline 0\n")
    assert "goodbye 0" in log
    assert os.listdir(folder) == ["evaluator.log"]  # the secret went with the process


@pytest.mark.processes
@pytest.mark.timeout(60)
def test_at_most_max_evaluators_run_and_the_rest_start_in_order(
    started: Started, children: Children
) -> None:
    runtime, host = started(max_evaluators=2)
    first, second, third = req(1, 101), req(2, 102), req(1, 103)
    for request in (first, second, third):
        runtime.request(request)
    host.wait_launched("ev-0", "ev-1")
    assert runtime.statistics() == LocalStatistics(queued=2, starting=0, running=2)
    assert [r.memory_mb for _, r, _ in host.prepared] == [101, 102]

    children.hello("ev-1").tell("exit 0")  # ends by itself
    host.wait_launched("ev-2")
    runtime.kill("ev-0")  # ends on request
    host.wait_launched("ev-3")
    assert [r.memory_mb for _, r, _ in host.prepared] == [101, 102, 102, 103]
    assert runtime.statistics() == LocalStatistics(queued=0, starting=0, running=2)

    for evaluator_id in ("ev-2", "ev-3"):
        children.hello(evaluator_id).tell("exit 0")
    host.wait_for(lambda: len(host.exits) == 4, "four exits")
    assert host.exits["ev-0"].kind is ExitKind.KILLED
    assert all(host.exits[i].clean for i in ("ev-1", "ev-2", "ev-3"))
    assert host.most_running == 2


@pytest.mark.processes
@pytest.mark.timeout(60)
def test_evaluators_that_end_at_once_free_their_slots(started: Started) -> None:
    runtime, host = started(max_evaluators=2)
    runtime.request(host.plan(req(5), "exit", "0"))
    host.wait_for(lambda: len(host.exits) == 5, "five exits")
    assert all(e.clean for e in host.exits.values())
    assert host.most_running <= 2


# -- how evaluators end ---------------------------------------------------------------------------


@pytest.mark.processes
@pytest.mark.timeout(60)
def test_a_failing_evaluator_reports_its_code_and_the_tail_of_its_log(started: Started) -> None:
    runtime, host = started()
    runtime.request(host.plan(req(), "exit", "3"))
    exit = host.wait_exited("ev-0")
    assert (exit.kind, exit.code, exit.signal) == (ExitKind.EXITED, 3, None)
    assert exit.log_path.endswith(os.path.join("ev-0", "evaluator.log"))
    header, *lines = exit.diagnostics.splitlines()
    assert exit.log_path in header
    # The last 20 lines: bounded, ending with what it wrote to stderr.
    assert lines == [f"line {i}" for i in range(21, 40)] + ["goodbye 3"]
    assert exit.describe().startswith("exited with code 3 (last lines of")


@pytest.mark.processes
@pytest.mark.timeout(60)
def test_a_signal_we_did_not_send_is_an_exit_with_that_signal(
    started: Started, children: Children
) -> None:
    runtime, host = started()
    runtime.request(req())
    children.hello("ev-0").tell(f"signal {int(signal.SIGTERM)}")
    exit = host.wait_exited("ev-0")
    assert (exit.kind, exit.code, exit.signal) == (ExitKind.EXITED, None, signal.SIGTERM)
    assert "hello from ev-0" in exit.diagnostics
    assert exit.describe().startswith(f"was killed by signal {int(signal.SIGTERM)}")


@pytest.mark.processes
@pytest.mark.timeout(60)
def test_kill_ends_the_whole_process_group_once(started: Started, children: Children) -> None:
    runtime, host = started()
    runtime.request(host.plan(req(), "serve", children.address, "--grandchild"))
    report = children.hello("ev-0").report
    assert report["grandchild_pgid"] == report["pid"]
    host.wait_launched("ev-0")

    runtime.kill("ev-0")
    runtime.kill("ev-0")
    exit = host.wait_exited("ev-0")
    assert (exit.kind, exit.code, exit.signal) == (ExitKind.KILLED, None, signal.SIGKILL)
    assert exit.diagnostics == ""
    wait_gone(int(report["grandchild"]))
    runtime.kill("ev-0")  # ended: ignored
    runtime.kill("no-such-evaluator")
    runtime.stop()
    assert len(host.exits) == 1


@pytest.mark.processes
@pytest.mark.timeout(60)
def test_what_an_evaluator_leaves_behind_in_its_group_ends_with_it(
    started: Started, children: Children
) -> None:
    runtime, host = started()
    runtime.request(host.plan(req(), "serve", children.address, "--grandchild"))
    child = children.hello("ev-0")
    child.tell("exit 0")
    assert host.wait_exited("ev-0").clean
    wait_gone(int(child.report["grandchild"]))


@pytest.mark.processes
@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("how", "on_term"), [("kill", "ignore"), ("kill", "exit"), ("stop", "ignore")]
)
def test_kill_grace_sends_sigterm_first_then_sigkill(
    started: Started, children: Children, how: str, on_term: str
) -> None:
    grace = 0.5
    runtime, host = started(kill_grace=grace)
    runtime.request(host.plan(req(), "serve", children.address, "--on-term", on_term))
    children.hello("ev-0")
    host.wait_launched("ev-0")
    began = time.monotonic()
    if how == "kill":
        runtime.kill("ev-0")
    else:
        runtime.stop()
    exit = host.wait_exited("ev-0")
    assert exit.kind is ExitKind.KILLED
    if on_term == "ignore":
        assert exit.signal == signal.SIGKILL
        assert time.monotonic() - began >= grace
    else:
        assert exit.code == 7
        assert "got SIGTERM" in Path(exit.log_path).read_text()


# -- stop -----------------------------------------------------------------------------------------


@pytest.mark.processes
@pytest.mark.timeout(60)
def test_stop_ends_everything_and_the_runtime_can_serve_another_job(
    started: Started, children: Children, tmp_path: Path
) -> None:
    before = set(threading.enumerate())
    runtime, host = started(max_evaluators=2)
    runtime.request(host.plan(req(4), "serve", children.address, "--grandchild"))
    grandchildren = [children.hello(i).report["grandchild"] for i in ("ev-0", "ev-1")]
    host.wait_launched("ev-0", "ev-1")
    threads = set(threading.enumerate()) - before
    assert threads
    assert all(t.name.startswith("reef-local-") for t in threads)

    runtime.stop()
    assert {i: e.kind for i, e in host.exits.items()} == {
        "ev-0": ExitKind.KILLED,
        "ev-1": ExitKind.KILLED,
    }
    assert len(host.prepared) == 2  # the queued two were dropped
    assert not any(t.is_alive() for t in threads)
    for pid in grandchildren:
        wait_gone(pid)
    runtime.stop()  # idempotent
    assert runtime.statistics() == LocalStatistics(0, 0, 0)

    other = FakeHost(children.address)
    second = JobPaths("job-2", str(tmp_path / "job-2"), str(tmp_path / "job-2" / "evaluators"))
    runtime.start(other, second)
    runtime.request(other.plan(req(), "exit", "0"))
    assert other.wait_exited("ev-0").clean
    runtime.stop()
    assert not other.problems


@pytest.mark.processes
@pytest.mark.timeout(60)
def test_callbacks_may_call_back_into_the_runtime(started: Started) -> None:
    runtime, host = started()

    def relaunch(evaluator_id: str, exit: ContainerExit) -> None:
        if len(host.exits) < 3:
            runtime.request(req())
        else:
            runtime.stop()  # from the runtime's own thread: starts the stop, cannot wait for it

    host.on_launched = runtime.kill
    host.on_exited = relaunch
    runtime.request(req())
    host.wait_for(lambda: len(host.exits) == 3, "three exits")
    runtime.stop()  # from here it waits for every thread
    assert [e.kind for e in host.exits.values()] == [ExitKind.KILLED] * 3
    assert not [t for t in threading.enumerate() if t.name.startswith("reef-local-")]


# -- failures to start ----------------------------------------------------------------------------


def _not_executable(where: Path) -> str:
    path = where / "python"
    path.write_text("")
    return str(path)


def _not_a_program(where: Path) -> str:
    path = where / "python"
    path.write_bytes(b"\x7fELF garbage")
    path.chmod(0o700)
    return str(path)


@pytest.mark.processes
@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda where: str(where / "missing"), "neither an executable Python interpreter"),
        (_not_executable, "neither an executable Python interpreter"),
        (str, "a directory without an executable"),
        (_not_a_program, "Exec format error"),
    ],
)
def test_a_bad_interpreter_fails_to_start_and_the_queue_goes_on(
    started: Started, tmp_path: Path, make: Callable[[Path], str], says: str
) -> None:
    python = make(tmp_path)
    runtime, host = started(max_evaluators=1)
    runtime.request(host.plan(req(2), "exit", "0", python=python))
    runtime.request(host.plan(req(1, 200), "exit", "0"))
    host.wait_for(lambda: len(host.exits) == 3, "three exits")
    for evaluator_id in ("ev-0", "ev-1"):
        exit = host.exits[evaluator_id]
        assert exit.kind is ExitKind.FAILED_TO_START
        assert says in exit.diagnostics
        assert python in exit.diagnostics or says == "Exec format error"
    assert host.exits["ev-2"].clean
    assert set(host.launched_at) == {"ev-2"}


@pytest.mark.processes
@pytest.mark.timeout(60)
def test_a_file_name_that_leaves_the_folder_fails_to_start(
    started: Started, paths: JobPaths
) -> None:
    runtime, host = started()
    runtime.request(host.plan(req(), "exit", "0", files={"../escaped": b"x"}))
    exit = host.wait_exited("ev-0")
    assert exit.kind is ExitKind.FAILED_TO_START
    assert "'../escaped' is not a plain file name" in exit.diagnostics
    assert os.listdir(paths.evaluators) == []


def test_a_failing_prepare_fails_the_rest_of_its_request(started: Started) -> None:
    runtime, host = started()
    request = host.plan(req(3), fail=True)
    runtime.request(request)
    host.wait_for(lambda: bool(host.failures), "request_failed")
    assert host.failures == [
        (request, "preparing an evaluator failed: RuntimeError('no launch for you')")
    ]
    assert host.prepared == []
    assert runtime.statistics() == LocalStatistics(0, 0, 0)


# -- interpreters ---------------------------------------------------------------------------------


@pytest.mark.processes
@pytest.mark.timeout(60)
def test_the_interpreter_is_the_launch_s_then_the_request_s_then_the_runtime_s(
    started: Started, children: Children, tmp_path: Path
) -> None:
    runtimes, requested, launched = (fake_venv(tmp_path / n) for n in ("a", "b", "c"))
    runtime, host = started(python=str(runtimes), max_evaluators=3)
    runtime.request(req(1, 101, environment=str(requested)))
    runtime.request(req(1, 102))
    runtime.request(
        host.plan(
            req(1, 103, environment=str(requested)), "serve", children.address, python=str(launched)
        )
    )
    host.wait_for(lambda: len(host.prepared) == 3, "three prepared")
    executables = {r.memory_mb: children.hello(i).report["executable"] for i, r, _ in host.prepared}
    assert executables == {
        101: str(requested / "bin" / "python"),
        102: str(runtimes / "bin" / "python"),
        103: str(launched / "bin" / "python"),
    }


# -- checks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "says"),
    [
        (ResourceRequest(count=0, memory_mb=1, cores=1), r"count=0: give a whole number >= 1"),
        (ResourceRequest(count=1, memory_mb=0, cores=1), r"memory_mb=0: give"),
        (ResourceRequest(count=1, memory_mb=1, cores=-2), r"cores=-2: give"),
        (req(runtime_name="yarn"), r"runtime_name='yarn': this is the 'local' runtime"),
        (
            req(node_names=("elsewhere.example",), relax_locality=False),
            r"node_names=\('elsewhere.example',\).*only on this machine \(.*localhost.*"
            r"set relax_locality=True",
        ),
        (req(rack_names=("/rack-7",), relax_locality=False), r"rack_names=\('/rack-7',\)"),
        (req(environment="/no/such/python"), r"environment='/no/such/python' is neither"),
    ],
)
def test_check_rejects_what_can_never_run_here(request_: ResourceRequest, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        LocalRuntime().check(request_)


def test_check_rejects_environments_that_are_not_pythons(tmp_path: Path) -> None:
    runtime = LocalRuntime()
    with pytest.raises(ValueError, match="a directory without an executable"):
        runtime.check(req(environment=str(tmp_path)))
    with pytest.raises(ValueError, match="neither an executable Python interpreter"):
        runtime.check(req(environment=_not_executable(tmp_path)))


@pytest.mark.parametrize(
    "node",
    ["localhost", "127.0.0.1", socket.gethostname(), socket.getfqdn(), "LOCALHOST"],
)
def test_check_accepts_this_machine_by_any_of_its_names(node: str) -> None:
    LocalRuntime().check(req(node_names=("elsewhere.example", node), relax_locality=False))


def test_check_accepts_what_can_run_here(tmp_path: Path) -> None:
    runtime = LocalRuntime()
    runtime.check(req(node_names=("elsewhere.example",)))  # relaxed: anywhere will do
    runtime.check(req(rack_names=("/default-rack",), relax_locality=False))
    runtime.check(req(environment=sys.executable, runtime_name="local"))
    runtime.check(req(environment=str(fake_venv(tmp_path / "venv"))))


def test_request_checks_too_and_needs_a_started_runtime(started: Started) -> None:
    with pytest.raises(RuntimeError, match=r"not serving a job: call start\(\) first"):
        LocalRuntime().request(req())
    runtime, _ = started()
    with pytest.raises(ValueError, match="count=0"):
        runtime.request(ResourceRequest(count=0, memory_mb=1, cores=1))
    assert runtime.statistics() == LocalStatistics(0, 0, 0)


def test_a_runtime_serves_one_job_at_a_time(started: Started, paths: JobPaths) -> None:
    runtime, host = started()
    with pytest.raises(RuntimeError, match=r"serving job 'job-1': call stop\(\) before"):
        runtime.start(host, paths)


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"max_evaluators": 0}, r"max_evaluators=0: give a whole number >= 1"),
        ({"max_evaluators": True}, r"max_evaluators=True"),
        ({"max_evaluators": 2.5}, r"max_evaluators=2.5"),
        ({"default_memory_mb": 0}, r"default_memory_mb=0"),
        ({"default_cores": -1}, r"default_cores=-1"),
        ({"kill_grace": -1}, r"kill_grace=-1: give the seconds between SIGTERM and SIGKILL"),
        ({"kill_grace": math.nan}, r"kill_grace=nan"),
        ({"python": "/no/such/python"}, r"python='/no/such/python' is neither"),
    ],
)
def test_settings_are_checked(settings: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        LocalRuntime(**settings)


def test_describe_gives_the_settings() -> None:
    runtime = LocalRuntime(3, default_memory_mb=1024, default_cores=2, kill_grace=1.5)
    assert runtime.describe() == {
        "name": "local",
        "host": socket.gethostname(),
        "max_evaluators": 3,
        "default_memory_mb": 1024,
        "default_cores": 2,
        "python": sys.executable,
        "kill_grace": 1.5,
    }
    assert (runtime.max_evaluators, runtime.default_memory_mb, runtime.default_cores) == (
        3,
        1024,
        2,
    )
    assert stat.S_ISREG(os.stat(runtime.python).st_mode)
