"""A deterministic simulation, the activity that runs it with checkpoints, and the drivers of the
checkpoint tests (module level: evaluators import them by name).

The activity runs in lockstep with its driver: after every step it reports the step and its
pid and waits for a word. The driver answers ``go``, kills the process (``os.kill``) or asks the
activity to suspend (which wakes it too: it then suspends at its next step), so where each run
stops is decided by the test, not by timing.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np

import reef
from reef.services import CheckpointService, PeriodicCheckpoint, Recovery, checkpoint_context
from reef.tang import NamedParameter

# -- the simulation -------------------------------------------------------------------------------


@dataclass
class State:
    """Gray-Scott reaction-diffusion on a torus, with a random perturbation each step."""

    u: np.ndarray
    v: np.ndarray
    rng: np.random.Generator


def initial(seed: int, size: int) -> State:
    rng = np.random.Generator(np.random.PCG64(seed))
    u = np.ones((size, size))
    v = np.zeros((size, size))
    c = size // 2
    u[c - 3 : c + 3, c - 3 : c + 3] = 0.5
    v[c - 3 : c + 3, c - 3 : c + 3] = 0.25
    v += 0.01 * rng.random((size, size))
    return State(u, v, rng)


def _laplacian(a: np.ndarray) -> np.ndarray:
    return np.roll(a, 1, 0) + np.roll(a, -1, 0) + np.roll(a, 1, 1) + np.roll(a, -1, 1) - 4 * a


def advance(s: State) -> State:
    uvv = s.u * s.v * s.v
    u = s.u + 0.16 * _laplacian(s.u) - uvv + 0.035 * (1 - s.u)
    v = s.v + 0.08 * _laplacian(s.v) + uvv - 0.095 * s.v
    v += 1e-4 * s.rng.standard_normal(v.shape)  # the generator is state too
    return State(u, v, s.rng)


def encode(s: State) -> bytes:
    head = json.dumps({"shape": list(s.u.shape), "rng": s.rng.bit_generator.state}).encode()
    return len(head).to_bytes(4, "big") + head + s.u.tobytes() + s.v.tobytes()


def decode(data: bytes) -> State:
    n = int.from_bytes(data[:4], "big")
    head = json.loads(data[4 : 4 + n])
    shape = tuple(head["shape"])
    cells = shape[0] * shape[1]
    arrays = np.frombuffer(data, dtype=np.float64, offset=4 + n, count=2 * cells)
    bits = np.random.PCG64()
    bits.state = head["rng"]
    return State(
        arrays[:cells].reshape(shape).copy(),
        arrays[cells:].reshape(shape).copy(),
        np.random.Generator(bits),
    )


def digest(s: State) -> str:
    return hashlib.sha256(s.u.tobytes() + s.v.tobytes()).hexdigest()


def reference(seed: int, size: int, steps: int) -> str:
    """The digest of an uninterrupted run, computed here."""
    state = initial(seed, size)
    for _ in range(steps):
        state = advance(state)
    return digest(state)


# -- parameters -----------------------------------------------------------------------------------


class Steps(NamedParameter[int]):
    """Steps of each simulation."""

    default = 120


class Every(NamedParameter[int]):
    """Checkpoint every this many steps."""

    default = 10


class Size(NamedParameter[int]):
    """The side of a simulation's grid."""

    default = 24


class Seed(NamedParameter[int]):
    """The seed of a simulation's generator."""

    default = 7


class TearAt(NamedParameter[int]):
    """At this step a run starts a checkpoint write, writes half of it, and reports (-1: never):
    a kill then lands in the middle of a write."""

    default = -1


class Works(NamedParameter[int]):
    """How many simulations a driver runs (seeds Seed, Seed + 1, ...)."""

    default = 1


class Evaluators(NamedParameter[int]):
    """How many evaluators a driver starts with."""

    default = 1


class KillAt(NamedParameter[list[int]]):
    """Steps at which the driver kills the evaluator of the first simulation, in order."""

    default: list[int] = []


class SuspendAt(NamedParameter[int]):
    """The step at which the driver suspends the first simulation (-1: never)."""

    default = -1


class CheckpointFolder(NamedParameter[str]):
    """Where the drivers keep checkpoints ('' for the job's default folder)."""

    default = ""


# -- the activity ---------------------------------------------------------------------------------


class Simulate(reef.Activity):
    """Runs one simulation with a checkpoint every ``Every`` steps, in lockstep with the driver;
    its result is JSON: the final digest and the step it resumed from."""

    def __init__(
        self,
        *,
        checkpoints: CheckpointService,
        steps: Annotated[int, Steps],
        every: Annotated[int, Every],
        size: Annotated[int, Size],
        seed: Annotated[int, Seed],
        tear_at: Annotated[int, TearAt],
    ) -> None:
        self.checkpoints = checkpoints
        self.steps, self.every, self.size, self.seed, self.tear_at = (
            steps,
            every,
            size,
            seed,
            tear_at,
        )
        self.word = threading.Event()

    def on_message(self, data: bytes) -> None:
        self.word.set()

    def on_suspend(self, message: bytes | None) -> None:
        self.word.set()  # go on to the next step, where tick() saves and suspends

    def report(self, **fields: Any) -> None:
        self.word.clear()
        self.send_message(json.dumps({"pid": os.getpid(), **fields}).encode())
        if not self.word.wait(30):
            raise TimeoutError(f"no word from the driver after {fields}")

    def run(self, memento: bytes | None) -> bytes:
        saver = PeriodicCheckpoint(self.checkpoints, memento, activity=self, every_steps=self.every)
        step, state = 0, initial(self.seed, self.size)
        if saver.restored is not None:
            step, state = saver.restored.step, decode(saver.restored.data)
        resumed_from = step
        self.send_message(
            json.dumps(
                {"started": step, "skipped": list(saver.skipped), "pid": os.getpid()}
            ).encode()
        )
        while step < self.steps:
            state = advance(state)
            step += 1
            if (suspended := saver.tick(step, encode, state)) is not None:
                return suspended
            if step == self.tear_at:
                with self.checkpoints.create(series=saver.series) as torn:
                    data = encode(state)
                    torn.write(data[: len(data) // 2])
                    self.report(step=step, tearing=True)  # killed here, mid-write
                    torn.abort()  # not killed this time: forget the half-written one
            else:
                self.report(step=step)
        return json.dumps({"digest": digest(state), "resumed_from": resumed_from}).encode()


# -- drivers --------------------------------------------------------------------------------------


class Recovering(reef.Driver):
    """Runs ``Works`` simulations on ``Evaluators`` evaluators with ``Recovery``: a lost
    evaluator is replaced and its simulation resumed from its newest checkpoint. Kills the first
    simulation's evaluator at the ``KillAt`` steps; suspends it at ``SuspendAt`` and moves it to
    a new evaluator. Sends a JSON record at StopTime."""

    def __init__(
        self,
        *,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        works: Annotated[int, Works],
        evaluators: Annotated[int, Evaluators],
        seed: Annotated[int, Seed],
        kill_at: Annotated[list[int], KillAt],
        suspend_at: Annotated[int, SuspendAt],
        folder: Annotated[str, CheckpointFolder],
        tear_at: Annotated[int, TearAt],
        every: Annotated[int, Every],
    ) -> None:
        self.requestor, self.client = requestor, client
        self.works, self.evaluators, self.seed = works, evaluators, seed
        self.kills = list(kill_at)
        self.suspend_at = suspend_at
        self.folder = folder or None
        # Job parameters stay in the driver: the activities get theirs explicitly.
        self.activity_parameters: dict[Any, Any] = {TearAt: tear_at, Every: every}
        self.work = Recovery(max_failures=len(self.kills) + 1)
        self.handles: dict[str, reef.RunningActivity] = {}
        self.record: dict[str, Any] = {
            "results": {},
            "runs": [],
            "killed": [],
            "torn": [],
            "started": [],
            "suspended": [],
            "lost": [],
        }
        self.killed_at: float | None = None

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        for n in range(self.works):
            parameters = {**self.activity_parameters, Seed: self.seed + n}
            self.work.add(f"sim{n}", Simulate, parameters=parameters)
        self.requestor.submit(reef.EvaluatorRequest(count=self.evaluators, memory_mb=256))

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        run = self.work.next()
        if run is None:
            ev.close()
            return
        ev.submit_context_and_activity(checkpoint_context(f"ctx-{ev.id}", self.folder), run)

    @reef.on(reef.RunningActivity)
    def running(self, act: reef.RunningActivity) -> None:
        name = self.work.running(act)
        self.handles[act.id] = act
        self.record["runs"].append([name, act.id, act.context.evaluator_id])

    @reef.on(reef.ActivityMessage)
    def message(self, msg: reef.ActivityMessage) -> None:
        said = json.loads(msg.data)
        name = self.work.name_of(msg.activity_id)
        if "started" in said:
            self.record["started"].append([msg.activity_id, said["started"], said["skipped"]])
            if self.killed_at is not None:
                self.record.setdefault("recovery_seconds", []).append(
                    time.monotonic() - self.killed_at
                )
                self.killed_at = None
            return
        step = said["step"]
        if name == "sim0" and self.kills and step == self.kills[0]:
            self.kills.pop(0)
            self.record["killed"].append(step)
            if said.get("tearing"):
                self.record["torn"].append(step)
            self.killed_at = time.monotonic()
            os.kill(said["pid"], signal.SIGKILL)
            return
        if name == "sim0" and step == self.suspend_at:
            self.suspend_at = -1
            self.work.suspend(name)  # wakes it: it suspends at its next step
            return
        self.handles[msg.activity_id].send_message(b"go")

    @reef.on(reef.FailedEvaluator)
    def failed(self, f: reef.FailedEvaluator) -> None:
        lost = self.work.lost(f)
        self.record["lost"].append([f.id, lost])
        if lost:
            self.requestor.submit(reef.EvaluatorRequest(count=len(lost), memory_mb=256))

    @reef.on(reef.SuspendedActivity)
    def suspended(self, s: reef.SuspendedActivity) -> None:
        self.record["suspended"].append([s.id, s.context.evaluator_id])
        self.work.suspended(s)
        s.context.close()  # this evaluator goes; the work resumes on a new one
        self.requestor.submit(reef.EvaluatorRequest(count=1, memory_mb=256))

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        name = self.work.completed(done)
        self.record["results"][name] = json.loads(done.result or b"{}")
        run = self.work.next()
        if run is not None:
            done.context.submit_activity(run)
        else:
            done.context.close()

    @reef.on(reef.StopTime)
    def stop(self, _: reef.StopTime) -> None:
        self.client.send(json.dumps(self.record).encode())


class Elastic(Recovering):
    """N -> 1 -> N evaluators. Starts ``Works`` simulations on as many evaluators. When every
    one has reached step ``SHRINK`` (each waits there), the works of all evaluators but the
    first are suspended and those evaluators released; the first runs every work in turns of
    ``SLICE`` steps (suspending each at the end of its turn); once each has had its turn, the
    driver grows back to ``Works`` evaluators, and the works spread out again."""

    SHRINK = 20
    SLICE = 15

    def __init__(
        self,
        *,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        works: Annotated[int, Works],
        seed: Annotated[int, Seed],
    ) -> None:
        super().__init__(
            requestor=requestor,
            client=client,
            works=works,
            evaluators=works,
            seed=seed,
            kill_at=[],
            suspend_at=-1,
            folder="",
            tear_at=-1,
            every=Every.default,
        )
        self.phase = "full"
        self.waiting: dict[str, str] = {}  # work -> the run waiting for its go
        self.survivor = ""
        self.to_release: set[str] = set()
        self.turn_started: dict[str, int] = {}  # work -> its step when its turn began
        self.had_turn: set[str] = set()
        self.incoming = 0  # evaluators requested to grow back, not yet allocated
        self.record["phases"] = []

    def note_phase(self, phase: str) -> None:
        self.phase = phase
        self.record["phases"].append(phase)

    def go(self, activity_id: str) -> None:
        self.handles[activity_id].send_message(b"go")

    @reef.on(reef.ActivityMessage)
    def message(self, msg: reef.ActivityMessage) -> None:
        said = json.loads(msg.data)
        name = self.work.name_of(msg.activity_id)
        assert name is not None
        if "started" in said:
            self.turn_started[name] = said["started"]
            return
        step = said["step"]
        if self.phase == "full" and step == self.SHRINK:
            self.waiting[name] = msg.activity_id  # held until every work is here
            if len(self.waiting) == self.works:
                self.shrink()
            return
        if (
            self.phase == "fewer"
            and name not in self.had_turn
            and step - self.turn_started[name] >= self.SLICE
        ):
            self.had_turn.add(name)
            self.work.suspend(name)  # its turn is over
            return
        self.go(msg.activity_id)

    def shrink(self) -> None:
        self.note_phase("shrinking")
        evaluators = sorted({self.work.evaluator_of(n) or "" for n in self.waiting})
        self.survivor, self.to_release = evaluators[0], set(evaluators[1:])
        for evaluator in self.to_release:
            for name in self.work.suspend_on(evaluator, b"shrink"):
                del self.waiting[name]  # it suspends at its next step

    @reef.on(reef.SuspendedActivity)
    def suspended(self, s: reef.SuspendedActivity) -> None:
        name = self.work.suspended(s)
        evaluator = s.context.evaluator_id
        self.record["suspended"].append([name, evaluator, self.phase])
        if evaluator != self.survivor:
            s.context.close()  # released: the cluster shrinks
            self.to_release.discard(evaluator)
            if not self.to_release:  # all moved: the survivor's work takes its turn
                self.note_phase("fewer")
                ((name, activity_id),) = self.waiting.items()
                self.turn_started[name] = self.SHRINK
                self.go(activity_id)
            return
        if len(self.had_turn) == self.works and self.phase == "fewer":
            self.note_phase("grown")
            self.incoming = self.works - 1
            self.requestor.submit(reef.EvaluatorRequest(count=self.incoming, memory_mb=256))
        self.carry_on(s.context)

    def carry_on(self, context: reef.ActiveContext) -> None:
        """Run the next work here, unless it is kept for an evaluator on its way."""
        run = self.work.next() if self.work.pending > self.incoming else None
        if run is not None:
            context.submit_activity(run)
        else:
            context.close()  # nothing for it: release it

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        self.incoming = max(0, self.incoming - 1)
        super().allocated(ev)

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        name = self.work.completed(done)
        assert name is not None
        self.record["results"][name] = json.loads(done.result or b"{}")
        self.record["completed"] = [*self.record.get("completed", []), [name, self.phase]]
        self.carry_on(done.context)
