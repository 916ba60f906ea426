"""Chains built from handler factories: inline or queued by configuration alone."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from reef.wake import (
    EventHandler,
    Profiling,
    SingleThreadStage,
    StageClosedError,
    StageRegistry,
    StageSpec,
    SyncStage,
    ThreadPoolStage,
    build_chain,
)


def parse(downstream: EventHandler[Any]) -> EventHandler[str]:
    def handle(line: str) -> None:
        downstream(int(line))

    return handle


def keep_even(downstream: EventHandler[Any]) -> EventHandler[int]:
    def handle(n: int) -> None:
        if n % 2 == 0:
            downstream(n)

    return handle


def square(downstream: EventHandler[Any]) -> EventHandler[int]:
    def handle(n: int) -> None:
        downstream(n * n)

    return handle


FACTORIES = [parse, keep_even, square]

LAYOUTS = {
    "inline": [StageSpec("inline")] * 3,
    "inline_unprofiled": [StageSpec("inline", profiling=Profiling.off())] * 3,
    "single_thread": [StageSpec("single_thread")] * 3,
    "thread_pool_1": [StageSpec("thread_pool")] * 3,
    "mixed": [
        StageSpec("inline"),
        StageSpec("thread_pool", threads=3, capacity=8),
        StageSpec("single_thread", capacity=4, when_full="block"),
    ],
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_same_factories_give_the_same_results_inlined_or_queued(
    layout: str, registry: StageRegistry
) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def sink(n: int) -> None:
        with lock:
            results.append(n)

    chain = build_chain(list(zip(FACTORIES, LAYOUTS[layout], strict=True)), sink, registry=registry)
    for i in range(300):
        chain.on_next(str(i))
    chain.close()  # source first: everything drains through to the sink

    expected = [n * n for n in range(300) if n % 2 == 0]
    ordered = layout != "mixed"  # three threads in the middle stage may reorder
    assert (results if ordered else sorted(results)) == expected
    stats = chain.statistics()
    if layout != "inline_unprofiled":
        assert [s.events_in for s in stats] == [300, 300, 150]


def test_inline_steps_call_each_other_directly(registry: StageRegistry) -> None:
    handed: list[EventHandler[Any]] = []
    built: list[EventHandler[Any]] = []

    def recording(factory: Callable[[EventHandler[Any]], EventHandler[Any]]) -> Any:
        def make(downstream: EventHandler[Any]) -> EventHandler[Any]:
            handed.append(downstream)
            handler = factory(downstream)
            built.append(handler)
            return handler

        return make

    def sink(n: int) -> None:
        pass

    spec = StageSpec("inline", profiling=Profiling.off())
    chain = build_chain([(recording(f), spec) for f in FACTORIES], sink, registry=registry)
    # Built sink to source: each factory was handed the next handler itself, no wrapper.
    assert handed == [sink, built[0], built[1]]
    assert chain.on_next is built[2]
    assert [type(s) for s in chain.stages] == [SyncStage] * 3
    chain.close()


def test_specs_choose_the_stage_types(registry: StageRegistry) -> None:
    chain = build_chain(
        list(zip(FACTORIES, LAYOUTS["mixed"], strict=True)), lambda n: None, registry=registry
    )
    assert [type(s) for s in chain.stages] == [SyncStage, ThreadPoolStage, SingleThreadStage]
    assert [s.statistics().threads for s in chain.stages] == [0, 3, 1]
    chain.close()
    with pytest.raises(StageClosedError):
        chain.on_next("1")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "process"}, "kind='process'"),
        ({"kind": "single_thread", "threads": 2}, 'only a "thread_pool"'),
        ({"kind": "inline", "capacity": 3}, "no queue to bound"),
    ],
)
def test_bad_specs_are_refused(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StageSpec(**spec)


def test_a_failing_factory_closes_the_stages_already_built(registry: StageRegistry) -> None:
    def broken(downstream: EventHandler[Any]) -> EventHandler[Any]:
        raise RuntimeError("cannot build")

    spec = StageSpec("thread_pool", threads=2)
    with pytest.raises(RuntimeError, match="cannot build"):
        build_chain([(broken, spec), (square, spec)], lambda n: None, registry=registry)
    [built] = registry.stages()
    assert built.closed
    assert not [t for t in threading.enumerate() if t.name.startswith(f"wake:{built.name}:")]


def test_a_chain_is_immutable(registry: StageRegistry) -> None:
    chain = build_chain([(square, StageSpec())], lambda n: None, registry=registry)
    with pytest.raises(AttributeError, match="immutable"):
        chain.on_next = print
    chain.close()
