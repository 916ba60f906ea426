"""A stand-in for skein's Java application master (``ApplicationMaster.java``, skein 0.8.2):
the ``AppMaster`` gRPC service over mutual TLS, one application's services and containers as
real local processes, the master script, and the key-value store.

Behaviour follows the Java AM: container states and exit messages, ``max_restarts`` (per
service, ``-1`` unlimited; a restart is a new instance keeping its ``add_container`` env),
``allow_failures``, ``depends`` (WAITING until every dependency has had all its first requests
allocated), owned keys deleted with DELETE events when their container completes, and the
application's end (master script exit, ``shutdown``, a failed service, or every service done when
there is no master script). Differences from YARN are listed in ``tests/yarn/standin/__init__``.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import grpc
import skein
from skein.proto import skein_pb2 as pb
from skein.proto import skein_pb2_grpc

from . import _localize
from ._common import Settings, container_environment, launch_script, millis
from ._containers import (
    ACTIVE,
    KILLED_MESSAGE,
    C,
    ContainerRecord,
    Outcome,
    ServiceRecord,
    completion,
    driver_outcome,
)
from ._kv import KeyValueStore, WatchStream
from ._nodemanager import NodeManager, Process
from ._server import RpcFailure, SecureServer, answers

log = logging.getLogger(__name__)

_TEARDOWN_TIMEOUT = 30.0


class StandinAppMaster(skein_pb2_grpc.AppMasterServicer):
    """One running application: its ``AppMaster`` server, containers and key-value store.

    The driver stand-in creates it when the application's master container is allocated, calls
    ``start`` (the AM container's directory, the server) and then ``run`` (initial containers,
    master script). ``on_finished`` is called once, from a thread of its own, after every process
    of the application has ended and the server has stopped.
    """

    def __init__(
        self,
        app_id: str,
        spec: pb.ApplicationSpec,
        *,
        credentials: tuple[bytes, bytes],
        settings: Settings,
        nodemanager: NodeManager,
        on_finished: Callable[[Outcome], None],
    ) -> None:
        self.app_id = app_id
        self.spec = spec
        self._cert, self._key = credentials
        self._settings = settings
        self._nm = nodemanager
        self._on_finished = on_finished
        self._app_number = int(app_id.rsplit("_", 1)[1])
        self._container_numbers = itertools.count(1)
        self.am_container_id = self._next_container_id()
        self.progress = -1.0  # not set by the application: reported as 0.1, as the Java AM does
        self.errors: list[BaseException] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._kv = KeyValueStore(self)
        self._services = {name: ServiceRecord(name, s) for name, s in spec.services.items()}
        for service in self._services.values():
            for dependency in service.spec.depends:
                service.waiting_on.add(dependency)
                self._services[dependency].dependents.append(service)
        self._request_order = itertools.count()
        self._allocation_order = itertools.count()
        self._streams: set[WatchStream] = set()
        self._threads: list[threading.Thread] = []
        self._launching = 0
        self._master: Process | None = None
        self._outcome: Outcome | None = None
        self._done = threading.Event()
        self._server: SecureServer | None = None
        self._cache = _localize.FileCache(settings.local_dir(app_id) / "filecache")
        self._am_log = settings.log_dir(app_id, self.am_container_id) / "application.master.log"

    # -- lifecycle (driver side) ------------------------------------------------------------

    @property
    def address(self) -> str:
        assert self._server is not None, "not started"
        return self._server.address

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.port

    @property
    def finishing(self) -> bool:
        return self._outcome is not None

    def start(self) -> None:
        """Localize the master's files into the AM container's directory, write the
        credentials, and start serving (unless the application was killed meanwhile)."""
        with self._lock:
            if self.finishing:
                return
            # Counted as a launch: a teardown waits for it before it stops the server.
            self._launching += 1
        server: SecureServer | None = None
        try:
            _localize.prepare(
                self.container_dir(self.am_container_id),
                self.spec.master.files,
                self._cache,
                {".skein.crt": self._cert, ".skein.pem": self._key},
            )
            server = SecureServer(
                f"standin-am-{self._app_number}",
                self._cert,
                self._key,
                lambda server: skein_pb2_grpc.add_AppMasterServicer_to_server(self, server),
                max_workers=64,
            )
        finally:
            with self._lock:
                if server is not None:
                    self._server = server
                    self._note(f"gRPC server started at {server.address}")
                self._launching -= 1
                self._changed.notify_all()

    def used_resources(self) -> tuple[int, int, int]:
        """Memory (MiB), vcores and number of the containers allocated now, the AM's included."""
        resources = [self.spec.master.resources]
        with self._lock:
            for service in self._services.values():
                resources += [service.spec.resources] * len(service.active(C.RUNNING))
        return sum(r.memory for r in resources), sum(r.vcores for r in resources), len(resources)

    def run(self) -> None:
        """Request every service's initial containers and start the master script."""
        with self._lock:
            if self.finishing:
                return
            for service in self._services.values():
                for _ in range(service.spec.instances):
                    self._add_container(service, {})
            script = self.spec.master.script
            if not script:
                return
            self._launching += 1
        try:
            self._start_master_script(script)
        finally:
            with self._lock:
                self._launching -= 1
                self._changed.notify_all()

    def _start_master_script(self, script: str) -> None:
        cid = self.am_container_id
        directory = self.container_dir(cid)
        (directory / ".skein.sh").write_text(script)
        master = self.spec.master
        env = container_environment(
            self._settings,
            self.app_id,
            cid,
            dict(master.env),
            self._skein_environment(master.resources, None),
        )
        # The AM's own JVM settings do not reach the script; nor would a container id.
        env.pop("CLASSPATH", None)
        env.pop("SKEIN_CONTAINER_ID", None)
        argv, inherited = launch_script(directory, "bash .skein.sh", env)
        process = self._nm.launch(
            argv,
            cwd=directory,
            env=inherited,
            log_path=self._settings.log_dir(self.app_id, cid) / "application.driver.log",
            description=f"{self.app_id} master script",
            on_exit=self._master_exited,
        )
        with self._lock:
            self._master = process
            self._note("Starting application driver")
            if self.finishing:
                self._nm.terminate(process)

    def kill(self, outcome: Outcome) -> bool:
        """End the application from outside (kill, AM failure) unless it is already ending;
        returns at once. True if this call decided the outcome."""
        return self._begin_shutdown(outcome)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the application is over (processes reaped, server stopped)."""
        return self._done.wait(timeout)

    def close(self) -> None:
        """Kill the application if it still runs, wait for its end and join every thread."""
        self._begin_shutdown(
            Outcome(pb.ApplicationState.KILLED, pb.FinalStatus.KILLED, "Cluster shut down.")
        )
        if not self._done.wait(_TEARDOWN_TIMEOUT):
            raise RuntimeError(f"{self.app_id}: the application master did not shut down")
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(_TEARDOWN_TIMEOUT)
            if thread.is_alive():
                raise RuntimeError(f"{self.app_id}: thread {thread.name} did not end")
        if self.errors:
            raise RuntimeError(f"{self.app_id}: the application master failed") from self.errors[0]

    # -- inspection and fault injection (tests) ---------------------------------------------

    def container_dir(self, yarn_container_id: str) -> Path:
        return self._settings.local_dir(self.app_id) / yarn_container_id

    def containers(self) -> list[skein.model.Container]:
        """Every container of the application, in any state."""
        with self._lock:
            return [
                skein.model.Container.from_protobuf(c.to_proto())
                for s in self._services.values()
                for c in s.containers
            ]

    def process_of(self, container_id: str | None) -> Process | None:
        """The process of a container (``"<service>_<instance>"``), or of the master script for
        None; None if it has not started."""
        with self._lock:
            if container_id is None:
                return self._master
            return self._lookup(container_id).process

    def fail_container(self, container_id: str, exit_status: int, diagnostics: str = "") -> None:
        """Complete a RUNNING container as YARN would report ``exit_status`` (e.g. ``-100``
        ABORTED for a lost node, ``-102`` PREEMPTED, ``-104`` over its memory), and stop its
        process."""
        with self._lock:
            container = self._lookup(container_id)
            if container.state != C.RUNNING:
                raise ValueError(f"{container_id} is not RUNNING: {C.State.Name(container.state)}")
            state, message = completion(exit_status, diagnostics)
            self._finish(container, state, message)

    def _lookup(self, container_id: str) -> ContainerRecord:
        service_name, _, instance = container_id.rpartition("_")
        self._check_instance(service_name, int(instance), completed_ok=True)
        return self._services[service_name].containers[int(instance)]

    # -- containers -------------------------------------------------------------------------

    def _next_container_id(self) -> str:
        return self._settings.container_id(self._app_number, next(self._container_numbers))

    def _note(self, message: str) -> None:
        """A line in the AM container's ``application.master.log``, like the Java AM's log."""
        self._am_log.parent.mkdir(parents=True, exist_ok=True)
        with open(self._am_log, "a") as f:
            f.write(f"{millis()} {message}\n")

    def _add_container(self, service: ServiceRecord, env: Mapping[str, str]) -> ContainerRecord:
        container = ContainerRecord(service, len(service.containers), dict(env))
        service.containers.append(container)
        if service.waiting_on:
            self._note(f"WAITING: {container.id}")
        else:
            self._request(container)
        return container

    def _request(self, container: ContainerRecord) -> None:
        container.state = C.REQUESTED
        container.request_order = next(self._request_order)
        container.timer = self._nm.call_later(
            self._settings.allocation_delay, functools.partial(self._allocate, container)
        )
        self._note(f"REQUESTED: {container.id}")

    def _allocate(self, container: ContainerRecord) -> None:
        """The container has been allocated: RUNNING, then its process starts (the Java AM also
        marks it RUNNING before asking the NodeManager to start it)."""
        service = container.service
        resources = service.spec.resources
        refused = self._settings.check_allocation(resources.memory, resources.vcores)
        with self._lock:
            if container.state != C.REQUESTED or self.finishing:
                return
            if refused is not None:
                # The ResourceManager rejects the heartbeat that carries the request, and the
                # Java AM's allocator loop shuts the application down.
                self._begin_shutdown(
                    Outcome(
                        pb.ApplicationState.FINISHED,
                        pb.FinalStatus.FAILED,
                        f"Failure in container allocator:\n{refused}",
                    )
                )
                return
            container.state = C.RUNNING
            container.allocation_order = next(self._allocation_order)
            container.timer = None
            container.start_time = millis()
            container.yarn_container_id = self._next_container_id()
            self._note(f"RUNNING: {container.id} on {container.yarn_container_id}")
            env = container_environment(
                self._settings,
                self.app_id,
                container.yarn_container_id,
                dict(service.spec.env),
                container.env,
                self._skein_environment(service.spec.resources, container.id),
            )
            if not service.initially_running and not service.active(C.REQUESTED):
                service.initially_running = True
                for dependent in service.dependents:
                    self._dependency_running(dependent, service.name)
            self._launching += 1
        process: Process | None = None
        try:
            process = self._launch(container, env)
        except (_localize.LocalizationError, OSError) as exc:
            with self._lock:
                self._finish(container, C.FAILED, f"Failed to start, exception raised: {exc}")
        finally:
            with self._lock:
                self._launching -= 1
                self._changed.notify_all()
                if process is not None:
                    container.process = process
                    if container.state != C.RUNNING or self.finishing:
                        self._nm.terminate(process)

    def _launch(self, container: ContainerRecord, env: Mapping[str, str]) -> Process:
        service = container.service
        cid = container.yarn_container_id
        directory = self.container_dir(cid)
        _localize.prepare(
            directory,
            service.spec.files,  # staged: .skein.sh is among them
            self._cache,
            {".skein.crt": self._cert, ".skein.pem": self._key},
        )
        log_dir = self._settings.log_dir(self.app_id, cid)
        # The staged script redirects itself into <LOG_DIR>/<service>.log; what the launch
        # itself prints goes where YARN 3 puts it.
        command = service.spec.script.replace("<LOG_DIR>", str(log_dir))
        argv, inherited = launch_script(directory, command, env)
        return self._nm.launch(
            argv,
            cwd=directory,
            env=inherited,
            log_path=log_dir / "prelaunch.err",
            description=f"{self.app_id} {container.id}",
            on_exit=functools.partial(self._container_exited, container),
        )

    def _skein_environment(
        self, resources: pb.Resources, container_id: str | None
    ) -> dict[str, str]:
        env = {
            "SKEIN_APPMASTER_ADDRESS": self.address,
            "SKEIN_APPLICATION_ID": self.app_id,
            "SKEIN_RESOURCE_MEMORY": str(resources.memory),
            "SKEIN_RESOURCE_VCORES": str(resources.vcores),
            # Simple (non-Kerberos) authentication, as on a cluster without security.
            "HADOOP_USER_NAME": self._settings.user,
        }
        if container_id is not None:
            env["SKEIN_CONTAINER_ID"] = container_id
        if "LANG" in os.environ:
            env["LANG"] = os.environ["LANG"]
        return env

    def _dependency_running(self, service: ServiceRecord, dependency: str) -> None:
        service.waiting_on.discard(dependency)
        if not service.waiting_on:
            for container in service.active(C.WAITING):
                self._request(container)

    def _container_exited(self, container: ContainerRecord, process: Process) -> None:
        with self._lock:
            # Killed or failed by the AM already (YARN: KILLED_BY_APPMASTER, ignored), or the
            # application is ending and no longer tracks completions.
            if container.state != C.RUNNING or container.process is not process or self.finishing:
                return
            assert process.exit_status is not None
            state, message = completion(process.exit_status)
            self._finish(container, state, message)

    def _finish(self, container: ContainerRecord, state: int, message: str) -> None:
        """Complete a container (Java: ``finishContainer``); under the lock."""
        service = container.service
        if container.state == C.REQUESTED and container.timer is not None:
            container.timer.cancel()
        elif container.state == C.RUNNING:
            container.finish_time = millis()
            if container.process is not None:
                self._nm.terminate(container.process)
        elif container.completed:
            return
        if state == C.FAILED:
            service.failed += 1
        container.state = state
        container.exit_message = message
        self._note(f"{C.State.Name(state)}: {container.id} - {message}")
        for key in sorted(container.owned_keys):
            self._kv.remove_owned(key)
        container.owned_keys.clear()
        max_restarts = service.spec.max_restarts
        if state == C.FAILED and (max_restarts == -1 or service.restarted < max_restarts):
            service.restarted += 1
            self._note(f"RESTARTING: adding new container to replace {container.id}.")
            self._add_container(service, container.env)
        if service.finished or service.failed_for_good:
            self._maybe_shutdown()

    def _maybe_shutdown(self) -> None:
        finished = not self.spec.master.script
        for service in self._services.values():
            finished = finished and service.finished
            if service.failed_for_good:
                self._begin_shutdown(
                    Outcome(
                        pb.ApplicationState.FINISHED,
                        pb.FinalStatus.FAILED,
                        f"Failure in service {service.name}, see logs for more information.",
                    )
                )
                return
        if finished:
            self._begin_shutdown(
                Outcome(
                    pb.ApplicationState.FINISHED,
                    pb.FinalStatus.SUCCEEDED,
                    "Application completed successfully.",
                )
            )

    def _master_exited(self, process: Process) -> None:
        assert process.exit_status is not None
        status, diagnostics = driver_outcome(process.exit_status)
        self._begin_shutdown(Outcome(pb.ApplicationState.FINISHED, status, diagnostics))

    # -- the end ----------------------------------------------------------------------------

    def _begin_shutdown(self, outcome: Outcome) -> bool:
        with self._lock:
            if self._outcome is not None:
                return False
            self._outcome = outcome
            self._note(f"Shutting down: {outcome.diagnostics}")
            thread = threading.Thread(
                target=self._teardown, name=f"standin-am-{self._app_number}-end"
            )
            self._threads.append(thread)
        thread.start()
        return True

    def _teardown(self) -> None:
        assert self._outcome is not None
        try:
            with self._lock:
                # A launch under way registers its process when it returns: wait for it.
                if not self._changed.wait_for(lambda: self._launching == 0, _TEARDOWN_TIMEOUT):
                    raise RuntimeError(f"{self.app_id}: a container launch did not return")
                processes = [self._master] if self._master is not None else []
                for service in self._services.values():
                    for container in service.containers:
                        if container.timer is not None:
                            container.timer.cancel()
                        if container.process is not None:
                            processes.append(container.process)
            for process in processes:
                self._nm.terminate(process)
            for process in processes:
                if not process.wait(_TEARDOWN_TIMEOUT):
                    raise RuntimeError(f"{process!r} outlived its application")
            with self._lock:
                for stream in self._streams:
                    stream.responses.put(WatchStream.DISCONNECT)
            if self._server is not None:
                # A little grace lets the call that ended the application (shutdown) answer.
                self._server.stop(grace=0.5)
            # Like the Java AM, which deletes the application's directory on the file system.
            staging = self._settings.staging_dir(self.app_id)
            if staging.exists():
                shutil.rmtree(staging)
            self._note(
                f"Application finished: {pb.FinalStatus.Type.Name(self._outcome.final_status)}"
            )
        except BaseException as exc:
            self.errors.append(exc)
            raise
        finally:
            self._on_finished(self._outcome)
            self._done.set()

    # -- kv ownership (the store's Owners) --------------------------------------------------

    def check(self, owner: pb.ContainerInstance) -> None:
        self._check_instance(owner.service_name, owner.instance, completed_ok=False)

    def claim(self, owner: pb.ContainerInstance, key: str) -> None:
        self._services[owner.service_name].containers[owner.instance].owned_keys.add(key)

    def release(self, owner: pb.ContainerInstance, key: str) -> None:
        self._services[owner.service_name].containers[owner.instance].owned_keys.discard(key)

    def _check_service(self, name: str) -> ServiceRecord:
        if name not in self._services:
            raise RpcFailure(grpc.StatusCode.INVALID_ARGUMENT, f"Unknown service '{name}'")
        return self._services[name]

    def _check_instance(self, service_name: str, instance: int, completed_ok: bool) -> None:
        service = self._check_service(service_name)
        if not 0 <= instance < len(service.containers):
            raise RpcFailure(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Service '{service_name}' has no container instance {instance}",
            )
        if not completed_ok and service.containers[instance].completed:
            raise RpcFailure(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Container '{service_name}_{instance}' has already completed",
            )

    # -- RPCs -------------------------------------------------------------------------------

    @answers
    def shutdown(self, request: pb.ShutdownRequest, context: grpc.ServicerContext) -> pb.Empty:
        diagnostics = request.diagnostics or "Shutdown requested by user."
        self._begin_shutdown(
            Outcome(pb.ApplicationState.FINISHED, request.final_status, diagnostics)
        )
        return pb.Empty()

    @answers
    def getApplicationSpec(
        self, request: pb.Empty, context: grpc.ServicerContext
    ) -> pb.ApplicationSpec:
        return self.spec

    @answers
    def getContainers(
        self, request: pb.ContainersRequest, context: grpc.ServicerContext
    ) -> pb.ContainersResponse:
        with self._lock:
            services = (
                [self._check_service(name) for name in request.services]
                if request.services
                else list(self._services.values())
            )
            states = set(request.states) or set(ACTIVE)
            return pb.ContainersResponse(
                containers=[
                    c.to_proto() for s in services for c in s.containers if c.state in states
                ]
            )

    @answers
    def killContainer(
        self, request: pb.ContainerInstance, context: grpc.ServicerContext
    ) -> pb.Empty:
        with self._lock:
            self._check_instance(request.service_name, request.instance, completed_ok=True)
            container = self._services[request.service_name].containers[request.instance]
            self._finish(container, C.KILLED, KILLED_MESSAGE)
        return pb.Empty()

    @answers
    def scale(
        self, request: pb.ScaleRequest, context: grpc.ServicerContext
    ) -> pb.ContainersResponse:
        with self._lock:
            service = self._check_service(request.service_name)
            count, delta = request.count, request.delta
            if delta != 0 and count != 0:
                raise RpcFailure(
                    grpc.StatusCode.INVALID_ARGUMENT, "Can't specify both count and delta"
                )
            if delta == 0 and count < 0:
                raise RpcFailure(grpc.StatusCode.INVALID_ARGUMENT, "count must be >= 0")
            active = len(service.active())
            # As in Java, delta 0 means "use count" (so scale(delta=0) scales to 0).
            delta = count - active if delta == 0 else max(delta, -active)
            changed: list[ContainerRecord] = []
            for _ in range(delta):
                changed.append(self._add_container(service, {}))
            for _ in range(-delta):
                victim = (
                    service.active(C.WAITING)
                    or sorted(service.active(C.REQUESTED), key=lambda c: c.request_order)
                    or sorted(service.active(C.RUNNING), key=lambda c: c.allocation_order)
                )[0]
                self._finish(victim, C.KILLED, KILLED_MESSAGE)
                changed.append(victim)
            return pb.ContainersResponse(containers=[c.to_proto() for c in changed])

    @answers
    def addContainer(
        self, request: pb.AddContainerRequest, context: grpc.ServicerContext
    ) -> pb.Container:
        with self._lock:
            service = self._check_service(request.service_name)
            return self._add_container(service, dict(request.env)).to_proto()

    @answers
    def SetProgress(
        self, request: pb.SetProgressRequest, context: grpc.ServicerContext
    ) -> pb.Empty:
        if not 0.0 <= request.progress <= 1.0:
            raise RpcFailure(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"progress must be between 0 and 1, got {request.progress}",
            )
        self.progress = request.progress
        return pb.Empty()

    @answers
    def GetRange(
        self, request: pb.GetRangeRequest, context: grpc.ServicerContext
    ) -> pb.GetRangeResponse:
        with self._lock:
            return self._kv.get_range(request)

    @answers
    def PutKey(self, request: pb.PutKeyRequest, context: grpc.ServicerContext) -> pb.PutKeyResponse:
        with self._lock:
            self._kv.check_put(request)
            return self._kv.put(request)

    @answers
    def DeleteRange(
        self, request: pb.DeleteRangeRequest, context: grpc.ServicerContext
    ) -> pb.DeleteRangeResponse:
        with self._lock:
            return self._kv.delete_range(request)

    @answers
    def Transaction(
        self, request: pb.TransactionRequest, context: grpc.ServicerContext
    ) -> pb.TransactionResponse:
        with self._lock:
            return self._kv.transaction(request)

    def Watch(
        self, request_iterator: Iterator[pb.WatchRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.WatchResponse]:
        stream = WatchStream()
        reader = threading.Thread(
            target=self._read_watch_requests,
            args=(request_iterator, stream),
            name=f"standin-am-{self._app_number}-watch",
        )
        with self._lock:
            if self.finishing:
                context.abort(grpc.StatusCode.UNAVAILABLE, "application master shutting down")
            self._streams.add(stream)
            self._threads = [t for t in self._threads if t.is_alive()] + [reader]
        context.add_callback(lambda: stream.responses.put(WatchStream.END))
        reader.start()
        try:
            while True:
                item = stream.responses.get()
                if item is WatchStream.END:
                    return
                if item is WatchStream.DISCONNECT:
                    # What a client sees when the AM's process is gone.
                    context.abort(grpc.StatusCode.UNAVAILABLE, "application master shut down")
                yield item
        finally:
            self._close_stream(stream)

    def _read_watch_requests(
        self, requests: Iterator[pb.WatchRequest], stream: WatchStream
    ) -> None:
        try:
            for request in requests:
                with self._lock:
                    if request.WhichOneof("request") == "create":
                        watch_id = self._kv.watch(request.create, stream.send)
                        stream.watch_ids.add(watch_id)
                        kind = pb.WatchResponse.CREATE
                    else:
                        watch_id = request.cancel.watch_id
                        if watch_id in stream.watch_ids:
                            stream.watch_ids.discard(watch_id)
                            self._kv.cancel(watch_id)
                        kind = pb.WatchResponse.CANCEL
                    # Sent under the lock: the client pairs CREATE answers with its requests in
                    # order, and no event for the new watch may overtake its CREATE.
                    stream.send(pb.WatchResponse(type=kind, watch_id=watch_id))
        except grpc.RpcError:
            # The call was cancelled: the client went away or the server is stopping. The
            # response side sees the same cancellation; both end here.
            log.debug("%s: watch stream cancelled", self.app_id)
        finally:
            self._close_stream(stream)
            stream.responses.put(WatchStream.END)

    def _close_stream(self, stream: WatchStream) -> None:
        with self._lock:
            stream.open = False
            for watch_id in stream.watch_ids:
                self._kv.cancel(watch_id)
            stream.watch_ids.clear()
            self._streams.discard(stream)

    def _unimplemented(self, context: grpc.ServicerContext) -> None:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "the skein stand-in has no web UI")

    def AddProxy(self, request: pb.Proxy, context: grpc.ServicerContext) -> pb.Empty:
        self._unimplemented(context)
        return pb.Empty()

    def RemoveProxy(
        self, request: pb.RemoveProxyRequest, context: grpc.ServicerContext
    ) -> pb.Empty:
        self._unimplemented(context)
        return pb.Empty()

    def UiInfo(self, request: pb.UIInfoRequest, context: grpc.ServicerContext) -> pb.UIInfoResponse:
        self._unimplemented(context)
        return pb.UIInfoResponse()

    def GetProxies(
        self, request: pb.GetProxiesRequest, context: grpc.ServicerContext
    ) -> pb.GetProxiesResponse:
        self._unimplemented(context)
        return pb.GetProxiesResponse()
