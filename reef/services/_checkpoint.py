"""``CheckpointService``: a context service that saves and loads checkpoints, after REEF's
checkpoint service (create, commit, abort, open, delete), with checksums, listing and retention.

Every commit is atomic (the file is written aside, made durable, then renamed into place: see
``_stores``), every read is verified (lengths and crc32: see ``_format``), and ids sort by commit
time within a series (see ``_ids``).
"""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Annotated, Any

from reef.services import _ids
from reef.services._errors import CheckpointCorrupted, CheckpointError
from reef.services._format import (
    TRAILER_SIZE,
    BackgroundDigest,
    Metadata,
    Trailer,
    check_digest,
    decode_metadata,
    decode_trailer,
    encode_metadata,
    encode_trailer,
)
from reef.services._location import job_checkpoint_folder
from reef.services._stores import Positional, Store, not_found, open_store
from reef.tang import NamedParameter

_log = logging.getLogger("reef.services.checkpoint")

Bytes = bytes | bytearray | memoryview

# A temporary file of a dead process on this host is removed once it is this old: the age guards
# against pids that another pid namespace (a container) reuses.
STALE_TEMP_SECONDS = 60.0
_CHUNK = 8 * 1024 * 1024


class CheckpointPath(NamedParameter[str]):
    """Where a context's ``CheckpointService`` keeps its checkpoints: a local directory (give an
    absolute path) or an fsspec URL (``file://``, ``memory://``, ``hdfs://`` with pyarrow,
    ``s3://`` with s3fs, ...). Every evaluator that resumes another's work must see the same
    folder. Empty (the default): the folder ``checkpoints`` in the job's directory, which the
    local runtime's evaluators find by themselves; other runtimes must set it."""

    default = ""


class CheckpointRetention(NamedParameter[int]):
    """How many committed checkpoints of each series a ``CheckpointService`` keeps: after each
    commit, the oldest beyond this number are deleted (never the one just committed). 0 keeps
    every checkpoint."""

    default = 0


@dataclass(frozen=True, slots=True)
class CheckpointInfo:
    """A committed checkpoint as listed: its ``id``, its ``series``, when it was committed
    (``created_ns``, nanoseconds since the epoch, as recorded in the id) and its ``size`` in the
    store (payload, metadata and trailer)."""

    id: str
    series: str
    created_ns: int
    size: int


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A loaded, verified checkpoint: its ``id``, its ``data`` and the ``metadata`` saved with
    it."""

    id: str
    data: bytes
    metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CheckpointStatistics:
    """What a ``CheckpointService`` has done since it started."""

    committed: int
    aborted: int
    loaded: int
    deleted: int
    corrupted: int
    bytes_written: int
    bytes_read: int


class CheckpointService:
    """Saves and loads checkpoints in the folder named by ``CheckpointPath``.

    List it in a context's services (``checkpoint_context(...)`` does) and ask for it by type in
    an activity's constructor. ``save(data) -> id`` and ``create()`` (a stream committed on
    ``close()``, aborted by an exception in its ``with`` block or by ``abort()``) commit
    atomically: a reader never sees a partial checkpoint, and a crash in the middle of a write
    leaves the checkpoints committed before it intact. ``load(id)`` and ``open(id)`` verify each
    checkpoint's length and crc32 and raise ``CheckpointCorrupted`` rather than return bad
    bytes. Ids sort by commit time within a series (``series=``, ``"default"`` unless given);
    ``list()``, ``latest()`` and ``delete()`` manage them, and ``CheckpointRetention`` keeps the
    last N of each series. Thread-safe.
    """

    def __init__(
        self,
        path: Annotated[str, CheckpointPath] = "",
        retention: Annotated[int, CheckpointRetention] = 0,
    ) -> None:
        if not isinstance(retention, int) or isinstance(retention, bool) or retention < 0:
            raise ValueError(
                f"CheckpointRetention={retention!r} must be a whole number >= 0 (0 keeps all)"
            )
        self._store: Store = open_store(path or job_checkpoint_folder())
        self._retention = retention
        self._lock = threading.Lock()
        self._last_ns = 0
        self._stats = dict.fromkeys(CheckpointStatistics.__dataclass_fields__, 0)
        self._purge_abandoned()

    def __repr__(self) -> str:
        return f"CheckpointService({self.location!r}, retention={self._retention})"

    @property
    def location(self) -> str:
        """The folder (a local path or a URL) holding the checkpoints."""
        return self._store.location

    @property
    def retention(self) -> int:
        """How many checkpoints of each series are kept (0: all)."""
        return self._retention

    # -- writing ----------------------------------------------------------------------------------

    def save(
        self, data: Bytes, *, series: str = _ids.DEFAULT_SERIES, metadata: Metadata | None = None
    ) -> str:
        """Commit ``data`` (with optional ``metadata``: str keys, JSON scalar values) as a new
        checkpoint of ``series``; its id. Atomic: on any error nothing is committed."""
        _ids.check_series(series)
        view = _byte_view(data)
        meta = encode_metadata(metadata)
        temp = _ids.temp_name()
        stream: IO[bytes] | None = None
        try:
            stream = self._store.create_temp(temp, buffered=False)
            digest_of = BackgroundDigest(view)
            try:
                _write_all(stream, view)
                _write_all(stream, meta)
                # Put the bulk on disk while the digest is still being computed.
                self._store.sync_data(stream)
            finally:
                digest = digest_of.finish(meta)
            _write_all(stream, encode_trailer(view.nbytes, len(meta), digest))
            self._store.finish(stream)
            checkpoint_id = self._publish(temp, series)
        except BaseException as e:
            self._abandon(temp, stream)
            raise self._write_error(e, series) from e
        self._committed(checkpoint_id, view.nbytes)
        return checkpoint_id

    def create(
        self, *, series: str = _ids.DEFAULT_SERIES, metadata: Metadata | None = None
    ) -> CheckpointWriter:
        """A writable binary stream for a new checkpoint of ``series``: committed by
        ``close()`` (or ``commit()``, which returns the id; then in ``.id``), aborted by
        ``abort()`` or by an exception leaving its ``with`` block. Nothing is visible before the
        commit, and an aborted or abandoned stream leaves nothing behind."""
        _ids.check_series(series)
        meta = encode_metadata(metadata)
        temp = _ids.temp_name()
        try:
            stream = self._store.create_temp(temp)
        except OSError as e:
            raise self._write_error(e, series) from e
        return CheckpointWriter(self, stream, temp, series, meta)

    def _publish(self, temp: str, series: str) -> str:
        """Name a durable temporary file as the newest checkpoint of ``series``; its id."""
        with self._lock:
            newest = max(
                (
                    _ids.parse_id(cid).created_ns
                    for name in self._store.names()
                    if (cid := _ids.id_of_file(name)) is not None
                    and _ids.parse_id(cid).series == series
                ),
                default=0,
            )
            # Later than anything in the series, even if this host's clock is behind.
            created = max(time.time_ns(), self._last_ns + 1, newest + 1)
            self._last_ns = created
            checkpoint_id = _ids.make_id(series, created)
            self._store.publish(temp, _ids.file_name(checkpoint_id))
        return checkpoint_id

    def _committed(self, checkpoint_id: str, size: int) -> None:
        """What follows a rename into place: make it durable, count it, apply retention."""
        self._count(committed=1, bytes_written=size)
        try:
            self._store.sync_folder()
        except OSError as e:
            raise CheckpointError(
                f"checkpoint {checkpoint_id!r} was committed in {self.location}, but the folder "
                f"could not be synced ({e}): it may not survive a crash of the machine"
            ) from e
        self._retain(_ids.parse_id(checkpoint_id).series, checkpoint_id)

    def _abandon(self, temp: str, stream: IO[bytes] | None) -> None:
        try:
            self._store.discard(temp, stream)
        except OSError as e:  # the original error matters more; the purge retries later
            _log.warning("cannot remove the abandoned checkpoint file %s: %s", temp, e)
        self._count(aborted=1)

    def _write_error(self, e: BaseException, series: str) -> BaseException:
        if isinstance(e, OSError):
            return CheckpointError(
                f"cannot commit a checkpoint of series {series!r} in {self.location}: {e} "
                "(nothing was committed; earlier checkpoints are intact)"
            )
        return e

    def _retain(self, series: str, keep: str) -> None:
        if not self._retention:
            return
        try:
            ids = [info.id for info in self.list(series)]
            # The newest N stay, and so does the one just written, even if a concurrent writer
            # has committed newer ones since.
            kept = {*ids[-self._retention :], keep}
            for cid in (cid for cid in ids if cid not in kept):
                if self._store.remove(_ids.file_name(cid)):
                    self._count(deleted=1)
        except OSError as e:  # the commit stands; the next one retries the cleanup
            _log.warning("retention in %s: cannot delete old checkpoints: %s", self.location, e)

    # -- reading ----------------------------------------------------------------------------------

    def load(self, checkpoint_id: str) -> bytes:
        """The data of a committed checkpoint, verified: ``CheckpointNotFound`` if there is none
        with that id, ``CheckpointCorrupted`` if its bytes fail their length or checksum."""
        return self.read(checkpoint_id).data

    def read(self, checkpoint_id: str) -> Checkpoint:
        """Like ``load``, with the checkpoint's metadata."""
        _ids.parse_id(checkpoint_id)
        try:
            payload, meta, _ = self._store.read(_ids.file_name(checkpoint_id), checkpoint_id)
        except CheckpointCorrupted:
            self._count(corrupted=1)
            raise
        self._count(loaded=1, bytes_read=len(payload))
        return Checkpoint(
            checkpoint_id, payload, decode_metadata(meta, checkpoint_id, self.location)
        )

    def open(self, checkpoint_id: str) -> CheckpointReader:
        """A readable binary stream of a committed checkpoint's data. Its length and trailer
        are checked at once; its checksum when a read reaches the end (that read raises
        ``CheckpointCorrupted`` instead of returning) and, for what was not read, on ``close()``
        (which the end of a ``with`` block calls), so bytes read from a corrupted checkpoint
        never go unreported."""
        _ids.parse_id(checkpoint_id)
        handle = self._store.open_positional(_ids.file_name(checkpoint_id), checkpoint_id)
        try:
            return CheckpointReader(handle, checkpoint_id, self.location, self._count)
        except CheckpointCorrupted:
            handle.close()
            self._count(corrupted=1)
            raise
        except BaseException:
            handle.close()
            raise

    # -- managing ---------------------------------------------------------------------------------

    def delete(self, checkpoint_id: str) -> None:
        """Delete a committed checkpoint; ``CheckpointNotFound`` if there is none."""
        _ids.parse_id(checkpoint_id)
        if not self._store.remove(_ids.file_name(checkpoint_id)):
            raise not_found(self.location, checkpoint_id)
        self._count(deleted=1)

    def list(self, series: str | None = None) -> list[CheckpointInfo]:
        """Committed checkpoints (of ``series``, or of all series), oldest first. Writes in
        progress and files that are not checkpoints are never listed."""
        if series is not None:
            _ids.check_series(series)
        found = []
        for entry in self._store.entries():
            cid = _ids.id_of_file(entry.name)
            if cid is None:
                continue
            parsed = _ids.parse_id(cid)
            if series is None or parsed.series == series:
                found.append(CheckpointInfo(cid, parsed.series, parsed.created_ns, entry.size))
        found.sort(key=lambda info: (info.created_ns, info.id))
        return found

    def latest(self, series: str = _ids.DEFAULT_SERIES) -> CheckpointInfo | None:
        """The newest committed checkpoint of ``series``, or ``None``."""
        found = self.list(series)
        return found[-1] if found else None

    def statistics(self) -> CheckpointStatistics:
        """Counts of what this service has done."""
        with self._lock:
            return CheckpointStatistics(**self._stats)

    def _count(self, **amounts: int) -> None:
        with self._lock:
            for key, value in amounts.items():
                self._stats[key] += value

    def _purge_abandoned(self) -> None:
        """Remove temporary files left by dead processes of this host (an evaluator killed in
        the middle of a write)."""
        host = _ids.this_host()
        now = time.time()
        try:
            entries = self._store.entries()
        except OSError as e:
            raise CheckpointError(f"cannot list the checkpoint folder {self.location}: {e}") from e
        for entry in entries:
            temp = _ids.parse_temp(entry.name)
            if temp is None or temp.host != host or _alive(temp.pid):
                continue
            if entry.mtime is None or now - entry.mtime < STALE_TEMP_SECONDS:
                continue
            try:
                self._store.discard(entry.name, None)
            except OSError as e:
                _log.warning("cannot remove the abandoned checkpoint file %s: %s", entry.name, e)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _write_all(stream: IO[bytes], data: Bytes) -> None:
    """Write all of ``data``: an unbuffered file may write less than asked."""
    view = memoryview(data)
    while view.nbytes:
        written = stream.write(view)
        if written is None:  # a non-blocking stream that could take nothing: not a file
            raise OSError(f"the checkpoint stream {stream!r} accepted no data")
        view = view[written:]


def _byte_view(data: Any) -> memoryview:
    """``data`` as a flat view of bytes, without a copy (any contiguous buffer will do: bytes,
    bytearray, memoryview, a numpy array)."""
    if isinstance(data, str):
        raise TypeError("a checkpoint holds bytes, not str: encode it first")
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(
            f"a checkpoint holds bytes (or another buffer), got {type(data).__name__}; "
            "serialize it first (e.g. pickle.dumps, numpy's tobytes)"
        ) from None
    if not view.c_contiguous:
        raise ValueError("a checkpoint's data must be a contiguous buffer (try numpy's tobytes)")
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


class CheckpointWriter:
    """A writable binary stream for one checkpoint (from ``CheckpointService.create()``).

    ``write`` appends; ``close()`` or ``commit()`` commits (``commit`` returns the id, also in
    ``.id`` afterwards); ``abort()`` discards. As a context manager it commits on a clean exit
    and aborts on an exception. A writer dropped without either is aborted, never committed."""

    def __init__(
        self, service: CheckpointService, stream: IO[bytes], temp: str, series: str, meta: bytes
    ) -> None:
        self._service = service
        self._stream: IO[bytes] | None = stream
        self._temp = temp
        self._series = series
        self._meta = meta
        self._checksum = BackgroundDigest(b"")
        self._size = 0
        self.id: str | None = None

    @property
    def closed(self) -> bool:
        """Whether the writer was committed or aborted."""
        return self._stream is None

    def writable(self) -> bool:
        """Always true (binary streams' protocol)."""
        return True

    def readable(self) -> bool:
        """Always false (binary streams' protocol)."""
        return False

    def seekable(self) -> bool:
        """Always false: checkpoints are written front to back."""
        return False

    def tell(self) -> int:
        """Bytes written so far."""
        return self._size

    def flush(self) -> None:
        """Nothing to do: a checkpoint is made durable when it is committed."""

    def write(self, data: Bytes) -> int:
        """Append ``data``; the number of bytes written."""
        if self._stream is None:
            raise ValueError("write to a checkpoint writer that was committed or aborted")
        view = _byte_view(data)
        stream = self._stream
        try:
            # Large pieces (numpy's are 16 MiB) are checksummed beside their write.
            self._checksum.update_during(view, lambda: _write_all(stream, view))
        except OSError as e:
            self.abort()
            raise self._service._write_error(e, self._series) from e
        self._size += view.nbytes
        return view.nbytes

    def commit(self) -> str:
        """Commit what was written as a new checkpoint; its id."""
        if self.id is not None:
            return self.id
        stream = self._stream
        if stream is None:
            raise ValueError("commit() of a checkpoint writer that was aborted")
        service = self._service
        try:
            digest = self._checksum.finish(self._meta)
            stream.write(self._meta)
            stream.write(encode_trailer(self._size, len(self._meta), digest))
            service._store.finish(stream)
            checkpoint_id = service._publish(self._temp, self._series)
        except BaseException as e:
            self._stream = None
            service._abandon(self._temp, stream)
            raise service._write_error(e, self._series) from e
        self._stream = None
        self.id = checkpoint_id
        service._committed(checkpoint_id, self._size)
        return checkpoint_id

    def close(self) -> None:
        """Commit (binary streams' protocol); nothing if already committed or aborted."""
        if self._stream is not None:
            self.commit()

    def abort(self) -> None:
        """Discard what was written; nothing is committed."""
        stream, self._stream = self._stream, None
        if stream is not None:
            self._service._abandon(self._temp, stream)

    def __enter__(self) -> CheckpointWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        if getattr(self, "_stream", None) is not None:
            _log.warning(
                "a checkpoint writer of series %r was dropped without close(): aborted",
                self._series,
            )
            self.abort()


class CheckpointReader(io.RawIOBase):
    """A readable, seekable binary stream of one checkpoint's data (from
    ``CheckpointService.open()``); see there for when the checksum is verified."""

    def __init__(
        self,
        handle: Positional,
        checkpoint_id: str,
        location: str,
        count: Callable[..., None],
    ) -> None:
        super().__init__()
        self._handle = handle
        self._id = checkpoint_id
        self._location = location
        self._count = count
        raw = b""
        if handle.size >= TRAILER_SIZE:
            raw = handle.read_at(handle.size - TRAILER_SIZE, TRAILER_SIZE)
        self._trailer: Trailer = decode_trailer(raw, handle.size, checkpoint_id, location)
        self._size = self._trailer.payload_size
        self._pos = 0
        self._checksum = BackgroundDigest(b"")
        self._hashed = 0  # the digest covers the data up to here
        self._verified = False
        self._verify_on_close = True

    @property
    def checkpoint_id(self) -> str:
        """The id of the checkpoint being read."""
        return self._id

    def readable(self) -> bool:
        """Always true."""
        return True

    def seekable(self) -> bool:
        """Always true; reads out of order are verified on ``close()``."""
        return True

    def tell(self) -> int:
        """The position in the checkpoint's data."""
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move within the checkpoint's data (clamped to its bounds)."""
        bases = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}
        if whence not in bases:
            raise ValueError(f"whence={whence!r}: use os.SEEK_SET, SEEK_CUR or SEEK_END")
        self._pos = min(max(0, bases[whence] + offset), self._size)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer``; 0 at the end of the data."""
        if self.closed:
            raise ValueError("read from a closed checkpoint reader")
        target = memoryview(buffer).cast("B")
        n = min(target.nbytes, self._size - self._pos)
        if n <= 0:
            return 0
        data = self._handle.read_at(self._pos, n)
        if len(data) != n:
            self._count(corrupted=1)
            raise CheckpointCorrupted(self._id, self._location, "the file shrank while being read")
        if self._pos == self._hashed:
            self._checksum.update(data)
            self._hashed += n
        if self._pos + n == self._size:
            self._verify()  # before the last bytes are handed out
        target[:n] = data
        self._pos += n
        return n

    def _verify(self) -> None:
        if self._verified:
            return
        end = self._trailer.payload_size + self._trailer.metadata_size
        while self._hashed < end:
            data = self._handle.read_at(self._hashed, min(_CHUNK, end - self._hashed))
            if not data:
                break
            self._checksum.update(data)
            self._hashed += len(data)
        try:
            check_digest(self._trailer, self._checksum.finish(), self._id, self._location)
        except CheckpointCorrupted:
            self._count(corrupted=1)
            raise
        self._verified = True
        self._count(loaded=1, bytes_read=self._size)

    def close(self) -> None:
        """Verify what was not read (unless the reader is being dropped) and close."""
        if self.closed:
            return
        try:
            if self._verify_on_close:
                self._verify()
        finally:
            self._handle.close()
            super().close()

    def __del__(self) -> None:
        self._verify_on_close = False
        super().__del__()
