"""PageRank, bulk-synchronous, over an edge list partitioned across retained evaluators.

    python examples/make_points.py edges graph.txt --vertices 10000 --edges 100000
    python examples/pagerank.py --input graph.txt --iterations 20 --evaluators 2 --top 10

The input is a text file of lines ``src dst`` (non-negative integer vertex ids, whitespace
between; lines starting with ``#`` are comments). The vertices are 0 .. the largest id; every
rank starts at ``1 / n``; damping is 0.85; the rank of vertices without out-edges (dangling) is
spread uniformly over all vertices; the number of iterations is fixed.

``DataSet.split(format="lines")`` cuts the file into ``E`` byte ranges of whole lines (so each
evaluator holds a range of edges); each evaluator parses its edges once and keeps them in the
``Cache``. A first activity all-reduces the vertex count (``MAX``) and the out-degrees (``SUM``)
into the context's ``PageRankState``. Then one activity per iteration: the rank each of its
edges carries (``rank[src] / out_degree[src]``) summed per destination, all-reduced, and the
same new ranks computed on every evaluator.

The last line printed is JSON: ``{"top": [[vertex, rank], ...], "iterations": I, "vertices":
n, "seconds_total": ..., "seconds_per_iteration": [...], "load_seconds": ...}``.
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
from reef.services.group import MAX, SUM, Communicator, GroupCommunication, GroupService
from reef.tang import NamedParameter


class InputPath(NamedParameter[str]):
    """The edge list: lines 'src dst'."""


class Iterations(NamedParameter[int]):
    """How many PageRank iterations."""

    default = 20


class Evaluators(NamedParameter[int]):
    """How many evaluators (and partitions of the edges)."""

    default = 2


class Top(NamedParameter[int]):
    """How many of the highest-ranked vertices to report."""

    default = 10


class EvaluatorMemory(NamedParameter[int]):
    """Memory of each evaluator (MB); the Cache may use most of it."""

    default = 512


EDGES = "pagerank/edges"  # the Cache key of a partition's parsed edges


class PageRankState:
    """A context service: the ranks and the out-degrees, kept across the iterations."""

    def __init__(self) -> None:
        self.ranks = np.empty(0)
        self.out_degree = np.empty(0)
        self.iterations = 0


class LoadEdges(reef.Activity):
    """Parses the evaluator's edges once (kept in the Cache); all-reduces the vertex count and
    the out-degrees; sets every rank to ``1 / n``."""

    def __init__(
        self, comm: Communicator, data: PartitionData, cache: Cache, state: PageRankState
    ) -> None:
        self.comm, self.data, self.cache, self.state = comm, data, cache, state

    def run(self, memento: bytes | None) -> bytes:
        started = time.perf_counter()
        where = f"{self.data.partition.segments[0].url}" if self.data.partition.segments else ""
        edges = ml_kernels.parse_edges(self.data.load(), where or "the input")
        self.cache.put(EDGES, edges)
        self.cache.remove(self.data.key)  # the lines: the parsed edges replace them
        local = np.array([int(edges.max()) + 1 if edges.size else 0], dtype=np.int64)
        n = int(self.comm.all_reduce(local, op=MAX)[0])
        if n == 0:  # every member saw it: all fail alike
            raise ValueError("the input holds no edge (lines 'src dst'): nothing to rank")
        local_degree = np.bincount(edges[:, 0], minlength=n).astype(np.float64)
        self.state.out_degree = self.comm.all_reduce(local_degree, op=SUM)
        self.state.ranks = np.full(n, 1.0 / n)
        seconds = time.perf_counter() - started
        return json.dumps(
            {"edges": int(edges.shape[0]), "vertices": n, "seconds": seconds}
        ).encode()


class Iterate(reef.Activity):
    """One iteration: what this partition's edges carry, all-reduced, new ranks on every
    evaluator. Rank 0 returns the top vertices."""

    def __init__(
        self, comm: Communicator, cache: Cache, state: PageRankState, top: Annotated[int, Top]
    ) -> None:
        self.comm, self.cache, self.state, self.top = comm, cache, state, top

    def run(self, memento: bytes | None) -> bytes:
        state = self.state
        carried = ml_kernels.pagerank_step(self.cache[EDGES], state.ranks, state.out_degree)
        received = self.comm.all_reduce(carried, op=SUM)
        state.ranks = ml_kernels.pagerank_update(state.ranks, received, state.out_degree)
        state.iterations += 1
        result: dict[str, Any] = {"iteration": state.iterations}
        if self.comm.rank == 0:
            result["top"] = ml_kernels.top_vertices(state.ranks, self.top)
        return json.dumps(result).encode()


class PageRankDriver(reef.Driver):
    """Loads ``InputPath`` on ``Evaluators`` evaluators, runs ``Iterations`` iterations and
    sends the outcome (JSON) to the client."""

    def __init__(
        self,
        *,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        groups: GroupCommunication,
        path: Annotated[str, InputPath],
        iterations: Annotated[int, Iterations],
        evaluators: Annotated[int, Evaluators],
        top: Annotated[int, Top],
        memory_mb: Annotated[int, EvaluatorMemory],
    ) -> None:
        self.requestor, self.client, self.groups = requestor, client, groups
        self.path, self.iterations, self.evaluators = path, iterations, evaluators
        self.top, self.memory_mb = top, memory_mb
        self.ready: list[reef.AllocatedEvaluator] = []
        self.loaded: list[reef.ActiveContext] = []
        self.done: dict[int, int] = {}
        self.seconds: list[float] = []
        self.result: list[list[float]] = []
        self.vertices = 0
        self.started = self.mark = self.load_seconds = 0.0

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.started = time.perf_counter()
        self.partitions = DataSet.split([self.path], self.evaluators, format="lines")
        self.requestor.submit(
            reef.EvaluatorRequest(count=self.evaluators, memory_mb=self.memory_mb)
        )

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        self.ready.append(ev)
        if len(self.ready) < self.evaluators:
            return
        self.group = self.groups.new_group("pagerank", [e.id for e in self.ready])
        for e, partition in zip(self.ready, self.partitions, strict=True):
            e.submit_context_and_activity(
                reef.ContextConfiguration(
                    id=f"pagerank-{e.id}",
                    services=[PageRankState, GroupService, Cache, PartitionData],
                    parameters={CacheMemoryBudget: self.memory_mb * 1024 * 1024 * 3 // 4},
                    configuration=partition.configuration(),
                ),
                reef.ActivityConfiguration(
                    id=f"load-{e.id}",
                    activity=LoadEdges,
                    configuration=self.group.member_configuration(e.id),
                ),
            )

    def iteration(self, evaluator: str, n: int) -> reef.ActivityConfiguration:
        return reef.ActivityConfiguration(
            id=f"iterate-{n}-{evaluator}",
            activity=Iterate,
            parameters={Top: self.top},
            configuration=self.group.member_configuration(evaluator),
        )

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        assert done.result is not None
        result = json.loads(done.result)
        evaluator = done.context.evaluator_id
        if "iteration" not in result:  # a partition is loaded
            self.vertices = result["vertices"]
            self.loaded.append(done.context)
            if len(self.loaded) == self.evaluators:  # all are: iterate together
                self.mark = time.perf_counter()
                self.load_seconds = self.mark - self.started
                for context in self.loaded:
                    context.submit_activity(self.iteration(context.evaluator_id, 1))
            return
        n = result["iteration"]
        self.result = result.get("top", self.result)
        self.done[n] = self.done.get(n, 0) + 1
        if self.done[n] == self.evaluators:
            now = time.perf_counter()
            self.seconds.append(now - self.mark)
            self.mark = now
        if n < self.iterations:
            done.context.submit_activity(self.iteration(evaluator, n + 1))
            return
        done.context.close()  # its last iteration is over: release the evaluator
        if self.done[n] == self.evaluators:
            outcome = {
                "top": self.result,
                "iterations": len(self.seconds),
                "vertices": self.vertices,
                "seconds_per_iteration": self.seconds,
                "load_seconds": self.load_seconds,
            }
            self.client.send(json.dumps(outcome).encode())


def run_pagerank(
    path: str,
    iterations: int,
    evaluators: int,
    *,
    top: int = Top.default,
    runtime: Any = "local",
    memory_mb: int = 512,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Runs the job and returns the final line's fields."""
    return ml_kernels.run_job(
        PageRankDriver,
        "PageRank",
        runtime=runtime,
        evaluators=evaluators,
        parameters={
            InputPath: os.path.abspath(path),
            Iterations: iterations,
            Evaluators: evaluators,
            Top: top,
            EvaluatorMemory: memory_mb,
        },
        timeout=timeout,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--input", required=True, help="an edge list: lines 'src dst'")
    parser.add_argument("--iterations", type=int, default=Iterations.default)
    parser.add_argument("--evaluators", type=int, default=2)
    parser.add_argument("--top", type=int, default=Top.default)
    parser.add_argument("--runtime", choices=("local", "yarn"), default="local")
    parser.add_argument("--memory-mb", type=int, default=512, help="per evaluator")
    args = parser.parse_args(argv)
    if min(args.iterations, args.evaluators, args.top, args.memory_mb) < 1:
        parser.error("--iterations, --evaluators, --top and --memory-mb must be >= 1")
    try:
        ml_kernels.check_file(args.input)
    except ValueError as e:
        parser.error(str(e))
    os.environ.update(ml_kernels.SINGLE_THREADED)  # for the evaluators this process starts
    outcome = ml_kernels.exit_on_failure(
        parser,
        lambda: run_pagerank(
            args.input,
            args.iterations,
            args.evaluators,
            top=args.top,
            runtime=args.runtime,
            memory_mb=args.memory_mb,
        ),
    )
    print(
        f"PageRank: {outcome['vertices']} vertices, {outcome['iterations']} iterations, median "
        f"{np.median(outcome['seconds_per_iteration']):.4f} s each",
        file=sys.stderr,
    )
    keys = ("top", "iterations", "vertices", "seconds_total", "seconds_per_iteration")
    print(json.dumps({key: outcome[key] for key in (*keys, "load_seconds")}))


if __name__ == "__main__":
    main()
