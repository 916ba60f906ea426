"""The machine-learning examples (examples/kmeans.py, logistic_regression.py, pagerank.py,
mapreduce_to_ml.py) against single-process numpy references (examples/ml_kernels.py), through
their command lines (the final JSON line) and their run_* functions; k-means also on the YARN
stand-in. Inputs are small and seeded."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))  # evaluators import the examples' modules from there too
ml = importlib.import_module("ml_kernels")

K, ITERATIONS = 5, 6


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The inputs (seeded) and what numpy in one process makes of them."""
    root = tmp_path_factory.mktemp("ml-data")
    points = ml.make_points(12_000, 4, clusters=K, seed=11)
    labelled = ml.make_labelled(6_000, 5, seed=12)
    edges = ml.make_edges(1_500, 15_000, seed=13)
    records = ml.make_records(1_200, 15_000, seed=14)
    paths = {name: str(root / name) for name in ("p.npy", "p.csv", "l.npy", "l.csv")}
    ml.write_rows(paths["p.npy"], points)
    ml.write_rows(paths["p.csv"], points[:5_000])
    ml.write_rows(paths["l.npy"], labelled)
    ml.write_rows(paths["l.csv"], labelled)
    (root / "g.txt").write_text(
        "# a comment line\n" + "\n".join(f"{s} {d}" for s, d in edges) + "\n"
    )
    (root / "r.txt").write_text("\n".join(records) + "\n")
    return {
        "root": root,
        **paths,
        "g.txt": str(root / "g.txt"),
        "r.txt": str(root / "r.txt"),
        "points": points,
        "labelled": labelled,
        "edges": edges,
        "records": records,
    }


def run_cli(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True, timeout=50
    )


def cli(script: str, *args: str) -> dict[str, Any]:
    """Runs an example's command line; its last line of output, parsed."""
    done = run_cli(script, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    outcome: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return outcome


def check_timings(outcome: dict[str, Any], iterations: int) -> None:
    assert outcome["iterations"] == iterations
    assert len(outcome["seconds_per_iteration"]) == iterations
    assert all(s > 0 for s in outcome["seconds_per_iteration"])
    assert outcome["seconds_total"] > sum(outcome["seconds_per_iteration"])


# -- the kernels, in this process -----------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["npy", "csv"])
def test_partitions_of_a_points_file_are_its_rows_in_order(tmp_path: Path, suffix: str) -> None:
    rows = ml.make_points(1_001, 3, seed=3)
    path = str(tmp_path / f"p.{suffix}")
    ml.write_rows(path, rows)
    assert np.array_equal(ml.read_rows(path), rows)
    assert np.array_equal(ml.read_first_rows(path, 4), rows[:4])
    for partitions in (1, 2, 3, 7):
        parts = [ml.read_partition(path, i, partitions) for i in range(partitions)]
        assert np.array_equal(np.vstack(parts), rows)


def test_the_kernels_agree_with_the_plain_references() -> None:
    points = ml.make_points(3_000, 3, clusters=4, seed=5)
    points[7] = points[0]  # two equal initial centroids: ties go to the lower index
    assert np.allclose(ml.kmeans_local(points, 8, 5), ml.kmeans_reference(points, 8, 5))
    centroids = points[:8]
    split = [ml.kmeans_partial(ml.with_ones(p), centroids) for p in np.array_split(points, 3)]
    assert np.allclose(sum(split), ml.kmeans_partial(ml.with_ones(points), centroids))
    assert sum(split)[:, -1].sum() == len(points)
    assert sum(split)[7, -1] == 0  # the duplicate centroid gets nothing, so it stays put

    rows = ml.make_labelled(2_000, 4, seed=6)
    x, y = ml.split_labelled(rows)
    w, losses = np.zeros(5), []
    for _ in range(5):
        w, loss = ml.logistic_update(w, ml.logistic_partial(x, y, w), 0.5)
        losses.append(loss)
    ref_w, ref_losses = ml.logistic_reference(rows, 5, 0.5)
    assert np.allclose(w, ref_w) and np.allclose(losses, ref_losses)
    assert losses[-1] < losses[0]

    edges = ml.make_edges(200, 1_500, seed=7)
    n = int(edges.max()) + 1
    degree = np.bincount(edges[:, 0], minlength=n).astype(float)
    ranks = np.full(n, 1.0 / n)
    for _ in range(4):
        carried = sum(ml.pagerank_step(e, ranks, degree) for e in np.array_split(edges, 3))
        ranks = ml.pagerank_update(ranks, carried, degree)
    assert np.allclose(ranks, ml.pagerank_reference(edges, 4))
    assert np.isclose(ranks.sum(), 1.0)


def test_malformed_inputs_are_named_with_their_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"1,2\n3,4\n5,6\n7,8,9\n10,11\n")
    with pytest.raises(ValueError, match=r"bad\.csv, line 4: 3 numbers where rows have 2"):
        ml.read_rows(str(bad))
    with pytest.raises(ValueError, match=r"bad\.csv, line 4: 3 numbers where rows have 2"):
        ml.read_partition(str(bad), 1, 3)  # the line's number in the file, not the range
    bad.write_bytes(b"x,y\n1,2\n")
    with pytest.raises(ValueError, match=r"line 1: not a row of numbers: 'x,y' \(a header"):
        ml.read_first_rows(str(bad), 1)
    bad.write_bytes(b"1,2\n3,\xff\n")
    with pytest.raises(ValueError, match=r"bad\.csv, line 2: not a row of numbers"):
        ml.read_rows(str(bad))
    with pytest.raises(ValueError, match=r"g\.txt: '1 2 3' is not an edge"):
        ml.parse_edges(["0 1", "1 2 3"], "g.txt")
    with pytest.raises(ValueError, match="'1 -2' is not an edge"):
        ml.parse_edges("# c\n1 -2\n")
    with pytest.raises(ValueError, match="'7,fly,1' is not a record"):
        ml.parse_record("7,fly,1")
    with pytest.raises(ValueError, match=r"row 1 has 2\.0"):
        ml.split_labelled(np.array([[0.5, 1.0], [0.5, 2.0]]), "rows.npy")


def test_command_lines_refuse_bad_input_before_the_job(tmp_path: Path) -> None:
    np.save(tmp_path / "flat.npy", np.arange(10.0))
    np.save(tmp_path / "text.npy", np.array([["a", "b"]]))
    np.save(tmp_path / "p.npy", np.zeros((3, 2)))
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "h.csv").write_text("x,y\n1,2\n")
    cases = [
        ("kmeans.py", ["--input", str(tmp_path / "missing.npy")], "missing.npy: no such file"),
        ("kmeans.py", ["--input", str(tmp_path / "flat.npy")], "1-D array"),
        ("kmeans.py", ["--input", str(tmp_path / "text.npy"), "--k", "1"], "real numbers"),
        ("kmeans.py", ["--input", str(tmp_path / "p.npy"), "--k", "4"], "at least 4 rows"),
        ("kmeans.py", ["--input", str(tmp_path / "h.csv"), "--k", "1"], "a header line"),
        ("kmeans.py", ["--input", str(tmp_path / "empty.txt")], "give a .npy or a .csv"),
        ("kmeans.py", ["--input", str(tmp_path / "p.npy"), "--iterations", "0"], ">= 1"),
        (
            "logistic_regression.py",
            ["--input", str(tmp_path / "p.npy"), "--evaluators", "0"],
            ">= 1",
        ),
        ("pagerank.py", ["--input", str(tmp_path / "empty.txt")], "the file is empty"),
        ("mapreduce_to_ml.py", ["--input", str(tmp_path)], "is a directory"),
        ("make_points.py", ["points", str(tmp_path / "p.txt")], "as .npy or .csv"),
        ("make_points.py", ["edges", str(tmp_path / "g.txt"), "--edges", "0"], "--edges must"),
    ]
    for script, args, message in cases:
        done = run_cli(script, *args)
        assert done.returncode == 2, (script, args, done.stderr)
        assert "error: " in done.stderr and message in done.stderr, (script, args, done.stderr)
        assert "Traceback" not in done.stderr
    done = run_cli("make_points.py", "points", str(tmp_path / "small.csv"), "--rows", "7")
    assert done.returncode == 0, done.stderr
    assert np.loadtxt(tmp_path / "small.csv", delimiter=",").shape == (7, 16)


@pytest.mark.processes
@pytest.mark.timeout(60)
def test_a_malformed_line_fails_the_job_with_a_clear_error(tmp_path: Path) -> None:
    edges = tmp_path / "g.txt"
    edges.write_text("0 1\n1 2\n" * 50 + "2 x\n" + "2 0\n" * 50)
    done = run_cli("pagerank.py", "--input", str(edges), "--iterations", "2")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "pagerank.py: error: the PageRank job ended FAILED" in done.stderr
    assert "g.txt: '2 x' is not an edge" in done.stderr


# -- k-means --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["retained", "reload"])
@pytest.mark.processes
@pytest.mark.timeout(60)
def test_kmeans_command_line_matches_numpy(data: dict[str, Any], mode: str) -> None:
    outcome = cli(
        "kmeans.py",
        *("--input", data["p.npy"], "--k", str(K), "--iterations", str(ITERATIONS)),
        *("--evaluators", "3", "--mode", mode),
    )
    assert set(outcome) == {
        "centroids",
        "iterations",
        "seconds_total",
        "seconds_per_iteration",
        "load_seconds",
    }
    expected = ml.kmeans_reference(data["points"], K, ITERATIONS)
    assert np.allclose(outcome["centroids"], expected)
    check_timings(outcome, ITERATIONS)
    assert outcome["load_seconds"] > 0


@pytest.mark.parametrize("mode", ["retained", "reload"])
@pytest.mark.processes
@pytest.mark.timeout(60)
def test_kmeans_on_csv_matches_numpy(data: dict[str, Any], mode: str, runtime: Any) -> None:
    kmeans = importlib.import_module("kmeans")
    outcome = kmeans.run_kmeans(
        data["p.csv"], K, ITERATIONS, 2, mode=mode, runtime=runtime, timeout=50
    )
    expected = ml.kmeans_reference(data["points"][:5_000], K, ITERATIONS)
    assert np.allclose(outcome["centroids"], expected)
    check_timings(outcome, ITERATIONS)


# -- logistic regression and PageRank ----------------------------------------------------------------


@pytest.mark.processes
@pytest.mark.timeout(60)
def test_logistic_regression_command_line_matches_numpy(data: dict[str, Any]) -> None:
    outcome = cli(
        "logistic_regression.py",
        *("--input", data["l.csv"], "--iterations", "8", "--learning-rate", "0.7"),
        *("--evaluators", "2"),
    )
    weights, losses = ml.logistic_reference(data["labelled"], 8, 0.7)
    assert np.allclose(outcome["weights"], weights)
    assert np.allclose(outcome["loss"], losses)
    assert outcome["loss"][-1] < outcome["loss"][0]
    check_timings(outcome, 8)


@pytest.mark.processes
@pytest.mark.timeout(60)
def test_pagerank_matches_numpy(data: dict[str, Any]) -> None:
    pagerank = importlib.import_module("pagerank")
    outcome = pagerank.run_pagerank(data["g.txt"], 12, 3, top=15, timeout=50)
    ranks = ml.pagerank_reference(data["edges"], 12)
    expected = ml.top_vertices(ranks, 15)
    assert [v for v, _ in outcome["top"]] == [v for v, _ in expected]
    assert np.allclose([r for _, r in outcome["top"]], [r for _, r in expected])
    assert outcome["vertices"] == ranks.shape[0]
    check_timings(outcome, 12)


# -- MapReduce into ML ------------------------------------------------------------------------------


@pytest.mark.processes
@pytest.mark.timeout(60)
def test_mapreduce_to_ml_gives_one_model_whichever_the_handoff(
    data: dict[str, Any], tmp_path: Path
) -> None:
    rows = ml.records_reference(data["records"])
    weights, losses = ml.logistic_reference(rows, 6, 0.2)
    memory = cli(
        "mapreduce_to_ml.py",
        *("--input", data["r.txt"], "--handoff", "memory", "--iterations", "6"),
    )
    mapreduce = importlib.import_module("mapreduce_to_ml")
    output = tmp_path / "features"
    output.mkdir()
    stale = np.ones((50, rows.shape[1]))  # an earlier run's, with 4 reducers: not this one's
    np.save(output / "part-00003.npy", stale)
    disk = mapreduce.run_mapreduce_to_ml(
        data["r.txt"], 3, handoff="disk", output=str(output), iterations=6, timeout=50
    )
    for outcome in (memory, disk):
        assert np.allclose(outcome["weights"], weights)
        assert np.allclose(outcome["loss"], losses)
        assert outcome["users"] == rows.shape[0]
        assert outcome["etl_seconds"] > 0 and outcome["train_seconds"] > 0
    assert memory["handoff_seconds"] == 0 < disk["handoff_seconds"]
    # the disk handoff left the reducers' output: every user's row once, in its reducer's file
    written = [np.load(output / f"part-{rank:05d}.npy") for rank in range(3)]
    assert all(len(part) for part in written)
    assert sorted(map(tuple, np.vstack(written).tolist())) == sorted(map(tuple, rows.tolist()))
