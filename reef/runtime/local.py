"""The local runtime: evaluators are child processes of the driver, on this machine.

Like REEF's local runtime, at most ``max_evaluators`` (4 by default) processes run at once and the
rest of the requested evaluators wait their turn in order; each evaluator gets a folder of its own
(``<job>/evaluators/<evaluator id>``, mode 0700) holding its private files (mode 0600) and its log
(``evaluator.log``: standard output and standard error). Memory and cores are recorded in the
placement, not enforced.

Each evaluator runs in a session and process group of its own, so a Ctrl-C in the driver's terminal
does not reach it and ``kill`` ends it together with any process it started.

Threads: one supervisor (``reef-local-supervisor``) starts queued evaluators and enforces kill
deadlines; one waiter per running process (``reef-local-wait-<id>``) sees it end and reports it.
Host callbacks run on these threads, never under the runtime's lock, so they may call back into the
runtime.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reef.runtime._api import (
    ContainerExit,
    ExitKind,
    JobPaths,
    Launch,
    Placement,
    ResourceRequest,
    Runtime,
    RuntimeHost,
)

__all__ = ["LocalRuntime", "LocalStatistics"]

log = logging.getLogger("reef.runtime.local")

LOG_NAME = "evaluator.log"
# The tail of a failed evaluator's log that goes into its diagnostics (and so into the user's
# error message): enough for a traceback, bounded so that a noisy process cannot flood the driver.
TAIL_LINES = 20
TAIL_BYTES = 4096
# What YARN calls a node without a rack; the only rack this machine is in.
DEFAULT_RACK = "/default-rack"


@dataclass(frozen=True, slots=True)
class LocalStatistics:
    """A snapshot of a local runtime: evaluators waiting for a slot, being started, running."""

    queued: int
    starting: int
    running: int


class _Pending:
    """One ``request()`` call, and how many of its evaluators have not been started yet."""

    __slots__ = ("remaining", "request")

    def __init__(self, request: ResourceRequest) -> None:
        self.request = request
        self.remaining = request.count


class _Process:
    """A started evaluator process; mutable fields are guarded by the runtime's lock."""

    __slots__ = (
        "deadline",
        "evaluator_id",
        "files",
        "killed",
        "log_path",
        "popen",
        "reaped",
    )

    def __init__(
        self,
        evaluator_id: str,
        popen: subprocess.Popen[bytes],
        log_path: str,
        files: tuple[str, ...],
    ) -> None:
        self.evaluator_id = evaluator_id
        self.popen = popen
        self.log_path = log_path
        self.files = files  # private files to delete once the process has ended
        self.killed = False  # kill() or stop() ended it (or is ending it)
        self.reaped = False  # its pid may be reused: never signal its group again
        self.deadline: float | None = None  # when SIGTERM turns into SIGKILL


class _Job:
    """Everything a runtime holds for one job; guarded by the runtime's lock."""

    def __init__(self, host: RuntimeHost, paths: JobPaths) -> None:
        self.host = host
        self.paths = paths
        self.queue: deque[_Pending] = deque()
        self.live: dict[str, _Process] = {}  # started, ``exited`` not yet delivered
        self.starting = 0  # taken from the queue, not yet in ``live`` (or failed)
        self.containers = 0
        self.stopping = False
        self.supervisor: threading.Thread | None = None
        self.waiters: list[threading.Thread] = []

    def threads(self) -> list[threading.Thread]:
        """The threads started for this job, supervisor first."""
        return ([self.supervisor] if self.supervisor else []) + self.waiters


class LocalRuntime(Runtime):
    """Runs evaluators as child processes of the driver, at most ``max_evaluators`` at once.

    ``default_memory_mb`` and ``default_cores`` are the size of an evaluator whose request does not
    say. ``python`` is the interpreter (or virtual-environment directory) of evaluators whose
    request and launch do not name one; by default the driver's own. ``kill_grace`` is how many
    seconds ``kill`` and ``stop`` give an evaluator between SIGTERM and SIGKILL; 0 (the default,
    as in REEF) sends SIGKILL at once.
    """

    name = "local"

    def __init__(
        self,
        max_evaluators: int = 4,
        *,
        default_memory_mb: int = 512,
        default_cores: int = 1,
        python: str | None = None,
        kill_grace: float = 0.0,
    ) -> None:
        _require_count("max_evaluators", max_evaluators)
        _require_count("default_memory_mb", default_memory_mb)
        _require_count("default_cores", default_cores)
        if python is not None:
            problem = _interpreter_problem(python)
            if problem:
                raise ValueError(f"python={python!r} {problem}")
        if (
            isinstance(kill_grace, bool)
            or not isinstance(kill_grace, int | float)
            or not math.isfinite(kill_grace)
            or kill_grace < 0
        ):
            raise ValueError(
                f"kill_grace={kill_grace!r}: give the seconds between SIGTERM and SIGKILL, a "
                "finite number >= 0 (0 sends SIGKILL at once)"
            )
        self._max = max_evaluators
        self._default_memory_mb = default_memory_mb
        self._default_cores = default_cores
        self._python = python
        self._kill_grace = float(kill_grace)
        self._host_name = socket.gethostname()
        self._names: frozenset[str] | None = None  # this machine's names, found when first needed
        self._cond = threading.Condition(threading.Lock())
        self._job: _Job | None = None

    @property
    def max_evaluators(self) -> int:
        """How many evaluator processes may run at once."""
        return self._max

    @property
    def default_memory_mb(self) -> int:
        """The memory of an evaluator whose request does not say (MB)."""
        return self._default_memory_mb

    @property
    def default_cores(self) -> int:
        """The cores of an evaluator whose request does not say."""
        return self._default_cores

    @property
    def python(self) -> str:
        """The interpreter (or virtual environment) evaluators run with unless told otherwise."""
        return self._python if self._python is not None else sys.executable

    @property
    def kill_grace(self) -> float:
        """Seconds between SIGTERM and SIGKILL when an evaluator is killed (0: SIGKILL at once)."""
        return self._kill_grace

    def describe(self) -> Mapping[str, object]:
        """The runtime's settings, for records and status pages."""
        return {
            "name": self.name,
            "host": self._host_name,
            "max_evaluators": self._max,
            "default_memory_mb": self._default_memory_mb,
            "default_cores": self._default_cores,
            "python": self.python,
            "kill_grace": self._kill_grace,
        }

    def statistics(self) -> LocalStatistics:
        """How many evaluators are queued, being started and running, now."""
        with self._cond:
            job = self._job
            if job is None:
                return LocalStatistics(0, 0, 0)
            queued = sum(pending.remaining for pending in job.queue)
            return LocalStatistics(queued, job.starting, len(job.live))

    # -- the runtime interface -------------------------------------------------------------------

    def start(self, host: RuntimeHost, paths: JobPaths) -> None:
        """Begin serving ``host`` for one job; evaluators' folders go under ``paths.evaluators``.

        Raises ``RuntimeError`` if the runtime is serving another job: ``stop()`` it first.
        """
        with self._cond:
            previous = self._job
            if previous is not None and not previous.stopping:
                raise RuntimeError(
                    f"the local runtime is serving job {previous.paths.job_id!r}: call stop() "
                    f"before starting job {paths.job_id!r}"
                )
        if previous is not None:
            if threading.current_thread() in previous.threads():
                raise RuntimeError("a job cannot be started from a callback of the previous job")
            # stop() was called from one of the previous job's threads and could not wait for
            # them: wait here, so that no two jobs' threads ever overlap.
            self._finish_stop(previous)
        os.makedirs(paths.evaluators, mode=0o700, exist_ok=True)
        with self._cond:
            if self._job is not None:  # another start() won the race
                raise RuntimeError(f"the local runtime is serving job {self._job.paths.job_id!r}")
            job = _Job(host, paths)
            job.supervisor = threading.Thread(
                target=self._supervise, args=(job,), name="reef-local-supervisor", daemon=True
            )
            self._job = job
            job.supervisor.start()

    def check(self, request: ResourceRequest) -> None:
        """Raise ``ValueError`` if this runtime can never satisfy ``request``: sizes below 1,
        another runtime's name, strict locality elsewhere than this machine, an environment that
        is not a Python interpreter or a virtual environment."""
        for what in ("count", "memory_mb", "cores"):
            value = getattr(request, what)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{what}={value!r}: give a whole number >= 1")
        if request.runtime_name is not None and request.runtime_name != self.name:
            raise ValueError(
                f"runtime_name={request.runtime_name!r}: this is the {self.name!r} runtime; "
                f"name {self.name!r} or leave runtime_name None"
            )
        if not request.relax_locality and (request.node_names or request.rack_names):
            names = self._local_names()
            if not any(node.lower() in names for node in request.node_names) and (
                DEFAULT_RACK not in request.rack_names
            ):
                raise ValueError(
                    f"node_names={request.node_names!r} and rack_names={request.rack_names!r} with "
                    f"relax_locality=False: the local runtime runs evaluators only on this machine "
                    f"({', '.join(sorted(names))}; rack {DEFAULT_RACK!r}); name one of these or "
                    "set relax_locality=True"
                )
        if request.environment is not None:
            problem = _interpreter_problem(request.environment)
            if problem:
                raise ValueError(f"environment={request.environment!r} {problem}")

    def request(self, request: ResourceRequest) -> None:
        """Queue ``request.count`` evaluators; they start in order as slots free up.

        Raises ``ValueError`` as ``check`` does, ``RuntimeError`` if the runtime was not started.
        Requests made while the runtime is stopping are dropped.
        """
        self.check(request)
        with self._cond:
            job = self._job
            if job is None:
                raise RuntimeError("the local runtime is not serving a job: call start() first")
            if job.stopping:
                log.debug("dropping %r: the local runtime is stopping", request)
                return
            job.queue.append(_Pending(request))
            self._cond.notify_all()

    def kill(self, evaluator_id: str) -> None:
        """End the evaluator's process and every process in its group; ``exited`` (``KILLED``)
        follows from another thread. Unknown and ended evaluators are ignored."""
        with self._cond:
            job = self._job
            process = job.live.get(evaluator_id) if job is not None else None
            if process is not None:
                self._kill(process)

    def stop(self) -> None:
        """Drop queued requests, kill every evaluator, deliver their ``exited`` callbacks and join
        every thread of the runtime; idempotent.

        Called from a host callback (that is, from one of the runtime's own threads) it cannot wait
        for those threads: it starts the stop and returns, and the threads end by themselves; a
        later ``stop()`` or ``start()`` from another thread waits for them.
        """
        with self._cond:
            job = self._job
            if job is None:
                return
            if not job.stopping:
                job.stopping = True
                job.queue.clear()
                for process in job.live.values():
                    self._kill(process)
                self._cond.notify_all()
            own = threading.current_thread() in job.threads()
        if not own:
            self._finish_stop(job)

    # -- internals -------------------------------------------------------------------------------

    def _finish_stop(self, job: _Job) -> None:
        """Wait for a stopping job's threads (so for its processes and callbacks) and forget it."""
        # The supervisor ends only once every process has been reported, and it alone starts
        # waiters: once it has ended, the list of waiters is final and every one has started.
        assert job.supervisor is not None
        job.supervisor.join()
        with self._cond:
            waiters = list(job.waiters)
        for waiter in waiters:
            waiter.join()
        with self._cond:
            if self._job is job:
                self._job = None

    def _local_names(self) -> frozenset[str]:
        if self._names is None:
            # getfqdn() may ask DNS: only when a strict request needs it, and only once.
            names = {"localhost", "127.0.0.1", self._host_name, socket.getfqdn()}
            self._names = frozenset(name.lower() for name in names if name)
        return self._names

    def _kill(self, process: _Process) -> None:
        """Start ending ``process`` (SIGTERM with a deadline, or SIGKILL). Holds the lock."""
        if process.reaped or process.killed:
            return
        if _has_ended(process.popen.pid):
            return  # it ended by itself: its waiter reports that, not a kill
        process.killed = True
        if self._kill_grace > 0:
            process.deadline = time.monotonic() + self._kill_grace
            _signal_group(process.popen.pid, signal.SIGTERM)
            self._cond.notify_all()  # the supervisor enforces the new deadline
        else:
            _signal_group(process.popen.pid, signal.SIGKILL)

    def _supervise(self, job: _Job) -> None:
        """Start queued evaluators as slots free up; SIGKILL processes past their kill deadline.
        Ends once the job is stopping and every process has been reported."""
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    next_deadline = math.inf
                    for process in job.live.values():
                        if process.deadline is None or process.reaped:
                            continue
                        if process.deadline <= now:
                            process.deadline = None
                            _signal_group(process.popen.pid, signal.SIGKILL)
                        else:
                            next_deadline = min(next_deadline, process.deadline)
                    if job.stopping:
                        if not job.live and not job.starting:
                            return
                    elif job.queue and job.starting + len(job.live) < self._max:
                        pending = job.queue[0]
                        pending.remaining -= 1
                        if pending.remaining == 0:
                            job.queue.popleft()
                        job.starting += 1
                        job.containers += 1
                        container = job.containers
                        break
                    self._cond.wait(None if next_deadline == math.inf else next_deadline - now)
            self._launch(job, pending, container)

    def _launch(self, job: _Job, pending: _Pending, container: int) -> None:
        """Prepare, set up and start one evaluator of ``pending``; report how that went."""
        request = pending.request
        placement = Placement(
            host=self._host_name,
            memory_mb=request.memory_mb,
            cores=request.cores,
            runtime_name=self.name,
            container_id=f"local_{job.paths.job_id}_{container:06d}",
        )
        try:
            launch = job.host.prepare(request, placement)
        except Exception as exc:
            log.exception("the host failed to prepare an evaluator for %r", request)
            with self._cond:
                job.starting -= 1
                # Its remaining evaluators would fail the same way: drop them, report once.
                if pending.remaining:
                    pending.remaining = 0
                    with contextlib.suppress(ValueError):  # stop() may have cleared the queue
                        job.queue.remove(pending)
                self._cond.notify_all()
            _call(job.host.request_failed, request, f"preparing an evaluator failed: {exc!r}")
            return

        evaluator_id = launch.evaluator_id
        log_path = ""
        try:
            _require_plain_name("evaluator id", evaluator_id)
            directory = os.path.join(job.paths.evaluators, evaluator_id)
            log_path = os.path.join(directory, LOG_NAME)
            popen, files = self._start_process(launch, request, directory, log_path)
        except Exception as exc:  # every failure to start is reported, to the host, as such
            with self._cond:
                job.starting -= 1
                self._cond.notify_all()
            outcome = ContainerExit(
                ExitKind.FAILED_TO_START,
                diagnostics=f"could not start the evaluator process: {exc}",
                log_path=log_path if log_path and os.path.exists(log_path) else "",
            )
            _call(job.host.exited, evaluator_id, outcome)
            return

        # The placement given to prepare() could not name the log: the evaluator's folder is
        # named after the id that prepare() returned.
        placement = dataclasses.replace(placement, log_path=log_path)

        process = _Process(evaluator_id, popen, log_path, files)
        waiter = threading.Thread(
            target=self._wait,
            args=(job, process),
            name=f"reef-local-wait-{evaluator_id}",
            daemon=True,
        )
        with self._cond:
            job.starting -= 1
            job.live[evaluator_id] = process
            job.waiters.append(waiter)
            if job.stopping:
                self._kill(process)  # stop() came while it was starting
        _call(job.host.launched, evaluator_id, placement)
        # Started only now, so that the host always hears ``launched`` before ``exited``.
        waiter.start()

    def _start_process(
        self, launch: Launch, request: ResourceRequest, directory: str, log_path: str
    ) -> tuple[subprocess.Popen[bytes], tuple[str, ...]]:
        """Create the evaluator's folder and private files and start its process."""
        if launch.python is not None:
            source, choice = "Launch.python", launch.python
        elif request.environment is not None:
            source, choice = "the request's environment", request.environment
        else:
            source, choice = "the runtime's python", self.python
        problem = _interpreter_problem(choice)
        if problem:
            raise ValueError(f"the interpreter {choice!r} ({source}) {problem}")
        python = os.path.abspath(choice)  # the child starts in another folder
        if os.path.isdir(python):
            python = os.path.join(python, "bin", "python")
        for file_name in launch.files:
            _require_plain_name("file name", file_name)
            if file_name == LOG_NAME:
                raise ValueError(f"the file name {LOG_NAME!r} is the evaluator's log")

        os.mkdir(directory, 0o700)  # fails if it exists: an evaluator never inherits a folder
        files: list[str] = []
        try:
            for file_name, content in launch.files.items():
                path = os.path.join(directory, file_name)
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
                files.append(path)
                with open(fd, "wb") as f:
                    f.write(content)
            env = {**os.environ, **launch.env, "PYTHONUNBUFFERED": "1"}
            flags = os.O_CREAT | os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
            log_fd = os.open(log_path, flags, 0o600)
            try:
                popen = subprocess.Popen(
                    [python, "-m", launch.module, *launch.args],
                    cwd=directory,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log_fd,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own group, out of reach of terminal signals
                    close_fds=True,
                )
            finally:
                os.close(log_fd)
        except BaseException:
            _remove(files)
            raise
        return popen, tuple(files)

    def _wait(self, job: _Job, process: _Process) -> None:
        """Wait for one process to end, clean up after it and report it."""
        pid = process.popen.pid
        # Wait without reaping: the zombie keeps the pid, and with it the process group id, ours
        # until the reap below, so neither this group kill nor kill() can hit a stranger.
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            # Reaped by someone else (a SIGCHLD handler?): its pid may be reused, leave the group.
            log.warning("evaluator %s (pid %d) was reaped elsewhere", process.evaluator_id, pid)
        else:
            # Children it left behind in its group end with it (a container ends as a whole).
            _signal_group(pid, signal.SIGKILL)
        with self._cond:
            returncode = process.popen.wait()
            process.reaped = True
            killed = process.killed
        _remove(process.files)  # keys and tokens do not outlive the process they were for
        code, sig = (None, -returncode) if returncode < 0 else (returncode, None)
        if killed:
            outcome = ContainerExit(ExitKind.KILLED, code, sig, log_path=process.log_path)
        else:
            diagnostics = _log_tail(process.log_path) if returncode else ""
            outcome = ContainerExit(ExitKind.EXITED, code, sig, diagnostics, process.log_path)
        _call(job.host.exited, process.evaluator_id, outcome)
        with self._cond:
            # Its slot frees only now, so the host never sees more than max_evaluators at once.
            del job.live[process.evaluator_id]
            self._cond.notify_all()


def _call(callback: Callable[..., object], *args: object) -> None:
    """Call a host callback from a runtime thread: a failing host is logged, never fatal here."""
    try:
        callback(*args)
    except Exception:
        log.exception("the host's %s%r failed", getattr(callback, "__name__", callback), args)


def _remove(paths: tuple[str, ...] | list[str]) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue  # the evaluator deleted it itself
        except OSError as exc:
            log.warning("could not delete %s: %s", path, exc)


def _signal_group(pgid: int, sig: int) -> None:
    # No such group: every process of it has ended already.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _has_ended(pid: int) -> bool:
    """Whether our child ``pid`` has ended (without reaping it)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _interpreter_problem(path: str) -> str | None:
    """What is wrong with ``path`` as an interpreter or a virtual environment, or None."""
    if os.path.isdir(path):
        python = os.path.join(path, "bin", "python")
        if os.path.isfile(python) and os.access(python, os.X_OK):
            return None
        return (
            f"is a directory without an executable {python!r}: give a virtual environment "
            "(a directory with bin/python) or the path of a Python interpreter"
        )
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return None
    return (
        "is neither an executable Python interpreter nor a virtual-environment directory "
        "(containing bin/python): give the path of one of these"
    )


def _require_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r}: give a whole number >= 1")


def _require_plain_name(what: str, name: str) -> None:
    # Names become paths in the job's folder: nothing may point outside the evaluator's own.
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"the {what} {name!r} is not a plain file name")


def _log_tail(path: str) -> str:
    """The last lines of a log (at most TAIL_LINES lines, TAIL_BYTES bytes), for diagnostics."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            start = max(0, size - TAIL_BYTES)
            f.seek(start)
            data = f.read(TAIL_BYTES)
    except OSError as exc:
        return f"its log {path} cannot be read: {exc}"
    if start and b"\n" in data:
        data = data.split(b"\n", 1)[1]  # a partial first line
    lines = data.decode("utf-8", "replace").splitlines()[-TAIL_LINES:]
    if not lines:
        return f"its log {path} is empty"
    return f"last lines of {path}:\n" + "\n".join(lines)
