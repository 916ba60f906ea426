"""Suite-wide fixtures: no test may leave a thread or a child process behind."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

# The machines that run the suite are shared and noisy: never judge an example by its speed.
settings.register_profile(
    "reef", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("reef")

_GRACE_SECONDS = 5.0


def _children() -> set[int]:
    """The live child processes of this process (Linux: /proc/<pid>/task/*/children)."""
    pids: set[int] = set()
    task_dir = f"/proc/{os.getpid()}/task"
    try:
        tasks = os.listdir(task_dir)
    except OSError:
        return pids
    for tid in tasks:
        try:
            with open(f"{task_dir}/{tid}/children") as f:
                pids.update(int(p) for p in f.read().split())
        except OSError:
            continue
    return {p for p in pids if _alive(p)}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(autouse=True)
def _no_leaks() -> Iterator[None]:
    threads_before = set(threading.enumerate())
    children_before = _children()
    yield
    deadline = time.monotonic() + _GRACE_SECONDS
    while True:
        threads = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        children = _children() - children_before
        if not threads and not children:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)  # polling a condition with a deadline, not a bare sleep
    pytest.fail(
        f"the test left behind threads {[t.name for t in threads]} and child processes "
        f"{sorted(children)}"
    )
