"""A stand-in for skein's Java Driver (``Driver.java``) and the ResourceManager behind it: the
``Driver`` gRPC service that an unmodified ``skein.Client(address=..., security=...)`` talks to.

``submit`` stages the application as the Java Driver does (credentials, one script per service,
the spec with file sizes and times; service scripts become ``bash .skein.sh ><LOG_DIR>/<service>.log
2>&1``), then, after ``Settings.am_start_delay``, starts a ``StandinAppMaster`` for it: ACCEPTED
until then, RUNNING once the AM serves, FINISHED / KILLED / FAILED with YARN's final statuses.
"""

from __future__ import annotations

import functools
import itertools
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import skein
from skein.proto import skein_pb2 as pb
from skein.proto import skein_pb2_grpc

from . import _localize
from ._common import NODE_HOST, NODE_HTTP_ADDRESS, NODE_PORT, Settings, millis
from ._containers import Outcome
from ._nodemanager import NodeManager
from ._server import RpcFailure, SecureServer, answers
from .appmaster import StandinAppMaster

S = pb.ApplicationState
_STARTED = (S.RUNNING, S.FINISHED, S.FAILED, S.KILLED)
_COMPLETED = (S.FINISHED, S.FAILED, S.KILLED)
KILLED_DIAGNOSTICS = "Application killed by user."
# Generous: a node with this much never refuses a test's containers (there is no scheduler).
NODE_MEMORY_MB = 1 << 20
NODE_VCORES = 1 << 10
_KILL_TIMEOUT = 30.0


@dataclass(eq=False)
class Application:
    """One submitted application as the ResourceManager tracks it."""

    id: str
    spec: pb.ApplicationSpec  # as staged: what the application master serves
    credentials: tuple[bytes, bytes]
    queue: str
    user: str
    start_time: int
    state: int = S.ACCEPTED
    final_status: int = pb.FinalStatus.UNDEFINED
    diagnostics: str = ""
    finish_time: int = 0
    progress: float = 0.0
    am: StandinAppMaster | None = None
    host: str = "N/A"  # YARN's answers while no application master has registered
    port: int = -1

    def report(self) -> pb.ApplicationReport:
        progress = self.progress
        usage = pb.ResourceUsageReport()
        if self.state == S.RUNNING and self.am is not None:
            progress = self.am.progress if self.am.progress >= 0 else 0.1
            memory, vcores, count = self.am.used_resources()
            usage.num_used_containers = count
            usage.used_resources.memory = memory
            usage.used_resources.vcores = vcores
        return pb.ApplicationReport(
            id=self.id,
            name=self.spec.name,
            user=self.user,
            queue=self.queue,
            tags=sorted(self.spec.tags),
            host=self.host,
            port=self.port,
            tracking_url="",
            state=self.state,
            final_status=self.final_status,
            progress=progress,
            usage=usage,
            diagnostics=self.diagnostics,
            start_time=self.start_time,
            finish_time=self.finish_time,
        )


def _credentials(security: skein.Security) -> tuple[bytes, bytes]:
    def read(data: bytes | None, file: skein.File | None) -> bytes:
        if data is not None:
            return data
        assert file is not None
        return _localize.source_path(file.source).read_bytes()

    return (
        read(security.cert_bytes, security.cert_file),
        read(security.key_bytes, security.key_file),
    )


def _submit_failure(detail: str) -> RpcFailure:
    return RpcFailure(
        grpc.StatusCode.INTERNAL, f"Failed to submit application, exception:\n{detail}"
    )


def _fill_file(file: pb.File) -> None:
    """Size and modification time of a resource, as the Java Driver records them."""
    try:
        path = _localize.source_path(file.source)
    except _localize.LocalizationError as exc:
        raise _submit_failure(str(exc)) from exc
    if not path.exists():
        raise _submit_failure(f"File file:{path} does not exist")
    status = path.stat()
    if file.size == 0:
        file.size = 0 if path.is_dir() else status.st_size
    if file.timestamp == 0:
        file.timestamp = int(status.st_mtime * 1000)


def _staged_file(path: Path, data: bytes, private: bool = True) -> pb.File:
    if private:
        _localize.write_private(path, data)
    else:
        path.write_bytes(data)
    file = pb.File(
        source=_localize.file_url(path), type=pb.File.FILE, visibility=pb.File.APPLICATION
    )
    _fill_file(file)
    return file


def stage(
    request: pb.ApplicationSpec, credentials: tuple[bytes, bytes], staging: Path
) -> pb.ApplicationSpec:
    """The specification as the Java Driver hands it to the application master."""
    spec = pb.ApplicationSpec()
    spec.CopyFrom(request)
    for file in spec.master.files.values():
        _fill_file(file)
    for service in spec.services.values():
        for file in service.files.values():
            _fill_file(file)
    staging.mkdir(parents=True)
    cert = _staged_file(staging / ".skein.crt", credentials[0])
    key = _staged_file(staging / ".skein.pem", credentials[1])
    for name, service in spec.services.items():
        service.files[".skein.sh"].CopyFrom(
            _staged_file(staging / f"{name}.sh", service.script.encode(), private=False)
        )
        service.files[".skein.crt"].CopyFrom(cert)
        service.files[".skein.pem"].CopyFrom(key)
        service.script = f"bash .skein.sh ><LOG_DIR>/{name}.log 2>&1"
        if "LANG" in os.environ:
            service.env["LANG"] = os.environ["LANG"]
    spec.master.security.Clear()
    spec.master.security.cert_file.CopyFrom(cert)
    spec.master.security.key_file.CopyFrom(key)
    spec.master.files[".skein.crt"].CopyFrom(cert)
    spec.master.files[".skein.pem"].CopyFrom(key)
    spec.master.files[".skein.proto"].CopyFrom(
        _staged_file(staging / ".skein.proto", spec.SerializeToString())
    )
    return spec


def format_logs(directory: Path) -> str:
    """A container's log files as YARN's aggregated-log reader prints them."""
    parts = []
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        data = path.read_text(errors="replace")
        uploaded = time.strftime("%a %b %d %H:%M:%S %z %Y", time.localtime(path.stat().st_mtime))
        parts.append(
            f"LogType:{path.name}\nLog Upload Time:{uploaded}\nLogLength:{len(data.encode())}\n"
            f"Log Contents:\n{data}\nEnd of LogType:{path.name}\n"
        )
    return "\n".join(parts).rstrip()


class StandinDriver(skein_pb2_grpc.DriverServicer):
    """The ``Driver`` service over mutual TLS with ``security``'s credentials; applications
    without ``master.security`` use the same credentials (as with skein's Java Driver)."""

    def __init__(
        self, settings: Settings, security: skein.Security, nodemanager: NodeManager
    ) -> None:
        self.settings = settings
        self._nm = nodemanager
        self._credentials = _credentials(security)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._apps: dict[str, Application] = {}
        self._ams: list[StandinAppMaster] = []
        self._numbers = itertools.count(1)
        self._closing = False
        self._server = SecureServer(
            "standin-driver",
            *self._credentials,
            lambda server: skein_pb2_grpc.add_DriverServicer_to_server(self, server),
        )

    @property
    def address(self) -> str:
        return self._server.address

    # -- inspection and fault injection (tests) ---------------------------------------------

    def applications(self) -> list[Application]:
        with self._lock:
            return list(self._apps.values())

    def application(self, app_id: str) -> Application:
        with self._lock:
            if app_id not in self._apps:
                raise KeyError(f"no application {app_id!r}")
            return self._apps[app_id]

    def fail_application(self, app_id: str, diagnostics: str) -> None:
        """End an application as a failed application master attempt would: every process
        killed, state FAILED, final status FAILED. Blocks until it is over."""
        self._end(self.application(app_id), Outcome(S.FAILED, pb.FinalStatus.FAILED, diagnostics))

    def close(self) -> None:
        """Kill every application, stop the server and join every thread."""
        with self._lock:
            self._closing = True
            self._changed.notify_all()
            ams = list(self._ams)
            for app in self._apps.values():
                if app.am is None and app.state not in _COMPLETED:
                    self._finish_locked(
                        app, Outcome(S.KILLED, pb.FinalStatus.KILLED, "Cluster shut down.")
                    )
        closing = Outcome(S.KILLED, pb.FinalStatus.KILLED, "Cluster shut down.")
        for am in ams:
            am.kill(closing)  # all at once: their processes end in parallel
        try:
            for am in ams:
                am.close()
        finally:
            self._server.stop(grace=0.0)

    # -- the application's life -------------------------------------------------------------

    def _start_am(self, app: Application) -> None:
        """The ResourceManager has allocated the AM container (on the node manager's thread)."""
        with self._lock:
            if self._closing or app.state != S.ACCEPTED:
                return
            am = StandinAppMaster(
                app.id,
                app.spec,
                credentials=app.credentials,
                settings=self.settings,
                nodemanager=self._nm,
                on_finished=functools.partial(self._finished, app),
            )
            app.am = am
            self._ams.append(am)
        try:
            am.start()
        except (_localize.LocalizationError, OSError) as exc:
            am.kill(
                Outcome(S.FAILED, pb.FinalStatus.FAILED, f"AM container failed to launch: {exc}")
            )
            return
        with self._lock:
            registered = app.state == S.ACCEPTED and not am.finishing
            if registered:
                app.state = S.RUNNING
                app.host, app.port = NODE_HOST, am.port
                self._changed.notify_all()
        if registered:
            am.run()

    def _finished(self, app: Application, outcome: Outcome) -> None:
        """The application master has ended (called from its own thread)."""
        with self._lock:
            self._finish_locked(app, outcome)

    def _finish_locked(self, app: Application, outcome: Outcome) -> None:
        if app.state in _COMPLETED:
            return
        app.state = outcome.state
        app.final_status = outcome.final_status
        app.diagnostics = outcome.diagnostics
        app.finish_time = millis()
        if outcome.state == S.FINISHED:
            app.progress = 1.0
        elif app.am is not None and app.am.progress >= 0:
            app.progress = app.am.progress
        self._changed.notify_all()

    def _end(self, app: Application, outcome: Outcome) -> None:
        with self._lock:
            if app.state in _COMPLETED:
                return
            am = app.am
            if am is None:
                self._finish_locked(app, outcome)
                return
        am.kill(outcome)
        if not am.wait(_KILL_TIMEOUT):
            raise RpcFailure(grpc.StatusCode.INTERNAL, f"Failed to kill application '{app.id}'")

    def _lookup(self, app_id: str) -> Application:
        parts = app_id.split("_")
        if len(parts) != 3 or parts[0] != "application" or not all(p.isdigit() for p in parts[1:]):
            raise RpcFailure(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid ApplicationId '{app_id}'")
        with self._lock:
            if app_id not in self._apps:
                raise RpcFailure(
                    grpc.StatusCode.INVALID_ARGUMENT, f"Unknown ApplicationId '{app_id}'"
                )
            return self._apps[app_id]

    # -- RPCs -------------------------------------------------------------------------------

    def ping(self, request: pb.Empty, context: grpc.ServicerContext) -> pb.Empty:
        return pb.Empty()

    @answers
    def submit(self, request: pb.ApplicationSpec, context: grpc.ServicerContext) -> pb.Application:
        try:
            model = skein.ApplicationSpec.from_protobuf(request)
        except (TypeError, ValueError) as exc:
            raise RpcFailure(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from exc
        refused = self.settings.check_allocation(
            request.master.resources.memory, request.master.resources.vcores
        )
        if refused is not None:
            raise _submit_failure(refused)
        credentials = (
            _credentials(model.master.security)
            if model.master.security is not None
            else self._credentials
        )
        with self._lock:
            if self._closing:
                raise RpcFailure(grpc.StatusCode.UNAVAILABLE, "the stand-in cluster is closing")
            app_id = self.settings.application_id(next(self._numbers))
        spec = stage(request, credentials, self.settings.staging_dir(app_id))
        app = Application(
            id=app_id,
            spec=spec,
            credentials=credentials,
            queue=request.queue or "default",
            user=request.user or self.settings.user,
            start_time=millis(),
        )
        with self._lock:
            self._apps[app_id] = app
        self._nm.call_later(self.settings.am_start_delay, functools.partial(self._start_am, app))
        return pb.Application(id=app_id)

    @answers
    def getStatus(
        self, request: pb.Application, context: grpc.ServicerContext
    ) -> pb.ApplicationReport:
        app = self._lookup(request.id)
        with self._lock:
            return app.report()

    @answers
    def waitForStart(
        self, request: pb.Application, context: grpc.ServicerContext
    ) -> pb.ApplicationReport:
        app = self._lookup(request.id)

        def wake() -> None:
            with self._lock:
                self._changed.notify_all()

        context.add_callback(wake)
        with self._lock:
            self._changed.wait_for(
                lambda: app.state in _STARTED or self._closing or not context.is_active()
            )
            if app.state not in _STARTED:
                raise RpcFailure(grpc.StatusCode.UNAVAILABLE, "the stand-in cluster is closing")
            return app.report()

    @answers
    def getApplications(
        self, request: pb.ApplicationsRequest, context: grpc.ServicerContext
    ) -> pb.ApplicationsResponse:
        states = set(request.states) or {S.SUBMITTED, S.ACCEPTED, S.RUNNING}
        started_end = request.started_end or 2**63 - 1
        finished_end = request.finished_end or 2**63 - 1
        with self._lock:
            reports = [
                app.report()
                for app in self._apps.values()
                if app.state in states
                and request.name in ("", app.spec.name)
                and request.user in ("", app.user)
                and request.queue in ("", app.queue)
                and request.started_begin <= app.start_time <= started_end
                and request.finished_begin <= app.finish_time <= finished_end
            ]
        return pb.ApplicationsResponse(reports=reports)

    @answers
    def getNodes(self, request: pb.NodesRequest, context: grpc.ServicerContext) -> pb.NodesResponse:
        if request.states and pb.NodeState.RUNNING not in request.states:
            return pb.NodesResponse()
        memory = vcores = 0
        with self._lock:
            for app in self._apps.values():
                if app.state == S.RUNNING and app.am is not None:
                    m, v, _ = app.am.used_resources()
                    memory, vcores = memory + m, vcores + v
        node = pb.NodeReport(
            id=f"{NODE_HOST}:{NODE_PORT}",
            http_address=NODE_HTTP_ADDRESS,
            rack_name="/default-rack",
            state=pb.NodeState.RUNNING,
            total_resources=pb.Resources(memory=NODE_MEMORY_MB, vcores=NODE_VCORES),
            used_resources=pb.Resources(memory=memory, vcores=vcores),
        )
        return pb.NodesResponse(reports=[node])

    def _queue(self, name: str) -> pb.Queue:
        return pb.Queue(
            name=name, state=pb.Queue.RUNNING, capacity=100.0, max_capacity=100.0, percent_used=0.0
        )

    def getQueue(self, request: pb.QueueRequest, context: grpc.ServicerContext) -> pb.Queue:
        return self._queue(request.name)

    def getChildQueues(
        self, request: pb.QueueRequest, context: grpc.ServicerContext
    ) -> pb.QueuesResponse:
        return pb.QueuesResponse()

    def getAllQueues(self, request: pb.Empty, context: grpc.ServicerContext) -> pb.QueuesResponse:
        with self._lock:
            names = {"default"} | {app.queue for app in self._apps.values()}
        return pb.QueuesResponse(queues=[self._queue(n) for n in sorted(names)])

    @answers
    def moveApplication(self, request: pb.MoveRequest, context: grpc.ServicerContext) -> pb.Empty:
        app = self._lookup(request.id)
        with self._lock:
            if app.state in _COMPLETED:
                raise RpcFailure(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"App in {S.Type.Name(app.state)} state cannot be moved.",
                )
            app.queue = request.queue
        return pb.Empty()

    @answers
    def kill(self, request: pb.KillRequest, context: grpc.ServicerContext) -> pb.Empty:
        app = self._lookup(request.id)
        # As YarnClient.killApplication does, answer once the application is KILLED.
        self._end(app, Outcome(S.KILLED, pb.FinalStatus.KILLED, KILLED_DIAGNOSTICS))
        return pb.Empty()

    @answers
    def getLogs(self, request: pb.LogsRequest, context: grpc.ServicerContext) -> pb.LogsResponse:
        app = self._lookup(request.id)
        with self._lock:
            completed = app.state in _COMPLETED
        if not completed:
            raise RpcFailure(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Application {request.id} has not completed, logs are not available",
            )
        root = self.settings.workdir / "logs" / app.id
        logs = (
            {d.name: format_logs(d) for d in sorted(root.iterdir()) if d.is_dir()}
            if root.is_dir()
            else {}
        )
        if not logs:
            raise RpcFailure(
                grpc.StatusCode.INVALID_ARGUMENT,
                "No logs found. Log aggregation may have not completed, or it may not be enabled.",
            )
        return pb.LogsResponse(logs=logs)
