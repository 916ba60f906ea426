"""``.npy`` partitions: the header (read without the data) and row ranges read into one array.

A C-ordered file's rows are contiguous after the header, so a row range is one positional read
straight into the result's memory (``readinto``: no intermediate copy). In a Fortran-ordered
file each element of a row (each column, for 2-D) is a contiguous run over all the rows, so a
row range is one read per element of a row, of just those rows: neither kind of file is ever
read whole. Object arrays are refused (they need pickle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy_format

from reef.services.data._errors import DataError


@dataclass(frozen=True, slots=True)
class NpyHeader:
    """What a ``.npy`` file holds: ``rows``, the shape of one row (``tail``), the ``dtype``
    (as ``descr``, JSON-friendly), whether it is ``fortran`` ordered and where the data begins
    (``offset``)."""

    rows: int
    tail: tuple[int, ...]
    descr: Any
    fortran: bool
    offset: int

    @property
    def dtype(self) -> np.dtype[Any]:
        return npy_format.descr_to_dtype(self.descr)

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.tail, dtype=np.int64)) * self.dtype.itemsize


def read_header(f: IO[bytes], url: str, size: int) -> NpyHeader:
    """The header of the ``.npy`` file open as ``f`` (``size`` bytes long)."""
    try:
        version = npy_format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = npy_format.read_array_header_2_0(f)
    except ValueError as e:
        raise DataError(f"{url} is not a .npy file: {e}") from e
    if dtype.hasobject:
        raise DataError(f"{url} holds Python objects (dtype {dtype}); only plain arrays load")
    if not shape:
        raise DataError(f"{url} holds a 0-d array: it has no rows to partition")
    header = NpyHeader(
        int(shape[0]),
        tuple(int(s) for s in shape[1:]),
        npy_format.dtype_to_descr(dtype),
        bool(fortran),
        f.tell(),
    )
    if header.offset + header.rows * header.row_bytes > size:
        raise DataError(
            f"{url} is truncated: its header promises {header.rows} rows of "
            f"{header.row_bytes} bytes, but the file has {size} bytes"
        )
    return header


def read_rows(f: IO[bytes], url: str, header: NpyHeader, start: int, out: np.ndarray) -> None:
    """Rows ``start`` to ``start + len(out)`` of the file open as ``f``, into ``out`` (C-ordered,
    of the file's dtype); ``header`` is the file's own."""
    n = len(out)
    if n == 0:
        return
    if not header.fortran:
        f.seek(header.offset + start * header.row_bytes)
        _read_into(f, url, out.reshape(-1).view(np.uint8))
        return
    # Element j of a row (Fortran order over the row's shape) of every row is one contiguous
    # run: rows [start, start + n) of it begin at offset + (j * rows + start) * itemsize.
    itemsize = header.dtype.itemsize
    per_row = int(np.prod(header.tail, dtype=np.int64))
    runs = np.empty((per_row, n), dtype=out.dtype)
    for j in range(per_row):
        f.seek(header.offset + (j * header.rows + start) * itemsize)
        _read_into(f, url, runs[j].view(np.uint8))
    # runs.T is (n, per_row), a row's elements in Fortran order: reshaped the same way.
    out[...] = runs.T.reshape(out.shape, order="F")


def _read_into(f: IO[bytes], url: str, view: np.ndarray) -> None:
    buffer = view.data
    got = 0
    while got < view.nbytes:
        n = f.readinto(buffer[got:])  # type: ignore[attr-defined]
        if not n:
            raise DataError(f"{url} ended early: read {got} of {view.nbytes} bytes of rows")
        got += n
