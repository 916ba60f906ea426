"""Text partitions: the line rule, and parsing lines and csv rows.

**The line rule** (Hadoop's input split rule, as ``fsspec.utils.read_block``): a segment
``[start, end)`` of a file begins after the first newline at or after ``start``, except when
``start`` is where the file's data begins (offset 0, or the end of its header lines), and ends
with the first newline at or after ``end`` (or at the end of the file). Neighbouring segments
meet at one newline, so every line belongs to exactly one segment, however the file is cut.

Reading takes a ``read(offset, size) -> bytes`` function, so the rule is tested on bytes in
memory and used on any file system. CSV is parsed by numpy's C reader (``np.loadtxt``); a row
whose width differs from the data set's is reported with its file and line number.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np

from reef.services.data._errors import DataError

Read = Callable[[int, int], bytes]

_FIRST_CHUNK = 64 * 1024


def segment_bytes(
    read: Read, size: int, data_start: int, start: int, end: int
) -> tuple[int, bytes]:
    """The lines of segment ``[start, end)`` of a file of ``size`` bytes whose data begins at
    ``data_start``: the offset of the first one, and their bytes (newlines included)."""
    block = read(start, end - start)
    skip = 0
    if start != data_start:
        newline = block.find(b"\n")
        if newline < 0:  # the first line to start here starts after `end`: the next segment's
            return end, b""
        skip = newline + 1
    tail = b"" if end >= size else _through_newline(read, end, size)
    return start + skip, block[skip:] + tail


def _through_newline(read: Read, offset: int, size: int) -> bytes:
    """From ``offset`` through the first newline at or after it (or the end of the file)."""
    pieces: list[bytes] = []
    chunk = _FIRST_CHUNK
    while offset < size:
        piece = read(offset, min(chunk, size - offset))
        if not piece:
            break
        newline = piece.find(b"\n")
        if newline >= 0:
            pieces.append(piece[: newline + 1])
            break
        pieces.append(piece)
        offset += len(piece)
        chunk *= 2
    return b"".join(pieces)


def header_end(read: Read, size: int, lines: int) -> int:
    """The offset just after the first ``lines`` lines (``size`` if the file has fewer)."""
    if lines == 0:
        return 0
    offset, found = 0, 0
    while found < lines and offset < size:
        piece = read(offset, min(_FIRST_CHUNK, size - offset))
        if not piece:
            break
        position = 0
        while found < lines:
            newline = piece.find(b"\n", position)
            if newline < 0:
                break
            found += 1
            position = newline + 1
        if found == lines:
            return offset + position
        offset += len(piece)
    return size


def first_line(read: Read, size: int, offset: int) -> bytes:
    """The first line at or after ``offset`` that is not blank (without its newline), or
    ``b""`` if there is none: blank lines are no rows, so they say nothing of the width."""
    while offset < size:
        line = _through_newline(read, offset, size)
        if not line:
            break
        if line.strip():
            return line.rstrip(b"\r\n")
        offset += len(line)
    return b""


def columns_of(line: bytes, delimiter: str) -> int:
    return len(line.split(delimiter.encode())) if line.strip() else 0


def parse_lines(data: bytes, where: str) -> list[str]:
    """The lines of ``data`` as str, without their newline (``\\n`` or ``\\r\\n``)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{where} is not UTF-8 text: {e}") from e
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


CSV_CHUNK_BYTES = 4 << 20
"""How much csv ``np.loadtxt`` parses in one call. It holds the GIL throughout, and the
evaluator's heartbeat thread must run in between: a whole partition in one call (about 550 k
rows/s) would outlast ``EvaluatorTimeout`` and the driver would take the evaluator for hung."""


def parse_csv(
    data: bytes, delimiter: str, columns: int, where: str, line_of: Callable[[int], int]
) -> np.ndarray:
    """Rows of float64 numbers, ``columns`` to a row, from ``data``; blank lines are skipped.
    A malformed row raises ``DataError`` naming ``where`` and the file's line number
    (``line_of(i)`` for the row's index ``i`` in ``data``'s lines). Parsed
    ``CSV_CHUNK_BYTES`` (whole lines) at a time."""
    parts: list[np.ndarray] = []
    start, lines_before = 0, 0
    while start < len(data):
        end = data.find(b"\n", start + CSV_CHUNK_BYTES - 1)
        end = len(data) if end < 0 else end + 1
        chunk = data[start:end]

        def chunk_line_of(i: int, before: int = lines_before) -> int:
            return line_of(before + i)

        parts.append(_parse_chunk(chunk, delimiter, columns, where, chunk_line_of))
        lines_before += chunk.count(b"\n")
        start = end
    parts = [p for p in parts if p.shape[0]]
    if not parts:
        return np.empty((0, columns), dtype=np.float64)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _parse_chunk(
    data: bytes, delimiter: str, columns: int, where: str, line_of: Callable[[int], int]
) -> np.ndarray:
    if not data.strip():
        return np.empty((0, columns), dtype=np.float64)
    rows = _loadtxt(data, delimiter)
    if rows is not None and rows.shape[1] == columns:
        return rows
    error = _row_error(data, delimiter, columns, where, line_of)
    if error is None:  # numpy's reader skips empty lines but not lines of only spaces: drop them
        kept = b"\n".join(line for line in data.split(b"\n") if line.strip())
        rows = _loadtxt(kept, delimiter)
        if rows is not None and rows.shape[1] == columns:
            return rows
        error = DataError(f"{where}: cannot parse as csv of {columns} numeric columns")
    raise error


def _loadtxt(data: bytes, delimiter: str) -> np.ndarray | None:
    try:
        rows: np.ndarray = np.loadtxt(
            io.BytesIO(data), delimiter=delimiter, dtype=np.float64, ndmin=2, comments=None
        )
    except ValueError:
        return None
    return rows


def _row_error(
    data: bytes, delimiter: str, columns: int, where: str, line_of: Callable[[int], int]
) -> DataError | None:
    """The first malformed row of ``data``, found by the slow path (only on error); ``None``
    if every row is well formed."""
    separator = delimiter.encode()
    for i, line in enumerate(data.split(b"\n")):
        if not line.strip():
            continue
        fields = line.rstrip(b"\r").split(separator)
        shown = line[:80].decode("utf-8", "replace")
        if len(fields) != columns:
            return DataError(
                f"{where}, line {line_of(i)}: {len(fields)} columns where the data set has "
                f"{columns} (delimiter {delimiter!r}): {shown!r}"
            )
        for field in fields:
            try:
                float(field)
            except ValueError:
                hint = " (a header line? declare it with skip_header=1)" if line_of(i) == 1 else ""
                return DataError(
                    f"{where}, line {line_of(i)}: {field.decode('utf-8', 'replace')!r} is not a "
                    f"number: {shown!r}{hint}"
                )
    return None
