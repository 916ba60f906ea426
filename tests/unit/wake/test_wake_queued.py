"""ThreadPoolStage and SingleThreadStage: order, draining, threads, errors, statistics, bounds."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from reef.wake import (
    Profiling,
    SingleThreadStage,
    Stage,
    StageClosedError,
    StageFullError,
    StageRegistry,
    StageStatistics,
    ThreadPoolStage,
)

QueuedFactory = Callable[..., Stage[Any]]
Wait = Callable[..., None]  # the wait_until fixture

KINDS: dict[str, QueuedFactory] = {
    "single_thread": SingleThreadStage,
    "thread_pool_1": lambda handler, **kw: ThreadPoolStage(handler, 1, **kw),
    "thread_pool_3": lambda handler, **kw: ThreadPoolStage(handler, 3, **kw),
}


def stage_threads(stage: Stage[Any]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"wake:{stage.name}:")]


def quiescent(stage: Stage[Any], handled: int) -> Callable[[], bool]:
    def check() -> bool:
        s = stage.statistics()
        return s.queue_length == 0 and s.busy == 0 and s.events_out + s.events_failed == handled

    return check


def test_single_thread_stage_keeps_every_producers_order(registry: StageRegistry) -> None:
    producers, per_producer = 4, 3000
    seen: list[tuple[int, int]] = []
    threads_seen: set[int] = set()

    def handle(event: tuple[int, int]) -> None:
        threads_seen.add(threading.get_ident())
        seen.append(event)

    stage = SingleThreadStage(handle, registry=registry)
    start = threading.Barrier(producers)

    def produce(producer: int) -> None:
        start.wait()
        for n in range(per_producer):
            stage.on_next((producer, n))

    workers = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stage.close()

    assert len(seen) == producers * per_producer
    for p in range(producers):
        assert [n for q, n in seen if q == p] == list(range(per_producer))
    assert len(threads_seen) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_close_handles_every_queued_event_before_it_returns(
    kind: str, registry: StageRegistry
) -> None:
    release = threading.Event()
    handled: list[int] = []
    lock = threading.Lock()

    def slow(event: int) -> None:
        release.wait(10)  # every event waits until the test lets the stage go
        with lock:
            handled.append(event)

    stage = KINDS[kind](slow, registry=registry)
    for i in range(200):
        stage.on_next(i)
    seen_at_return: list[int] = []

    def close() -> None:
        stage.close()
        seen_at_return.append(len(handled))

    closer = threading.Thread(target=close)
    closer.start()
    closer.join(0.05)
    assert closer.is_alive(), "close() returned while events were still queued"
    release.set()
    closer.join(10)
    assert seen_at_return == [200]
    assert sorted(handled) == list(range(200))


@pytest.mark.parametrize("kind", KINDS)
def test_no_thread_outlives_a_closed_stage(kind: str, registry: StageRegistry) -> None:
    stage = KINDS[kind](lambda event: None, registry=registry)
    expected = 3 if kind == "thread_pool_3" else 1
    assert len(stage_threads(stage)) == expected
    stage.on_next(1)
    stage.close()
    assert stage_threads(stage) == []
    assert stage.statistics().threads == expected


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("capacity", [None, 4])
def test_events_after_close_are_refused(
    kind: str, capacity: int | None, registry: StageRegistry
) -> None:
    stage = KINDS[kind](lambda event: None, name="ingest", capacity=capacity, registry=registry)
    stage.close()
    with pytest.raises(StageClosedError, match=r"'ingest'.*closed"):
        stage.on_next(1)
    assert stage.statistics().events_in == 0


@pytest.mark.parametrize("kind", KINDS)
def test_handler_errors_reach_the_error_handler_and_workers_survive(
    kind: str, registry: StageRegistry, wait_until: Wait
) -> None:
    failures: list[tuple[BaseException, object]] = []
    handled: list[int] = []

    def handle(event: int) -> None:
        if event % 2:
            raise ValueError(f"odd {event}")
        handled.append(event)

    stage = KINDS[kind](
        handle, error_handler=lambda exc, ev: failures.append((exc, ev)), registry=registry
    )
    workers = stage_threads(stage)
    for i in range(100):
        stage.on_next(i)
    wait_until(quiescent(stage, 100))
    assert all(t.is_alive() for t in workers)
    stage.on_next(1000)  # still working after fifty failures
    wait_until(quiescent(stage, 101))
    stage.close()

    assert sorted(handled) == [*range(0, 100, 2), 1000]
    assert sorted(ev for _, ev in failures) == list(range(1, 100, 2))
    assert all(isinstance(exc, ValueError) for exc, _ in failures)
    stats = stage.statistics()
    assert (stats.events_in, stats.events_out, stats.events_failed) == (101, 51, 50)


def test_default_error_handler_logs_and_counts(
    registry: StageRegistry, caplog: pytest.LogCaptureFixture, wait_until: Wait
) -> None:
    def broken(event: int) -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="reef.wake"):
        stage = ThreadPoolStage(broken, name="broken", registry=registry)
        stage.on_next(7)
        wait_until(quiescent(stage, 1))
        stage.close()
    assert stage.statistics().events_failed == 1
    [record] = [r for r in caplog.records if r.name == "reef.wake"]
    assert "'broken'" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)


def test_an_error_handler_that_raises_is_logged_counted_and_survived(
    registry: StageRegistry, caplog: pytest.LogCaptureFixture, wait_until: Wait
) -> None:
    def fail(event: int) -> None:
        raise ValueError(event)

    def bad_error_handler(exc: BaseException, event: object) -> None:
        raise KeyError("the error handler is broken too")

    with caplog.at_level(logging.ERROR, logger="reef.wake"):
        stage = SingleThreadStage(fail, error_handler=bad_error_handler, registry=registry)
        for i in range(3):
            stage.on_next(i)
        wait_until(quiescent(stage, 3))
        [worker] = stage_threads(stage)
        assert worker.is_alive()
        stage.close()
    stats = stage.statistics()
    assert (stats.events_failed, stats.error_handler_failures) == (3, 3)
    assert sum("error handler raised" in r.getMessage() for r in caplog.records) == 3


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "profiling", [Profiling.counters_only(), Profiling.sampled(8), Profiling.on()], ids=str
)
def test_statistics_add_up_when_quiescent(
    kind: str, profiling: Profiling, registry: StageRegistry, wait_until: Wait
) -> None:
    def handle(event: int) -> None:
        if event % 10 == 0:
            raise ValueError(event)

    stage = KINDS[kind](
        handle, profiling=profiling, error_handler=lambda e, ev: None, registry=registry
    )
    for i in range(500):
        stage.on_next(i)
    wait_until(quiescent(stage, 500))
    s = stage.statistics()
    assert s.events_in == 500
    assert (s.events_out, s.events_failed) == (450, 50)
    assert s.events_in == s.events_out + s.events_failed + s.queue_length + s.busy
    assert s.throughput > 0 and s.busy_seconds > 0
    if profiling.latency_every:
        assert s.latency_samples == 500 // profiling.latency_every
        assert s.latency_p50 is not None and 0 < s.latency_p50 <= s.latency_p99
    else:
        assert (s.latency_samples, s.latency_p50) == (0, None)
    stage.close()
    final = stage.statistics()
    assert final.closed and final.events_in == 500 and final.uptime_seconds >= s.uptime_seconds


def test_profiling_off_counts_only_failures(registry: StageRegistry, wait_until: Wait) -> None:
    def handle(event: int) -> None:
        if event == 3:
            raise ValueError(event)

    stage = ThreadPoolStage(
        handle, 2, profiling=Profiling.off(), error_handler=lambda e, ev: None, registry=registry
    )
    for i in range(10):
        stage.on_next(i)
    wait_until(lambda: stage.statistics().events_failed == 1)
    stage.close()
    s = stage.statistics()
    assert (s.events_in, s.events_out, s.latency_samples, s.profiling) == (0, 0, 0, "off")


def test_busy_threads_and_parallelism_follow_a_blocking_handler(
    registry: StageRegistry, wait_until: Wait
) -> None:
    release = threading.Event()
    stage = ThreadPoolStage(lambda event: release.wait(10), 2, registry=registry)
    stage.on_next(1)
    stage.on_next(2)
    wait_until(lambda: stage.statistics().busy == 2, what="both threads in the handler")
    both_busy = time.perf_counter()
    s = stage.statistics()
    assert (s.queue_length, s.events_in, s.events_out, s.threads) == (0, 2, 0, 2)
    # Both threads stay busy, so busy time grows twice as fast as uptime.
    wait_until(lambda: stage.statistics().effective_parallelism > 1.5, what="parallelism > 1.5")
    released = time.perf_counter()
    release.set()
    wait_until(quiescent(stage, 2))
    s = stage.statistics()
    assert s.busy == 0 and s.events_out == 2
    assert s.busy_seconds >= 2 * (released - both_busy)
    assert s.busy_seconds <= 2 * s.uptime_seconds
    stage.close()


@pytest.mark.parametrize("threads", [1, 3])
def test_snapshots_taken_while_events_flow_stay_consistent(
    threads: int, registry: StageRegistry, wait_until: Wait
) -> None:
    def handle(event: int) -> None:
        if event % 97 == 0:
            raise ValueError(event)

    stage = ThreadPoolStage(
        handle,
        threads,
        profiling=Profiling.sampled(4),
        error_handler=lambda e, ev: None,
        registry=registry,
    )
    total = 30_000
    done = threading.Event()
    snapshots: list[StageStatistics] = []

    def watch() -> None:
        while not done.is_set():
            snapshots.append(stage.statistics())

    def produce() -> None:
        for i in range(total):
            stage.on_next(i)

    watcher, producer = threading.Thread(target=watch), threading.Thread(target=produce)
    watcher.start()
    producer.start()
    producer.join()
    wait_until(quiescent(stage, total))
    done.set()
    watcher.join()
    snapshots.append(stage.statistics())
    stage.close()

    assert len(snapshots) > 10
    monotonic = ("events_in", "events_out", "events_failed", "latency_samples", "busy_seconds")
    for before, after in itertools.pairwise(snapshots):
        for field in monotonic:
            assert getattr(after, field) >= getattr(before, field), field
    for s in snapshots:
        assert min(s.events_out, s.events_failed, s.queue_length, s.busy) >= 0
        assert s.busy <= threads
        assert s.events_in <= total
        assert s.events_in >= s.events_out + s.events_failed
    last = snapshots[-1]
    assert (last.events_in, last.events_failed) == (total, len(range(0, total, 97)))
    assert last.events_in == last.events_out + last.events_failed + last.queue_length + last.busy


def test_full_queue_with_raise_refuses_and_counts(
    registry: StageRegistry, wait_until: Wait
) -> None:
    release = threading.Event()
    stage = SingleThreadStage(
        lambda event: release.wait(10), capacity=3, when_full="raise", registry=registry
    )
    stage.on_next(0)
    wait_until(lambda: stage.statistics().busy == 1, what="the worker to take event 0")
    for i in range(1, 4):
        stage.on_next(i)
    with pytest.raises(StageFullError, match=r"full \(3 events\)"):
        stage.on_next(4)
    s = stage.statistics()
    assert (s.queue_length, s.events_rejected) == (3, 1)
    release.set()
    stage.close()
    s = stage.statistics()
    assert (s.events_in, s.events_out, s.events_rejected) == (4, 4, 1)


def test_full_queue_with_block_applies_back_pressure(
    registry: StageRegistry, wait_until: Wait
) -> None:
    release = threading.Event()
    handled: list[int] = []

    def handle(event: int) -> None:
        release.wait(10)
        handled.append(event)

    stage = SingleThreadStage(handle, capacity=2, registry=registry)
    stage.on_next(0)
    wait_until(lambda: stage.statistics().busy == 1, what="the worker to take event 0")
    stage.on_next(1)
    stage.on_next(2)
    blocked = threading.Thread(target=stage.on_next, args=(3,))
    blocked.start()
    blocked.join(0.05)
    assert blocked.is_alive(), "on_next returned although the queue was full"
    assert stage.statistics().queue_length == 2
    release.set()
    blocked.join(10)
    assert not blocked.is_alive()
    stage.close()
    assert handled == [0, 1, 2, 3]
    assert stage.statistics().events_rejected == 0


def test_a_producer_blocked_on_a_full_queue_is_refused_when_the_stage_closes(
    registry: StageRegistry, wait_until: Wait
) -> None:
    release = threading.Event()
    stage = SingleThreadStage(lambda event: release.wait(10), capacity=1, registry=registry)
    stage.on_next(0)
    wait_until(lambda: stage.statistics().busy == 1)
    stage.on_next(1)
    outcome: list[BaseException | None] = []

    def offer() -> None:
        try:
            stage.on_next(2)
            outcome.append(None)
        except StageClosedError as exc:
            outcome.append(exc)

    producer = threading.Thread(target=offer)
    producer.start()
    closer = threading.Thread(target=stage.close)
    closer.start()
    wait_until(lambda: stage.closed)
    release.set()
    closer.join(10)
    producer.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], StageClosedError)
    assert stage.statistics().events_in == 2


def test_close_times_out_then_can_be_retried(registry: StageRegistry, wait_until: Wait) -> None:
    release = threading.Event()
    stage = ThreadPoolStage(lambda event: release.wait(10), name="stuck", registry=registry)
    stage.on_next(1)
    stage.on_next(2)
    with pytest.raises(TimeoutError, match=r"'stuck' did not drain"):
        stage.close(timeout=0.01)
    assert stage.closed
    with pytest.raises(StageClosedError):
        stage.on_next(3)
    release.set()
    stage.close()
    assert stage.statistics().events_out == 2


def test_a_handler_may_close_its_own_stage(registry: StageRegistry, wait_until: Wait) -> None:
    handled: list[int] = []
    refused: list[int] = []
    holder: list[Stage[int]] = []

    release = threading.Event()

    def handle(event: int) -> None:
        if event == -1:
            release.wait(10)
        handled.append(event)
        if event == 5:
            holder[0].close()  # from the worker itself: must neither deadlock nor drop events
            try:
                holder[0].on_next(99)
            except StageClosedError:
                refused.append(99)

    stage = SingleThreadStage(handle, registry=registry)
    holder.append(stage)
    stage.on_next(-1)  # hold the worker until everything is queued
    for i in range(10):
        stage.on_next(i)
    release.set()
    wait_until(lambda: stage.closed and not stage_threads(stage))
    stage.close()
    assert handled == [-1, *range(10)]
    assert refused == [99]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ThreadPoolStage(print, 0), "threads=0"),
        (lambda: ThreadPoolStage(print, capacity=0), "capacity=0"),
        (lambda: ThreadPoolStage(print, when_full="drop"), "when_full='drop'"),
        (lambda: SingleThreadStage(print, profiling="on"), "profiling='on'"),
    ],
)
def test_bad_settings_are_refused_before_any_thread_starts(
    build: Callable[[], object], message: str
) -> None:
    before = set(threading.enumerate())
    with pytest.raises((ValueError, TypeError), match=message):
        build()
    assert not set(threading.enumerate()) - before


def test_a_handler_must_be_callable() -> None:
    with pytest.raises(TypeError, match="callable handler"):
        ThreadPoolStage(42)
