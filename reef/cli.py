"""The ``reef`` command.

::

    reef run     SCRIPT_OR_MODULE:DriverClass [--runtime local|yarn] [--set Name=value ...]
                 [--timeout S] [--quiet]
    reef submit  SCRIPT_OR_MODULE:DriverClass [--runtime local|yarn] [--set ...]  (prints the id)
    reef check   SCRIPT_OR_MODULE:DriverClass [--set Name=value ...]
    reef status  JOB_ID
    reef logs    JOB_ID [--evaluator EVALUATOR_ID] [--follow]
    reef profile JOB_ID
    reef kill    JOB_ID
    reef rerun   path/to/job-record.yaml

A target is a script path (``jobs/wordcount.py:WordCount``; loaded without running its
``if __name__ == "__main__":`` block) or a module (``mypkg.jobs:WordCount``). ``--set`` names a
named parameter the driver (or anything it asks for) uses, by class name, short name or
``module:Name``; the value is parsed for the parameter's type.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import signal
import sys
import time
import urllib.request
from collections.abc import Sequence
from typing import Any, TextIO

import yaml
from rich.console import Console
from rich.live import Live
from rich.table import Table

from reef.client import Job, JobResult, JobStatus, driver_configuration, reef_home, submit
from reef.driver._core import PROVIDED, python_path
from reef.driver._declare import Driver
from reef.errors import ClusterError, ConfigurationError, DriverDefinitionError, ReefError
from reef.runtime._api import Runtime
from reef.runtime.local import LocalRuntime
from reef.tang import (
    Configuration,
    NamedParameter,
    ResolveError,
    load_main_script,
    named_parameters_of,
)
from reef.tang._naming import class_path, main_script_of

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_KILLED = 0, 1, 2, 3


class UsageError(ReefError):
    """A command line that cannot work; the message says how to fix it."""


def load_driver(target: str) -> tuple[type[Driver], list[Any]]:
    """The driver class named by ``SCRIPT_OR_MODULE:DriverClass``, and the modules to search for
    named parameters."""
    where, sep, name = target.rpartition(":")
    if not sep or not where or not name:
        raise UsageError(
            f"{target!r} is not a target: write SCRIPT.py:DriverClass or package.module:DriverClass"
        )
    try:
        if where.endswith(".py") or os.path.isfile(where):
            module = load_main_script(where)
        else:
            if os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(where)
    except ResolveError as e:
        raise UsageError(str(e)) from None
    except ImportError as e:
        raise UsageError(f"cannot import {where!r}: {e}") from None
    driver = getattr(module, name, None)
    if not (isinstance(driver, type) and issubclass(driver, Driver)):
        found = sorted(
            k
            for k, v in vars(module).items()
            if isinstance(v, type) and issubclass(v, Driver) and v is not Driver
        )
        hint = f"; drivers there: {found}" if found else ""
        raise UsageError(f"{where} has no reef.Driver subclass named {name!r}{hint}")
    return driver, [module]


def parse_settings(
    driver: type[Driver], modules: Sequence[Any], settings: Sequence[str]
) -> dict[type[NamedParameter[Any]], Any]:
    """``--set Name=value`` pairs as parameters (values still strings: Tang parses them)."""
    known: list[type[NamedParameter[Any]]] = list(named_parameters_of(driver))
    for module in modules:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, NamedParameter)
                and value is not NamedParameter
                and value not in known
            ):
                known.append(value)
    out: dict[type[NamedParameter[Any]], Any] = {}
    for item in settings:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--set {item!r}: write --set Name=value")
        matches = [
            p
            for p in known
            if name in (p.__name__, p.short_name, f"{p.__module__}:{p.__qualname__}")
        ]
        if not matches:
            names = ", ".join(sorted(p.__name__ for p in known)) or "none"
            raise UsageError(f"--set {name}: no such named parameter (known: {names})")
        if len(matches) > 1:
            paths = [f"{p.__module__}:{p.__qualname__}" for p in matches]
            raise UsageError(f"--set {name}: ambiguous, use one of {paths}")
        out[matches[0]] = value
    return out


def _describe_parameters(driver: type[Driver], out: TextIO) -> None:
    for param in named_parameters_of(driver):
        default = f" (default {param.default!r})" if param.has_default() else " (required)"
        doc = param.documentation().splitlines()[0] if param.documentation() else ""
        print(f"  {param.__name__}{default}: {doc}", file=out)


def cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    driver, modules = load_driver(args.target)
    parameters = parse_settings(driver, modules, args.set)
    conf = driver_configuration(driver, parameters)
    print(f"{driver.__qualname__}: configuration OK", file=out)
    print(conf.explain(driver, provided=PROVIDED), file=out)
    print("parameters:", file=out)
    _describe_parameters(driver, out)
    return EXIT_OK


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    driver, modules = load_driver(args.target)
    parameters = parse_settings(driver, modules, args.set)
    return run_job(
        driver,
        parameters=parameters,
        runtime=args.runtime,
        timeout=args.timeout,
        quiet=args.quiet,
        out=out,
        announce=getattr(args, "announce", False),
    )


def run_job(
    driver: type[Driver],
    *,
    runtime: str | Runtime,
    timeout: float | None,
    quiet: bool,
    out: TextIO,
    parameters: dict[type[NamedParameter[Any]], Any] | None = None,
    configuration: Configuration | None = None,
    announce: bool = False,
) -> int:
    """Run a job, showing its progress on a terminal; print its messages and a summary."""
    job = submit(
        driver,
        runtime=runtime,
        parameters=parameters,
        configuration=configuration,
        timeout=timeout,
    )
    if announce:  # `reef submit` reads the id and leaves this process to run the job
        print(job.id, file=out, flush=True)
        out = _detach_output(job.log_dir)
    err = Console(stderr=True)
    try:
        result = job.wait() if quiet or not err.is_terminal else _watch(job, err)
    except KeyboardInterrupt:
        job.kill()
        job.wait()
        raise
    for message in result.messages:
        try:
            text = message.decode()
        except UnicodeDecodeError:
            text = repr(message)
        print(text, file=out)
    if not quiet:
        err.print(progress_table(job.snapshot(), title="summary"))
    print(f"job {result.id}: {result.status.value} (logs: {result.log_dir})", file=sys.stderr)
    if result.error is not None:
        print(f"error: {result.error}", file=sys.stderr)
        if result.error.traceback:
            print(result.error.traceback, file=sys.stderr)
    return {
        JobStatus.SUCCEEDED: EXIT_OK,
        JobStatus.FAILED: EXIT_FAILED,
        JobStatus.KILLED: EXIT_KILLED,
    }.get(result.status, EXIT_FAILED)


def _watch(job: Job, console: Console) -> JobResult:
    with Live(progress_table(job.snapshot()), console=console, refresh_per_second=4) as live:
        while True:
            try:
                result = job.wait(0.25)
            except TimeoutError:
                live.update(progress_table(job.snapshot()))
                continue
            live.update(progress_table(job.snapshot()))
            return result


def progress_table(snapshot: dict[str, Any], title: str = "progress") -> Table:
    """A job's progress as a table: evaluators and activities by state, elapsed time."""
    phases: dict[str, int] = {}
    for evaluator in snapshot["evaluators"]:
        phases[evaluator["phase"]] = phases.get(evaluator["phase"], 0) + 1
    activities = snapshot["activities"]
    table = Table(title=f"job {snapshot['job']} ({title})", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("state", snapshot["state"])
    table.add_row("elapsed", f"{snapshot['elapsed_seconds']:.1f} s")
    table.add_row(
        "evaluators",
        f"{snapshot['outstanding_requests']} requested, "
        f"{phases.get('launching', 0)} launching, "
        f"{phases.get('allocated', 0) + phases.get('running', 0)} running, "
        f"{phases.get('done', 0)} done, {phases.get('failed', 0)} failed",
    )
    table.add_row(
        "activities",
        f"{activities.get('starting', 0)} starting, "
        f"{activities['running']} running, {activities['completed']} completed, "
        f"{activities['failed']} failed, {activities['suspended']} suspended",
    )
    if snapshot.get("error"):
        table.add_row("error", f"{snapshot['error']['type']}: {snapshot['error']['message']}")
    table.add_row("logs", snapshot.get("log_dir", ""))
    return table


def _job_dir(job_id: str) -> str:
    path = os.path.join(reef_home(), "jobs", job_id)
    if not os.path.isdir(path):
        raise UsageError(f"no job {job_id!r} in {os.path.join(reef_home(), 'jobs')}")
    return path


def _status(root: str) -> dict[str, Any] | None:
    try:
        with open(os.path.join(root, "status.json")) as f:
            status: dict[str, Any] = json.load(f)
    except (OSError, ValueError):
        return None
    return status


def _snapshot(root: str, status: dict[str, Any]) -> dict[str, Any] | None:
    """The job's snapshot: from its running driver's status page, else its final one."""
    if status.get("status") == "RUNNING" and status.get("status_url"):
        try:
            with urllib.request.urlopen(status["status_url"] + "api/status", timeout=5) as r:
                live: dict[str, Any] = json.load(r)
                return live
        except (OSError, ValueError):
            pass  # the driver is gone or not answering: fall back to what it left
    try:
        with open(os.path.join(root, "final-status.json"), encoding="utf-8") as f:
            final: dict[str, Any] = json.load(f)
            return final
    except (OSError, ValueError):
        return None


def _on_yarn(job_id: str) -> bool:
    """Whether ``job_id`` names a YARN application (by its id, or as recorded locally)."""
    root = os.path.join(reef_home(), "jobs", job_id)
    status = _status(root) if os.path.isdir(root) else None
    return (status or {}).get("runtime") == "yarn" or job_id.startswith("application_")


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    console = Console(file=out, width=120)
    if _on_yarn(args.job):
        return _status_on_yarn(args.job, console)
    root = _job_dir(args.job)
    status = _status(root) or {"id": args.job, "status": "UNKNOWN"}
    found = _snapshot(root, status)
    if found is None:
        console.print(f"job {args.job}: {status.get('status')} (no snapshot; logs: {root})")
        return EXIT_OK
    _print_snapshot(found, console)
    return EXIT_OK


def _status_on_yarn(job: str, console: Console) -> int:
    from reef.runtime.yarn import application_snapshot  # noqa: PLC0415 - skein for YARN only

    snapshot = application_snapshot(job)
    _print_snapshot(snapshot, console)
    diagnostics = snapshot.get("yarn", {}).get("diagnostics")
    if diagnostics:
        console.print(f"diagnostics: {diagnostics}")
    return EXIT_OK


def _print_snapshot(snapshot: dict[str, Any], console: Console) -> None:
    console.print(progress_table(snapshot, title="status"))
    if not snapshot.get("evaluators"):
        return
    evaluators = Table(title="evaluators")
    for column in ("id", "host", "phase", "contexts", "activity", "uptime s"):
        evaluators.add_column(column)
    for e in snapshot["evaluators"]:
        evaluators.add_row(
            e["id"],
            e["host"],
            e["phase"],
            " > ".join(e["contexts"]),
            e["activity"] or "",
            f"{e['uptime_seconds']:.1f}",
        )
    console.print(evaluators)


def cmd_profile(args: argparse.Namespace, out: TextIO) -> int:
    root = _job_dir(args.job)
    status = _status(root) or {}
    if status.get("status") == "RUNNING" and status.get("status_url"):
        try:
            with urllib.request.urlopen(status["status_url"] + "api/profile", timeout=5) as r:
                out.write(r.read().decode())
                return EXIT_OK
        except OSError:
            pass  # gone meanwhile: show what it left
    path = os.path.join(root, "profile.txt")
    if not os.path.exists(path):
        raise UsageError(f"job {args.job} has no profile yet (its driver did not answer)")
    with open(path, encoding="utf-8") as f:
        out.write(f.read())
    return EXIT_OK


def _log_paths(root: str, evaluator: str | None) -> list[str]:
    folder = os.path.join(root, "evaluators")
    if evaluator:
        path = os.path.join(folder, evaluator, "evaluator.log")
        if not os.path.isdir(os.path.join(folder, evaluator)):
            known = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
            raise UsageError(f"job has no evaluator {evaluator!r} (evaluators: {known})")
        return [path]
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    return [os.path.join(root, "driver.log")] + [
        os.path.join(folder, e, "evaluator.log") for e in names
    ]


def cmd_logs(args: argparse.Namespace, out: TextIO) -> int:
    if _on_yarn(args.job):
        from reef.runtime.yarn import application_logs  # noqa: PLC0415 - skein for YARN only

        logs = application_logs(args.job)
        if not logs:
            raise UsageError(
                f"YARN has no logs of {args.job} (yet): they are aggregated once the "
                "application ends, if the cluster aggregates logs"
            )
        # an evaluator's container is the one whose log shows it registering
        own = re.compile(rf"evaluator {re.escape(args.evaluator or '')} registered with ")
        chosen = {n: t for n, t in logs.items() if not args.evaluator or own.search(t)}
        if not chosen:
            raise UsageError(
                f"no container of {args.job} shows evaluator {args.evaluator!r} registering"
            )
        for name, text in sorted(chosen.items()):
            print(f"==> {name} <==", file=out)
            out.write(text if text.endswith("\n") else text + "\n")
        return EXIT_OK
    root = _job_dir(args.job)
    offsets: dict[str, int] = {}
    while True:
        for path in _log_paths(root, args.evaluator):
            if not os.path.exists(path):
                continue
            with open(path, errors="replace") as f:
                f.seek(offsets.get(path, 0))
                text = f.read()
                offsets[path] = f.tell()
            if text:
                if not args.follow or len(offsets) > 1:
                    print(f"==> {path} <==", file=out)
                out.write(text)
                out.flush()
        if not args.follow or (_status(root) or {}).get("status") != "RUNNING":
            return EXIT_OK
        time.sleep(0.2)  # following files: there is nothing to wait on but time


def cmd_submit(args: argparse.Namespace, out: TextIO) -> int:
    """Start a job and return at once, printing its id."""
    driver, modules = load_driver(args.target)
    parameters = parse_settings(driver, modules, args.set)
    conf = driver_configuration(driver, parameters)  # problems are reported here, not later
    if args.runtime == "yarn":
        from reef.runtime.yarn import YarnRuntime  # noqa: PLC0415 - skein for YARN only

        jobs_root = os.path.join(reef_home(), "jobs")
        os.makedirs(jobs_root, mode=0o700, exist_ok=True)
        app_id, _ = YarnRuntime().submit_detached(
            class_path(driver),
            main_script_of(driver),
            conf.to_yaml(),
            jobs_root,
            args.timeout,
            python_path(),
        )
        print(app_id, file=out)
        return EXIT_OK
    # the local runtime runs the driver in its client: a detached `reef run` keeps it alive
    command = [sys.executable, "-m", "reef", "run", args.target, "--quiet", "--announce"]
    command += [f"--set={item}" for item in args.set]
    if args.timeout is not None:
        command += ["--timeout", str(args.timeout)]
    job_id, complaint = _spawn_announcing(command)
    if not job_id:
        raise UsageError(f"the job did not start: {complaint or 'no reason given'}")
    print(job_id, file=out)
    return EXIT_OK


def _spawn_announcing(command: list[str]) -> tuple[str, str]:
    """Start ``command`` in a session of its own; ``(the first line it prints, what it said
    on stderr if that line is empty)``. Not a Popen: the process is meant to outlive us."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        os.posix_spawn(
            command[0],
            command,
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out_w, 1),
                (os.POSIX_SPAWN_DUP2, err_w, 2),
                (os.POSIX_SPAWN_CLOSE, out_r),
                (os.POSIX_SPAWN_CLOSE, err_r),
            ],
            setsid=True,
        )
    finally:
        os.close(out_w)
        os.close(err_w)
    with open(out_r, encoding="utf-8") as stdout, open(err_r, encoding="utf-8") as stderr:
        first = stdout.readline().strip()
        return first, ("" if first else stderr.read().strip())


def _detach_output(root: str) -> TextIO:
    """For a job ``reef submit`` started: once its id is out, what it prints goes to
    ``output.txt`` in its directory (nobody reads the pipe it was started with any more)."""
    output = open(os.path.join(root, "output.txt"), "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - the process's output until it exits
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(output.fileno(), 1)
    os.dup2(output.fileno(), 2)
    return output


def cmd_rerun(args: argparse.Namespace, out: TextIO) -> int:
    try:
        with open(args.record, encoding="utf-8") as f:
            record = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise UsageError(f"cannot read the job record {args.record!r}: {e}") from None
    if not isinstance(record, dict) or record.get("reef.job-record") != 1:
        raise UsageError(f"{args.record!r} is not a job record written by reef")
    driver_info = record.get("driver") or {}
    if not driver_info.get("class"):
        why = driver_info.get("why_not_rerunnable", "it names no driver class")
        raise UsageError(f"the job in {args.record!r} cannot be run again: {why}")
    _, _, name = driver_info["class"].partition(":")
    target = (
        f"{driver_info['script']}:{name}" if driver_info.get("script") else driver_info["class"]
    )
    driver, _ = load_driver(target)
    configuration = Configuration.from_yaml(record.get("configuration") or "reef.tang: 1\n")
    runtime = _runtime_from(record.get("runtime") or {})
    return run_job(
        driver,
        configuration=configuration,
        runtime=runtime,
        timeout=args.timeout,
        quiet=args.quiet,
        out=out,
    )


def _runtime_from(description: dict[str, Any]) -> str | Runtime:
    name = description.get("name", "local")
    if name == "yarn":
        from reef.runtime.yarn import YarnRuntime  # noqa: PLC0415 - skein for YARN only

        return YarnRuntime(**YarnRuntime.settings_from(description))
    if name != "local":
        return str(name)
    settings = {
        key: description[key]
        for key in ("max_evaluators", "default_memory_mb", "default_cores", "kill_grace")
        if key in description
    }
    return LocalRuntime(**settings)


def cmd_kill(args: argparse.Namespace, out: TextIO) -> int:
    if _on_yarn(args.job):
        from reef.runtime.yarn import kill_application  # noqa: PLC0415 - skein for YARN only

        kill_application(args.job)
        print(f"job {args.job}: killed on YARN", file=out)
        return EXIT_OK
    status = _status(_job_dir(args.job))
    if status is None:
        raise UsageError(f"job {args.job} has no status to act on")
    if status.get("status") != "RUNNING" or not status.get("pid"):
        print(f"job {args.job} is not running ({status.get('status')})", file=out)
        return EXIT_OK
    try:
        os.kill(int(status["pid"]), signal.SIGINT)  # the client kills its job, as on Ctrl-C
    except ProcessLookupError:
        print(f"job {args.job}: its client process is gone", file=out)
        return EXIT_OK
    print(f"job {args.job}: kill requested", file=out)
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="reef", description="Run and inspect reef jobs.")
    sub = p.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="run a job to its end")
    run_p.add_argument("target", help="SCRIPT_OR_MODULE:DriverClass")
    run_p.add_argument("--runtime", default="local", choices=["local", "yarn"])
    run_p.add_argument("--set", action="append", default=[], metavar="Name=value")
    run_p.add_argument("--timeout", type=float, default=None, help="kill the job after S seconds")
    run_p.add_argument("--quiet", action="store_true", help="no progress display, no summary")
    run_p.add_argument("--announce", action="store_true", help=argparse.SUPPRESS)
    run_p.set_defaults(func=cmd_run)
    submit_p = sub.add_parser("submit", help="start a job, print its id and return")
    submit_p.add_argument("target", help="SCRIPT_OR_MODULE:DriverClass")
    submit_p.add_argument("--runtime", default="local", choices=["local", "yarn"])
    submit_p.add_argument("--set", action="append", default=[], metavar="Name=value")
    submit_p.add_argument("--timeout", type=float, default=None)
    submit_p.set_defaults(func=cmd_submit)
    rerun_p = sub.add_parser("rerun", help="run a recorded job again (from its job-record.yaml)")
    rerun_p.add_argument("record", help="a job-record.yaml")
    rerun_p.add_argument("--timeout", type=float, default=None)
    rerun_p.add_argument("--quiet", action="store_true")
    rerun_p.set_defaults(func=cmd_rerun)
    check_p = sub.add_parser("check", help="check a driver's configuration, start nothing")
    check_p.add_argument("target", help="SCRIPT_OR_MODULE:DriverClass")
    check_p.add_argument("--set", action="append", default=[], metavar="Name=value")
    check_p.set_defaults(func=cmd_check)
    status_p = sub.add_parser("status", help="the state of a job")
    status_p.add_argument("job")
    status_p.set_defaults(func=cmd_status)
    logs_p = sub.add_parser("logs", help="a job's logs")
    logs_p.add_argument("job")
    logs_p.add_argument("--evaluator", default=None)
    logs_p.add_argument("--follow", "-f", action="store_true", help="until the job ends")
    logs_p.set_defaults(func=cmd_logs)
    profile_p = sub.add_parser("profile", help="the Wake stage report of a job")
    profile_p.add_argument("job")
    profile_p.set_defaults(func=cmd_profile)
    kill_p = sub.add_parser("kill", help="kill a running job")
    kill_p.add_argument("job")
    kill_p.set_defaults(func=cmd_kill)
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the ``reef`` command; its exit code."""
    args = parser().parse_args(argv)
    stream = out if out is not None else sys.stdout
    try:
        code: int = args.func(args, stream)
    except UsageError as e:
        print(f"reef: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (ConfigurationError, DriverDefinitionError, ClusterError) as e:
        print(f"reef: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("reef: interrupted; the job was killed", file=sys.stderr)
        return EXIT_KILLED
    return code


if __name__ == "__main__":
    sys.exit(main())
