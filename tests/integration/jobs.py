"""Drivers, activities and services for the integration tests (module level: evaluators import
them by name)."""

from __future__ import annotations

import abc
import json
import os
import signal
import threading
from typing import Annotated, Any

import reef
from reef.tang import NamedParameter


class Evaluators(NamedParameter[int]):
    """How many evaluators a test driver requests."""

    default = 1


class Rounds(NamedParameter[int]):
    """How many activities to run on each evaluator."""

    default = 3


class Logging(reef.Driver):
    """Records every event it sees; sends the record at StopTime."""

    def __init__(
        self,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        clock: reef.Clock,
        evaluators: Annotated[int, Evaluators],
    ) -> None:
        self.requestor, self.client, self.clock, self.evaluators = (
            requestor,
            client,
            clock,
            evaluators,
        )
        self.log: list[Any] = []

    def note(self, *entry: Any) -> None:
        self.log.append(list(entry))

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.note("StartTime")
        self.requestor.submit(reef.EvaluatorRequest(count=self.evaluators, memory_mb=128))

    @reef.on(reef.StopTime)
    def stop(self, _: reef.StopTime) -> None:
        self.note("StopTime")
        self.client.send(json.dumps(self.log).encode())


# -- services -----------------------------------------------------------------------------------


class Counter:
    def __init__(self) -> None:
        self.value = 0


class Closing:
    """A service that reports its closing through its context's messenger."""

    name = "closing"

    def __init__(self, messenger: reef.ContextMessenger) -> None:
        self.messenger = messenger

    def close(self) -> None:
        self.messenger.send(f"closed {self.name}".encode())


class First(Closing):
    name = "first"


class Second(Closing):
    name = "second"

    def __init__(self, messenger: reef.ContextMessenger, first: First) -> None:
        super().__init__(messenger)
        self.first = first


class Echo:
    """Answers context messages from the driver."""

    def __init__(self, messenger: reef.ContextMessenger) -> None:
        self.messenger = messenger

    def on_context_message(self, data: bytes) -> None:
        self.messenger.send(b"echo:" + data)


class Exploding:
    def __init__(self) -> None:
        raise ValueError("service cannot start")


# -- activities ---------------------------------------------------------------------------------


class Count(reef.Activity):
    def __init__(self, counter: Counter) -> None:
        self.counter = counter

    def run(self, memento: bytes | None) -> bytes:
        self.counter.value += 1
        return str(self.counter.value).encode()


class Divide(reef.Activity):
    def run(self, memento: bytes | None) -> bytes:
        return str(1 / 0).encode()


class Chatty(reef.Activity):
    """Sends a message, waits for the driver's answer, returns it."""

    def __init__(self) -> None:
        self.answer = threading.Event()
        self.reply = b""

    def on_message(self, data: bytes) -> None:
        self.reply = data
        self.answer.set()

    def run(self, memento: bytes | None) -> bytes:
        self.send_message(b"hello driver")
        if not self.answer.wait(30):
            raise TimeoutError("no answer from the driver")
        return b"got " + self.reply


class Patient(reef.Activity):
    """Counts steps until asked to suspend (memento: the step) or to close."""

    def run(self, memento: bytes | None) -> bytes:
        step = int(memento or b"0") + 1  # the first step, done before anyone can interrupt
        self.send_message(b"started")
        while not (self.suspend_requested.is_set() or self.close_requested.is_set()):
            step += 1
            self.suspend_requested.wait(0.01)  # one step of work
        if self.suspend_requested.is_set():
            return str(step).encode()
        return b"closed at " + str(step).encode()


class Forever(reef.Activity):
    """Reports its pid, then runs until its process dies."""

    def run(self, memento: bytes | None) -> bytes:
        self.send_message(str(os.getpid()).encode())
        threading.Event().wait()
        return b""


class Suicide(reef.Activity):
    def run(self, memento: bytes | None) -> bytes:
        os.kill(os.getpid(), signal.SIGKILL)
        return b""


class FailsOnSuspend(reef.Activity):
    def on_suspend(self, message: bytes | None) -> None:
        raise RuntimeError(f"cannot suspend: {message!r}")

    def run(self, memento: bytes | None) -> bytes:
        self.send_message(b"started")
        self.close_requested.wait(30)
        return b"never seen"


class UsesBoth(reef.Activity):
    def __init__(self, first: First, second: Second, counter: Counter) -> None:
        self.ok = second.first is first

    def run(self, memento: bytes | None) -> bytes:
        return b"shared" if self.ok else b"not shared"


class NeedsRounds(reef.Activity):
    def __init__(self, rounds: Annotated[int, Rounds]) -> None:
        self.rounds = rounds

    def run(self, memento: bytes | None) -> bytes:
        return str(self.rounds).encode()


class AbstractStore(abc.ABC):
    @abc.abstractmethod
    def get(self) -> bytes: ...


class NeedsStore(reef.Activity):
    def __init__(self, store: AbstractStore) -> None:
        self.store = store

    def run(self, memento: bytes | None) -> bytes:
        return self.store.get()


class Quiet(reef.Activity):
    """Runs silently until asked to close."""

    def run(self, memento: bytes | None) -> bytes:
        if not self.close_requested.wait(30):
            return b"never closed"
        return b"closed"


class Holding(Logging):
    """Keeps a silent activity running on each evaluator until the client sends ``stop``."""

    running: dict[str, reef.RunningActivity]

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        ev.submit_context_and_activity(
            reef.ContextConfiguration(id=f"ctx-{ev.id}", services=[Counter]),
            reef.ActivityConfiguration(id=f"hold-{ev.id}", activity=Quiet),
        )

    @reef.on(reef.RunningActivity)
    def started(self, act: reef.RunningActivity) -> None:
        if not hasattr(self, "running"):
            self.running = {}
        self.running[act.id] = act

    @reef.on(reef.ClientMessage)
    def stop_all(self, _: reef.ClientMessage) -> None:
        for act in self.running.values():
            act.close()

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        self.note("CompletedActivity", done.id)
        done.context.close()


class Deterministic(Logging):
    """One evaluator, a context with a service, three activities with parameters: the same
    configurations every run."""

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        ev.submit_context(reef.ContextConfiguration(id="root", services=[Counter]))

    @reef.on(reef.ActiveContext)
    def active(self, ctx: reef.ActiveContext) -> None:
        ctx.submit_activity(
            reef.ActivityConfiguration(id="r-1", activity=NeedsRounds, parameters={Rounds: 1})
        )

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        n = int(done.result or b"0")
        self.note("CompletedActivity", done.id, n)
        if n < 3:
            done.context.submit_activity(
                reef.ActivityConfiguration(
                    id=f"r-{n + 1}", activity=NeedsRounds, parameters={Rounds: n + 1}
                )
            )
        else:
            done.context.close()
