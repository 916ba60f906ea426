"""A member's connection to the group server (in the driver): registration, the group's
answer (everyone's address, or who is missing), and aborts relayed both ways.

One connection per ``GroupService`` and server, made on first use: TLS with the evaluator's
credentials, accepting only the driver's certificate (``reef-driver``, the job's CA). A reader
thread hands every message from the server to the service; messages to the server are frames
written from any thread (``TlsDuplex`` lets one thread read while others write).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from reef.common import _tls
from reef.common._duplex import TlsDuplex, wrap
from reef.common._frames import FrameReader, FrameWriter
from reef.common._tls import CredentialFiles

_log = logging.getLogger("reef.services.group")

MAX_FRAME = 64 << 20


def split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"{address!r} is not a host:port address")
    return host.strip("[]"), int(port)


class ServerLink:
    """The connection to one group server."""

    def __init__(
        self,
        address: str,
        credentials: CredentialFiles,
        on_message: Callable[[dict[str, Any]], None],
        on_broken: Callable[[str], None],
        timeout: float,
    ) -> None:
        self.address = address
        host, port = split_address(address)
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._duplex: TlsDuplex = wrap(
            sock,
            _tls.client_context(credentials),
            server_side=False,
            server_hostname=_tls.DRIVER_NAME,
        )
        self._duplex.settimeout(None)
        self._writer = FrameWriter(self._duplex)
        self._on_message, self._on_broken = on_message, on_broken
        self._closing = False
        self._thread = threading.Thread(target=self._read, name="group-server-link", daemon=True)
        self._thread.start()

    def send(self, message: dict[str, Any]) -> None:
        self._writer.write(json.dumps(message, separators=(",", ":")).encode())

    def _read(self) -> None:
        reader = FrameReader(self._duplex, MAX_FRAME)
        why = "the group server closed the connection"
        try:
            while True:
                frame = reader.read()
                if frame is None:
                    break
                self._on_message(json.loads(frame))
        except Exception as e:
            why = f"the connection to the group server broke: {e}"
        if not self._closing:
            self._on_broken(why)

    def close(self) -> None:
        self._closing = True
        try:
            self._duplex.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._duplex.close()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)
