"""The numeric kernels of the machine-learning examples, their input formats, and single-process
numpy references: what ``kmeans.py``, ``logistic_regression.py``, ``pagerank.py``,
``mapreduce_to_ml.py``, their tests and ``benchmarks/kmeans.py`` share. Plain numpy, nothing
reef-specific.

Input formats:

- **points** (k-means): a ``.npy`` file holding a 2-D float array (one row per point), or a
  ``.csv`` file of comma-separated numbers, one point per line, no header.
- **labelled rows** (logistic regression): the same, with the 0/1 label in the last column.
- **edges** (PageRank): a text file of lines ``src dst`` (whitespace-separated non-negative
  integer vertex ids; lines starting with ``#`` are comments). The vertices are 0 .. max id.
- **records** (``mapreduce_to_ml.py``): text lines ``user,event,amount`` (see ``EVENTS``).

``make_points.py`` writes all of them. ``runtime_named`` is the runtime of their ``--runtime``.

The kernels keep a partition in a *prepared* layout: the rows with a column of ones appended
(``with_ones``), so that one matrix product gives k-means distances (``-2 x.c + ||c||^2``, the
``||x||^2`` term does not change which centroid is nearest) and a logistic model's bias, and one
more gives per-cluster sums with the counts in the last column.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

BLOCK_ROWS = 16384  # rows per block: a block and its distances stay in the CPU's cache

SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""Environment for evaluators: one BLAS thread each, as several evaluators share the cores."""


# -- input ----------------------------------------------------------------------------------------


def input_format(path: str) -> str:
    """``"npy"`` or ``"csv"``, from the file's name."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".npy", ".csv"):
        raise ValueError(f"{path}: give a .npy or a .csv file")
    return suffix[1:]


CSV_CHUNK_BYTES = 4 << 20


def parse_csv(
    text: str | bytes | Iterable[str], where: str = "the input", first_line: int = 1
) -> np.ndarray:
    """Comma-separated numbers, one row per line, as a 2-D float64 array. Text is parsed a few
    MB at a time: numpy's parser holds the GIL, and an evaluator's other threads (its heartbeat)
    must get their turn in between. A line that is not a row of numbers as wide as the first
    raises ``ValueError`` naming ``where`` and its line (``first_line`` is the first's number)."""
    if isinstance(text, str):
        text = text.encode()
    elif not isinstance(text, bytes):
        text = "".join(text).encode()
    parts: list[np.ndarray] = []
    start, line = 0, first_line
    while start < len(text):
        end = text.find(b"\n", start + CSV_CHUNK_BYTES)
        end = len(text) if end < 0 else end + 1
        chunk = text[start:end]
        try:
            rows = np.loadtxt(io.BytesIO(chunk), delimiter=",", dtype=np.float64, ndmin=2)
        except ValueError:
            raise ValueError(_csv_problem(chunk, where, line, None)) from None
        if rows.size and parts and rows.shape[1] != parts[0].shape[1]:
            raise ValueError(_csv_problem(chunk, where, line, parts[0].shape[1]))
        if rows.size:
            parts.append(rows)
        line += chunk.count(b"\n")
        start = end
    return np.vstack(parts) if parts else np.empty((0, 0))


def _csv_problem(chunk: bytes, where: str, first_line: int, width: int | None) -> str:
    """What is wrong with the first bad line of ``chunk`` (which numpy refused)."""
    for i, raw in enumerate(chunk.split(b"\n")):
        if not raw.strip():
            continue
        shown = raw[:80].decode("utf-8", "replace").rstrip("\r")
        fields = raw.split(b",")
        if width is None:
            width = len(fields)
        try:
            [float(f) for f in fields]
        except ValueError:
            header = " (a header line? the input must have none)" if first_line + i == 1 else ""
            return f"{where}, line {first_line + i}: not a row of numbers: {shown!r}{header}"
        if len(fields) != width:
            return f"{where}, line {first_line + i}: {len(fields)} numbers where rows have {width}"
    return f"{where}: not comma-separated rows of numbers"


def check_rows(path: str, *, min_rows: int, min_columns: int = 1) -> None:
    """``ValueError`` saying what is wrong unless ``path`` is a points or labelled-rows file
    (``input_format``) of at least ``min_rows`` rows of ``min_columns`` numbers; checked on the
    client before a job starts (a ``.csv`` file by its first ``min_rows`` rows only: its other
    rows are checked where they are parsed)."""
    input_format(path)
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file")
    if input_format(path) == "npy":
        try:
            rows = np.load(path, mmap_mode="r")
        except (ValueError, OSError, EOFError) as e:
            raise ValueError(f"{path}: not a .npy file ({e})") from None
        if rows.ndim != 2:
            raise ValueError(
                f"{path}: holds a {rows.ndim}-D array of shape {rows.shape}; give "
                "a 2-D one, a row per point"
            )
        if not (np.issubdtype(rows.dtype, np.integer) or np.issubdtype(rows.dtype, np.floating)):
            raise ValueError(f"{path}: holds {rows.dtype} values; give real numbers")
        count, width = rows.shape
    else:
        first = read_first_rows(path, min_rows)
        count, width = first.shape
    if count < min_rows:
        raise ValueError(f"{path}: need at least {min_rows} rows, found {count}")
    if width < min_columns:
        raise ValueError(f"{path}: need at least {min_columns} numbers a row, found {width}")


def row_range(rows: int, index: int, partitions: int) -> tuple[int, int]:
    """Rows ``[start, stop)`` of partition ``index`` of ``partitions`` equal ones."""
    return rows * index // partitions, rows * (index + 1) // partitions


def read_rows(path: str) -> np.ndarray:
    """The whole file as a 2-D float64 array."""
    if input_format(path) == "npy":
        return np.asarray(np.load(path), dtype=np.float64)
    with open(path, "rb") as f:
        return parse_csv(f.read(), path)


def read_partition(path: str, index: int, partitions: int) -> np.ndarray:
    """Partition ``index`` of ``partitions`` of a points file, read and parsed on its own, as a
    Hadoop task reads its split: a ``.npy`` file by row ranges (through a memory map, so only
    those rows are read); a ``.csv`` file by byte ranges, each line belonging to the range its
    first byte is in."""
    if input_format(path) == "npy":
        rows = np.load(path, mmap_mode="r")
        start, stop = row_range(rows.shape[0], index, partitions)
        return np.array(rows[start:stop], dtype=np.float64)
    data = read_line_range(path, index, partitions)
    try:
        return parse_csv(data, path)
    except ValueError:  # name the line by its number in the file: count the lines before
        start = row_range(os.path.getsize(path), index, partitions)[0]
        with open(path, "rb") as f:  # the range begins after the first newline from start - 1
            first = f.read(start - 1).count(b"\n") + 2 if start > 0 else 1
        return parse_csv(data, path, first_line=first)


def read_line_range(path: str, index: int, partitions: int) -> bytes:
    """The whole lines of a text file whose first byte lies in byte range ``index`` of
    ``partitions`` equal ones."""
    size = os.path.getsize(path)
    start, stop = row_range(size, index, partitions)
    with open(path, "rb") as f:
        if start > 0:
            f.seek(start - 1)
            f.readline()  # the line in progress at ``start`` belongs to the range before
        begin = f.tell()
        if begin >= stop:
            return b""
        data = f.read(stop - begin)
        if data and not data.endswith(b"\n"):
            data += f.readline()  # finish the line that starts inside the range
        return data


def read_first_rows(path: str, count: int) -> np.ndarray:
    """The first ``count`` rows of a points file (k-means starts from them)."""
    if input_format(path) == "npy":
        rows = np.load(path, mmap_mode="r")
        if rows.ndim != 2 or rows.shape[0] < count:
            raise ValueError(f"{path}: need a 2-D array of at least {count} rows")
        return np.array(rows[:count], dtype=np.float64)
    lines: list[bytes] = []
    found = 0
    with open(path, "rb") as f:
        for line in f:
            lines.append(line)
            found += bool(line.strip())
            if found == count:
                break
    rows = parse_csv(b"".join(lines), path)
    if rows.shape[0] < count:
        raise ValueError(f"{path}: need at least {count} rows, found {rows.shape[0]}")
    return rows


def count_rows(path: str) -> int:
    if input_format(path) == "npy":
        return int(np.load(path, mmap_mode="r").shape[0])
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def check_file(path: str) -> None:
    """``ValueError`` unless ``path`` is a file with something in it (checked on the client
    before a job starts)."""
    if os.path.isdir(path):
        raise ValueError(f"{path}: is a directory; give a file")
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file")
    if os.path.getsize(path) == 0:
        raise ValueError(f"{path}: the file is empty")


def exit_on_failure(parser: Any, run: Any) -> Any:
    """``run()``'s outcome; a job that failed ends the command with its error (exit status 1),
    as ``parser.error`` ends it for bad arguments, without a traceback."""
    try:
        return run()
    except RuntimeError as e:
        parser.exit(1, f"{parser.prog}: error: {e}\n")


def with_ones(rows: np.ndarray, *, replace_last: bool = False) -> np.ndarray:
    """``rows`` with a column of ones appended (or, ``replace_last``, in place of the last
    column: a label's place), as a new C-contiguous float64 array."""
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2:
        raise ValueError(f"expected a 2-D array of rows, got shape {rows.shape}")
    n, d = rows.shape
    width = d if replace_last else d + 1
    out = np.empty((n, width), dtype=np.float64)
    out[:, : width - 1] = rows[:, : width - 1]
    out[:, width - 1] = 1.0
    return out


# -- k-means --------------------------------------------------------------------------------------


def kmeans_partial(prepared: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """One Lloyd step's partial result over a partition: a ``(k, d + 1)`` array, row ``j`` the
    sum of the points nearest centroid ``j`` followed by their count. ``prepared`` is
    ``with_ones(points)``. Ties go to the lower centroid index, as ``argmin``."""
    k, d = centroids.shape
    if prepared.size == 0:  # an empty partition
        return np.zeros((k, d + 1))
    if prepared.ndim != 2 or prepared.shape[1] != d + 1:
        raise ValueError(f"expected prepared rows of width {d + 1}, got {prepared.shape}")
    weights = np.empty((k, d + 1))  # distance up to ||x||^2: [-2 c, ||c||^2] . [x, 1]
    weights[:, :d] = -2.0 * centroids
    weights[:, d] = np.einsum("ij,ij->i", centroids, centroids)
    block = min(BLOCK_ROWS, max(1, prepared.shape[0]))
    distances = np.empty((k, block))
    onehot = np.empty((k, block))
    clusters = np.arange(k)[:, None]
    out = np.zeros((k, d + 1))
    for start in range(0, prepared.shape[0], block):
        x = prepared[start : start + block]
        m = x.shape[0]
        dist = np.matmul(weights, x.T, out=distances[:, :m])
        nearest = dist.argmin(axis=0)
        member = onehot[:, :m]
        np.equal(nearest, clusters, out=member, casting="unsafe")
        out += member @ x  # per-cluster sums, counts in the last column
    return out


def kmeans_update(centroids: np.ndarray, combined: np.ndarray) -> np.ndarray:
    """New centroids from the combined partial results; an empty cluster keeps its centroid."""
    sums, counts = combined[:, :-1], combined[:, -1]
    new = centroids.copy()
    filled = counts > 0
    new[filled] = sums[filled] / counts[filled, None]
    return new


def kmeans_local(points: np.ndarray, k: int, iterations: int) -> np.ndarray:
    """k-means in this process with the same kernel (the benchmark's single-process peer)."""
    prepared = with_ones(points)
    centroids = np.array(points[:k], dtype=np.float64)
    for _ in range(iterations):
        centroids = kmeans_update(centroids, kmeans_partial(prepared, centroids))
    return centroids


def kmeans_reference(points: np.ndarray, k: int, iterations: int) -> np.ndarray:
    """Lloyd's k-means written the plain way (full squared distances), for the tests:
    initial centroids are the first ``k`` points, an empty cluster keeps its centroid."""
    points = np.asarray(points, dtype=np.float64)
    centroids = points[:k].copy()
    for _ in range(iterations):
        distances = ((points[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
        nearest = distances.argmin(axis=1)
        for j in range(k):
            members = points[nearest == j]
            if len(members):
                centroids[j] = members.mean(axis=0)
    return centroids


# -- logistic regression ---------------------------------------------------------------------------


def split_labelled(rows: np.ndarray, where: str = "the input") -> tuple[np.ndarray, np.ndarray]:
    """``(features with a bias column of ones, labels)`` from rows whose last column is the
    0/1 label; ``ValueError`` (naming ``where``) for another label."""
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2 or (rows.size and rows.shape[1] < 2):
        raise ValueError(f"{where}: need rows of features and a label, got shape {rows.shape}")
    labels = np.ascontiguousarray(rows[:, -1])
    bad = np.flatnonzero((labels != 0.0) & (labels != 1.0))
    if bad.size:
        raise ValueError(
            f"{where}: the last column is the label, 0 or 1, but row {bad[0]} has "
            f"{float(labels[bad[0]])!r} ({bad.size} rows have another value)"
        )
    return with_ones(rows, replace_last=True), labels


def logistic_partial(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``[gradient sum (d + 1 values), log-loss sum, rows]`` of a partition at ``weights``;
    ``x`` has the bias column (``split_labelled``)."""
    out = np.zeros(weights.shape[0] + 2)
    for start in range(0, x.shape[0], BLOCK_ROWS):
        xb, yb = x[start : start + BLOCK_ROWS], y[start : start + BLOCK_ROWS]
        z = xb @ weights
        p = 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, without overflow
        out[:-2] += xb.T @ (p - yb)
        out[-2] += float(np.sum(np.logaddexp(0.0, z) - yb * z))
        out[-1] += xb.shape[0]
    return out


def logistic_update(
    weights: np.ndarray, combined: np.ndarray, learning_rate: float
) -> tuple[np.ndarray, float]:
    """``(new weights, mean loss at the old weights)`` from the combined partial results."""
    rows = combined[-1]
    return weights - learning_rate * combined[:-2] / rows, float(combined[-2] / rows)


def logistic_reference(
    rows: np.ndarray, iterations: int, learning_rate: float
) -> tuple[np.ndarray, list[float]]:
    """Batch gradient descent written the plain way, for the tests: ``(weights, losses)``,
    weights starting at zero, the bias last; ``losses[i]`` is the mean log loss before step
    ``i``."""
    rows = np.asarray(rows, dtype=np.float64)
    x = np.hstack([rows[:, :-1], np.ones((rows.shape[0], 1))])
    y = rows[:, -1]
    w = np.zeros(x.shape[1])
    losses = []
    for _ in range(iterations):
        z = x @ w
        p = 1.0 / (1.0 + np.exp(-z))
        losses.append(float(np.mean(np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0) - y * z)))
        w = w - learning_rate * x.T @ (p - y) / len(y)
    return w, losses


# -- PageRank -------------------------------------------------------------------------------------

DAMPING = 0.85


def parse_edges(text: str | bytes | Sequence[str], where: str = "the input") -> np.ndarray:
    """Lines ``src dst`` as an ``(edges, 2)`` int64 array (``#`` starts a comment line); a line
    that is not two non-negative integers raises ``ValueError`` naming ``where`` and the line."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = text.splitlines() if isinstance(text, str) else list(text)
    try:
        edges = np.loadtxt(lines, dtype=np.int64, comments="#", ndmin=2)
    except ValueError:
        edges = None
    if edges is not None and edges.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    if edges is not None and edges.shape[1] == 2 and not (edges < 0).any():
        return edges
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if fields and (len(fields) != 2 or not all(f.isdigit() for f in fields)):
            raise ValueError(
                f"{where}: {line[:80]!r} is not an edge: lines are 'src dst', two non-negative "
                "integer vertex ids"
            )
    raise ValueError(f"{where}: edge lines must be 'src dst', two non-negative integer ids")


def pagerank_step(edges: np.ndarray, ranks: np.ndarray, out_degree: np.ndarray) -> np.ndarray:
    """The rank a partition's edges carry to each vertex (before damping)."""
    src, dst = edges[:, 0], edges[:, 1]
    return np.bincount(dst, weights=ranks[src] / out_degree[src], minlength=ranks.shape[0])


def pagerank_update(ranks: np.ndarray, received: np.ndarray, out_degree: np.ndarray) -> np.ndarray:
    """New ranks from the summed contributions; dangling vertices' rank spreads uniformly."""
    n = ranks.shape[0]
    dangling = float(ranks[out_degree == 0].sum())
    return (1.0 - DAMPING) / n + DAMPING * (received + dangling / n)


def top_vertices(ranks: np.ndarray, count: int) -> list[list[float]]:
    """``[[vertex, rank], ...]``: the ``count`` highest ranks, ties by vertex id."""
    order = np.lexsort((np.arange(ranks.shape[0]), -ranks))[:count]
    return [[int(v), float(ranks[v])] for v in order]


def pagerank_reference(edges: np.ndarray, iterations: int) -> np.ndarray:
    """PageRank written the plain way, for the tests: vertices 0 .. max id, ranks start at
    ``1 / n``, damping 0.85, dangling rank spread uniformly."""
    n = int(edges.max()) + 1
    out_degree = np.zeros(n)
    np.add.at(out_degree, edges[:, 0], 1)
    ranks = np.full(n, 1.0 / n)
    for _ in range(iterations):
        received = np.zeros(n)
        for s, t in edges:
            received[t] += ranks[s] / out_degree[s]
        dangling = ranks[out_degree == 0].sum()
        ranks = (1 - DAMPING) / n + DAMPING * (received + dangling / n)
    return ranks


# -- MapReduce records ----------------------------------------------------------------------------

EVENTS = ("view", "search", "cart", "review", "share", "purchase")
"""The event types of a record ``user,event,amount``: a user's features are the log of one plus
their total amount per event type except ``purchase``; the label is whether they purchased."""


def parse_record(line: str) -> tuple[int, np.ndarray]:
    """The map step: a record ``user,event,amount`` as ``(user, vector)``, the vector holding
    ``amount`` at the event's place (``len(EVENTS)`` values)."""
    try:
        user, event, amount = line.split(",")
        vector = np.zeros(len(EVENTS))
        vector[EVENTS.index(event)] = float(amount)
        return int(user), vector
    except ValueError:
        raise ValueError(
            f"{line[:80]!r} is not a record 'user,event,amount' (an integer user, an event of "
            f"{', '.join(EVENTS)}, a number)"
        ) from None


def user_rows(users: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """The reduce step's output: one row per user (in ``users`` order) of features
    ``log1p(total per event type)`` and the label ``purchased`` last, the logistic regression
    example's input format."""
    rows = np.empty((totals.shape[0], totals.shape[1]))
    rows[:, :-1] = np.log1p(totals[:, :-1])
    rows[:, -1] = (totals[:, -1] > 0).astype(np.float64)
    return rows[np.argsort(users, kind="stable")] if users.size else rows


def records_reference(lines: Sequence[str]) -> np.ndarray:
    """The ETL done in one process: the rows of every user, by user id."""
    totals: dict[int, np.ndarray] = {}
    for line in lines:
        if line.strip():
            user, vector = parse_record(line.strip())
            totals[user] = totals[user] + vector if user in totals else vector
    users = np.array(sorted(totals), dtype=np.int64)
    return user_rows(users, np.array([totals[int(u)] for u in users]).reshape(-1, len(EVENTS)))


# -- generators (make_points.py) ------------------------------------------------------------------


def make_points(n: int, d: int, *, clusters: int = 8, seed: int = 7) -> np.ndarray:
    """``n`` points in ``d`` dimensions around ``clusters`` random centres."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10.0, 10.0, size=(clusters, d))
    return centres[rng.integers(0, clusters, size=n)] + rng.standard_normal((n, d))


def make_labelled(n: int, d: int, *, seed: int = 7) -> np.ndarray:
    """``n`` rows of ``d`` features and a 0/1 label drawn from a logistic model."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    true_w = rng.uniform(-2.0, 2.0, size=d)
    p = 1.0 / (1.0 + np.exp(-(x @ true_w + 0.5)))
    return np.hstack([x, (rng.random(n) < p).astype(np.float64)[:, None]])


def make_edges(vertices: int, edges: int, *, seed: int = 7) -> np.ndarray:
    """A random directed graph with skewed in-degrees (some vertices without out-edges)."""
    rng = np.random.default_rng(seed)
    src = rng.integers(0, max(1, vertices * 9 // 10), size=edges)  # the last tenth dangle
    dst = np.minimum((rng.pareto(1.5, size=edges) * vertices / 20).astype(np.int64), vertices - 1)
    return np.stack([src, dst], axis=1)


def make_records(users: int, records: int, *, seed: int = 7) -> list[str]:
    """Records ``user,event,amount``: users who view, search and put into carts more tend to
    purchase."""
    rng = np.random.default_rng(seed)
    who = rng.integers(0, users, size=records) * 37 % 100_003  # sparse user ids
    keen = rng.random(100_003)[who]
    weights = np.empty((records, len(EVENTS)))
    weights[:] = [4.0, 2.0, 1.0, 0.5, 0.3, 0.0]
    weights[:, 2] += 2 * keen
    weights[:, 5] = 0.6 * keen**2
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    events = (rng.random(records)[:, None] > cumulative[:, :-1]).sum(axis=1)
    amounts = rng.integers(1, 20, size=records)
    return [f"{u},{EVENTS[e]},{a}" for u, e, a in zip(who, events, amounts, strict=True)]


def write_rows(path: str, rows: np.ndarray) -> None:
    """A points or labelled-rows file, ``.npy`` or ``.csv`` (17 significant digits: exact)."""
    if input_format(path) == "npy":
        np.save(path, rows)
    else:
        np.savetxt(path, rows, delimiter=",", fmt="%.17g")


# -- runtimes of the examples' command lines -------------------------------------------------------


def runtime_named(runtime: object, evaluators: int) -> object:
    """The runtime ``--runtime`` names: ``"local"`` (room for twice ``evaluators`` processes, so
    that fresh evaluators can start while released ones exit) or ``"yarn"`` (``YarnRuntime``
    with one BLAS thread per container); anything else is a runtime object, used as it is."""
    if runtime == "local":
        from reef.runtime import LocalRuntime  # noqa: PLC0415 - evaluators need no runtime

        return LocalRuntime(max_evaluators=max(4, 2 * evaluators))
    if runtime == "yarn":
        from reef.runtime.yarn import YarnRuntime  # noqa: PLC0415 - nor skein

        return YarnRuntime(env=SINGLE_THREADED)
    return runtime


def run_job(
    driver: type,
    what: str,
    *,
    runtime: object,
    evaluators: int,
    parameters: dict[object, object],
    timeout: float,
) -> dict[str, Any]:
    """Runs one example's job to its end and returns the fields of its final JSON line (the
    driver's last message), with ``seconds_total`` as the client saw it; a job that did not
    succeed raises ``RuntimeError`` saying how it ended."""
    import time  # noqa: PLC0415 - evaluators import this module too, and need none of it

    import reef  # noqa: PLC0415

    started = time.perf_counter()
    result = reef.run(
        driver,
        runtime=runtime_named(runtime, evaluators),
        parameters=parameters,
        timeout=timeout,
    )
    if result.status is not reef.JobStatus.SUCCEEDED or not result.messages:
        raise RuntimeError(f"the {what} job ended {result.status.name}: {result.error}")
    outcome: dict[str, Any] = json.loads(result.messages[-1])
    outcome["seconds_total"] = time.perf_counter() - started
    return outcome
