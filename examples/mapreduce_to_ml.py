"""A MapReduce ETL step feeding a machine-learning model: the hybrid workload of the REEF demo.

    python examples/make_points.py records events.txt --users 5000 --records 100000
    python examples/mapreduce_to_ml.py --input events.txt --handoff memory
    python examples/mapreduce_to_ml.py --input events.txt --handoff disk --output features/

The input is raw text records ``user,event,amount`` (``ml_kernels.EVENTS``). Phase one, on ``E``
evaluators, each over one byte range of the records (``DataSet.split(format="lines")``):

- **map**: each record becomes ``(user, vector)``, its amount at its event's place;
- **combine**: ``Combiner`` sums the vectors of each user within the evaluator;
- **shuffle**: each user's total goes to reducer ``partition_of(user, E)``, all at once with
  ``Communicator.all_to_all``;
- **reduce**: each reducer sums what it received per user and makes one row per user: the log of
  one plus the total per event type (except purchases) as features, whether they purchased as
  the label: logistic regression's input format.

Phase two trains ``logistic_regression.py``'s model on those rows, with its services and
activities. How the rows get there is the configuration ``--handoff``:

- ``memory``: each reducer keeps its rows in its ``Cache``; the training activities run on the
  same retained evaluators, on the same group, and start at once;
- ``disk`` (the Hadoop way): each reducer writes ``part-<rank>.npy`` into ``--output`` (a
  directory every evaluator sees; a temporary one by default) and its evaluator is released;
  training gets ``E`` fresh evaluators that read the files again (``DataSet.split``,
  ``PartitionData``).

Both give the same model. The last line printed is JSON: ``{"weights": [...], "loss": [...],
"iterations": I, "handoff": ..., "users": ..., "etl_seconds": ..., "handoff_seconds": ...,
"train_seconds": ..., "seconds_per_iteration": [...], "seconds_total": ...}``: the ETL from the
job's start until every reducer's rows are handed off; from then until every training evaluator
holds its rows (0 in memory); the training iterations.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Annotated, Any

import logistic_regression as lr
import ml_kernels
import numpy as np

import reef
from reef.services.data import Cache, Combiner, DataSet, PartitionData, partition_of
from reef.services.group import Communicator, GroupCommunication, GroupService
from reef.tang import NamedParameter


class InputPath(NamedParameter[str]):
    """The records: text lines 'user,event,amount'."""


class Handoff(NamedParameter[str]):
    """How the ETL's rows reach training: 'memory' (the Cache, same evaluators) or 'disk'
    (files in OutputDir, read by fresh evaluators)."""

    default = "memory"


class OutputDir(NamedParameter[str]):
    """Where the disk handoff writes the rows (a directory every evaluator and the driver
    see)."""

    default = ""


WIDTH = len(ml_kernels.EVENTS)


def part_file(rank: int) -> str:
    """The name of the file reducer ``rank`` writes in the disk handoff."""
    return f"part-{rank:05d}.npy"


class ExtractTransform(reef.Activity):
    """Map, combine, shuffle and reduce this evaluator's records; hand its users' rows to
    training (the Cache) or write them to ``OutputDir``. Returns counts and timings."""

    def __init__(
        self,
        *,
        comm: Communicator,
        data: PartitionData,
        cache: Cache,
        me: reef.EvaluatorIdentity,
        handoff: Annotated[str, Handoff],
        output: Annotated[str, OutputDir],
    ) -> None:
        self.comm, self.data, self.cache, self.me = comm, data, cache, me
        self.handoff, self.output = handoff, output

    def run(self, memento: bytes | None) -> bytes:
        started = time.perf_counter()
        lines = self.data.load()
        reducers = self.comm.size
        keys: list[list[int]] = [[] for _ in range(reducers)]
        values: list[list[np.ndarray]] = [[] for _ in range(reducers)]
        where = self.data.partition.segments[0].url if self.data.partition.segments else ""
        with Combiner(np.add, spill_directory=self.me.workdir) as combiner:
            for line in lines:
                if line.strip():
                    try:
                        combiner.add(*ml_kernels.parse_record(line.strip()))  # map
                    except ValueError as e:
                        raise ValueError(f"{where or 'the input'}: {e}") from None
            for user, total in combiner.items():  # combined: one total per user
                reducer = partition_of(user, reducers)
                keys[reducer].append(user)
                values[reducer].append(total)
        self.cache.remove(self.data.key)  # the records are done with
        mapped = time.perf_counter()
        outgoing = [
            (np.array(k, dtype=np.int64), np.array(v, dtype=np.float64).reshape(-1, WIDTH))
            for k, v in zip(keys, values, strict=True)
        ]
        incoming = self.comm.all_to_all(outgoing)  # from every mapper, its users of this reducer
        shuffled = time.perf_counter()
        users = np.concatenate([k for k, _ in incoming])
        totals = np.concatenate([v for _, v in incoming])
        unique, where = np.unique(users, return_inverse=True)
        summed = np.zeros((unique.shape[0], WIDTH))
        np.add.at(summed, where, totals)  # reduce
        rows = ml_kernels.user_rows(unique, summed)
        if self.handoff == "memory":
            lr.keep_rows(self.cache, rows)
        else:
            np.save(os.path.join(self.output, part_file(self.comm.rank)), rows)
        reduced = time.perf_counter()
        return json.dumps(
            {
                "records": len(lines),
                "users": int(unique.shape[0]),
                "map_seconds": mapped - started,
                "shuffle_seconds": shuffled - mapped,
                "reduce_seconds": reduced - shuffled,
            }
        ).encode()


class MapReduceToML(reef.Driver):
    """The ETL on ``Evaluators`` evaluators, then ``Iterations`` steps of logistic regression
    on its output, handed off as ``Handoff`` says; sends the outcome (JSON) to the client."""

    def __init__(
        self,
        *,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        groups: GroupCommunication,
        path: Annotated[str, InputPath],
        handoff: Annotated[str, Handoff],
        output: Annotated[str, OutputDir],
        evaluators: Annotated[int, lr.Evaluators],
        iterations: Annotated[int, lr.Iterations],
        learning_rate: Annotated[float, lr.LearningRate],
        memory_mb: Annotated[int, lr.EvaluatorMemory],
    ) -> None:
        if handoff not in ("memory", "disk"):
            raise ValueError(f"Handoff={handoff!r}: give 'memory' or 'disk'")
        if handoff == "disk" and not output:
            raise ValueError("the disk handoff needs OutputDir")
        self.requestor, self.client, self.groups = requestor, client, groups
        self.path, self.handoff, self.output = path, handoff, output
        self.evaluators, self.iterations = evaluators, iterations
        self.learning_rate, self.memory_mb = learning_rate, memory_mb
        self.phase = "etl"
        self.ready: list[reef.AllocatedEvaluator] = []
        self.contexts: list[reef.ActiveContext] = []
        self.users = 0
        self.started = self.etl_done = self.handoff_done = 0.0

    def request(self) -> None:
        self.requestor.submit(
            reef.EvaluatorRequest(count=self.evaluators, memory_mb=self.memory_mb)
        )

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.started = time.perf_counter()
        self.partitions = DataSet.split([self.path], self.evaluators, format="lines")
        self.request()

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        self.ready.append(ev)
        if len(self.ready) < self.evaluators:
            return
        group = self.groups.new_group(self.phase, [e.id for e in self.ready])
        self.training = lr.Training(group, self.iterations)
        for e, partition in zip(self.ready, self.partitions, strict=True):
            context = lr.training_context(
                e.id,
                [GroupService, Cache, PartitionData],
                memory_mb=self.memory_mb,
                learning_rate=self.learning_rate,
                configuration=partition.configuration(),
            )
            if self.phase == "etl":
                activity = reef.ActivityConfiguration(
                    id=f"etl-{e.id}",
                    activity=ExtractTransform,
                    parameters={Handoff: self.handoff, OutputDir: self.output},
                    configuration=group.member_configuration(e.id),
                )
            else:
                activity = reef.ActivityConfiguration(id=f"load-{e.id}", activity=lr.LoadRows)
            e.submit_context_and_activity(context, activity)
        self.ready = []

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        assert done.result is not None
        result = json.loads(done.result)
        if "iteration" in result:
            if self.training.completed(done, result):
                self.finish()
            return
        self.contexts.append(done.context)
        self.users += result.get("users", 0)
        if len(self.contexts) < self.evaluators:
            return
        contexts, self.contexts = self.contexts, []
        now = time.perf_counter()
        if self.phase == "etl":
            if self.users == 0:
                raise ValueError(f"{self.path} holds no record: nothing to train on")
            self.etl_done = now
            if self.handoff == "memory":  # the rows are in the caches: train right here
                self.handoff_done = now
                self.training.begin(contexts)
                return
            for context in contexts:  # the rows are on disk: release these evaluators
                context.close()
            self.phase = "train"
            # Exactly the reducers' files: others in the folder (an earlier run's) are not ours.
            files = [os.path.join(self.output, part_file(r)) for r in range(self.evaluators)]
            self.partitions = DataSet.split(files, self.evaluators, format="npy")
            self.request()
        else:  # fresh evaluators have read the rows
            self.handoff_done = now
            self.training.begin(contexts)

    def finish(self) -> None:
        outcome = self.training.outcome() | {
            "handoff": self.handoff,
            "users": self.users,
            "etl_seconds": self.etl_done - self.started,
            "handoff_seconds": self.handoff_done - self.etl_done,
            "train_seconds": time.perf_counter() - self.handoff_done,
        }
        self.client.send(json.dumps(outcome).encode())


def run_mapreduce_to_ml(
    path: str,
    evaluators: int,
    *,
    handoff: str = "memory",
    output: str | None = None,
    iterations: int = lr.Iterations.default,
    learning_rate: float = 0.2,
    runtime: Any = "local",
    memory_mb: int = 512,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Runs the job and returns the final line's fields. Without ``output``, the disk handoff
    writes into a temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="mapreduce-to-ml-") as scratch:
        return ml_kernels.run_job(
            MapReduceToML,
            "MapReduce-to-ML",
            runtime=runtime,
            evaluators=evaluators,
            parameters={
                InputPath: os.path.abspath(path),
                Handoff: handoff,
                OutputDir: os.path.abspath(output or scratch),
                lr.Evaluators: evaluators,
                lr.Iterations: iterations,
                lr.LearningRate: learning_rate,
                lr.EvaluatorMemory: memory_mb,
            },
            timeout=timeout,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--input", required=True, help="records: lines 'user,event,amount'")
    parser.add_argument("--handoff", choices=("memory", "disk"), default="memory")
    parser.add_argument("--output", help="the disk handoff's directory (default: a temporary one)")
    parser.add_argument("--evaluators", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=lr.Iterations.default)
    parser.add_argument("--learning-rate", type=float, default=0.2)
    parser.add_argument("--runtime", choices=("local", "yarn"), default="local")
    parser.add_argument("--memory-mb", type=int, default=512, help="per evaluator")
    args = parser.parse_args(argv)
    if min(args.iterations, args.evaluators, args.memory_mb) < 1 or not args.learning_rate > 0:
        parser.error("--iterations, --evaluators and --memory-mb must be >= 1, --learning-rate > 0")
    try:
        ml_kernels.check_file(args.input)
    except ValueError as e:
        parser.error(str(e))
    if args.output:
        os.makedirs(args.output, exist_ok=True)
    os.environ.update(ml_kernels.SINGLE_THREADED)  # for the evaluators this process starts
    outcome = ml_kernels.exit_on_failure(
        parser,
        lambda: run_mapreduce_to_ml(
            args.input,
            args.evaluators,
            handoff=args.handoff,
            output=args.output,
            iterations=args.iterations,
            learning_rate=args.learning_rate,
            runtime=args.runtime,
            memory_mb=args.memory_mb,
        ),
    )
    print(
        f"ETL {outcome['etl_seconds']:.3f} s ({outcome['users']} users), handoff "
        f"({args.handoff}) {outcome['handoff_seconds']:.3f} s, training "
        f"{outcome['train_seconds']:.3f} s: loss {outcome['loss'][0]:.4f} -> "
        f"{outcome['loss'][-1]:.4f}",
        file=sys.stderr,
    )
    keys = ("weights", "loss", "iterations", "handoff", "users", "etl_seconds")
    keys += ("handoff_seconds", "train_seconds", "seconds_per_iteration", "seconds_total")
    print(json.dumps({key: outcome[key] for key in keys}))


if __name__ == "__main__":
    main()
