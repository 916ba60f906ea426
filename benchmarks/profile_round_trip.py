"""Where a warm activity round trip spends its time, on both sides (a helper of
``activity_latency.py``, using only reef's public API).

Three runs of the no-op round trip of ``activity_latency.py`` (one evaluator, one root context,
each activity submitted from the ``CompletedActivity`` handler):

* ``legs``: timestamps, no profiler. ``time.perf_counter`` is ``CLOCK_MONOTONIC``, shared by the
  processes of one machine, so the activity stamps the start and end of its ``run`` and the
  driver splits each round trip into: the ``submit_activity`` call itself; from its return to
  ``run`` starting in the evaluator; ``run``; from ``run``'s end to the handler.
* ``sampled``: ``py-spy record`` (all threads, idle excluded) of the driver (this process) and of
  the evaluator, grouped by thread and by what the innermost frame belongs to (gRPC, TLS and
  sockets, protobuf, Tang, Wake, reef's driver or evaluator, threading and queues, ...).
* ``timeline``: each hop of one activity's way, stamped (``CLOCK_MONOTONIC``) by wrappers this
  helper puts around a few of reef's internal methods, in memory, in its own driver and (through
  ``REEF_PROFILE_TIMELINE=1`` in the environment evaluators inherit) in the evaluator when it
  loads this script. Profiling only: the wrappers add ~1 µs a hop, and follow reef's internals
  (a method renamed there is reported missing, and its hops are left out).
* ``cprofile``: deterministic profiles (with their overhead) of the driver's threads (every
  thread the job starts gets its own ``cProfile``) and of the evaluator's control and activity
  threads (switched on from a context service and from the activity: user code, on their
  threads); the top functions per round trip.

    .venv/bin/python benchmarks/profile_round_trip.py [--rounds N]
        [--only legs|timeline|sampled|cprofile]
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import io
import json
import os
import pstats
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from typing import Annotated, Any

import reef
import reef.settings
from reef.tang import NamedParameter

_STAMPS = struct.Struct("<dd")


class Rounds(NamedParameter[int]):
    """Timed round trips."""

    default = 5000


class Warmup(NamedParameter[int]):
    """Untimed round trips first."""

    default = 300


class ProfileDir(NamedParameter[str]):
    """Where the evaluator writes its profiles ('' : no evaluator profiles)."""

    default = ""


# -- evaluator side -------------------------------------------------------------------------------

_activity_profiler: cProfile.Profile | None = None
_TIMELINE = os.environ.get("REEF_PROFILE_TIMELINE") == "1"
_stamps: dict[str, dict[str, float]] = collections.defaultdict(dict)  # activity id -> hop -> t
_current = {"id": ""}


def _wrap(cls: Any, name: str, before: Any = None, after: Any = None) -> bool:
    """Wrap ``cls.name`` to call ``before(*args)`` / ``after(*args)`` around it."""
    original = getattr(cls, name, None)
    if original is None:
        print(f"timeline: {cls.__name__}.{name} is missing: its hops are left out", file=sys.stderr)
        return False

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if before is not None:
            before(*args)
        out = original(*args, **kwargs)
        if after is not None:
            after(*args)
        return out

    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(cls, name, wrapper)
    return True


def _status_key(message: Any) -> str | None:
    """``<activity id>/<STATE>`` of an activity status message, else None."""
    if message.WhichOneof("kind") != "activity":
        return None
    status = message.activity
    return f"{status.activity_id}/{status.State.Name(status.state)}"


def _instrument_evaluator() -> None:
    """Stamp the hops of each activity in this evaluator (see ``timeline``)."""
    runtime = sys.modules.get("reef.evaluator._runtime")
    runner = sys.modules.get("reef.evaluator._activity")
    if runtime is None or runner is None:
        return
    clock = time.perf_counter

    def received(_self: Any, message: Any) -> None:
        if message.WhichOneof("kind") == "start_activity":
            _stamps[message.start_activity.activity_id]["e_received"] = clock()

    def control(_self: Any, start: Any) -> None:
        _stamps[start.activity_id]["e_control"] = clock()

    def sending(_self: Any, message: Any, **_: Any) -> None:
        key = _status_key(message)
        if key is not None:
            aid, state = key.split("/")
            _stamps[aid][f"e_{state.lower()}_send"] = clock()

    def sent(_self: Any, message: Any, **_: Any) -> None:
        key = _status_key(message)
        if key is not None:
            aid, state = key.split("/")
            _stamps[aid][f"e_{state.lower()}_sent"] = clock()

    def executing(_self: Any, run: Any) -> None:
        _stamps[run.activity_id]["e_activity_thread"] = clock()
        _current["id"] = run.activity_id

    _wrap(runtime.Evaluator, "_received", before=received)
    _wrap(runtime.Evaluator, "_start_activity", before=control)
    _wrap(runtime._Outbox, "send", before=sending, after=sent)
    _wrap(runner.ActivityRunner, "_execute", before=executing)
    injector = sys.modules.get("reef.tang._injector")
    if injector is not None:

        def stamp(name: str) -> Any:
            def at(*_: Any) -> None:
                if threading.current_thread().name == "reef-activity":
                    _stamps[_current["id"]].setdefault(name, clock())

            return at

        _wrap(injector.Injector, "fork", before=stamp("e_fork"), after=stamp("e_forked"))
        _wrap(injector.Injector, "get_instance", after=stamp("e_injected"))


class Stamped(reef.Activity):
    """A no-op that returns when its ``run`` started and ended; with a memento ``start`` or
    ``stop:<file>`` it switches a profiler of its thread on, or off and saves it."""

    def run(self, memento: bytes | None) -> bytes:
        global _activity_profiler
        began = time.perf_counter()
        if memento == b"start":
            _activity_profiler = cProfile.Profile()
            _activity_profiler.enable()
        elif memento and memento.startswith(b"stop:") and _activity_profiler is not None:
            _activity_profiler.disable()
            _activity_profiler.dump_stats(memento[5:].decode())
        if _TIMELINE:  # this activity's hops so far, and the previous ones' in full
            mine = _current["id"]
            payload = json.dumps(
                {"": _stamps[mine]} | {k: v for k, v in _stamps.items() if k != mine}
            )
            for k in [k for k in _stamps if k != mine]:
                del _stamps[k]
            return _STAMPS.pack(began, time.perf_counter()) + payload.encode()
        return _STAMPS.pack(began, time.perf_counter())


class ControlProfiler:
    """A context service: ``start`` / ``stop:<file>`` messages switch a profiler of the
    evaluator's control thread (where context messages are handled) on and off."""

    def __init__(self) -> None:
        self.profiler: cProfile.Profile | None = None

    def on_context_message(self, data: bytes) -> None:
        if data == b"start":
            self.profiler = cProfile.Profile()
            self.profiler.enable()
        elif data.startswith(b"stop:") and self.profiler is not None:
            self.profiler.disable()
            self.profiler.dump_stats(data[5:].decode())


# -- driver ---------------------------------------------------------------------------------------

_driver_stamps: dict[str, dict[str, float]] = collections.defaultdict(dict)


def _instrument_driver() -> None:
    """Stamp the hops of each activity's statuses in this (the driver's) process."""
    from reef.common._ordered import OrderedInbox
    from reef.driver._core import DriverCore

    clock = time.perf_counter

    def arrived(_self: Any, _seq: int, item: Any) -> None:
        if hasattr(item, "WhichOneof"):
            key = _status_key(item)
            if key is not None:
                aid, state = key.split("/")
                _driver_stamps[aid][f"d_{state.lower()}_arrived"] = clock()

    def dispatched(_self: Any, item: Any) -> None:
        key = _status_key(item.message)
        if key is not None:
            aid, state = key.split("/")
            _driver_stamps[aid][f"d_{state.lower()}_dispatched"] = clock()

    _wrap(OrderedInbox, "offer", before=arrived)
    _wrap(DriverCore, "_incoming", before=dispatched)


def _uninstrument_driver() -> None:
    from reef.common._ordered import OrderedInbox
    from reef.driver._core import DriverCore

    for cls, name in ((OrderedInbox, "offer"), (DriverCore, "_incoming")):
        original = getattr(getattr(cls, name), "__wrapped__", None)
        if original is not None:
            setattr(cls, name, original)


if _TIMELINE and __name__ != "__main__":  # loaded by an evaluator
    _instrument_evaluator()


class StampDriver(reef.Driver):
    """Round trips of ``Stamped``; with a ``ProfileDir``, profiles the evaluator's threads."""

    def __init__(
        self,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        rounds: Annotated[int, Rounds],
        warmup: Annotated[int, Warmup],
        profile_dir: Annotated[str, ProfileDir],
    ) -> None:
        self.requestor, self.client = requestor, client
        self.rounds, self.warmup, self.profile_dir = rounds, warmup, profile_dir
        self.n = 0
        self.before = self.after = 0.0
        self.legs: list[tuple[float, float, float, float]] = []

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.requestor.submit(reef.EvaluatorRequest(count=1, memory_mb=256))

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, evaluator: reef.AllocatedEvaluator) -> None:
        services = [ControlProfiler] if self.profile_dir else []
        evaluator.submit_context(reef.ContextConfiguration(id="ctx", services=services))

    @reef.on(reef.ActiveContext)
    def active(self, context: reef.ActiveContext) -> None:
        self._submit(context)

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        handled = time.perf_counter()
        assert done.result is not None
        began, ended = _STAMPS.unpack_from(done.result)
        if len(done.result) > _STAMPS.size:
            for aid, hops in json.loads(done.result[_STAMPS.size :]).items():
                _driver_stamps[aid or done.id].update(hops)
            _driver_stamps[done.id].update(e_run_start=began, e_run_end=ended)
        _driver_stamps[done.id]["d_handler"] = handled
        if self.n > self.warmup:
            self.legs.append(
                (self.after - self.before, began - self.after, ended - began, handled - ended)
            )
        if self.n < self.warmup + self.rounds:
            self._submit(done.context)
            return
        if self.profile_dir:
            path = os.path.join(self.profile_dir, "evaluator-control.prof")
            done.context.send_message(b"stop:" + path.encode())
        self.client.send(json.dumps(self.legs).encode())
        done.context.close()

    def _submit(self, context: reef.ActiveContext) -> None:
        self.n += 1
        memento = None
        if self.profile_dir and self.n == self.warmup + 1:
            context.send_message(b"start")
            memento = b"start"
        elif self.profile_dir and self.n == self.warmup + self.rounds:
            memento = b"stop:" + os.path.join(self.profile_dir, "evaluator-activity.prof").encode()
        activity = reef.ActivityConfiguration(id=f"s-{self.n}", activity=Stamped, memento=memento)
        self.before = time.perf_counter()
        context.submit_activity(activity)
        self.after = time.perf_counter()
        if _TIMELINE:
            _driver_stamps[activity.id].update(d_submit=self.before, d_submitted=self.after)


def run_job(rounds: int, warmup: int, profile_dir: str = "", fast: bool = True) -> list[Any]:
    params: dict[Any, Any] = {Rounds: rounds, Warmup: warmup, ProfileDir: profile_dir}
    params[reef.settings.FastPath] = fast
    result = reef.run(StampDriver, parameters=params, timeout=300)
    if result.status is not reef.JobStatus.SUCCEEDED:
        raise RuntimeError(f"job {result.status.value}: {result.error}")
    legs: list[Any] = json.loads(result.messages[-1])
    return legs


# -- the three runs -------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]


def legs(rounds: int, warmup: int) -> None:
    for fast in (True, False):
        rows = run_job(rounds, warmup, fast=fast)
        names = (
            "submit_activity() call",
            "its return -> run() starts",
            "run()",
            "run() ends -> handler",
        )
        print(
            f"\nlegs of a round trip, fast path {'on' if fast else 'off'} ({len(rows)} rounds, µs)"
        )
        print(f"  {'':<32}{'p50':>8}{'p90':>8}{'mean':>8}")
        totals = [sum(r) for r in rows]
        for i, name in enumerate(names):
            col = [r[i] * 1e6 for r in rows]
            print(f"  {name:<32}{pct(col, 50):8.0f}{pct(col, 90):8.0f}{sum(col) / len(col):8.0f}")
        t = [x * 1e6 for x in totals]
        print(f"  {'total':<32}{pct(t, 50):8.0f}{pct(t, 90):8.0f}{sum(t) / len(t):8.0f}")


HOPS = [  # (from, to, what happens in between)
    ("d_submit", "d_submitted", "driver: submit_activity() (check, proto, send)"),
    ("d_submitted", "e_received", "-> evaluator reader thread has the message"),
    ("e_received", "e_control", "-> evaluator control thread (Wake stage handoff)"),
    ("e_control", "e_running_send", "   control: start, build RUNNING status"),
    ("e_running_send", "e_running_sent", "   control: RUNNING sent (fast path: TLS write)"),
    ("e_running_sent", "e_activity_thread", "-> activity thread (queue handoff)"),
    ("e_activity_thread", "e_fork", "   activity: binding, configuration, class"),
    ("e_fork", "e_forked", "   activity: Tang Injector.fork"),
    ("e_forked", "e_injected", "   activity: Tang get_instance (plan, construct)"),
    ("e_injected", "e_run_start", "   activity: -> run()"),
    ("e_run_start", "e_run_end", "   run()"),
    ("e_run_end", "e_completed_send", "   activity: result checks, COMPLETED status"),
    ("e_completed_send", "d_completed_arrived", "-> driver reader thread has COMPLETED"),
    ("d_completed_arrived", "d_completed_dispatched", "-> driver dispatcher (Wake stage handoff)"),
    ("d_completed_dispatched", "d_handler", "   dispatcher: state machine, event, handler"),
]
SIDE = [  # not on the sequence above, for reference
    ("e_completed_send", "e_completed_sent", "evaluator: COMPLETED sent, overlaps"),
    ("e_running_send", "d_running_arrived", "RUNNING: evaluator write -> driver reader"),
    ("d_running_arrived", "d_running_dispatched", "RUNNING: driver reader -> dispatcher"),
    ("d_running_dispatched", "d_completed_dispatched", "RUNNING handled -> COMPLETED handled"),
]


def timeline(rounds: int, warmup: int, fast: bool = True) -> None:
    os.environ["REEF_PROFILE_TIMELINE"] = "1"
    global _TIMELINE
    _TIMELINE = True
    _instrument_driver()
    _driver_stamps.clear()
    try:
        run_job(rounds, warmup, fast=fast)
    finally:  # the other modes measure reef as it is
        _uninstrument_driver()
        del os.environ["REEF_PROFILE_TIMELINE"]
        _TIMELINE = False
    rows = [
        h for aid, h in _driver_stamps.items() if aid.startswith("s-") and int(aid[2:]) > warmup
    ]
    rows = [h for h in rows if all(k in h for a, b, _ in HOPS for k in (a, b))]
    if not rows:
        print("timeline: no complete rows (reef's internals changed?)")
        return
    path = "fast path" if fast else "gRPC stream only"
    print(f"\ntimeline of a round trip, {path} ({len(rows)} rounds, µs; p50 of each hop)")
    print(f"  {'':<56}{'p50':>7}{'p90':>7}")
    total = [(h["d_handler"] - h["d_submit"]) * 1e6 for h in rows]
    for a, b, what in HOPS:
        col = [(h[b] - h[a]) * 1e6 for h in rows]
        print(f"  {what:<56}{pct(col, 50):7.0f}{pct(col, 90):7.0f}")
    print(f"  {'total (submit -> handler)':<56}{pct(total, 50):7.0f}{pct(total, 90):7.0f}")
    print("  alongside:")
    for a, b, what in SIDE:
        col = [(h[b] - h[a]) * 1e6 for h in rows if a in h and b in h]
        if col:
            print(f"  {what:<56}{pct(col, 50):7.0f}{pct(col, 90):7.0f}")


CATEGORIES = [  # (category, substrings of the innermost frame's file), first match wins
    ("gRPC", ("grpc/", "grpc\\")),
    ("TLS/socket", ("ssl.py", "socket.py", "_frames.py")),
    ("protobuf", ("google/protobuf", "control_pb2")),
    ("Tang", ("reef/tang/",)),
    ("Wake", ("reef/wake/",)),
    ("ordering (OrderedInbox)", ("_ordered.py",)),
    ("reef driver", ("reef/driver/",)),
    ("reef evaluator", ("reef/evaluator/",)),
    ("reef common/activity", ("reef/common/",)),
    ("threading/queue", ("threading.py", "queue.py")),
    ("logging", ("logging/",)),
    ("dataclasses/typing/abc", ("dataclasses.py", "typing.py", "abc.py", "<string>")),
    ("benchmark (user code)", ("profile_round_trip.py",)),
]


def category(frame: str) -> str:
    for name, marks in CATEGORIES:
        if any(m in frame for m in marks):
            return name
    where = frame.rsplit(" (", 1)[-1].split(":", 1)[0]
    return "other: " + where.rsplit("/", 1)[-1]


def _py_spy_bin() -> str | None:
    beside = os.path.join(os.path.dirname(sys.executable), "py-spy")
    return beside if os.path.exists(beside) else shutil.which("py-spy")


def py_spy(pid: int, seconds: float, out: str, rate: int) -> subprocess.Popen[bytes]:
    cmd = [_py_spy_bin() or "py-spy", "record", "--pid", str(pid), "--rate", str(rate)]
    cmd += ["--duration", str(int(seconds)), "--format", "raw", "--output", out]
    cmd += ["--threads", "--gil", "--nonblocking"]  # the GIL holder: Python's CPU time
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def summarize_raw(path: str, title: str, top: int = 12) -> None:
    """Per-thread and per-category shares of a py-spy raw (collapsed) profile."""
    threads: collections.Counter[str] = collections.Counter()
    cats: collections.Counter[str] = collections.Counter()
    funcs: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip().rpartition(" ")
            n = int(count)
            frames = stack.split(";")
            thread, leaf = frames[0], frames[-1]
            total += n
            threads[thread.split(" ", 2)[-1].strip('"')] += n
            cats[category(leaf)] += n
            funcs[leaf] += n
            for c in {category(fr) for fr in frames[1:]}:
                inclusive[c] += n
    print(f"\n{title}: {total} samples (the thread holding the GIL)")
    print("  by thread:")
    for name, n in threads.most_common(8):
        print(f"    {n / total:6.1%}  {name}")
    print("  by category of the innermost frame (self)      inclusive (on the stack)")
    for name, n in cats.most_common(top):
        print(f"    {n / total:6.1%}  {name:<36} {inclusive[name] / total:6.1%}")
    print("  top functions (self):")
    for name, n in funcs.most_common(top):
        print(f"    {n / total:6.1%}  {name}")


def sampled(rounds: int, warmup: int, rate: int) -> None:
    if not _py_spy_bin():
        print("\nsampled: py-spy is not installed (pip install -e '.[bench]'): skipped")
        return
    work = tempfile.mkdtemp(prefix="reef-prof-")
    driver_out = os.path.join(work, "driver.txt")
    evaluator_out = os.path.join(work, "evaluator.txt")
    box: dict[str, Any] = {}
    job = threading.Thread(target=lambda: box.setdefault("legs", run_job(rounds, warmup)))
    job.start()
    evaluator = None
    for _ in range(200):  # find the evaluator once it is up
        time.sleep(0.05)
        found = [p for p in _children("reef.evaluator")]
        if found:
            evaluator = found[0]
            break
    time.sleep(1.0)  # past its start and the warm-up
    seconds = 6
    spies = [py_spy(os.getpid(), seconds, driver_out, rate)]
    if evaluator is not None:
        spies.append(py_spy(evaluator, seconds, evaluator_out, rate))
    for spy in spies:
        _, err = spy.communicate()
        if spy.returncode:
            print("py-spy failed:", err.decode(errors="replace")[-500:])
    job.join()
    for out, title in ((driver_out, "driver"), (evaluator_out, "evaluator")):
        if os.path.exists(out):
            summarize_raw(out, f"{title} process (py-spy --gil, fast path)")
    shutil.rmtree(work, ignore_errors=True)


def _children(marker: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            parent = int(stat[stat.rindex(b")") + 2 :].split()[1])
            if parent == os.getpid() and marker.encode() in cmdline:
                out.append(int(entry))
    return out


def print_stats(stats: pstats.Stats, title: str, rounds: int, top: int = 18) -> None:
    stream = io.StringIO()
    stats.stream = stream  # type: ignore[attr-defined]
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())
    print(f"\n{title}: {total / rounds * 1e6:.0f} µs of profiled time per round trip")
    print(f"  {'self µs/rt':>10} {'cum µs/rt':>10} {'calls/rt':>8}  function")
    rows = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    for (file, line, name), (_cc, nc, tt, ct, _callers) in rows:
        where = f"{file.split('site-packages/')[-1].split('/work/main/')[-1]}:{line}"
        per = f"{tt / rounds * 1e6:10.1f} {ct / rounds * 1e6:10.1f} {nc / rounds:8.1f}"
        print(f"  {per}  {name} ({where})")


def cprofiled(rounds: int, warmup: int) -> None:
    work = tempfile.mkdtemp(prefix="reef-prof-")
    profilers: list[tuple[str, cProfile.Profile]] = []
    lock = threading.Lock()

    def per_thread(frame: Any, event: str, arg: Any) -> None:
        profiler = cProfile.Profile()
        with lock:
            profilers.append((threading.current_thread().name, profiler))
        profiler.enable()  # replaces this hook on this thread

    threading.setprofile(per_thread)
    try:
        run_job(rounds, warmup, profile_dir=work)
    finally:
        threading.setprofile(None)
    by_name: dict[str, pstats.Stats] = {}
    for name, profiler in profilers:
        profiler.disable()
        key = name.split("-")[0] if name.startswith("reef-rpc") else name
        key = "reef-fast (driver fast-path reader)" if name.startswith("reef-fast-") else key
        try:
            stats = pstats.Stats(profiler)
        except TypeError:  # nothing recorded
            continue
        if key in by_name:
            by_name[key].add(stats)
        else:
            by_name[key] = stats
    for key in ("wake:driver.dispatch:0", "reef-fast (driver fast-path reader)"):
        for name, stats in by_name.items():
            if name.startswith(key.split(" ")[0]):
                print_stats(stats, f"driver thread {key} (cProfile)", rounds)
    for name in ("evaluator-control", "evaluator-activity"):
        path = os.path.join(work, f"{name}.prof")
        if os.path.exists(path):
            print_stats(pstats.Stats(path), f"{name} thread (cProfile)", rounds)
    shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--rate", type=int, default=997, help="py-spy samples per second")
    parser.add_argument("--only", choices=("legs", "timeline", "sampled", "cprofile"))
    parser.add_argument("--stream", action="store_true", help="timeline: fast path off")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="reef-prof-home-")
    os.environ["REEF_HOME"] = home
    try:
        if args.only in (None, "legs"):
            legs(args.rounds, args.warmup)
        if args.only in (None, "timeline"):
            timeline(args.rounds, args.warmup, fast=not args.stream)
        if args.only in (None, "sampled"):
            sampled(max(args.rounds, 20000), args.warmup, args.rate)
        if args.only in (None, "cprofile"):
            cprofiled(args.rounds, args.warmup)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
