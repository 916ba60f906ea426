"""Group communication in one process: a group server and several ``GroupService``s (one per
fake evaluator, each with its own certificate of one job's CA) over real TLS sockets and
shared memory, each member's collectives on its own thread."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reef.common import _tls
from reef.common._authority import JobAuthority
from reef.common._identity import EvaluatorIdentity
from reef.services.group import (
    MAX,
    SUM,
    GroupAborted,
    GroupError,
    GroupMemberLost,
    GroupService,
    GroupTimeout,
)
from reef.services.group._communicator import Communicator
from reef.services.group._server import GroupServer
from reef.services.group._spec import GroupSpec

pytestmark = pytest.mark.timeout(60)


class Job:
    """One job's CA, a group server and a GroupService per member."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.authority = JobAuthority("group-unit")
        driver = _tls.save(
            str(root / "driver"),
            "driver",
            self.authority.ca_pem,
            self.authority.issue_driver(["127.0.0.1"]),
        )
        self.failed: list[tuple[str, int, str, str]] = []
        self.failure = threading.Event()  # set at the first GroupMemberFailed
        self.server = GroupServer(driver, "127.0.0.1", self._failed)
        self.services: dict[str, GroupService] = {}
        self.generation = 0

    def _failed(self, group: str, generation: int, member: str, reason: str) -> None:
        self.failed.append((group, generation, member, reason))
        self.failure.set()

    def service(self, evaluator_id: str, host_key: str = "host-a") -> GroupService:
        creds = _tls.save(
            str(self.root / evaluator_id),
            evaluator_id,
            self.authority.ca_pem,
            self.authority.issue_evaluator(evaluator_id),
        )
        me = EvaluatorIdentity(
            "group-unit", evaluator_id, "127.0.0.1", host_key, str(self.root), creds
        )
        service = self.services[evaluator_id] = GroupService(me)
        return service

    def group(
        self,
        members: list[str],
        *,
        topology: str = "tree:2",
        transport: str = "auto",
        timeout: float = 20.0,
        name: str = "g",
    ) -> GroupSpec:
        self.generation += 1
        spec = GroupSpec(
            name, self.generation, tuple(members), topology, timeout, transport, self.server.address
        )
        self.server.declare(spec)
        return spec

    def run(
        self, spec: GroupSpec, work: Callable[[Communicator], Any], members: list[str] | None = None
    ) -> dict[int, Any]:
        """``work(comm)`` on every member's thread: each one's result or exception, by rank."""
        results: dict[int, Any] = {}

        def one(member: str) -> None:
            comm = Communicator.of(self.services[member], spec)
            try:
                results[comm.rank] = work(comm)
            except BaseException as e:
                results[comm.rank] = e

        threads = [threading.Thread(target=one, args=(m,)) for m in members or spec.members]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=50)
        return results

    def close(self) -> None:
        for s in self.services.values():
            s.close()
        self.server.close()


@pytest.fixture
def job(tmp_path: Path) -> Iterator[Job]:
    j = Job(tmp_path)
    yield j
    j.close()


def data(rank: int, n: int = 1000) -> np.ndarray:
    return np.arange(n, dtype=np.float64) * (rank + 1) + rank


def everything(comm: Communicator) -> dict[str, Any]:
    r = comm.rank
    big = np.arange(3 * (1 << 17), dtype=np.float64) + r  # 3 MiB: several chunks
    return {
        "broadcast": comm.broadcast(big if r == 1 else None, root=1),
        "reduce": comm.reduce(data(r), root=0),
        "all_reduce": comm.all_reduce(big),
        "scatter": comm.scatter([data(k) for k in range(comm.size)] if r == 0 else None),
        "gather": comm.gather(r * 10, root=comm.size - 1),
        "all_gather": comm.all_gather({"r": r}),
        "all_to_all": comm.all_to_all([f"{r}>{k}" for k in range(comm.size)]),
        "barrier": comm.barrier(),
        "links": comm.links(),
    }


@pytest.mark.parametrize(
    ("size", "topology", "transport", "link"),
    [
        (2, "flat", "tcp", "tcp"),
        (3, "tree:2", "shm", "shm"),
        (4, "tree:1", "auto", "shm"),
        (4, "tree:3", "tcp", "tcp"),
    ],
)
def test_every_collective_over_real_links(job, size, topology, transport, link) -> None:
    ids = [f"e-{i}" for i in range(size)]
    for e in ids:
        job.service(e)
    results = job.run(job.group(ids, topology=topology, transport=transport), everything)
    big = np.arange(3 * (1 << 17), dtype=np.float64)
    for r in range(size):
        got = results[r]
        assert not isinstance(got, BaseException), got
        assert np.array_equal(got["broadcast"], big + 1)
        if r == 0:
            assert np.array_equal(got["reduce"], sum(data(k) for k in range(size)))
        else:
            assert got["reduce"] is None
        assert np.array_equal(got["all_reduce"], big * size + sum(range(size)))
        assert np.array_equal(got["scatter"], data(r))
        assert got["gather"] == ([k * 10 for k in range(size)] if r == size - 1 else None)
        assert got["all_gather"] == [{"r": k} for k in range(size)]
        assert got["all_to_all"] == [f"{k}>{r}" for k in range(size)]
        assert got["barrier"] is None
        assert set(got["links"].values()) == {link}
    assert job.failed == []


def test_members_on_other_hosts_use_tcp_under_auto(job) -> None:
    job.service("e-0", host_key="host-a")
    job.service("e-1", host_key="host-b")
    spec = job.group(["e-0", "e-1"], transport="auto")
    results = job.run(spec, lambda c: (c.all_reduce(np.ones(3)), c.links()))
    for r in (0, 1):
        assert np.array_equal(results[r][0], np.full(3, 2.0))
        assert set(results[r][1].values()) == {"tcp"}
    shm = job.group(["e-0", "e-1"], transport="shm", name="forced")
    results = job.run(shm, lambda c: c.barrier())
    assert all(isinstance(e, GroupError) and "another host" in str(e) for e in results.values())


def test_connections_are_reused_across_calls_and_communicators(job) -> None:
    for e in ("e-0", "e-1"):
        job.service(e)
    spec = job.group(["e-0", "e-1"], transport="tcp")
    job.run(spec, lambda c: c.barrier())
    links = {m: dict(job.services[m].existing_session(spec).outlinks) for m in spec.members}
    job.run(spec, lambda c: c.all_reduce(np.ones(2)))  # a new Communicator: the same links
    for m in spec.members:
        assert job.services[m].existing_session(spec).outlinks == links[m]


def test_bad_arguments_raise_clear_errors(job) -> None:
    for e in ("e-0", "e-1", "e-2"):
        job.service(e)
    spec = job.group(["e-0", "e-1", "e-2"])
    comm = Communicator.of(job.services["e-0"], spec)
    with pytest.raises(ValueError, match=r"root=3 is not a rank of this group \(0 to 2\)"):
        comm.broadcast(1, root=3)
    with pytest.raises(ValueError, match="all_to_all needs 3 values"):
        comm.all_to_all([1, 2])
    with pytest.raises(TypeError, match="op="):
        comm.reduce(1, op="sum")  # type: ignore[arg-type]
    with pytest.raises(GroupError, match="not a member"):
        Communicator.of(job.service("e-9"), spec)

    # the root gives the wrong number of values: it raises, the others are aborted at once
    def scatter(c: Communicator) -> Any:
        return c.scatter([1, 2] if c.rank == 0 else None)

    started = time.monotonic()
    results = job.run(spec, scatter)
    assert isinstance(results[0], ValueError) and "scatter needs 3 values" in str(results[0])
    for r in (1, 2):
        assert isinstance(results[r], GroupAborted), results[r]
        assert results[r].member == "e-0" and "scatter needs 3 values" in str(results[r])
    assert time.monotonic() - started < 10  # the timeout is 20 s


def test_mismatched_shapes_in_a_reduction(job) -> None:
    for e in ("e-0", "e-1"):
        job.service(e)
    spec = job.group(["e-0", "e-1"])
    # small arrays are exchanged: every member sees the other's shape and says so
    results = job.run(spec, lambda c: c.all_reduce(np.ones(3 + c.rank), op=SUM))
    for r in (0, 1):
        assert isinstance(results[r], ValueError), results[r]
        assert "mismatched arrays" in str(results[r])
        assert "(3,)" in str(results[r]) and "(4,)" in str(results[r])
    # in a tree (a group of 3, 100 KiB arrays), the rank that combines raises and the others
    # are aborted
    job.service("e-2")
    spec = job.group(["e-0", "e-1", "e-2"], topology="flat")
    results = job.run(spec, lambda c: c.all_reduce(np.ones(12_800 + c.rank), op=SUM))
    assert isinstance(results[0], ValueError)
    assert "mismatched arrays" in str(results[0]) and "(12800,)" in str(results[0])
    for r in (1, 2):
        assert isinstance(results[r], GroupAborted), results[r]
    session = job.services["e-0"].existing_session(spec)
    assert session is not None and session.paths["all_reduce:tree"] == 1


def test_different_collectives_on_two_members_are_an_error(job) -> None:
    for e in ("e-0", "e-1"):
        job.service(e)
    spec = job.group(["e-0", "e-1"], topology="flat")
    results = job.run(spec, lambda c: c.reduce(1) if c.rank == 0 else c.gather(2))
    assert isinstance(results[0], GroupError), results[0]
    assert "rank 0 is in reduce #1 (root 0), but rank 1 sent gather #1" in str(results[0])
    assert "same collectives in the same order" in str(results[0])


def test_an_unknown_group_and_a_missing_member(job) -> None:
    for e in ("e-0", "e-1"):
        job.service(e)
    with pytest.raises(GroupError, match="no group configuration"):
        job.services["e-0"].communicator("nope")
    spec = job.group(["e-0", "e-1"], timeout=1.0)
    started = time.monotonic()
    results = job.run(spec, lambda c: c.barrier(), members=["e-0"])
    err = results[0]
    assert isinstance(err, GroupTimeout), err
    assert "missing members e-1" in str(err)
    assert time.monotonic() - started < 5
    # the service now knows the server: it asks it about groups it has not seen
    with pytest.raises(GroupError, match="unknown group 'nope'"):
        job.services["e-0"].communicator("nope")
    other = job.group(["e-0", "e-1"], name="other")
    assert job.services["e-0"].communicator("other").generation == other.generation


def test_a_collective_times_out_and_aborts_the_others(job) -> None:
    for e in ("e-0", "e-1", "e-2"):
        job.service(e)
    spec = job.group(["e-0", "e-1", "e-2"], topology="flat")
    gate = threading.Event()

    def work(c: Communicator) -> Any:
        c.barrier()
        if c.rank == 2:
            gate.wait(10)  # late: the others' short timeout passes
            return "late"
        try:
            return c.all_reduce(np.ones(4), timeout=0.5 if c.rank == 0 else 20)
        finally:
            if c.rank == 1:
                gate.set()

    started = time.monotonic()
    results = job.run(spec, work)
    assert isinstance(results[0], GroupTimeout), results[0]
    assert "timed out waiting for member e-" in str(results[0])
    assert isinstance(results[1], GroupAborted) and results[1].member == "e-0"
    assert time.monotonic() - started < 10


def test_a_member_whose_service_dies_is_lost_for_the_others(job) -> None:
    for e in ("e-0", "e-1", "e-2"):
        job.service(e)
    spec = job.group(["e-0", "e-1", "e-2"], topology="tree:1")
    closed = threading.Event()

    def work(c: Communicator) -> Any:
        c.barrier()
        if c.rank == 1:
            # like a killed process: its links and its server connection drop, no goodbye
            session = job.services["e-1"].existing_session(spec)
            for link in [*session.outlinks.values(), *session.inlinks.values()]:
                link.sock.close()
            for server_link in job.services["e-1"]._servers.values():
                server_link._closing = True
                server_link._duplex.shutdown(socket.SHUT_RDWR)
            closed.set()
            return None
        closed.wait(10)
        return c.all_reduce(np.ones(1 << 20))

    results = job.run(spec, work)
    for r in (0, 2):
        assert isinstance(results[r], GroupMemberLost), results[r]
        assert results[r].member == "e-1"
    assert job.failure.wait(10), "the driver was not told"
    assert job.failed and job.failed[0][:3] == ("g", spec.generation, "e-1")


def test_connections_without_the_jobs_credentials_are_refused(job, tmp_path: Path) -> None:
    service = job.service("e-0")
    for e in ("e-1",):
        job.service(e)
    spec = job.group(["e-0", "e-1"])
    job.run(spec, lambda c: c.barrier())
    stranger = JobAuthority("another-job")
    creds = _tls.save(
        str(tmp_path / "stranger"), "x", stranger.ca_pem, stranger.issue_evaluator("e-1")
    )
    member_host, member_port = service.address.rsplit(":", 1)
    server_host, server_port = job.server.address.rsplit(":", 1)
    for host, port in ((member_host, member_port), (server_host, server_port)):
        # plain TCP: no answer but a closed connection
        with socket.create_connection((host, int(port)), timeout=10) as plain:
            plain.sendall(b'{"group": "g", "generation": 1, "from": "e-1"}\n')
            plain.settimeout(10)
            try:
                got = plain.recv(100)
            except OSError:
                got = b""
            assert b"ok" not in got
        # TLS with another CA's certificate (naming a real member): the handshake fails
        ctx = _tls.peer_client_context(creds)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection((host, int(port)), timeout=10)
        with pytest.raises((ssl.SSLError, OSError)):
            talk_with(ctx, raw)
        raw.close()
    assert sorted(job.server.registered("g", spec.generation)) == ["e-0", "e-1"]


def talk_with(ctx: ssl.SSLContext, raw: socket.socket) -> None:
    """Handshake, send a frame and read an answer (``ConnectionError`` if closed)."""
    with ctx.wrap_socket(raw) as tls:
        tls.sendall(b"\x00\x00\x00\x02{}")
        if not tls.recv(100):
            raise ConnectionError("closed")


def test_a_sender_that_leaves_once_its_data_is_in_the_ring_loses_nothing(job) -> None:
    """Over shared memory a send is complete once the chunks are in the ring: the sender's
    collective returns and its context may close at once, before the receiver has copied them
    out and acked the slots. The receiver still gets everything and loses no member."""
    for e in ("e-0", "e-1"):
        job.service(e)
    spec = job.group(["e-0", "e-1"], topology="flat", transport="shm")
    job.run(spec, lambda c: c.barrier())  # links both ways
    inlink = job.services["e-1"].existing_session(spec).inlinks["e-0"]
    assert inlink.ring is not None
    left = threading.Event()
    take = inlink.ring.take

    def late_take(slot: int, into: memoryview) -> None:
        assert left.wait(10)  # copy out (and ack) only once the sender has gone
        take(slot, into)

    inlink.ring.take = late_take  # type: ignore[method-assign]
    big = np.arange(3 * (1 << 17), dtype=np.float64)  # 3 chunks: fits the ring, no ack needed

    def work(c: Communicator) -> Any:
        got = c.broadcast(big if c.rank == 0 else None)
        if c.rank == 0:
            job.services["e-0"].close()
            left.set()
        return got

    results = job.run(spec, work)
    assert not isinstance(results[0], BaseException), results[0]
    assert np.array_equal(results[1], big), results[1]
    assert job.failed == []


@pytest.mark.parametrize("transport", ["shm", "tcp"])
def test_members_that_leave_right_after_their_collective_are_not_lost(job, transport) -> None:
    """Each member closes its service (as a driver closing its context does) the moment its
    collective returns, while the others may still be sending to it or receiving from it."""
    ids = ["e-0", "e-1", "e-2"]
    for e in ids:
        job.service(e)
    for round_ in range(3):
        spec = job.group(ids, topology="flat", transport=transport, name=f"g{round_}")

        def work(c: Communicator, spec: GroupSpec = spec) -> Any:
            parts = [np.full(300_000, 10.0 * c.rank + k) for k in range(c.size)]
            got = c.all_to_all(parts)
            total = c.all_reduce(np.full(300_000, c.rank + 1.0))
            bcast = c.broadcast(np.arange(300_000.0) if c.rank == 0 else None)
            session = job.services[c.members[c.rank]].existing_session(spec)
            assert session is not None
            session.close()  # leave at once (the service stays for the next round)
            return got, total, bcast

        results = job.run(spec, work)
        for r in range(3):
            assert not isinstance(results[r], BaseException), results[r]
            got, total, bcast = results[r]
            for k in range(3):
                assert np.array_equal(got[k], np.full(300_000, 10.0 * k + r))
            assert np.array_equal(total, np.full(300_000, 6.0))
            assert np.array_equal(bcast, np.arange(300_000.0))
    assert job.failed == []


def test_a_large_all_reduce_is_bit_identical_everywhere_in_rank_order(job) -> None:
    """Large arrays take reduce-scatter + all-gather: every element is combined once, in rank
    order, so floating-point results agree bit for bit on every member."""
    ids = ["e-0", "e-1", "e-2"]
    for e in ids:
        job.service(e)
    spec = job.group(ids, topology="tree:2", transport="tcp")
    values = [np.random.default_rng(k).standard_normal(3 * (1 << 17) + 5) for k in range(3)]
    results = job.run(spec, lambda c: c.all_reduce(values[c.rank]))
    expected = (values[0] + values[1]) + values[2]
    for r in range(3):
        assert not isinstance(results[r], BaseException), results[r]
        assert results[r].tobytes() == expected.tobytes()


def session_of(job: Job, member: str, spec: GroupSpec) -> Any:
    session = job.services[member].existing_session(spec)
    assert session is not None
    return session


@pytest.mark.parametrize("transport", ["shm", "tcp"])
def test_small_values_are_exchanged_in_one_round_bit_identical_in_rank_order(
    job, transport
) -> None:
    """Small all_reduce, all_gather and barrier: every member sends straight to every other
    one (one message latency), small messages go inline over the socket even on shared
    memory, written by the collective's own thread; every member combines in rank order."""
    ids = ["e-0", "e-1", "e-2"]
    for e in ids:
        job.service(e)
    spec = job.group(ids, topology="tree:1", transport=transport)
    values = [np.random.default_rng(k).standard_normal(1000) for k in range(3)]

    def work(c: Communicator) -> Any:
        c.barrier()
        total = c.all_reduce(values[c.rank])
        peak = c.all_reduce(values[c.rank], op=MAX)
        count = c.all_reduce(c.rank + 1)  # a number: exchanged too
        return total, peak, count, c.all_gather({"r": c.rank})

    results = job.run(spec, work)
    expected = (values[0] + values[1]) + values[2]
    for r, m in enumerate(ids):
        assert not isinstance(results[r], BaseException), results[r]
        total, peak, count, gathered = results[r]
        assert total.tobytes() == expected.tobytes()
        assert np.array_equal(peak, np.maximum(np.maximum(values[0], values[1]), values[2]))
        assert count == 6
        assert gathered == [{"r": k} for k in range(3)]
        session = session_of(job, m, spec)
        assert session.paths == {
            "barrier:exchange": 1,
            "all_reduce:exchange": 3,
            "all_gather:exchange": 1,
        }
        for link in session.outlinks.values():
            assert link.direct == 5 and link.posted == 0  # no hand-off to the sender thread
        for link in session.inlinks.values():
            assert link.small == 5  # inline, also over shared memory
            assert link.transport == transport
    assert job.failed == []


def test_groups_larger_than_the_exchange_use_the_tree(job, monkeypatch) -> None:
    from reef.services.group import _collectives

    monkeypatch.setattr(_collectives, "EXCHANGE_MAX_MEMBERS", 2)
    ids = ["e-0", "e-1", "e-2"]
    for e in ids:
        job.service(e)
    spec = job.group(ids, transport="shm")
    values = [np.random.default_rng(k).standard_normal(100) for k in range(3)]

    def work(c: Communicator) -> Any:
        c.barrier()
        return c.all_reduce(values[c.rank]), c.all_gather(c.rank), c.all_reduce(c.rank)

    results = job.run(spec, work)
    reference = results[0][0]
    assert np.allclose(reference, values[0] + values[1] + values[2])
    for r, m in enumerate(ids):
        assert not isinstance(results[r], BaseException), results[r]
        total, gathered, count = results[r]
        assert total.tobytes() == reference.tobytes()  # the root's result, broadcast
        assert gathered == [0, 1, 2] and count == 3
        assert session_of(job, m, spec).paths == {
            "barrier:tree": 1,
            "all_reduce:tree": 2,
            "all_gather:tree": 1,
        }


@pytest.mark.parametrize("transport", ["shm", "tcp"])
@pytest.mark.parametrize("early", [False, True])
def test_a_large_all_reduce_of_two_combines_on_arrival_and_gathers_in_place(
    job, transport, early
) -> None:
    """Two members: the other member's part of a member's segment is combined as it arrives
    (from the ring slot or a scratch buffer). When its header came before this member's
    collective expected it (``early``), its data is held back (``hold``) until the
    collective takes it, and is then combined on arrival all the same: never copied into a
    buffer of its own. Either way the result is (x0 + x1) bit for bit on both, and the
    other member's segment is received straight into the result."""
    for e in ("e-0", "e-1"):
        job.service(e)
    spec = job.group(["e-0", "e-1"], topology="flat", transport=transport)
    job.run(spec, lambda c: c.barrier())  # links both ways
    values = [np.random.default_rng(k).standard_normal(3 * (1 << 17) + 5) for k in range(2)]
    late = session_of(job, "e-1", spec)
    ready = threading.Event()
    if early:  # e-1 starts once e-0's scatter header has been handed over to it
        deliver = late.deliver

        def delivered(peer: str, message: Any) -> None:
            deliver(peer, message)
            if message.header["op"].endswith("reduce-scatter"):
                ready.set()

        late.deliver = delivered
    else:  # e-0 sends once e-1 is expecting its data
        expect = late.expect

        def expected(*args: Any) -> None:
            expect(*args)
            if args[2].endswith("reduce-scatter"):
                ready.set()

        late.expect = expected

    def work(c: Communicator) -> Any:
        if (c.rank == 1) == early:
            assert ready.wait(10)
        return c.all_reduce(values[c.rank])

    results = job.run(spec, work)
    expected_sum = values[0] + values[1]
    for r, m in enumerate(spec.members):
        assert not isinstance(results[r], BaseException), results[r]
        assert results[r].tobytes() == expected_sum.tobytes()
        paths = session_of(job, m, spec).paths
        assert paths["all_reduce:segments"] == 1
        assert paths["all_reduce:segments-in-place"] == 1
        assert paths["all_reduce:segments-combined"] == 1
    assert late.inlinks["e-0"].held == early  # its data waited for e-1's collective
    assert not late.expected  # nothing left registered
    assert job.failed == []


@pytest.mark.parametrize("transport", ["shm", "tcp"])
def test_large_collectives_wrap_the_ring_and_reuse_their_results_memory(job, transport) -> None:
    """Arrays of many chunks (the ring wraps several times; freed slots are acked a few at a
    time): broadcast and all_reduce are exact, bit for bit in rank order, and once the
    program has dropped a result, the next one of its shape reuses its memory (no link
    thread keeps a reference to it)."""
    for e in ("e-0", "e-1"):
        job.service(e)
    spec = job.group(["e-0", "e-1"], topology="flat", transport=transport)
    n = 3 * (1 << 20) + 7  # 24 MiB of float64: 24 chunks, 3 times round the ring
    values = [np.random.default_rng(k).standard_normal(n) for k in range(2)]
    expected = values[0] + values[1]

    def work(c: Communicator) -> Any:
        pool = job.services[c.members[c.rank]].pool
        sums = []
        for _ in range(3):
            total = c.all_reduce(values[c.rank])
            sums.append(total.tobytes() == expected.tobytes())
            del total
            c.barrier()
        got = c.broadcast(values[0] if c.rank == 0 else None)
        return sums, pool.reused, got.tobytes() == values[0].tobytes()

    results = job.run(spec, work)
    for r, m in enumerate(spec.members):
        assert not isinstance(results[r], BaseException), results[r]
        sums, reused, broadcast_ok = results[r]
        assert sums == [True, True, True]
        # the 2nd and 3rd all_reduce reuse the 1st one's memory; so does rank 1's broadcast
        assert reused == 2 + r
        assert broadcast_ok
        paths = session_of(job, m, spec).paths
        assert paths["all_reduce:segments-combined"] == 3
    assert job.failed == []


def test_a_wait_for_bytes_wakes_at_its_threshold_not_at_every_chunk(job) -> None:
    """The reader wakes a waiter once the bytes it waits for have arrived (not before, and
    not later: a missed wake-up would end in the deadline's ``GroupTimeout``)."""
    from reef.services.group._links import InMessage

    job.service("e-0")
    job.service("e-1")
    spec = job.group(["e-0", "e-1"], topology="flat", transport="tcp")
    job.run(spec, lambda c: c.barrier())  # links both ways
    session = session_of(job, "e-0", spec)
    inlink = session.inlinks["e-1"]
    header = {"seq": 0, "op": "x", "root": 0, "meta": {"kind": "bytearray"}, "sizes": [100]}
    message = InMessage(header)
    woken: list[int] = []
    started = threading.Event()

    def waiter() -> None:
        started.set()
        session.wait_bytes(message, 60, "e-1", time.monotonic() + 3.0, "test")
        woken.append(message.received)

    t = threading.Thread(target=waiter)
    t.start()
    assert started.wait(5)
    for _ in range(5):
        inlink._progress(message, 10)  # 50 bytes: not yet
    assert woken == []
    inlink._progress(message, 10)  # 60
    t.join(timeout=10)
    assert woken == [60]
