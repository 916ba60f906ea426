"""Container directories as YARN's NodeManager prepares them: each resource is copied once per
application into a file cache (archives unpacked there) and linked into the container's work
directory under its name; private files (credentials, scripts) are written owner-only."""

from __future__ import annotations

import os
import shutil
import tarfile
import threading
import zipfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from skein.proto import skein_pb2 as pb


class LocalizationError(Exception):
    """A resource could not be localized; the message is the NodeManager's diagnostics."""


def source_path(source: pb.Url | str) -> Path:
    """The local path of a resource: a ``file://`` URL or a plain path, nothing else."""
    if isinstance(source, str):
        parts = urlsplit(source)
        scheme, path = parts.scheme, parts.path
    else:
        scheme, path = source.scheme, source.file
    if scheme not in ("", "file"):
        raise LocalizationError(f'No FileSystem for scheme "{scheme}"')
    return Path(path)


def file_url(path: Path) -> pb.Url:
    return pb.Url(scheme="file", file=str(path))


def _unpack(archive: Path, into: Path) -> None:
    # By name, as YARN's FSDownload does; an unknown extension is localized as a plain file.
    name = archive.name.lower()
    if name.endswith((".jar", ".zip")):
        with zipfile.ZipFile(archive) as z:
            z.extractall(into)
    elif name.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(archive) as t:
            t.extractall(into, filter="tar")  # like tar: absolute symlinks (a venv's python) kept
    else:
        shutil.copy2(archive, into)


class FileCache:
    """One application's resources, each fetched once: ``<root>/<n>/<name>``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._entries: dict[tuple[Path, bool], Path] = {}

    def localize(self, file: pb.File) -> Path:
        source = source_path(file.source)
        archive = file.type == pb.File.ARCHIVE
        with self._lock:
            if (source, archive) in self._entries:
                return self._entries[source, archive]
            if not source.exists():
                raise LocalizationError(f"File file:{source} does not exist")
            target = self.root / str(len(self._entries) + 10) / source.name
            target.parent.mkdir(parents=True)
            if archive:
                _unpack(source, target)
            elif source.is_dir():
                shutil.copytree(source, target, symlinks=True)
            else:
                shutil.copy2(source, target)
            self._entries[source, archive] = target
            return target


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def prepare(
    container_dir: Path,
    files: Mapping[str, pb.File],
    cache: FileCache,
    private: Mapping[str, bytes],
) -> None:
    """Create ``container_dir`` with ``files`` linked in and ``private`` files written."""
    container_dir.mkdir(parents=True)
    for name, data in private.items():
        write_private(container_dir / name, data)
    for name, file in files.items():
        dest = name.removeprefix("./")
        if dest in private:
            continue
        (container_dir / dest).symlink_to(cache.localize(file))
