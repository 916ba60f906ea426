"""TLS between members, and to the group server, with the job's credentials.

Every member's certificate is signed by the job's CA and names its evaluator id: a member
accepts a peer only if its certificate says it is the member it claims to be (checked against
the group's member list), and connects only to the peer it meant to reach. A plain TCP client,
or one with another CA's certificate, fails the handshake.

Data links use TLS 1.2 with AES-128-GCM (fast with AES instructions, and what the transport
benchmark measures) when the peer allows it; session tickets are off (links are long-lived and
one-way: a ticket nobody reads would sit in the socket).
"""

from __future__ import annotations

import socket
import ssl

from reef.common import _tls
from reef.common._tls import CredentialFiles

_FAST_CIPHERS = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"


def _tune(ctx: ssl.SSLContext) -> ssl.SSLContext:
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.set_ciphers(_FAST_CIPHERS)
    except ssl.SSLError:  # an OpenSSL without them: its defaults
        ctx.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    return ctx


def peer_server(files: CredentialFiles) -> ssl.SSLContext:
    """Accepting a member's data link."""
    ctx = _tune(_tls.server_context(files))
    ctx.num_tickets = 0
    return ctx


def peer_client(files: CredentialFiles) -> ssl.SSLContext:
    """Opening a data link to a member."""
    return _tune(_tls.peer_client_context(files))


def set_buffers(sock: socket.socket, size: int = 4 << 20) -> None:
    """Large socket buffers and no Nagle delay (small control messages go at once)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, size)
        except OSError:
            pass
