"""Evaluator reuse: a Counter service outlives the activities that use it.

Two evaluators each get a root context holding a ``Counter`` service; activities run on them one
after another, each incrementing the same Counter instance, until ``Rounds`` is reached. The job
sends each evaluator's final count to the client::

    python examples/evaluator_reuse.py          # prints [b'5', b'5']
"""

from typing import Annotated

import reef
from reef.tang import NamedParameter


class Rounds(NamedParameter[int]):
    """How many activities to run on each evaluator."""

    default = 3


class Counter:  # a Service: lives as long as its context
    def __init__(self) -> None:
        self.value = 0


class Count(reef.Activity):
    def __init__(self, counter: Counter) -> None:  # services are injected by type
        self.counter = counter

    def run(self, memento: bytes | None) -> bytes:
        self.counter.value += 1
        return str(self.counter.value).encode()


class CountingDriver(reef.Driver):
    def __init__(
        self,
        requestor: reef.EvaluatorRequestor,
        rounds: Annotated[int, Rounds],
        client: reef.JobMessenger,
    ) -> None:
        self.requestor, self.rounds, self.client = requestor, rounds, client

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.requestor.submit(reef.EvaluatorRequest(count=2, memory_mb=256, cores=1))

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        ev.submit_context_and_activity(
            reef.ContextConfiguration(id=f"ctx-{ev.id}", services=[Counter]),
            reef.ActivityConfiguration(id=f"count-{ev.id}-1", activity=Count),
        )

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        assert done.result is not None
        n = int(done.result)
        if n < self.rounds:  # same evaluator, same Counter instance: the state was retained
            done.context.submit_activity(
                reef.ActivityConfiguration(
                    id=f"count-{done.context.evaluator_id}-{n + 1}", activity=Count
                )
            )
        else:
            self.client.send(done.result)
            done.context.close()  # closing the root context releases the evaluator


if __name__ == "__main__":
    result = reef.run(CountingDriver, runtime="local", parameters={Rounds: 5})
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    print(result.messages)  # [b'5', b'5']
