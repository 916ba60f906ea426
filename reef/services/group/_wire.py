"""Blocking reads and writes of a data link's frames (one thread per direction of a socket).

A data link carries, per message, a *header frame* (4-byte big-endian length, then JSON) and
the message's bytes: raw on TCP (received straight into their destination), or, over shared
memory, 8-byte slot notices (``slot``, ``nbytes``) while the bytes go through the ring. A
*small* message (``inline(total)``: at most ``INLINE_BYTES`` of data) is always raw, on either
transport, and leaves as one write (``frame``): one TLS record, one system call, no ring slot
and no ack.

The receiving side reads through a ``Reader``: one ``recv_into`` fills its buffer with whatever
has arrived (several frames, notices and acks at once), and large data still goes straight from
the socket into its destination.
"""

from __future__ import annotations

import json
import ssl
import struct
from typing import Any, Protocol

HEADER = struct.Struct(">I")
NOTICE = struct.Struct(">II")  # a shared-memory chunk: slot, byte count
ACK = struct.Struct(">I")  # a freed shared-memory slot
MAX_HEADER = 16 << 20
INLINE_BYTES = 64 << 10
"""Messages with at most this many bytes of data go raw over the socket on every transport."""
READ_BYTES = 64 << 10  # a ``Reader``'s buffer


def inline(total: int) -> bool:
    """Whether a message with ``total`` bytes of data is small (see the module's docstring)."""
    return total <= INLINE_BYTES


class Stream(Protocol):
    def recv_into(self, buffer: memoryview, nbytes: int = ..., /) -> int: ...

    def sendall(self, data: bytes | memoryview, /) -> None: ...


class LinkClosed(ConnectionError):
    """The peer closed the link (between messages: ``clean`` is true)."""

    def __init__(self, message: str, *, clean: bool) -> None:
        super().__init__(message)
        self.clean = clean


def recv_exact(sock: Stream, view: memoryview, *, at_start: bool = False) -> None:
    """Fill ``view`` from ``sock``; ``LinkClosed`` if the peer closes first."""
    got, n = 0, view.nbytes
    while got < n:
        try:
            k = sock.recv_into(view[got:], n - got)
        except (ConnectionError, ssl.SSLEOFError) as e:
            # a reset or a TLS close without close_notify: between messages, the peer's end
            # just closed (its process may have exited with an ack unread); inside one, lost
            if at_start and got == 0:
                raise LinkClosed(f"the peer closed the link ({e})", clean=True) from e
            raise
        if not k:
            raise LinkClosed("the peer closed the link", clean=at_start and got == 0)
        got += k


def recv_small(sock: Stream, size: int, *, at_start: bool = False) -> bytes:
    buf = bytearray(size)
    recv_exact(sock, memoryview(buf), at_start=at_start)
    return bytes(buf)


def header_frame(obj: Any) -> bytes:
    data = json.dumps(obj, separators=(",", ":")).encode()
    return HEADER.pack(len(data)) + data


def frame(obj: Any, buffers: list[memoryview]) -> bytes:
    """A small message as one piece: its header frame, then its buffers' bytes."""
    return b"".join([header_frame(obj), *buffers])


def send_json(sock: Stream, obj: Any) -> None:
    sock.sendall(header_frame(obj))


def recv_json(sock: Stream, *, at_start: bool = False) -> Any:
    (size,) = HEADER.unpack(recv_small(sock, HEADER.size, at_start=at_start))
    if size > MAX_HEADER:
        raise ConnectionError(f"a header of {size} bytes: the peer is broken")
    return json.loads(recv_small(sock, size))


class Reader:
    """Buffered reads of one socket by one thread (see the module's docstring)."""

    __slots__ = ("_buf", "_end", "_start", "_view", "sock")

    def __init__(self, sock: Stream, size: int = READ_BYTES) -> None:
        self.sock = sock
        self._buf = bytearray(size)
        self._view = memoryview(self._buf)
        self._start = self._end = 0

    def _fill(self, *, at_start: bool) -> None:
        """Read what has arrived into the (empty) buffer."""
        self._start = 0
        self._end = 0
        try:
            k = self.sock.recv_into(self._view, len(self._buf))
        except (ConnectionError, ssl.SSLEOFError) as e:
            if at_start:  # see ``recv_exact``
                raise LinkClosed(f"the peer closed the link ({e})", clean=True) from e
            raise
        if not k:
            raise LinkClosed("the peer closed the link", clean=at_start)
        self._end = k

    def read_into(self, view: memoryview, *, at_start: bool = False) -> None:
        """Fill ``view``: from the buffer first, then (large views) straight from the socket."""
        got, n = 0, view.nbytes
        while got < n:
            if self._start == self._end:
                if n - got >= len(self._buf):
                    recv_exact(self.sock, view[got:], at_start=at_start and got == 0)
                    return
                self._fill(at_start=at_start and got == 0)
            k = min(n - got, self._end - self._start)
            view[got : got + k] = self._view[self._start : self._start + k]
            self._start += k
            got += k

    def read_some(self, view: memoryview) -> int:
        """Some bytes into ``view`` (at least one): buffered ones, else straight from the
        socket."""
        if self._start < self._end:
            k = min(view.nbytes, self._end - self._start)
            view[:k] = self._view[self._start : self._start + k]
            self._start += k
            return k
        k = self.sock.recv_into(view, view.nbytes)
        if not k:
            raise LinkClosed("the peer closed the link inside a message", clean=False)
        return k

    def read(self, n: int, *, at_start: bool = False) -> bytes:
        """The next ``n`` bytes (small reads: headers, notices, acks)."""
        if self._end - self._start >= n:
            out = bytes(self._view[self._start : self._start + n])
            self._start += n
            return out
        buf = bytearray(n)
        self.read_into(memoryview(buf), at_start=at_start)
        return bytes(buf)

    def read_json(self, *, at_start: bool = False) -> Any:
        (size,) = HEADER.unpack(self.read(HEADER.size, at_start=at_start))
        if size > MAX_HEADER:
            raise ConnectionError(f"a header of {size} bytes: the peer is broken")
        return json.loads(self.read(size))

    def buffered(self) -> int:
        """Bytes read from the socket and not yet consumed."""
        return self._end - self._start
