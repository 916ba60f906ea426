"""Events per second through a 3-stage Wake chain, against peers measured in the same run.

Each stage's handler forwards ``event + 1``; the sink counts. Variants:

* ``direct``: plain nested function calls (peer: the floor for an inlined chain);
* ``direct_wrapped``: the same with a bare forwarding wrapper around each handler (peer: the
  least that any per-stage instrumentation of an inlined chain can cost);
* ``inline``: ``build_chain`` with three ``"inline"`` steps (``SyncStage``);
* ``raw_queue``: three threads joined by bare ``queue.SimpleQueue`` s (peer for queued chains);
* ``pool1`` / ``pool2``: three ``ThreadPoolStage`` s with 1 / 2 threads each;

and each Wake variant with profiling ``off``, ``on`` (every event) and ``sampled`` (1/64, the
default). Runs are interleaved and repeated; the table gives best and median wall-clock
throughput and the median per CPU-second. Ratios and costs are medians of per-round ratios
(the two runs compared were made in the same round, moments apart). The last line is JSON
with every figure and the ratios. Never fails on a missed target.

    .venv/bin/python benchmarks/wake_throughput.py [--events N] [--repeats R]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

from reef.wake import EventHandler, Profiling, StageRegistry, StageSpec, build_chain

SAMPLE_EVERY = 64
PROFILES = {  # in this order, so that each sampled run follows its unprofiled twin
    "off": Profiling.off(),
    "sampled": Profiling.sampled(SAMPLE_EVERY),
    "on": Profiling.on(),
}
INLINE_SCALE = 4  # inline runs are faster: give them more events, for a similar duration
TARGETS = {"inline_off": 2_000_000, "pool1_off": 500_000, "sampled_cost_max": 0.30}

Run = Callable[[int], tuple[float, float]]  # events -> (wall seconds, cpu seconds)


def forward(downstream: EventHandler[Any]) -> EventHandler[int]:
    """The trivial handler of every stage: pass ``event + 1`` on."""

    def handle(event: int) -> None:
        downstream(event + 1)

    return handle


def counting_sink() -> tuple[EventHandler[int], Callable[[], int]]:
    """A sink that counts (safe with several threads: ``next`` on ``itertools.count`` is one
    C call), and a reader of the count."""
    counter = itertools.count()

    def sink(event: int) -> None:
        next(counter)

    return sink, lambda: next(counter)


def timed(feed: Callable[[], None], finish: Callable[[], None]) -> tuple[float, float]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    feed()
    finish()
    return time.perf_counter() - wall, time.process_time() - cpu


def bare_wrapper(handler: EventHandler[int]) -> EventHandler[int]:
    """A wrapper that only forwards: the least any per-stage instrumentation can add."""

    def on_next(event: int) -> None:
        handler(event)

    return on_next


def no_wrapper(handler: EventHandler[int]) -> EventHandler[int]:
    return handler


def run_direct(wrap: Callable[[EventHandler[int]], EventHandler[int]]) -> Run:
    def run(events: int) -> tuple[float, float]:
        sink, count = counting_sink()
        head = wrap(forward(wrap(forward(wrap(forward(sink))))))

        def feed() -> None:
            for i in range(events):
                head(i)

        result = timed(feed, lambda: None)
        assert count() == events
        return result

    return run


def run_raw_queue(events: int) -> tuple[float, float]:
    sink, count = counting_sink()
    stop = object()
    queues: list[SimpleQueue[Any]] = [SimpleQueue() for _ in range(3)]

    def worker(inbox: SimpleQueue[Any], downstream: EventHandler[Any], last: bool) -> None:
        get = inbox.get
        while True:
            event = get()
            if event is stop:
                if not last:
                    downstream(stop)
                return
            downstream(event + 1)

    outlets: list[EventHandler[Any]] = [queues[1].put, queues[2].put, sink]
    threads = [
        threading.Thread(target=worker, args=(queues[i], outlets[i], i == 2)) for i in range(3)
    ]
    for thread in threads:
        thread.start()
    put = queues[0].put

    def feed() -> None:
        for i in range(events):
            put(i)

    def finish() -> None:
        put(stop)
        for thread in threads:
            thread.join()

    result = timed(feed, finish)
    assert count() == events
    return result


def run_wake(kind: str, threads: int, profile: str) -> Run:
    def run(events: int) -> tuple[float, float]:
        sink, count = counting_sink()
        spec = StageSpec(
            kind="inline" if kind == "inline" else "thread_pool",
            threads=threads,
            profiling=PROFILES[profile],
        )
        chain = build_chain([(forward, spec)] * 3, sink, registry=StageRegistry())
        on_next = chain.on_next

        def feed() -> None:
            for i in range(events):
                on_next(i)

        result = timed(feed, chain.close)
        assert count() == events
        return result

    return run


def variants() -> dict[str, tuple[Run, int]]:
    """name -> (run, events per run relative to the base count)."""
    table: dict[str, tuple[Run, int]] = {
        "direct": (run_direct(no_wrapper), INLINE_SCALE),
        "direct_wrapped": (run_direct(bare_wrapper), INLINE_SCALE),
    }
    table.update({f"inline_{p}": (run_wake("inline", 1, p), INLINE_SCALE) for p in PROFILES})
    table["raw_queue"] = (run_raw_queue, 1)
    for threads in (1, 2):
        table.update({f"pool{threads}_{p}": (run_wake("pool", threads, p), 1) for p in PROFILES})
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per queued run")
    parser.add_argument("--repeats", type=int, default=7, help="runs per variant, interleaved")
    args = parser.parse_args()
    table = variants()
    walls: dict[str, list[float]] = {name: [] for name in table}
    per_cpu: dict[str, list[float]] = {name: [] for name in table}
    started = time.perf_counter()
    for run, scale in table.values():  # warm-up, not recorded
        run(args.events * scale // 10)
    for _ in range(args.repeats):
        for name, (run, scale) in table.items():
            events = args.events * scale
            wall, cpu = run(events)
            walls[name].append(events / wall)
            per_cpu[name].append(events / cpu if cpu > 0 else float("nan"))

    figures = {
        name: {
            "best": round(max(walls[name])),
            "median": round(statistics.median(walls[name])),
            "cpu_median": round(statistics.median(per_cpu[name])),
        }
        for name in table
    }

    def ratio(a: str, b: str) -> float:
        """Median over rounds of a/b: a round's runs are made moments apart, so the ratio
        cancels most of the load that other processes put on the machine."""
        return statistics.median(x / y for x, y in zip(walls[a], walls[b], strict=True))

    ratios = {
        "inline_off/direct": ratio("inline_off", "direct"),
        "bare_wrapper_cost": 1 - ratio("direct_wrapped", "direct"),
        "pool1_off/raw_queue": ratio("pool1_off", "raw_queue"),
        "pool2_off/raw_queue": ratio("pool2_off", "raw_queue"),
    }
    for chain in ("inline", "pool1", "pool2"):
        for profile in ("on", "sampled"):
            ratios[f"{chain}_{profile}_cost"] = 1 - ratio(f"{chain}_{profile}", f"{chain}_off")
    ratios = {k: round(v, 3) for k, v in ratios.items()}
    med = {name: figures[name]["median"] for name in table}
    met = {
        "inline_off>=2M": med["inline_off"] >= TARGETS["inline_off"],
        "pool1_off>=500k": med["pool1_off"] >= TARGETS["pool1_off"],
        "pool1_sampled_cost<=30%": ratios["pool1_sampled_cost"] <= TARGETS["sampled_cost_max"],
        "pool2_sampled_cost<=30%": ratios["pool2_sampled_cost"] <= TARGETS["sampled_cost_max"],
        "inline_sampled_cost<=30%": ratios["inline_sampled_cost"] <= TARGETS["sampled_cost_max"],
    }

    inline_events = args.events * INLINE_SCALE
    print(
        f"Wake 3-stage chain, events/s ({args.repeats} interleaved runs; "
        f"{args.events} events per queued run, {inline_events} per inline run)"
    )
    print(f"{'variant':<16}{'best':>12}{'median':>12}{'per CPU-s':>12}")
    for name in table:
        f = figures[name]
        print(f"{name:<16}{f['best']:>12,}{f['median']:>12,}{f['cpu_median']:>12,}")
    print("ratios (median of per-round ratios):")
    print("  " + ", ".join(f"{k} {v:.3f}" for k, v in ratios.items()))
    print("targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in met.items()))
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "benchmark": "wake_throughput",
                "python": platform.python_version(),
                "cpus": len(os.sched_getaffinity(0)),
                "events": args.events,
                "repeats": args.repeats,
                "sample_every": SAMPLE_EVERY,
                "seconds": round(elapsed, 1),
                "events_per_second": figures,
                "ratios": ratios,
                "targets_met": met,
            }
        )
    )


if __name__ == "__main__":
    main()
