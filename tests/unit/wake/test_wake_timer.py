"""TimerStage on a logical clock (deterministic) and on its own real clock."""

from __future__ import annotations

import threading

import pytest

from reef.wake import (
    LogicalClock,
    PeriodicEvent,
    StageClosedError,
    StageRegistry,
    TimerStage,
)


def test_timer_ticks_at_a_fixed_rate_on_a_logical_clock(registry: StageRegistry) -> None:
    clock = LogicalClock()
    ticks: list[PeriodicEvent] = []
    stage = TimerStage(ticks.append, 1.0, initial_delay=0.5, clock=clock, registry=registry)
    clock.advance(0.4)
    assert ticks == []
    clock.advance(0.1)
    assert ticks == [PeriodicEvent(0.5, 0)]
    clock.advance(3)
    assert ticks[1:] == [PeriodicEvent(1.5, 1), PeriodicEvent(2.5, 2), PeriodicEvent(3.5, 3)]
    assert clock.pending() == 1
    stage.close()
    assert clock.pending() == 0
    clock.advance(10)
    assert len(ticks) == 4
    s = stage.statistics()
    assert (s.events_in, s.events_out, s.threads, s.kind) == (4, 4, 0, "timer")
    clock.close()


def test_a_failing_tick_is_reported_and_the_timer_goes_on(registry: StageRegistry) -> None:
    clock = LogicalClock()
    failures: list[object] = []

    def handle(event: PeriodicEvent) -> None:
        if event.sequence == 1:
            raise ValueError("tick 1")

    stage = TimerStage(
        handle, 2, clock=clock, error_handler=lambda e, ev: failures.append(ev), registry=registry
    )
    clock.advance(6)
    assert failures == [PeriodicEvent(2.0, 1)]
    s = stage.statistics()
    assert (s.events_in, s.events_out, s.events_failed) == (4, 3, 1)
    stage.close()
    assert clock.callback_failures == 0  # the stage handled it; the clock never saw it


def test_a_handler_may_close_its_own_timer(registry: StageRegistry) -> None:
    clock = LogicalClock()
    ticks: list[int] = []
    holder: list[TimerStage] = []

    def handle(event: PeriodicEvent) -> None:
        ticks.append(event.sequence)
        if event.sequence == 2:
            holder[0].close()

    holder.append(TimerStage(handle, 1, clock=clock, registry=registry))
    clock.advance(10)
    assert ticks == [0, 1, 2]
    assert clock.pending() == 0


def test_on_next_delivers_an_extra_event_until_closed(registry: StageRegistry) -> None:
    clock = LogicalClock()
    seen: list[PeriodicEvent] = []
    stage = TimerStage(seen.append, 5, initial_delay=5, clock=clock, registry=registry)
    stage.on_next(PeriodicEvent(-1.0, -1))
    stage.close()
    with pytest.raises(StageClosedError, match="closed"):
        stage.on_next(PeriodicEvent(-2.0, -2))
    assert seen == [PeriodicEvent(-1.0, -1)]


def test_timer_on_its_own_real_clock_ticks_and_joins_its_thread(registry: StageRegistry) -> None:
    three = threading.Event()
    ticks: list[PeriodicEvent] = []

    def handle(event: PeriodicEvent) -> None:
        ticks.append(event)
        if len(ticks) == 3:
            three.set()

    stage = TimerStage(handle, 0.005, name="heartbeat", registry=registry)
    assert stage.statistics().threads == 1
    assert three.wait(10)
    stage.close()
    assert not [t for t in threading.enumerate() if t.name == "wake:heartbeat"]
    assert [t.sequence for t in ticks[:3]] == [0, 1, 2]
    assert ticks[1].timestamp > ticks[0].timestamp


@pytest.mark.parametrize(("period", "delay"), [(0, 0), (-1, 0), (float("inf"), 0), (1, -1)])
def test_bad_periods_are_refused(period: float, delay: float) -> None:
    with pytest.raises(ValueError, match=r"period|initial_delay"):
        TimerStage(print, period, initial_delay=delay, clock=LogicalClock())
