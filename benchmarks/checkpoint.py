"""Checkpoints: write and restore throughput beside plain file I/O, and recovery time.

Measures, in one run:
- writing 256 MB of state with ``CheckpointService.save`` (temporary file, fsync, rename,
  directory fsync, crc32, retention of the last one) beside a plain durable write of the same
  bytes to a new file in the same folder (``open``, ``write``, ``fsync``, and the previous file
  deleted, as retention does); and through a ``create()`` stream in 8 MB pieces;
- restoring it with ``load`` (length and crc32 verified) beside a plain ``read()`` of the plain
  file; and through an ``open()`` stream;
- on the local runtime, the time from an evaluator's loss (SIGKILL) to ``FailedEvaluator`` in
  the driver, to the replacement's ``RunningActivity``, and to the activity running again with
  its state restored from its newest checkpoint (16 MB), over several kills.

Rounds interleave the peers, and ratios are medians of per-round ratios, which cancels most of
the load other processes put on the machine. Target: ratio >= 0.8 for write and restore.
Prints a table, then a JSON line; never fails on a missed target.

    python benchmarks/checkpoint.py [--mb 256] [--rounds 7] [--kills 5] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Annotated, Any

import reef
from reef.services import CheckpointService, PeriodicCheckpoint, Recovery, checkpoint_context
from reef.tang import NamedParameter

TARGET_RATIO = 0.8
PIECE = 8 * 1024 * 1024


# -- throughput ---------------------------------------------------------------------------------


def throughput(folder: str, mb: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per round for each variant."""
    data = os.urandom(mb * 1024 * 1024)
    store = CheckpointService(os.path.join(folder, "checkpoints"), retention=1)
    plain_files: list[str] = []
    last: dict[str, str] = {}

    def plain_write() -> None:
        path = os.path.join(folder, f"plain-{len(plain_files)}.bin")
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if plain_files:
            os.unlink(plain_files[-1])  # as retention deletes the previous checkpoint
        plain_files.append(path)

    def save() -> None:
        last["save"] = store.save(data)

    def stream_write() -> None:
        with store.create() as writer:
            view = memoryview(data)
            for start in range(0, len(view), PIECE):
                writer.write(view[start : start + PIECE])
        assert writer.id is not None
        last["stream"] = writer.id

    def plain_read() -> None:
        with open(plain_files[-1], "rb") as f:
            assert len(f.read()) == len(data)

    def load() -> None:
        assert len(store.load(store.latest().id)) == len(data)  # type: ignore[union-attr]

    def stream_read() -> None:
        with store.open(store.latest().id) as reader:  # type: ignore[union-attr]
            n = 0
            while chunk := reader.read(PIECE):
                n += len(chunk)
        assert n == len(data)

    writes: list[tuple[str, Callable[[], None]]] = [
        ("plain write", plain_write),
        ("save", save),
        ("stream write", stream_write),
    ]
    reads: list[tuple[str, Callable[[], None]]] = [
        ("plain read", plain_read),
        ("load", load),
        ("stream read", stream_read),
    ]
    seconds: dict[str, list[float]] = {name: [] for name, _ in writes + reads}
    for _, fn in writes + reads:  # a warm-up round, not counted: first writes stall
        fn()
    for r in range(rounds):
        # Each read follows a write of its own file, so that every reader finds its bytes in
        # the page cache as a restore right after a checkpoint would; orders alternate.
        for (wname, write), (rname, read) in _alternate(list(zip(writes, reads, strict=True)), r):
            for name, fn in ((wname, write), (rname, read)):
                started = time.perf_counter()
                fn()
                seconds[name].append(time.perf_counter() - started)
    for path in plain_files[-1:]:
        os.unlink(path)
    return seconds


def _alternate(items: list[Any], round_number: int) -> list[Any]:
    return items if round_number % 2 == 0 else items[::-1]


# -- recovery -----------------------------------------------------------------------------------


class StateMb(NamedParameter[int]):
    """The size of the benchmark activity's state."""

    default = 16


class Kills(NamedParameter[int]):
    """How many times the driver kills the activity's evaluator."""

    default = 5


class Crunch(reef.Activity):
    """Steps through a state of ``StateMb`` MB, checkpointing every 5 steps, until closed;
    reports each step (with its pid) and its restarts."""

    def __init__(self, checkpoints: CheckpointService, mb: Annotated[int, StateMb]) -> None:
        self.checkpoints, self.mb = checkpoints, mb

    def run(self, memento: bytes | None) -> bytes:
        saver = PeriodicCheckpoint(self.checkpoints, memento, activity=self, every_steps=5)
        step, state = 0, bytes(self.mb * 1024 * 1024)
        if saver.restored is not None:
            step, state = saver.restored.step, saver.restored.data
        self.send_message(json.dumps({"restored": step, "pid": os.getpid()}).encode())
        while step < 10_000 and not self.close_requested.is_set():
            step += 1
            time.sleep(0.002)  # a step of work
            if (suspended := saver.tick(step, state)) is not None:
                return suspended
            self.send_message(json.dumps({"step": step, "pid": os.getpid()}).encode())
        return b""


class Killer(reef.Driver):
    """Kills the evaluator of a ``Crunch`` every time it has made 12 steps, ``Kills`` times,
    and times each recovery; then closes it."""

    def __init__(
        self,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        kills: Annotated[int, Kills],
        mb: Annotated[int, StateMb],
    ) -> None:
        self.requestor, self.client, self.kills = requestor, client, kills
        self.work = Recovery(max_failures=kills)
        self.work.add("crunch", Crunch, parameters={StateMb: mb})
        self.killed_at = 0.0
        self.times: dict[str, list[float]] = {"failed": [], "running": [], "restored": []}
        self.steps = 0
        self.current: reef.RunningActivity | None = None

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.requestor.submit(reef.EvaluatorRequest(memory_mb=512))

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        run = self.work.next()
        assert run is not None
        ev.submit_context_and_activity(checkpoint_context(f"ctx-{ev.id}", retention=2), run)

    def since_kill(self, what: str) -> None:
        if self.killed_at:
            self.times[what].append(time.monotonic() - self.killed_at)

    @reef.on(reef.RunningActivity)
    def running(self, act: reef.RunningActivity) -> None:
        self.since_kill("running")
        self.work.running(act)
        self.current = act
        self.steps = 0

    @reef.on(reef.ActivityMessage)
    def message(self, msg: reef.ActivityMessage) -> None:
        said = json.loads(msg.data)
        if "restored" in said:
            self.since_kill("restored")
            self.killed_at = 0.0
            return
        self.steps += 1
        if self.steps == 12 and not self.killed_at:
            if len(self.times["failed"]) < self.kills:
                self.killed_at = time.monotonic()
                os.kill(said["pid"], signal.SIGKILL)
            elif self.current is not None:
                self.current.close()

    @reef.on(reef.FailedEvaluator)
    def failed(self, f: reef.FailedEvaluator) -> None:
        self.since_kill("failed")
        if self.work.lost(f):
            self.requestor.submit(reef.EvaluatorRequest(memory_mb=512))

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        self.client.send(json.dumps(self.times).encode())
        done.context.close()


def recovery(kills: int, mb: int) -> dict[str, list[float]]:
    result = reef.run(Killer, parameters={Kills: kills, StateMb: mb}, timeout=300)
    if result.status is not reef.JobStatus.SUCCEEDED:
        raise RuntimeError(f"the recovery job did not succeed: {result.error}")
    times: dict[str, list[float]] = json.loads(result.messages[-1])
    return times


# -- report -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=256, help="state size for throughput (MB)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--recovery-mb", type=int, default=16, help="state of the killed one")
    parser.add_argument("--dir", default=None, help="where to write (default: a temp folder)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    folder = tempfile.mkdtemp(prefix="reef-bench-checkpoint-", dir=args.dir)
    try:
        seconds = throughput(folder, args.mb, args.rounds)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    times = recovery(args.kills, args.recovery_mb)

    def mb_s(name: str) -> float:
        return round(args.mb * 1.048576 / statistics.median(seconds[name]), 1)

    def ratio(name: str, peer: str) -> float:
        return round(
            statistics.median(p / s for s, p in zip(seconds[name], seconds[peer], strict=True)), 3
        )

    rates = {name: mb_s(name) for name in seconds}
    ratios = {
        "save/plain write": ratio("save", "plain write"),
        "stream write/plain write": ratio("stream write", "plain write"),
        "load/plain read": ratio("load", "plain read"),
        "stream read/plain read": ratio("stream read", "plain read"),
    }
    met = {
        "write ratio>=0.8": ratios["save/plain write"] >= TARGET_RATIO,
        "restore ratio>=0.8": ratios["load/plain read"] >= TARGET_RATIO,
    }
    recovery_ms = {
        what: {
            "median": round(1000 * statistics.median(values), 1),
            "max": round(1000 * max(values), 1),
        }
        for what, values in times.items()
        if values
    }

    print(f"checkpoint throughput, {args.mb} MB of state, {args.rounds} interleaved rounds")
    print(f"{'variant':<16}{'MB/s (median)':>16}{'best':>10}")
    for name, values in seconds.items():
        best = round(args.mb * 1.048576 / min(values), 1)
        print(f"{name:<16}{rates[name]:>16,}{best:>10,}")
    print("ratios (median of per-round ratios; >= 0.8 targeted for save and load):")
    print("  " + ", ".join(f"{k} {v:.3f}" for k, v in ratios.items()))
    print(f"recovery on the local runtime, {args.kills} SIGKILLs, {args.recovery_mb} MB state:")
    labels = {
        "failed": "kill -> FailedEvaluator",
        "running": "kill -> RunningActivity on a new evaluator",
        "restored": "kill -> running again, state restored",
    }
    for what, label in labels.items():
        if what in recovery_ms:
            f = recovery_ms[what]
            print(f"  {label:<44} median {f['median']:>7} ms, max {f['max']:>7} ms")
    print("targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in met.items()))
    print(
        json.dumps(
            {
                "benchmark": "checkpoint",
                "python": platform.python_version(),
                "cpus": len(os.sched_getaffinity(0)),
                "state_mb": args.mb,
                "rounds": args.rounds,
                "seconds": round(time.perf_counter() - started, 1),
                "mb_per_second": rates,
                "ratios": ratios,
                "round_seconds": {k: [round(x, 3) for x in v] for k, v in seconds.items()},
                "recovery_ms": recovery_ms,
                "kills": args.kills,
                "recovery_state_mb": args.recovery_mb,
                "targets_met": met,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
