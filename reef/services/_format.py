"""The bytes of a checkpoint: its payload, its metadata, then a fixed 28-byte trailer.

::

    payload | metadata (JSON) | trailer: magic "REEFCKP\\x01", payload length (u64),
    metadata length (u32), crc32 of payload + metadata (u32), crc32 of the trailer before it (u32)

The trailer is at the end so that a stream can be written without knowing its length; it is
checked before anything is read: a file cut short loses its magic or disagrees with the lengths
it records, a damaged trailer fails its own crc32, damaged contents fail the body's crc32.

Why CRC-32 (zlib's) rather than sha256 or crc32c: the threat is accidental corruption (bit rot,
a truncated copy, a stray write), not an adversary, who could recompute any unkeyed digest. A
CRC-32 detects every burst error of up to 32 bits and misses other random damage with
probability 2**-32, which is what HDFS and ext4 rely on; zlib's runs at ~4 GB/s and releases the
GIL, so hashing on a helper thread beside the I/O (``BackgroundDigest``) costs almost nothing,
while sha256 (~1.7 GB/s with the SHA instructions) cost a fifth of the write throughput of
256 MB checkpoints. crc32c has the same strength but needs a C extension; zlib is in the
standard library. The exact lengths are checked separately.
"""

from __future__ import annotations

import json
import struct
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reef.services._errors import CheckpointCorrupted

MAGIC = b"REEFCKP\x01"
_TRAILER = struct.Struct(">8sQIII")
TRAILER_SIZE = _TRAILER.size  # 28
MAX_METADATA = 64 * 1024
# Below this, a helper thread costs more than it saves.
PARALLEL_MIN = 4 * 1024 * 1024

Metadata = Mapping[str, str | int | float | bool | None]


@dataclass(frozen=True, slots=True)
class Trailer:
    """What a checkpoint's trailer records."""

    payload_size: int
    metadata_size: int
    crc32: int


def encode_trailer(payload_size: int, metadata_size: int, digest: int) -> bytes:
    """The trailer for a payload and metadata of these sizes and this crc32."""
    head = _TRAILER.pack(MAGIC, payload_size, metadata_size, digest, 0)[:-4]
    return head + struct.pack(">I", zlib.crc32(head))


def decode_trailer(raw: bytes, file_size: int, checkpoint_id: str, location: str) -> Trailer:
    """The trailer of a file of ``file_size`` bytes whose last bytes are ``raw``;
    ``CheckpointCorrupted`` saying what is wrong with it."""

    def corrupted(reason: str) -> CheckpointCorrupted:
        return CheckpointCorrupted(checkpoint_id, location, reason)

    if file_size < TRAILER_SIZE or len(raw) != TRAILER_SIZE:
        raise corrupted(
            f"truncated: the file has {file_size} bytes, fewer than a checkpoint's "
            f"{TRAILER_SIZE}-byte trailer"
        )
    magic, payload, metadata, digest, crc = _TRAILER.unpack(raw)
    if magic != MAGIC:
        raise corrupted(
            "truncated or overwritten: its last bytes are not a checkpoint trailer "
            f"(expected the magic {MAGIC!r}, found {magic!r})"
        )
    if zlib.crc32(raw[:-4]) != crc:
        raise corrupted("its trailer is damaged (the trailer's crc32 does not match)")
    if payload + metadata + TRAILER_SIZE != file_size:
        raise corrupted(
            f"truncated or extended: the trailer records {payload} bytes of data and {metadata} "
            f"of metadata, but the file holds {file_size - TRAILER_SIZE}"
        )
    return Trailer(payload, metadata, digest)


def check_digest(trailer: Trailer, actual: int, checkpoint_id: str, location: str) -> None:
    """``CheckpointCorrupted`` unless ``actual`` is the crc32 the trailer records."""
    if actual != trailer.crc32:
        raise CheckpointCorrupted(
            checkpoint_id,
            location,
            f"its contents fail their checksum (crc32 recorded {trailer.crc32:08x}, computed "
            f"{actual:08x})",
        )


def encode_metadata(metadata: Metadata | None) -> bytes:
    """Metadata as stored: compact JSON with sorted keys (``b""`` for none)."""
    if not metadata:
        return b""
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata= takes a mapping of str to JSON scalars, got {metadata!r}")
    for key, value in metadata.items():
        if not isinstance(key, str) or not (
            value is None or isinstance(value, (str, int, float, bool))
        ):
            raise TypeError(
                f"metadata entry {key!r}: {value!r} is not allowed: keys are str, values are "
                "str, int, float, bool or None"
            )
    data = json.dumps(dict(metadata), sort_keys=True, separators=(",", ":")).encode()
    if len(data) > MAX_METADATA:
        raise ValueError(
            f"metadata of {len(data)} bytes exceeds {MAX_METADATA}: keep large data in the payload"
        )
    return data


def decode_metadata(data: bytes, checkpoint_id: str, location: str) -> dict[str, Any]:
    """Stored metadata as a dict (its bytes were verified with the payload)."""
    if not data:
        return {}
    try:
        value = json.loads(data)
    except ValueError as e:
        raise CheckpointCorrupted(checkpoint_id, location, f"unreadable metadata: {e}") from None
    if not isinstance(value, dict):
        raise CheckpointCorrupted(checkpoint_id, location, "its metadata is not a JSON object")
    return value


class BackgroundDigest:
    """The crc32 of a buffer, computed on a helper thread while the caller writes or copies the
    same bytes: ``zlib.crc32`` releases the GIL on large buffers, so on two cores the checksum
    costs almost no extra time. Small buffers are done inline. Always call ``finish()``."""

    def __init__(self, buffer: Any) -> None:
        self._crc = 0
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if memoryview(buffer).nbytes < PARALLEL_MIN:
            self._crc = zlib.crc32(buffer)
            return
        self._thread = threading.Thread(
            target=self._run, args=(buffer,), name="reef-checkpoint-digest", daemon=True
        )
        self._thread.start()

    def _run(self, buffer: Any, start: int = 0) -> None:
        try:
            self._crc = zlib.crc32(buffer, start)
        except BaseException as e:  # handed to finish(), which raises it in the caller
            self._error = e

    def update(self, data: Any) -> None:
        """Add ``data`` (after the buffer given at construction), inline."""
        self._join()
        self._crc = zlib.crc32(data, self._crc)

    def update_during(self, data: Any, io: Callable[[], object]) -> None:
        """Add ``data`` while ``io()`` runs (say, writes the same bytes): on a helper thread if
        ``data`` is large. Returns once both are done; ``data`` must not change meanwhile."""
        self._join()
        if memoryview(data).nbytes < PARALLEL_MIN:
            self._crc = zlib.crc32(data, self._crc)
            io()
            return
        self._thread = threading.Thread(
            target=self._run, args=(data, self._crc), name="reef-checkpoint-digest", daemon=True
        )
        self._thread.start()
        try:
            io()
        finally:
            self._join()

    def finish(self, *more: bytes) -> int:
        """Wait for the checksum, add ``more`` bytes, and return it."""
        self._join()
        for data in more:
            self._crc = zlib.crc32(data, self._crc)
        return self._crc

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise self._error
