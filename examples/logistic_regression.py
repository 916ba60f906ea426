"""Logistic regression by batch gradient descent on retained evaluators.

    python examples/make_points.py labelled rows.npy --rows 200000 --dims 8
    python examples/logistic_regression.py --input rows.npy --iterations 20 --learning-rate 0.5

The input is a ``.npy`` file of a 2-D float array or a ``.csv`` file (comma-separated, no
header), one example per row: the features, then the 0/1 label in the last column. The model is
the features' weights and a bias (last), starting at zero.

``E`` evaluators each load one partition once (``DataSet.split``, ``PartitionData``) and keep it
in the ``Cache`` as features with a bias column and labels; the weights live in a context
service, ``LogisticModel``. Each iteration is one short activity per evaluator: the gradient and
log loss of its partition at the current weights, all-reduced (``Communicator.all_reduce``), then
the same step ``w -= learning_rate * gradient / rows`` on every evaluator.

The last line printed is JSON: ``{"weights": [...], "loss": [...], "iterations": I,
"seconds_total": ..., "seconds_per_iteration": [...], "load_seconds": ...}``; ``loss[i]`` is
the mean log loss at the weights iteration ``i`` started from.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterable
from typing import Annotated, Any

import ml_kernels
import numpy as np

import reef
from reef.services.data import Cache, CacheMemoryBudget, DataSet, PartitionData
from reef.services.group import SUM, Communicator, Group, GroupCommunication, GroupService
from reef.tang import Configuration, NamedParameter


class InputPath(NamedParameter[str]):
    """The labelled rows: .npy or .csv, the 0/1 label in the last column."""


class Iterations(NamedParameter[int]):
    """How many gradient steps."""

    default = 20


class LearningRate(NamedParameter[float]):
    """The step size."""

    default = 0.5


class Evaluators(NamedParameter[int]):
    """How many evaluators (and partitions of the input)."""

    default = 2


class EvaluatorMemory(NamedParameter[int]):
    """Memory of each evaluator (MB); the Cache may use most of it."""

    default = 512


FEATURES, LABELS = "logreg/features", "logreg/labels"  # Cache keys of a partition


def keep_rows(cache: Cache, rows: np.ndarray, where: str = "the input") -> int:
    """Keeps labelled rows in the cache as the gradient's layout (features with a bias column,
    labels); returns how many. ``ValueError`` (naming ``where``) for a label other than 0 or
    1."""
    features, labels = ml_kernels.split_labelled(rows, where)
    cache.put(FEATURES, features)
    cache.put(LABELS, labels)
    return int(labels.shape[0])


class LogisticModel:
    """A context service: the weights (``None`` until the first step, which sizes them) and
    the step size, kept across the iterations' activities."""

    def __init__(self, learning_rate: Annotated[float, LearningRate]) -> None:
        self.learning_rate = learning_rate
        self.weights: np.ndarray | None = None
        self.iterations = 0


class LoadRows(reef.Activity):
    """Parses the evaluator's partition once and keeps it in the Cache in the gradient's layout
    (the parsed rows are dropped from the cache). Returns the rows and the seconds taken."""

    def __init__(self, data: PartitionData, cache: Cache) -> None:
        self.data, self.cache = data, cache

    def run(self, memento: bytes | None) -> bytes:
        started = time.perf_counter()
        where = f"{self.data.partition.segments[0].url} (partition {self.data.partition.index})"
        rows = keep_rows(self.cache, self.data.load(), where)
        self.cache.remove(self.data.key)
        return json.dumps({"rows": rows, "seconds": time.perf_counter() - started}).encode()


class Step(reef.Activity):
    """One gradient step: this partition's gradient and loss, all-reduced, the same update on
    every evaluator. Returns the iteration, the loss before the step and (rank 0) the weights."""

    def __init__(self, comm: Communicator, cache: Cache, model: LogisticModel) -> None:
        self.comm, self.cache, self.model = comm, cache, model

    def run(self, memento: bytes | None) -> bytes:
        features, labels = self.cache[FEATURES], self.cache[LABELS]
        if self.model.weights is None:
            self.model.weights = np.zeros(features.shape[1])
        partial = ml_kernels.logistic_partial(features, labels, self.model.weights)
        combined = self.comm.all_reduce(partial, op=SUM)
        self.model.weights, loss = ml_kernels.logistic_update(
            self.model.weights, combined, self.model.learning_rate
        )
        self.model.iterations += 1
        result: dict[str, Any] = {"iteration": self.model.iterations, "loss": loss}
        if self.comm.rank == 0:
            result["weights"] = self.model.weights.tolist()
        return json.dumps(result).encode()


class Training:
    """The driver's side of training (``LogisticDriver`` and ``mapreduce_to_ml.py`` use it):
    starts the steps on every member's context together, then submits each evaluator's next
    step as soon as its previous one completes, and times the iterations."""

    def __init__(self, group: Group, iterations: int) -> None:
        self.group, self.iterations = group, iterations
        self.done: dict[int, int] = {}
        self.seconds: list[float] = []
        self.losses: list[float] = []
        self.weights: list[float] = []
        self.mark = 0.0

    def begin(self, contexts: Iterable[reef.ActiveContext]) -> None:
        self.mark = time.perf_counter()
        for context in contexts:
            context.submit_activity(self.step(context.evaluator_id, 1))

    def step(self, evaluator: str, n: int) -> reef.ActivityConfiguration:
        return reef.ActivityConfiguration(
            id=f"step-{n}-{evaluator}",
            activity=Step,
            configuration=self.group.member_configuration(evaluator),
        )

    def completed(self, done: reef.CompletedActivity, result: dict[str, Any]) -> bool:
        """Takes a step's result; True when the last iteration is over on every evaluator
        (each context is closed as its last step completes)."""
        n = result["iteration"]
        if "weights" in result:
            self.weights = result["weights"]
            self.losses.append(result["loss"])
        self.done[n] = self.done.get(n, 0) + 1
        over = self.done[n] == len(self.group.members)
        if over:
            now = time.perf_counter()
            self.seconds.append(now - self.mark)
            self.mark = now
        if n < self.iterations:
            done.context.submit_activity(self.step(done.context.evaluator_id, n + 1))
            return False
        done.context.close()
        return over

    def outcome(self) -> dict[str, Any]:
        return {
            "weights": self.weights,
            "loss": self.losses,
            "iterations": len(self.seconds),
            "seconds_per_iteration": self.seconds,
        }


def training_context(
    evaluator: str,
    services: list[type],
    *,
    memory_mb: int,
    learning_rate: float,
    configuration: Configuration | None = None,
) -> reef.ContextConfiguration:
    """The root context of a training evaluator: ``LogisticModel`` and ``services``, the
    cache's budget three quarters of the evaluator's memory."""
    return reef.ContextConfiguration(
        id=f"train-{evaluator}",
        services=[LogisticModel, *services],
        parameters={
            LearningRate: learning_rate,
            CacheMemoryBudget: memory_mb * 1024 * 1024 * 3 // 4,
        },
        configuration=configuration,
    )


class LogisticDriver(reef.Driver):
    """Loads ``InputPath`` on ``Evaluators`` evaluators, runs ``Iterations`` gradient steps and
    sends the outcome (JSON) to the client."""

    def __init__(
        self,
        *,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        groups: GroupCommunication,
        path: Annotated[str, InputPath],
        iterations: Annotated[int, Iterations],
        learning_rate: Annotated[float, LearningRate],
        evaluators: Annotated[int, Evaluators],
        memory_mb: Annotated[int, EvaluatorMemory],
    ) -> None:
        self.requestor, self.client, self.groups = requestor, client, groups
        self.path, self.iterations, self.learning_rate = path, iterations, learning_rate
        self.evaluators, self.memory_mb = evaluators, memory_mb
        self.ready: list[reef.AllocatedEvaluator] = []
        self.loaded: list[reef.ActiveContext] = []
        self.started = self.load_seconds = 0.0

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.started = time.perf_counter()
        fmt = ml_kernels.input_format(self.path)
        self.partitions = DataSet.split([self.path], self.evaluators, format=fmt)
        self.requestor.submit(
            reef.EvaluatorRequest(count=self.evaluators, memory_mb=self.memory_mb)
        )

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        self.ready.append(ev)
        if len(self.ready) < self.evaluators:
            return
        group = self.groups.new_group("logreg", [e.id for e in self.ready])
        self.training = Training(group, self.iterations)
        for e, partition in zip(self.ready, self.partitions, strict=True):
            e.submit_context_and_activity(
                training_context(
                    e.id,
                    [GroupService, Cache, PartitionData],
                    memory_mb=self.memory_mb,
                    learning_rate=self.learning_rate,
                    configuration=partition.configuration(),
                ),
                reef.ActivityConfiguration(id=f"load-{e.id}", activity=LoadRows),
            )

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        assert done.result is not None
        result = json.loads(done.result)
        if "iteration" not in result:  # a partition is loaded
            self.loaded.append(done.context)
            if len(self.loaded) == self.evaluators:
                self.load_seconds = time.perf_counter() - self.started
                self.training.begin(self.loaded)
        elif self.training.completed(done, result):
            outcome = self.training.outcome() | {"load_seconds": self.load_seconds}
            self.client.send(json.dumps(outcome).encode())


def run_logistic_regression(
    path: str,
    iterations: int,
    evaluators: int,
    *,
    learning_rate: float = LearningRate.default,
    runtime: Any = "local",
    memory_mb: int = 512,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Runs the job and returns the final line's fields."""
    return ml_kernels.run_job(
        LogisticDriver,
        "logistic regression",
        runtime=runtime,
        evaluators=evaluators,
        parameters={
            InputPath: os.path.abspath(path),
            Iterations: iterations,
            LearningRate: learning_rate,
            Evaluators: evaluators,
            EvaluatorMemory: memory_mb,
        },
        timeout=timeout,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--input", required=True, help="labelled rows: .npy or .csv")
    parser.add_argument("--iterations", type=int, default=Iterations.default)
    parser.add_argument("--learning-rate", type=float, default=LearningRate.default)
    parser.add_argument("--evaluators", type=int, default=2)
    parser.add_argument("--runtime", choices=("local", "yarn"), default="local")
    parser.add_argument("--memory-mb", type=int, default=512, help="per evaluator")
    args = parser.parse_args(argv)
    if min(args.iterations, args.evaluators, args.memory_mb) < 1 or not args.learning_rate > 0:
        parser.error("--iterations, --evaluators and --memory-mb must be >= 1, --learning-rate > 0")
    try:
        ml_kernels.check_rows(args.input, min_rows=1, min_columns=2)
    except ValueError as e:
        parser.error(str(e))
    os.environ.update(ml_kernels.SINGLE_THREADED)  # for the evaluators this process starts
    outcome = ml_kernels.exit_on_failure(
        parser,
        lambda: run_logistic_regression(
            args.input,
            args.iterations,
            args.evaluators,
            learning_rate=args.learning_rate,
            runtime=args.runtime,
            memory_mb=args.memory_mb,
        ),
    )
    print(
        f"logistic regression: loss {outcome['loss'][0]:.4f} -> {outcome['loss'][-1]:.4f} in "
        f"{outcome['iterations']} iterations, median "
        f"{np.median(outcome['seconds_per_iteration']):.4f} s each",
        file=sys.stderr,
    )
    keys = ("weights", "loss", "iterations", "seconds_total", "seconds_per_iteration")
    print(json.dumps({key: outcome[key] for key in (*keys, "load_seconds")}))


if __name__ == "__main__":
    main()
