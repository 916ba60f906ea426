"""Drivers and activities of the group communication tests (module level: evaluators import
them by name). Every activity computes the numpy reference of each collective itself (every
member's input is a function of its rank) and reports what did not match."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from typing import Annotated, Any

import numpy as np

import reef
from reef.services.group import (
    MAX,
    MIN,
    PROD,
    SUM,
    Communicator,
    Flat,
    GroupCommunication,
    GroupMemberFailed,
    GroupMemberLost,
    GroupService,
    Tree,
)
from reef.services.group._topology import topology_of
from reef.tang import NamedParameter


class Evaluators(NamedParameter[int]):
    """How many evaluators (members) the driver requests."""

    default = 2


class Topology(NamedParameter[str]):
    """The group's topology spec (``flat``, ``tree:<k>``)."""

    default = "tree:2"


class Transport(NamedParameter[str]):
    """The group's transport."""

    default = "auto"


class BigElements(NamedParameter[int]):
    """float64 elements of the large-array scenario (0: the collectives scenario)."""

    default = 0


def data(rank: int, shape: tuple[int, ...] = (5, 7), dtype: Any = np.float64) -> np.ndarray:
    """Member ``rank``'s input: distinct per rank, exact in float64 sums."""
    n = int(np.prod(shape))
    return ((np.arange(n) % 97) * (rank + 1) + rank).reshape(shape).astype(dtype)


def check(failures: list[str], name: str, got: Any, expected: Any) -> None:
    if isinstance(expected, np.ndarray):
        ok = isinstance(got, np.ndarray) and got.shape == expected.shape
        ok = ok and got.dtype == expected.dtype and bool(np.array_equal(got, expected))
    else:
        ok = type(got) is type(expected) and got == expected
    if not ok:
        failures.append(f"{name}: got {got!r:.200}, expected {expected!r:.200}")


def run_collectives(comm: Communicator) -> list[str]:
    """Every collective (several roots, ops and value kinds) against numpy references."""
    r, n = comm.rank, comm.size
    f: list[str] = []
    everyone = [data(k) for k in range(n)]
    for root in range(n):
        got = comm.broadcast(data(root) if r == root else None, root=root)
        check(f, f"broadcast root={root}", got, data(root))
    check(f, "broadcast bytes", comm.broadcast(b"reef" * 1000 if r == 0 else None), b"reef" * 1000)
    obj = {"a": [1, 2], "w": np.arange(4, dtype=np.int32)}
    got_obj = comm.broadcast(obj if r == n - 1 else None, root=n - 1)
    if not (got_obj["a"] == [1, 2] and np.array_equal(got_obj["w"], obj["w"])):
        f.append(f"broadcast object: {got_obj!r}")
    for op, ref in ((SUM, np.sum), (PROD, np.prod), (MIN, np.min), (MAX, np.max)):
        expected = ref(np.stack(everyone), axis=0)
        root = n - 1
        got = comm.reduce(data(r), op, root=root)
        check(f, f"reduce {op}", got if r == root else None, expected if r == root else None)
        check(f, f"all_reduce {op}", comm.all_reduce(data(r), op), expected)
    ints = [data(k, (1000,), np.int64) for k in range(n)]
    check(f, "all_reduce int64", comm.all_reduce(ints[r]), np.sum(np.stack(ints), axis=0))
    check(
        f,
        "all_reduce fn",
        comm.all_reduce(r + 1, lambda a, b: a * b),
        int(np.prod(np.arange(1, n + 1))),
    )
    check(f, "all_reduce scalar", comm.all_reduce(float(r)), float(sum(range(n))))
    parts = [data(k, (3, k + 1)) for k in range(n)]
    got = comm.scatter(parts if r == 0 else None, root=0)
    check(f, "scatter", got, parts[r])
    gathered = comm.gather(data(r), root=n - 1)
    if r == n - 1:
        if gathered is None or len(gathered) != n:
            f.append(f"gather: {gathered!r:.200}")
        else:
            for k in range(n):
                check(f, f"gather[{k}]", gathered[k], everyone[k])
    else:
        check(f, "gather (not root)", gathered, None)
    all_g = comm.all_gather(data(r))
    for k in range(n):
        check(f, f"all_gather[{k}]", all_g[k], everyone[k])
    sent = [data(r * n + k, (k + 2,)) for k in range(n)]
    got_all = comm.all_to_all(sent)
    for k in range(n):
        check(f, f"all_to_all from {k}", got_all[k], data(k * n + r, (r + 2,)))
    comm.barrier()
    return f


class Collectives(reef.Activity):
    """Runs every collective (or the large-array scenario) and reports mismatches."""

    def __init__(
        self, comm: Communicator, groups: GroupService, big: Annotated[int, BigElements]
    ) -> None:
        self.comm, self.groups, self.big = comm, groups, big

    def run(self, memento: bytes | None) -> bytes:
        started = time.perf_counter()
        if self.big:
            failures = run_big(self.comm, self.big)
            other = self.groups.communicator("big-tcp")
            if other.transport != "tcp":
                failures.append(f"big-tcp has transport {other.transport}")
            failures += run_big(other, self.big)
        else:
            failures = run_collectives(self.comm)
        report = {
            "rank": self.comm.rank,
            "size": self.comm.size,
            "topology": self.comm.topology.spec,
            "failures": failures,
            "links": self.comm.links(),
            "seconds": round(time.perf_counter() - started, 3),
        }
        return json.dumps(report).encode()


def run_big(comm: Communicator, elements: int) -> list[str]:
    """A large array through broadcast and all_reduce (many chunks, pipelined)."""
    f: list[str] = []
    r, n = comm.rank, comm.size
    base = np.arange(elements, dtype=np.float64)
    got = comm.broadcast(base if r == 0 else None)
    if not (isinstance(got, np.ndarray) and got.shape == base.shape and np.array_equal(got, base)):
        f.append(f"{comm.name}: large broadcast differs")
    total = comm.all_reduce(base * (r + 1))
    if not np.array_equal(total, base * (n * (n + 1) // 2)):
        f.append(f"{comm.name}: large all_reduce differs")
    return f


class GroupDriver(reef.Driver):
    """Forms one group of all its evaluators (two in the large-array scenario: one over TCP)
    and runs ``Collectives`` on each member; sends each report."""

    def __init__(  # noqa: PLR0917
        self,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        groups: GroupCommunication,
        evaluators: Annotated[int, Evaluators],
        topology: Annotated[str, Topology],
        transport: Annotated[str, Transport],
        big: Annotated[int, BigElements],
    ) -> None:
        self.requestor, self.client, self.groups = requestor, client, groups
        self.evaluators, self.topology, self.transport = evaluators, topology, transport
        self.big = big
        self.ready: list[reef.AllocatedEvaluator] = []

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        memory = 256 if self.big else 128
        self.requestor.submit(reef.EvaluatorRequest(count=self.evaluators, memory_mb=memory))

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        self.ready.append(ev)
        if len(self.ready) < self.evaluators:
            return
        ids = [e.id for e in self.ready]
        group = self.groups.new_group(
            "g", ids, topology=topology_of(self.topology), timeout=30.0, transport=self.transport
        )
        if self.big:
            self.groups.new_group("big-tcp", ids, topology=Flat(), timeout=30.0, transport="tcp")
        for e in self.ready:
            e.submit_context_and_activity(
                reef.ContextConfiguration(id=f"ctx-{e.id}", services=[GroupService]),
                reef.ActivityConfiguration(
                    id=f"collectives-{e.id}",
                    activity=Collectives,
                    configuration=group.member_configuration(e.id),
                    parameters={BigElements: self.big},
                ),
            )

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        self.client.send(done.result or b"")
        done.context.close()


# -- failure and repair ---------------------------------------------------------------------------


class Victim(NamedParameter[int]):
    """The rank whose evaluator kills itself in the middle of a collective."""

    default = 2


class Steps(reef.Activity):
    """all_reduce rounds; the victim's evaluator SIGKILLs itself in the middle of one of them
    (while its array is half sent). The others report the error they got and how long after
    the kill they got it."""

    def __init__(self, comm: Communicator, victim: Annotated[int, Victim]) -> None:
        self.comm, self.victim = comm, victim

    def run(self, memento: bytes | None) -> bytes:
        comm = self.comm
        big = np.ones(4_000_000)  # 32 MB: a collective in flight for a while
        comm.all_reduce(np.ones(10))  # the group is formed and every link is up
        if comm.rank == self.victim:
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGKILL)).start()
        started = time.monotonic()
        try:
            for _ in range(1000):
                comm.all_reduce(big)
        except GroupMemberLost as e:
            return json.dumps(
                {
                    "error": "GroupMemberLost",
                    "member": e.member,
                    "message": str(e),
                    "after": time.monotonic() - started,
                }
            ).encode()
        return json.dumps({"error": None}).encode()


class AfterRepair(reef.Activity):
    """On the re-formed group: an all_reduce and a broadcast."""

    def __init__(self, comm: Communicator) -> None:
        self.comm = comm

    def run(self, memento: bytes | None) -> bytes:
        total = self.comm.all_reduce(np.full(100, self.comm.rank + 1.0))
        word = self.comm.broadcast(b"repaired" if self.comm.rank == 0 else None)
        return json.dumps(
            {
                "total": float(total[0]),
                "word": word.decode(),
                "size": self.comm.size,
                "generation": self.comm.generation,
            }
        ).encode()


class RepairDriver(reef.Driver):
    """Three members; one dies mid-collective; the survivors' contexts (and their
    ``GroupService``) run ``AfterRepair`` on the group re-formed with ``without``."""

    def __init__(
        self,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        groups: GroupCommunication,
        victim: Annotated[int, Victim],
    ) -> None:
        self.requestor, self.client, self.groups, self.victim = requestor, client, groups, victim
        self.ready: list[reef.AllocatedEvaluator] = []
        self.log: list[Any] = []
        self.waiting: list[reef.CompletedActivity] = []
        self.repaired: Any = None

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.requestor.submit(reef.EvaluatorRequest(count=3, memory_mb=256))

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        self.ready.append(ev)
        if len(self.ready) < 3:
            return
        group = self.groups.new_group(
            "train", [e.id for e in self.ready], topology=Tree(fan_out=1), timeout=30.0
        )
        for e in self.ready:
            e.submit_context_and_activity(
                reef.ContextConfiguration(id=f"ctx-{e.id}", services=[GroupService]),
                reef.ActivityConfiguration(
                    id=f"steps-{e.id}",
                    activity=Steps,
                    configuration=group.member_configuration(e.id),
                    parameters={Victim: self.victim},
                ),
            )

    @reef.on(GroupMemberFailed)
    def member_failed(self, event: GroupMemberFailed) -> None:
        self.log.append(["GroupMemberFailed", event.group, event.generation, event.member])
        self.repaired = self.groups.group(event.group).without(event.member)
        self._repair()

    @reef.on(reef.FailedEvaluator)
    def evaluator_failed(self, event: reef.FailedEvaluator) -> None:
        self.log.append(["FailedEvaluator", event.id])

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        result = json.loads(done.result or b"{}")
        if done.id.startswith("steps-"):
            self.log.append(["steps", done.context.evaluator_id, result])
            self.waiting.append(done)
            self._repair()
        else:
            self.log.append(["repaired", done.context.evaluator_id, result])
            done.context.close()

    def _repair(self) -> None:
        if self.repaired is None or len(self.waiting) < 2:
            return
        group, self.repaired = self.repaired, None
        for done in self.waiting:
            done.context.submit_activity(
                reef.ActivityConfiguration(
                    id=f"repaired-{done.context.evaluator_id}",
                    activity=AfterRepair,
                    configuration=group.member_configuration(done.context.evaluator_id),
                )
            )

    @reef.on(reef.StopTime)
    def stop(self, _: reef.StopTime) -> None:
        self.client.send(json.dumps(self.log).encode())
