"""Length-prefixed frames over a (TLS) socket: the fast path's wire format.

A frame is a 4-byte big-endian length followed by that many bytes (one serialized protobuf
message). Frames larger than the agreed limit end the connection: a peer that sends one is broken
or hostile, and reading on would mean trusting its length.
"""

from __future__ import annotations

import struct
import threading
from typing import Protocol

_HEADER = struct.Struct(">I")
_CHUNK = 256 * 1024


class ByteStream(Protocol):
    """What frames travel over: a socket, or a ``TlsDuplex``."""

    def recv(self, size: int, /) -> bytes: ...

    def sendall(self, data: bytes, /) -> None: ...


class FrameError(ConnectionError):
    """The peer broke the framing (a frame over the size limit, or a truncated frame)."""


def frame(payload: bytes) -> bytes:
    """``payload`` with its length prefix."""
    return _HEADER.pack(len(payload)) + payload


class FrameReader:
    """Reads whole frames from a socket (one reader thread per socket)."""

    __slots__ = ("_buf", "_max", "_sock")

    def __init__(self, sock: ByteStream, max_bytes: int) -> None:
        self._sock = sock
        self._max = max_bytes
        self._buf = bytearray()

    def read(self) -> bytes | None:
        """The next frame's payload, or ``None`` when the peer closed the connection cleanly."""
        buf = self._buf
        while True:
            if len(buf) >= 4:
                (size,) = _HEADER.unpack_from(buf)
                if size > self._max:
                    raise FrameError(f"frame of {size} bytes exceeds the limit of {self._max}")
                end = 4 + size
                if len(buf) >= end:
                    payload = bytes(buf[4:end])
                    del buf[:end]
                    return payload
            chunk = self._sock.recv(_CHUNK)
            if not chunk:
                if buf:
                    raise FrameError(f"connection closed inside a frame ({len(buf)} bytes read)")
                return None
            buf += chunk


class FrameWriter:
    """Writes frames to a socket from any thread, one whole frame at a time."""

    __slots__ = ("_lock", "_sock")

    def __init__(self, sock: ByteStream) -> None:
        self._sock = sock
        self._lock = threading.Lock()

    def write(self, payload: bytes) -> None:
        """Send one frame (blocks while the socket's buffer is full)."""
        data = frame(payload)
        with self._lock:
            self._sock.sendall(data)
