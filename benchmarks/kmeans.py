"""k-means on retained evaluators against reloading every iteration, one process, Ray and Dask.

One data set, generated with a fixed seed into a temporary ``.npy`` file (``--points`` x
``--dims`` float64 around ``--k`` centres; 2,000,000 x 16 and k = 8 by default; ``--format csv``
writes text instead, 17 significant digits, which every load then parses); ``--iterations``
Lloyd iterations (10) from the first ``k`` points; ``--evaluators`` workers (2). Every contender
runs the same kernel (``examples/ml_kernels.py``: ``kmeans_partial`` over the partition in its
prepared layout, blocks of 16,384 rows) with one BLAS thread per process (this one too):

- **reef retained**: ``examples/kmeans.py --mode retained``: evaluators load their partition once
  (``DataSet.split``, ``PartitionData``, ``Cache``) and run one activity per iteration whose
  partial sums are all-reduced between the evaluators (group communication);
- **reef reload**: ``examples/kmeans.py --mode reload``: every iteration on fresh evaluators that
  read and parse their partition again (the Hadoop / Mahout way);
- **numpy**: the kernel over all the points in this process (one core);
- **Ray** (if installed): one actor per worker loads its partition once and keeps it; per
  iteration the driver calls every actor and sums the partial results (``ray.get``);
- **Dask** (if installed): ``distributed.LocalCluster`` of one single-threaded worker process
  per worker; each worker loads its partition into a persisted future; per iteration one task
  per partition, the partial results gathered and summed by the client.

Ray and Dask run in child processes of their own (``--peer``), so that their daemons and
threads do not disturb the other measurements. Per contender: the median seconds of an iteration
(load excluded), the load (from the start of the contender's job or cluster until every
partition is in memory; reload: reading and parsing, summed over the iterations) and the total.
Every contender's centroids are checked against numpy's (``allclose``). Ratios: reef retained /
Ray (target <= 1.0), reef reload / reef retained (target >= 20). With a ``.npy`` input a reload
only reads binary rows, so the run also reloads from a csv copy of the same points (``reef reload
(csv)``, as Hadoop's tasks parse text; ``--no-text-reload`` skips it), and reports both ratios.
The table comes first, the last line is JSON; a failed contender or a missed target never fails
the run (exit 0)::

    .venv/bin/python benchmarks/kmeans.py                      # the full run
    .venv/bin/python benchmarks/kmeans.py --points 200000      # a quick one
"""

from __future__ import annotations

import os
import sys

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
os.environ.update(SINGLE_THREADED)  # before numpy is imported: one BLAS thread here too
os.environ["PYTHONPATH"] = os.pathsep.join(
    [EXAMPLES, *filter(None, [os.environ.get("PYTHONPATH")])]
)  # Ray's and Dask's workers import ml_kernels
if EXAMPLES not in sys.path:
    sys.path.insert(0, EXAMPLES)

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from typing import Any  # noqa: E402

import ml_kernels  # noqa: E402
import numpy as np  # noqa: E402

TARGETS = {"retained_vs_ray_max": 1.0, "reload_vs_retained_min": 20.0}
PEER_TIMEOUT = 900.0


def summary(per_iteration: list[float], load: float, total: float, **extra: Any) -> dict[str, Any]:
    return {
        "per_iteration_s": statistics.median(per_iteration),
        "per_iteration_all_s": per_iteration,
        "load_s": load,
        "total_s": total,
        **extra,
    }


# -- contenders -----------------------------------------------------------------------------------


def run_numpy(path: str, k: int, iterations: int) -> dict[str, Any]:
    started = time.perf_counter()
    prepared = ml_kernels.with_ones(ml_kernels.read_rows(path))
    load = time.perf_counter() - started
    centroids = np.array(prepared[:k, :-1])
    seconds = []
    for _ in range(iterations):
        t = time.perf_counter()
        centroids = ml_kernels.kmeans_update(
            centroids, ml_kernels.kmeans_partial(prepared, centroids)
        )
        seconds.append(time.perf_counter() - t)
    return summary(seconds, load, time.perf_counter() - started, centroids=centroids.tolist())


def run_reef(path: str, args: Any, mode: str) -> dict[str, Any]:
    """The example's command line (a child process: the example's script is its main script,
    as a user runs it); its final JSON line, and the figures from inside an iteration that it
    prints before."""
    size = os.path.getsize(path)
    memory_mb = max(512, 3 * size // args.evaluators // (1024 * 1024))  # the cache's budget: 3/4
    command = [sys.executable, os.path.join(EXAMPLES, "kmeans.py"), "--input", path]
    command += ["--k", str(args.k), "--iterations", str(args.iterations)]
    command += ["--evaluators", str(args.evaluators), "--mode", mode]
    command += ["--memory-mb", str(memory_mb), "--runtime", args.runtime]
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=PEER_TIMEOUT
    )
    if done.returncode != 0:
        raise RuntimeError(f"exit {done.returncode}: {done.stderr.strip()[-2000:]}")
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    inside = re.search(r"compute ([0-9.]+) s, all-reduce ([0-9.]+) s", done.stderr)
    extra = {}
    if inside:
        extra = {"compute_seconds": float(inside[1]), "reduce_seconds": float(inside[2])}
    return summary(
        outcome["seconds_per_iteration"],
        outcome["load_seconds"],
        outcome["seconds_total"],
        centroids=outcome["centroids"],
        **extra,
    )


def run_ray(path: str, k: int, iterations: int, evaluators: int, workdir: str) -> dict[str, Any]:
    import logging

    import ray

    @ray.remote(num_cpus=1)
    class Partition:
        def __init__(self, index: int) -> None:
            rows = ml_kernels.read_partition(path, index, evaluators)
            self.prepared = ml_kernels.with_ones(rows)

        def partial(self, centroids: np.ndarray) -> np.ndarray:
            return ml_kernels.kmeans_partial(self.prepared, centroids)

    started = time.perf_counter()
    ray.init(
        num_cpus=evaluators,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        _temp_dir=os.path.join(workdir, "ray"),
        runtime_env={"env_vars": {**SINGLE_THREADED, "PYTHONPATH": EXAMPLES}},
    )
    try:
        initialized = time.perf_counter()
        actors = [Partition.remote(i) for i in range(evaluators)]  # type: ignore[attr-defined]
        ray.get([a.__ray_ready__.remote() for a in actors])
        loaded = time.perf_counter()
        centroids = ml_kernels.read_first_rows(path, k)
        seconds = []
        for _ in range(iterations):
            t = time.perf_counter()
            combined = sum(ray.get([a.partial.remote(centroids) for a in actors]))
            centroids = ml_kernels.kmeans_update(centroids, combined)
            seconds.append(time.perf_counter() - t)
        total = time.perf_counter() - started
    finally:
        ray.shutdown()
    return summary(
        seconds,
        loaded - initialized,
        total,
        centroids=centroids.tolist(),
        init_s=initialized - started,
        version=ray.__version__,
    )


def load_partition(path: str, index: int, partitions: int) -> np.ndarray:
    return ml_kernels.with_ones(ml_kernels.read_partition(path, index, partitions))


def run_dask(path: str, k: int, iterations: int, evaluators: int, workdir: str) -> dict[str, Any]:
    import dask
    from distributed import Client, LocalCluster

    started = time.perf_counter()
    with (
        LocalCluster(
            n_workers=evaluators,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            local_directory=os.path.join(workdir, "dask"),
            silence_logs=50,
        ) as cluster,
        Client(cluster) as client,
    ):
        initialized = time.perf_counter()
        workers = sorted(client.scheduler_info()["workers"])
        parts = [
            client.submit(load_partition, path, i, evaluators, workers=[w], pure=False)
            for i, w in enumerate(workers)
        ]
        pairs = list(zip(parts, workers, strict=True))
        client.gather([client.submit(len, p, workers=[w]) for p, w in pairs])  # all loaded
        loaded = time.perf_counter()
        centroids = ml_kernels.read_first_rows(path, k)
        seconds = []
        for _ in range(iterations):
            t = time.perf_counter()
            partials = [
                client.submit(ml_kernels.kmeans_partial, p, centroids, workers=[w], pure=False)
                for p, w in pairs
            ]
            centroids = ml_kernels.kmeans_update(centroids, sum(client.gather(partials)))
            seconds.append(time.perf_counter() - t)
        total = time.perf_counter() - started
    return summary(
        seconds,
        loaded - initialized,
        total,
        centroids=centroids.tolist(),
        init_s=initialized - started,
        version=dask.__version__,
    )


def peer_child(args: argparse.Namespace) -> None:
    """``--peer ray|dask``: measure one peer here and print its summary as JSON."""
    run = run_ray if args.peer == "ray" else run_dask
    try:
        out = run(args.input, args.k, args.iterations, args.evaluators, args.workdir)
    except ImportError as e:
        out = {"skipped": f"cannot import {args.peer}: {e}"}
    except Exception as e:
        out = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    print(json.dumps(out))


def run_peer(name: str, path: str, args: argparse.Namespace, workdir: str) -> dict[str, Any]:
    command = [sys.executable, os.path.abspath(__file__), "--peer", name, "--input", path]
    command += ["--k", str(args.k), "--iterations", str(args.iterations)]
    command += ["--evaluators", str(args.evaluators), "--workdir", workdir]
    try:
        done = subprocess.run(
            command, check=False, capture_output=True, text=True, timeout=PEER_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return {"error": f"no result within {PEER_TIMEOUT:.0f} s"}
    lines = done.stdout.strip().splitlines()
    try:
        out: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-2000:]}"}
    return out


# -- the run --------------------------------------------------------------------------------------


def ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    if not a or not b or "per_iteration_s" not in a or "per_iteration_s" not in b:
        return None
    return float(a["per_iteration_s"] / b["per_iteration_s"])


def print_table(results: dict[str, dict[str, Any]], ratios: dict[str, Any], args: Any) -> None:
    print(
        f"\nk-means: {args.points:,} points x {args.dims} dims (float64, .{args.format}), "
        f"k = {args.k}, "
        f"{args.iterations} iterations, {args.evaluators} workers, one BLAS thread each\n"
    )
    print(f"{'contender':<18}{'per iteration':>15}{'load':>10}{'total':>10}  centroids / note")
    for name, r in results.items():
        if "per_iteration_s" not in r:
            note = r.get("skipped") or r.get("error", "")
            print(f"{name:<16}{'-':>15}{'-':>10}{'-':>10}  {note.splitlines()[0][:70]}")
            continue
        check = {True: "match numpy", False: "DIFFER from numpy", None: ""}[r.get("matches")]
        print(
            f"{name:<18}{r['per_iteration_s'] * 1000:>12.1f} ms{r['load_s']:>9.2f}s"
            f"{r['total_s']:>9.2f}s  {check}"
        )
    retained = results.get("reef retained", {})
    if "compute_seconds" in retained:
        print(
            f"\nreef retained, inside an iteration (median): kernel "
            f"{retained['compute_seconds'] * 1000:.1f} ms, all-reduce "
            f"{retained['reduce_seconds'] * 1000:.2f} ms"
        )
    print()
    for key, value in ratios.items():
        if key.endswith("_met"):
            continue
        shown = "n/a" if value is None else f"{value:.2f}"
        met = ratios.get(f"{key}_met")
        target = "" if met is None else f"   ({'met' if met else 'missed'})"
        print(f"{key:<28}{shown:>8}{target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--points", type=int, default=2_000_000)
    parser.add_argument("--dims", type=int, default=16)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--evaluators", type=int, default=2, help="workers of every contender")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--format",
        choices=("npy", "csv"),
        default="npy",
        help="the input file's format (csv: every load parses text, as Hadoop's tasks do)",
    )
    parser.add_argument(
        "--runtime",
        choices=("local", "yarn"),
        default="local",
        help="where reef's contenders run (yarn: the cluster HADOOP_CONF_DIR names, one node "
        "holding the input; the peers run on this machine)",
    )
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--no-reload", action="store_true")
    parser.add_argument(
        "--no-text-reload",
        action="store_true",
        help="skip the reload from a csv copy of the input (run when the input is .npy)",
    )
    parser.add_argument("--peer", choices=("ray", "dask"), help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peer:
        peer_child(args)
        return 0
    if min(args.points, args.dims, args.k, args.iterations, args.evaluators) < 1:
        parser.error("every size must be >= 1")
    if args.points < args.k:
        parser.error("--points must be >= --k")

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    workdir = tempfile.mkdtemp(prefix="reef-bench-kmeans-")
    previous_home = os.environ.get("REEF_HOME")
    os.environ["REEF_HOME"] = os.path.join(workdir, "reef")
    results: dict[str, dict[str, Any]] = {}
    try:
        print("generating the data", file=sys.stderr, flush=True)
        path = os.path.join(workdir, f"points.{args.format}")
        points = ml_kernels.make_points(args.points, args.dims, clusters=args.k, seed=args.seed)
        ml_kernels.write_rows(path, points)
        del points
        contenders: list[tuple[str, Any]] = [
            ("numpy", lambda: run_numpy(path, args.k, args.iterations)),
            (
                "reef retained",
                lambda: run_reef(path, args, "retained"),
            ),
        ]
        if not args.no_reload:
            contenders.append(
                (
                    "reef reload",
                    lambda: run_reef(path, args, "reload"),
                )
            )
        if not args.no_reload and not args.no_text_reload and args.format == "npy":
            # The Hadoop way reads text: the same points as csv, parsed again every iteration.
            text = os.path.join(workdir, "points.csv")
            ml_kernels.write_rows(text, np.load(path))
            contenders.append(
                (
                    "reef reload (csv)",
                    lambda: run_reef(text, args, "reload"),
                )
            )
        if not args.no_ray:
            contenders.append(("ray actors", lambda: run_peer("ray", path, args, workdir)))
        if not args.no_dask:
            contenders.append(("dask", lambda: run_peer("dask", path, args, workdir)))
        for name, run in contenders:
            print(f"running {name}", file=sys.stderr, flush=True)
            try:
                results[name] = run()
            except Exception as e:
                results[name] = {"error": f"{type(e).__name__}: {e}"}
                traceback.print_exc()
    finally:
        if previous_home is None:
            os.environ.pop("REEF_HOME", None)
        else:
            os.environ["REEF_HOME"] = previous_home
        shutil.rmtree(workdir, ignore_errors=True)

    reference = results.get("numpy", {}).get("centroids")
    for r in results.values():
        if reference is not None and "centroids" in r:
            r["matches"] = bool(np.allclose(r["centroids"], reference, rtol=1e-9, atol=1e-9))
    retained, reload = results.get("reef retained"), results.get("reef reload")
    ratios: dict[str, Any] = {
        "retained_vs_ray": ratio(retained, results.get("ray actors")),
        "reload_vs_retained": ratio(reload, retained),
        "reload_csv_vs_retained": ratio(results.get("reef reload (csv)"), retained),
        "retained_vs_dask": ratio(retained, results.get("dask")),
        "retained_vs_numpy": ratio(retained, results.get("numpy")),
    }
    if ratios["retained_vs_ray"] is not None:
        ratios["retained_vs_ray_met"] = ratios["retained_vs_ray"] <= TARGETS["retained_vs_ray_max"]
    for key in ("reload_vs_retained", "reload_csv_vs_retained"):
        if ratios[key] is not None:
            ratios[f"{key}_met"] = ratios[key] >= TARGETS["reload_vs_retained_min"]
    print_table(results, ratios, args)
    for r in results.values():
        r.pop("centroids", None)
        r.pop("traceback", None)
    line = {
        "benchmark": "kmeans",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "parameters": {
            "points": args.points,
            "dims": args.dims,
            "k": args.k,
            "iterations": args.iterations,
            "evaluators": args.evaluators,
            "seed": args.seed,
            "format": args.format,
            "runtime": args.runtime,
        },
        "results": results,
        "ratios": ratios,
        "targets": TARGETS,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
