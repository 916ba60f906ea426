"""Writes the inputs of the machine-learning examples (seeded, so every run writes the same)::

    python examples/make_points.py points pts.npy --rows 100000 --dims 16        # kmeans.py
    python examples/make_points.py points pts.csv --rows 10000 --dims 4 --clusters 5
    python examples/make_points.py labelled rows.npy --rows 100000 --dims 8
    python examples/make_points.py edges graph.txt --vertices 10000 --edges 100000   # pagerank.py
    python examples/make_points.py records events.txt --users 5000 --records 100000

Points are ``kmeans.py``'s input, labelled rows ``logistic_regression.py``'s, edges
``pagerank.py``'s, records ``mapreduce_to_ml.py``'s. Points and labelled rows go to ``.npy`` or
``.csv`` files (the formats: ``ml_kernels.py``).
"""

from __future__ import annotations

import argparse

import ml_kernels
import numpy as np


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("kind", choices=("points", "labelled", "edges", "records"))
    parser.add_argument("output", help="the file to write")
    parser.add_argument("--rows", type=int, default=100_000, help="points or labelled rows")
    parser.add_argument("--dims", type=int, default=16, help="dimensions of points / features")
    parser.add_argument("--clusters", type=int, default=8, help="centres the points are around")
    parser.add_argument("--vertices", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    sizes = ("rows", "dims", "clusters", "vertices", "edges", "users", "records")
    small = [f"--{name}" for name in sizes if getattr(args, name) < 1]
    if small:
        parser.error(f"{', '.join(small)} must be >= 1")
    if args.kind in ("points", "labelled") and not args.output.endswith((".npy", ".csv")):
        parser.error(f"{args.kind} are written as .npy or .csv; name the output so: {args.output}")
    if args.kind == "points":
        rows = ml_kernels.make_points(args.rows, args.dims, clusters=args.clusters, seed=args.seed)
        ml_kernels.write_rows(args.output, rows)
        print(f"wrote {args.output}: {args.rows} points x {args.dims}")
    elif args.kind == "labelled":
        rows = ml_kernels.make_labelled(args.rows, args.dims, seed=args.seed)
        ml_kernels.write_rows(args.output, rows)
        print(f"wrote {args.output}: {args.rows} rows of {args.dims} features and a label")
    elif args.kind == "edges":
        edges = ml_kernels.make_edges(args.vertices, args.edges, seed=args.seed)
        np.savetxt(args.output, edges, fmt="%d")
        print(f"wrote {args.output}: {args.edges} edges over vertices 0..{edges.max()}")
    else:
        lines = ml_kernels.make_records(args.users, args.records, seed=args.seed)
        with open(args.output, "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"wrote {args.output}: {args.records} records")


if __name__ == "__main__":
    main()
