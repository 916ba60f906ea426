"""The client: ``reef.run`` and ``reef.submit`` start a job and watch it.

Before anything starts, the driver class and its configuration are checked statically: a
configuration problem raises ``ConfigurationError`` and no process is started. On the local
runtime the driver runs in this process (on its own threads) and evaluators are child processes;
the job's files (logs, credentials, evaluator directories) live in ``$REEF_HOME/jobs/<job id>``
(``REEF_HOME`` defaults to ``~/.reef``).
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import secrets
import threading
from collections.abc import Mapping
from typing import Any

from reef.common._job import RECORD_FILE, JobBackend, JobResult, JobStatus
from reef.common._wire import local_error
from reef.driver._core import PROVIDED, DriverCore, python_path
from reef.driver._declare import Driver
from reef.driver._record import write_record
from reef.errors import ConfigurationError, Problem
from reef.runtime._api import JobPaths, Runtime
from reef.runtime.local import LocalRuntime
from reef.tang import Configuration, NamedParameter
from reef.tang._bindings import check_parameters
from reef.tang._naming import class_path, main_script_of

__all__ = ["Job", "JobResult", "JobStatus", "reef_home", "run", "submit"]

_log = logging.getLogger("reef.client")


def reef_home() -> str:
    """Where reef keeps jobs: ``$REEF_HOME``, else ``~/.reef``."""
    return os.environ.get("REEF_HOME") or os.path.join(os.path.expanduser("~"), ".reef")


def _new_job_id(driver: type) -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{driver.__name__.lower()}-{stamp}-{secrets.token_hex(3)}"


class Job:
    """A running (or finished) job: ``status()``, ``wait()``, ``send(data)``, ``kill()``."""

    def __init__(self, backend: JobBackend) -> None:
        self._backend = backend
        self.id = backend.id
        self.log_dir = backend.log_dir

    def status(self) -> JobStatus:
        """``RUNNING`` until the job has ended, then how it ended."""
        return self._backend.status()

    def wait(self, timeout: float | None = None) -> JobResult:
        """Block until the job ends (``TimeoutError`` after ``timeout`` seconds, the job going
        on)."""
        result = self._backend.wait(timeout)
        if result is None:
            raise TimeoutError(f"job {self.id} is still running after {timeout} s")
        return result

    def send(self, data: bytes) -> None:
        """A message for the driver's ``ClientMessage`` handler."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"send() takes bytes, got {type(data).__name__}")
        self._backend.send(bytes(data))

    def kill(self) -> None:
        """End the job now: every evaluator is killed; the status becomes ``KILLED``."""
        self._backend.kill()

    @property
    def messages(self) -> list[bytes]:
        """The driver's messages so far."""
        return self._backend.messages()

    def snapshot(self) -> dict[str, Any]:
        """The job as its status page shows it: evaluators, activities, Wake stages."""
        return self._backend.snapshot()

    @property
    def status_url(self) -> str:
        """The address of the job's status page ('' when it has none)."""
        return self._backend.status_url

    def __repr__(self) -> str:
        return f"<reef.Job {self.id} {self.status().value}>"


class LocalJob:
    """A job whose driver runs in this process (the local runtime)."""

    def __init__(self, core: DriverCore, timeout: float | None) -> None:
        self._core = core
        self._timeout = timeout
        self.id = core.job_id
        self.log_dir = core.paths.root
        self._result: JobResult | None = None
        self._ended = threading.Event()
        self._handler = _job_log_handler(core.paths.root)
        self._thread: threading.Thread | None = None
        try:
            core.start()  # queues StartTime before anything the client may send
            _write_status(
                core.paths.root,
                {
                    "id": self.id,
                    "status": "RUNNING",
                    "runtime": core.runtime.name,
                    "pid": os.getpid(),
                    "status_url": core.status_url,
                },
            )
            self._thread = threading.Thread(target=self._run, name=f"reef-job-{self.id}")
            self._thread.start()
        except BaseException:  # a Ctrl-C or an error while starting: nothing is left running
            core.kill("interrupted while starting")
            if self._thread is not None and self._thread.ident is not None:
                self._ended.wait()  # the job's thread releases everything
            else:
                core.shutdown()
                outcome = core.outcome
                ended = JobResult(outcome.state, outcome.error, [], self.id, self.log_dir)
                _write_status(core.paths.root, {**_status_document(ended), "pid": os.getpid()})
                logging.getLogger("reef").removeHandler(self._handler)
                self._handler.close()
            raise

    def _run(self) -> None:
        core = self._core
        try:
            if not core.done.wait(self._timeout):
                core.kill(f"timed out after {self._timeout:g} s")
            core.done.wait()
        except BaseException as e:  # whatever happens, the job ends and says why
            core.fail(local_error(e))
        finally:
            try:
                core.shutdown()
                _write_final_files(core)
            finally:
                outcome = core.outcome
                self._result = JobResult(
                    outcome.state,
                    outcome.error,
                    list(outcome.messages),
                    self.id,
                    self.log_dir,
                )
                _write_status(
                    core.paths.root, {**_status_document(self._result), "pid": os.getpid()}
                )
                logging.getLogger("reef").removeHandler(self._handler)
                self._handler.close()
                self._ended.set()

    def status(self) -> JobStatus:
        result = self._result
        return self._core.outcome.state if result is None else result.status

    def wait(self, timeout: float | None) -> JobResult | None:
        # An Event, not Thread.join: a Ctrl-C that interrupts join() can leave the thread
        # looking finished while it still runs (CPython 3.11).
        if not self._ended.wait(timeout):
            return None
        if self._thread is not None:
            self._thread.join()
        return self._result

    def send(self, data: bytes) -> None:
        self._core.client_message(data)

    def kill(self) -> None:
        self._core.kill("killed by the client")

    def messages(self) -> list[bytes]:
        return list(self._core.outcome.messages)

    def snapshot(self) -> dict[str, Any]:
        return self._core.snapshot()

    @property
    def status_url(self) -> str:
        return self._core.status_url


def _job_log_handler(root: str) -> logging.Handler:
    handler = logging.FileHandler(os.path.join(root, "driver.log"))
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    )
    logger = logging.getLogger("reef")
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return handler


def _write_final_files(core: DriverCore) -> None:
    """What ``reef status``, ``reef profile`` and ``reef rerun`` read once a job has ended."""
    root = core.paths.root
    try:
        with open(os.path.join(root, "final-status.json"), "w", encoding="utf-8") as f:
            json.dump(core.snapshot(), f, indent=1)
        with open(os.path.join(root, "profile.txt"), "w", encoding="utf-8") as f:
            f.write(core.registry.text_report())
        write_record(core, os.path.join(root, RECORD_FILE))
    except OSError as e:
        _log.warning("cannot write the final files of job %s: %s", core.job_id, e)


def _status_document(result: JobResult) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": result.id, "status": result.status.value}
    if result.error is not None:
        doc["error"] = {"type": result.error.type_name, "message": result.error.message}
    return doc


def _write_status(root: str, doc: dict[str, Any]) -> None:
    """``status.json`` in the job's directory: what ``reef status`` and ``reef kill`` read."""
    path = os.path.join(root, "status.json")
    try:
        with open(path + ".new", "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(path + ".new", path)
    except OSError as e:
        _log.warning("cannot record the status of job %s: %s", doc.get("id"), e)


def _resolve_runtime(runtime: str | Runtime) -> Runtime:
    if isinstance(runtime, Runtime):
        return runtime
    if runtime == "local":
        return LocalRuntime()
    if runtime == "yarn":
        from reef.runtime.yarn import YarnRuntime  # noqa: PLC0415 - only YARN users need skein

        return YarnRuntime()
    raise ValueError(f"runtime={runtime!r}: use 'local', 'yarn' or a reef.runtime object")


def driver_configuration(
    driver: type[Driver],
    parameters: Mapping[type[NamedParameter[Any]], Any] | None = None,
    configuration: Configuration | None = None,
) -> Configuration:
    """The driver's configuration, checked: every problem of the values given *and* of the
    driver's injection plan is reported in one ``ConfigurationError``."""
    extra: object = configuration
    if extra is not None and not isinstance(extra, Configuration):
        kind = type(extra).__name__
        raise TypeError(f"configuration= takes a reef.tang.Configuration, got {kind}")
    problems: list[Problem] = []
    valid = check_parameters(parameters or {}, problems)
    conf = Configuration(parameters=valid)
    if configuration is not None:
        conf = conf.merge(configuration)
    existing = dict.fromkeys(PROVIDED, "provided")
    # a parameter given with a bad value is reported once, not again as missing
    existing.update(dict.fromkeys(set(parameters or {}) - set(valid), "given"))
    problems.extend(conf.plan_result(driver, existing).problems)
    if problems:
        raise ConfigurationError.of(problems)
    return conf


def submit(
    driver: type[Driver],
    *,
    runtime: str | Runtime = "local",
    parameters: Mapping[type[NamedParameter[Any]], Any] | None = None,
    configuration: Configuration | None = None,
    timeout: float | None = None,
) -> Job:
    """Start a job and return at once. Configuration problems raise ``ConfigurationError``
    before any process starts."""
    if not (isinstance(driver, type) and issubclass(driver, Driver)):
        raise TypeError(f"submit() takes a reef.Driver subclass, got {driver!r}")
    if timeout is not None and not (
        isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0
    ):
        raise ValueError(f"timeout={timeout!r} must be a number of seconds > 0, or None")
    conf = driver_configuration(driver, parameters, configuration)
    chosen = _resolve_runtime(runtime)
    if chosen.remote_driver:
        return Job(_submit_remote(chosen, driver, conf, timeout))
    job_id = _new_job_id(driver)
    root = os.path.join(reef_home(), "jobs", job_id)
    os.makedirs(root, mode=0o700)
    paths = JobPaths(job_id, root, os.path.join(root, "evaluators"))
    os.makedirs(paths.evaluators, mode=0o700)
    core = DriverCore(driver, conf, chosen, paths)
    return Job(LocalJob(core, timeout))


def _submit_remote(
    runtime: Runtime, driver: type[Driver], conf: Configuration, timeout: float | None
) -> JobBackend:
    """Send a job to a runtime that runs its driver in the cluster."""
    try:
        driver_path = class_path(driver)
        script = main_script_of(driver)
    except ValueError as e:
        raise ValueError(f"{driver.__qualname__} cannot run in a cluster: {e}") from None
    jobs_root = os.path.join(reef_home(), "jobs")
    os.makedirs(jobs_root, mode=0o700, exist_ok=True)
    submit_job = getattr(runtime, "submit_job")  # noqa: B009 - runtimes with remote drivers
    backend: JobBackend = submit_job(
        driver_path, script, conf.to_yaml(), jobs_root, timeout, python_path()
    )
    return backend


def run(
    driver: type[Driver],
    *,
    runtime: str | Runtime = "local",
    parameters: Mapping[type[NamedParameter[Any]], Any] | None = None,
    configuration: Configuration | None = None,
    timeout: float | None = None,
) -> JobResult:
    """Run a job to its end and return its result (after ``timeout`` seconds, if given, the job
    is killed and its status is ``KILLED``). Ctrl-C kills the job, then re-raises."""
    job: Job | None = None
    try:  # a Ctrl-C that comes while the job is being started kills it too
        job = submit(
            driver,
            runtime=runtime,
            parameters=parameters,
            configuration=configuration,
            timeout=timeout,
        )
        return job.wait()
    except KeyboardInterrupt:
        if job is not None:
            job.kill()
            job.wait()
        raise
