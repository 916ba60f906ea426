"""The job's credentials on disk, and TLS contexts made from them. Both ends of every connection
prove themselves (mutual TLS): a process without the job's credentials cannot reach the driver,
and an evaluator obeys no one but its own driver. The credentials are made by the driver's
``JobAuthority`` (``_authority.py``); evaluators only read them.
"""

from __future__ import annotations

import os
import socket
import ssl
from dataclasses import dataclass
from typing import Any, Protocol

DRIVER_NAME = "reef-driver"
"""The name every driver certificate carries, and that evaluators check (whatever the address)."""


@dataclass(frozen=True, slots=True)
class PemPair:
    """A certificate and its private key, PEM-encoded."""

    cert: bytes
    key: bytes


@dataclass(frozen=True, slots=True)
class CredentialFiles:
    """Where one party's credentials are on disk: the job's CA certificate, its own certificate
    and its own key (each readable by the owner only)."""

    ca: str
    cert: str
    key: str

    def read(self) -> tuple[bytes, PemPair]:
        """``(ca_pem, own_pair)``."""
        with open(self.ca, "rb") as ca, open(self.cert, "rb") as cert, open(self.key, "rb") as key:
            return ca.read(), PemPair(cert.read(), key.read())


def write_private(path: str, data: bytes) -> None:
    """Write ``data`` to a new file readable by the owner only (never, even briefly, by others)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def save(directory: str, stem: str, ca_pem: bytes, pair: PemPair) -> CredentialFiles:
    """Write ``ca.pem``, ``<stem>.pem`` and ``<stem>.key`` into ``directory`` (mode 0700)."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    files = CredentialFiles(
        ca=os.path.join(directory, "ca.pem"),
        cert=os.path.join(directory, f"{stem}.pem"),
        key=os.path.join(directory, f"{stem}.key"),
    )
    if not os.path.exists(files.ca):
        write_private(files.ca, ca_pem)
    write_private(files.cert, pair.cert)
    write_private(files.key, pair.key)
    return files


def server_context(files: CredentialFiles) -> ssl.SSLContext:
    """A TLS server context that demands a client certificate signed by the job's CA."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(files.cert, files.key)
    ctx.load_verify_locations(files.ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(files: CredentialFiles) -> ssl.SSLContext:
    """A TLS client context that accepts only a driver certificate signed by the job's CA."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(files.cert, files.key)
    ctx.load_verify_locations(files.ca)
    ctx.check_hostname = True
    return ctx


class _Authenticated(Protocol):
    def getpeercert(self) -> Any: ...


def peer_common_name(sock: _Authenticated) -> str | None:
    """The common name of the certificate the peer of ``sock`` (a TLS connection) presented."""
    cert = sock.getpeercert()
    if not cert:
        return None
    subject: Any = cert.get("subject", ())
    for rdn in subject:
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


def this_host() -> str:
    """This machine's name, as other machines of a cluster would reach it."""
    return socket.getfqdn()


def peer_client_context(files: CredentialFiles) -> ssl.SSLContext:
    """Between evaluators, the connecting side (the accepting side is ``server_context``):
    ``client_context`` without the host-name check, since evaluator certificates name no host;
    the caller checks with ``peer_common_name`` that the certificate names the evaluator it
    meant to reach."""
    ctx = client_context(files)
    ctx.check_hostname = False  # (verification of the chain stays: CERT_REQUIRED)
    return ctx
