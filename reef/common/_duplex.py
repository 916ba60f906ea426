"""A TLS connection that one thread reads while other threads write.

``ssl.SSLSocket`` cannot be used that way: OpenSSL does not allow ``SSL_read`` and ``SSL_write``
on one connection at the same time, and with TLS 1.3 doing so loses records now and then (a
write that reports success whose bytes never reach the socket), which stalls the fast path of
an evaluator for good. Here the TLS state is an ``ssl.SSLObject`` over memory buffers, touched
only under a lock and only for memory work (encrypting, decrypting); the blocking socket
operations happen outside it. Records leave in the order they were made: whoever makes records
appends them to one queue, and one sender at a time drains it into the socket.
"""

from __future__ import annotations

import socket
import ssl
import threading

_CHUNK = 256 * 1024  # bytes read from the socket at a time
_SLICE = 1024 * 1024  # plaintext encrypted per turn of the lock (large messages interleave)


class TlsDuplex:
    """TLS over a connected blocking socket: ``recv`` from one thread, ``sendall`` from any.

    Call ``handshake`` first (from one thread; the socket's timeout bounds it)."""

    __slots__ = ("_in", "_out", "_pending", "_send_lock", "_sock", "_tls", "_tls_lock")

    def __init__(
        self,
        sock: socket.socket,
        context: ssl.SSLContext,
        *,
        server_side: bool,
        server_hostname: str | None = None,
    ) -> None:
        self._sock = sock
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._tls = context.wrap_bio(
            self._in, self._out, server_side=server_side, server_hostname=server_hostname
        )
        self._tls_lock = threading.Lock()  # the SSLObject and _pending
        self._send_lock = threading.Lock()  # the socket's sending side
        self._pending = bytearray()  # records made, in order, not yet sent

    # -- setting up ---------------------------------------------------------------------------

    def handshake(self) -> None:
        """Complete the TLS handshake (``ssl.SSLError`` if the peer is refused or refuses)."""
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._send_direct()
                data = self._sock.recv(_CHUNK)
                if not data:
                    raise ConnectionError(
                        "the peer closed the connection during the handshake"
                    ) from None
                self._in.write(data)
        self._send_direct()  # the last flight (and a TLS 1.3 server's session tickets)

    def _send_direct(self) -> None:
        data = self._out.read()
        if data:
            self._sock.sendall(data)

    def getpeercert(self) -> dict[str, object] | None:
        """The peer's certificate, decoded (as ``ssl.SSLSocket.getpeercert``)."""
        cert = self._tls.getpeercert()
        return dict(cert) if cert else None

    def settimeout(self, seconds: float | None) -> None:
        """The socket's timeout for blocking operations."""
        self._sock.settimeout(seconds)

    # -- data ---------------------------------------------------------------------------------

    def recv(self, size: int) -> bytes:
        """Up to ``size`` bytes of plaintext; ``b""`` once the peer has closed (one thread)."""
        while True:
            with self._tls_lock:
                try:
                    data: bytes | None = self._tls.read(size)
                except ssl.SSLWantReadError:
                    data = None
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    return b""
                made = self._out.read()  # reading may answer the peer (TLS 1.3 key updates)
                if made:
                    self._pending += made
            if made:
                self._flush(blocking=False)
            if data:
                return data
            raw = self._sock.recv(_CHUNK)
            with self._tls_lock:
                if raw:
                    self._in.write(raw)
                else:
                    self._in.write_eof()  # a peer that closed without close_notify: EOF as well

    def sendall(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt and send all of ``data`` (callers serialize whole messages themselves)."""
        view = memoryview(data)
        while view:
            piece, view = view[:_SLICE], view[_SLICE:]
            with self._tls_lock:
                while piece:
                    written = self._tls.write(piece)
                    piece = piece[written:]
                self._pending += self._out.read()
            self._flush(blocking=True)

    def _flush(self, *, blocking: bool) -> None:
        """Send the queued records. A sender that finds another at work leaves its records to
        it (``blocking=False``): that one looks again after letting go of the socket."""
        while True:
            if not self._send_lock.acquire(blocking=blocking):
                return
            try:
                while True:
                    with self._tls_lock:
                        chunk = bytes(self._pending)
                        self._pending.clear()
                    if not chunk:
                        break
                    self._sock.sendall(chunk)
            finally:
                self._send_lock.release()
            with self._tls_lock:
                if not self._pending:
                    return

    # -- ending -------------------------------------------------------------------------------

    def shutdown(self, how: int) -> None:
        """Shut the socket down (a reader blocked in ``recv`` returns)."""
        self._sock.shutdown(how)

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()


def wrap(
    sock: socket.socket,
    context: ssl.SSLContext,
    *,
    server_side: bool,
    server_hostname: str | None = None,
) -> TlsDuplex:
    """``sock`` with TLS, handshake done (``ssl.SSLError`` or ``OSError`` if it fails; the
    socket is then closed)."""
    duplex = TlsDuplex(sock, context, server_side=server_side, server_hostname=server_hostname)
    try:
        duplex.handshake()
    except BaseException:
        sock.close()
        raise
    return duplex
