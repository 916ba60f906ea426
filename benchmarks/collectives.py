"""Group communication bandwidth: broadcast and all-reduce of a large float64 array between
two evaluators on one host, over shared memory and over TLS/TCP (forced), against the two
limits of this machine measured in the same run:

- **memcpy**: ``np.copyto`` of the same array into a preallocated one, in this process (what
  a shared-memory transport could at best approach: it copies in and out of its ring);
- **raw socket**: the same bytes from one process to another over an unencrypted loopback TCP
  socket (sender ``sendall``, receiver ``recv_into`` a preallocated buffer), what a TCP
  transport could at best approach (reef's adds TLS: AES-128-GCM both ways).

The reef figures come from one job with two evaluators (``GroupService`` in their root
contexts) and two groups over the same pair, one with ``transport="shm"`` and one with
``transport="tcp"``. An activity on each evaluator runs, per transport and repeat: a barrier,
then the timed collective; each member times its own call and the slowest member's time
counts (rank 1 of a broadcast has the whole array only at the end of its call). One untimed
warm-up of each collective comes first (links are set up then). Bandwidth is bytes of the
array over that time (for all-reduce, "algorithm bandwidth": the array's size over the
time; it moves the array up and down the pair, so it is at most half of a broadcast's).
Figures are medians over ``--repeats``; ratios: shm / memcpy and tcp / raw socket.

The table comes first; the last line of stdout is JSON with every figure. Exit status 0 unless
a job fails (figures never fail the run). Top-level imports stay light: evaluators import this
script for its ``__main__`` classes.

    .venv/bin/python benchmarks/collectives.py [--megabytes 256] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import socket
import sys
import tempfile
import time
from typing import Annotated

import numpy as np

import reef
from reef.services.group import (
    Communicator,
    Flat,
    GroupCommunication,
    GroupService,
)
from reef.tang import NamedParameter

TRANSPORTS = ("shm", "tcp")
COLLECTIVES = ("broadcast", "all_reduce")
SMALL_BYTES = 1024  # the latency figure: a 1 KiB all_reduce, back to back
SMALL_CALLS = 200


class Elements(NamedParameter[int]):
    """float64 elements of the array."""

    default = 32 * 1024 * 1024


class Repeats(NamedParameter[int]):
    """Timed repeats of each collective."""

    default = 5


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


# -- on evaluators --------------------------------------------------------------------------------


class Measure(reef.Activity):
    """Times broadcast and all_reduce on both groups; reports this member's seconds."""

    def __init__(
        self,
        groups: GroupService,
        comm: Communicator,
        elements: Annotated[int, Elements],
        repeats: Annotated[int, Repeats],
    ) -> None:
        self.groups, self.elements, self.repeats = groups, elements, repeats
        self.rank = comm.rank

    def run(self, memento: bytes | None) -> bytes:
        data = np.full(self.elements, float(self.rank + 1))
        times: dict[str, dict[str, list[float]]] = {}
        wrong: list[str] = []
        for transport in TRANSPORTS:
            comm = self.groups.communicator(f"bench-{transport}")
            times[transport] = {c: [] for c in COLLECTIVES}
            for k in range(self.repeats + 1):  # the first is a warm-up
                comm.barrier()
                started = time.perf_counter()
                got = comm.broadcast(data if comm.rank == 0 else None)
                took = time.perf_counter() - started
                if k:
                    times[transport]["broadcast"].append(took)
                if got[0] != 1.0 or got[-1] != 1.0:
                    wrong.append(f"{transport} broadcast")
                comm.barrier()
                started = time.perf_counter()
                total = comm.all_reduce(data)
                took = time.perf_counter() - started
                if k:
                    times[transport]["all_reduce"].append(took)
                if total[0] != 3.0 or total[-1] != 3.0:
                    wrong.append(f"{transport} all_reduce")
                del got, total
            small = np.full(SMALL_BYTES // 8, float(self.rank + 1))
            latencies = []
            for k in range(SMALL_CALLS + 10):  # the first 10 are a warm-up
                started = time.perf_counter()
                total = comm.all_reduce(small)
                if k >= 10:
                    latencies.append(time.perf_counter() - started)
                if total[0] != 3.0:
                    wrong.append(f"{transport} small all_reduce")
            times[transport]["small_all_reduce"] = latencies
        return json.dumps({"rank": self.rank, "times": times, "wrong": wrong}).encode()


class BenchDriver(reef.Driver):
    """Two evaluators; two groups over them (shm, tcp); ``Measure`` on each."""

    def __init__(
        self,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        groups: GroupCommunication,
    ) -> None:
        self.requestor, self.client, self.groups = requestor, client, groups
        self.ready: list[reef.AllocatedEvaluator] = []

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.requestor.submit(reef.EvaluatorRequest(count=2, memory_mb=2048))

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        self.ready.append(ev)
        if len(self.ready) < 2:
            return
        ids = [e.id for e in self.ready]
        groups = {
            t: self.groups.new_group(f"bench-{t}", ids, topology=Flat(), timeout=300.0, transport=t)
            for t in TRANSPORTS
        }
        for e in self.ready:
            e.submit_context_and_activity(
                reef.ContextConfiguration(id=f"ctx-{e.id}", services=[GroupService]),
                reef.ActivityConfiguration(
                    id=f"measure-{e.id}",
                    activity=Measure,
                    configuration=groups["shm"].member_configuration(e.id),
                ),
            )

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        self.client.send(done.result or b"")
        done.context.close()


# -- the limits, in this run ----------------------------------------------------------------------


def memcpy_seconds(elements: int, repeats: int) -> float:
    src = np.full(elements, 1.0)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # warm-up (pages mapped)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        np.copyto(dst, src)
        times.append(time.perf_counter() - started)
    return median(times)


def _raw_sender(port: int, nbytes: int, repeats: int) -> None:
    data = np.full(nbytes // 8, 1.0)
    view = memoryview(data).cast("B")
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(repeats + 1):
            sock.recv(1)  # the receiver is ready
            sock.sendall(view)


def raw_socket_seconds(elements: int, repeats: int) -> float:
    """Receiver-side time of ``repeats`` transfers from another process (plain TCP)."""
    nbytes = elements * 8
    buffer = np.empty(nbytes, dtype=np.uint8)
    view = memoryview(buffer)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        sender = multiprocessing.get_context("fork").Process(
            target=_raw_sender, args=(port, nbytes, repeats)
        )
        sender.start()
        try:
            conn, _ = server.accept()
            with conn:
                times = []
                for k in range(repeats + 1):
                    started = time.perf_counter()
                    conn.sendall(b"g")
                    got = 0
                    while got < nbytes:
                        n = conn.recv_into(view[got:], nbytes - got)
                        if not n:
                            raise ConnectionError("the sender closed early")
                        got += n
                    if k:
                        times.append(time.perf_counter() - started)
        finally:
            sender.join(timeout=60)
            if sender.is_alive():
                sender.kill()
                sender.join()
    return median(times)


# -- main -----------------------------------------------------------------------------------------


def run_reef(elements: int, repeats: int, timeout: float) -> dict[str, dict[str, float]]:
    """The slowest member's median seconds per transport and collective."""
    home = tempfile.mkdtemp(prefix="reef-bench-collectives-")
    previous = os.environ.get("REEF_HOME")
    os.environ["REEF_HOME"] = home
    try:
        result = reef.run(
            BenchDriver, parameters={Elements: elements, Repeats: repeats}, timeout=timeout
        )
    finally:
        if previous is None:
            os.environ.pop("REEF_HOME", None)
        else:
            os.environ["REEF_HOME"] = previous
    if result.status is not reef.JobStatus.SUCCEEDED or len(result.messages) != 2:
        print(f"collectives: the job failed ({result.status}): {result.error}", file=sys.stderr)
        print(f"collectives: its logs are in {home}", file=sys.stderr)
        raise SystemExit(1)
    shutil.rmtree(home, ignore_errors=True)
    reports = [json.loads(m) for m in result.messages]
    for r in reports:
        if r["wrong"]:
            print(f"collectives: wrong results: {r['wrong']}", file=sys.stderr)
            raise SystemExit(1)
    out: dict[str, dict[str, float]] = {}
    for t in TRANSPORTS:
        out[t] = {}
        for c in COLLECTIVES:
            per_repeat = [max(r["times"][t][c][k] for r in reports) for k in range(repeats)]
            out[t][c] = median(per_repeat)
        calls = [
            max(r["times"][t]["small_all_reduce"][k] for r in reports) for k in range(SMALL_CALLS)
        ]
        out[t]["small_all_reduce_p50"] = median(calls)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=256, help="array size (MiB)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds for the job")
    args = parser.parse_args(argv)
    elements = args.megabytes * 1024 * 1024 // 8
    nbytes = elements * 8
    load_before = os.getloadavg()[0]
    started = time.perf_counter()

    memcpy = memcpy_seconds(elements, args.repeats)
    raw = raw_socket_seconds(elements, args.repeats)
    figures = run_reef(elements, args.repeats, args.timeout)

    def gbps(seconds: float) -> float:
        return round(nbytes / seconds / 1e9, 3)

    table = {
        "memcpy": gbps(memcpy),
        "raw_socket": gbps(raw),
        **{f"{t}_{c}": gbps(figures[t][c]) for t in TRANSPORTS for c in COLLECTIVES},
    }
    ratios = {
        "shm_broadcast_over_memcpy": round(table["shm_broadcast"] / table["memcpy"], 3),
        "shm_all_reduce_over_memcpy": round(table["shm_all_reduce"] / table["memcpy"], 3),
        "tcp_broadcast_over_raw_socket": round(table["tcp_broadcast"] / table["raw_socket"], 3),
        "tcp_all_reduce_over_raw_socket": round(table["tcp_all_reduce"] / table["raw_socket"], 3),
    }
    print(
        f"\ncollectives: {args.megabytes} MiB float64, 2 evaluators on one host, medians of "
        f"{args.repeats} repeat(s); Python {platform.python_version()} on {os.cpu_count()} cpus"
    )
    print(f"  {'what':<28}{'GB/s':>10}{'seconds':>10}")
    rows = [("memcpy (np.copyto)", memcpy), ("raw socket (plain TCP)", raw)]
    rows += [(f"reef {t} {c}", figures[t][c]) for t in TRANSPORTS for c in COLLECTIVES]
    for name, seconds in rows:
        print(f"  {name:<28}{nbytes / seconds / 1e9:>10.2f}{seconds:>10.3f}")
    for t in TRANSPORTS:
        micros = figures[t]["small_all_reduce_p50"] * 1e6
        print(f"  reef {t} all_reduce 1 KiB p50 {micros:>10.0f} us")
    print()
    for name, value in ratios.items():
        print(f"  {name:<34}{value:>8.2f}")
    print()
    line = {
        "benchmark": "collectives",
        "reef": reef.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "parameters": {"megabytes": args.megabytes, "repeats": args.repeats},
        "gbytes_per_second": table,
        "ratios": ratios,
        "small_all_reduce_p50_us": {
            t: round(figures[t]["small_all_reduce_p50"] * 1e6, 1) for t in TRANSPORTS
        },
        "targets": {"shm_over_memcpy": 0.5, "tcp_over_raw_socket": 0.5},
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
