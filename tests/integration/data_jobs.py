"""The driver and activity of the data-loading integration test (module level: evaluators import
them by name).

The driver splits a .npy and a .csv file into ``Parts`` partitions, requests one evaluator per
partition near its data, and starts on each a root context with a ``Cache`` and the ``.npy``
partition's ``PartitionData``; the first evaluator's cache gets a tiny budget, so it spills.
Each evaluator runs ``Sums`` twice on that context; ``Sums`` loads both partitions (the csv one
through a second ``PartitionData`` on the same cache) and reports their sums and the cache's
counters. The driver sends every report to the client at the end.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

import reef
from reef.services.data import Cache, CacheMemoryBudget, DataSet, PartitionData
from reef.tang import NamedParameter


class NpyPath(NamedParameter[str]):
    """The .npy file to split."""


class CsvPath(NamedParameter[str]):
    """The csv file (one header line) to split."""


class Parts(NamedParameter[int]):
    """How many partitions, and evaluators."""

    default = 3


TINY_BUDGET = 1024  # bytes: the first evaluator's cache budget, small enough to spill


class CsvPartition(NamedParameter[str]):
    """The description of the csv partition an activity loads."""


class Sums(reef.Activity):
    def __init__(self, npy: PartitionData, cache: Cache, csv: Annotated[str, CsvPartition]) -> None:
        self.npy, self.cache = npy, cache
        self.csv = PartitionData(cache, csv)

    def run(self, memento: bytes | None) -> bytes:
        rows = self.npy.load()
        table = self.csv.load()
        again = self.npy.load()  # from the cache (memory or disk), equal
        return json.dumps(
            {
                "index": self.npy.partition.index,
                "npy_sum": float(rows.sum()),
                "npy_rows": int(rows.shape[0]),
                "csv_sum": float(table.sum()),
                "csv_rows": int(table.shape[0]),
                "equal_again": bool((again == rows).all()),
                "npy_parses": self.npy.parses,
                "stats": asdict(self.cache.stats()),
                "budget": self.cache.budget,
            }
        ).encode()


class LoadingDriver(reef.Driver):
    def __init__(
        self,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        npy: Annotated[str, NpyPath],
        csv: Annotated[str, CsvPath],
        parts: Annotated[int, Parts],
    ) -> None:
        self.requestor, self.client = requestor, client
        self.npy = DataSet.split(npy, parts, format="npy")
        self.csv = DataSet.split(csv, parts, format="csv", skip_header=1)
        self.next = 0
        self.reports: list[Any] = []

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        for partition in self.npy:
            self.requestor.submit(partition.request(memory_mb=128))

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        k, self.next = self.next, self.next + 1
        budget: dict[Any, Any] | None = {CacheMemoryBudget: TINY_BUDGET} if k == 0 else None
        ev.submit_context_and_activity(
            reef.ContextConfiguration(
                id=f"data-{k}",
                services=[Cache, PartitionData],
                configuration=self.npy[k].configuration(),
                parameters=budget,
            ),
            self._sums(k, 1),
        )

    def _sums(self, k: int, round: int) -> reef.ActivityConfiguration:
        return reef.ActivityConfiguration(
            id=f"sums-{k}-{round}",
            activity=Sums,
            parameters={CsvPartition: self.csv[k].description},
        )

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        report = json.loads(done.result or b"{}")
        report["evaluator"] = done.context.evaluator_id
        report["round"] = len([r for r in self.reports if r["index"] == report["index"]]) + 1
        self.reports.append(report)
        if report["round"] == 1:
            done.context.submit_activity(self._sums(report["index"], 2))
        else:
            done.context.close()

    @reef.on(reef.StopTime)
    def stop(self, _: reef.StopTime) -> None:
        self.client.send(json.dumps(self.reports).encode())
