"""Finding a data set's files and their sizes: local paths and fsspec URLs, globs and folders.

A local path is made absolute (in the driver, where it is given); an fsspec URL stays a URL
(``fs.unstrip_protocol``), so evaluators open the same file. A folder means the files under it,
except hidden and bookkeeping files (names starting with ``.`` or ``_``, as Hadoop's
``_SUCCESS``); a glob means its matches. Sizes come from ``fs.size``.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reef.services.data._errors import DataError


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A file of a data set: its ``url`` (an absolute local path or an fsspec URL) and its
    ``size`` in bytes."""

    url: str
    size: int


def is_url(path: str) -> bool:
    return "://" in path


def open_fs(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path within it; ``DataError`` if the protocol
    is unknown or its implementation is not installed."""
    try:
        from fsspec.core import url_to_fs  # noqa: PLC0415 (fsspec loads many modules)

        fs, path = url_to_fs(url)
    except (ImportError, ValueError) as e:
        raise DataError(
            f"cannot open {url}: {e} (install the fsspec implementation for this protocol)"
        ) from e
    return fs, path


def is_local(fs: Any) -> bool:
    protocol = fs.protocol
    names = protocol if isinstance(protocol, (tuple, list)) else (protocol,)
    return "file" in names or "local" in names


def list_files(paths_or_urls: str | Sequence[str]) -> list[FileInfo]:
    """The files named by ``paths_or_urls`` (each a file, a folder or a glob), in the order
    given (a folder's or glob's files sorted by name), with their sizes."""
    items = [paths_or_urls] if isinstance(paths_or_urls, str) else list(paths_or_urls)
    if not items:
        raise DataError("no paths or URLs given: name at least one file, folder or glob")
    found: list[FileInfo] = []
    for item in items:
        if not isinstance(item, str) or not item:
            raise DataError(f"{item!r} is not a path or URL (give a non-empty str)")
        name = item if is_url(item) else os.path.abspath(os.path.expanduser(item))
        fs, path = open_fs(name)
        for match in _expand(fs, path, item):
            url = match if not is_url(item) else fs.unstrip_protocol(match)
            try:
                found.append(FileInfo(url, int(fs.size(match))))
            except OSError as e:
                raise DataError(f"cannot read the size of {url}: {e}") from e
    return found


def _expand(fs: Any, path: str, given: str) -> list[str]:
    try:
        if any(c in path for c in "*?["):
            matches = sorted(p for p in fs.glob(path) if not fs.isdir(p))
            if not matches:
                raise DataError(f"no file matches {given}")
            return matches
        if fs.isdir(path):
            files = sorted(
                p
                for p in fs.find(path)
                if not any(part.startswith((".", "_")) for part in _below(p, path))
            )
            if not files:
                raise DataError(f"the folder {given} holds no data files")
            return files
        if not fs.exists(path):
            raise DataError(f"no such file: {given}")
    except OSError as e:
        raise DataError(f"cannot list {given}: {e}") from e
    return [path]


def _below(path: str, root: str) -> list[str]:
    return posixpath.relpath(path, root).split("/")
