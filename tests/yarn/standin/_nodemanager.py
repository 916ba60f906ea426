"""The stand-in's node manager: starts container processes, signals and reaps them, and runs
timers, all on one thread that waits on pidfds (no polling)."""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import os
import selectors
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path

log = logging.getLogger(__name__)

# YARN's ContainerExitStatus values that the stand-ins use.
SUCCESS = 0
INVALID = -1000
ABORTED = -100
PREEMPTED = -102
KILLED_EXCEEDED_VMEM = -103
KILLED_EXCEEDED_PMEM = -104
KILLED_BY_APPMASTER = -105

# The NodeManager's yarn.nodemanager.sleep-delay-before-sigkill.ms default.
SIGKILL_DELAY = 0.25

_JOIN_TIMEOUT = 10.0


def group_members(pgid: int) -> list[int]:
    """The processes of process group ``pgid`` that have not exited (zombies excluded: a
    grandchild killed with its group waits for init to reap it, but it is dead)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry))
    return members


class Timer:
    """A callback due on the node manager's thread at ``when`` (``time.monotonic``)."""

    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        """Drop the callback if it has not run yet."""
        self.cancelled = True


class Process:
    """A process started by the node manager in a session of its own (its pid is its process
    group id), and how it ended."""

    def __init__(self, popen: subprocess.Popen[bytes], description: str) -> None:
        self.popen = popen
        self.pid = popen.pid
        self.description = description
        self.returncode: int | None = None
        self._stragglers = 0  # group members still dying after the leader was reaped
        self._ended = threading.Event()

    def __repr__(self) -> str:
        return f"Process<{self.description} pid={self.pid} returncode={self.returncode}>"

    @property
    def exit_status(self) -> int | None:
        """The exit status as YARN reports it: a process killed by signal N exited 128 + N (the
        NodeManager's launch shell turns the signal into that code)."""
        code = self.returncode
        return None if code is None else (128 - code if code < 0 else code)

    @property
    def ended(self) -> bool:
        """Whether the process and every other process of its group have exited."""
        return self._ended.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until ``ended``; False on timeout."""
        return self._ended.wait(timeout)


class NodeManager:
    """Owns every process of the stand-in cluster. ``on_exit`` callbacks and timers run on its
    thread and must not block; an exception they raise is kept and re-raised by ``close``."""

    def __init__(self, sigkill_delay: float = SIGKILL_DELAY) -> None:
        self.sigkill_delay = sigkill_delay
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._timers: list[tuple[float, int, Timer]] = []
        self._sequence = itertools.count()
        self._unregistered: list[tuple[Process, Callable[[Process], None]]] = []
        self._live: dict[int, Process] = {}
        self._started: list[Process] = []
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="standin-nodemanager")
        self._thread.start()

    # -- API, any thread --------------------------------------------------------------------

    def launch(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        log_path: Path,
        description: str,
        on_exit: Callable[[Process], None],
    ) -> Process:
        """Start ``argv`` in a new session with stdout and stderr appended to ``log_path``."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            if self._closing:
                raise RuntimeError(f"node manager closed: cannot start {description}")
            with open(log_path, "ab") as out:
                popen = subprocess.Popen(
                    list(argv),
                    cwd=cwd,
                    env=dict(env),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            process = Process(popen, description)
            self._live[process.pid] = process
            self._started.append(process)
            self._unregistered.append((process, on_exit))
        self._wake()
        return process

    def terminate(self, process: Process, sigkill_delay: float | None = None) -> None:
        """Stop a process group as the NodeManager stops a container: SIGTERM, then SIGKILL
        after ``sigkill_delay`` seconds (at once if 0)."""
        delay = self.sigkill_delay if sigkill_delay is None else sigkill_delay
        if delay <= 0:
            self._signal_group(process, signal.SIGKILL)
            return
        self._signal_group(process, signal.SIGTERM)
        self.call_later(delay, lambda: self._signal_group(process, signal.SIGKILL))

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` on the node manager's thread in ``delay`` seconds."""
        timer = Timer(time.monotonic() + max(delay, 0.0), callback)
        with self._lock:
            if not self._closing:
                heapq.heappush(self._timers, (timer.when, next(self._sequence), timer))
        self._wake()
        return timer

    def processes(self) -> list[Process]:
        """Every process started so far, in order, ended or not."""
        with self._lock:
            return list(self._started)

    def close(self) -> None:
        """SIGKILL every process group, reap them, drop the timers and join the thread."""
        with self._lock:
            self._closing = True
            self._timers.clear()
            live = list(self._live.values())
        for process in live:
            self._signal_group(process, signal.SIGKILL)
        self._wake()
        self._thread.join(_JOIN_TIMEOUT)
        if self._thread.is_alive():
            raise RuntimeError(f"node manager thread did not end; live: {self._live}")
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
        if self.errors:
            raise RuntimeError("a stand-in callback failed") from self.errors[0]

    # -- internals --------------------------------------------------------------------------

    def _signal_group(self, process: Process, sig: signal.Signals) -> None:
        # Under the lock, so that the reaper cannot free the pid (and the kernel reuse it)
        # between the check and the signal.
        with self._lock:
            if process.returncode is not None:  # reaped: its group got its SIGKILL then
                return
            # The leader may have exited with its group already empty: nothing left to signal.
            with suppress(ProcessLookupError):
                os.killpg(process.pid, sig)

    def _wake(self) -> None:
        with suppress(BlockingIOError):  # a wake-up byte is already pending: that is enough
            self._wake_w.send(b"\0")

    def _run(self) -> None:
        while True:
            with self._lock:
                for process, on_exit in self._unregistered:
                    fd = os.pidfd_open(process.pid)
                    self._selector.register(fd, selectors.EVENT_READ, (process, on_exit, True))
                self._unregistered.clear()
                if self._closing and not self._live:
                    return
                timeout = max(self._timers[0][0] - time.monotonic(), 0.0) if self._timers else None
            for key, _ in self._selector.select(timeout):
                if key.data is None:
                    with suppress(BlockingIOError):
                        self._wake_r.recv(4096)
                    continue
                process, on_exit, leader = key.data
                self._selector.unregister(key.fd)
                os.close(key.fd)
                if leader:
                    self._reap(process, on_exit)
                else:
                    process._stragglers -= 1
                    if process._stragglers == 0:
                        self._ended(process, on_exit)
            self._run_due_timers()

    def _reap(self, process: Process, on_exit: Callable[[Process], None]) -> None:
        with self._lock:
            # Whatever the container left behind in its process group goes with it, so that no
            # test inherits another's grandchildren. The leader is a zombie until the wait below,
            # so its pid (the group id) cannot have been reused.
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.returncode = process.popen.wait()
        # SIGKILL is delivered asynchronously: the process ends once its whole group has.
        for pid in group_members(process.pid):
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                continue
            process._stragglers += 1
            self._selector.register(fd, selectors.EVENT_READ, (process, on_exit, False))
        if process._stragglers == 0:
            self._ended(process, on_exit)

    def _ended(self, process: Process, on_exit: Callable[[Process], None]) -> None:
        with self._lock:
            del self._live[process.pid]
            process._ended.set()
        log.debug("ended %r", process)
        self._call(functools.partial(on_exit, process))

    def _run_due_timers(self) -> None:
        now = time.monotonic()
        due: list[Timer] = []
        with self._lock:
            while self._timers and self._timers[0][0] <= now:
                due.append(heapq.heappop(self._timers)[2])
        for timer in due:
            if not timer.cancelled:
                self._call(timer.callback)

    def _call(self, callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception as exc:
            # Keep the thread serving the other processes; close() re-raises the first error.
            log.exception("stand-in callback failed")
            self.errors.append(exc)
