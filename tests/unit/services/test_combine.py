"""Combiner: spilling and merging gives exactly what combining in memory gives; shipping follows
its period (on an injected clock), its key count and flush/close; partition_of is stable."""

from __future__ import annotations

import operator
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reef.services.data import Combiner, DataError, partition_of
from reef.services.data._combine import MERGE_FAN_IN


def in_memory(
    pairs: list[tuple[Any, Any]], combine: Callable[[Any, Any], Any]
) -> list[tuple[Any, Any]]:
    table: dict[Any, Any] = {}
    for key, value in pairs:
        table[key] = combine(table[key], value) if key in table else value
    return sorted(table.items())


keys = st.one_of(st.integers(-20, 20), st.text(max_size=3))


@settings(max_examples=80)
@given(
    st.lists(st.tuples(st.integers(-20, 20), st.integers(-1000, 1000)), max_size=300),
    st.sampled_from([0, 300, 2000, 10**9]),
)
def test_sums_with_spills_equal_sums_in_memory(pairs: list[tuple[int, int]], budget: int) -> None:
    with (
        tempfile.TemporaryDirectory() as directory,
        Combiner(operator.add, budget_bytes=budget, spill_directory=directory) as combiner,
    ):
        combiner.add_all(pairs)
        assert list(combiner.items()) == in_memory(pairs, operator.add)
        assert list(combiner.items()) == in_memory(pairs, operator.add)  # not consumed
        if budget == 0 and pairs:
            assert combiner.spills > 0


@settings(max_examples=60)
@given(st.lists(st.tuples(st.text(max_size=3), st.lists(st.integers(), max_size=3)), max_size=200))
def test_an_associative_but_not_commutative_combine_keeps_arrival_order(
    pairs: list[tuple[str, list[int]]],
) -> None:
    with (
        tempfile.TemporaryDirectory() as directory,
        Combiner(operator.add, budget_bytes=0, spill_directory=directory) as combiner,
    ):
        for key, value in pairs:
            combiner.add(key, value)
        assert list(combiner.items()) == in_memory(pairs, operator.add)


def test_runs_are_compacted_and_removed_on_close(tmp_path: Path) -> None:
    combiner: Combiner[int, int] = Combiner(
        operator.add, budget_bytes=0, spill_directory=str(tmp_path)
    )
    for i in range(200):
        combiner.add(i % 7, i)
    (folder,) = os.listdir(tmp_path)
    assert combiner.spills >= 200
    assert 1 <= len(os.listdir(tmp_path / folder)) < MERGE_FAN_IN
    assert list(combiner.items()) == in_memory([(i % 7, i) for i in range(200)], operator.add)
    combiner.close()
    assert os.listdir(tmp_path) == []
    with pytest.raises(DataError, match="closed"):
        combiner.add(1, 1)


def test_arrays_combine_and_spill(tmp_path: Path) -> None:
    pairs = [(f"k{i % 5}", np.full(50, float(i))) for i in range(40)]
    with Combiner(np.add, budget_bytes=1000, spill_directory=str(tmp_path)) as combiner:
        combiner.add_all(pairs)
        assert combiner.spills > 0
        got = dict(combiner.items())
    want = dict(in_memory(pairs, np.add))
    assert got.keys() == want.keys()
    assert all(np.array_equal(got[k], want[k]) for k in want)


def test_without_spills_nothing_touches_the_disk() -> None:
    with Combiner(operator.add) as combiner:
        combiner.add_all([("b", 1), ("a", 2), ("b", 3)])
        assert list(combiner.items()) == [("a", 2), ("b", 4)]
        assert combiner.spills == 0 and len(combiner) == 2 and combiner.memory_bytes > 0


def test_unorderable_keys_are_refused_when_sorting(tmp_path: Path) -> None:
    with Combiner(operator.add, spill_directory=str(tmp_path)) as combiner:
        combiner.add(1, 1)
        combiner.add("a", 1)
        with pytest.raises(DataError, match="orderable"):
            combiner.items()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_combined_values_ship_every_period_on_the_clock() -> None:
    clock, shipped = Clock(), []
    combiner: Combiner[str, int] = Combiner(
        operator.add, ship=shipped.append, ship_every=10.0, clock=clock
    )
    for t, key in [(1, "b"), (2, "a"), (9.5, "b")]:
        clock.now = t
        combiner.add(key, 1)
    assert shipped == []
    clock.now = 10.0
    combiner.add("a", 5)  # the period has passed: everything held goes, in key order
    assert shipped == [[("a", 6), ("b", 2)]]
    clock.now = 15.0
    combiner.add("c", 1)
    combiner.poll()
    assert len(shipped) == 1
    clock.now = 20.0
    combiner.poll()  # no add needed
    assert shipped[-1] == [("c", 1)]
    clock.now = 40.0
    combiner.poll()  # nothing held: nothing shipped
    combiner.add("d", 1)
    combiner.flush()
    assert shipped[-1] == [("d", 1)] and combiner.shipments == 3
    combiner.add("e", 2)
    combiner.close()
    assert shipped[-1] == [("e", 2)] and len(combiner) == 0


def test_combined_values_ship_every_n_distinct_keys_and_above_the_budget() -> None:
    shipped: list[list[tuple[int, int]]] = []
    combiner: Combiner[int, int] = Combiner(operator.add, ship=shipped.append, ship_keys=3)
    combiner.add_all([(1, 1), (1, 1), (2, 1), (1, 1), (3, 1), (4, 1)])
    assert shipped == [[(1, 3), (2, 1), (3, 1)]]
    combiner.close()
    assert shipped[-1] == [(4, 1)]
    shipped.clear()
    with Combiner(operator.add, ship=shipped.append, budget_bytes=0) as tiny:
        tiny.add_all([(1, 1), (2, 1)])
    assert shipped == [[(1, 1)], [(2, 1)]]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="ship="):
        Combiner(operator.add, ship_every=1.0)
    with pytest.raises(ValueError, match="ship_every"):
        Combiner(operator.add, ship=print, ship_every=0)
    with pytest.raises(ValueError, match="budget_bytes"):
        Combiner(operator.add, budget_bytes=-1)


def test_partition_of_is_stable_and_agrees_with_key_equality() -> None:
    # Fixed values: the same in every process and release, whatever PYTHONHASHSEED is.
    assert partition_of("apple", 1000) == 118
    assert partition_of(42, 1000) == 606
    assert partition_of(("a", 1), 1000) == 972
    assert {partition_of(k, 7) for k in ("apple", b"apple", None, 2.5)} <= set(range(7))
    assert partition_of(1, 16) == partition_of(1.0, 16) == partition_of(True, 16)
    assert partition_of(np.int64(42), 1000) == partition_of(np.uint8(42), 1000) == 606
    assert partition_of(np.float32(2.5), 97) == partition_of(2.5, 97)
    counts = np.bincount([partition_of(f"key-{i}", 8) for i in range(8000)], minlength=8)
    assert counts.min() > 800  # about 1000 each
    with pytest.raises(TypeError, match="stably"):
        partition_of(["a"], 4)
    with pytest.raises(ValueError):
        partition_of("a", 0)


def test_partition_of_is_the_same_in_another_process() -> None:
    import subprocess
    import sys

    code = "from reef.services.data import partition_of; print(partition_of('apple', 1000), partition_of(42, 1000))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        timeout=60,
    ).stdout.split()
    assert [int(x) for x in out] == [partition_of("apple", 1000), partition_of(42, 1000)]


def test_a_combine_that_updates_an_argument_in_place_gives_the_same_items_again(
    tmp_path: Path,
) -> None:
    def into_second(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.add(a, b, out=b)

    def into_first(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.add(a, b, out=a)

    for combine in (into_second, into_first):
        with Combiner(combine, spill_directory=str(tmp_path)) as combiner:
            combiner.add("k", np.ones(2))
            combiner.add_all([("k", np.ones(2)), ("j", np.ones(2))])
            combiner._spill()  # a run on disk, as above the budget
            combiner.add_all([("k", np.ones(2)), ("j", np.ones(2))])
            for _ in range(3):  # the held values are never handed to combine by items()
                assert [(k, v.tolist()) for k, v in combiner.items()] == [
                    ("j", [2.0, 2.0]),
                    ("k", [3.0, 3.0]),
                ]


def test_pairs_whose_shipment_failed_are_shipped_again_not_lost() -> None:
    shipped: list[list[tuple[str, int]]] = []
    failures = [RuntimeError("the network is down")]

    def ship(pairs: list[tuple[str, int]]) -> None:
        if failures:
            raise failures.pop()
        shipped.append(pairs)

    combiner: Combiner[str, int] = Combiner(operator.add, ship=ship)
    combiner.add_all([("a", 1), ("b", 2)])
    with pytest.raises(RuntimeError, match="network"):
        combiner.flush()
    assert combiner.shipments == 0 and len(combiner) == 2
    combiner.add_all([("a", 10), ("c", 3)])  # combined with what failed to ship
    combiner.close()
    assert shipped == [[("a", 11), ("b", 2), ("c", 3)]] and combiner.shipments == 1


def test_close_after_a_failed_shipment_raises_and_still_cleans_up(tmp_path: Path) -> None:
    def ship(pairs: list[tuple[int, int]]) -> None:
        raise RuntimeError("refused")

    combiner: Combiner[int, int] = Combiner(operator.add, ship=ship)
    combiner.add(1, 1)
    with pytest.raises(RuntimeError, match="refused"):
        combiner.close()
    combiner.close()  # closed all the same: idempotent, nothing to ship again
    with pytest.raises(DataError, match="closed"):
        combiner.add(1, 1)
