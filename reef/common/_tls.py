"""The job's credentials: a certificate authority made fresh for each job, a server certificate
for the driver and a client certificate for each evaluator (its common name is the evaluator's
id). Both ends of every connection prove themselves with them (mutual TLS): a process without the
job's credentials cannot reach the driver, and an evaluator obeys no one but its own driver.

Keys are elliptic-curve (P-256): a certificate costs about a millisecond to make.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DRIVER_NAME = "reef-driver"
"""The name every driver certificate carries, and that evaluators check (whatever the address)."""

_VALIDITY = datetime.timedelta(days=365)


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


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class JobAuthority:
    """A certificate authority that lives as long as one job, in the driver's memory only."""

    def __init__(self, job_id: str) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(_name(f"reef job {job_id}"))
            .issuer_name(_name(f"reef job {job_id}"))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.ca_pem = self._cert.public_bytes(serialization.Encoding.PEM)

    def _issue(
        self,
        common_name: str,
        usage: x509.ObjectIdentifier,
        alt_names: list[x509.GeneralName],
    ) -> PemPair:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        )
        cert = builder.sign(self._key, hashes.SHA256())
        return PemPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def issue_driver(self, hosts: Iterable[str] = ()) -> PemPair:
        """The driver's server certificate, valid for ``reef-driver`` and ``hosts``."""
        names: list[x509.GeneralName] = [x509.DNSName(DRIVER_NAME)]
        for host in ("127.0.0.1", "localhost", *hosts):
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        return self._issue(DRIVER_NAME, ExtendedKeyUsageOID.SERVER_AUTH, names)

    def issue_evaluator(self, evaluator_id: str) -> PemPair:
        """A client certificate whose common name is ``evaluator_id``."""
        return self._issue(
            evaluator_id, ExtendedKeyUsageOID.CLIENT_AUTH, [x509.DNSName(_dns_safe(evaluator_id))]
        )


def _dns_safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "-" for c in name) or "evaluator"


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


def peer_common_name(sock: ssl.SSLSocket) -> str | None:
    """The common name of the certificate the peer of ``sock`` presented."""
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
