"""The YARN runtime, through skein: the only module of reef that imports ``skein``.

- **Submission** (the client, ``reef.run(Driver, runtime=YarnRuntime(...))``): one skein
  application. Its master script runs the driver (``python -m reef.runtime.yarn master``) in
  the application master's container; one ``instances=0`` service per evaluator size class (and
  per named Python environment) is where evaluators are added. The user's main script and
  declared files are localized into every container; the Python environment is a packed
  archive (venv-pack, conda-pack: unpacked by YARN) or the path of a Python on every node.
- **In the application master** (``YarnMasterRuntime``): each evaluator is
  ``add_container(service, env=...)``, its bootstrap and credentials passed in its environment
  (to this job's containers only). A key owned by the container (``reef/alive/<evaluator>``)
  disappears when the container ends, for any reason: that is how exits are seen at once (a
  slow poll catches anything missed). A RUNNING container is not a running evaluator: evaluators
  announce themselves over the control plane, as on every runtime.
- **Between client and driver**: skein's key-value store carries the driver's messages
  (``reef/messages/*``), the client's (``reef/to-driver/*``), a status snapshot every second
  (``reef/snapshot``) and the outcome (``reef/outcome``); the application's final status and
  diagnostics follow the job's.

This module also holds the application master's entry point, which runs the driver core: the one
place where a runtime reaches into ``reef.driver``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import shlex
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import skein

from reef.common._bootstrap import FILES_KEY_VARIABLE, BootstrapError, encode_files
from reef.common._identity import node_address
from reef.common._job import RECORD_FILE, JobResult, JobStatus
from reef.errors import ClusterError, RemoteError
from reef.runtime._api import (
    ContainerExit,
    ExitKind,
    JobPaths,
    Placement,
    ResourceRequest,
    Runtime,
    RuntimeHost,
)

_log = logging.getLogger("reef.runtime.yarn")

JOB_FILE = "reef-job.json"
ENVIRONMENT_DIR = "environment"
ALIVE, MESSAGES, TO_DRIVER = "reef/alive/", "reef/messages/", "reef/to-driver/"
FILES = "reef/files/"  # an evaluator's bootstrap and credentials, until it has read them
SNAPSHOT, OUTCOME, OUTCOME_ACK, CLIENT = (
    "reef/snapshot",
    "reef/outcome",
    "reef/outcome-ack",
    "reef/client",
)
RECORD, PROFILE = "reef/record", "reef/profile"  # job-record.yaml and the Wake report, at the end
_ARCHIVES = (".tar.gz", ".tgz", ".tar", ".zip")
_POLL = 5.0  # seconds between sweeps for container ends the key-value events missed


# ---------------------------------------------------------------------------------------------
# what the job asks of YARN (pure: unit-tested without a cluster)


@dataclass(frozen=True, slots=True)
class SizeClass:
    """One size of evaluator container: a skein service is declared for it at submission."""

    memory_mb: int
    cores: int

    @property
    def name(self) -> str:
        """The size's part of a service name."""
        return f"{self.memory_mb}m-{self.cores}c"


@dataclass(frozen=True, slots=True)
class PythonEnvironment:
    """Where evaluators (or the driver) find Python: a packed archive shipped with the job and
    unpacked by YARN, or the path of an interpreter that exists on every node."""

    source: str

    @property
    def archive(self) -> bool:
        """Whether the source is an archive to localize."""
        return self.source.endswith(_ARCHIVES)

    def python(self, directory: str) -> str:
        """The interpreter inside a container (``directory`` is where an archive unpacks)."""
        return f"{directory}/bin/python" if self.archive else self.source


def smallest_fit(sizes: Sequence[SizeClass], memory_mb: int, cores: int) -> SizeClass | None:
    """The smallest size class with at least ``memory_mb`` and ``cores``."""
    fits = [s for s in sizes if s.memory_mb >= memory_mb and s.cores >= cores]
    return min(fits, key=lambda s: (s.memory_mb, s.cores)) if fits else None


def service_name(size: SizeClass, environment: str | None) -> str:
    """The skein service of evaluators of one size (and named environment)."""
    return f"evaluator-{size.name}" + (f"-{environment}" if environment else "")


def _sizes(given: Iterable[tuple[int, int] | SizeClass]) -> tuple[SizeClass, ...]:
    sizes = []
    for item in given:
        size = item if isinstance(item, SizeClass) else SizeClass(*item)
        if size.memory_mb < 1 or size.cores < 1:
            raise ValueError(f"evaluator size {size} needs memory_mb >= 1 and cores >= 1")
        sizes.append(size)
    if not sizes:
        raise ValueError("evaluator_sizes must name at least one (memory_mb, cores) size")
    return tuple(sorted(set(sizes), key=lambda s: (s.memory_mb, s.cores)))


# ---------------------------------------------------------------------------------------------
# the runtime object: settings on the client, a Runtime in the application master


class YarnRuntime(Runtime):
    """Runs a job on YARN: the driver as the application master, evaluators as containers.

    ``evaluator_sizes`` lists the container sizes ``(memory_mb, cores)`` evaluators come in
    (skein fixes resources per service at submission); a request gets the smallest size that
    fits. ``environment`` is a packed Python environment (``.tar.gz``/``.zip`` from venv-pack or
    conda-pack) or the path of a Python on every node (default: this interpreter's path, right
    when every node has the same installation); ``environments`` names more of them, for
    ``EvaluatorRequest(environment="name")``. ``files`` maps names to local paths shipped into
    every container. ``env`` adds environment variables to every container. ``client`` is a
    ``skein.Client``; by default reef connects to skein's global driver if one runs
    (``skein driver start``), else starts a driver (which needs Java and ``HADOOP_CONF_DIR``).
    """

    name = "yarn"

    def __init__(  # noqa: PLR0917 - the public signature of the API
        self,
        queue: str = "default",
        name: str | None = None,
        environment: str | None = None,
        driver_memory_mb: int = 1024,
        driver_cores: int = 1,
        evaluator_sizes: Iterable[tuple[int, int] | SizeClass] = ((1024, 1), (4096, 2)),
        node_label: str | None = None,
        max_attempts: int = 1,
        files: Mapping[str, str] | None = None,
        *,
        environments: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        client: Any = None,
    ) -> None:
        if driver_memory_mb < 1 or driver_cores < 1:
            raise ValueError("driver_memory_mb and driver_cores must be >= 1")
        if max_attempts < 1:
            raise ValueError(f"max_attempts={max_attempts!r} must be >= 1")
        self.queue = queue
        self.app_name = name
        self.environment = PythonEnvironment(environment or sys.executable)
        self.driver_memory_mb = driver_memory_mb
        self.driver_cores = driver_cores
        self.sizes = _sizes(evaluator_sizes)
        self.node_label = node_label or ""
        self.max_attempts = max_attempts
        self.files = dict(files or {})
        for dest, source in self.files.items():
            if not os.path.exists(source):
                raise ValueError(f"files[{dest!r}] = {source!r}: no such file")
        self.environments = {k: PythonEnvironment(v) for k, v in (environments or {}).items()}
        for key in self.environments:
            if not key.replace("-", "").isalnum():
                raise ValueError(f"environment name {key!r}: use letters, digits and '-'")
        self.env = dict(env or {})
        self._client = client

    @property
    def remote_driver(self) -> bool:
        """The driver runs in the application master, not in the client."""
        return True

    def describe(self) -> Mapping[str, object]:
        return {
            "name": self.name,
            "queue": self.queue,
            "environment": self.environment.source,
            "environments": ",".join(f"{k}={v.source}" for k, v in self.environments.items()),
            "driver_memory_mb": self.driver_memory_mb,
            "driver_cores": self.driver_cores,
            "evaluator_sizes": ",".join(f"{s.memory_mb}x{s.cores}" for s in self.sizes),
            "node_label": self.node_label,
            "max_attempts": self.max_attempts,
        }

    @staticmethod
    def settings_from(description: Mapping[str, Any]) -> dict[str, Any]:
        """The constructor's arguments that ``describe`` recorded (``reef rerun``)."""
        settings: dict[str, Any] = {
            key: description[key]
            for key in ("queue", "environment", "driver_memory_mb", "driver_cores", "max_attempts")
            if key in description
        }
        if description.get("node_label"):
            settings["node_label"] = description["node_label"]
        if description.get("evaluator_sizes"):
            settings["evaluator_sizes"] = [
                tuple(int(n) for n in size.split("x"))
                for size in str(description["evaluator_sizes"]).split(",")
            ]
        if description.get("environments"):
            settings["environments"] = dict(
                item.split("=", 1) for item in str(description["environments"]).split(",")
            )
        return settings

    def client(self) -> Any:
        """The skein client to submit with."""
        if self._client is None:
            self._client = default_client()
        return self._client

    # The Runtime methods are served by YarnMasterRuntime, in the application master.
    def start(self, host: RuntimeHost, paths: JobPaths) -> None:
        raise TypeError("a YarnRuntime submits jobs; its evaluators are started by the driver")

    def check(self, request: ResourceRequest) -> None:
        check_request(self.sizes, self.environments, request)

    def request(self, request: ResourceRequest) -> None:
        raise TypeError("a YarnRuntime submits jobs; its evaluators are started by the driver")

    def kill(self, evaluator_id: str) -> None:
        raise TypeError("a YarnRuntime submits jobs; its evaluators are started by the driver")

    def stop(self) -> None:
        """Nothing to release on the client's side."""

    # -- submission ---------------------------------------------------------------------------

    def submit_job(  # noqa: PLR0917 - called positionally by reef.client only
        self,
        driver: str,
        script: str | None,
        configuration_yaml: str,
        jobs_root: str,
        timeout: float | None,
        python_path: Sequence[str] = (),
    ) -> YarnJob:
        """Submit a job (the driver class ``driver``, ``module:qualname``, with its
        configuration); its handle. The driver starts in the application master."""
        app_id, workdir = self.submit_detached(
            driver, script, configuration_yaml, jobs_root, timeout, python_path
        )
        return YarnJob(self.client(), app_id, workdir, timeout)

    def submit_detached(  # noqa: PLR0917 - the arguments of submit_job
        self,
        driver: str,
        script: str | None,
        configuration_yaml: str,
        jobs_root: str,
        timeout: float | None,
        python_path: Sequence[str] = (),
    ) -> tuple[str, str]:
        """Submit a job and watch nothing: ``(application id, the job's local directory)``."""
        # kept: skein may read the files it localizes after submission (the real one uploads
        # them at once; others later)
        staging = tempfile.mkdtemp(prefix=".submitted-", dir=jobs_root)
        job_file = os.path.join(staging, JOB_FILE)
        job = {
            "driver": driver,
            "script": script,
            "configuration": configuration_yaml,
            "timeout": timeout,
            "runtime": {
                "sizes": [[s.memory_mb, s.cores] for s in self.sizes],
                "environments": {k: v.source for k, v in self.environments.items()},
                "description": dict(self.describe()),
            },
        }
        with open(job_file, "w", encoding="utf-8") as f:
            json.dump(job, f, indent=1)
        spec = self.specification(job_file, script, python_path, driver=driver)
        client = self.client()
        app_id = client.submit(spec)
        workdir = os.path.join(jobs_root, app_id)
        os.makedirs(workdir, mode=0o700, exist_ok=True)
        shutil.copy(job_file, os.path.join(workdir, JOB_FILE))
        with open(os.path.join(workdir, "status.json"), "w", encoding="utf-8") as f:
            json.dump({"id": app_id, "status": "RUNNING", "runtime": "yarn"}, f)
        _log.info("submitted %s as YARN application %s", driver, app_id)
        return app_id, workdir

    def specification(
        self,
        job_file: str,
        script: str | None,
        python_path: Sequence[str] = (),
        *,
        driver: str = "",
    ) -> Any:
        """The skein application for a job (of the driver class ``driver``, ``module:qualname``)."""
        files: dict[str, Any] = {JOB_FILE: skein.File(source=job_file, type="file")}
        if script:
            files[os.path.basename(script)] = skein.File(source=script, type="file")
        for dest, source in self.files.items():
            files[dest] = skein.File(source=os.path.abspath(source))
        env = {"PYTHONUNBUFFERED": "1", **self.env}
        if python_path:
            # the client's own code directories: right on a cluster with shared home
            # directories (and on one machine); elsewhere ship code with files= or the env
            existing = self.env.get("PYTHONPATH") or os.environ.get("PYTHONPATH", "")
            env["PYTHONPATH"] = os.pathsep.join([*python_path, *filter(None, [existing])])
        master_files = dict(files)
        if self.environment.archive:
            master_files[ENVIRONMENT_DIR] = skein.File(
                source=os.path.abspath(self.environment.source), type="archive"
            )
        python = shlex.quote(self.environment.python(ENVIRONMENT_DIR))
        master = skein.Master(
            resources=skein.Resources(memory=self.driver_memory_mb, vcores=self.driver_cores),
            script=f"exec {python} -m reef.runtime.yarn master {JOB_FILE}",
            files=master_files,
            env=env,
        )
        services = {}
        choices: list[tuple[str | None, PythonEnvironment]] = [(None, self.environment)]
        choices += list(self.environments.items())
        for env_name, environment in choices:
            service_files = dict(files)
            if environment.archive:
                service_files[ENVIRONMENT_DIR] = skein.File(
                    source=os.path.abspath(environment.source), type="archive"
                )
            evaluator_python = shlex.quote(environment.python(ENVIRONMENT_DIR))
            for size in self.sizes:
                services[service_name(size, env_name)] = skein.Service(
                    resources=skein.Resources(memory=size.memory_mb, vcores=size.cores),
                    script=f"exec {evaluator_python} -m reef.evaluator --from-skein",
                    instances=0,
                    files=service_files,
                    env=env,
                    max_restarts=0,
                    allow_failures=True,  # a lost evaluator is the driver's to handle
                    node_label=self.node_label,
                )
        return skein.ApplicationSpec(
            name=self.app_name or f"reef-{driver.rpartition(':')[2] or 'job'}",
            queue=self.queue,
            master=master,
            services=services,
            node_label=self.node_label,
            max_attempts=self.max_attempts,
            tags={"reef"},
        )


def check_request(
    sizes: Sequence[SizeClass],
    environments: Mapping[str, PythonEnvironment],
    request: ResourceRequest,
) -> None:
    """``ValueError`` if no evaluator service of the job can serve ``request``."""
    if smallest_fit(sizes, request.memory_mb, request.cores) is None:
        offered = ", ".join(f"{s.memory_mb} MB x {s.cores} cores" for s in sizes)
        raise ValueError(
            f"no evaluator size fits {request.memory_mb} MB and {request.cores} cores; this "
            f"job's sizes are {offered}: add a size to YarnRuntime(evaluator_sizes=...)"
        )
    if request.environment is not None and request.environment not in environments:
        names = sorted(environments) or "none"
        raise ValueError(
            f"environment={request.environment!r} is not one of this job's environments "
            f"({names}): name it in YarnRuntime(environments={{...}})"
        )
    if request.runtime_name not in (None, "", "yarn"):
        raise ValueError(f"runtime_name={request.runtime_name!r}: this job runs on 'yarn'")
    if not request.relax_locality and (request.node_names or request.rack_names):
        raise ValueError(
            "relax_locality=False: skein places a service's containers where YARN chooses "
            "(placement is fixed per service at submission), so strict locality cannot be "
            "honoured; keep relax_locality=True (names are then hints YARN may not follow) "
            "or pin evaluators to labelled nodes with YarnRuntime(node_label=...)"
        )


def default_client() -> Any:
    """skein's global driver when one runs; else a driver of our own (Java, Hadoop). The
    ``REEF_SKEIN_DRIVER`` / ``REEF_SKEIN_SECURITY`` variables name a running driver and the
    directory of its credentials."""
    address = os.environ.get("REEF_SKEIN_DRIVER")
    try:
        if address:
            directory = os.environ.get("REEF_SKEIN_SECURITY")
            security = (
                skein.Security.from_directory(directory)
                if directory
                else skein.Security.from_default()
            )
            return skein.Client(address=address, security=security)
        try:
            return skein.Client.from_global_driver()
        except skein.exceptions.DriverNotRunningError:
            return skein.Client()
    except (OSError, skein.exceptions.SkeinError, ValueError) as e:
        where = f"the skein driver at {address}" if address else "YARN through skein"
        raise ClusterError(
            f"cannot reach {where}: {type(e).__name__}: {e}. On a node of the cluster (with "
            "`yarn` and Java on PATH), start a driver with `skein driver start`, or set "
            "REEF_SKEIN_DRIVER (host:port) and REEF_SKEIN_SECURITY (its credentials' directory)"
        ) from e


@contextlib.contextmanager
def _asking_yarn(app_id: str) -> Iterator[None]:
    """skein's errors about one application as ClusterErrors that say what to check."""
    try:
        yield
    except (KeyError, ValueError) as e:
        raise ClusterError(
            f"YARN does not know application {app_id} ({e}); `yarn application -list "
            "-appStates ALL` lists the ones it knows"
        ) from e
    except (OSError, skein.exceptions.SkeinError) as e:  # skein's ConnectionError is an OSError
        raise ClusterError(f"cannot ask YARN about {app_id}: {type(e).__name__}: {e}") from e


# ---------------------------------------------------------------------------------------------
# the client's handle of a YARN job


class YarnJob:
    """A job running as a YARN application, watched through its key-value store."""

    def __init__(self, client: Any, app_id: str, workdir: str, timeout: float | None) -> None:
        self._client = client
        self.id = app_id
        self.log_dir = workdir
        self._timeout = timeout
        self._lock = threading.Lock()
        self._messages: list[bytes] = []
        self._snapshot: dict[str, Any] = {}
        self._outcome: dict[str, Any] | None = None
        self._result: JobResult | None = None
        self._killed = False
        self._ended = threading.Event()
        self._app: Any = None
        self._sent = 0
        self._unsent: list[tuple[str, bytes]] = []
        self._final: Mapping[str, bytes | None] = {}  # snapshot, record, profile at the end
        self._write_status({"id": app_id, "status": "RUNNING", "runtime": "yarn"})
        self._thread = threading.Thread(target=self._watch, name=f"reef-yarn-{app_id}")
        self._thread.start()

    # -- JobBackend -----------------------------------------------------------------------------

    def status(self) -> JobStatus:
        result = self._result
        return JobStatus.RUNNING if result is None else result.status

    def wait(self, timeout: float | None) -> JobResult | None:
        if not self._ended.wait(timeout):
            return None
        self._thread.join()
        return self._result

    def send(self, data: bytes) -> None:
        with self._lock:
            self._sent += 1
            key = f"{TO_DRIVER}{self._sent:012d}"
            app = self._app
            if app is None:  # not up yet: sent once the watcher connects
                self._unsent.append((key, bytes(data)))
                return
        app.kv.put(key, bytes(data))

    def kill(self) -> None:
        self._killed = True
        with contextlib.suppress(Exception):  # already gone: nothing to kill
            self._client.kill_application(self.id)

    def messages(self) -> list[bytes]:
        with self._lock:
            return list(self._messages)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            snap = dict(self._snapshot) or {
                "job": self.id,
                "state": self.status().value,
                "elapsed_seconds": 0.0,
                "outstanding_requests": 0,
                "evaluators": [],
                "activities": {
                    "starting": 0,
                    "running": 0,
                    "completed": 0,
                    "failed": 0,
                    "suspended": 0,
                    "submitted": 0,
                    "in_flight": [],
                    "recent": [],
                },
                "stages": [],
            }
        snap["log_dir"] = self.log_dir
        return snap

    @property
    def status_url(self) -> str:
        return ""

    # -- watching -------------------------------------------------------------------------------

    def _watch(self) -> None:
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        try:
            app = self._client.connect(self.id, wait=True)
            app.kv.put(CLIENT, b"watching")
            with self._lock:
                self._app = app
                unsent, self._unsent = self._unsent, []
            for key, data in unsent:
                app.kv.put(key, data)
            events = self._app.kv.events(prefix="reef/", event_type="PUT")
            try:
                self._follow(events, deadline)
            finally:
                events.unsubscribe_all()
        except Exception as e:  # the application ended or could not start: the report says why
            _log.info("watching %s ended: %s", self.id, e)
        finally:
            self._finish()

    def _follow(self, events: Any, deadline: float | None) -> None:
        seen = set()
        # messages sent before we subscribed
        for key, value in sorted(self._app.kv.get_prefix(MESSAGES).items()):
            seen.add(key)
            self._messages.append(value)
        while True:
            if deadline is not None and time.monotonic() > deadline:
                _log.warning("job %s timed out after %s s: killing it", self.id, self._timeout)
                self._outcome = {
                    "status": "KILLED",
                    "error": {
                        "type": "JobKilled",
                        "message": f"timed out after {self._timeout:g} s",
                    },
                }
                self.kill()
                return
            try:
                event = events.get(timeout=0.5)
            except queue.Empty:
                continue
            if event.key.startswith(MESSAGES) and event.key not in seen:
                seen.add(event.key)
                with self._lock:
                    self._messages.append(event.result.value)
            elif event.key == SNAPSHOT:
                with contextlib.suppress(ValueError), self._lock:
                    self._snapshot = json.loads(event.result.value)
            elif event.key == OUTCOME:
                self._outcome = json.loads(event.result.value)
                with contextlib.suppress(Exception):  # before the ack lets the master go
                    self._final = {
                        key: self._app.kv.get(key) for key in (SNAPSHOT, RECORD, PROFILE)
                    }
                with contextlib.suppress(Exception):
                    self._app.kv.put(OUTCOME_ACK, b"1")
                return

    def _finish(self) -> None:
        report = self._wait_for_the_end()
        outcome = self._outcome
        if outcome is not None and not self._killed:
            status = JobStatus(outcome["status"])
            err = outcome.get("error")
            error = (
                None
                if not err
                else RemoteError(
                    err.get("type", "Error"),
                    err.get("message", ""),
                    err.get("traceback", ""),
                    evaluator_id=(err.get("ids") or {}).get("evaluator"),
                    context_id=(err.get("ids") or {}).get("context"),
                    activity_id=(err.get("ids") or {}).get("activity"),
                )
            )
        elif self._killed:
            status = JobStatus.KILLED
            message = (outcome or {}).get("error", {}).get("message") or "killed by the client"
            error = RemoteError("JobKilled", message)
        else:
            status, error = _from_report(report)
        self._result = JobResult(status, error, self.messages(), self.id, self.log_dir)
        doc: dict[str, Any] = {"id": self.id, "status": status.value, "runtime": "yarn"}
        if error is not None:
            doc["error"] = {"type": error.type_name, "message": error.message}
        self._write_status(doc)
        self._write_final_files()
        self._fetch_logs()
        self._ended.set()

    def _write_final_files(self) -> None:
        """``final-status.json``, ``profile.txt`` and ``job-record.yaml``, as a local job
        leaves them (what ``reef status``, ``reef profile`` and ``reef rerun`` read)."""
        final = self._final
        files = {
            "final-status.json": final.get(SNAPSHOT),
            "profile.txt": final.get(PROFILE),
            RECORD_FILE: final.get(RECORD),
        }
        for name, data in files.items():
            if data is None:
                continue
            try:
                with open(os.path.join(self.log_dir, name), "wb") as f:
                    f.write(data)
            except OSError as e:
                _log.warning("cannot write %s of job %s: %s", name, self.id, e)

    def _wait_for_the_end(self) -> Any:
        deadline = time.monotonic() + 60
        report = None
        while time.monotonic() < deadline:
            try:
                report = self._client.application_report(self.id)
            except Exception as e:  # the client lost its driver: nothing more to learn
                _log.warning("cannot read the report of %s: %s", self.id, e)
                return None
            if str(report.state) in ("FINISHED", "FAILED", "KILLED"):
                return report
            time.sleep(0.2)  # YARN has no notification for an application's end
        return report

    def _fetch_logs(self) -> None:
        try:
            logs = self._client.application_logs(self.id)
        except Exception as e:  # log aggregation off, or the cluster forgot the application
            _log.info("no logs for %s: %s", self.id, e)
            return
        folder = os.path.join(self.log_dir, "yarn-logs")
        os.makedirs(folder, exist_ok=True)
        for name, text in dict(logs).items():
            safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
            with open(os.path.join(folder, f"{safe}.log"), "w", encoding="utf-8") as f:
                f.write(text)

    def _write_status(self, doc: Mapping[str, Any]) -> None:
        path = os.path.join(self.log_dir, "status.json")
        with open(path + ".new", "w", encoding="utf-8") as f:
            json.dump(dict(doc), f, indent=1)
        os.replace(path + ".new", path)


def _from_report(report: Any) -> tuple[JobStatus, RemoteError | None]:
    if report is None:
        return JobStatus.FAILED, RemoteError("YarnUnreachable", "the application's end is unknown")
    final = str(report.final_status)
    diagnostics = report.diagnostics or ""
    if final == "SUCCEEDED":
        return JobStatus.SUCCEEDED, None
    if final == "KILLED" or str(report.state) == "KILLED":
        return JobStatus.KILLED, RemoteError("JobKilled", diagnostics or "killed on YARN")
    return JobStatus.FAILED, RemoteError("YarnApplicationFailed", diagnostics or final)


# ---------------------------------------------------------------------------------------------
# the reef command's view of YARN jobs (by application id)


def application_snapshot(app_id: str, client: Any = None) -> dict[str, Any]:
    """A YARN job as ``reef status`` shows it: the driver's last snapshot while it runs (from
    the key-value store), else what the application report says."""
    client = client or default_client()
    with _asking_yarn(app_id):
        report = client.application_report(app_id)
    state = str(report.state)
    if state == "RUNNING":
        with contextlib.suppress(Exception):  # the master may be starting or ending
            app = client.connect(app_id, wait=False)
            data = app.kv.get(SNAPSHOT)
            if data:
                snapshot: dict[str, Any] = json.loads(data)
                return snapshot
    status, error = (
        (JobStatus.RUNNING, None)
        if state in ("NEW", "SUBMITTED", "ACCEPTED", "RUNNING")
        else _from_report(report)
    )
    return {
        "job": app_id,
        "state": status.value,
        "error": None if error is None else {"type": error.type_name, "message": error.message},
        "elapsed_seconds": 0.0,
        "outstanding_requests": 0,
        "evaluators": [],
        "activities": {"starting": 0, "running": 0, "completed": 0, "failed": 0, "suspended": 0},
        "log_dir": f"yarn logs -applicationId {app_id}",
        "yarn": {
            "state": state,
            "final_status": str(report.final_status),
            "diagnostics": report.diagnostics or "",
        },
    }


def application_logs(app_id: str, client: Any = None) -> dict[str, str]:
    """The logs YARN aggregated for an application (empty without log aggregation)."""
    client = client or default_client()
    with _asking_yarn(app_id):
        state = str(client.application_report(app_id).state)
        if state not in ("FINISHED", "FAILED", "KILLED"):
            raise ClusterError(
                f"{app_id} is {state}: YARN gives an application's logs once it has ended "
                f"(follow it meanwhile with `reef status {app_id}`)"
            )
        return dict(client.application_logs(app_id))


def kill_application(app_id: str, client: Any = None) -> None:
    """Kill a YARN application (its driver and every evaluator)."""
    client = client or default_client()
    with _asking_yarn(app_id):
        client.kill_application(app_id)


# ---------------------------------------------------------------------------------------------
# in the application master: the Runtime the driver core uses


@dataclass(slots=True)
class _Evaluator:
    container_id: str
    placement: Placement
    exited: bool = False


@dataclass(slots=True)
class _MasterState:
    evaluators: dict[str, _Evaluator] = field(default_factory=dict)
    by_container: dict[str, str] = field(default_factory=dict)


class YarnMasterRuntime(Runtime):
    """Starts evaluators as containers of the application's services (in the application
    master, for the driver core)."""

    name = "yarn"

    def __init__(
        self,
        app: Any,
        sizes: Sequence[SizeClass],
        environments: Mapping[str, PythonEnvironment],
        description: Mapping[str, object],
    ) -> None:
        self._app = app
        self._sizes = tuple(sizes)
        self._environments = dict(environments)
        self._description = dict(description)
        self._lock = threading.Lock()
        self._state = _MasterState()
        self._host: RuntimeHost | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def driver_host(self) -> str:
        return node_address()  # evaluators on other nodes reach the driver there

    def describe(self) -> Mapping[str, object]:
        return self._description

    def start(self, host: RuntimeHost, paths: JobPaths) -> None:
        self._host = host
        for target, name in (
            (self._watch_exits, "reef-yarn-exits"),
            (self._sweep, "reef-yarn-sweep"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def check(self, request: ResourceRequest) -> None:
        check_request(self._sizes, self._environments, request)

    def request(self, request: ResourceRequest) -> None:
        assert self._host is not None
        size = smallest_fit(self._sizes, request.memory_mb, request.cores)
        assert size is not None  # check() came first
        service = service_name(size, request.environment)
        for _ in range(request.count):
            placement = Placement(
                host="", memory_mb=size.memory_mb, cores=size.cores, runtime_name="yarn"
            )
            launch = self._host.prepare(request, placement)
            # The credentials wait in the key-value store, which only holders of this
            # application's skein credentials can read (its containers), for the evaluator to
            # take and delete: never in a container's environment, which YARN writes into its
            # launch script and copies into the container's logs.
            files_key = f"{FILES}{launch.evaluator_id}"
            try:
                self._app.kv.put(files_key, encode_files(launch.files))
                container = self._app.add_container(
                    service, env={FILES_KEY_VARIABLE: files_key, **dict(launch.env)}
                )
                self._app.kv.put(
                    f"{ALIVE}{launch.evaluator_id}", container.id.encode(), owner=container.id
                )
            except Exception as e:  # skein refused: the evaluator will never come
                with contextlib.suppress(Exception):
                    self._app.kv.discard(files_key)
                self._host.exited(
                    launch.evaluator_id,
                    ContainerExit(ExitKind.FAILED_TO_START, diagnostics=f"YARN refused: {e}"),
                )
                continue
            placed = Placement(
                host=getattr(container, "yarn_node_http_address", "") or "",
                memory_mb=size.memory_mb,
                cores=size.cores,
                runtime_name="yarn",
                container_id=container.id,
                log_path=f"yarn logs: {container.yarn_container_id or container.id}",
            )
            with self._lock:
                self._state.evaluators[launch.evaluator_id] = _Evaluator(container.id, placed)
                self._state.by_container[container.id] = launch.evaluator_id
            self._host.launched(launch.evaluator_id, placed)

    def kill(self, evaluator_id: str) -> None:
        with self._lock:
            record = self._state.evaluators.get(evaluator_id)
        if record is not None and not record.exited:
            with contextlib.suppress(Exception):  # already ended
                self._app.kill_container(record.container_id)

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            live = [r for r in self._state.evaluators.values() if not r.exited]
        for record in live:
            with contextlib.suppress(Exception):
                self._app.kill_container(record.container_id)
        for thread in self._threads:
            thread.join(timeout=10)

    # -- exits ------------------------------------------------------------------------------------

    def _watch_exits(self) -> None:
        events = self._app.kv.events(prefix=ALIVE, event_type="DELETE")
        try:
            while not self._stopping.is_set():
                try:
                    event = events.get(timeout=0.5)
                except queue.Empty:
                    continue
                self._ended(event.key[len(ALIVE) :])
        except Exception as e:  # the application master is going away
            if not self._stopping.is_set():
                _log.warning("watching container exits stopped: %s", e)
        finally:
            with contextlib.suppress(Exception):
                events.unsubscribe_all()

    def _sweep(self) -> None:
        while not self._stopping.wait(_POLL):
            try:
                done = self._app.get_containers(states=["SUCCEEDED", "FAILED", "KILLED"])
            except Exception as e:
                _log.warning("cannot list containers: %s", e)
                continue
            for container in done:
                evaluator_id = self._state.by_container.get(container.id)
                if evaluator_id is not None:
                    self._ended(evaluator_id)

    def _ended(self, evaluator_id: str) -> None:
        with self._lock:
            record = self._state.evaluators.get(evaluator_id)
            if record is None or record.exited:
                return
            record.exited = True
        with contextlib.suppress(Exception):  # an evaluator that died before taking its files
            self._app.kv.discard(f"{FILES}{evaluator_id}")
        exit = self._exit_of(record.container_id, record.placement.log_path)
        assert self._host is not None
        self._host.exited(evaluator_id, exit)

    def _exit_of(self, container_id: str, log_path: str) -> ContainerExit:
        for _ in range(20):
            try:
                found = [
                    c
                    for c in self._app.get_containers(states=["SUCCEEDED", "FAILED", "KILLED"])
                    if c.id == container_id
                ]
            except Exception as e:
                return ContainerExit(
                    ExitKind.LOST, diagnostics=f"unknown end ({e})", log_path=log_path
                )
            if found:
                c = found[0]
                state = str(c.state)
                if state == "SUCCEEDED":
                    return ContainerExit(ExitKind.EXITED, code=0, log_path=log_path)
                if state == "KILLED":
                    return ContainerExit(
                        ExitKind.KILLED, diagnostics=c.exit_message or "", log_path=log_path
                    )
                return ContainerExit(
                    ExitKind.EXITED, diagnostics=f"YARN: {c.exit_message}", log_path=log_path
                )
            time.sleep(0.05)  # the key went before the container's final state was recorded
        return ContainerExit(ExitKind.LOST, diagnostics="the container vanished", log_path=log_path)


# ---------------------------------------------------------------------------------------------
# in an evaluator's container


def evaluator_files() -> bytes:
    """The evaluator's files (``encode_files``), which the application master left in the
    application's key-value store; the key is deleted once read (``BootstrapError`` if they
    cannot be had)."""
    key = os.environ.get(FILES_KEY_VARIABLE, "")
    if not key.startswith(FILES):
        raise BootstrapError(
            f"--from-skein, but {FILES_KEY_VARIABLE} is {key!r}: start evaluators through the "
            "YARN runtime, which sets it"
        )
    try:
        app = skein.ApplicationClient.from_current()
        document = app.kv.get(key)
        if document is not None:
            app.kv.discard(key)
    except (OSError, ValueError, skein.exceptions.SkeinError) as e:
        raise BootstrapError(f"cannot fetch the evaluator's files from skein: {e}") from e
    if document is None:
        raise BootstrapError(
            f"no files under {key!r} in the application's key-value store (taken already, or "
            "the application master removed them: was this container restarted?)"
        )
    return bytes(document)


# ---------------------------------------------------------------------------------------------
# the application master's entry point: python -m reef.runtime.yarn master reef-job.json


def master(job_file: str) -> int:
    """Run the job's driver in this application master; the process exit code."""
    from reef.driver._core import DriverCore  # noqa: PLC0415 - the AM alone runs a driver here
    from reef.driver._record import record_yaml  # noqa: PLC0415
    from reef.tang import Configuration, load_main_script, resolve, use_main_script  # noqa: PLC0415

    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s",
    )
    with open(job_file, encoding="utf-8") as f:
        job = json.load(f)
    app = skein.ApplicationClient.from_current()
    sys.path.insert(0, os.getcwd())
    script = job.get("script")
    if script:
        local = os.path.abspath(os.path.basename(script))
        use_main_script(local, recorded=script)
        load_main_script(local)
    driver_class = resolve(job["driver"], main_script=script)
    configuration = Configuration.from_yaml(job["configuration"])
    runtime_settings = job["runtime"]
    runtime = YarnMasterRuntime(
        app,
        _sizes(tuple(s) for s in runtime_settings["sizes"]),
        {k: PythonEnvironment(v) for k, v in runtime_settings.get("environments", {}).items()},
        runtime_settings.get("description", {}),
    )
    root = os.path.abspath("reef-job")
    os.makedirs(os.path.join(root, "evaluators"), exist_ok=True)
    job_id = os.environ.get("SKEIN_APPLICATION_ID", "reef-job")
    paths = JobPaths(job_id, root, os.path.join(root, "evaluators"))
    counter = iter(range(1, 1 << 62))
    core = DriverCore(
        driver_class,
        configuration,
        runtime,
        paths,
        on_message=lambda data: app.kv.put(f"{MESSAGES}{next(counter):012d}", data),
    )
    stop = threading.Event()
    watcher = threading.Thread(
        target=_client_messages, args=(app, core, stop), name="reef-yarn-client", daemon=True
    )
    core.start()
    watcher.start()
    with contextlib.suppress(Exception):  # skein's UI is optional
        app.ui.add_page("reef", core.status_url, link_name="reef job")
    while not core.done.wait(1.0):
        with contextlib.suppress(Exception):
            app.kv.put(SNAPSHOT, json.dumps(core.snapshot()).encode())
    stop.set()
    core.shutdown()
    outcome = core.outcome
    error = outcome.error
    doc = {
        "status": outcome.state.value,
        "error": None
        if error is None
        else {
            "type": error.type_name,
            "message": error.message,
            "traceback": error.traceback,
            "ids": error.ids,
        },
    }
    app.kv.put(SNAPSHOT, json.dumps(core.snapshot()).encode())
    with contextlib.suppress(Exception):  # what reef rerun and reef profile read, client-side
        app.kv.put(RECORD, record_yaml(core).encode())
        app.kv.put(PROFILE, core.registry.text_report().encode())
    app.kv.put(OUTCOME, json.dumps(doc).encode())
    if app.kv.get(CLIENT) is not None:  # a client watches: let it read the outcome first
        with contextlib.suppress(Exception):
            events = app.kv.events(key=OUTCOME_ACK, event_type="PUT")
            if app.kv.get(OUTCOME_ACK) is None:
                with contextlib.suppress(queue.Empty):
                    events.get(timeout=10)
            events.unsubscribe_all()
    final = outcome.state.value  # SUCCEEDED, FAILED or KILLED: skein's final statuses too
    diagnostics = "" if error is None else f"{error.type_name}: {error.message}"[:4000]
    app.shutdown(final, diagnostics)
    watcher.join(timeout=5)
    return 0


def _client_messages(app: Any, core: Any, stop: threading.Event) -> None:
    events = app.kv.events(prefix=TO_DRIVER, event_type="PUT")
    try:
        seen = set()
        for key, value in sorted(app.kv.get_prefix(TO_DRIVER).items()):  # sent before we looked
            seen.add(key)
            core.client_message(value)
        while not stop.is_set():
            try:
                event = events.get(timeout=0.5)
            except queue.Empty:
                continue
            if event.key not in seen:
                seen.add(event.key)
                core.client_message(event.result.value)
    except Exception as e:  # the application master is going away
        if not stop.is_set():
            _log.warning("client messages stopped: %s", e)
    finally:
        with contextlib.suppress(Exception):
            events.unsubscribe_all()


def _main(argv: Sequence[str]) -> int:
    if len(argv) == 2 and argv[0] == "master":
        return master(argv[1])
    print("usage: python -m reef.runtime.yarn master reef-job.json", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
