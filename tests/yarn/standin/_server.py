"""gRPC plumbing shared by the stand-ins: a mutual-TLS server whose every thread ``stop`` joins,
and the error an RPC handler raises to answer with a status code."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc

# grpc starts these threads itself and offers no handle on them; their names end with the target
# function's name (Python >= 3.10), which is how ``SecureServer`` finds and joins them.
_GRPC_THREAD_TARGETS = ("(_serve)", "(cancel_all_calls_after_grace)")

# Held while a server starts or stops, so that the grpc threads appearing meanwhile are its own.
_LIFECYCLE_LOCK = threading.Lock()

_JOIN_TIMEOUT = 10.0


class RpcFailure(Exception):
    """Raised inside the stand-ins' logic to answer an RPC with ``code`` and ``details``, as the
    Java services answer with ``Status.<CODE>.withDescription(details)``."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


def abort(context: grpc.ServicerContext, failure: RpcFailure) -> None:
    """End the RPC with the failure's status (``context.abort`` raises)."""
    context.abort(failure.code, failure.details)


def _grpc_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.endswith(_GRPC_THREAD_TARGETS)}


class SecureServer:
    """A ``grpc.server`` on ``127.0.0.1:<free port>`` that requires client certificates: the one
    certificate is server certificate, client certificate and trust root, as in skein."""

    def __init__(
        self,
        name: str,
        cert: bytes,
        key: bytes,
        register: Callable[[grpc.Server], None],
        max_workers: int = 32,
    ) -> None:
        self.name = name
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name)
        # Port reuse would let a stale test's server answer on a recycled port.
        self._server = grpc.server(self._pool, options=[("grpc.so_reuseport", 0)])
        register(self._server)
        credentials = grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=cert, require_client_auth=True
        )
        self.port = self._server.add_secure_port("127.0.0.1:0", credentials)
        if self.port == 0:
            raise RuntimeError(f"{name}: could not bind a port on 127.0.0.1")
        self._threads: set[threading.Thread] = set()
        self._stopped = False
        with _LIFECYCLE_LOCK:
            before = _grpc_threads()
            self._server.start()
            self._threads |= _grpc_threads() - before

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self, grace: float = 0.0) -> None:
        """Refuse new calls, cancel the remaining ones after ``grace`` seconds, and join the
        server's threads. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        with _LIFECYCLE_LOCK:
            before = _grpc_threads()
            # With a grace (even 0) grpc stops in a thread of its own and returns at once: the
            # calls still running may wait for other servers' stops, which need the lock.
            stopped = self._server.stop(grace)
            self._threads |= _grpc_threads() - before
        stopped.wait()
        self._pool.shutdown(wait=True)
        for thread in self._threads:
            thread.join(_JOIN_TIMEOUT)
            if thread.is_alive():
                raise RuntimeError(f"{self.name}: grpc thread {thread.name} did not end")


F = TypeVar("F", bound=Callable[..., Any])


def answers(method: F) -> F:
    """Turn an ``RpcFailure`` raised by an RPC method into the call's status."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except RpcFailure as failure:
            abort(context, failure)
            raise AssertionError("unreachable: abort raises") from None

    return wrapper  # type: ignore[return-value]
