"""Checkpoints: a simulation moves to another evaluator mid-run, and survives losing one.

A Gray-Scott reaction-diffusion simulation (numpy arrays plus a random generator, whose state is
part of the simulation's state) runs as one activity and checkpoints every ``Every`` steps with
``PeriodicCheckpoint``. A third of the way through, the driver suspends it: it saves its state
and returns a memento, its evaluator is released, and the simulation resumes on a new
evaluator. With ``--kill``, the driver also SIGKILLs that evaluator two thirds of the way
through; ``Recovery`` resumes the simulation on a third evaluator from its newest committed
checkpoint. Either way the final state is bit-identical to an uninterrupted run, which the
script computes in-process to compare::

    python examples/checkpoint_migrate.py           # migrate once
    python examples/checkpoint_migrate.py --kill    # migrate, then lose an evaluator

Needs numpy (``pip install 'pyreef[examples]'``).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
from typing import Annotated

import numpy as np

import reef
from reef.services import CheckpointService, PeriodicCheckpoint, Recovery, checkpoint_context
from reef.tang import NamedParameter


class Steps(NamedParameter[int]):
    """How many steps the simulation runs."""

    default = 2400


class Every(NamedParameter[int]):
    """Checkpoint every this many steps."""

    default = 200


class Size(NamedParameter[int]):
    """The side of the simulated grid."""

    default = 128


class Kill(NamedParameter[bool]):
    """Also kill the simulation's second evaluator two thirds of the way through."""

    default = False


# -- the simulation: plain numpy, nothing reef-specific ---------------------------------------


class State:
    """The concentrations ``u`` and ``v`` on a torus, and the generator of the noise."""

    def __init__(self, u: np.ndarray, v: np.ndarray, rng: np.random.Generator) -> None:
        self.u, self.v, self.rng = u, v, rng

    @classmethod
    def initial(cls, size: int, seed: int = 2024) -> State:
        rng = np.random.Generator(np.random.PCG64(seed))
        u, v = np.ones((size, size)), np.zeros((size, size))
        c, r = size // 2, size // 10
        u[c - r : c + r, c - r : c + r], v[c - r : c + r, c - r : c + r] = 0.5, 0.25
        v += 0.02 * rng.random((size, size))
        return cls(u, v, rng)

    def advance(self) -> State:
        def laplacian(a: np.ndarray) -> np.ndarray:
            return (
                np.roll(a, 1, 0) + np.roll(a, -1, 0) + np.roll(a, 1, 1) + np.roll(a, -1, 1) - 4 * a
            )

        uvv = self.u * self.v * self.v
        u = self.u + 0.16 * laplacian(self.u) - uvv + 0.035 * (1 - self.u)
        v = self.v + 0.08 * laplacian(self.v) + uvv - 0.095 * self.v
        v += 1e-4 * self.rng.standard_normal(v.shape)
        return State(u, v, self.rng)

    def to_bytes(self) -> bytes:
        head = json.dumps({"n": self.u.shape[0], "rng": self.rng.bit_generator.state}).encode()
        return len(head).to_bytes(4, "big") + head + self.u.tobytes() + self.v.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> State:
        k = int.from_bytes(data[:4], "big")
        head = json.loads(data[4 : 4 + k])
        n = head["n"]
        arrays = np.frombuffer(data, np.float64, count=2 * n * n, offset=4 + k).reshape(2, n, n)
        bits = np.random.PCG64()
        bits.state = head["rng"]
        return cls(arrays[0].copy(), arrays[1].copy(), np.random.Generator(bits))

    def digest(self) -> str:
        return hashlib.sha256(self.u.tobytes() + self.v.tobytes()).hexdigest()


# -- the activity -----------------------------------------------------------------------------


class Simulate(reef.Activity):
    """Runs the simulation from where its memento says, checkpointing as it goes."""

    def __init__(
        self,
        checkpoints: CheckpointService,  # the context's service, injected by type
        steps: Annotated[int, Steps],
        every: Annotated[int, Every],
        size: Annotated[int, Size],
    ) -> None:
        self.checkpoints, self.steps, self.every, self.size = checkpoints, steps, every, size

    def run(self, memento: bytes | None) -> bytes:
        saver = PeriodicCheckpoint(self.checkpoints, memento, activity=self, every_steps=self.every)
        step, state = 0, State.initial(self.size)
        if saver.restored is not None:
            step, state = saver.restored.step, State.from_bytes(saver.restored.data)
        start = step
        while step < self.steps:
            state = state.advance()
            step += 1
            if (suspended := saver.tick(step, State.to_bytes, state)) is not None:
                return suspended  # the driver asked: state saved, resume from the memento
            if step % self.every == 0:  # tell the driver how far we got
                self.send_message(json.dumps({"step": step, "pid": os.getpid()}).encode())
        return json.dumps({"digest": state.digest(), "started_at": start}).encode()


# -- the driver -------------------------------------------------------------------------------


class MigratingDriver(reef.Driver):
    """Runs one simulation with ``Recovery``; moves it to a new evaluator a third of the way
    through; with ``Kill``, kills its evaluator two thirds of the way through."""

    def __init__(
        self,
        *,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        steps: Annotated[int, Steps],
        every: Annotated[int, Every],
        size: Annotated[int, Size],
        kill: Annotated[bool, Kill],
    ) -> None:
        self.requestor, self.client = requestor, client
        self.steps, self.kill = steps, kill
        self.work = Recovery(max_failures=2)
        # Job parameters stay with the driver: the activity gets its own.
        self.work.add("sim", Simulate, parameters={Steps: steps, Every: every, Size: size})
        self.migrated = self.killed = False
        self.where: list[str] = []

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.requestor.submit(reef.EvaluatorRequest(count=1, memory_mb=512))

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        run = self.work.next()
        if run is None:
            ev.close()
            return
        # A CheckpointService in the root context; its checkpoints go to the job's directory.
        ev.submit_context_and_activity(checkpoint_context(f"ctx-{ev.id}", retention=3), run)

    @reef.on(reef.RunningActivity)
    def running(self, act: reef.RunningActivity) -> None:
        self.work.running(act)
        self.where.append(act.context.evaluator_id)

    @reef.on(reef.ActivityMessage)
    def progress(self, msg: reef.ActivityMessage) -> None:
        said = json.loads(msg.data)
        if not self.migrated and said["step"] >= self.steps // 3:
            self.migrated = True
            self.work.suspend("sim")  # -> SuspendedActivity
        elif self.kill and not self.killed and said["step"] >= 2 * self.steps // 3:
            self.killed = True
            os.kill(said["pid"], signal.SIGKILL)  # -> FailedEvaluator

    @reef.on(reef.SuspendedActivity)
    def suspended(self, s: reef.SuspendedActivity) -> None:
        self.work.suspended(s)  # queued to resume from the memento it returned
        s.context.close()  # release this evaluator...
        self.requestor.submit(reef.EvaluatorRequest(count=1, memory_mb=512))  # ...for another

    @reef.on(reef.FailedEvaluator)
    def failed(self, f: reef.FailedEvaluator) -> None:
        if self.work.lost(f):  # queued to resume from its newest committed checkpoint
            self.requestor.submit(reef.EvaluatorRequest(count=1, memory_mb=512))

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        self.work.completed(done)
        result = json.loads(done.result or b"{}")
        self.client.send(json.dumps({**result, "evaluators": self.where}).encode())
        done.context.close()


def uninterrupted(steps: int, size: int) -> str:
    """The digest of the same simulation run here, in one go."""
    state = State.initial(size)
    for _ in range(steps):
        state = state.advance()
    return state.digest()


if __name__ == "__main__":
    kill = "--kill" in sys.argv[1:]
    result = reef.run(MigratingDriver, parameters={Kill: kill}, timeout=600)
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    outcome = json.loads(result.messages[-1])
    expected = uninterrupted(Steps.default, Size.default)
    print(
        f"ran on {' -> '.join(outcome['evaluators'])}; last run started at step "
        f"{outcome['started_at']}"
    )
    print(f"migrated: {outcome['digest']}")
    print(f"in one go: {expected}")
    assert outcome["digest"] == expected, "the migrated run differs from the uninterrupted one"
    print("bit-identical")
