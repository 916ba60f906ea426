"""PeriodicCheckpoint and CheckpointMemento: where an activity resumes, and when it saves."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from reef.services import (
    CheckpointCorrupted,
    CheckpointMemento,
    CheckpointService,
    PeriodicCheckpoint,
)


@pytest.fixture
def store(tmp_path: Path) -> CheckpointService:
    return CheckpointService(str(tmp_path / "ckpt"))


class FakeActivity:
    def __init__(self) -> None:
        self.suspend_requested = threading.Event()


def advance(state: int) -> int:
    return (state * 6364136223846793005 + 1442695040888963407) % 2**64


def encode(state: int) -> bytes:
    return str(state).encode()


def run(
    store: CheckpointService,
    memento: bytes | None,
    steps: int,
    *,
    stop_at: int | None = None,
    suspend_at: int | None = None,
    every: int = 10,
) -> tuple[str, object]:
    """A little activity: ('done', state), ('suspended', memento) or ('crashed', step)."""
    activity = FakeActivity()
    saver = PeriodicCheckpoint(store, memento, activity=activity, every_steps=every)
    step, state = 0, 1
    if saver.restored is not None:
        step, state = saver.restored.step, int(saver.restored.data)
    while step < steps:
        state = advance(state)
        step += 1
        if step == suspend_at:
            activity.suspend_requested.set()
        if (suspended := saver.tick(step, encode, state)) is not None:
            return "suspended", suspended
        if step == stop_at:
            return "crashed", step
    return "done", state


def test_a_fresh_start_has_nothing_to_restore_and_a_new_series(store: CheckpointService) -> None:
    a = PeriodicCheckpoint(store, None)
    b = PeriodicCheckpoint(store, None)
    assert a.restored is None and a.last_id is None
    assert a.series != b.series
    assert CheckpointMemento.decode(a.memento) == CheckpointMemento(a.series, None)


def test_suspend_and_resume_give_the_uninterrupted_result(store: CheckpointService) -> None:
    expected = run(store, None, 100)
    kind, memento = run(store, None, 100, suspend_at=37)
    assert kind == "suspended"
    assert isinstance(memento, bytes)
    where = CheckpointMemento.decode(memento)
    assert where.id is not None and store.read(where.id).metadata == {"step": 37}
    assert run(store, memento, 100) == expected


def test_a_crash_resumes_from_the_last_periodic_checkpoint(store: CheckpointService) -> None:
    expected = run(store, None, 100)
    saver = PeriodicCheckpoint(store, None, series="job-a", every_steps=10)
    kind, step = run(store, saver.memento, 100, stop_at=57)
    assert (kind, step) == ("crashed", 57)
    assert [store.read(i.id).metadata["step"] for i in store.list("job-a")] == [10, 20, 30, 40, 50]
    resumed = PeriodicCheckpoint(store, CheckpointMemento("job-a").encode())
    assert resumed.restored is not None and resumed.restored.step == 50
    assert resumed.last_id == store.list("job-a")[-1].id
    assert run(store, CheckpointMemento("job-a").encode(), 100) == expected


def test_checkpoints_fall_on_multiples_of_every_steps(store: CheckpointService) -> None:
    _, memento = run(store, None, 100, suspend_at=13, every=5)
    assert isinstance(memento, bytes)
    series = CheckpointMemento.decode(memento).series
    run(store, memento, 100, stop_at=27, every=5)
    steps = [store.read(i.id).metadata["step"] for i in store.list(series)]
    assert steps == [5, 10, 13, 15, 20, 25]


def test_resuming_from_the_latest_skips_a_corrupted_one(store: CheckpointService) -> None:
    good = store.save(b"10", series="s", metadata={"step": 10})
    bad = store.save(b"20", series="s", metadata={"step": 20})
    path = Path(store.location) / f"{bad}.ckpt"
    path.write_bytes(path.read_bytes()[:-3])
    saver = PeriodicCheckpoint(store, CheckpointMemento("s").encode())
    assert saver.restored is not None
    assert (saver.restored.step, saver.restored.data, saver.restored.id) == (10, b"10", good)
    assert saver.skipped == (bad,)


def test_a_memento_naming_a_corrupted_checkpoint_is_refused(store: CheckpointService) -> None:
    bad = store.save(b"20", series="s", metadata={"step": 20})
    path = Path(store.location) / f"{bad}.ckpt"
    raw = bytearray(path.read_bytes())
    raw[0] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointCorrupted, match=bad):
        PeriodicCheckpoint(store, CheckpointMemento("s", bad).encode())


def test_a_checkpoint_without_a_step_is_refused(store: CheckpointService) -> None:
    cid = store.save(b"x", series="s")
    with pytest.raises(ValueError, match="records no step"):
        PeriodicCheckpoint(store, CheckpointMemento("s", cid).encode())


def test_every_seconds_saves_when_time_has_passed(store: CheckpointService) -> None:
    now = [0.0]
    saver = PeriodicCheckpoint(store, None, every_seconds=2.0, clock=lambda: now[0])
    saved = []
    for step in range(1, 8):
        now[0] = step * 0.75
        before = saver.last_id
        saver.tick(step, str(step).encode())
        if saver.last_id != before:
            saved.append(step)
    assert saved == [3, 6]  # at 2.25 s and at 4.5 s


def test_without_an_activity_tick_never_suspends(store: CheckpointService) -> None:
    saver = PeriodicCheckpoint(store, None)
    assert saver.tick(1, b"x") is None
    assert store.list() == []


@pytest.mark.parametrize(
    "kwargs",
    [{"every_steps": 0}, {"every_steps": 1.5}, {"every_seconds": 0}, {"every_steps": True}],
)
def test_bad_periods_are_refused(store: CheckpointService, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        PeriodicCheckpoint(store, None, **kwargs)  # type: ignore[arg-type]


def test_mementos_encode_and_decode() -> None:
    where = CheckpointMemento("sim-1", "sim-1.0000000000000000001.abcdefabcdef")
    assert CheckpointMemento.decode(where.encode()) == where
    with pytest.raises(ValueError, match="not a checkpoint memento"):
        CheckpointMemento.decode(b"42")
    with pytest.raises(ValueError, match="damaged"):
        CheckpointMemento.decode(b"reef.checkpoint/1:{")
    with pytest.raises(ValueError, match="not of series"):
        CheckpointMemento("other", where.id)


def test_the_state_function_runs_only_when_a_checkpoint_is_due(store: CheckpointService) -> None:
    calls = []

    def state(n: int) -> bytes:
        calls.append(n)
        return os.urandom(8)

    saver = PeriodicCheckpoint(store, None, every_steps=4)
    for step in range(1, 10):
        saver.tick(step, state, step * 10)
    assert calls == [40, 80]
