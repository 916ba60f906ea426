"""Data loading: every line or row lands in exactly one partition whatever the cut, .npy row
ranges, csv parsing and its errors, fsspec URLs, and PartitionData parsing once into a Cache."""

from __future__ import annotations

import io
import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import numpy as np
import pytest
from fsspec.utils import read_block
from hypothesis import given, settings
from hypothesis import strategies as st

from reef.common._tls import this_host
from reef.services.data import (
    Cache,
    DataError,
    DataSet,
    Partition,
    PartitionData,
    PartitionDescription,
    _text,
)
from reef.services.data._read import read_partition
from reef.services.data._text import segment_bytes
from reef.tang import Configuration, Tang

memory = fsspec.filesystem("memory")


@pytest.fixture
def mem() -> Iterator[str]:
    root = f"memory://reef-test-{uuid.uuid4().hex}"
    yield root
    if memory.exists(root):
        memory.rm(root, recursive=True)


def load_all(partitions: list[Partition]) -> list[object]:
    # Through the description, as an evaluator gets it.
    return [read_partition(Partition.from_description(p.description)) for p in partitions]


line_text = st.text(
    st.characters(blacklist_characters="\n\r", blacklist_categories=["Cs"]), max_size=12
)


@settings(max_examples=150)
@given(
    st.lists(line_text, max_size=40),
    st.booleans(),
    st.integers(1, 15),
    st.integers(0, 3),
)
def test_every_line_is_in_exactly_one_partition(
    lines: list[str], trailing_newline: bool, partitions: int, header: int
) -> None:
    text = "\n".join(lines) + ("\n" if trailing_newline and lines else "")
    url = f"memory://reef-lines-{uuid.uuid4().hex}.txt"
    with fsspec.open(url, "wb") as f:
        f.write(text.encode())
    try:
        if not text:
            with pytest.raises(DataError, match="every file is empty"):
                DataSet.split(url, partitions, format="lines", skip_header=header)
            return
        parts = DataSet.split(url, partitions, format="lines", skip_header=header)
        assert [p.index for p in parts] == list(range(partitions))
        assert {p.count for p in parts} == {partitions}
        got = list(itertools.chain.from_iterable(load_all(parts)))  # type: ignore[arg-type]
        expected = text.split("\n")
        if expected[-1] == "":  # a final newline ends the last line, it starts none
            expected.pop()
        assert got == expected[header:]
    finally:
        memory.rm(url)


@settings(max_examples=150)
@given(st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"")), st.data())
def test_the_line_rule_is_fsspecs_read_block(data: bytes, draw: st.DataObject) -> None:
    start = draw.draw(st.integers(0, max(len(data) - 1, 0)))
    end = draw.draw(st.integers(start + 1, max(len(data), start + 1)))

    def read(offset: int, size: int) -> bytes:
        return data[offset : offset + size]

    _, got = segment_bytes(read, len(data), 0, start, end)
    assert got == read_block(io.BytesIO(data), start, end - start, delimiter=b"\n")


def test_csv_partitions_add_up_to_the_file_with_a_header(tmp_path: Path) -> None:
    a = np.random.default_rng(1).standard_normal((101, 4))
    path = tmp_path / "a.csv"
    np.savetxt(path, a, delimiter=";", header="w;x;y;z", comments="")
    for n in (1, 2, 3, 7, 50, 200):
        parts = DataSet.split(str(path), n, format="csv", delimiter=";", skip_header=1)
        arrays = load_all(parts)
        assert all(x.shape[1] == 4 for x in arrays)  # type: ignore[attr-defined]
        assert np.array_equal(np.concatenate(arrays), a)  # type: ignore[arg-type]
    assert parts[0].hosts == (this_host(),) and parts[0].columns == 4


def test_npy_partitions_are_row_ranges_across_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    blocks = [rng.integers(0, 100, (n, 3, 2)).astype(np.int32) for n in (5, 0, 17, 1)]
    for i, b in enumerate(blocks):
        np.save(tmp_path / f"part-{i}.npy", b)
    (tmp_path / "_SUCCESS").write_bytes(b"")  # bookkeeping files of a folder are skipped
    whole = np.concatenate(blocks)
    for n in (1, 2, 4, 23, 30):
        parts = DataSet.split(str(tmp_path), n, format="npy")
        assert [p.rows for p in parts] == [(k + 1) * 23 // n - k * 23 // n for k in range(n)]
        arrays = load_all(parts)
        assert all(x.dtype == np.int32 and x.shape[1:] == (3, 2) for x in arrays)  # type: ignore[attr-defined]
        assert np.array_equal(np.concatenate(arrays), whole)  # type: ignore[arg-type]
    # A glob, and a list of paths, name the same files.
    by_glob = DataSet.split(str(tmp_path / "part-*.npy"), 3, format="npy")
    by_list = DataSet.split([str(tmp_path / f"part-{i}.npy") for i in range(4)], 3, format="npy")
    assert by_glob == by_list == DataSet.split(str(tmp_path), 3, format="npy")


def test_fortran_ordered_npy(tmp_path: Path) -> None:
    a = np.asfortranarray(np.arange(60.0).reshape(12, 5))
    np.save(tmp_path / "f.npy", a)
    parts = DataSet.split(str(tmp_path / "f.npy"), 5, format="npy")
    assert np.array_equal(np.concatenate(load_all(parts)), a)  # type: ignore[arg-type]


def test_fsspec_urls_memory_and_file(mem: str, tmp_path: Path) -> None:
    a = np.arange(40.0).reshape(20, 2)
    with fsspec.open(f"{mem}/a.npy", "wb") as f:
        np.save(f, a)
    parts = DataSet.split(f"{mem}/a.npy", 3, format="npy")
    url = parts[0].segments[0].url  # fsspec's canonical form of the URL
    assert url.startswith("memory://") and url.endswith(f"{mem[9:]}/a.npy") and parts[0].hosts == ()
    assert np.array_equal(np.concatenate(load_all(parts)), a)  # type: ignore[arg-type]
    with fsspec.open(f"{mem}/t/b.txt", "wb") as f:
        f.write(b"one\r\ntwo\nthree")
    assert list(itertools.chain(*load_all(DataSet.split(f"{mem}/t", 2, format="lines")))) == [
        "one",
        "two",
        "three",
    ]  # type: ignore[arg-type]
    np.savetxt(tmp_path / "c.csv", a, delimiter=",")
    parts = DataSet.split(f"file://{tmp_path}/c.csv", 4, format="csv")
    assert np.array_equal(np.concatenate(load_all(parts)), a)  # type: ignore[arg-type]
    assert DataSet.files(f"{mem}/a.npy")[0].size == memory.size(f"{mem}/a.npy")


def test_files_lists_sizes(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"12345")
    (tmp_path / "b.txt").write_bytes(b"")
    (tmp_path / ".hidden").write_bytes(b"x")
    files = DataSet.files(str(tmp_path))
    assert [(os.path.basename(f.url), f.size) for f in files] == [("a.txt", 5), ("b.txt", 0)]


def test_bad_input_is_reported_clearly(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        DataSet.split(str(tmp_path / "missing.csv"), 2, format="csv")
    with pytest.raises(DataError, match="no file matches"):
        DataSet.split(str(tmp_path / "*.csv"), 2, format="csv")
    (tmp_path / "a.csv").write_text("1,2\n3,4\n5\n6,7\n")
    with pytest.raises(DataError, match="unknown format 'parquet'"):
        DataSet.split(str(tmp_path / "a.csv"), 2, format="parquet")
    with pytest.raises(DataError, match="partitions=0"):
        DataSet.split(str(tmp_path / "a.csv"), 0, format="csv")
    parts = DataSet.split(str(tmp_path / "a.csv"), 1, format="csv")
    with pytest.raises(DataError, match=r"a\.csv, line 3: 1 columns where the data set has 2"):
        load_all(parts)
    (tmp_path / "b.csv").write_text("1,2\n3,4\n5,6\n7,x\n")
    parts = DataSet.split(str(tmp_path / "b.csv"), 3, format="csv")
    with pytest.raises(DataError, match=r"b\.csv, line 4: 'x' is not a number"):
        load_all(parts)
    np.save(tmp_path / "i.npy", np.zeros((2, 3), dtype=np.int8))
    np.save(tmp_path / "f.npy", np.zeros((2, 3)))
    with pytest.raises(DataError, match="must agree"):
        DataSet.split([str(tmp_path / "i.npy"), str(tmp_path / "f.npy")], 2, format="npy")
    with pytest.raises(DataError, match=r"not a \.npy file"):
        DataSet.split(str(tmp_path / "a.csv"), 2, format="npy")
    with pytest.raises(DataError, match="not a partition description"):
        Partition.from_description("{}")


def test_partition_data_parses_once_into_the_cache(tmp_path: Path) -> None:
    a = np.arange(30.0).reshape(10, 3)
    np.save(tmp_path / "a.npy", a)
    (part,) = DataSet.split(str(tmp_path / "a.npy"), 1, format="npy")
    cache = Cache.in_directory(str(tmp_path / "cache"), budget=0)  # it spills, too
    data = PartitionData(cache, part.description)
    assert data.partition == part
    for _ in range(3):
        assert np.array_equal(data.load(), a)
    again = PartitionData(cache, part.description)  # another activity's view, same cache
    assert np.array_equal(again.load(), a)
    assert (data.parses, again.parses) == (1, 0)
    stats = cache.stats()
    assert (stats.loads, stats.hits, stats.spills) == (1, 3, 1) and stats.disk_reads == 3
    cache.close()


def test_partition_configuration_injects_partition_data(tmp_path: Path) -> None:
    (tmp_path / "l.txt").write_text("a\nb\nc\n")
    parts = DataSet.split(str(tmp_path / "l.txt"), 2, format="lines")
    conf = parts[1].configuration()
    assert conf.value_of(PartitionDescription) == parts[1].description
    cache = Cache.in_directory(str(tmp_path / "cache"))
    injector = Tang.new_injector(conf, instances={Cache: cache})
    data = injector.get_instance(PartitionData)
    assert data.partition.index == 1 and data.load() == ["c"]
    with pytest.raises(Exception, match="PartitionDescription"):
        Tang.new_injector(Configuration(), instances={Cache: cache}).get_instance(PartitionData)
    cache.close()
    request = parts[0].request(memory_mb=256, cores=2)
    assert (request.node_names, request.relax_locality, request.memory_mb, request.cores) == (
        (this_host(),),
        True,
        256,
        2,
    )


def test_empty_inputs_are_refused_when_split(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "blank.csv").write_bytes(b"\n \n\r\n")
    (tmp_path / "header.csv").write_bytes(b"a,b\n")
    (tmp_path / "none").mkdir()
    (tmp_path / "zeros").mkdir()
    (tmp_path / "zeros" / "part-0").write_bytes(b"")
    for path, fmt in [("empty.csv", "csv"), ("empty.csv", "lines"), ("zeros", "npy")]:
        with pytest.raises(DataError, match="every file is empty"):
            DataSet.split(str(tmp_path / path), 2, format=fmt)
    with pytest.raises(DataError, match="holds no data files"):
        DataSet.split(str(tmp_path / "none"), 2, format="csv")
    with pytest.raises(DataError, match=r"no csv row .*blank\.csv: every line is blank"):
        DataSet.split(str(tmp_path / "blank.csv"), 2, format="csv")
    with pytest.raises(DataError, match="or one of the 1 header lines"):
        DataSet.split(str(tmp_path / "header.csv"), 2, format="csv", skip_header=1)


def test_blank_lines_before_the_first_csv_row_do_not_decide_its_width(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"\n  \r\n1,2\n\n3,4\n")
    for n in (1, 2, 5):
        parts = DataSet.split(str(tmp_path / "a.csv"), n, format="csv")
        assert parts[0].columns == 2
        assert np.concatenate(load_all(parts)).tolist() == [[1, 2], [3, 4]]  # type: ignore[arg-type]


def test_an_undeclared_csv_header_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("x,y\n1,2\n")
    parts = DataSet.split(str(tmp_path / "h.csv"), 1, format="csv")
    with pytest.raises(DataError, match=r"h\.csv, line 1: 'x' is not a number.*skip_header=1"):
        load_all(parts)


def test_csv_is_parsed_in_pieces_with_the_right_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = np.arange(600.0).reshape(200, 3)
    path = tmp_path / "a.csv"
    np.savetxt(path, rows, delimiter=",", header="a,b,c", comments="", fmt="%d")
    calls: list[int] = []
    loadtxt = np.loadtxt

    def recording(source: io.BytesIO, **kwargs: object) -> np.ndarray:
        calls.append(len(source.getvalue()))
        return loadtxt(source, **kwargs)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(_text, "CSV_CHUNK_BYTES", 100)
    monkeypatch.setattr(_text.np, "loadtxt", recording)
    parts = DataSet.split(str(path), 2, format="csv", skip_header=1)
    assert np.array_equal(np.concatenate(load_all(parts)), rows)  # type: ignore[arg-type]
    assert len(calls) > 10 and max(calls) < 100 + 20  # a piece and the rest of its last line
    lines = path.read_text().splitlines()
    lines[150] = "450,x,452"
    path.write_text("\n".join(lines) + "\n")
    parts = DataSet.split(str(path), 2, format="csv", skip_header=1)
    with pytest.raises(DataError, match=r"a\.csv, line 151: 'x' is not a number"):
        load_all(parts)


def test_fortran_npy_partitions_read_only_their_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = np.asfortranarray(np.arange(4 * 3 * 2 * 9, dtype=">f4").reshape(9, 4, 3, 2))
    np.save(tmp_path / "f.npy", a)
    parts = DataSet.split(str(tmp_path / "f.npy"), 4, format="npy")
    assert all(s.fortran for p in parts for s in p.segments)

    def whole_file(*args: object, **kwargs: object) -> None:
        raise AssertionError("a partition loaded the whole file")

    monkeypatch.setattr(np, "load", whole_file)
    arrays = load_all(parts)
    assert all(x.dtype == np.dtype(">f4") for x in arrays)  # type: ignore[attr-defined]
    assert np.array_equal(np.concatenate(arrays), a)  # type: ignore[arg-type]


def test_an_npy_file_rewritten_after_the_split_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.zeros((10, 3)))
    parts = DataSet.split(str(tmp_path / "a.npy"), 2, format="npy")
    np.save(tmp_path / "a.npy", np.zeros((10, 4)))  # same size in rows, other rows
    with pytest.raises(DataError, match=r"a\.npy changed after DataSet\.split"):
        load_all(parts)
    np.save(tmp_path / "a.npy", np.zeros((4, 3)))  # fewer rows
    with pytest.raises(DataError, match=r"changed after DataSet\.split"):
        load_all(parts)
