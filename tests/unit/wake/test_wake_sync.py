"""SyncStage: inline calls, zero cost when unprofiled, error policy, counting."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from reef.wake import Profiling, StageClosedError, StageRegistry, SyncStage

Wait = Callable[..., None]  # the wait_until fixture


def test_unprofiled_sync_stage_is_the_handler_itself(registry: StageRegistry) -> None:
    def handler(event: int) -> None:
        pass

    stage = SyncStage(handler, profiling=Profiling.off(), registry=registry)
    assert stage.on_next is handler
    stage.close()


def test_handler_runs_on_the_callers_thread(registry: StageRegistry) -> None:
    threads: list[threading.Thread] = []
    with SyncStage(
        lambda event: threads.append(threading.current_thread()), registry=registry
    ) as s:
        s.on_next(1)
    assert threads == [threading.current_thread()]


def test_without_error_handler_exceptions_propagate_and_are_counted(
    registry: StageRegistry,
) -> None:
    def handle(event: int) -> None:
        if event < 0:
            raise ValueError(event)

    stage = SyncStage(handle, registry=registry)
    stage.on_next(1)
    with pytest.raises(ValueError, match="-1"):
        stage.on_next(-1)
    stage.on_next(2)
    s = stage.statistics()
    assert (s.events_in, s.events_out, s.events_failed, s.busy) == (3, 2, 1, 0)
    stage.close()


@pytest.mark.parametrize("profiling", [Profiling.off(), Profiling.sampled(2)], ids=str)
def test_with_error_handler_exceptions_are_routed_and_counted(
    profiling: Profiling, registry: StageRegistry
) -> None:
    failures: list[tuple[BaseException, object]] = []

    def handle(event: int) -> None:
        if event % 2:
            raise ValueError(event)

    stage = SyncStage(
        handle,
        error_handler=lambda exc, ev: failures.append((exc, ev)),
        profiling=profiling,
        registry=registry,
    )
    for i in range(6):
        stage.on_next(i)  # never raises
    assert [ev for _, ev in failures] == [1, 3, 5]
    assert stage.statistics().events_failed == 3
    stage.close()


def test_error_handler_does_not_swallow_keyboard_interrupt(registry: StageRegistry) -> None:
    def interrupted(event: int) -> None:
        raise KeyboardInterrupt

    routed: list[object] = []
    stage = SyncStage(interrupted, error_handler=lambda e, ev: routed.append(ev), registry=registry)
    with pytest.raises(KeyboardInterrupt):
        stage.on_next(1)
    assert routed == []
    stage.close()


def test_a_raising_error_handler_is_counted_and_the_call_returns(registry: StageRegistry) -> None:
    def bad(exc: BaseException, event: object) -> None:
        raise RuntimeError("error handler broke")

    stage = SyncStage(lambda e: 1 / 0, error_handler=bad, registry=registry)
    stage.on_next(1)
    assert stage.statistics().error_handler_failures == 1
    stage.close()


@pytest.mark.parametrize(
    "settings",
    [
        {"profiling": Profiling.sampled(4)},
        {"profiling": Profiling.off(), "error_handler": lambda e, ev: None},
    ],
    ids=["profiled", "guarded"],
)
def test_events_after_close_are_refused(
    settings: dict[str, object], registry: StageRegistry
) -> None:
    handled: list[int] = []
    stage = SyncStage(handled.append, name="inline", registry=registry, **settings)
    stage.on_next(1)
    stage.close()
    with pytest.raises(StageClosedError, match=r"'inline' \(sync\).*closed"):
        stage.on_next(2)
    assert handled == [1]


def test_calls_in_progress_are_busy_and_the_counts_add_up(
    registry: StageRegistry, wait_until: Wait
) -> None:
    release = threading.Event()
    stage = SyncStage(lambda event: release.wait(10), profiling=Profiling.on(), registry=registry)
    callers = [threading.Thread(target=stage.on_next, args=(i,)) for i in range(2)]
    for caller in callers:
        caller.start()
    wait_until(lambda: stage.statistics().busy == 2, what="two calls in the handler")
    s = stage.statistics()
    assert (s.events_in, s.events_out) == (2, 0)
    assert s.events_in == s.events_out + s.events_failed + s.busy
    release.set()
    for caller in callers:
        caller.join()
    s = stage.statistics()
    assert (s.events_in, s.events_out, s.busy, s.latency_samples) == (2, 2, 0, 2)
    assert s.effective_parallelism > 0
    stage.close()


def test_latency_is_sampled_one_in_k_per_calling_thread(registry: StageRegistry) -> None:
    stage = SyncStage(lambda event: None, profiling=Profiling.sampled(10), registry=registry)
    for i in range(1000):
        stage.on_next(i)
    s = stage.statistics()
    assert (s.events_in, s.events_out, s.latency_samples) == (1000, 1000, 100)
    assert s.latency_mean is not None and s.latency_mean > 0
    stage.close()


def test_counts_survive_the_threads_that_made_them(registry: StageRegistry) -> None:
    stage = SyncStage(lambda event: None, registry=registry)
    for _ in range(5):
        caller = threading.Thread(target=lambda: [stage.on_next(i) for i in range(100)])
        caller.start()
        caller.join()
    assert stage.statistics().events_out == 500  # folded from shards of ended threads
    assert stage.statistics().events_out == 500
    stage.close()
