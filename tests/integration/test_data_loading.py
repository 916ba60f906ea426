"""Data loading with real evaluators: each loads its partition of a .npy and a .csv file, parses
it once (the second activity on the evaluator finds it in the context's cache), and the
partition sums add up to the whole files'. One evaluator's cache has a tiny budget: it spills to
its local disk and still returns the same values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import reef
from tests.integration import data_jobs as jobs
from tests.integration.conftest import FAST

pytestmark = [pytest.mark.processes, pytest.mark.timeout(90)]


def test_evaluators_load_their_partitions_once_and_the_sums_add_up(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    rows = rng.standard_normal((1000, 4))
    table = rng.integers(-50, 50, (301, 3)).astype(np.float64)
    np.save(tmp_path / "rows.npy", rows)
    np.savetxt(tmp_path / "table.csv", table, delimiter=",", header="a,b,c", comments="", fmt="%d")

    result = reef.run(
        jobs.LoadingDriver,
        parameters={
            **FAST,
            jobs.NpyPath: str(tmp_path / "rows.npy"),
            jobs.CsvPath: str(tmp_path / "table.csv"),
            jobs.Parts: 3,
        },
        timeout=60,
    )
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    reports = json.loads(result.messages[-1])
    assert len(reports) == 6
    by_index = {k: [r for r in reports if r["index"] == k] for k in range(3)}
    for k, (first, second) in by_index.items():
        assert first["evaluator"] == second["evaluator"], "both rounds on one evaluator"
        assert first["round"] == 1 and second["round"] == 2
        assert second["npy_parses"] == 1  # the retained service parsed once, in round 1
        # Two partitions (npy, csv) loaded in round 1; nothing loaded in round 2.
        assert first["stats"]["loads"] == 2 and second["stats"]["loads"] == 2
        assert second["stats"]["hits"] > first["stats"]["hits"]
        assert first["equal_again"] and second["equal_again"]
        assert (first["npy_sum"], first["csv_sum"]) == (second["npy_sum"], second["csv_sum"])
        if k == 0:  # the tiny budget: spilled to disk and read back, values unchanged
            assert first["budget"] == jobs.TINY_BUDGET
            assert second["stats"]["spills"] >= 2 and second["stats"]["disk_reads"] > 0
            assert second["stats"]["bytes_in_memory"] <= jobs.TINY_BUDGET
        else:
            assert second["stats"]["spills"] == 0
    firsts = [rs[0] for rs in by_index.values()]
    assert sum(r["npy_rows"] for r in firsts) == 1000
    assert sum(r["csv_rows"] for r in firsts) == 301
    assert np.isclose(sum(r["npy_sum"] for r in firsts), rows.sum(), rtol=0, atol=1e-9)
    assert sum(r["csv_sum"] for r in firsts) == table.sum()  # integers: exact
