"""The driver's core: one job's dispatcher, evaluators, runtime and control plane, wired.

Everything that changes the job's state goes through one Wake stage, ``driver.dispatch``: events
from evaluators, process exits from the runtime, alarms, client messages, liveness ticks. The
user's handlers run there, one at a time. Handles called from handlers (or from any other thread)
take the core's lock, check the request against the evaluator's state machine, and send.

The driver ends by itself when nothing can happen any more: no live evaluator, no outstanding
request, no pending alarm, nothing queued. It then fires ``StopTime``; if the handlers start
nothing new, the job has succeeded.
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reef.common import _settings, _tls
from reef.common._authority import JobAuthority
from reef.common._bootstrap import (
    BOOTSTRAP_FILE,
    CA_FILE,
    CERT_FILE,
    KEY_FILE,
    Bootstrap,
)
from reef.common._job import JobStatus
from reef.common._wire import local_error, remote_error
from reef.driver._control import ControlServer, Disconnected, Incoming
from reef.driver._declare import Driver, handlers_of
from reef.driver._events import (
    ActiveContext,
    AllocatedEvaluator,
    ClientMessage,
    ClosedContext,
    CompletedActivity,
    FailedActivity,
    FailedContext,
    FailedEvaluator,
    ServiceEvent,
    StartTime,
    StopTime,
    SuspendedActivity,
)
from reef.driver._observe import JobObserver
from reef.driver._requestor import Clock, EvaluatorRequest, EvaluatorRequestor, JobMessenger
from reef.driver._services import DriverIdentity, DriverServices
from reef.driver._state import EvaluatorManager, Phase
from reef.driver._status import StatusServer
from reef.driver._submission import ActivityConfiguration, Checker, ContextConfiguration
from reef.errors import RemoteError, StageClosedError, StateError
from reef.proto import control_pb2 as pb
from reef.runtime._api import (
    ContainerExit,
    JobPaths,
    Launch,
    Placement,
    ResourceRequest,
    Runtime,
)
from reef.tang import Configuration, Tang
from reef.tang._naming import main_script_of
from reef.wake import Profiling, RealClock, SingleThreadStage, StageRegistry, TimerStage

_log = logging.getLogger("reef.driver")

PROVIDED = (EvaluatorRequestor, JobMessenger, Clock, DriverServices)
"""What a driver's constructor may ask for besides its configuration."""

_DISCONNECT_GRACE = 1.0  # seconds to wait for a process exit after a stream breaks
_EXIT_WAIT = 30.0  # seconds a failed evaluator's process may take to be reported gone


@dataclass(slots=True)
class Outcome:
    """How the job ended."""

    state: JobStatus = JobStatus.RUNNING
    error: RemoteError | None = None
    messages: list[bytes] = field(default_factory=list)


# -- dispatcher items ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Start:
    pass


@dataclass(frozen=True, slots=True)
class _Call:
    """Run a callable on the dispatcher (alarm callbacks, services' calls)."""

    fn: Callable[[], None]
    what: str = "an alarm callback"


@dataclass(frozen=True, slots=True)
class _Fire:
    event: object


@dataclass(frozen=True, slots=True)
class _Exited:
    evaluator_id: str
    exit: ContainerExit


@dataclass(frozen=True, slots=True)
class _Tick:
    at: float


@dataclass(frozen=True, slots=True)
class _Fail:
    error: RemoteError


class _JobFailed(Exception):
    def __init__(self, error: RemoteError) -> None:
        super().__init__(str(error))
        self.error = error


class DriverCore:
    """One job's driver, in this process."""

    def __init__(
        self,
        driver_class: type[Driver],
        configuration: Configuration,
        runtime: Runtime,
        paths: JobPaths,
        *,
        on_message: Callable[[bytes], None] | None = None,
    ) -> None:
        self.job_id = paths.job_id
        self.paths = paths
        self.runtime = runtime
        self.outcome = Outcome()
        self.done = threading.Event()
        self.registry = StageRegistry()
        self._driver_class = driver_class
        self._configuration = configuration
        self._on_message = on_message
        self._handlers = handlers_of(driver_class)
        self._lock = threading.RLock()  # the job's state; held while handlers run
        self._qlock = threading.Lock()  # the dispatcher's bookkeeping; never held for long
        self._queued = 0  # items posted, not yet taken up
        self._busy = 0  # items being processed
        self._finished = False
        self._stopping_announced = False
        self._evaluators: dict[str, EvaluatorManager] = {}
        self._disconnected: dict[str, float] = {}
        self._outstanding = 0
        self._ids = itertools.count(1)
        self._checker = Checker(Configuration())
        self._driver: Driver | None = None

        injector = Tang.new_injector(configuration)
        self._heartbeat = injector.get_named_parameter(_settings.HeartbeatPeriod)
        self._evaluator_timeout = injector.get_named_parameter(_settings.EvaluatorTimeout)
        self._driver_timeout = injector.get_named_parameter(_settings.DriverTimeout)
        self._registration_timeout = injector.get_named_parameter(_settings.RegistrationTimeout)
        self._max_message = injector.get_named_parameter(_settings.MaxMessageBytes)
        fast_path = injector.get_named_parameter(_settings.FastPath)

        self._authority = JobAuthority(paths.job_id)
        self._credentials = _tls.save(
            os.path.join(paths.root, "credentials"),
            "driver",
            self._authority.ca_pem,
            self._authority.issue_driver([_tls.this_host()]),
        )
        self._server = ControlServer(
            self._credentials,
            deliver=self._post,
            deliver_hot=self._post_or_run,
            welcome=self._welcome,
            host=runtime.driver_host,
            fast_path=fast_path,
            max_message_bytes=self._max_message,
        )
        self._dispatcher: SingleThreadStage[object] = SingleThreadStage(
            self._process,
            name="driver.dispatch",
            registry=self.registry,
            # every event timed: a driver handles thousands a second at most, and a sample costs
            # well under a microsecond next to the tens an event costs
            profiling=Profiling.on(),
        )
        self._clock = RealClock(name="reef-driver-clock")
        self._internal_clock = RealClock(name="reef-driver-internal")
        self._ticker: TimerStage | None = None
        self.observer = JobObserver()
        self.status_url = ""
        self._status_page: StatusServer | None = None
        if injector.get_named_parameter(_settings.StatusPage):
            self._status_page = StatusServer(
                self,
                injector.get_named_parameter(_settings.StatusHost),
                injector.get_named_parameter(_settings.StatusPort),
            )
            self.status_url = self._status_page.url
        self.requestor = EvaluatorRequestor(self._request)
        self.messenger = JobMessenger(self._send_to_client)
        self.clock = Clock(self._clock, lambda fn: self._post(_Call(fn)))
        self.services = DriverServices(
            DriverIdentity(paths.job_id, paths.root, runtime.driver_host, self._credentials),
            post=lambda event: self._post(_Fire(event)),
            call=lambda fn: self._post(_Call(fn, "a driver service's call")),
        )

    @property
    def driver_class(self) -> type[Driver]:
        """The job's driver class."""
        return self._driver_class

    @property
    def configuration(self) -> Configuration:
        """The driver's configuration."""
        return self._configuration

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start serving and fire ``StartTime`` (asynchronously)."""
        if self._status_page is not None:
            self._status_page.start()
        self._server.start()
        self.runtime.start(self, self.paths)
        self._ticker = TimerStage(
            lambda tick: self._post(_Tick(time.monotonic())),
            self._heartbeat,
            clock=self._internal_clock,
            name="driver.liveness",
            registry=self.registry,
        )
        self._post(_Start())

    def kill(self, reason: str = "killed") -> None:
        """End the job now: evaluators are killed, the state is KILLED (unless it has ended)."""
        with self._lock:
            if self._finished:
                return
            self._finish(JobStatus.KILLED, RemoteError("JobKilled", reason))

    def fail(self, error: RemoteError) -> None:
        """End the job now as FAILED with ``error`` (from any thread)."""
        with self._lock:
            if not self._finished:
                self._finish(JobStatus.FAILED, error)

    def shutdown(self) -> None:
        """Release everything the job holds (call once ``done`` is set; not from a handler)."""
        if self._ticker is not None:
            self._ticker.close()
        self.services.close()
        self._internal_clock.close()
        self._clock.close()
        self.runtime.stop()
        self._server.stop()
        self._dispatcher.close()
        if self._status_page is not None:
            self._status_page.stop()

    def client_message(self, data: bytes) -> None:
        """A message from the client for the driver's ``ClientMessage`` handler."""
        self._post(_Fire(ClientMessage(bytes(data))))

    def snapshot(self) -> dict[str, Any]:
        """The job as status displays show it: evaluators, activities, Wake stages (JSON-ready).
        Taken on demand only: when nobody asks, it costs nothing."""
        with self._lock:
            now = time.monotonic()
            evaluators = [
                {
                    "id": m.id,
                    "phase": m.phase.value,
                    "host": m.host or m.placement.host,
                    "pid": m.pid,
                    "memory_mb": m.placement.memory_mb,
                    "cores": m.placement.cores,
                    "contexts": [c.id for c in m.contexts],
                    "activity": m.activity.id if m.activity else None,
                    "uptime_seconds": now - m.launched_at,
                    "rss_mb": m.rss_bytes / 2**20 if m.rss_bytes else None,
                    "log": m.placement.log_path,
                }
                for m in self._evaluators.values()
            ]
            error = self.outcome.error
            snapshot: dict[str, Any] = {
                "job": self.job_id,
                "driver": self._driver_class.__qualname__,
                "state": self.outcome.state.value,
                "error": None
                if error is None
                else {"type": error.type_name, "message": error.message, "ids": error.ids},
                "started": self.observer.started,
                "elapsed_seconds": time.time() - self.observer.started,
                "runtime": {k: _jsonable(v) for k, v in self.runtime.describe().items()},
                "outstanding_requests": self._outstanding,
                "evaluators": evaluators,
                "activities": self.observer.activities(),
                "messages": len(self.outcome.messages),
                "log_dir": self.paths.root,
            }
        snapshot["stages"] = [s.as_dict() for s in self.registry.snapshot()]
        return snapshot

    # -- the dispatcher -------------------------------------------------------------------------

    def _post(self, item: object) -> None:
        with self._qlock:
            if self._finished:
                return
            self._queued += 1
        try:
            self._dispatcher.on_next(item)
        except StageClosedError:
            pass  # the job has ended; late reports have nowhere to go

    def _post_or_run(self, item: object) -> None:
        """Activity traffic from a fast path: handled at once on the calling (reader) thread
        when the dispatcher is idle, saving a thread hand-off on the hot path; queued otherwise.
        Heartbeats never take this way, so a slow handler cannot hide an evaluator's pulse."""
        with self._qlock:
            if self._finished:
                return
            inline = not self._queued and not self._busy
            if inline:
                self._busy += 1
            else:
                self._queued += 1
        if inline:
            try:
                self._run(item)
            finally:
                with self._qlock:
                    self._busy -= 1
            return
        try:
            self._dispatcher.on_next(item)
        except StageClosedError:
            pass

    def _process(self, item: object) -> None:
        with self._qlock:
            self._queued -= 1
            self._busy += 1
        try:
            self._run(item)
        finally:
            with self._qlock:
                self._busy -= 1

    def _run(self, item: object) -> None:
        with self._lock:
            if self._finished:
                return
            try:
                self._handle(item)
                self._check_idle()
            except _JobFailed as failure:
                self._finish(JobStatus.FAILED, failure.error)
            except Exception as e:  # a bug of ours: fail loudly, with the evidence
                _log.exception("internal error while handling %r", item)
                self._finish(JobStatus.FAILED, local_error(e))

    def _handle(self, item: object) -> None:
        if isinstance(item, Incoming):
            self._incoming(item)
        elif isinstance(item, _Exited):
            self._exited(item.evaluator_id, item.exit)
        elif isinstance(item, Disconnected):
            self._disconnect(item)
        elif isinstance(item, _Tick):
            self._tick(item.at)
        elif isinstance(item, _Fire):
            self._fire(item.event)
        elif isinstance(item, _Call):
            self._user_code(item.fn, item.what)
        elif isinstance(item, _Start):
            self._start()
        elif isinstance(item, _Fail):
            raise _JobFailed(item.error)
        else:
            raise TypeError(f"unknown dispatcher item {item!r}")

    def _start(self) -> None:
        injector = Tang.new_injector(
            self._configuration,
            instances={
                EvaluatorRequestor: self.requestor,
                JobMessenger: self.messenger,
                Clock: self.clock,
                DriverServices: self.services,
            },
        )
        try:
            self._driver = injector.get_instance(self._driver_class)
        except Exception as e:
            raise _JobFailed(local_error(e)) from e
        self._fire(StartTime(time.time()))

    def _user_code(self, fn: Callable[[], None], what: str) -> None:
        try:
            fn()
        except Exception as e:
            _log.error("%s raised %s: %s", what, type(e).__name__, e)
            raise _JobFailed(local_error(e)) from e

    def _fire(self, event: object) -> None:
        self.observer.observe(event)
        for observe in self.services.observers_of(type(event)):
            self._user_code(
                lambda observe=observe: observe(event),  # type: ignore[misc]
                f"a driver service observing {type(event).__name__}",
            )
        name = self._handlers.get(type(event))
        if name is not None:
            assert self._driver is not None
            handler = getattr(self._driver, name)
            self._user_code(lambda: handler(event), f"handler {name}({type(event).__name__})")
            return
        if isinstance(event, ServiceEvent):
            self._user_code(event.unhandled, f"{type(event).__name__}.unhandled")
            return
        self._default(event)

    def _default(self, event: object) -> None:
        """REEF's defaults for events nobody handles."""
        try:
            if isinstance(event, (AllocatedEvaluator, ActiveContext)):
                event.close()
            elif isinstance(event, CompletedActivity):
                event.context.close()
            elif isinstance(event, ClosedContext):
                if event.parent is not None:
                    event.parent.close()
            elif isinstance(event, (FailedEvaluator, FailedActivity, FailedContext)):
                raise _JobFailed(event.error)
            elif isinstance(event, SuspendedActivity):
                raise _JobFailed(
                    RemoteError(
                        "UnhandledSuspension",
                        f"activity {event.id} was suspended, but the driver has no "
                        "SuspendedActivity handler to resume it",
                        evaluator_id=event.context.evaluator_id,
                        context_id=event.context.id,
                        activity_id=event.id,
                    )
                )
            else:
                _log.debug("no handler for %r", event)
        except StateError as e:
            _log.warning("default handling of %s: %s", type(event).__name__, e)

    def _check_idle(self) -> None:
        if self._finished:
            return
        if self._working():
            self._stopping_announced = False  # (again) at work: StopTime comes when it ends
            return
        if self._queued or self._busy > 1:
            return  # come back when the queue is drained
        if not self._stopping_announced:
            # Once per idle spell: items that arrive meanwhile (a tick, a late report) do not
            # bring another StopTime unless a handler starts work again.
            self._stopping_announced = True
            self._fire(StopTime(time.time()))
            if self._queued or self._busy > 1 or self._working():
                return  # StopTime's handler started something, or events are waiting
        self._finish(JobStatus.SUCCEEDED, None)

    def _working(self) -> bool:
        """Outstanding requests, evaluators not yet settled, or pending alarms."""
        return bool(
            self._outstanding
            or any(not m.settled for m in self._evaluators.values())
            or self._clock.pending()
        )

    def _finish(self, state: JobStatus, error: RemoteError | None) -> None:
        with self._qlock:
            if self._finished:
                return
            self._finished = True
        self.outcome.state = state
        self.outcome.error = error
        if error is not None:
            _log.error("job %s %s: %s", self.job_id, state.value.lower(), error)
            if error.traceback:
                _log.error("%s", error.traceback)
        else:
            _log.info("job %s %s", self.job_id, state.value.lower())
        self.done.set()

    # -- evaluators: reports --------------------------------------------------------------------

    def _incoming(self, item: Incoming) -> None:
        manager = self._evaluators.get(item.evaluator_id)
        if manager is None or manager.terminal:
            return
        manager.last_heard = item.arrived
        message = item.message
        kind = message.WhichOneof("kind")
        try:
            if kind == "register":
                events = manager.registered(message.register, item.arrived)
            elif kind == "heartbeat":
                manager.rss_bytes = message.heartbeat.rss_bytes
                return
            elif kind == "context":
                events = manager.context_status(message.context)
            elif kind == "activity":
                events = manager.activity_status(message.activity)
            elif kind == "message":
                events = manager.user_message(message.message)
            elif kind == "goodbye":
                manager.said_goodbye(message.goodbye.reason)
                self._server.forget(manager.id)
                return
            elif kind == "failure":
                events = manager.failed(self._remote(manager, message.failure.error))
            else:
                _log.warning("evaluator %s sent an unknown message %r: ignored", manager.id, kind)
                return
        except StateError as e:
            _log.error("evaluator %s: %s (message ignored)", manager.id, e)
            return
        for event in events:
            self._fire(event)

    def _exited(self, evaluator_id: str, exit: ContainerExit) -> None:
        manager = self._evaluators.get(evaluator_id)
        self._disconnected.pop(evaluator_id, None)
        self._server.forget(evaluator_id)
        if manager is None:
            return
        events = manager.exited(exit)
        manager.process_ended = True
        for event in events:
            self._fire(event)

    def _disconnect(self, item: Disconnected) -> None:
        manager = self._evaluators.get(item.evaluator_id)
        if manager is None or manager.terminal or manager.goodbye is not None:
            return
        self._disconnected[item.evaluator_id] = item.arrived
        _log.warning("evaluator %s: %s", item.evaluator_id, item.detail)

    def _tick(self, now: float) -> None:
        for manager in list(self._evaluators.values()):
            if manager.terminal:
                if not manager.process_ended:
                    if not manager.ended_at:
                        manager.ended_at = now
                    elif now - manager.ended_at > _EXIT_WAIT:
                        # the runtime never reported the process's end: stop waiting for it
                        _log.warning("evaluator %s: no end reported by the runtime", manager.id)
                        manager.process_ended = True
                continue
            lost_at = self._disconnected.get(manager.id)
            if lost_at is not None and now - lost_at >= _DISCONNECT_GRACE:
                self._lose(manager, "EvaluatorLost", "lost its connection to the driver")
            elif manager.phase is Phase.LAUNCHING:
                if now - manager.launched_at > self._registration_timeout:
                    self._lose(
                        manager,
                        "EvaluatorLaunchFailure",
                        f"did not connect within {self._registration_timeout:g} s of its launch "
                        "(RegistrationTimeout)",
                    )
            elif manager.phase is not Phase.CLOSING:
                silent = now - manager.last_heard
                if silent > self._evaluator_timeout:
                    self._lose(
                        manager,
                        "EvaluatorTimeout",
                        f"sent nothing for {silent:.1f} s (EvaluatorTimeout is "
                        f"{self._evaluator_timeout:g} s); it was killed",
                    )
                else:
                    connection = self._server.connection(manager.id)
                    if connection is not None:
                        connection.send(pb.DriverMessage(ping=pb.Ping(time=time.time())))

    def _lose(self, manager: EvaluatorManager, kind: str, why: str) -> None:
        self._disconnected.pop(manager.id, None)
        error = RemoteError(
            kind,
            f"evaluator {manager.id} {why}",
            evaluator_id=manager.id,
            log_path=manager.placement.log_path or None,
        )
        events = manager.failed(error)
        self._server.forget(manager.id)
        self.runtime.kill(manager.id)
        for event in events:
            self._fire(event)

    def _remote(self, manager: EvaluatorManager, error: pb.RemoteError) -> RemoteError:
        return remote_error(error, log_path=manager.placement.log_path)

    # -- evaluators: commands (DriverOps) ---------------------------------------------------------

    def _manager(self, evaluator_id: str) -> EvaluatorManager:
        manager = self._evaluators.get(evaluator_id)
        if manager is None:
            raise StateError(f"no evaluator {evaluator_id!r} in this job")
        return manager

    def _send(self, evaluator_id: str, message: pb.DriverMessage, *, hot: bool = False) -> None:
        connection = self._server.connection(evaluator_id)
        if connection is None:
            raise StateError(f"evaluator {evaluator_id} is not connected")
        connection.send(message, hot=hot)

    def submit_context(
        self,
        evaluator_id: str,
        parent_id: str | None,
        context: ContextConfiguration,
        activity: ActivityConfiguration | None,
    ) -> None:
        with self._lock:
            manager = self._manager(evaluator_id)
            parent = manager.context(parent_id) if parent_id is not None else None
            checked = self._checker.context(
                parent.effective if parent else None,
                parent.stack_services if parent else (),
                context,
            )
            checked_activity = (
                self._checker.activity(checked.effective, checked.stack_services, activity)
                if activity is not None
                else None
            )
            self._send(evaluator_id, manager.add_context(parent_id, checked, checked_activity))
            self.observer.shipped_context(evaluator_id, parent_id, checked)
            if checked_activity is not None:
                self.observer.shipped_activity(evaluator_id, checked.id, checked_activity)

    def submit_activity(
        self, evaluator_id: str, context_id: str | None, activity: ActivityConfiguration
    ) -> None:
        with self._lock:
            manager = self._manager(evaluator_id)
            if context_id is None:
                # An activity on a bare evaluator gets an implicit root context.
                root = ContextConfiguration(f"{evaluator_id}-root")
                self.submit_context(evaluator_id, None, root, activity)
                return
            record = manager.context(context_id)
            if record is None:
                raise StateError(f"evaluator {evaluator_id} has no context {context_id!r}")
            checked = self._checker.activity(record.effective, record.stack_services, activity)
            self._send(evaluator_id, manager.start_activity(context_id, checked), hot=True)
            self.observer.shipped_activity(evaluator_id, context_id, checked)

    def close_context(self, evaluator_id: str, context_id: str) -> None:
        with self._lock:
            manager = self._manager(evaluator_id)
            self._send(evaluator_id, manager.close_context(context_id))

    def close_evaluator(self, evaluator_id: str) -> None:
        with self._lock:
            manager = self._manager(evaluator_id)
            message = manager.close("closed by the driver")
            if message is not None:
                self._send(evaluator_id, message)

    def send_to_context(self, evaluator_id: str, context_id: str, data: bytes) -> None:
        with self._lock:
            manager = self._manager(evaluator_id)
            self._send(evaluator_id, manager.to_context(context_id, data), hot=True)

    def send_to_activity(self, evaluator_id: str, activity_id: str, data: bytes) -> None:
        with self._lock:
            manager = self._manager(evaluator_id)
            self._send(evaluator_id, manager.to_activity(activity_id, data), hot=True)

    def signal_activity(
        self, evaluator_id: str, activity_id: str, suspend: bool, message: bytes | None
    ) -> None:
        with self._lock:
            manager = self._manager(evaluator_id)
            self._send(evaluator_id, manager.signal(activity_id, suspend, message), hot=True)

    # -- requests and the runtime (RuntimeHost) ---------------------------------------------------

    def _request(self, request: EvaluatorRequest) -> None:
        resource = ResourceRequest(
            count=request.count,
            memory_mb=request.memory_mb,
            cores=request.cores,
            node_names=tuple(request.node_names),
            rack_names=tuple(request.rack_names),
            relax_locality=request.relax_locality,
            environment=request.environment,
            runtime_name=request.runtime_name,
        )
        self.runtime.check(resource)  # ValueError to the caller: this runtime can never do it
        with self._lock:
            if self._finished:
                raise StateError(f"job {self.job_id} has ended; it cannot request evaluators")
            self._outstanding += resource.count
        self.runtime.request(resource)

    def prepare(self, request: ResourceRequest, placement: Placement) -> Launch:
        """A launch for a new evaluator (called by the runtime)."""
        with self._lock:
            evaluator_id = f"evaluator-{next(self._ids)}"
            self._outstanding = max(0, self._outstanding - 1)
            manager = EvaluatorManager(evaluator_id, placement, self)
            manager.launched_at = time.monotonic()
            self._evaluators[evaluator_id] = manager
            self._server.expect(evaluator_id)
        pair = self._authority.issue_evaluator(evaluator_id)
        main = _main_script(self._driver_class)
        bootstrap = Bootstrap(
            job_id=self.job_id,
            evaluator_id=evaluator_id,
            driver_address=self._server.address,
            main_script=main,
            python_path=python_path(),
            log_level=logging.getLevelName(logging.getLogger("reef").getEffectiveLevel()),
            registration_timeout=self._registration_timeout,
        )
        return Launch(
            evaluator_id=evaluator_id,
            args=("--bootstrap", BOOTSTRAP_FILE),
            files={
                BOOTSTRAP_FILE: bootstrap.to_json(),
                CA_FILE: self._authority.ca_pem,
                CERT_FILE: pair.cert,
                KEY_FILE: pair.key,
            },
            python=request.environment,
        )

    def launched(self, evaluator_id: str, placement: Placement) -> None:
        """The runtime started an evaluator's process."""
        with self._lock:
            manager = self._evaluators.get(evaluator_id)
            if manager is not None:
                manager.placement = placement
                manager.launched_at = time.monotonic()

    def exited(self, evaluator_id: str, exit: ContainerExit) -> None:
        """The runtime reports an evaluator's process has ended."""
        self._post(_Exited(evaluator_id, exit))

    def request_failed(self, request: ResourceRequest, reason: str) -> None:
        """The runtime cannot satisfy a request: the job fails."""
        self._post(_Fail(RemoteError("EvaluatorRequestFailed", f"{reason} (request: {request})")))

    def _welcome(self) -> pb.Welcome:
        return pb.Welcome(
            heartbeat_period=self._heartbeat,
            driver_timeout=self._driver_timeout,
            fast_path_address=self._server.fast_address,
            max_message_bytes=self._max_message,
        )

    def _send_to_client(self, data: bytes) -> None:
        with self._lock:
            self.outcome.messages.append(data)
        if self._on_message is not None:
            self._on_message(data)


def _jsonable(value: object) -> object:
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def _main_script(driver_class: type) -> str | None:
    """The script whose ``__main__`` classes evaluators may have to load: the driver's own
    script if it was loaded from one, else this process's main script."""
    try:
        script = main_script_of(driver_class)
    except ValueError:
        script = None
    if script is not None:
        return script
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    return os.path.abspath(path) if path and os.path.isfile(path) else None


def python_path() -> tuple[str, ...]:
    """The directories of the user's own code on sys.path (not the interpreter's libraries), so
    that evaluators import what the driver imports."""
    roots = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    out: list[str] = []
    for entry in sys.path:
        path = os.path.realpath(entry or os.getcwd())
        if not os.path.isdir(path):
            continue
        if any(path == r or path.startswith(r + os.sep) for r in roots):
            continue
        if path not in out:
            out.append(path)
    return tuple(out)
