"""Group communication and combine in one small job: a word count and a vector sum on three
evaluators.

The driver forms a group of its evaluators. Each member's activity gets its share of the text
by ``scatter``, counts words with a ``Combiner``, sends every word to the member that owns it
(``partition_of``) with ``all_to_all``, combines what it received, and the counts meet at rank 0
by ``gather``. An ``all_reduce`` of numpy vectors shows the arithmetic collectives.

    python examples/word_count.py            # prints the top words and the vector sum as JSON
"""

from __future__ import annotations

import json
import operator
from typing import Annotated

import numpy as np

import reef
from reef.services import (
    SUM,
    Combiner,
    Communicator,
    GroupCommunication,
    GroupService,
    Tree,
    partition_of,
)
from reef.tang import NamedParameter

TEXT = """the driver requests evaluators and keeps them
each evaluator runs activities one after another
the services of a context outlive its activities
the group moves only what changes between the members""".splitlines()


class Members(NamedParameter[int]):
    """How many evaluators form the group."""

    default = 3


class CountWords(reef.Activity):
    def __init__(self, comm: Communicator) -> None:
        self.comm = comm

    def run(self, memento: bytes | None) -> bytes | None:
        comm = self.comm
        shares = [TEXT[i :: comm.size] for i in range(comm.size)] if comm.rank == 0 else None
        lines = comm.scatter(shares)  # each member gets its own share of the lines

        local = Combiner(operator.add)  # word -> count, combined as the pairs arrive
        for line in lines:
            local.add_all((word, 1) for word in line.split())
        outgoing: list[list[tuple[str, int]]] = [[] for _ in range(comm.size)]
        for word, count in local.items():
            outgoing[partition_of(word, comm.size)].append((word, count))
        owned = Combiner(operator.add)  # the words this member owns, from every member
        for batch in comm.all_to_all(outgoing):
            owned.add_all(batch)
        counts = comm.gather(dict(owned.items()))  # a list of dicts at rank 0, None elsewhere

        vector = np.arange(4.0) * (comm.rank + 1)
        total = comm.all_reduce(vector, op=SUM)  # every member gets the element-wise sum
        if counts is None:
            return None
        merged = {word: n for part in counts for word, n in part.items()}
        top = sorted(merged.items(), key=lambda item: (-item[1], item[0]))[:3]
        return json.dumps({"top": top, "sum": total.tolist()}).encode()


class WordCountDriver(reef.Driver):
    def __init__(
        self,
        requestor: reef.EvaluatorRequestor,
        groups: GroupCommunication,
        client: reef.JobMessenger,
        members: Annotated[int, Members],
    ) -> None:
        self.requestor, self.groups, self.client, self.members = requestor, groups, client, members
        self.ready: list[reef.AllocatedEvaluator] = []

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.requestor.submit(reef.EvaluatorRequest(count=self.members, memory_mb=256))

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        self.ready.append(ev)
        if len(self.ready) < self.members:
            return
        group = self.groups.new_group("words", [e.id for e in self.ready], topology=Tree(fan_out=2))
        for e in self.ready:
            e.submit_context_and_activity(
                reef.ContextConfiguration(id=f"ctx-{e.id}", services=[GroupService]),
                reef.ActivityConfiguration(
                    id=f"count-{e.id}",
                    activity=CountWords,
                    configuration=group.member_configuration(e.id),
                ),
            )

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        if done.result is not None:
            self.client.send(done.result)
        done.context.close()


if __name__ == "__main__":
    result = reef.run(WordCountDriver, runtime="local", timeout=120)
    if result.status is not reef.JobStatus.SUCCEEDED:
        raise SystemExit(f"job {result.id} {result.status.value}: {result.error}")
    print(result.messages[0].decode())
