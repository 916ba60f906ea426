"""Reading and parsing one partition on an evaluator (the I/O of ``PartitionData``).

``npy``: one array of the partition's rows, read straight into place. ``csv``: a float64 array
of shape (rows, columns). ``lines``: a list of str. Every file is opened through fsspec (local
files too), so any store the driver listed is read the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reef.services.data import _files, _npy, _text
from reef.services.data._errors import DataError
from reef.services.data._partition import Partition, Segment


def read_partition(partition: Partition) -> Any:
    """The parsed data of ``partition``."""
    try:
        if partition.format == "npy":
            return _read_npy(partition)
        if partition.format == "csv":
            return _read_csv(partition)
        return _read_lines(partition)
    except FileNotFoundError as e:
        raise DataError(
            f"partition {partition.index}: a file is missing ({e}); was it moved or deleted "
            "after DataSet.split?"
        ) from e


def _read_npy(partition: Partition) -> np.ndarray:
    dtype = np.lib.format.descr_to_dtype(partition.dtype)
    rows = partition.rows or 0
    out = np.empty((rows, *partition.row_shape), dtype=dtype)
    at = 0
    for segment in partition.segments:
        n = segment.end - segment.start
        fs, path = _files.open_fs(segment.url)
        with fs.open(path, "rb") as f:
            header = _npy.read_header(f, segment.url, int(fs.size(path)))
            _check_unchanged(partition, segment, header, dtype)
            _npy.read_rows(f, segment.url, header, segment.start, out[at : at + n])
        at += n
    return out


def _check_unchanged(
    partition: Partition, segment: Segment, header: _npy.NpyHeader, dtype: np.dtype[Any]
) -> None:
    """``DataError`` if the file is no longer the one ``DataSet.split`` read (rewritten since):
    its rows would not be the partition's."""
    if (
        header.dtype != dtype
        or header.tail != tuple(partition.row_shape)
        or header.offset != segment.data_start
        or header.fortran != segment.fortran
        or header.rows < segment.end
    ):
        raise DataError(
            f"{segment.url} changed after DataSet.split: it now holds {header.rows} rows of "
            f"{header.tail} {header.dtype}, the split saw rows of {tuple(partition.row_shape)} "
            f"{dtype} (at least {segment.end}); split the data set again"
        )


def _segment_text(segment: Segment) -> tuple[int, bytes]:
    fs, path = _files.open_fs(segment.url)
    with fs.open(path, "rb") as f:

        def read(offset: int, size: int) -> bytes:
            f.seek(offset)
            data: bytes = f.read(size)
            return data

        return _text.segment_bytes(
            read, segment.size, segment.data_start, segment.start, segment.end
        )


def _read_lines(partition: Partition) -> list[str]:
    out: list[str] = []
    for segment in partition.segments:
        _, data = _segment_text(segment)
        out.extend(_text.parse_lines(data, segment.url))
    return out


def _read_csv(partition: Partition) -> np.ndarray:
    arrays = []
    for segment in partition.segments:
        begin, data = _segment_text(segment)

        def line_of(i: int, segment: Segment = segment, begin: int = begin) -> int:
            return _lines_before(segment, begin) + i + 1

        arrays.append(
            _text.parse_csv(data, partition.delimiter, partition.columns, segment.url, line_of)
        )
    if not arrays:
        return np.empty((0, partition.columns), dtype=np.float64)
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _lines_before(segment: Segment, offset: int) -> int:
    """How many lines of the file precede ``offset`` (for error messages only; read in pieces,
    not the whole prefix at once)."""
    fs, path = _files.open_fs(segment.url)
    count = 0
    with fs.open(path, "rb") as f:
        while offset > 0:
            piece = f.read(min(offset, 1 << 20))
            if not piece:
                break
            count += piece.count(b"\n")
            offset -= len(piece)
    return count
