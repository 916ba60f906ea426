"""Where checkpoint files live: a local directory, or any fsspec filesystem.

Both commit the same way: write the whole file under a temporary name in the checkpoint folder,
make it durable, then give it its final name in one step, so that a reader sees a checkpoint
whole or not at all.

- Local directories (plain paths and ``file://`` URLs): ``flush`` + ``fsync`` of the file,
  ``os.replace`` (an atomic rename on POSIX), ``fsync`` of the directory: once committed, a
  checkpoint survives a crash of the process and of the machine.
- fsspec stores: the file is closed (uploaded) under its temporary name, then ``fs.mv``: a rename
  on HDFS (atomic in the NameNode) and in ``memory://``; a server-side copy on object stores
  (S3, GCS, Azure), which publishes the new object whole. Durability is the store's.

Loading a local checkpoint maps the file and checksums it on a helper thread while the payload
is copied out of the same pages: committed files are never written again (a commit is a rename
of a complete file), so the bytes checked and the bytes returned are the same, and the checksum
costs no extra time on two cores. Other stores read the payload, then check it.
"""

from __future__ import annotations

import contextlib
import io
import mmap
import os
import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

from reef.services._errors import CheckpointError, CheckpointNotFound
from reef.services._format import (
    PARALLEL_MIN,
    TRAILER_SIZE,
    BackgroundDigest,
    Trailer,
    check_digest,
    decode_trailer,
)


@dataclass(frozen=True, slots=True)
class Entry:
    """A file in a checkpoint folder: its name, its size and when it was last written (seconds
    since the epoch, or ``None`` where the store does not say)."""

    name: str
    size: int
    mtime: float | None


class Positional(Protocol):
    """An open checkpoint file read at given offsets."""

    size: int

    def read_at(self, offset: int, size: int) -> bytes: ...

    def close(self) -> None: ...


class Store(Protocol):
    """A checkpoint folder (see the module docstring for the guarantees of each kind)."""

    location: str

    def names(self) -> list[str]: ...

    def entries(self) -> list[Entry]: ...

    def create_temp(self, name: str, *, buffered: bool = True) -> IO[bytes]: ...

    def sync_data(self, stream: IO[bytes]) -> None: ...

    def finish(self, stream: IO[bytes]) -> None: ...

    def publish(self, temp: str, final: str) -> None: ...

    def sync_folder(self) -> None: ...

    def discard(self, temp: str, stream: IO[bytes] | None) -> None: ...

    def remove(self, name: str) -> bool: ...

    def read(self, name: str, checkpoint_id: str) -> tuple[bytes, bytes, Trailer]: ...

    def open_positional(self, name: str, checkpoint_id: str) -> Positional: ...


def open_store(path: str) -> Store:
    """The store for ``path``: a local directory or ``file://`` URL, else an fsspec URL.
    The folder is created if missing; ``CheckpointError`` if it cannot be."""
    scheme = urlsplit(path).scheme if "://" in path else ""
    if scheme in ("", "file", "local"):
        local = urlsplit(path).path if scheme else path
        return LocalStore(os.path.abspath(os.path.expanduser(local)))
    return FsspecStore(path)


def not_found(location: str, checkpoint_id: str) -> CheckpointNotFound:
    return CheckpointNotFound(
        f"no committed checkpoint {checkpoint_id!r} in {location} (it was never committed, "
        "was deleted, or was removed by the retention policy; list() shows what is there)"
    )


# -- local directories --------------------------------------------------------------------------


class LocalStore:
    """A directory on a local (or mounted) filesystem."""

    def __init__(self, directory: str) -> None:
        self.location = directory
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        except OSError as e:
            raise CheckpointError(
                f"cannot create the checkpoint folder {directory}: {e}; set CheckpointPath to a "
                "writable directory"
            ) from e

    def _path(self, name: str) -> str:
        return os.path.join(self.location, name)

    def names(self) -> list[str]:
        return os.listdir(self.location)

    def entries(self) -> list[Entry]:
        out: list[Entry] = []
        with os.scandir(self.location) as it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # deleted while we listed: not there any more
                    continue
                out.append(Entry(entry.name, st.st_size, st.st_mtime))
        return out

    def create_temp(self, name: str, *, buffered: bool = True) -> IO[bytes]:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        fd = os.open(self._path(name), flags, 0o600)
        # Streams get a buffer for their small writes; save() writes one large buffer.
        return open(fd, "wb", buffering=(1 << 20) if buffered else 0)

    def sync_data(self, stream: IO[bytes]) -> None:
        stream.flush()
        os.fdatasync(stream.fileno())

    def finish(self, stream: IO[bytes]) -> None:
        stream.flush()
        os.fsync(stream.fileno())
        stream.close()

    def publish(self, temp: str, final: str) -> None:
        os.replace(self._path(temp), self._path(final))

    def sync_folder(self) -> None:
        self._sync_directory()

    def _sync_directory(self) -> None:
        # The rename is durable only once the directory's entry is on disk.
        fd = os.open(self.location, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def discard(self, temp: str, stream: IO[bytes] | None) -> None:
        if stream is not None:
            stream.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(temp))

    def remove(self, name: str) -> bool:
        try:
            os.unlink(self._path(name))
        except FileNotFoundError:
            return False
        self._sync_directory()
        return True

    @contextlib.contextmanager
    def _open(self, name: str, checkpoint_id: str) -> Iterator[tuple[int, int, Trailer]]:
        try:
            fd = os.open(self._path(name), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise not_found(self.location, checkpoint_id) from None
        try:
            size = os.fstat(fd).st_size
            raw = os.pread(fd, TRAILER_SIZE, size - TRAILER_SIZE) if size >= TRAILER_SIZE else b""
            yield fd, size, decode_trailer(raw, size, checkpoint_id, self.location)
        finally:
            os.close(fd)

    def read(self, name: str, checkpoint_id: str) -> tuple[bytes, bytes, Trailer]:
        with self._open(name, checkpoint_id) as (fd, size, trailer):
            body = trailer.payload_size + trailer.metadata_size
            if body < PARALLEL_MIN:
                data = os.pread(fd, body, 0)
                digest = BackgroundDigest(data).finish()
                check_digest(trailer, digest, checkpoint_id, self.location)
                return data[: trailer.payload_size], data[trailer.payload_size :], trailer
            with (
                mmap.mmap(fd, size, access=mmap.ACCESS_READ) as mm,
                memoryview(mm) as view,
                view[:body] as hashed,
            ):
                digest_of = BackgroundDigest(hashed)
                try:
                    payload = mm[: trailer.payload_size]
                    metadata = mm[trailer.payload_size : body]
                finally:
                    digest = digest_of.finish()
            check_digest(trailer, digest, checkpoint_id, self.location)
            return payload, metadata, trailer

    def open_positional(self, name: str, checkpoint_id: str) -> Positional:
        try:
            fd = os.open(self._path(name), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise not_found(self.location, checkpoint_id) from None
        return _LocalPositional(fd, os.fstat(fd).st_size)


class _LocalPositional:
    def __init__(self, fd: int, size: int) -> None:
        self._fd = fd
        self.size = size

    def read_at(self, offset: int, size: int) -> bytes:
        return os.pread(self._fd, size, offset)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


# -- fsspec -------------------------------------------------------------------------------------


class FsspecStore:
    """A folder of an fsspec filesystem (``hdfs://``, ``s3://``, ``memory://``, ...)."""

    def __init__(self, url: str) -> None:
        self.location = url
        try:
            from fsspec.core import url_to_fs  # noqa: PLC0415 (only stores named by URL need it)

            self._fs, self._root = url_to_fs(url)
        except ImportError as e:
            hint = (
                " hdfs:// needs pyarrow (pip install pyarrow) and a Hadoop client "
                "(HADOOP_HOME, CLASSPATH, libhdfs)"
                if url.startswith(("hdfs:", "viewfs:"))
                else " install the fsspec implementation for this protocol"
            )
            raise CheckpointError(f"cannot open the checkpoint store {url}: {e};{hint}") from e
        except ValueError as e:
            raise CheckpointError(f"cannot open the checkpoint store {url}: {e}") from e
        try:
            self._fs.makedirs(self._root, exist_ok=True)
        except OSError as e:
            raise CheckpointError(f"cannot create the checkpoint folder {url}: {e}") from e

    def _path(self, name: str) -> str:
        return posixpath.join(self._root, name)

    def names(self) -> list[str]:
        return [entry.name for entry in self.entries()]

    def entries(self) -> list[Entry]:
        self._fs.invalidate_cache(self._root)  # object stores cache listings
        out: list[Entry] = []
        for info in self._fs.ls(self._root, detail=True):
            if info.get("type") == "directory":
                continue
            out.append(
                Entry(posixpath.basename(info["name"].rstrip("/")), int(info["size"]), _mtime(info))
            )
        return out

    def create_temp(self, name: str, *, buffered: bool = True) -> IO[bytes]:
        stream: IO[bytes] = self._fs.open(self._path(name), "wb")
        return stream

    def sync_data(self, stream: IO[bytes]) -> None:
        """Nothing: the store makes the file durable when it is closed."""

    def finish(self, stream: IO[bytes]) -> None:
        stream.close()

    def publish(self, temp: str, final: str) -> None:
        self._fs.mv(self._path(temp), self._path(final))

    def sync_folder(self) -> None:
        """Nothing: the store's rename or copy is as durable as it gets."""

    def discard(self, temp: str, stream: IO[bytes] | None) -> None:
        if stream is not None:
            drop: Callable[[], Any] | None = getattr(stream, "discard", None)
            if drop is not None:  # abandon a pending upload instead of completing it
                drop()
            stream.close()
        with contextlib.suppress(FileNotFoundError):
            self._fs.rm(self._path(temp))

    def remove(self, name: str) -> bool:
        try:
            self._fs.rm(self._path(name))
        except FileNotFoundError:
            return False
        return True

    def _size(self, name: str, checkpoint_id: str) -> int:
        try:
            return int(self._fs.info(self._path(name))["size"])
        except FileNotFoundError:
            raise not_found(self.location, checkpoint_id) from None

    def read(self, name: str, checkpoint_id: str) -> tuple[bytes, bytes, Trailer]:
        size = self._size(name, checkpoint_id)
        with self._fs.open(self._path(name), "rb") as f:
            raw = b""
            if size >= TRAILER_SIZE:
                f.seek(size - TRAILER_SIZE)
                raw = f.read(TRAILER_SIZE)
            trailer = decode_trailer(raw, size, checkpoint_id, self.location)
            f.seek(0)
            payload = f.read(trailer.payload_size)
            digest_of = BackgroundDigest(payload)
            try:
                metadata = f.read(trailer.metadata_size)
            except BaseException:
                digest_of.finish()
                raise
            digest = digest_of.finish(metadata)
        check_digest(trailer, digest, checkpoint_id, self.location)
        return payload, metadata, trailer

    def open_positional(self, name: str, checkpoint_id: str) -> Positional:
        size = self._size(name, checkpoint_id)
        return _FilePositional(self._fs.open(self._path(name), "rb"), size)


class _FilePositional:
    def __init__(self, stream: io.IOBase, size: int) -> None:
        self._stream = stream
        self.size = size

    def read_at(self, offset: int, size: int) -> bytes:
        self._stream.seek(offset)
        data: bytes = self._stream.read(size)
        return data

    def close(self) -> None:
        self._stream.close()


def _mtime(info: dict[str, Any]) -> float | None:
    for key in ("mtime", "created", "LastModified", "last_modified"):
        value = info.get(key)
        if isinstance(value, (int, float)):
            return float(value)
        timestamp = getattr(value, "timestamp", None)
        if callable(timestamp):
            return float(timestamp())
    return None
