"""The ``reef`` command.

::

    reef run   SCRIPT_OR_MODULE:DriverClass [--runtime local] [--set Name=value ...] [--timeout S]
    reef check SCRIPT_OR_MODULE:DriverClass [--set Name=value ...]
    reef status JOB_ID
    reef logs   JOB_ID [--evaluator EVALUATOR_ID]
    reef kill   JOB_ID

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
import signal
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from reef.client import JobStatus, reef_home, run
from reef.driver._core import PROVIDED
from reef.driver._declare import Driver
from reef.errors import ConfigurationError, DriverDefinitionError, ReefError
from reef.tang import (
    Configuration,
    NamedParameter,
    ResolveError,
    load_main_script,
    named_parameters_of,
)

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
    conf = Configuration(parameters=parameters)
    conf.check(driver, provided=PROVIDED)
    print(f"{driver.__qualname__}: configuration OK", file=out)
    print(conf.explain(driver, provided=PROVIDED), file=out)
    print("parameters:", file=out)
    _describe_parameters(driver, out)
    return EXIT_OK


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    driver, modules = load_driver(args.target)
    parameters = parse_settings(driver, modules, args.set)
    result = run(driver, runtime=args.runtime, parameters=parameters, timeout=args.timeout)
    for message in result.messages:
        try:
            text = message.decode()
        except UnicodeDecodeError:
            text = repr(message)
        print(text, file=out)
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


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    root = _job_dir(args.job)
    status = _status(root) or {"id": args.job, "status": "UNKNOWN"}
    evaluators = sorted(os.listdir(os.path.join(root, "evaluators")))
    print(f"job        {status.get('id', args.job)}", file=out)
    print(f"status     {status.get('status')}", file=out)
    if "error" in status:
        print(
            f"error      {status['error'].get('type')}: {status['error'].get('message')}", file=out
        )
    print(f"evaluators {len(evaluators)}", file=out)
    print(f"logs       {root}", file=out)
    return EXIT_OK


def cmd_logs(args: argparse.Namespace, out: TextIO) -> int:
    root = _job_dir(args.job)
    if args.evaluator:
        paths = [os.path.join(root, "evaluators", args.evaluator, "evaluator.log")]
    else:
        folder = os.path.join(root, "evaluators")
        paths = [os.path.join(root, "driver.log")] + [
            os.path.join(folder, e, "evaluator.log") for e in sorted(os.listdir(folder))
        ]
    for path in paths:
        if not os.path.exists(path):
            raise UsageError(f"no log at {path}")
        print(f"==> {path} <==", file=out)
        with open(path, errors="replace") as f:
            out.write(f.read())
    return EXIT_OK


def cmd_kill(args: argparse.Namespace, out: TextIO) -> int:
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
    run_p.set_defaults(func=cmd_run)
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
    logs_p.set_defaults(func=cmd_logs)
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
    except (ConfigurationError, DriverDefinitionError) as e:
        print(f"reef: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("reef: interrupted; the job was killed", file=sys.stderr)
        return EXIT_KILLED
    return code


if __name__ == "__main__":
    sys.exit(main())
