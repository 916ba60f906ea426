"""k-means (Lloyd's algorithm) on retained evaluators, or the Hadoop way for comparison.

    python examples/make_points.py points points.npy --rows 200000 --dims 16
    python examples/kmeans.py --input points.npy --k 8 --iterations 10 --evaluators 2
    python examples/kmeans.py --input points.npy --k 8 --iterations 10 --evaluators 2 --mode reload

The initial centroids are the first ``k`` points of the input, so any implementation can
reproduce a run; a cluster that gets no points keeps its centroid.

``--mode retained`` (the default): ``E`` evaluators each load one partition of the input once
(``DataSet.split`` on the driver, ``PartitionData`` and ``Cache`` in each evaluator's root
context) and keep it, in the kernel's layout, in the ``Cache``. The centroids live in a context
service, ``KMeansModel``. Then one short activity per iteration runs on every evaluator: it
computes the per-cluster sums and counts of its partition for the current centroids, all-reduces
them with its peers (``Communicator.all_reduce``, one array of ``k x (d + 1)`` numbers), and
computes the same new centroids as every other member into its ``KMeansModel``. The next
iteration's activity is submitted to an evaluator as soon as its previous one completes; nothing
but the activity's submission and its small result passes through the driver. One activity per
iteration keeps the driver in charge of every iteration at little cost: on 2,000,000 x 16 points
and 2 evaluators (benchmarks/kmeans.py), an iteration took 82 ms, of which the kernel 63 ms and
the all-reduce (waiting for the slower member included) 7.5 ms; an activity's round trip is a
fraction of a millisecond.

``--mode reload`` is how Hadoop (Mahout) runs it: every iteration requests ``E`` fresh
evaluators, each reads and parses its partition again (``ml_kernels.read_partition``), computes
the partial sums for the centroids passed in its configuration and returns them as its result;
the driver combines them into the new centroids and releases the evaluators.

The last line printed is JSON: ``{"centroids": [[...], ...], "iterations": I, "seconds_total":
..., "seconds_per_iteration": [...], "load_seconds": ...}``. ``seconds_total`` is the client's
wall time of the whole job; ``seconds_per_iteration`` is measured on the driver, from the end of
the previous iteration (or, retained, the end of loading) until every partition's part of this
one is done. ``load_seconds``: retained, from the job's start until every partition is parsed
and in memory (evaluator start-up included); reload, the reading and parsing inside the
evaluators, the slowest partition of each iteration, summed over the iterations (their start-up
is in the iterations' times).

Evaluators run with one BLAS thread each (``ml_kernels.SINGLE_THREADED``): they share the cores.
``--runtime yarn`` runs on the cluster skein reaches (``reef.runtime.yarn.YarnRuntime``); the
input must then be readable at the same path by the driver and every evaluator.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Annotated, Any

import ml_kernels
import numpy as np

import reef
from reef.services.data import Cache, CacheMemoryBudget, DataSet, PartitionData
from reef.services.group import SUM, Communicator, GroupCommunication, GroupService
from reef.tang import NamedParameter


class InputPath(NamedParameter[str]):
    """The points: a .npy file of a 2-D float array, or a .csv file of one point per line."""


class Clusters(NamedParameter[int]):
    """k: how many clusters."""

    default = 8


class Iterations(NamedParameter[int]):
    """How many Lloyd iterations."""

    default = 10


class Evaluators(NamedParameter[int]):
    """How many evaluators (and partitions of the input)."""

    default = 2


class Mode(NamedParameter[str]):
    """``retained``: evaluators keep their partition; ``reload``: fresh evaluators re-read it
    every iteration."""

    default = "retained"


class EvaluatorMemory(NamedParameter[int]):
    """Memory of each evaluator (MB); the Cache may use most of it."""

    default = 512


class Centroids(NamedParameter[str]):
    """Centroids as JSON (a list of rows): the initial ones of a ``KMeansModel``, or those a
    reload-mode activity computes its partial sums for."""


class PartitionIndex(NamedParameter[int]):
    """Which partition a reload-mode activity reads."""


class PartitionCount(NamedParameter[int]):
    """Into how many partitions the input is split."""


PREPARED = "kmeans/prepared"  # the Cache key of a partition in the kernel's layout


def encode(centroids: np.ndarray) -> str:
    return json.dumps(centroids.tolist())  # floats as repr: exact


def decode(text: str | bytes) -> np.ndarray:
    return np.array(json.loads(text), dtype=np.float64)


# -- retained mode: services and activities ----------------------------------------------------


class KMeansModel:
    """A context service: the current centroids, kept across the iterations' activities."""

    def __init__(self, initial: Annotated[str, Centroids]) -> None:
        self.centroids = decode(initial)
        self.iterations = 0


class LoadPoints(reef.Activity):
    """Parses the evaluator's partition once and keeps it in the Cache in the kernel's layout
    (``with_ones``), in place of the parsed rows. Returns its row count and the seconds it
    took."""

    def __init__(self, data: PartitionData, cache: Cache) -> None:
        self.data, self.cache = data, cache

    def run(self, memento: bytes | None) -> bytes:
        started = time.perf_counter()
        prepared = ml_kernels.with_ones(self.data.load())
        self.cache.put(PREPARED, prepared)
        self.cache.remove(self.data.key)  # the parsed rows: the prepared ones replace them
        seconds = time.perf_counter() - started
        return json.dumps({"rows": prepared.shape[0], "seconds": seconds}).encode()


class Iterate(reef.Activity):
    """One Lloyd iteration: partial sums of this partition, all-reduced, new centroids into the
    model. Returns the iteration's number, its centroids (rank 0) and where its time went."""

    def __init__(self, comm: Communicator, cache: Cache, model: KMeansModel) -> None:
        self.comm, self.cache, self.model = comm, cache, model

    def run(self, memento: bytes | None) -> bytes:
        started = time.perf_counter()
        partial = ml_kernels.kmeans_partial(self.cache[PREPARED], self.model.centroids)
        computed = time.perf_counter()
        combined = self.comm.all_reduce(partial, op=SUM)
        reduced = time.perf_counter()
        self.model.centroids = ml_kernels.kmeans_update(self.model.centroids, combined)
        self.model.iterations += 1
        result: dict[str, Any] = {
            "iteration": self.model.iterations,
            "compute_seconds": computed - started,
            "reduce_seconds": reduced - computed,
        }
        if self.comm.rank == 0:
            result["centroids"] = self.model.centroids.tolist()
        return json.dumps(result).encode()


# -- reload mode: one activity per partition per iteration -------------------------------------


class ReloadPartial(reef.Activity):
    """Reads and parses one partition (as a fresh Hadoop task does) and returns its per-cluster
    sums and counts for the given centroids."""

    def __init__(
        self,
        path: Annotated[str, InputPath],
        index: Annotated[int, PartitionIndex],
        partitions: Annotated[int, PartitionCount],
        centroids: Annotated[str, Centroids],
    ) -> None:
        self.path, self.index, self.partitions = path, index, partitions
        self.centroids = decode(centroids)

    def run(self, memento: bytes | None) -> bytes:
        started = time.perf_counter()
        rows = ml_kernels.read_partition(self.path, self.index, self.partitions)
        prepared = ml_kernels.with_ones(rows)
        loaded = time.perf_counter()
        partial = ml_kernels.kmeans_partial(prepared, self.centroids)
        return json.dumps({"partial": partial.tolist(), "load_seconds": loaded - started}).encode()


# -- the driver ---------------------------------------------------------------------------------


class KMeansDriver(reef.Driver):
    """Runs ``Iterations`` Lloyd iterations over ``InputPath`` on ``Evaluators`` evaluators, in
    the ``Mode`` given, and sends the outcome (JSON) to the client."""

    def __init__(
        self,
        *,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        groups: GroupCommunication,
        path: Annotated[str, InputPath],
        k: Annotated[int, Clusters],
        iterations: Annotated[int, Iterations],
        evaluators: Annotated[int, Evaluators],
        mode: Annotated[str, Mode],
        memory_mb: Annotated[int, EvaluatorMemory],
    ) -> None:
        if mode not in ("retained", "reload"):
            raise ValueError(f"Mode={mode!r}: give 'retained' or 'reload'")
        self.requestor, self.client, self.groups = requestor, client, groups
        self.path, self.k, self.iterations = path, k, iterations
        self.evaluators, self.mode, self.memory_mb = evaluators, mode, memory_mb
        self.centroids = np.empty((0, 0))
        self.started = 0.0
        self.mark = 0.0  # when the current phase (loading, an iteration) began
        self.load_seconds = 0.0
        self.seconds: list[float] = []
        self.ready: list[reef.AllocatedEvaluator] = []
        self.pending = 0  # activities of the current phase not completed yet
        self.partials: list[np.ndarray] = []
        self.done: dict[int, int] = {}  # retained: iteration -> evaluators done with it
        self.contexts: dict[str, reef.ActiveContext] = {}  # retained: by evaluator id
        self.load_max = 0.0  # reload: the slowest partition's load in this iteration
        self.compute: list[float] = []
        self.reduce: list[float] = []

    def request(self) -> None:
        self.requestor.submit(
            reef.EvaluatorRequest(count=self.evaluators, memory_mb=self.memory_mb, cores=1)
        )

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.started = self.mark = time.perf_counter()
        self.centroids = ml_kernels.read_first_rows(self.path, self.k)
        if self.mode == "retained":
            fmt = ml_kernels.input_format(self.path)
            self.partitions = DataSet.split([self.path], self.evaluators, format=fmt)
        self.request()

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        if self.mode == "reload":
            index = len(self.ready) % self.evaluators
            self.ready.append(ev)
            ev.submit_context_and_activity(
                reef.ContextConfiguration(id=f"ctx-{ev.id}"),
                reef.ActivityConfiguration(
                    id=f"partial-{len(self.seconds) + 1}-{index}",
                    activity=ReloadPartial,
                    parameters={
                        InputPath: self.path,
                        PartitionIndex: index,
                        PartitionCount: self.evaluators,
                        Centroids: encode(self.centroids),
                    },
                ),
            )
            return
        self.ready.append(ev)
        if len(self.ready) < self.evaluators:
            return
        self.group = self.groups.new_group("kmeans", [e.id for e in self.ready])
        budget = self.memory_mb * 1024 * 1024 * 3 // 4
        for e, partition in zip(self.ready, self.partitions, strict=True):
            e.submit_context_and_activity(
                reef.ContextConfiguration(
                    id=f"kmeans-{e.id}",
                    services=[KMeansModel, GroupService, Cache, PartitionData],
                    parameters={Centroids: encode(self.centroids), CacheMemoryBudget: budget},
                    configuration=partition.configuration(),
                ),
                reef.ActivityConfiguration(id=f"load-{e.id}", activity=LoadPoints),
            )
        self.pending = self.evaluators

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        assert done.result is not None
        result = json.loads(done.result)
        if self.mode == "reload":
            self.reload_completed(done, result)
        else:
            self.retained_completed(done, result)

    def retained_completed(self, done: reef.CompletedActivity, result: dict[str, Any]) -> None:
        context, evaluator = done.context, done.context.evaluator_id
        self.contexts[evaluator] = context
        if "iteration" not in result:  # a partition is loaded
            self.pending -= 1
            if self.pending == 0:  # all are: every evaluator starts iterating together
                now = time.perf_counter()
                self.load_seconds, self.mark = now - self.started, now
                for ev in self.ready:
                    self.contexts[ev.id].submit_activity(self.iteration_configuration(ev.id, 1))
            return
        n = result["iteration"]
        if "centroids" in result:
            self.centroids = np.array(result["centroids"])
        self.done[n] = self.done.get(n, 0) + 1
        if self.done[n] == self.evaluators:  # the iteration is over on every evaluator
            now = time.perf_counter()
            self.seconds.append(now - self.mark)
            self.mark = now
        self.compute.append(result["compute_seconds"])
        self.reduce.append(result["reduce_seconds"])
        if n < self.iterations:
            context.submit_activity(self.iteration_configuration(evaluator, n + 1))
            return
        context.close()  # its last iteration is over: release the evaluator
        if self.done[n] == self.evaluators:
            self.finish()

    def iteration_configuration(self, evaluator: str, n: int) -> reef.ActivityConfiguration:
        return reef.ActivityConfiguration(
            id=f"iterate-{n}-{evaluator}",
            activity=Iterate,
            configuration=self.group.member_configuration(evaluator),
        )

    def reload_completed(self, done: reef.CompletedActivity, result: dict[str, Any]) -> None:
        done.context.close()  # releases the evaluator: the next iteration gets fresh ones
        self.partials.append(np.array(result["partial"]))
        self.load_max = max(self.load_max, result["load_seconds"])
        if len(self.partials) < self.evaluators:
            return
        combined = np.sum(self.partials, axis=0)
        self.centroids = ml_kernels.kmeans_update(self.centroids, combined)
        self.partials = []
        self.load_seconds += self.load_max
        self.load_max = 0.0
        now = time.perf_counter()
        self.seconds.append(now - self.mark)
        self.mark = now
        if len(self.seconds) < self.iterations:
            self.request()
        else:
            self.finish()

    def finish(self) -> None:
        outcome: dict[str, Any] = {
            "centroids": self.centroids.tolist(),
            "iterations": len(self.seconds),
            "seconds_per_iteration": self.seconds,
            "load_seconds": self.load_seconds,
        }
        if self.compute:
            outcome["compute_seconds"] = float(np.median(self.compute))
            outcome["reduce_seconds"] = float(np.median(self.reduce))
        self.client.send(json.dumps(outcome).encode())


# -- running it ---------------------------------------------------------------------------------


def run_kmeans(
    path: str,
    k: int,
    iterations: int,
    evaluators: int,
    *,
    mode: str = "retained",
    runtime: Any = "local",
    memory_mb: int = 512,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Runs the job and returns its outcome: the final line's fields, and (retained) the median
    seconds of an iteration's computation and all-reduce inside the evaluators."""
    return ml_kernels.run_job(
        KMeansDriver,
        "k-means",
        runtime=runtime,
        evaluators=evaluators,
        parameters={
            InputPath: os.path.abspath(path),
            Clusters: k,
            Iterations: iterations,
            Evaluators: evaluators,
            Mode: mode,
            EvaluatorMemory: memory_mb,
        },
        timeout=timeout,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--input", required=True, help="points: .npy or .csv (make_points.py)")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--evaluators", type=int, default=2)
    parser.add_argument("--mode", choices=("retained", "reload"), default="retained")
    parser.add_argument("--runtime", choices=("local", "yarn"), default="local")
    parser.add_argument("--memory-mb", type=int, default=512, help="per evaluator")
    args = parser.parse_args(argv)
    if min(args.k, args.iterations, args.evaluators, args.memory_mb) < 1:
        parser.error("--k, --iterations, --evaluators and --memory-mb must be >= 1")
    try:
        ml_kernels.check_rows(args.input, min_rows=args.k)
    except ValueError as e:
        parser.error(str(e))
    os.environ.update(ml_kernels.SINGLE_THREADED)  # for the evaluators this process starts
    outcome = ml_kernels.exit_on_failure(
        parser,
        lambda: run_kmeans(
            args.input,
            args.k,
            args.iterations,
            args.evaluators,
            mode=args.mode,
            runtime=args.runtime,
            memory_mb=args.memory_mb,
        ),
    )
    per = outcome["seconds_per_iteration"]
    print(
        f"k-means ({args.mode}, {args.evaluators} evaluators): {outcome['iterations']} "
        f"iterations, median {np.median(per):.4f} s each, load {outcome['load_seconds']:.3f} s",
        file=sys.stderr,
    )
    if "compute_seconds" in outcome:
        print(
            f"inside an iteration (median): compute {outcome['compute_seconds']:.6f} s, "
            f"all-reduce {outcome['reduce_seconds']:.6f} s",
            file=sys.stderr,
        )
    keys = ("centroids", "iterations", "seconds_total", "seconds_per_iteration", "load_seconds")
    print(json.dumps({key: outcome[key] for key in keys}))


if __name__ == "__main__":
    main()
