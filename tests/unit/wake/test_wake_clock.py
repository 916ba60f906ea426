"""LogicalClock and RealClock: order, cancellation, pending alarms, failures, shutdown."""

from __future__ import annotations

import logging
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reef.wake import Alarm, LogicalClock, RealClock, StageClosedError


def test_logical_alarms_fire_in_deadline_order_and_ties_in_scheduling_order() -> None:
    clock = LogicalClock()
    fired: list[tuple[str, float]] = []

    def note(label: str) -> object:
        return lambda alarm: fired.append((label, clock.now()))

    for label, delay in [("c", 3), ("a1", 1), ("b", 2), ("a2", 1), ("a3", 1)]:
        clock.schedule_alarm(delay, note(label))
    assert clock.pending() == 5
    assert clock.advance(1.5) == 3
    assert fired == [("a1", 1.0), ("a2", 1.0), ("a3", 1.0)]
    assert clock.now() == 1.5 and clock.pending() == 2
    assert clock.advance_to(10) == 2
    assert [label for label, _ in fired] == ["a1", "a2", "a3", "b", "c"]
    assert fired[-1] == ("c", 3.0)
    assert clock.now() == 10 and clock.pending() == 0


def test_alarms_scheduled_by_callbacks_fire_in_the_same_advance_when_due() -> None:
    clock = LogicalClock()
    fired: list[float] = []

    def chain(alarm: Alarm) -> None:
        fired.append(alarm.deadline)
        clock.schedule_alarm(1, chain)  # due at deadline + 1

    clock.schedule_alarm(1, chain)
    assert clock.advance(3.5) == 3
    assert fired == [1.0, 2.0, 3.0]
    assert clock.pending() == 1  # the one due at 4.0


def test_a_zero_delay_alarm_from_a_callback_fires_after_earlier_ties() -> None:
    clock = LogicalClock()
    fired: list[str] = []
    clock.schedule_alarm(
        1, lambda a: (fired.append("first"), clock.schedule_alarm(0, lambda a: fired.append("new")))
    )
    clock.schedule_alarm(1, lambda a: fired.append("second"))
    clock.advance(1)
    assert fired == ["first", "second", "new"]


def test_cancel_stops_a_pending_alarm_only() -> None:
    clock = LogicalClock()
    fired: list[str] = []
    keep = clock.schedule_alarm(1, lambda a: fired.append("keep"))
    drop = clock.schedule_alarm(1, lambda a: fired.append("drop"))
    assert drop.cancel() is True
    assert drop.cancel() is False
    assert drop.cancelled and clock.pending() == 1
    clock.advance(2)
    assert fired == ["keep"]
    assert keep.fired and keep.cancel() is False


def test_many_cancellations_do_not_disturb_order() -> None:
    clock = LogicalClock()
    fired: list[int] = []
    alarms = [clock.schedule_alarm(i % 7, lambda a, i=i: fired.append(i)) for i in range(300)]
    for alarm in alarms[::2] + alarms[1::4]:
        alarm.cancel()
    survivors = [i for i in range(300) if i % 2 and i % 4 != 1]
    assert clock.pending() == len(survivors)
    clock.advance(10)
    assert fired == sorted(survivors, key=lambda i: (i % 7, i))


def test_a_raising_callback_is_reported_counted_and_later_alarms_still_fire(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = LogicalClock()
    fired: list[int] = []

    def broken(alarm: Alarm) -> None:
        raise RuntimeError("alarm broke")

    clock.schedule_alarm(1, broken)
    clock.schedule_alarm(2, lambda a: fired.append(2))
    with caplog.at_level(logging.ERROR, logger="reef.wake"):
        clock.advance(3)
    assert fired == [2]
    assert clock.callback_failures == 1
    assert any("alarm callback raised" in r.getMessage() for r in caplog.records)


def test_logical_clock_refuses_bad_time_and_nested_advances() -> None:
    clock = LogicalClock(start=5)
    with pytest.raises(ValueError, match="before now"):
        clock.advance_to(4)
    with pytest.raises(ValueError, match="advance"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="schedule_alarm"):
        clock.schedule_alarm(-0.5, lambda a: None)
    nested: list[BaseException] = []
    other = LogicalClock(error_handler=lambda exc, alarm: nested.append(exc))
    other.schedule_alarm(1, lambda a: other.advance(1))  # an advance inside an advance
    other.advance(1)
    assert len(nested) == 1 and isinstance(nested[0], RuntimeError)
    assert other.callback_failures == 1 and other.now() == 1


def test_closing_a_logical_clock_discards_alarms_and_refuses_more() -> None:
    clock = LogicalClock()
    fired: list[int] = []
    alarm = clock.schedule_alarm(1, lambda a: fired.append(1))
    clock.close()
    assert clock.pending() == 0 and alarm.cancelled
    with pytest.raises(StageClosedError, match="clock"):
        clock.schedule_alarm(1, lambda a: None)
    with pytest.raises(StageClosedError):
        clock.advance(5)
    assert fired == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    delays=st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=40),
    steps=st.lists(st.integers(min_value=0, max_value=8), min_size=1, max_size=10),
    cancelled=st.sets(st.integers(min_value=0, max_value=39)),
)
def test_logical_clock_fires_exactly_what_is_due_in_order(
    delays: list[int], steps: list[int], cancelled: set[int]
) -> None:
    clock = LogicalClock()
    fired: list[tuple[float, int]] = []
    alarms = [
        clock.schedule_alarm(d, lambda a, i=i: fired.append((clock.now(), i)))
        for i, d in enumerate(delays)
    ]
    for i in cancelled & set(range(len(alarms))):
        alarms[i].cancel()
    live = [(float(d), i) for i, d in enumerate(delays) if i not in cancelled]
    for step in steps:
        clock.advance(step)
        due = sorted(x for x in live if x[0] <= clock.now())
        assert fired == due
        assert clock.pending() == len(live) - len(due)


def test_real_clock_fires_an_alarm_on_its_thread_and_closes_cleanly() -> None:
    clock = RealClock(name="test-clock")
    fired = threading.Event()
    where: list[str] = []

    def ring(alarm: Alarm) -> None:
        where.append(threading.current_thread().name)
        fired.set()

    start = clock.now()
    alarm = clock.schedule_alarm(0.01, ring)
    assert fired.wait(10)
    assert alarm.deadline >= start + 0.01
    assert where == ["test-clock"]
    clock.close()
    assert not [t for t in threading.enumerate() if t.name == "test-clock"]
    assert clock.pending() == 0


def test_real_clock_orders_alarms_and_survives_a_raising_callback() -> None:
    done = threading.Event()
    fired: list[str] = []
    failures: list[BaseException] = []
    clock = RealClock(error_handler=lambda exc, alarm: failures.append(exc))
    clock.schedule_alarm(0.03, lambda a: (fired.append("late"), done.set()))
    clock.schedule_alarm(0.0, lambda a: fired.append("early"))
    clock.schedule_alarm(0.01, lambda a: 1 / 0)
    assert done.wait(10)
    clock.close()
    assert fired == ["early", "late"]
    assert len(failures) == 1 and isinstance(failures[0], ZeroDivisionError)
    assert clock.callback_failures == 1


def test_real_clock_counts_a_running_alarm_as_pending_and_close_discards_the_rest() -> None:
    clock = RealClock()
    entered, release = threading.Event(), threading.Event()
    clock.schedule_alarm(0, lambda a: (entered.set(), release.wait(10)))
    later = clock.schedule_alarm(3600, lambda a: None)
    assert entered.wait(10)
    assert clock.pending() == 2  # the running one is not done yet
    assert later.cancel() and clock.pending() == 1
    release.set()
    clock.close()
    assert clock.pending() == 0


def test_a_real_clock_with_no_alarm_has_no_thread() -> None:
    clock = RealClock(name="idle-clock")
    assert not [t for t in threading.enumerate() if t.name == "idle-clock"]
    clock.close()
