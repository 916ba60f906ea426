"""The core's benchmark: activity round trips, throughput, evaluator start and idle memory, with
peers measured in the same run.

What it measures (all on the local runtime, evaluators are child processes of this one):

1. **Warm round trip**: one evaluator with an active root context; a no-op activity (``run``
   returns ``b""``) is submitted from the ``CompletedActivity`` handler, ``--rounds`` times in
   sequence after ``--warmup``; each sample is the time from ``submit_activity`` to the
   ``CompletedActivity`` handler running. Fast path on (the default) and off.
2. **Throughput**: ``--total`` no-op activities on 2 evaluators, each keeping one running at a time
   (resubmitting from ``CompletedActivity``); activities per second.
3. **Evaluator start**: from ``EvaluatorRequestor.submit`` to the ``ActiveContext`` handler of a
   root context without services: evaluators started one after another (the figure with a
   target), and a batch of them requested at once (for information).
4. **Idle memory**: VmRSS (and PSS) of the idle evaluators of (3), read from ``/proc`` (children of
   this process whose command line holds ``reef.evaluator``), after they have settled.
5. **Peers**: a raw pipe round trip to a child process (the floor);
   ``concurrent.futures.ProcessPoolExecutor`` (1 worker: ``submit().result()`` round trip;
   2 workers: ``--total`` no-op tasks with one in flight per worker, as reef's, and fully
   pipelined); Ray actors when Ray is installed (1 actor: method round trip; 2 actors: one call in
   flight per actor, and pipelined; cold start: ``ray.init`` + first actor ready). Ray runs in a
   child process of its own (``--ray-child``), so that its threads and daemons do not disturb
   the other measurements; if it cannot be imported or started, it is skipped, saying why.

Every measurement runs in each of ``--repeats`` rounds (3), interleaved, so that a change in the
machine's load touches reef and its peers alike; figures are medians of the rounds (start times:
percentiles of all starts), ratios are medians of the per-round ratios (both sides measured
moments apart), and a new round starts only if it should end within ``--budget`` seconds. On a
virtual machine, waking a thread that sleeps on another (idle) CPU costs tens of µs, and whether
two processes share a CPU is the scheduler's call: the pipe floor, for one, is either ~6 µs or
~60 µs. Read the figures of one run together, and compare runs by their ratios.

The table comes first; the last line is JSON with every figure, the ratios and the targets
(``met``/``missed``). A missed target never fails the run (exit 0). Jobs write into a temporary
``REEF_HOME``, removed at the end. Keep this script's top-level imports light: evaluators that
run its activities import it (``__main__`` classes), so whatever it imports costs them memory.

    .venv/bin/python benchmarks/activity_latency.py [--repeats R] [--budget S] [--no-ray] [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import reef
import reef.runtime
import reef.settings
from reef.tang import NamedParameter

TARGETS = {
    "warm_p50_vs_ray_max": 0.5,  # reef warm round trip p50 / Ray actor round trip p50
    "warm_p50_vs_pool_max": 1.0,  # aspiration: / ProcessPoolExecutor(1) round trip p50
    "throughput_vs_ray_min": 2.0,  # reef 2-evaluator throughput / Ray 2 actors, same shape
    "evaluator_start_p50_ms_max": 300.0,
    "idle_rss_mb_max": 60.0,  # every idle evaluator
}
RAY_TIMEOUT = 90.0  # seconds for one Ray child (import, init, measurements, shutdown)
JOB_TIMEOUT = 120.0  # seconds for each reef job
MB = 1024 * 1024


# -- reef: the activity and the drivers -----------------------------------------------------------


class Noop(reef.Activity):
    """The no-op activity."""

    def run(self, memento: bytes | None) -> bytes:
        return b""


class Rounds(NamedParameter[int]):
    """Timed round trips (latency) or timed activities (throughput)."""

    default = 2000


class Warmup(NamedParameter[int]):
    """Untimed activities before the timed ones."""

    default = 200


class Evaluators(NamedParameter[int]):
    """How many evaluators run activities at once (throughput) or are started (start)."""

    default = 2


class OneByOne(NamedParameter[bool]):
    """Start evaluators one after another (else all in one request)."""

    default = True


class Settle(NamedParameter[float]):
    """Seconds idle evaluators are left alone before their memory is read."""

    default = 1.0


class LatencyDriver(reef.Driver):
    """One evaluator, one root context; no-op activities one after another."""

    def __init__(
        self,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        rounds: Annotated[int, Rounds],
        warmup: Annotated[int, Warmup],
    ) -> None:
        self.requestor, self.client = requestor, client
        self.rounds, self.warmup = rounds, warmup
        self.n = 0
        self.submitted_at = 0.0
        self.samples: list[float] = []

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.requestor.submit(reef.EvaluatorRequest(count=1, memory_mb=256))

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, evaluator: reef.AllocatedEvaluator) -> None:
        evaluator.submit_context(reef.ContextConfiguration(id=f"ctx-{evaluator.id}"))

    @reef.on(reef.ActiveContext)
    def active(self, context: reef.ActiveContext) -> None:
        self._submit(context)

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        elapsed = time.perf_counter() - self.submitted_at
        if self.n > self.warmup:
            self.samples.append(elapsed)
        if self.n < self.warmup + self.rounds:
            self._submit(done.context)
        else:
            self.client.send(json.dumps({"samples": self.samples}).encode())
            done.context.close()

    def _submit(self, context: reef.ActiveContext) -> None:
        self.n += 1
        activity = reef.ActivityConfiguration(id=f"noop-{self.n}", activity=Noop)
        self.submitted_at = time.perf_counter()
        context.submit_activity(activity)


class ThroughputDriver(reef.Driver):
    """``Evaluators`` evaluators, each with one no-op activity in flight at a time."""

    def __init__(
        self,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        total: Annotated[int, Rounds],
        warmup: Annotated[int, Warmup],
        evaluators: Annotated[int, Evaluators],
    ) -> None:
        self.requestor, self.client = requestor, client
        self.total, self.warmup, self.evaluators = total, warmup, evaluators
        self.contexts: list[reef.ActiveContext] = []
        self.issued = 0
        self.completed_count = 0
        self.started_at = 0.0
        self.per_evaluator: dict[str, int] = {}

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.requestor.submit(reef.EvaluatorRequest(count=self.evaluators, memory_mb=256))

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, evaluator: reef.AllocatedEvaluator) -> None:
        evaluator.submit_context(reef.ContextConfiguration(id=f"ctx-{evaluator.id}"))

    @reef.on(reef.ActiveContext)
    def active(self, context: reef.ActiveContext) -> None:
        self.contexts.append(context)
        if len(self.contexts) == self.evaluators:  # all up: go
            self.started_at = time.perf_counter()  # again after the warm-up, if there is one
            for each in self.contexts:
                self._submit(each)

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        self.completed_count += 1
        if self.completed_count == self.warmup and self.warmup:
            self.started_at = time.perf_counter()
        evaluator = done.context.evaluator_id
        self.per_evaluator[evaluator] = self.per_evaluator.get(evaluator, 0) + 1
        if self.issued < self.warmup + self.total:
            self._submit(done.context)
            return
        done.context.close()
        if self.completed_count == self.warmup + self.total:
            seconds = time.perf_counter() - self.started_at
            report = {"activities": self.total, "seconds": seconds, "per": self.per_evaluator}
            self.client.send(json.dumps(report).encode())

    def _submit(self, context: reef.ActiveContext) -> None:
        self.issued += 1
        context.submit_activity(reef.ActivityConfiguration(id=f"t-{self.issued}", activity=Noop))


class StartDriver(reef.Driver):
    """Starts ``Evaluators`` evaluators (root context, no services), one by one or all at once;
    once all are idle and have settled, reads their memory, then closes them."""

    def __init__(  # noqa: PLR0917 (injected: Tang passes what the constructor names)
        self,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        clock: reef.Clock,
        count: Annotated[int, Evaluators],
        one_by_one: Annotated[bool, OneByOne],
        settle: Annotated[float, Settle],
    ) -> None:
        self.requestor, self.client, self.clock = requestor, client, clock
        self.count, self.one_by_one, self.settle = count, one_by_one, settle
        self.requested_at = 0.0
        self.allocated_after: list[float] = []
        self.active_after: list[float] = []
        self.contexts: list[reef.ActiveContext] = []

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self._request(1 if self.one_by_one else self.count)

    def _request(self, count: int) -> None:
        self.requested_at = time.perf_counter()
        self.requestor.submit(reef.EvaluatorRequest(count=count, memory_mb=256))

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, evaluator: reef.AllocatedEvaluator) -> None:
        self.allocated_after.append(time.perf_counter() - self.requested_at)
        evaluator.submit_context(reef.ContextConfiguration(id=f"idle-{evaluator.id}"))

    @reef.on(reef.ActiveContext)
    def active(self, context: reef.ActiveContext) -> None:
        self.active_after.append(time.perf_counter() - self.requested_at)
        self.contexts.append(context)
        if len(self.contexts) < self.count:
            if self.one_by_one:
                self._request(1)
            return
        self.clock.schedule_alarm(self.settle, self._measure)

    def _measure(self) -> None:
        memory = [process_memory(pid) for pid in child_pids("reef.evaluator")]
        report = {
            "allocated_s": self.allocated_after,
            "active_s": self.active_after,
            "memory": memory,
        }
        self.client.send(json.dumps(report).encode())
        for context in self.contexts:
            context.close()


# -- helpers --------------------------------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100)."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil
    return ordered[int(rank) - 1]


def latency_summary(samples: Sequence[float]) -> dict[str, float]:
    """p50, p99 and mean of round trips (seconds), in µs."""
    return {
        "p50_us": round(percentile(samples, 50) * 1e6, 1),
        "p99_us": round(percentile(samples, 99) * 1e6, 1),
        "mean_us": round(sum(samples) / len(samples) * 1e6, 1),
        "n": len(samples),
    }


def child_pids(marker: str, parent: int | None = None) -> list[int]:
    """Processes whose parent is ``parent`` (this process) and whose command line holds
    ``marker``."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ")
        except OSError:
            continue  # it ended meanwhile
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        if ppid == parent and marker.encode() in cmdline:
            found.append(int(entry))
    return sorted(found)


def process_memory(pid: int) -> dict[str, float]:
    """VmRSS and PSS of a process, in MB (2**20 bytes); PSS counts shared pages pro rata."""
    out: dict[str, float] = {"pid": pid}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    out["rss_mb"] = round(int(line.split()[1]) / 1024, 1)
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    out["pss_mb"] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return out


def reef_bytecode_cached() -> bool:
    """Whether evaluators find reef compiled (else each one compiles reef's sources as it starts:
    an editable install with ``PYTHONDONTWRITEBYTECODE`` set, as on some CI machines)."""
    import importlib.util

    init = reef.__file__ or ""
    return os.path.exists(importlib.util.cache_from_source(init))


def run_job(driver: type[reef.Driver], **kwargs: Any) -> dict[str, Any]:
    """Run a job to its end; its single JSON message."""
    result = reef.run(driver, timeout=JOB_TIMEOUT, **kwargs)
    if result.status is not reef.JobStatus.SUCCEEDED or not result.messages:
        raise RuntimeError(f"{driver.__name__} job {result.status.value}: {result.error}")
    report: dict[str, Any] = json.loads(result.messages[-1])
    return report


# -- reef measurements ----------------------------------------------------------------------------


def reef_latency(rounds: int, warmup: int, fast_path: bool) -> dict[str, float]:
    """(1) Warm round trip of a no-op activity on one evaluator."""
    report = run_job(
        LatencyDriver,
        parameters={Rounds: rounds, Warmup: warmup, reef.settings.FastPath: fast_path},
    )
    return latency_summary(report["samples"])


def reef_throughput(
    total: int, warmup: int, evaluators: int, status_page: bool = True
) -> dict[str, Any]:
    """(2) No-op activities per second on ``evaluators`` evaluators, one in flight on each;
    with the status page (and its bookkeeping) on, as by default, or off."""
    report = run_job(
        ThroughputDriver,
        parameters={
            Rounds: total,
            Warmup: warmup,
            Evaluators: evaluators,
            reef.settings.StatusPage: status_page,
        },
    )
    return {
        "per_s": round(report["activities"] / report["seconds"], 1),
        "activities": report["activities"],
        "seconds": round(report["seconds"], 3),
        "evaluators": evaluators,
    }


def reef_start(count: int, one_by_one: bool, settle: float) -> dict[str, Any]:
    """(3) and (4): evaluator start times and idle memory."""
    report = run_job(
        StartDriver,
        runtime=reef.runtime.LocalRuntime(max_evaluators=count),
        parameters={Evaluators: count, OneByOne: one_by_one, Settle: settle},
    )
    active_ms = [s * 1000 for s in report["active_s"]]
    allocated_ms = [s * 1000 for s in report["allocated_s"]]
    rss = [m["rss_mb"] for m in report["memory"] if "rss_mb" in m]
    pss = [m["pss_mb"] for m in report["memory"] if "pss_mb" in m]
    return {
        "evaluators": count,
        "p50_ms": round(percentile(active_ms, 50), 1),
        "max_ms": round(max(active_ms), 1),
        "allocated_p50_ms": round(percentile(allocated_ms, 50), 1),
        "all_ms": [round(x, 1) for x in active_ms],
        "idle_rss_mb": rss,
        "idle_pss_mb": pss,
    }


# -- peers: pipe and ProcessPoolExecutor ----------------------------------------------------------

_ECHO = """import os
while True:
    b = os.read(0, 1)
    if not b:
        break
    os.write(1, b)
"""


def pipe_latency(rounds: int, warmup: int) -> dict[str, Any]:
    """A 1-byte round trip over pipes to a child process that echoes it: the floor of any
    cross-process round trip from Python. Also the RSS of that bare interpreter."""
    child = subprocess.Popen(
        [sys.executable, "-c", _ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
    )
    assert child.stdin is not None
    assert child.stdout is not None
    w, r = child.stdin.fileno(), child.stdout.fileno()
    samples = []
    try:
        for i in range(warmup + rounds):
            t0 = time.perf_counter()
            os.write(w, b"x")
            os.read(r, 1)
            if i >= warmup:
                samples.append(time.perf_counter() - t0)
        memory = process_memory(child.pid)
    finally:
        child.stdin.close()
        child.wait(10)
        child.stdout.close()
    return {**latency_summary(samples), "idle_rss_mb": memory.get("rss_mb")}


def noop_task(_: object = None) -> bytes:
    """The no-op task of the ProcessPoolExecutor peer."""
    return b""


def pool_latency(rounds: int, warmup: int) -> dict[str, float]:
    """``ProcessPoolExecutor(1)``: round trip of ``submit(noop).result()``."""
    import concurrent.futures as cf
    import multiprocessing

    samples = []
    # spawn: the interpreter forks no threads of earlier jobs (fork is unsafe after gRPC)
    with cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        for i in range(warmup + rounds):
            t0 = time.perf_counter()
            pool.submit(noop_task).result()
            if i >= warmup:
                samples.append(time.perf_counter() - t0)
    return latency_summary(samples)


def pool_throughput(total: int, warmup: int, workers: int) -> dict[str, float]:
    """``ProcessPoolExecutor(workers)``: ``total`` no-op tasks, first with one in flight per worker
    (a thread per worker submitting the next task when its last one has returned, as reef's
    throughput run; faster than one thread juggling ``wait(FIRST_COMPLETED)``), then all
    submitted at once (pipelined)."""
    import concurrent.futures as cf
    import multiprocessing
    import threading

    with cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for _ in pool.map(noop_task, range(warmup)):  # start and warm every worker
            pass

        def one_in_flight(count: int) -> None:
            for _ in range(count):
                pool.submit(noop_task).result()

        shares = [total // workers + (i < total % workers) for i in range(workers)]
        threads = [threading.Thread(target=one_in_flight, args=(n,)) for n in shares]
        t0 = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        windowed = time.perf_counter() - t0
        t0 = time.perf_counter()
        futures = [pool.submit(noop_task) for _ in range(total)]
        for future in futures:
            future.result()
        pipelined = time.perf_counter() - t0
    return {
        "window_per_s": round(total / windowed, 1),
        "pipelined_per_s": round(total / pipelined, 1),
        "workers": workers,
    }


# -- peer: Ray (in a child process) ---------------------------------------------------------------


def ray_child(rounds: int, warmup: int, total: int, workdir: str, settle: float) -> dict[str, Any]:
    """Ray's figures, measured in this (child) process; called with ``--ray-child``."""
    import logging

    t0 = time.perf_counter()
    try:
        import ray
    except Exception as e:
        return {"skipped": f"cannot import ray: {type(e).__name__}: {e}"}
    import_s = time.perf_counter() - t0

    @ray.remote
    class Actor:
        def noop(self) -> bytes:
            return b""

        def pid(self) -> int:
            return os.getpid()

    t0 = time.perf_counter()
    try:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
            _temp_dir=os.path.join(workdir, "ray"),
        )
    except Exception as e:
        return {"skipped": f"ray.init failed: {type(e).__name__}: {e}", "version": ray.__version__}
    try:
        first = Actor.remote()  # type: ignore[attr-defined]
        ray.get(first.noop.remote())
        cold_s = time.perf_counter() - t0

        samples = []
        for i in range(warmup + rounds):
            t1 = time.perf_counter()
            ray.get(first.noop.remote())
            if i >= warmup:
                samples.append(time.perf_counter() - t1)
        time.sleep(settle)  # idle as long as reef's evaluators before its memory is read
        memory = process_memory(ray.get(first.pid.remote()))

        t1 = time.perf_counter()
        second = Actor.remote()  # type: ignore[attr-defined]
        ray.get(second.noop.remote())
        actor_start_s = time.perf_counter() - t1
        actors = [first, second]
        ray.get([a.noop.remote() for a in actors for _ in range(warmup)])

        t1 = time.perf_counter()
        in_flight = {a.noop.remote(): a for a in actors}  # one call in flight per actor
        issued = len(actors)
        while in_flight:
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                actor = in_flight.pop(ref)
                ray.get(ref)
                if issued < total:
                    in_flight[actor.noop.remote()] = actor
                    issued += 1
        windowed = time.perf_counter() - t1

        t1 = time.perf_counter()
        ray.get([actors[i % len(actors)].noop.remote() for i in range(total)])
        pipelined = time.perf_counter() - t1
    finally:
        ray.shutdown()
    return {
        "version": ray.__version__,
        **latency_summary(samples),
        "window_per_s": round(total / windowed, 1),
        "pipelined_per_s": round(total / pipelined, 1),
        "cold_start_s": round(cold_s, 3),
        "import_s": round(import_s, 3),
        "actor_start_ms": round(actor_start_s * 1000, 1),
        "idle_actor_rss_mb": memory.get("rss_mb"),
        "idle_actor_pss_mb": memory.get("pss_mb"),
    }


def ray_peer(rounds: int, warmup: int, total: int, workdir: str, settle: float) -> dict[str, Any]:
    """Run :func:`ray_child` in a child process (its own session, killed on timeout)."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        return {"skipped": "ray is not installed (pip install -e '.[bench]')"}
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--ray-child",
        workdir,
        f"--rounds={rounds}",
        f"--warmup={warmup}",
        f"--total={total}",
        f"--settle={settle}",
    ]
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
    )
    try:
        out, err = child.communicate(timeout=RAY_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, 9)
        child.communicate()
        return {"skipped": f"Ray did not finish within {RAY_TIMEOUT:g} s"}
    lines = out.decode(errors="replace").strip().splitlines()
    try:
        report: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = err.decode(errors="replace").strip().splitlines()[-3:]
        return {"skipped": f"Ray's run failed (exit {child.returncode}): {' | '.join(tail)}"}
    return report


# -- report ---------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One figure per measurement from the rounds' figures: the median of numbers, the
    concatenation of lists, the first of anything else; measurements skipped in a round are
    left out (a measurement skipped in every round keeps its first reason)."""
    out: dict[str, Any] = {}
    for name in rounds[0]:
        present = [r[name] for r in rounds if "skipped" not in r[name]]
        if not present:
            out[name] = rounds[0][name]
            continue
        merged: dict[str, Any] = {}
        for key, first in present[0].items():
            values = [p[key] for p in present if p.get(key) is not None]
            if isinstance(first, bool) or not values or all(v == first for v in values):
                merged[key] = first
            elif isinstance(first, (int, float)):
                merged[key] = round(median(values), 1)
            elif isinstance(first, list):
                merged[key] = [x for v in values for x in v]
            else:
                merged[key] = first
        if "all_ms" in merged:  # starts: percentiles of every start of every round
            merged["p50_ms"] = round(percentile(merged["all_ms"], 50), 1)
            merged["max_ms"] = round(max(merged["all_ms"]), 1)
        merged["rounds"] = len(present)
        out[name] = merged
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def round_ratios(f: dict[str, Any]) -> dict[str, float | None]:
    """The ratios of one round (both sides measured moments apart)."""
    ray = f["ray"] if "skipped" not in f["ray"] else {}
    thr = f["reef_throughput"]["per_s"]
    return {
        "warm_p50_vs_ray": ratio(f["reef_warm_fast"]["p50_us"], ray.get("p50_us")),
        "warm_p50_vs_pool": ratio(f["reef_warm_fast"]["p50_us"], f["pool_1_latency"]["p50_us"]),
        "warm_p50_vs_pipe": ratio(f["reef_warm_fast"]["p50_us"], f["pipe"]["p50_us"]),
        "stream_p50_vs_fast_p50": ratio(
            f["reef_warm_stream"]["p50_us"], f["reef_warm_fast"]["p50_us"]
        ),
        "throughput_vs_ray": ratio(thr, ray.get("window_per_s")),
        "throughput_vs_ray_pipelined": ratio(thr, ray.get("pipelined_per_s")),
        "throughput_vs_pool": ratio(thr, f["pool_2_throughput"]["window_per_s"]),
        "status_page_cost": (
            1 - thr / f["reef_throughput_no_status_page"]["per_s"]
            if f["reef_throughput_no_status_page"]["per_s"]
            else None
        ),
    }


def verdict(value: float | None, limit: float, *, at_most: bool) -> str:
    if value is None:
        return "n/a"
    return "met" if (value <= limit if at_most else value >= limit) else "missed"


def summarize(rounds: list[dict[str, Any]], figures: dict[str, Any]) -> dict[str, Any]:
    """Ratios (medians of the per-round ratios) and the targets."""
    per_round = [round_ratios(f) for f in rounds]
    ratios: dict[str, float | None] = {}
    for name in per_round[0]:
        values = [v for r in per_round if (v := r[name]) is not None]
        ratios[name] = round(median(values), 3) if values else None
    start = figures["reef_start_one_by_one"]
    rss_max = max(start["idle_rss_mb"], default=None)
    targets = {
        "warm_p50_vs_ray<=0.5": verdict(
            ratios["warm_p50_vs_ray"], TARGETS["warm_p50_vs_ray_max"], at_most=True
        ),
        "warm_p50_vs_pool<=1.0 (aspiration)": verdict(
            ratios["warm_p50_vs_pool"], TARGETS["warm_p50_vs_pool_max"], at_most=True
        ),
        "throughput_vs_ray>=2.0": verdict(
            ratios["throughput_vs_ray"], TARGETS["throughput_vs_ray_min"], at_most=False
        ),
        "evaluator_start_p50<=300ms": verdict(
            start["p50_ms"], TARGETS["evaluator_start_p50_ms_max"], at_most=True
        ),
        "idle_rss_max<=60MB": verdict(rss_max, TARGETS["idle_rss_mb_max"], at_most=True),
        "status_page_cost<=5%": verdict(ratios["status_page_cost"], 0.05, at_most=True),
    }
    return {
        "ratios": ratios,
        "ratios_per_round": [{k: v and round(v, 3) for k, v in r.items()} for r in per_round],
        "targets": targets,
    }


def print_table(
    figures: dict[str, Any], summary: dict[str, Any], repeats: int, load: Sequence[float]
) -> None:
    fast, slow = figures["reef_warm_fast"], figures["reef_warm_stream"]
    pipe, pool = figures["pipe"], figures["pool_1_latency"]
    pool2, ray = figures["pool_2_throughput"], figures["ray"]
    thr, one = figures["reef_throughput"], figures["reef_start_one_by_one"]
    batch = figures["reef_start_batch"]
    ray_ok = "skipped" not in ray

    def row(name: str, *cells: object) -> None:
        print(f"  {name:<46}" + "".join(f"{c!s:>12}" for c in cells))

    def fmt(x: float | None, spec: str = ",.0f") -> str:
        return "-" if x is None else format(x, spec)

    def latency(name: str, f: dict[str, Any]) -> None:
        row(name, *(fmt(f[k]) for k in ("p50_us", "p99_us", "mean_us")))

    print(f"\nactivity_latency: medians of {repeats} interleaved round(s); ratios are medians of")
    print(
        f"per-round ratios. Python {platform.python_version()} on {os.cpu_count()} cpus, load",
        " -> ".join(f"{x:.1f}" for x in load),
    )
    print(f"\nround trip of a no-op (µs), {fast['n']:,} in sequence after a warm-up")
    row("", "p50", "p99", "mean")
    latency("reef activity, fast path (default)", fast)
    latency("reef activity, gRPC stream only", slow)
    latency("raw pipe to a child process (floor)", pipe)
    latency("ProcessPoolExecutor(1) submit().result()", pool)
    if ray_ok:
        latency(f"Ray {ray['version']} actor method, ray.get", ray)
    else:
        row("Ray actor method", "skipped")

    print(f"\nthroughput of no-op work, {thr['activities']:,} items on 2 processes (per s)")
    row("", "1 in flight", "pipelined")
    row("reef activities, 2 evaluators", fmt(thr["per_s"]), "n/a")
    row(
        "  the same, status page off",
        fmt(figures["reef_throughput_no_status_page"]["per_s"]),
        "n/a",
    )
    row("ProcessPoolExecutor(2)", fmt(pool2["window_per_s"]), fmt(pool2["pipelined_per_s"]))
    if ray_ok:
        row("Ray, 2 actors", fmt(ray["window_per_s"]), fmt(ray["pipelined_per_s"]))

    print("\nstart (ms) and idle memory (MB = 2^20 bytes)")
    row("", "p50", "max", "RSS max", "PSS max")
    for name, f in (
        (f"reef evaluator, {one['evaluators']} one after another", one),
        (f"reef evaluator, {batch['evaluators']} in one request", batch),
    ):
        row(
            name,
            fmt(f["p50_ms"]),
            fmt(f["max_ms"]),
            fmt(max(f["idle_rss_mb"], default=None), ".1f"),
            fmt(max(f["idle_pss_mb"], default=None), ".1f"),
        )
    row("bare python child (pipe peer)", "", "", fmt(pipe["idle_rss_mb"], ".1f"), "")
    if not figures["reef_bytecode_cached"]:
        print("  (reef has no bytecode cache here: each evaluator compiles reef as it starts)")
    if ray_ok:
        row("Ray: ray.init + first actor ready", fmt(ray["cold_start_s"] * 1000), "", "", "")
        row(
            "Ray: one more actor ready; idle actor",
            fmt(ray["actor_start_ms"]),
            "",
            fmt(ray["idle_actor_rss_mb"], ".1f"),
            fmt(ray["idle_actor_pss_mb"], ".1f"),
        )
    else:
        print(f"  Ray skipped: {ray['skipped']}")

    print("\nratios (reef / peer) and targets")
    for name, value in summary["ratios"].items():
        row(name, fmt(value, ".3f"))
    for name, value in summary["targets"].items():
        row(name, value)
    print()


# -- main -----------------------------------------------------------------------------------------


def timed(label: str, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, saying on stderr how long it took."""
    t0 = time.perf_counter()
    out = fn(*args)
    print(f"  {label:<44} {time.perf_counter() - t0:6.1f} s", file=sys.stderr, flush=True)
    return out


_ROUND = itertools.count()


def one_round(args: argparse.Namespace, workdir: str, ray_skip: str | None) -> dict[str, Any]:
    """Every measurement once, the reef one before its peers."""
    r, w, n = args.rounds, args.warmup, args.total
    f: dict[str, Any] = {}
    f["reef_warm_fast"] = timed("reef round trip, fast path", reef_latency, r, w, True)
    f["reef_warm_stream"] = timed("reef round trip, stream only", reef_latency, r, w, False)
    f["pipe"] = timed("pipe round trip", pipe_latency, r, w)
    f["pool_1_latency"] = timed("ProcessPoolExecutor round trip", pool_latency, r, w)
    # on and off alternate which goes first from round to round: the machine drifts
    order = [True, False] if next(_ROUND) % 2 == 0 else [False, True]
    for status_page in order:
        key = "reef_throughput" if status_page else "reef_throughput_no_status_page"
        what = "reef throughput" + ("" if status_page else ", status page off")
        f[key] = timed(what, reef_throughput, n, w, 2, status_page)
    f["pool_2_throughput"] = timed("ProcessPoolExecutor throughput", pool_throughput, n, w, 2)
    f["reef_start_one_by_one"] = timed(
        "reef evaluator start, one by one", reef_start, args.starts, True, args.settle
    )
    f["reef_start_batch"] = timed(
        "reef evaluator start, in one request", reef_start, args.batch, False, args.settle
    )
    if ray_skip is not None:
        f["ray"] = {"skipped": ray_skip}
    else:
        f["ray"] = timed("Ray (its own child process)", ray_peer, r, w, n, workdir, args.settle)
    return f


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2000, help="timed round trips")
    parser.add_argument("--warmup", type=int, default=200, help="untimed round trips first")
    parser.add_argument("--total", type=int, default=20_000, help="items of the throughput runs")
    parser.add_argument("--starts", type=int, default=4, help="evaluators started one by one")
    parser.add_argument("--batch", type=int, default=4, help="evaluators started in one request")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds before reading RSS")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds")
    parser.add_argument(
        "--budget", type=float, default=170.0, help="seconds: no new round past them (about)"
    )
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray peer")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--ray-child", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.warmup, args.total, args.repeats = 200, 20, 2000, 1
        args.starts, args.batch, args.settle = 2, 2, 0.5

    if args.ray_child:
        print(
            json.dumps(ray_child(args.rounds, args.warmup, args.total, args.ray_child, args.settle))
        )
        return 0

    workdir = tempfile.mkdtemp(prefix="reef-bench-")
    os.environ["REEF_HOME"] = os.path.join(workdir, "reef")
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    rounds: list[dict[str, Any]] = []
    ray_skip: str | None = "--no-ray" if args.no_ray else None
    try:
        for k in range(args.repeats):
            elapsed = time.perf_counter() - started
            if rounds and elapsed + elapsed / len(rounds) > args.budget:
                print(f"time budget: {len(rounds)} round(s), not {args.repeats}", file=sys.stderr)
                break
            print(f"round {k + 1}/{args.repeats}", file=sys.stderr, flush=True)
            rounds.append(one_round(args, workdir, ray_skip))
            ray_skip = rounds[-1]["ray"].get("skipped", ray_skip)  # a failed Ray: once only
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    figures = combine(rounds)
    figures["reef_bytecode_cached"] = reef_bytecode_cached()
    summary = summarize(rounds, figures)
    print_table(figures, summary, len(rounds), (load_before, os.getloadavg()[0]))
    line = {
        "benchmark": "activity_latency",
        "reef": reef.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],  # start, end
        "repeats": len(rounds),
        "seconds": round(time.perf_counter() - started, 1),
        **figures,
        **summary,
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
