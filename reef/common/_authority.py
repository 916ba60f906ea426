"""The job's certificate authority: made fresh for each job, in the driver's memory only. It
issues the driver's server certificate and a client certificate for each evaluator (its common
name is the evaluator's id).

Keys are elliptic-curve (P-256): a certificate costs about a millisecond to make. Only the driver
imports this module (and ``cryptography``); evaluators read the files it wrote.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from reef.common._tls import DRIVER_NAME, PemPair

_VALIDITY = datetime.timedelta(days=365)


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
        usages: list[x509.ObjectIdentifier],
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
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
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
        return self._issue(DRIVER_NAME, [ExtendedKeyUsageOID.SERVER_AUTH], names)

    def issue_evaluator(self, evaluator_id: str) -> PemPair:
        """An evaluator's certificate, whose common name is ``evaluator_id``: a client of the
        driver, and both client and server between evaluators (group communication)."""
        return self._issue(
            evaluator_id,
            [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH],
            [x509.DNSName(_dns_safe(evaluator_id))],
        )


def _dns_safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "-" for c in name) or "evaluator"
