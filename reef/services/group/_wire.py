"""Blocking reads and writes of a data link's frames (one thread per direction of a socket).

A data link carries, per message, a *header frame* (4-byte big-endian length, then JSON) and
the message's bytes: raw on TCP (received straight into their destination), or, over shared
memory, 8-byte slot notices (``slot``, ``nbytes``) while the bytes go through the ring.
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


def send_json(sock: Stream, obj: Any) -> None:
    data = json.dumps(obj, separators=(",", ":")).encode()
    sock.sendall(HEADER.pack(len(data)) + data)


def recv_json(sock: Stream, *, at_start: bool = False) -> Any:
    (size,) = HEADER.unpack(recv_small(sock, HEADER.size, at_start=at_start))
    if size > MAX_HEADER:
        raise ConnectionError(f"a header of {size} bytes: the peer is broken")
    return json.loads(recv_small(sock, size))
