"""Group communication's pure parts: topologies, chunk plans, operations, serialization and
the buffer pool."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from reef.services.group import MAX, MIN, PROD, SUM, Flat, GroupMemberLost, Tree
from reef.services.group._chunks import plan
from reef.services.group._codec import allocate, decode, encode, sizes
from reef.services.group._ops import check_same_shape, elementwise
from reef.services.group._pool import BufferPool
from reef.services.group._spec import GroupSpec
from reef.services.group._topology import topology_of

# -- topologies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("topology", [Tree(fan_out=k) for k in (1, 2, 3, 4)] + [Flat()])
@pytest.mark.parametrize("size", range(1, 10))
def test_every_topology_is_a_tree_spanning_the_group_from_any_root(topology, size) -> None:
    for root in range(size):
        parents = {r: topology.parent(r, size, root) for r in range(size)}
        assert parents[root] is None
        for r in range(size):
            for c in topology.children(r, size, root):
                assert parents[c] == r  # children and parents agree
            assert len(topology.children(r, size, root)) <= topology.width(size)
        # everyone reaches the root by following parents, without cycles
        for r in range(size):
            seen, at = set(), r
            while at != root:
                assert at not in seen
                seen.add(at)
                at = parents[at]
                assert at is not None
        reached = {root}
        frontier = [root]
        while frontier:
            nxt = [c for r in frontier for c in topology.children(r, size, root)]
            assert not reached & set(nxt)
            reached |= set(nxt)
            frontier = nxt
        assert reached == set(range(size))


def test_tree_shapes() -> None:
    binary = Tree(fan_out=2)
    assert binary.children(0, 7) == [1, 2]
    assert binary.children(1, 7) == [3, 4]
    assert binary.children(2, 7) == [5, 6]
    assert binary.parent(6, 7) == 2
    assert binary.depth(7) == 2
    assert Tree(fan_out=1).children(3, 5) == [4]  # a chain
    assert Tree(fan_out=1).depth(5) == 4
    assert Flat().children(0, 5) == [1, 2, 3, 4]
    assert Flat().depth(9) == 1
    # relative to the root: root 2 of 4 with a binary tree
    assert binary.children(2, 4, root=2) == [3, 0]
    assert binary.children(3, 4, root=2) == [1]
    assert binary.parent(1, 4, root=2) == 3


def test_topology_specs_and_bad_arguments() -> None:
    assert topology_of(Tree(fan_out=3).spec) == Tree(fan_out=3)
    assert topology_of("flat") == Flat()
    assert repr(Tree(fan_out=2)) == "Tree(fan_out=2)"
    with pytest.raises(ValueError, match="fan-out"):
        Tree(fan_out=0)
    with pytest.raises(ValueError, match="unknown topology"):
        topology_of("ring")
    with pytest.raises(ValueError, match=r"root=4 is not a rank of this group \(0 to 3\)"):
        Flat().children(0, 4, root=4)


# -- chunk plans ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nbytes", "chunk", "itemsize"),
    [
        (0, 8, 1),
        (1, 8, 1),
        (8, 8, 1),
        (9, 8, 1),
        (100, 7, 1),
        (96, 10, 8),
        (1 << 20, 1 << 16, 8),
        (24, 4, 8),
    ],
)
def test_a_plan_covers_the_bytes_in_order_at_item_boundaries(nbytes, chunk, itemsize) -> None:
    ranges = plan(nbytes, chunk, itemsize)
    if nbytes == 0:
        assert ranges == []
        return
    assert [a for a, _ in ranges] == [0, *(b for _, b in ranges[:-1])]
    assert (ranges[-1][1] if ranges else 0) == nbytes
    for a, b in ranges:
        assert 0 < b - a <= max(chunk, itemsize)
        assert a % itemsize == 0


def test_a_bad_plan_is_refused() -> None:
    with pytest.raises(ValueError):
        plan(-1)


# -- operations -------------------------------------------------------------------------------------


def test_named_operations_on_arrays_and_numbers() -> None:
    a, b = np.array([1.0, 5.0, -2.0]), np.array([3.0, 2.0, 4.0])
    assert np.array_equal(SUM(a, b), a + b)
    assert np.array_equal(PROD(a, b), a * b)
    assert np.array_equal(MIN(a, b), np.minimum(a, b))
    assert np.array_equal(MAX(a, b), np.maximum(a, b))
    assert SUM(2, 3) == 5 and PROD(2, 3) == 6 and MIN(2, 3) == 2 and MAX(2, 3) == 3
    with pytest.raises(ValueError, match=r"different shapes: \(3,\) and \(2,\)"):
        SUM(a, b[:2])
    with pytest.raises(ValueError, match="different dtypes"):
        check_same_shape(a, b.astype(np.float32))
    assert elementwise(SUM, a) and not elementwise(SUM, 3.0) and not elementwise(max, a)
    assert not elementwise(SUM, np.array(["x"]))


# -- serialization ----------------------------------------------------------------------------------


def roundtrip(value):
    meta, buffers = encode(value)
    owners, views = allocate(meta, sizes(buffers))
    for src, dst in zip(buffers, views, strict=True):
        dst[:] = src
    return decode(meta, owners), buffers


@pytest.mark.parametrize(
    "dtype", [np.float64, np.float32, np.int8, np.int64, np.uint16, np.complex128, np.bool_]
)
@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 4), (2, 3, 5)])
def test_arrays_round_trip_in_one_buffer(dtype, shape) -> None:
    value = (np.arange(int(np.prod(shape))) % 5).astype(dtype).reshape(shape)
    got, buffers = roundtrip(value)
    assert got.dtype == value.dtype and got.shape == value.shape
    assert np.array_equal(got, value)
    assert len(buffers) == 1


def test_a_contiguous_array_is_sent_from_its_own_memory() -> None:
    value = np.arange(1000.0)
    _, buffers = encode(value)
    assert np.shares_memory(np.frombuffer(buffers[0], dtype=np.float64), value)
    strided = np.arange(20.0)[::2]
    got, _ = roundtrip(strided)
    assert np.array_equal(got, strided)
    fortran = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    got, _ = roundtrip(fortran)
    assert np.array_equal(got, fortran)


def test_bytes_like_values_keep_their_type_and_are_not_copied_to_send() -> None:
    data = b"abc" * 1000
    _, buffers = encode(data)
    assert buffers[0].obj is data
    assert roundtrip(data)[0] == data and type(roundtrip(data)[0]) is bytes
    ba = bytearray(b"xyz")
    got = roundtrip(ba)[0]
    assert got == ba and type(got) is bytearray
    got = roundtrip(memoryview(b"mv"))[0]
    assert type(got) is memoryview and bytes(got) == b"mv"


def test_objects_are_pickled_with_their_arrays_out_of_band() -> None:
    weights = np.arange(10_000.0)
    value = {"step": 3, "weights": weights, "names": ["a", "b"], "none": None}
    meta, buffers = encode(value)
    assert meta["kind"] == "pickle"
    assert len(buffers) == 2  # the pickle and the array, not copied into it
    assert buffers[1].nbytes == weights.nbytes
    assert len(buffers[0]) < 1000
    got, _ = roundtrip(value)
    assert got["step"] == 3 and got["names"] == ["a", "b"] and got["none"] is None
    assert np.array_equal(got["weights"], weights)
    assert roundtrip(3.5)[0] == 3.5
    assert roundtrip(None)[0] is None
    err, _ = roundtrip(GroupMemberLost("e-1", "gone"))
    assert isinstance(err, GroupMemberLost) and err.member == "e-1"
    assert pickle.loads(pickle.dumps(GroupMemberLost("e-2", "x"))).member == "e-2"


# -- the pool and specs -----------------------------------------------------------------------------


def test_the_pool_reuses_only_arrays_nobody_holds() -> None:
    pool = BufferPool(max_count=2)
    a = pool.take((1 << 18,), np.float64)
    first = id(a)
    b = pool.take((1 << 18,), np.float64)
    assert b is not a  # a is still held
    del a
    c = pool.take((1 << 18,), np.float64)
    assert id(c) == first and pool.reused == 1
    view = c[::2]
    del c
    d = pool.take((1 << 18,), np.float64)
    assert id(d) != first  # a view still refers to it
    del view
    small = pool.take((4,), np.float64)
    assert small.shape == (4,)
    pool.clear()


def test_a_spec_refuses_bad_groups() -> None:
    def spec(**kw):
        base = dict(
            name="g",
            generation=1,
            members=("a", "b"),
            topology="flat",
            timeout=5.0,
            transport="auto",
            server="h:1",
        )
        return GroupSpec(**(base | kw))

    assert spec().rank_of("b") == 1
    with pytest.raises(ValueError, match="not a member"):
        spec().rank_of("c")
    with pytest.raises(ValueError, match="twice"):
        spec(members=("a", "a"))
    with pytest.raises(ValueError, match="transport"):
        spec(transport="udp")
    with pytest.raises(ValueError, match="timeout"):
        spec(timeout=0.0)
    assert GroupSpec.from_json(spec().to_json()) == spec()
