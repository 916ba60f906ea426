"""REEF's headline comparison: N short activities on *retained* evaluators versus one *fresh*
evaluator per activity (the Hadoop / plain-YARN way), on the runtime given.

Two modes, the same activities, the same contexts, the same concurrency ``E``:

- **retained**: ``E`` evaluators are requested once; each gets a root context and runs
  activities one after another (the next one submitted from the ``CompletedActivity`` handler,
  on the same context) until ``N`` activities in all have completed; then the contexts close.
- **fresh**: at most ``E`` evaluators are working at a time; each runs one activity, then its
  root context is closed (which releases the evaluator) and a new evaluator is requested, until
  ``N`` activities have completed. The next request is made as soon as an activity completes,
  while the finished evaluator is still going away (the local runtime allows ``2 E`` processes
  at once for that), which flatters this mode a little, not the retained one.

Two scenarios, each run in both modes:

1. **start-up only**: no-op activities on contexts without services: what a new evaluator
   costs (a process or container, its start, its connection to the driver).
2. **with data**: a CSV file of ``--rows`` rows (``id,group,value``) is generated once into a
   temporary directory. The root context has a service, ``ParsedData``, that reads and parses
   the file with the standard library's ``csv`` module into a list of ``(int, str, int)``
   tuples in its constructor (the path reaches it as the named parameter ``DataPath``); each
   activity gets the service injected by type and sums the ``value`` column. Retained, each
   evaluator parses once and its activities reuse the parsed rows; fresh, every activity's new
   evaluator parses again, as every Hadoop task re-reads its input. So the difference between
   the scenarios is what re-parsing costs, no more: the table prints the mean parse time
   measured inside the services next to it.

Time is measured inside the driver, from its ``StartTime`` handler to the ``N``-th
``CompletedActivity`` (so evaluator start-up is included in both modes, the job's own start
and end are not), and sent to the client with ``JobMessenger.send``; the client-side wall time
of each job (``reef.run`` submit to end) is recorded too. Every result is checked: each job
must SUCCEED with ``N`` completed activities, each data activity must return the right sum and
row count, a retained evaluator's activities must all see one service instance (one parse per
evaluator) and a fresh job must use ``N`` evaluators. Per repeat the two modes run back to
back, in alternating order, so that a change of the machine's load touches both alike; figures
are medians over ``--repeats``, ratios (fresh / retained, driver-side times) medians of the
per-repeat ratios. One untimed warm-up job comes first.

Runtimes: ``--runtime local`` (default: evaluators are child processes of the driver);
``--runtime yarn`` (``reef.runtime.yarn.YarnRuntime()``, which finds a cluster through skein's
global driver or the ``REEF_SKEIN_DRIVER``/``REEF_SKEIN_SECURITY`` environment variables; the
data file is shipped into every container with ``files=``); ``--yarn-standin`` (YARN through
the test suite's skein stand-in, one node, 0.05 s allocation delay: it needs a checkout, as
``tests`` is not installed; run it from the repository root, though the script also puts the
root on ``sys.path``). On YARN the client-side wall time includes submitting the application
and starting its master; on every runtime it includes the job's end (the status page's server
takes up to 50 ms to stop), which is why the driver-side figures are the ones compared.

The table comes first; the last line of stdout is JSON with every figure, the ratios, the
runtime and the parameters. A figure that looks bad never fails the run (exit 0); a job that
fails or returns a wrong result is reported (with its id and logs) and the exit status is 1.
Jobs write into a temporary ``REEF_HOME``, removed at the end (kept, and named, when a job
fails). Top-level imports stay light: evaluators import this script for its ``__main__``
classes.

    .venv/bin/python benchmarks/evaluator_reuse.py [--activities N] [--evaluators E]
        [--rows R] [--repeats K] [--runtime local|yarn] [--yarn-standin] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Annotated, Any

import reef
from reef.tang import NamedParameter

EVALUATOR_MEMORY_MB = 256
DATA_FILE = "evaluator-reuse-data.csv"  # its name in containers, when shipped to YARN
MODES = ("retained", "fresh")
SCENARIOS = ("startup", "data")
TITLES = {"startup": "start-up only", "data": "with data"}


# -- on evaluators: the data service and the activities -------------------------------------------


class DataPath(NamedParameter[str]):
    """The CSV file to parse ("" for the start-up-only scenario); relative to the evaluator's
    working directory when shipped into containers."""

    default = ""


def read_records(path: str) -> list[tuple[int, str, int]]:
    """The rows of the CSV file as ``(id, group, value)`` tuples (the header skipped)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f)
        next(rows)
        return [(int(i), group, int(value)) for i, group, value in rows]


class ParsedData:
    """A context service: the data set, read and parsed once when its context starts."""

    def __init__(self, path: Annotated[str, DataPath]) -> None:
        started = time.perf_counter()
        self.records = read_records(path)
        self.parse_seconds = time.perf_counter() - started
        self.uses = 0


class Noop(reef.Activity):
    """The start-up-only scenario's activity."""

    def run(self, memento: bytes | None) -> bytes:
        return b""


class SumValues(reef.Activity):
    """The data scenario's activity: the sum of the ``value`` column of the parsed rows."""

    def __init__(self, data: ParsedData) -> None:
        self.data = data

    def run(self, memento: bytes | None) -> bytes:
        self.data.uses += 1
        total = sum(value for _, _, value in self.data.records)
        result = {
            "sum": total,
            "rows": len(self.data.records),
            "parse_s": self.data.parse_seconds,
            "uses": self.data.uses,
        }
        return json.dumps(result).encode()


# -- the drivers ----------------------------------------------------------------------------------


class Activities(NamedParameter[int]):
    """How many activities to complete in all."""

    default = 40


class Evaluators(NamedParameter[int]):
    """How many evaluators work at a time."""

    default = 2


class ExpectedSum(NamedParameter[int]):
    """The right sum of the data set's ``value`` column."""

    default = 0


class ExpectedRows(NamedParameter[int]):
    """The data set's row count."""

    default = 0


class ReuseDriver(reef.Driver):
    """What both modes share: the first request, the root context (with ``ParsedData`` when
    there is data) started together with an activity, and the bookkeeping of each completed
    activity. The modes differ only in what follows a ``CompletedActivity``."""

    mode = ""

    def __init__(  # noqa: PLR0917 (injected: Tang passes what the constructor names)
        self,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        activities: Annotated[int, Activities],
        evaluators: Annotated[int, Evaluators],
        data_path: Annotated[str, DataPath],
        expected_sum: Annotated[int, ExpectedSum],
        expected_rows: Annotated[int, ExpectedRows],
    ) -> None:
        self.requestor, self.client = requestor, client
        self.activities, self.evaluators = activities, evaluators
        self.data_path = data_path
        self.expected_sum, self.expected_rows = expected_sum, expected_rows
        self.started_at = 0.0
        self.requested = 0
        self.issued = 0
        self.completed_count = 0
        self.first_completed_s: float | None = None
        self.per_evaluator: dict[str, int] = {}
        self.parse_seconds: dict[str, float] = {}
        self.wrong: list[str] = []

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.started_at = time.perf_counter()
        self._request(min(self.evaluators, self.activities))

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, evaluator: reef.AllocatedEvaluator) -> None:
        if self.issued >= self.activities:  # (retained) the others ran them all meanwhile
            evaluator.close()
            return
        if self.data_path:
            context = reef.ContextConfiguration(
                id=f"ctx-{evaluator.id}",
                services=[ParsedData],
                parameters={DataPath: self.data_path},
            )
        else:
            context = reef.ContextConfiguration(id=f"ctx-{evaluator.id}")
        evaluator.submit_context_and_activity(context, self._next_activity())

    def _request(self, count: int) -> None:
        self.requested += count
        self.requestor.submit(
            reef.EvaluatorRequest(count=count, memory_mb=EVALUATOR_MEMORY_MB, cores=1)
        )

    def _next_activity(self) -> reef.ActivityConfiguration:
        self.issued += 1
        activity = SumValues if self.data_path else Noop
        return reef.ActivityConfiguration(id=f"activity-{self.issued}", activity=activity)

    def _record(self, done: reef.CompletedActivity) -> None:
        """Count and check a completed activity; after the last one, report to the client."""
        elapsed = time.perf_counter() - self.started_at
        self.completed_count += 1
        if self.first_completed_s is None:
            self.first_completed_s = elapsed
        evaluator_id = done.context.evaluator_id
        ran = self.per_evaluator[evaluator_id] = self.per_evaluator.get(evaluator_id, 0) + 1
        if self.data_path:
            self._check(done, evaluator_id, ran)
        elif done.result not in (b"", None):
            self.wrong.append(f"{done.id}: a no-op returned {done.result!r}")
        if self.completed_count == self.activities:
            report = {
                "mode": self.mode,
                "seconds": elapsed,
                "first_completed_s": self.first_completed_s,
                "completed": self.completed_count,
                "evaluators_used": len(self.per_evaluator),
                "most_on_one_evaluator": max(self.per_evaluator.values()),
                "parse_s": list(self.parse_seconds.values()),
                "wrong": self.wrong[:5],
                "wrong_count": len(self.wrong),
            }
            self.client.send(json.dumps(report).encode())

    def _check(self, done: reef.CompletedActivity, evaluator_id: str, ran: int) -> None:
        try:
            result = json.loads(done.result or b"")
        except ValueError:
            self.wrong.append(f"{done.id}: not JSON: {done.result!r:.80}")
            return
        if result["sum"] != self.expected_sum or result["rows"] != self.expected_rows:
            self.wrong.append(
                f"{done.id}: sum {result['sum']} of {result['rows']} rows, expected "
                f"{self.expected_sum} of {self.expected_rows}"
            )
        if result["uses"] != ran:  # another service instance: the parsed data was not kept
            self.wrong.append(
                f"{done.id}: activity {ran} on {evaluator_id} saw a service used {result['uses']}"
                " time(s)"
            )
        self.parse_seconds[evaluator_id] = result["parse_s"]


class RetainedDriver(ReuseDriver):
    """``E`` evaluators kept: each runs activities one after another on its root context."""

    mode = "retained"

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        self._record(done)
        if self.issued < self.activities:
            done.context.submit_activity(self._next_activity())
        else:
            done.context.close()


class FreshDriver(ReuseDriver):
    """One evaluator per activity, at most ``E`` at work: each is released after its activity
    and a new one requested."""

    mode = "fresh"

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        self._record(done)
        done.context.close()  # the root context: the evaluator is released
        if self.requested < self.activities:
            self._request(1)


DRIVERS: dict[str, type[ReuseDriver]] = {"retained": RetainedDriver, "fresh": FreshDriver}


# -- the client: data, runtimes, jobs -------------------------------------------------------------


class BenchmarkError(Exception):
    """A job failed or returned a wrong result: the figures cannot be trusted."""


def write_data(directory: str, rows: int) -> tuple[str, int, float]:
    """Write the data set; its path, the sum of its ``value`` column and how long parsing it
    takes here (once, in this process, for the record)."""
    import random

    rng = random.Random(20130401)
    path = os.path.join(directory, DATA_FILE)
    total = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("id,group,value\n")
        lines = []
        for i in range(rows):
            value = rng.randrange(1000)
            total += value
            lines.append(f"{i},g{i % 17},{value}\n")
        f.writelines(lines)
    started = time.perf_counter()
    parsed = read_records(path)
    seconds = time.perf_counter() - started
    if len(parsed) != rows or sum(r[2] for r in parsed) != total:
        raise BenchmarkError(f"{path}: parsing what was written gives other rows")
    return path, total, seconds


class Runtimes:
    """The runtime of each scenario (YARN: with the data file shipped for the data scenario),
    and how to describe it."""

    def __init__(self, args: argparse.Namespace, workdir: str, data_path: str | None) -> None:
        self.args = args
        self.workdir = workdir
        self.data_path = data_path
        self.stack = contextlib.ExitStack()
        self.client: Any = None
        self.kind = "yarn-standin" if args.yarn_standin else args.runtime

    def __enter__(self) -> Runtimes:
        if self.kind == "yarn-standin":
            from tests.yarn.standin import StandinYarn

            yarn = self.stack.enter_context(
                StandinYarn(os.path.join(self.workdir, "yarn"), allocation_delay=0.05)
            )
            self.client = yarn.client()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    def runtime(self, scenario: str) -> Any:
        """A runtime for one job of ``scenario``."""
        if self.kind == "local":
            from reef.runtime import LocalRuntime

            # 2 E: a fresh evaluator may start while the one it replaces is going away
            return LocalRuntime(max_evaluators=max(4, 2 * self.args.evaluators))
        from reef.runtime.yarn import YarnRuntime

        files = {DATA_FILE: self.data_path} if scenario == "data" and self.data_path else None
        if self.kind == "yarn-standin":
            return YarnRuntime(client=self.client, evaluator_sizes=[(512, 1)], files=files)
        env = dict(item.split("=", 1) for item in self.args.yarn_env)
        return YarnRuntime(evaluator_sizes=[(512, 1)], files=files, env=env or None)

    def data_parameter(self) -> str:
        """The data file's path as evaluators see it."""
        assert self.data_path is not None
        return DATA_FILE if self.kind != "local" else self.data_path

    def describe(self) -> dict[str, Any]:
        described = dict(self.runtime("startup").describe())
        described["kind"] = self.kind
        if self.kind == "yarn-standin":
            described["standin"] = "tests.yarn.standin.StandinYarn(allocation_delay=0.05)"
        return described


def run_job(
    runtimes: Runtimes, scenario: str, mode: str, activities: int, data: dict[str, Any] | None
) -> dict[str, Any]:
    """One job; the driver's report plus the client-side wall time. ``BenchmarkError`` if the
    job did not succeed or its results are wrong."""
    args = runtimes.args
    parameters: dict[Any, Any] = {Activities: activities, Evaluators: args.evaluators}
    if scenario == "data":
        assert data is not None
        parameters |= {
            DataPath: runtimes.data_parameter(),
            ExpectedSum: data["sum"],
            ExpectedRows: data["rows"],
        }
    started = time.perf_counter()
    result = reef.run(
        DRIVERS[mode],
        runtime=runtimes.runtime(scenario),
        parameters=parameters,
        timeout=args.timeout,
    )
    client_s = time.perf_counter() - started
    what = f"{TITLES[scenario]}, {mode}: job {result.id or '?'}"
    if result.status is not reef.JobStatus.SUCCEEDED:
        error = result.error
        detail = "" if error is None else f"{error.type_name}: {error.message}"
        raise BenchmarkError(f"{what} {result.status.value}: {detail} (logs: {result.log_dir})")
    if not result.messages:
        raise BenchmarkError(f"{what} sent no report (logs: {result.log_dir})")
    report: dict[str, Any] = json.loads(result.messages[-1])
    problems = list(report["wrong"])
    if report["completed"] != activities:
        problems.append(f"{report['completed']} activities completed, not {activities}")
    if mode == "fresh" and report["evaluators_used"] != activities:
        problems.append(f"{report['evaluators_used']} evaluators used, not {activities}")
    if mode == "retained" and report["evaluators_used"] > args.evaluators:
        problems.append(f"{report['evaluators_used']} evaluators used, more than {args.evaluators}")
    if scenario == "data" and len(report["parse_s"]) != report["evaluators_used"]:
        problems.append(
            f"{len(report['parse_s'])} parses on {report['evaluators_used']} evaluators"
        )
    if problems:
        raise BenchmarkError(
            f"{what}: wrong results ({report['wrong_count']} wrong activities): "
            + "; ".join(problems[:5])
        )
    seconds = report["seconds"]
    parses = report["parse_s"]
    return {
        "driver_s": round(seconds, 4),
        "client_s": round(client_s, 4),
        "per_activity_ms": round(seconds / activities * 1000, 2),
        "first_completed_s": round(report["first_completed_s"], 4),
        "evaluators_used": report["evaluators_used"],
        "most_on_one_evaluator": report["most_on_one_evaluator"],
        "parses": len(parses),
        "parse_ms_mean": round(sum(parses) / len(parses) * 1000, 1) if parses else None,
    }


def timed_job(
    runtimes: Runtimes, scenario: str, mode: str, activities: int, data: dict[str, Any] | None
) -> dict[str, Any]:
    """``run_job``, saying on stderr how long it took."""
    figures = run_job(runtimes, scenario, mode, activities, data)
    print(
        f"  {TITLES[scenario]:<14} {mode:<9} {figures['driver_s']:8.2f} s in the driver, "
        f"{figures['client_s']:6.2f} s wall",
        file=sys.stderr,
        flush=True,
    )
    return figures


# -- figures --------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The medians of one scenario and mode's figures over the repeats."""
    out: dict[str, Any] = {}
    for key in runs[0]:
        values = [r[key] for r in runs if r[key] is not None]
        out[key] = round(median(values), 4) if values else None
    out["driver_s_all"] = [r["driver_s"] for r in runs]
    return out


def summarize(
    repeats: list[dict[str, dict[str, dict[str, Any]]]], evaluators: int
) -> dict[str, Any]:
    """Figures (medians) per scenario and mode, and the ratios fresh / retained (medians of the
    per-repeat ratios)."""
    figures: dict[str, Any] = {}
    ratios: dict[str, Any] = {}
    for scenario in repeats[0]:
        figures[scenario] = {m: combine([r[scenario][m] for r in repeats]) for m in MODES}
        per_repeat = [
            r[scenario]["fresh"]["driver_s"] / r[scenario]["retained"]["driver_s"] for r in repeats
        ]
        per_repeat_client = [
            r[scenario]["fresh"]["client_s"] / r[scenario]["retained"]["client_s"] for r in repeats
        ]
        ratios[scenario] = {
            "fresh_over_retained": round(median(per_repeat), 2),
            "fresh_over_retained_wall": round(median(per_repeat_client), 2),
            "per_repeat": [round(x, 2) for x in per_repeat],
        }
    if "data" in figures:
        startup_fresh = figures["startup"]["fresh"]["per_activity_ms"]
        data_fresh = figures["data"]["fresh"]["per_activity_ms"]
        ratios["data"]["fresh_extra_per_activity_ms"] = round(data_fresh - startup_fresh, 1)
        parse_ms = figures["data"]["fresh"]["parse_ms_mean"]
        ratios["data"]["fresh_parse_ms_mean"] = parse_ms
        # N parses, E at a time (if there are E cpus): what re-parsing adds per activity
        ratios["data"]["fresh_parse_ms_per_activity"] = (
            None if parse_ms is None else round(parse_ms / evaluators, 1)
        )
    return {"figures": figures, "ratios": ratios}


def print_table(
    summary: dict[str, Any], args: argparse.Namespace, runtime: str, extra: dict[str, Any]
) -> None:
    figures, ratios = summary["figures"], summary["ratios"]

    def row(*cells: object) -> None:
        print(f"  {cells[0]!s:<26}{cells[1]!s:<10}" + "".join(f"{c!s:>12}" for c in cells[2:]))

    def fmt(x: float | None, spec: str) -> str:
        return "-" if x is None else format(x, spec)

    print(
        f"\nevaluator_reuse on {runtime}: {args.activities} activities, {args.evaluators} "
        f"evaluator(s) at a time; medians of {extra['repeats']} repeat(s)"
    )
    print(
        f"Python {platform.python_version()} on {os.cpu_count()} cpus, load",
        " -> ".join(f"{x:.1f}" for x in extra["load"]),
    )
    print()
    row("scenario", "mode", "driver s", "wall s", "ms/activity", "1st done s", "evaluators")
    for scenario, by_mode in figures.items():
        title = TITLES[scenario] + (f" ({args.rows:,} rows)" if scenario == "data" else "")
        for k, mode in enumerate(MODES):
            f = by_mode[mode]
            row(
                title if k == 0 else "",
                mode,
                fmt(f["driver_s"], ".2f"),
                fmt(f["client_s"], ".2f"),
                fmt(f["per_activity_ms"], ",.1f"),
                fmt(f["first_completed_s"], ".2f"),
                f["evaluators_used"],
            )
        r = ratios[scenario]
        row(
            "",
            "ratio",
            f"{r['fresh_over_retained']:.2f} x",
            f"{r['fresh_over_retained_wall']:.2f} x",
        )
        print(f"  {'':<26}(fresh / retained; per repeat: {r['per_repeat']})")
    if "data" in figures:
        data = figures["data"]
        r = ratios["data"]
        print(
            f"\nparsing {args.rows:,} rows: {fmt(extra['parse_ms_here'], '.0f')} ms in this "
            f"process; in services {fmt(data['fresh']['parse_ms_mean'], '.0f')} ms on a fresh "
            f"evaluator (x{data['fresh']['parses']:.0f}), "
            f"{fmt(data['retained']['parse_ms_mean'], '.0f')} ms on a retained one "
            f"(x{data['retained']['parses']:.0f})"
        )
        print(
            f"with data, fresh costs {fmt(r['fresh_extra_per_activity_ms'], ',.0f')} ms more per "
            f"activity than start-up only; {data['fresh']['parses']:.0f} parses of "
            f"{fmt(data['fresh']['parse_ms_mean'], '.0f')} ms, {args.evaluators} at a time, "
            f"would be {fmt(r['fresh_parse_ms_per_activity'], '.0f')} ms per activity: the "
            "difference between the scenarios is the re-parse"
        )
    print()


# -- main -----------------------------------------------------------------------------------------


def one_repeat(
    runtimes: Runtimes, args: argparse.Namespace, data: dict[str, Any] | None, k: int
) -> dict[str, dict[str, dict[str, Any]]]:
    """Both scenarios, each in both modes back to back (which mode first alternates)."""
    order = MODES if k % 2 == 0 else MODES[::-1]
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for scenario in SCENARIOS:
        if scenario == "data" and data is None:
            continue
        out[scenario] = {m: timed_job(runtimes, scenario, m, args.activities, data) for m in order}
    return out


class Workdir:
    """A temporary working directory with ``REEF_HOME`` inside it, removed at the end unless
    ``keep`` was set (a job failed: its logs are there)."""

    def __init__(self) -> None:
        self.path = tempfile.mkdtemp(prefix="reef-bench-reuse-")
        self.keep = False
        self._previous = os.environ.get("REEF_HOME")

    def __enter__(self) -> Workdir:
        os.environ["REEF_HOME"] = os.path.join(self.path, "reef")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is None:
            os.environ.pop("REEF_HOME", None)
        else:
            os.environ["REEF_HOME"] = self._previous
        if self.keep:
            print(f"evaluator_reuse: kept {self.path} (the failed job's logs)", file=sys.stderr)
        else:
            shutil.rmtree(self.path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runtime", choices=("local", "yarn"), default="local")
    parser.add_argument(
        "--yarn-standin",
        action="store_true",
        help="YARN through the test suite's skein stand-in (run from the repository root)",
    )
    parser.add_argument(
        "--yarn-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a variable for YARN containers (e.g. HADOOP_CONF_DIR=<an AM configuration>)",
    )
    parser.add_argument("--activities", type=int, default=40, help="activities per job (N)")
    parser.add_argument("--evaluators", type=int, default=2, help="evaluators at a time (E)")
    parser.add_argument(
        "--rows", type=int, default=150_000, help="rows of the data set (0: no data scenario)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per job")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.activities, args.rows, args.repeats = 12, 30_000, 1
    if args.activities < 1 or args.evaluators < 1 or args.rows < 0 or args.repeats < 1:
        parser.error("--activities, --evaluators and --repeats must be >= 1, --rows >= 0")
    if args.yarn_standin or args.runtime == "yarn":
        import warnings

        # skein 0.8.2 compares grpc versions with distutils' LooseVersion (deprecated)
        warnings.filterwarnings("ignore", message="distutils Version classes are deprecated")
    if args.yarn_standin:
        args.runtime = "yarn"
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        if here not in sys.path:
            sys.path.insert(0, here)  # tests.yarn.standin lives in the repository

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    repeats: list[dict[str, dict[str, dict[str, Any]]]] = []
    error: str | None = None
    with Workdir() as workdir:
        data: dict[str, Any] | None = None
        data_path: str | None = None
        parse_ms_here: float | None = None
        if args.rows:
            data_path, total, seconds = write_data(workdir.path, args.rows)
            data = {"sum": total, "rows": args.rows}
            parse_ms_here = round(seconds * 1000, 1)
        with Runtimes(args, workdir.path, data_path) as runtimes:
            runtime_description = runtimes.describe()
            try:
                print("warm-up (untimed)", file=sys.stderr, flush=True)
                run_job(runtimes, "startup", "fresh", min(2, args.activities), None)
                for k in range(args.repeats):
                    print(f"repeat {k + 1}/{args.repeats}", file=sys.stderr, flush=True)
                    repeats.append(one_repeat(runtimes, args, data, k))
            except BenchmarkError as e:
                error = str(e)
                workdir.keep = True
                print(f"\nevaluator_reuse: {error}", file=sys.stderr)

    line: dict[str, Any] = {
        "benchmark": "evaluator_reuse",
        "reef": reef.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "runtime": runtime_description,
        "parameters": {
            "activities": args.activities,
            "evaluators": args.evaluators,
            "rows": args.rows,
            "repeats": args.repeats,
            "evaluator_memory_mb": EVALUATOR_MEMORY_MB,
            "quick": args.quick,
        },
        "repeats_done": len(repeats),
        "parse_ms_here": parse_ms_here,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if repeats:
        summary = summarize(repeats, args.evaluators)
        extra = {
            "repeats": len(repeats),
            "load": (load_before, os.getloadavg()[0]),
            "parse_ms_here": parse_ms_here,
        }
        print_table(summary, args, runtime_description["kind"], extra)
        line |= summary
    if error is not None:
        line["error"] = error
    print(json.dumps(line))
    return 1 if error is not None else 0


if __name__ == "__main__":
    sys.exit(main())
