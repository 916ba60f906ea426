"""CheckpointService: commits are atomic, reads are verified, ids sort by commit, listing and
retention see committed checkpoints only."""

from __future__ import annotations

import gc
import json
import os
import pickle
import threading
from pathlib import Path

import pytest

from reef.errors import ReefError
from reef.services import (
    CheckpointCorrupted,
    CheckpointError,
    CheckpointNotFound,
    CheckpointPath,
    CheckpointRetention,
    CheckpointService,
    _checkpoint,
    _format,
    _ids,
)
from reef.tang import Configuration, Tang

BIG = _format.PARALLEL_MIN + 12345  # large enough for the helper-thread and mmap paths


@pytest.fixture
def store(tmp_path: Path) -> CheckpointService:
    return CheckpointService(str(tmp_path / "ckpt"))


def files(service: CheckpointService) -> list[str]:
    return sorted(os.listdir(service.location))


def path_of(service: CheckpointService, checkpoint_id: str) -> Path:
    return Path(service.location) / (checkpoint_id + ".ckpt")


# -- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 1000, BIG])
def test_save_then_load_gives_the_same_bytes(store: CheckpointService, size: int) -> None:
    data = os.urandom(size)
    checkpoint_id = store.save(data)
    assert store.load(checkpoint_id) == data
    assert isinstance(store.load(checkpoint_id), bytes)


def test_save_takes_any_contiguous_buffer(store: CheckpointService) -> None:
    assert store.load(store.save(bytearray(b"abc"))) == b"abc"
    assert store.load(store.save(memoryview(b"xabcx")[1:4])) == b"abc"
    import numpy as np

    grid = np.arange(12, dtype=np.float64).reshape(3, 4)
    assert store.load(store.save(grid)) == grid.tobytes()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="contiguous"):
        store.save(grid[:, ::2])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not str"):
        store.save("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="serialize it first"):
        store.save(12)  # type: ignore[arg-type]


def test_metadata_is_saved_with_the_data(store: CheckpointService) -> None:
    checkpoint_id = store.save(b"state", metadata={"step": 7, "loss": 0.5, "tag": "x"})
    found = store.read(checkpoint_id)
    assert (found.id, found.data, found.metadata) == (
        checkpoint_id,
        b"state",
        {"loss": 0.5, "step": 7, "tag": "x"},
    )
    with pytest.raises(TypeError, match="not allowed"):
        store.save(b"", metadata={"bad": [1, 2]})  # type: ignore[dict-item]


def test_a_stream_commits_on_close(store: CheckpointService) -> None:
    value = {"weights": list(range(10_000))}
    with store.create(series="model") as writer:
        pickle.dump(value, writer)
        assert store.list() == []  # nothing visible before the commit
    assert writer.id is not None and writer.closed
    assert [info.id for info in store.list()] == [writer.id]
    with store.open(writer.id) as reader:
        assert pickle.load(reader) == value


def test_a_stream_of_large_pieces_reads_back_in_any_order(store: CheckpointService) -> None:
    data = os.urandom(BIG)
    writer = store.create()
    for start in range(0, len(data), 1 << 20):
        writer.write(data[start : start + (1 << 20)])
    checkpoint_id = writer.commit()
    assert writer.commit() == checkpoint_id  # idempotent
    with store.open(checkpoint_id) as reader:
        assert reader.read(10) == data[:10]
        reader.seek(-10, os.SEEK_END)
        assert reader.read() == data[-10:]
        reader.seek(0)
        assert reader.read() == data


def test_a_stream_checksums_large_and_small_pieces_in_order(store: CheckpointService) -> None:
    pieces = [b"head", os.urandom(BIG), b"middle", os.urandom(BIG), b"tail"]
    with store.create() as writer:
        for piece in pieces:
            assert writer.write(piece) == len(piece)
    assert writer.id is not None and writer.tell() == sum(map(len, pieces))
    assert store.load(writer.id) == b"".join(pieces)  # the checksum matches


def test_an_exception_in_a_stream_aborts_it_and_leaves_nothing(store: CheckpointService) -> None:
    kept = store.save(b"before")
    writer = store.create()

    def diverge() -> None:
        with writer:
            writer.write(b"half a state")
            raise RuntimeError("simulation diverged")

    with pytest.raises(RuntimeError, match="simulation diverged"):
        diverge()
    assert writer.id is None and writer.closed
    assert [info.id for info in store.list()] == [kept]
    assert files(store) == [kept + ".ckpt"]  # no temporary file either
    assert store.statistics().aborted == 1


def test_an_abandoned_stream_is_aborted_not_committed(store: CheckpointService) -> None:
    writer = store.create()
    writer.write(b"partial")
    del writer
    gc.collect()
    assert store.list() == []
    assert files(store) == []


def test_abort_discards_and_writes_after_the_end_fail(store: CheckpointService) -> None:
    writer = store.create()
    writer.write(b"x")
    writer.abort()
    with pytest.raises(ValueError, match="committed or aborted"):
        writer.write(b"y")
    with pytest.raises(ValueError, match="aborted"):
        writer.commit()
    assert files(store) == []


# -- atomicity ------------------------------------------------------------------------------------


class _FailingStream:
    """A file that fails (disk full) after ``budget`` bytes."""

    def __init__(self, inner: object, budget: int) -> None:
        self.inner, self.budget = inner, budget

    def write(self, data: object) -> int:
        n = memoryview(data).nbytes  # type: ignore[arg-type]
        if n > self.budget:
            raise OSError(28, "No space left on device")
        self.budget -= n
        return self.inner.write(data)  # type: ignore[attr-defined, no-any-return]

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@pytest.mark.parametrize("how", ["save", "stream"])
def test_a_write_that_fails_midway_leaves_the_previous_checkpoint_intact(
    store: CheckpointService, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    previous = store.save(b"previous state", metadata={"step": 1})
    real = store._store.create_temp
    monkeypatch.setattr(
        store._store,
        "create_temp",
        lambda name, buffered=True: _FailingStream(real(name, buffered=False), 1000),
    )

    def write() -> None:
        if how == "save":
            store.save(os.urandom(5000))
        else:
            with store.create() as writer:
                for _ in range(5):
                    writer.write(os.urandom(1000))

    with pytest.raises(CheckpointError, match=r"No space left.*earlier checkpoints are intact"):
        write()
    assert [info.id for info in store.list()] == [previous]
    assert store.read(previous).data == b"previous state"
    assert files(store) == [previous + ".ckpt"]


def test_a_write_in_progress_is_never_listed_or_loadable(store: CheckpointService) -> None:
    writer = store.create(series="s")
    writer.write(b"in progress")
    (temp,) = files(store)
    assert temp.startswith(".") and temp.endswith(".tmp")
    assert store.list() == [] and store.latest("s") is None
    writer.abort()


def test_abandoned_temporary_files_of_dead_processes_are_purged(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    folder.mkdir()
    host = _ids.this_host()
    dead = folder / f".{'a' * 12}.{2**22 + 12345}.{host}.tmp"  # beyond pid_max: never alive
    young = folder / f".{'b' * 12}.{2**22 + 12345}.{host}.tmp"
    mine = folder / f".{'c' * 12}.{os.getpid()}.{host}.tmp"
    elsewhere = folder / f".{'d' * 12}.{2**22 + 12345}.another-host.tmp"
    old = 1_000_000.0
    for path in (dead, young, mine, elsewhere):
        path.write_bytes(b"partial")
        if path is not young:
            os.utime(path, (old, old))
    CheckpointService(str(folder))
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        p.name for p in (young, mine, elsewhere)
    )


# -- verification ---------------------------------------------------------------------------------


def flip(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x40
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("size", [100, BIG])
def test_a_flipped_bit_in_the_data_is_detected(store: CheckpointService, size: int) -> None:
    checkpoint_id = store.save(os.urandom(size))
    flip(path_of(store, checkpoint_id), size // 2)
    with pytest.raises(CheckpointCorrupted, match="fail their checksum") as caught:
        store.load(checkpoint_id)
    assert caught.value.checkpoint_id == checkpoint_id
    assert checkpoint_id in str(caught.value) and "refused" in str(caught.value)
    assert isinstance(caught.value, ReefError)
    assert store.statistics().corrupted == 1


def test_damaged_metadata_is_detected(store: CheckpointService) -> None:
    checkpoint_id = store.save(b"data", metadata={"step": 3})
    flip(path_of(store, checkpoint_id), len(b"data") + 3)
    with pytest.raises(CheckpointCorrupted, match="checksum"):
        store.read(checkpoint_id)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda raw: raw[:-1], "not a checkpoint trailer"),
        (lambda raw: raw[:-5000], "not a checkpoint trailer"),
        (lambda raw: raw[:10], "truncated: the file has 10 bytes"),
        (lambda raw: b"", "truncated: the file has 0 bytes"),
        (lambda raw: raw + b"extra", "not a checkpoint trailer"),
        (lambda raw: b"x" + raw, "truncated or extended"),
        (lambda raw: raw[:-10] + bytes([raw[-10] ^ 1]) + raw[-9:], "trailer is damaged"),
    ],
)
@pytest.mark.parametrize("read", ["load", "open"])
def test_truncated_or_damaged_files_are_refused(
    store: CheckpointService, damage: object, reason: str, read: str
) -> None:
    checkpoint_id = store.save(os.urandom(20000))
    path = path_of(store, checkpoint_id)
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    call = store.load if read == "load" else store.open
    with pytest.raises(CheckpointCorrupted, match=reason):
        call(checkpoint_id)


def test_a_stream_never_hands_out_the_end_of_a_corrupted_checkpoint(
    store: CheckpointService,
) -> None:
    data = os.urandom(BIG)
    checkpoint_id = store.save(data)
    flip(path_of(store, checkpoint_id), 10)
    reader = store.open(checkpoint_id)
    assert reader.read(100)[20:] == data[20:100]  # provisional: not yet verified
    with pytest.raises(CheckpointCorrupted, match="checksum"):
        reader.read()  # the read that reaches the end verifies before it returns
    with pytest.raises(CheckpointCorrupted):
        reader.close()
    assert reader.closed


def test_a_dropped_reader_releases_its_file_quietly(store: CheckpointService) -> None:
    checkpoint_id = store.save(b"abc" * 1000)
    flip(path_of(store, checkpoint_id), 5)
    reader = store.open(checkpoint_id)
    assert reader.read(2) == b"ab"
    del reader  # no verification on collection: nothing to raise into
    gc.collect()
    with pytest.raises(CheckpointCorrupted):
        store.load(checkpoint_id)


def test_closing_a_partly_read_stream_verifies_the_rest(store: CheckpointService) -> None:
    checkpoint_id = store.save(pickle.dumps(list(range(1000))) + os.urandom(1000))
    flip(path_of(store, checkpoint_id), -200)  # damage what pickle never reads
    with pytest.raises(CheckpointCorrupted), store.open(checkpoint_id) as reader:
        assert pickle.load(reader) == list(range(1000))
    good = store.save(b"abc" * 1000)
    with store.open(good) as reader:
        assert reader.read(3) == b"abc"  # closing verifies the unread rest: fine


# -- ids, listing, retention, deletion ------------------------------------------------------------


def test_ids_sort_by_commit_and_list_returns_committed_checkpoints_only(
    store: CheckpointService,
) -> None:
    first = store.save(b"1", series="a")
    second = store.save(b"2", series="b")
    third = store.save(b"3", series="a")
    Path(store.location, "notes.txt").write_text("not a checkpoint")
    Path(store.location, "a.123.ckpt").write_text("not an id")
    assert [i.id for i in store.list()] == [first, second, third]
    assert [i.id for i in store.list("a")] == [first, third]
    assert first < third
    latest = store.latest("a")
    assert latest is not None and (latest.id, latest.series) == (third, "a")
    assert latest.size == 1 + _format.TRAILER_SIZE
    assert store.latest("c") is None


def test_ids_keep_increasing_when_the_clock_goes_back(
    store: CheckpointService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_checkpoint.time, "time_ns", lambda: 2_000_000_000_000_000_000)
    ahead = store.save(b"written by a host whose clock is ahead")
    other = CheckpointService(store.location)  # another process, its clock behind
    monkeypatch.setattr(_checkpoint.time, "time_ns", lambda: 1_000_000_000_000_000_000)
    behind = other.save(b"written later")
    again = other.save(b"and later still")
    assert [i.id for i in store.list()] == [ahead, behind, again]
    assert _ids.parse_id(behind).created_ns == 2_000_000_000_000_000_001


def test_concurrent_writers_get_unique_ids(tmp_path: Path) -> None:
    services = [CheckpointService(str(tmp_path / "shared")) for _ in range(4)]
    ids: list[str] = []
    lock = threading.Lock()

    def write(service: CheckpointService, n: int) -> None:
        for i in range(25):
            cid = service.save(f"{n}-{i}".encode(), series="shared")
            with lock:
                ids.append(cid)

    threads = [threading.Thread(target=write, args=(s, n)) for n, s in enumerate(services)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 100
    assert sorted(i.id for i in services[0].list()) == sorted(ids)


@pytest.mark.parametrize("keep", [1, 3])
def test_retention_keeps_the_last_n_of_each_series(tmp_path: Path, keep: int) -> None:
    service = CheckpointService(str(tmp_path / "ckpt"), retention=keep)
    a = [service.save(f"a{i}".encode(), series="a") for i in range(5)]
    b = [service.save(f"b{i}".encode(), series="b") for i in range(2)]
    assert [i.id for i in service.list("a")] == a[-keep:]
    assert [i.id for i in service.list("b")] == b[-keep:]
    assert service.load(a[-1]) == b"a4"
    assert service.statistics().deleted == (5 - keep) + max(0, 2 - keep)


def test_retention_never_deletes_the_checkpoint_just_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = CheckpointService(str(tmp_path / "ckpt"), retention=1)
    other = CheckpointService(service.location)  # another evaluator writing the same series
    oldest = service.save(b"1")
    newer: list[str] = []
    publish = service._store.publish

    def publish_then_race(temp: str, final: str) -> None:
        publish(temp, final)
        newer.append(other.save(b"committed right after ours"))

    monkeypatch.setattr(service._store, "publish", publish_then_race)
    mine = service.save(b"2")
    assert [i.id for i in service.list()] == [mine, *newer]
    assert oldest not in {i.id for i in service.list()}


def test_retention_must_be_a_whole_number(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CheckpointRetention=-1"):
        CheckpointService(str(tmp_path), retention=-1)


def test_delete_and_missing_checkpoints(store: CheckpointService) -> None:
    checkpoint_id = store.save(b"x")
    store.delete(checkpoint_id)
    assert store.list() == []
    for call in (store.load, store.delete, store.open):
        with pytest.raises(CheckpointNotFound, match="no committed checkpoint") as caught:
            call(checkpoint_id)
        assert isinstance(caught.value, LookupError)


@pytest.mark.parametrize(
    "bad", ["../etc/passwd", "x", "default.1.abc", "", "a/b.0000000000000000001.000000000000"]
)
def test_ids_that_are_not_checkpoint_ids_are_refused(store: CheckpointService, bad: str) -> None:
    for call in (store.load, store.delete, store.open):
        with pytest.raises(ValueError, match="is not a checkpoint id"):
            call(bad)


@pytest.mark.parametrize("series", ["", "a.b", "-x", "a/b", "x" * 101])
def test_series_names_are_checked(store: CheckpointService, series: str) -> None:
    with pytest.raises(ValueError, match="not a valid checkpoint series"):
        store.save(b"", series=series)


def test_statistics_count_what_was_done(store: CheckpointService) -> None:
    a = store.save(b"12345")
    store.load(a)
    store.delete(a)
    stats = store.statistics()
    assert (stats.committed, stats.loaded, stats.deleted, stats.bytes_written) == (1, 1, 1, 5)


# -- where checkpoints live -----------------------------------------------------------------------


def evaluator_folder(root: Path, job: str = "job-1", evaluator: str = "evaluator-2") -> Path:
    folder = root / "jobs" / job / "evaluators" / evaluator
    folder.mkdir(parents=True)
    (folder / "bootstrap.json").write_text(json.dumps({"job_id": job, "evaluator_id": evaluator}))
    return folder


def test_the_default_folder_is_in_the_jobs_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(evaluator_folder(tmp_path))
    service = CheckpointService()
    assert service.location == str(tmp_path / "jobs" / "job-1" / "checkpoints")
    assert service.load(service.save(b"x")) == b"x"


def test_without_a_job_directory_the_default_says_to_set_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match="set CheckpointPath"):
        CheckpointService()
    folder = evaluator_folder(tmp_path, evaluator="evaluator-1")
    os.rename(folder, folder.parent / "renamed")  # a bootstrap that does not match its folder
    monkeypatch.chdir(folder.parent / "renamed")
    with pytest.raises(CheckpointError, match="not laid out as"):
        CheckpointService()


def test_the_path_is_a_named_parameter(tmp_path: Path) -> None:
    conf = Configuration(parameters={CheckpointPath: str(tmp_path / "p"), CheckpointRetention: 2})
    service = Tang.new_injector(conf).get_instance(CheckpointService)
    assert (service.location, service.retention) == (str(tmp_path / "p"), 2)


def test_file_urls_are_local_folders(tmp_path: Path) -> None:
    service = CheckpointService(f"file://{tmp_path}/viaurl")
    assert service.location == str(tmp_path / "viaurl")
    assert service.load(service.save(b"x")) == b"x"


def test_an_unusable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CheckpointError, match="cannot create the checkpoint folder"):
        CheckpointService(str(blocker / "sub"))


def test_fsspec_stores_commit_verify_list_and_retain() -> None:
    url = f"memory://reef-test-{os.getpid()}-{threading.get_ident()}/ckpt"
    service = CheckpointService(url, retention=2)
    data = os.urandom(BIG)
    ids = [service.save(data, series="s", metadata={"i": i}) for i in range(3)]
    assert [i.id for i in service.list("s")] == ids[1:]
    assert service.read(ids[-1]).metadata == {"i": 2}
    assert service.load(ids[-1]) == data
    with service.create(series="s") as writer:
        writer.write(b"streamed")
    assert writer.id is not None
    with service.open(writer.id) as reader:
        assert reader.read() == b"streamed"
    aborted = service.create(series="t")
    aborted.write(b"x")
    aborted.__exit__(RuntimeError, RuntimeError(), None)
    assert service.list("t") == []

    import fsspec

    fs = fsspec.filesystem("memory")
    name = f"{url.removeprefix('memory:/')}/{ids[-1]}.ckpt"
    raw = bytearray(fs.cat_file(name))
    raw[100] ^= 1
    fs.pipe_file(name, bytes(raw))
    with pytest.raises(CheckpointCorrupted, match="checksum"):
        service.load(ids[-1])
    assert all(not n.endswith(".tmp") for n in fs.ls(url.removeprefix("memory:/"), detail=False))
    fs.rm(url.removeprefix("memory:/"), recursive=True)


def test_hdfs_without_pyarrow_says_what_to_install() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("pyarrow is installed: hdfs:// would try to reach a NameNode")
    with pytest.raises(CheckpointError, match=r"needs pyarrow \(pip install pyarrow\)"):
        CheckpointService("hdfs://namenode:8020/reef/checkpoints")
