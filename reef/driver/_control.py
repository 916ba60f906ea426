"""The driver's end of the control plane: the only place where protos meet the driver.

Evaluators connect to a gRPC service (``Control.Connect``, one bidirectional stream each) and,
when the job allows it, to a TLS fast path for activity traffic. Both demand a client certificate
signed by the job's CA whose common name is the evaluator's id; the first message must register
that same id, and only evaluators the driver launched and has not yet heard from may register.
Anything else is refused before it reaches the driver's state.

Messages are numbered per direction; ``OrderedInbox`` puts incoming ones back in order, whichever
channel they took, and hands them to the driver's dispatcher.
"""

from __future__ import annotations

import logging
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from reef.common import _tls
from reef.common._duplex import TlsDuplex, wrap
from reef.common._frames import FrameError, FrameReader, FrameWriter
from reef.common._ordered import OrderedInbox
from reef.proto import control_pb2 as pb
from reef.proto import control_pb2_grpc as pb_grpc

_log = logging.getLogger("reef.driver")

_HANDSHAKE_TIMEOUT = 10.0
_HOT = frozenset({"activity", "message"})  # activity statuses and user messages


class _Reader(threading.local):
    fast = False  # set on fast-path reader threads


_reader = _Reader()


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message from an evaluator, with when it arrived (``time.monotonic()``)."""

    evaluator_id: str
    message: pb.EvaluatorMessage
    arrived: float


@dataclass(frozen=True, slots=True)
class Disconnected:
    """An evaluator's stream ended (``clean``: after its goodbye)."""

    evaluator_id: str
    detail: str
    arrived: float


class Connection:
    """One evaluator's channels: numbers outgoing messages and sends them."""

    def __init__(
        self,
        evaluator_id: str,
        deliver: Callable[[Incoming], None],
        deliver_hot: Callable[[Incoming], None],
    ) -> None:
        self.evaluator_id = evaluator_id
        self._lock = threading.Lock()
        self._seq = 0
        self._stream: queue.SimpleQueue[pb.DriverMessage | None] = queue.SimpleQueue()
        self._fast: FrameWriter | None = None
        self._fast_sock: TlsDuplex | None = None
        self._closed = False

        def route(message: pb.EvaluatorMessage) -> None:
            item = Incoming(evaluator_id, message, time.monotonic())
            if _reader.fast and message.WhichOneof("kind") in _HOT:
                deliver_hot(item)
            else:
                deliver(item)

        self.inbox: OrderedInbox[pb.EvaluatorMessage] = OrderedInbox(route)

    def send(self, message: pb.DriverMessage, *, hot: bool = False) -> None:
        """Number ``message`` and send it (``hot``: over the fast path, if there is one)."""
        with self._lock:
            if self._closed:
                return
            self._seq += 1
            message.seq = self._seq
            fast = self._fast if hot else None
            if fast is None:
                self._stream.put(message)
                return
            try:
                fast.write(message.SerializeToString())
            except OSError as e:
                _log.warning("fast path to %s failed (%s): using the stream", self.evaluator_id, e)
                self._fast = None
                self._stream.put(message)

    def attach_fast(self, sock: TlsDuplex) -> bool:
        """Use ``sock`` for hot messages (once per connection)."""
        with self._lock:
            if self._closed or self._fast is not None:
                return False
            self._fast = FrameWriter(sock)
            self._fast_sock = sock
            return True

    def responses(self) -> Iterator[pb.DriverMessage]:
        """The stream's outgoing messages, until the connection closes."""
        while True:
            message = self._stream.get()
            if message is None:
                return
            yield message

    def close(self) -> None:
        """End the stream and the fast path."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._fast = None
            sock, self._fast_sock = self._fast_sock, None
        self._stream.put(None)
        if sock is not None:
            _close_socket(sock)


class ControlServer:
    """Serves the control plane of one job."""

    def __init__(
        self,
        credentials: _tls.CredentialFiles,
        *,
        deliver: Callable[[Incoming | Disconnected], None],
        deliver_hot: Callable[[Incoming], None] | None = None,
        welcome: Callable[[], pb.Welcome],
        host: str = "127.0.0.1",
        fast_path: bool = True,
        max_message_bytes: int = 512 * 1024 * 1024,
    ) -> None:
        self._credentials = credentials
        self._deliver = deliver
        self._deliver_hot = deliver_hot or deliver
        self._welcome = welcome
        self._host = host
        self._max = max_message_bytes
        self._lock = threading.Lock()
        self._expected: set[str] = set()
        self._connections: dict[str, Connection] = {}
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self.rejected = 0
        ca, own = credentials.read()
        options = [
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.keepalive_time_ms", 10_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
            ("grpc.keepalive_permit_without_calls", 1),
        ]
        self._executor = futures.ThreadPoolExecutor(max_workers=1024, thread_name_prefix="reef-rpc")
        self._server = grpc.server(self._executor, options=options)
        pb_grpc.add_ControlServicer_to_server(_Servicer(self), self._server)
        server_credentials = grpc.ssl_server_credentials(
            [(own.key, own.cert)], root_certificates=ca, require_client_auth=True
        )
        self.port = self._server.add_secure_port(f"{host}:0", server_credentials)
        if not self.port:
            raise OSError(f"cannot listen on {host} for the control plane")
        self._fast_listener: socket.socket | None = None
        self._fast_context: ssl.SSLContext | None = None
        if fast_path:
            self._fast_context = _tls.server_context(credentials)
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, 0))
            listener.listen(128)
            self._fast_listener = listener

    @property
    def address(self) -> str:
        """host:port of the gRPC service."""
        return f"{self._host}:{self.port}"

    @property
    def fast_address(self) -> str:
        """host:port of the fast path ('' when there is none)."""
        if self._fast_listener is None:
            return ""
        return f"{self._host}:{self._fast_listener.getsockname()[1]}"

    def start(self) -> None:
        """Begin serving."""
        self._server.start()
        if self._fast_listener is not None:
            self._spawn(self._accept, name="reef-fast-accept")

    def stop(self) -> None:
        """Close every connection and stop serving; joins the server's threads."""
        with self._lock:
            self._stopping = True
            connections = list(self._connections.values())
        for connection in connections:
            connection.close()
        if self._fast_listener is not None:
            _close_socket(self._fast_listener)
        self._server.stop(grace=None).wait()
        self._executor.shutdown(wait=True)
        for thread in self._threads:
            thread.join(timeout=10)

    def expect(self, evaluator_id: str) -> None:
        """Allow ``evaluator_id`` to register (once)."""
        with self._lock:
            self._expected.add(evaluator_id)

    def forget(self, evaluator_id: str) -> None:
        """Close an evaluator's connection and refuse it from now on."""
        with self._lock:
            self._expected.discard(evaluator_id)
            connection = self._connections.pop(evaluator_id, None)
        if connection is not None:
            connection.close()

    def connection(self, evaluator_id: str) -> Connection | None:
        """The live connection of an evaluator."""
        return self._connections.get(evaluator_id)

    def _spawn(self, target: Any, *args: Any, name: str) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)

    # -- the stream -----------------------------------------------------------------------------

    def _connect(
        self, requests: Iterator[pb.EvaluatorMessage], context: grpc.ServicerContext
    ) -> Iterator[pb.DriverMessage]:
        names = context.auth_context().get("x509_common_name") or [b""]
        common_name = names[0].decode(errors="replace")
        try:
            first = next(requests)
        except (StopIteration, grpc.RpcError):
            return
        if first.WhichOneof("kind") != "register":
            self._refuse(
                context, f"{common_name!r} sent {first.WhichOneof('kind')} before registering"
            )
            return
        evaluator_id = first.register.evaluator_id
        if evaluator_id != common_name:
            self._refuse(
                context,
                f"a client with the certificate of {common_name!r} tried to register as "
                f"{evaluator_id!r}",
            )
            return
        with self._lock:
            if self._stopping or evaluator_id not in self._expected:
                refused = True
            else:
                refused = False
                self._expected.discard(evaluator_id)
                connection = Connection(evaluator_id, self._deliver, self._deliver_hot)
                self._connections[evaluator_id] = connection
        if refused:
            self._refuse(
                context, f"{evaluator_id!r} is not an evaluator this driver is waiting for"
            )
            return
        connection.send(pb.DriverMessage(welcome=self._welcome()))
        connection.inbox.offer(first.seq, first)
        self._spawn(
            self._read, evaluator_id, connection, requests, name=f"reef-read-{evaluator_id}"
        )
        yield from connection.responses()

    def _read(
        self, evaluator_id: str, connection: Connection, requests: Iterator[pb.EvaluatorMessage]
    ) -> None:
        detail = "the evaluator closed its stream"
        try:
            for message in requests:
                connection.inbox.offer(message.seq, message)
        except grpc.RpcError as e:
            code = e.code() if hasattr(e, "code") else None
            detail = f"the stream broke ({code.name if code else e})"
        except Exception as e:  # a message the proto layer cannot decode, and the like
            detail = f"the stream failed: {type(e).__name__}: {e}"
            _log.error("stream of %s: %s", evaluator_id, detail)
        self._deliver(Disconnected(evaluator_id, detail, time.monotonic()))

    def _refuse(self, context: grpc.ServicerContext, why: str) -> None:
        self.rejected += 1
        _log.warning("refused a control connection: %s", why)
        context.abort(grpc.StatusCode.PERMISSION_DENIED, why)

    # -- the fast path --------------------------------------------------------------------------

    def _accept(self) -> None:
        listener = self._fast_listener
        assert listener is not None
        while True:
            try:
                raw, peer = listener.accept()
            except OSError:
                return  # the listener was closed
            self._spawn(self._serve_fast, raw, name=f"reef-fast-{peer[1]}")

    def _serve_fast(self, raw: socket.socket) -> None:
        assert self._fast_context is not None
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.settimeout(_HANDSHAKE_TIMEOUT)
        try:
            sock = wrap(raw, self._fast_context, server_side=True)
        except (OSError, ssl.SSLError) as e:
            self.rejected += 1
            _log.warning("refused a fast-path connection: TLS handshake failed (%s)", e)
            _close_socket(raw)
            return
        common_name = _tls.peer_common_name(sock) or ""
        reader = FrameReader(sock, self._max)
        try:
            hello = pb.EvaluatorMessage.FromString(reader.read() or b"")
        except (OSError, FrameError, DecodeError) as e:
            self._refuse_fast(sock, f"{common_name!r} sent no valid greeting ({e})")
            return
        evaluator_id = hello.register.evaluator_id
        connection = self._connections.get(evaluator_id)
        if evaluator_id != common_name or connection is None:
            self._refuse_fast(
                sock, f"{common_name!r} greeted as {evaluator_id!r}, which is not connected"
            )
            return
        sock.settimeout(None)
        _reader.fast = True  # activity traffic read here may be handled here
        if not connection.attach_fast(sock):
            self._refuse_fast(sock, f"{evaluator_id!r} already has a fast path")
            return
        try:
            while True:
                payload = reader.read()
                if payload is None:
                    return
                message = pb.EvaluatorMessage.FromString(payload)
                connection.inbox.offer(message.seq, message)
        except (OSError, FrameError, DecodeError) as e:
            if not self._stopping:
                _log.warning("fast path of %s ended: %s", evaluator_id, e)

    def _refuse_fast(self, sock: TlsDuplex, why: str) -> None:
        self.rejected += 1
        _log.warning("refused a fast-path connection: %s", why)
        _close_socket(sock)


class _Servicer(pb_grpc.ControlServicer):
    def __init__(self, server: ControlServer) -> None:
        self._server = server

    def Connect(  # the RPC's name
        self, request: Iterator[pb.EvaluatorMessage], context: grpc.ServicerContext
    ) -> Iterator[pb.DriverMessage]:
        return self._server._connect(request, context)


def _close_socket(sock: socket.socket | TlsDuplex) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected (any more)
    sock.close()
