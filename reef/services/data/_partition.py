"""``DataSet.split`` (driver side) and ``Partition``: what one evaluator reads.

The driver lists the files (``_files``), reads what the cut needs (``.npy`` headers; the header
lines and first row of csv and text files), cuts the data set into partitions of roughly equal
size (``_split``: rows for ``.npy``, bytes for text, which the line rule of ``_text`` turns into
whole lines) and records each partition as a small JSON description. ``Partition.configuration()``
binds that description to ``PartitionDescription`` for the evaluator's ``PartitionData``;
nothing else travels, and the data is read where it is parsed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from reef.common._tls import this_host
from reef.services.data import _files, _npy, _split, _text
from reef.services.data._errors import DataError
from reef.services.data._files import FileInfo
from reef.tang import Configuration, NamedParameter

if TYPE_CHECKING:
    from reef.driver._requestor import EvaluatorRequest

FORMATS = ("npy", "csv", "lines")


class PartitionDescription(NamedParameter[str]):
    """The partition a context's ``PartitionData`` reads: a JSON description made by
    ``DataSet.split`` (bind it with ``Partition.configuration()``)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """Part of one file: ``[start, end)`` in rows (``npy``) or bytes (text, before the line
    rule); ``data_start`` is where the file's data begins (the byte after the ``.npy`` header or
    the csv header lines); ``size`` is the file's size; ``fortran`` for a Fortran-ordered
    ``.npy``."""

    url: str
    start: int
    end: int
    data_start: int
    size: int
    fortran: bool = False


@dataclass(frozen=True, slots=True)
class Partition:
    """One of ``count`` partitions of a data set (``index`` in ``range(count)``): its
    ``segments``, the ``format`` and its parsing options, and ``hosts`` (the machines that hold
    its data when known: this host for local files, the block locations of a file system that
    reports them; else empty)."""

    index: int
    count: int
    format: str
    segments: tuple[Segment, ...]
    hosts: tuple[str, ...] = ()
    delimiter: str = ","
    columns: int = 0  # csv: numbers per row
    dtype: Any = None  # npy: the dtype's descr
    row_shape: tuple[int, ...] = ()  # npy: the shape of one row
    nbytes: int = field(default=0)  # the bytes to read, about

    @property
    def rows(self) -> int | None:
        """How many rows (``npy``); ``None`` for text, whose line count is known when read."""
        return sum(s.end - s.start for s in self.segments) if self.format == "npy" else None

    @property
    def description(self) -> str:
        """This partition as JSON (what ``PartitionDescription`` holds)."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_description(cls, text: str) -> Partition:
        """The partition a description names; ``DataError`` if it is not one."""
        try:
            raw = json.loads(text)
            raw["segments"] = tuple(Segment(**s) for s in raw["segments"])
            raw["hosts"] = tuple(raw["hosts"])
            raw["row_shape"] = tuple(raw["row_shape"])
            if isinstance(raw["dtype"], list):  # a structured dtype's descr: list of tuples
                raw["dtype"] = [tuple(f) for f in raw["dtype"]]
            partition = cls(**raw)
        except (ValueError, TypeError, KeyError) as e:
            raise DataError(
                f"not a partition description ({e}); make it with DataSet.split and bind it "
                f"with Partition.configuration(): {text[:200]!r}"
            ) from e
        if partition.format not in FORMATS:
            raise DataError(f"unknown partition format {partition.format!r} in {text[:200]!r}")
        return partition

    def configuration(self) -> Configuration:
        """A configuration binding this partition to ``PartitionDescription``: give it to the
        context whose services include ``PartitionData``."""
        return Configuration(parameters={PartitionDescription: self.description})

    def request(self, *, memory_mb: int = 512, cores: int = 1, count: int = 1) -> EvaluatorRequest:
        """An ``EvaluatorRequest`` for evaluators near this partition's data: on its ``hosts``
        when known, elsewhere when those are busy (``relax_locality``)."""
        from reef.driver._requestor import EvaluatorRequest  # noqa: PLC0415 (driver side)

        return EvaluatorRequest(
            count=count,
            memory_mb=memory_mb,
            cores=cores,
            node_names=self.hosts,
            relax_locality=True,
        )


class DataSet:
    """Files of one format, divided into partitions for evaluators (see ``split``)."""

    @staticmethod
    def files(paths_or_urls: str | Sequence[str]) -> list[FileInfo]:
        """The files named (local paths or fsspec URLs; folders and globs expanded) with their
        sizes; ``DataError`` if one is missing."""
        return _files.list_files(paths_or_urls)

    @staticmethod
    def split(
        paths_or_urls: str | Sequence[str],
        partitions: int,
        *,
        format: str,
        delimiter: str = ",",
        skip_header: int = 0,
    ) -> list[Partition]:
        """``partitions`` partitions of the files named, of roughly equal size: row ranges of
        ``.npy`` files (``format="npy"``; the files must agree on dtype and row shape), byte
        ranges whole-line aligned of text (``"csv"``: rows of float64 separated by
        ``delimiter``; ``"lines"``: str lines). ``skip_header`` lines are skipped at the start
        of each text file. ``DataError`` if a file is missing or unreadable, if every file is
        empty, or (csv) if no file has a row after its header."""
        if format not in FORMATS:
            raise DataError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
        if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
            raise DataError(f"partitions={partitions!r} must be a whole number >= 1")
        if isinstance(skip_header, bool) or not isinstance(skip_header, int) or skip_header < 0:
            raise DataError(f"skip_header={skip_header!r} must be a whole number >= 0")
        if not isinstance(delimiter, str) or not delimiter or "\n" in delimiter:
            raise DataError(f"delimiter={delimiter!r} must be a non-empty str without newlines")
        listed = _files.list_files(paths_or_urls)
        files = [f for f in listed if f.size > 0]
        if not files:
            named = ", ".join(f.url for f in listed[:3]) + (", ..." if len(listed) > 3 else "")
            raise DataError(f"no data to split: every file is empty ({named})")
        if format == "npy":
            return _split_npy(files, partitions)
        return _split_text(files, partitions, format, delimiter, skip_header)


def _split_npy(files: list[FileInfo], partitions: int) -> list[Partition]:
    headers: list[_npy.NpyHeader] = []
    for info in files:
        fs, path = _files.open_fs(info.url)
        with fs.open(path, "rb") as f:
            headers.append(_npy.read_header(f, info.url, info.size))
    for info, header in zip(files[1:], headers[1:], strict=True):
        first = headers[0]
        if header.dtype != first.dtype or header.tail != first.tail:
            raise DataError(
                f"{info.url} holds rows of {header.tail} {header.dtype}, but {files[0].url} "
                f"rows of {first.tail} {first.dtype}: the files of one data set must agree"
            )
    cuts = _split.cut([(0, h.rows) for h in headers], partitions)
    out = []
    for k, part in enumerate(cuts):
        segments = tuple(
            Segment(
                files[c.file].url,
                c.start,
                c.end,
                headers[c.file].offset,
                files[c.file].size,
                headers[c.file].fortran,
            )
            for c in part
        )
        row_bytes = headers[0].row_bytes if headers else 0
        where = [
            (s.url, s.data_start + s.start * row_bytes, (s.end - s.start) * row_bytes)
            for s in segments
        ]
        out.append(
            Partition(
                k,
                partitions,
                "npy",
                segments,
                _hosts(where),
                dtype=headers[0].descr if headers else "<f8",
                row_shape=headers[0].tail if headers else (),
                nbytes=sum((c.end - c.start) * headers[c.file].row_bytes for c in part),
            )
        )
    return out


def _split_text(
    files: list[FileInfo], partitions: int, format: str, delimiter: str, skip_header: int
) -> list[Partition]:
    starts: list[int] = []
    columns = 0
    for info in files:
        fs, path = _files.open_fs(info.url)
        with fs.open(path, "rb") as f:
            read = _reader(f)
            start = _text.header_end(read, info.size, skip_header)
            starts.append(start)
            if format == "csv" and not columns:
                columns = _text.columns_of(_text.first_line(read, info.size, start), delimiter)
    if format == "csv" and not columns:
        named = ", ".join(f.url for f in files[:3]) + (", ..." if len(files) > 3 else "")
        raise DataError(
            f"no csv row in {named}: every line is blank"
            + (f" or one of the {skip_header} header lines skipped" if skip_header else "")
        )
    cuts = _split.cut([(s, f.size) for s, f in zip(starts, files, strict=True)], partitions)
    out = []
    for k, part in enumerate(cuts):
        segments = tuple(
            Segment(files[c.file].url, c.start, c.end, starts[c.file], files[c.file].size)
            for c in part
        )
        where = [(s.url, s.start, s.end - s.start) for s in segments]
        out.append(
            Partition(
                k,
                partitions,
                format,
                segments,
                _hosts(where),
                delimiter=delimiter,
                columns=columns,
                nbytes=sum(c.end - c.start for c in part),
            )
        )
    return out


def _reader(f: Any) -> _text.Read:
    def read(offset: int, size: int) -> bytes:
        f.seek(offset)
        data: bytes = f.read(size)
        return data

    return read


def _hosts(ranges: Sequence[tuple[str, int, int]]) -> tuple[str, ...]:
    """Where the byte ranges ``(url, start, length)`` live: this host for local files; the
    hosts of the blocks a file system reports (``get_block_locations(path, start, length)``,
    as HDFS clients give: dicts with ``"hosts"``); else nothing known."""
    hosts: set[str] = set()
    for url, start, length in ranges:
        fs, path = _files.open_fs(url)
        if _files.is_local(fs):
            hosts.add(this_host())
            continue
        locate = getattr(fs, "get_block_locations", None)
        if locate is None:
            continue
        try:
            for block in locate(path, start, length):
                hosts.update(str(h) for h in block.get("hosts", ()))
        except Exception:  # locality is a hint: a store that cannot say gives none
            continue
    return tuple(sorted(hosts))
