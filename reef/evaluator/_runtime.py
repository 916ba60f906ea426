"""The evaluator's runtime: its connection to the driver, heartbeats, and the control loop.

Messages from the driver (over the gRPC stream, and over the fast path once it is up) are put
back in sending order and handled one at a time on the ``evaluator.control`` Wake stage. The
evaluator exits cleanly when its root context closes or the driver shuts it down, and by itself
when it loses its driver: the stream breaks, or nothing arrives for ``driver_timeout`` seconds.
"""

from __future__ import annotations

import logging
import os
import platform
import queue
import resource
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from reef.common import _tls
from reef.common._bootstrap import Bootstrap
from reef.common._duplex import TlsDuplex, wrap
from reef.common._frames import FrameError, FrameReader, FrameWriter
from reef.common._identity import EvaluatorIdentity, host_key, reachable_host
from reef.common._ordered import OrderedInbox
from reef.common._wire import capture
from reef.errors import StateError
from reef.evaluator._activity import ActivityRunner, Run
from reef.evaluator._context import ConfigurationCache, ContextFailure, ContextStack
from reef.proto import control_pb2 as pb
from reef.proto import control_pb2_grpc as pb_grpc
from reef.wake import PeriodicEvent, SingleThreadStage, StageRegistry, TimerStage

_log = logging.getLogger("reef.evaluator")

EXIT_OK = 0
EXIT_BOOTSTRAP = 2
EXIT_NO_DRIVER = 3
EXIT_LOST_DRIVER = 4
_CLOSE_WAIT = 5.0  # seconds to let the driver acknowledge a goodbye


class _Outbox:
    """Numbers outgoing messages and sends each over the stream or the fast path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = 0
        self.stream: queue.SimpleQueue[pb.EvaluatorMessage | None] = queue.SimpleQueue()
        self.fast: FrameWriter | None = None

    def send(self, message: pb.EvaluatorMessage, *, hot: bool = False) -> None:
        with self._lock:
            self._seq += 1
            message.seq = self._seq
            fast = self.fast if hot else None
            if fast is not None:
                fast.write(message.SerializeToString())
            else:
                self.stream.put(message)

    def requests(self) -> Iterator[pb.EvaluatorMessage]:
        """The request stream of the gRPC call."""
        while True:
            message = self.stream.get()
            if message is None:
                return
            yield message

    def end_stream(self) -> None:
        self.stream.put(None)


class Evaluator:
    """One evaluator process's runtime (``run()`` returns the exit code)."""

    def __init__(self, bootstrap: Bootstrap, workdir: str) -> None:
        self._boot = bootstrap
        self._id = bootstrap.evaluator_id
        self._workdir = workdir
        self._outbox = _Outbox()
        self._done = threading.Event()
        self._exit_code = EXIT_OK
        self._exit_reason = ""
        self._last_heard = time.monotonic()
        self._welcome: pb.Welcome | None = None
        self._welcomed = threading.Event()
        self._registry = StageRegistry()
        self._control: SingleThreadStage[pb.DriverMessage] = SingleThreadStage(
            self._handle_queued, name="evaluator.control", registry=self._registry
        )
        self._pending = 0  # messages queued for (or being handled by) the control stage
        self._pending_lock = threading.Lock()
        self._inbox: OrderedInbox[pb.DriverMessage] = OrderedInbox(self._deliver)
        self._configurations = ConfigurationCache()
        self._contexts = ContextStack(
            self._send_context_message,
            self._configurations,
            bootstrap.main_script,
            EvaluatorIdentity(
                job_id=bootstrap.job_id,
                evaluator_id=bootstrap.evaluator_id,
                host=reachable_host(bootstrap.driver_address),
                host_key=host_key(),
                workdir=os.path.abspath(workdir),
                credentials=_tls.CredentialFiles(
                    os.path.abspath(bootstrap.ca_file),
                    os.path.abspath(bootstrap.cert_file),
                    os.path.abspath(bootstrap.key_file),
                ),
            ),
        )
        self._runner = ActivityRunner(
            self._id, self._send_activity_status, self._send_activity_message, 1 << 30
        )
        self._timer: TimerStage | None = None
        self._fast_sock: TlsDuplex | None = None
        self._channel: grpc.Channel | None = None
        self._threads: list[threading.Thread] = []

    # -- lifecycle ----------------------------------------------------------------------------

    def run(self) -> int:
        """Connect, register, serve the driver until told to stop or cut off; the exit code."""
        files = _tls.CredentialFiles(self._boot.ca_file, self._boot.cert_file, self._boot.key_file)
        try:
            ca, own = files.read()
        except OSError as e:
            _log.error("cannot read the job's credentials: %s", e)
            return EXIT_BOOTSTRAP
        max_bytes = 1 << 30
        options = [
            ("grpc.ssl_target_name_override", _tls.DRIVER_NAME),
            ("grpc.max_send_message_length", max_bytes),
            ("grpc.max_receive_message_length", max_bytes),
            ("grpc.keepalive_time_ms", 10_000),
            ("grpc.keepalive_timeout_ms", 10_000),
        ]
        credentials = grpc.ssl_channel_credentials(ca, own.key, own.cert)
        self._channel = grpc.secure_channel(self._boot.driver_address, credentials, options)
        stub = pb_grpc.ControlStub(self._channel)
        responses = stub.Connect(self._outbox.requests())
        self._spawn(self._read_stream, responses, name="reef-stream-reader")
        self._outbox.send(
            pb.EvaluatorMessage(
                register=pb.Register(
                    evaluator_id=self._id,
                    host=socket.getfqdn(),
                    pid=os.getpid(),
                    reef_version=_reef_version(),
                    python_version=platform.python_version(),
                )
            )
        )
        if not self._welcomed.wait(self._boot.registration_timeout) or self._welcome is None:
            reason = self._exit_reason or (
                f"the driver at {self._boot.driver_address} did not answer within "
                f"{self._boot.registration_timeout} s"
            )
            _log.error("cannot register with the driver: %s", reason)
            self._teardown(graceful=False)
            return EXIT_NO_DRIVER
        welcome = self._welcome
        self._timer = TimerStage(
            self._tick,
            welcome.heartbeat_period,
            initial_delay=welcome.heartbeat_period,
            name="evaluator.heartbeat",
            registry=self._registry,
        )
        if welcome.fast_path_address:
            # In the background: until it is up, everything goes over the stream, and a driver
            # that stops answering mid-handshake is noticed by the heartbeat like any other.
            self._spawn(
                self._connect_fast_path,
                welcome.fast_path_address,
                files,
                int(welcome.max_message_bytes),
                min(10.0, welcome.driver_timeout),
                name="reef-fast-connect",
            )
        _log.info("evaluator %s registered with %s", self._id, self._boot.driver_address)
        self._done.wait()
        graceful = self._exit_code == EXIT_OK
        self._teardown(graceful=graceful)
        _log.info("evaluator %s exits (%d): %s", self._id, self._exit_code, self._exit_reason)
        return self._exit_code

    def _finish(self, code: int, reason: str) -> None:
        if not self._done.is_set():
            self._exit_code, self._exit_reason = code, reason
            self._done.set()

    def _teardown(self, *, graceful: bool) -> None:
        if self._timer is not None:
            self._timer.close()
        if graceful:
            # the goodbye is on its way; the driver ends the stream once it has handled it
            self._outbox.end_stream()
            deadline = time.monotonic() + _CLOSE_WAIT
            for thread in self._threads:
                thread.join(max(0.0, deadline - time.monotonic()))
        if self._fast_sock is not None:
            _shutdown(self._fast_sock)
        if self._channel is not None:
            self._channel.close()
        self._outbox.end_stream()
        self._runner.stop()
        try:
            self._control.close(timeout=_CLOSE_WAIT if graceful else 0)
        except TimeoutError:
            # user code on the control thread (a callback) does not return: leave it behind
            _log.warning("the control loop did not drain; exiting anyway")

    def _spawn(self, target: Any, *args: Any, name: str) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- receiving ----------------------------------------------------------------------------

    def _read_stream(self, responses: Iterator[pb.DriverMessage]) -> None:
        try:
            for message in responses:
                self._received(message)
        except grpc.RpcError as e:
            if not self._done.is_set():
                details = e.details() if hasattr(e, "details") else str(e)
                self._exit_reason = f"the control stream failed: {details}"
        finally:
            self._welcomed.set()  # a registration still waiting gives up at once
            self._finish(EXIT_LOST_DRIVER, self._exit_reason or "the driver closed the stream")

    def _read_fast(self, reader: FrameReader) -> None:
        try:
            while True:
                payload = reader.read()
                if payload is None:
                    break
                self._received(pb.DriverMessage.FromString(payload))
        except (OSError, FrameError, DecodeError) as e:
            if not self._done.is_set():
                _log.error("the fast path failed: %s", e)
        finally:
            self._finish(EXIT_LOST_DRIVER, "the driver closed the fast path")

    def _received(self, message: pb.DriverMessage) -> None:
        self._last_heard = time.monotonic()
        if message.WhichOneof("kind") == "welcome":
            self._welcome = message.welcome
            if message.welcome.max_message_bytes:
                self._runner.max_result = int(message.welcome.max_message_bytes)
            self._inbox.offer(message.seq, message)
            self._welcomed.set()
            return
        self._inbox.offer(message.seq, message)

    def _connect_fast_path(
        self, address: str, files: _tls.CredentialFiles, max_bytes: int, timeout: float
    ) -> None:
        host, _, port = address.rpartition(":")
        try:
            raw = socket.create_connection((host, int(port)), timeout=timeout)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock = wrap(
                raw, _tls.client_context(files), server_side=False, server_hostname=_tls.DRIVER_NAME
            )
            sock.settimeout(None)
        except (OSError, ValueError) as e:
            _log.warning("no fast path to %s (%s): everything goes over the stream", address, e)
            return
        writer = FrameWriter(sock)
        try:
            # the first frame names this evaluator; the driver checks it against the certificate
            writer.write(
                pb.EvaluatorMessage(register=pb.Register(evaluator_id=self._id)).SerializeToString()
            )
        except OSError as e:
            _log.warning("the fast path to %s broke at once (%s)", address, e)
            _shutdown(sock)
            return
        if self._done.is_set():
            _shutdown(sock)
            return
        self._fast_sock = sock
        self._spawn(
            self._read_fast, FrameReader(sock, max_bytes or (1 << 30)), name="reef-fast-reader"
        )
        self._outbox.fast = writer

    # -- sending --------------------------------------------------------------------------------

    def _send(self, message: pb.EvaluatorMessage, *, hot: bool = False) -> None:
        try:
            self._outbox.send(message, hot=hot)
        except OSError as e:
            self._finish(EXIT_LOST_DRIVER, f"cannot reach the driver: {e}")

    def _send_activity_status(self, status: pb.ActivityStatus) -> None:
        self._send(pb.EvaluatorMessage(activity=status), hot=True)

    def _send_activity_message(self, run: Run, data: bytes) -> None:
        self._send(
            pb.EvaluatorMessage(
                message=pb.UserMessage(
                    source=pb.UserMessage.ACTIVITY,
                    source_id=run.activity_id,
                    context_id=run.context_id,
                    data=data,
                )
            ),
            hot=True,
        )

    def _send_context_message(self, context_id: str, data: bytes) -> None:
        self._send(
            pb.EvaluatorMessage(
                message=pb.UserMessage(
                    source=pb.UserMessage.CONTEXT,
                    source_id=context_id,
                    context_id=context_id,
                    data=data,
                )
            ),
            hot=True,
        )

    def _send_context_status(
        self,
        context_id: str,
        parent_id: str,
        state: pb.ContextStatus.State,
        error: BaseException | None = None,
    ) -> None:
        status = pb.ContextStatus(context_id=context_id, parent_id=parent_id, state=state)
        if error is not None:
            status.error.CopyFrom(capture(error, evaluator_id=self._id, context_id=context_id))
        self._send(pb.EvaluatorMessage(context=status))

    def _goodbye(self, reason: str) -> None:
        self._send(pb.EvaluatorMessage(goodbye=pb.Goodbye(reason=reason)))
        self._finish(EXIT_OK, reason)

    # -- heartbeats -------------------------------------------------------------------------------

    def _tick(self, _: PeriodicEvent) -> None:
        welcome = self._welcome
        if welcome is None:
            return
        silent = time.monotonic() - self._last_heard
        if silent > welcome.driver_timeout:
            _log.error("no word from the driver for %.1f s: exiting", silent)
            self._finish(EXIT_LOST_DRIVER, f"lost the driver: silent for {silent:.1f} s")
            return
        current = self._runner.current
        self._send(
            pb.EvaluatorMessage(
                heartbeat=pb.Heartbeat(
                    time=time.time(),
                    rss_bytes=_rss_bytes(),
                    contexts=len(self._contexts),
                    activity_id=current.activity_id if current else "",
                )
            )
        )

    # -- the control loop -------------------------------------------------------------------------

    def _deliver(self, message: pb.DriverMessage) -> None:
        """Messages in order go to the control stage; starting an activity, which only hands it
        to the activity thread, is done at once on the reader's thread when the control stage
        has nothing before it (the inbox's lock keeps everything else in order behind it)."""
        start = message.WhichOneof("kind") == "start_activity"
        with self._pending_lock:
            inline = start and self._pending == 0
            if not inline:
                self._pending += 1
        if inline:
            self._handle(message)
        else:
            self._control.on_next(message)

    def _handle_queued(self, message: pb.DriverMessage) -> None:
        try:
            self._handle(message)
        finally:
            with self._pending_lock:
                self._pending -= 1

    def _handle(self, message: pb.DriverMessage) -> None:
        kind = message.WhichOneof("kind")
        if kind == "add_context":
            self._add_context(message.add_context)
        elif kind == "start_activity":
            self._start_activity(message.start_activity)
        elif kind == "close_context":
            self._close_context(message.close_context.context_id)
        elif kind == "signal":
            sig = message.signal
            self._runner.signal(
                sig.activity_id, sig.kind, sig.message if sig.HasField("message") else None
            )
        elif kind == "message":
            self._user_message(message.message)
        elif kind == "shutdown":
            self._shutdown(message.shutdown.reason)
        elif kind in ("welcome", "ping"):
            pass
        else:
            _log.error("unknown driver message %r: ignored", kind)

    def _add_context(self, add: pb.AddContext) -> None:
        try:
            self._contexts.push(add.context_id, add.parent_id, add.configuration, add.services)
        except ContextFailure as failure:
            _log.error("context %s failed to start: %s", add.context_id, failure)
            self._send_context_status(
                add.context_id, add.parent_id, pb.ContextStatus.FAILED, failure.cause
            )
            if not len(self._contexts):
                self._goodbye(f"root context {add.context_id} failed to start")
            return
        self._send_context_status(add.context_id, add.parent_id, pb.ContextStatus.ACTIVE)
        if add.HasField("activity"):
            self._start_activity(add.activity)

    def _start_activity(self, start: pb.StartActivity) -> None:
        top = self._contexts.top
        memento = start.memento if start.HasField("memento") else None

        def make() -> Any:
            if top is None or top.id != start.context_id:
                raise StateError(
                    f"activity {start.activity_id!r} was sent to context {start.context_id!r}, "
                    f"which is not the top context of evaluator {self._id}"
                )
            conf = self._configurations.get(start.configuration)
            cls = self._contexts.resolve_class(start.activity_class)
            return top.injector.fork(conf).get_instance(cls)

        try:
            self._runner.start(Run(start.activity_id, start.context_id, make, memento))
        except RuntimeError as e:
            status = pb.ActivityStatus(
                activity_id=start.activity_id,
                context_id=start.context_id,
                state=pb.ActivityStatus.FAILED,
            )
            status.error.CopyFrom(
                capture(StateError(str(e)), evaluator_id=self._id, activity_id=start.activity_id)
            )
            self._send_activity_status(status)

    def _close_context(self, context_id: str) -> None:
        context = self._contexts.find(context_id)
        parent_id = context.parent.id if context and context.parent else ""
        try:
            errors = self._contexts.pop(context_id)
        except StateError as e:
            self._send_context_status(context_id, parent_id, pb.ContextStatus.FAILED, e)
            return
        if errors:
            for extra in errors[1:]:
                _log.error("context %s: another service failed to close: %r", context_id, extra)
            self._send_context_status(context_id, parent_id, pb.ContextStatus.FAILED, errors[0])
        else:
            self._send_context_status(context_id, parent_id, pb.ContextStatus.CLOSED)
        if not len(self._contexts):
            self._goodbye("root context closed")

    def _user_message(self, message: pb.UserMessage) -> None:
        if message.source == pb.UserMessage.ACTIVITY:
            self._runner.message(message.source_id, message.data)
            return
        try:
            received = self._contexts.deliver(message.context_id, message.data)
        except Exception as e:
            _log.error("context message for %s failed: %r", message.context_id, e)
            context = self._contexts.find(message.context_id)
            parent = context.parent.id if context and context.parent else ""
            self._send_context_status(message.context_id, parent, pb.ContextStatus.FAILED, e)
            return
        if not received:
            _log.warning(
                "context %s got a driver message of %d bytes but none of its services defines "
                "on_context_message(data): dropped",
                message.context_id,
                len(message.data),
            )

    def _shutdown(self, reason: str) -> None:
        if self._runner.current is None:
            while len(self._contexts):
                top = self._contexts.top
                assert top is not None
                for error in self._contexts.pop(top.id):
                    _log.error(
                        "while shutting down, a service of %s failed to close: %r", top.id, error
                    )
        self._goodbye(f"shut down by the driver: {reason}" if reason else "shut down by the driver")


def _shutdown(sock: TlsDuplex) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already disconnected
    sock.close()


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reef_version() -> str:
    module = sys.modules.get("reef")
    return str(getattr(module, "__version__", "unknown"))
