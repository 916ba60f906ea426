"""What an evaluator process needs to find and trust its driver: written by the driver into the
evaluator's directory as ``bootstrap.json`` (next to its credentials), read by
``python -m reef.evaluator --bootstrap bootstrap.json``."""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from reef.common._tls import write_private

BOOTSTRAP_FILE = "bootstrap.json"
CA_FILE = "ca.pem"
CERT_FILE = "evaluator.pem"
KEY_FILE = "evaluator.key"
FILES_KEY_VARIABLE = "REEF_EVALUATOR_FILES_KEY"  # YARN: where the files wait in the kv store


class BootstrapError(ValueError):
    """A bootstrap document that is missing, malformed or incomplete."""


@dataclass(frozen=True, slots=True)
class Bootstrap:
    """One evaluator's launch settings."""

    job_id: str
    evaluator_id: str
    driver_address: str  # host:port of the driver's control service
    main_script: str | None = None  # the driver's main script as configurations record it
    main_script_here: str | None = None  # where that script is on this machine, if elsewhere
    python_path: tuple[str, ...] = ()  # prepended to sys.path (the user's script directory)
    log_level: str = "INFO"
    registration_timeout: float = 120.0
    ca_file: str = CA_FILE
    cert_file: str = CERT_FILE
    key_file: str = KEY_FILE

    def to_json(self) -> bytes:
        """The document's bytes."""
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Bootstrap:
        """Parse a document; ``BootstrapError`` says what is wrong."""
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError) as e:
            raise BootstrapError(f"bootstrap document is not JSON: {e}") from None
        if not isinstance(doc, dict):
            raise BootstrapError("bootstrap document must be a JSON object")
        for key in ("job_id", "evaluator_id", "driver_address"):
            if not isinstance(doc.get(key), str) or not doc[key]:
                raise BootstrapError(f"bootstrap document lacks {key!r}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(doc) - known)
        if unknown:
            raise BootstrapError(f"bootstrap document has unknown keys {unknown}")
        doc["python_path"] = tuple(doc.get("python_path") or ())
        try:
            return cls(**doc)
        except TypeError as e:
            raise BootstrapError(f"bootstrap document is malformed: {e}") from None


def encode_files(files: Mapping[str, bytes]) -> bytes:
    """``files`` (name -> content) as one document, for runtimes that cannot write files into
    an evaluator's directory (YARN: the application's key-value store carries it)."""
    doc = {name: base64.b64encode(data).decode("ascii") for name, data in files.items()}
    return json.dumps(doc, separators=(",", ":")).encode()


def write_encoded_files(document: bytes, where: str) -> None:
    """Write the files of ``encode_files``'s ``document`` into the working directory, readable
    by the owner only (``where`` names the document's source in errors)."""
    try:
        files = json.loads(document)
        if not isinstance(files, dict):
            raise ValueError("not a JSON object")
        decoded = {str(k): base64.b64decode(v, validate=True) for k, v in files.items()}
    except (ValueError, TypeError, binascii.Error) as e:
        raise BootstrapError(f"the evaluator's files from {where} are malformed: {e}") from None
    for name, content in decoded.items():
        if os.path.basename(name) != name or name in ("", ".", ".."):
            raise BootstrapError(f"{where} names a file outside the directory: {name!r}")
        if os.path.exists(name):
            os.remove(name)  # a restarted container: the driver's copy wins
        write_private(name, content)
