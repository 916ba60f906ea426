"""Cache: values survive spilling unchanged, the least recently used spill first, the stats say
what happened, and close() leaves no file behind."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reef.common._identity import EvaluatorIdentity
from reef.common._tls import CredentialFiles
from reef.services.data import Cache, CacheMemoryBudget, DataError
from reef.tang import Configuration, Tang


def spill_files(cache: Cache) -> list[str]:
    return sorted(os.listdir(cache.directory))


def array(seed: int, n: int = 100) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n)  # 800 bytes


def test_spilled_arrays_and_objects_come_back_equal(tmp_path: Path) -> None:
    values: dict[str, Any] = {f"a{i}": array(i) for i in range(10)}
    values |= {
        f"o{i}": {"i": i, "text": "x" * (50 * i), "nested": [i, (i, str(i))]} for i in range(10)
    }
    cache = Cache.in_directory(str(tmp_path), budget=2000)
    for key, value in values.items():
        cache.put(key, value)
    stats = cache.stats()
    assert stats.spills > 0 and stats.bytes_on_disk > 0
    assert stats.bytes_in_memory <= 2000
    for key, value in values.items():
        got = cache.get(key)
        if isinstance(value, np.ndarray):
            assert got.dtype == value.dtype and np.array_equal(got, value)
        else:
            assert got == value
    assert cache.stats().disk_reads > 0
    assert len(cache) == len(values) and set(cache.keys()) == set(values)
    cache.close()


def test_arrays_spill_as_npy_and_other_values_as_pickles(tmp_path: Path) -> None:
    cache = Cache.in_directory(str(tmp_path), budget=0)
    cache.put("array", array(1))
    cache.put("object", ["a", "b"])
    assert [os.path.splitext(f)[1] for f in spill_files(cache)] == [".npy", ".pkl"]
    npy = os.path.join(cache.directory, spill_files(cache)[0])
    assert np.array_equal(np.load(npy, allow_pickle=False), array(1))
    cache.close()


def test_the_least_recently_used_value_spills_first(tmp_path: Path) -> None:
    cache = Cache.in_directory(str(tmp_path), budget=2000)  # two 800-byte arrays fit
    cache.put("a", array(1))
    cache.put("b", array(2))
    assert cache.get("a") is not None  # a becomes the most recently used
    cache.put("c", array(3))  # b must go
    assert cache.keys() == ["b", "a", "c"]  # on disk first, then memory LRU -> MRU
    stats = cache.stats()
    assert (stats.spills, stats.bytes_in_memory, stats.bytes_on_disk) == (1, 1600, 800)
    # Reading b back brings it to memory and spills the least recently used one (a).
    assert np.array_equal(cache.get("b"), array(2))
    assert cache.keys() == ["a", "c", "b"]
    stats = cache.stats()
    assert (stats.spills, stats.disk_reads, stats.bytes_on_disk) == (2, 1, 800)
    assert len(spill_files(cache)) == 1
    cache.close()


def test_a_value_larger_than_the_budget_goes_straight_to_disk(tmp_path: Path) -> None:
    cache = Cache.in_directory(str(tmp_path), budget=1000)
    cache.put("small", array(1, 10))
    cache.put("big", array(2, 1000))
    stats = cache.stats()
    assert (stats.spills, stats.bytes_in_memory, stats.bytes_on_disk) == (1, 80, 8000)
    for _ in range(2):  # read from disk each time, never admitted to memory
        assert np.array_equal(cache.get("big"), array(2, 1000))
    assert cache.stats().disk_reads == 2 and cache.keys() == ["big", "small"]
    cache.close()


def test_stats_count_hits_misses_and_loads(tmp_path: Path) -> None:
    cache = Cache.in_directory(str(tmp_path), budget=10_000)
    calls = []
    assert cache.get_or_load("k", lambda: calls.append(1) or "v") == "v"
    assert cache.get_or_load("k", lambda: calls.append(1) or "w") == "v"
    assert cache.get("missing") is None and cache.get("missing", 7) == 7
    with pytest.raises(KeyError):
        cache["missing"]
    assert cache["k"] == "v" and "k" in cache and "missing" not in cache
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.loads, stats.entries) == (2, 4, 1, 1)
    assert calls == [1]
    cache.close()


def test_put_replaces_and_remove_forgets_including_spill_files(tmp_path: Path) -> None:
    cache = Cache.in_directory(str(tmp_path), budget=0)
    cache.put("k", array(1))
    cache.put("k", array(2))
    assert np.array_equal(cache["k"], array(2)) and len(spill_files(cache)) == 1
    assert cache.remove("k") and not cache.remove("k")
    assert spill_files(cache) == [] and len(cache) == 0
    assert cache.stats().bytes_on_disk == 0
    cache.close()


def test_close_removes_the_spill_files_and_refuses_further_use(tmp_path: Path) -> None:
    cache = Cache.in_directory(str(tmp_path), budget=100)
    for i in range(5):
        cache.put(i, array(i))
    assert len(spill_files(cache)) == 5
    directory = cache.directory
    cache.close()
    cache.close()  # idempotent
    assert not os.path.exists(directory) and os.listdir(tmp_path) == []
    with pytest.raises(DataError, match="closed"):
        cache.get(0)
    with pytest.raises(DataError, match="closed"):
        cache.put(9, 9)


def test_concurrent_get_or_load_runs_the_loader_once(tmp_path: Path) -> None:
    cache = Cache.in_directory(str(tmp_path), budget=10_000)
    entered, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def load() -> str:
        calls.append(1)
        entered.set()
        assert release.wait(10)
        return "loaded"

    results: list[str] = []
    first = threading.Thread(target=lambda: results.append(cache.get_or_load("k", load)))
    first.start()
    assert entered.wait(10)
    others = [
        threading.Thread(target=lambda: results.append(cache.get_or_load("k", load)))
        for _ in range(3)
    ]
    for t in others:
        t.start()
    release.set()
    for t in [first, *others]:
        t.join(10)
    assert results == ["loaded"] * 4 and calls == [1]
    assert cache.stats().loads == 1
    cache.close()


def test_a_failing_loader_caches_nothing(tmp_path: Path) -> None:
    cache = Cache.in_directory(str(tmp_path))

    def fail() -> None:
        raise RuntimeError("no data")

    with pytest.raises(RuntimeError, match="no data"):
        cache.get_or_load("k", fail)
    assert "k" not in cache
    assert cache.get_or_load("k", lambda: 3) == 3
    cache.close()


def test_bad_budgets_and_unpicklable_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="CacheMemoryBudget"):
        Cache.in_directory(str(tmp_path), budget=-1)
    cache = Cache.in_directory(str(tmp_path))
    with pytest.raises(DataError, match="cannot be pickled"):
        cache.put("lock", threading.Lock())
    cache.close()


def test_injected_on_an_evaluator_it_spills_under_the_workdir(tmp_path: Path) -> None:
    files = CredentialFiles("ca", "cert", "key")
    me = EvaluatorIdentity("job", "evaluator-1", "host", "key", str(tmp_path), files)
    injector = Tang.new_injector(
        Configuration(parameters={CacheMemoryBudget: 10}), instances={EvaluatorIdentity: me}
    )
    cache = injector.get_instance(Cache)
    assert cache.budget == 10
    assert os.path.dirname(cache.directory) == str(tmp_path / "cache")
    cache.put("k", array(1))
    assert len(os.listdir(cache.directory)) == 1
    cache.close()
    assert os.listdir(tmp_path / "cache") == []
    assert CacheMemoryBudget.default == 256 * 1024 * 1024


operations = st.lists(
    st.tuples(
        st.sampled_from(["put", "get", "remove"]),
        st.integers(0, 7),
        st.one_of(
            st.integers(0, 300).map(lambda n: np.arange(n, dtype=np.int64)),
            st.lists(st.text(max_size=20), max_size=20),
            st.binary(max_size=500),
        ),
    ),
    max_size=60,
)


@settings(max_examples=60)
@given(operations, st.integers(0, 3000))
def test_any_sequence_of_operations_matches_a_dict(
    ops: list[tuple[str, int, Any]], budget: int
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        cache = Cache.in_directory(directory, budget=budget)
        model: dict[int, Any] = {}
        for op, key, value in ops:
            if op == "put":
                cache.put(key, value)
                model[key] = value
            elif op == "remove":
                assert cache.remove(key) == (model.pop(key, None) is not None)
            else:
                got, want = cache.get(key), model.get(key)
                if isinstance(want, np.ndarray):
                    assert np.array_equal(got, want)
                else:
                    assert got == want
            stats = cache.stats()
            assert stats.bytes_in_memory <= budget
            assert stats.entries == len(model) and set(cache.keys()) == set(model)
            assert len(spill_files(cache)) <= len(model)
        cache.close()
        assert os.listdir(directory) == []


def test_callers_waiting_on_a_loader_that_fails_retry_and_get_the_next_load(
    tmp_path: Path,
) -> None:
    cache = Cache.in_directory(str(tmp_path), budget=10_000)
    entered, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def failing() -> str:
        calls.append("failing")
        entered.set()
        assert release.wait(10)
        raise RuntimeError("the first load fails")

    def working() -> str:
        calls.append("working")
        return "loaded"

    errors: list[BaseException] = []

    def first() -> None:
        try:
            cache.get_or_load("k", failing)
        except RuntimeError as e:
            errors.append(e)

    results: list[str] = []
    threads = [threading.Thread(target=first)]
    threads[0].start()
    assert entered.wait(10)
    threads += [
        threading.Thread(target=lambda: results.append(cache.get_or_load("k", working)))
        for _ in range(3)
    ]
    for t in threads[1:]:
        t.start()
    release.set()
    for t in threads:
        t.join(10)
        assert not t.is_alive()
    assert [str(e) for e in errors] == ["the first load fails"]
    assert results == ["loaded"] * 3 and calls == ["failing", "working"]
    assert cache.get("k") == "loaded"
    cache.close()
