"""The collective algorithms, written against a ``Session`` (its links and waits).

Every collective runs on every member with the same arguments' shape (the same root, the same
operation) and the same sequence number; each message's header carries ``seq``, the operation
and the root, and a member that receives a header it did not expect fails with a clear error
instead of misreading the stream.

- ``broadcast``: down the topology's tree from the root; an inner member forwards each chunk to
  its children as soon as it has arrived (``_chunks.plan``), while later chunks still come in.
- ``reduce``: up the tree; with ``SUM``/``PROD``/``MIN``/``MAX`` on arrays, chunk by chunk: a
  member combines chunk ``i`` of its own value with its children's (numpy, in place) and sends
  it up while chunk ``i + 1`` is in flight. Other operations combine whole values.
- ``all_reduce``: large arrays (``SUM``/``PROD``/``MIN``/``MAX``, ``FUSED_MIN_BYTES`` or
  more): reduce-scatter + all-gather directly between members, pipelined
  (``_all_reduce_segments``); small values in groups of up to ``EXCHANGE_MAX_MEMBERS``:
  one direct exchange (``_exchange``: every member sends its value to every other one, and
  each combines them all in rank order, so the results agree bit for bit): one message
  latency; otherwise ``reduce`` to rank 0, then ``broadcast``. ``all_gather`` and
  ``barrier``: an ``_exchange`` in small groups, else ``gather`` (an empty ``reduce``) to
  rank 0 and a ``broadcast``. ``Session.paths`` counts which algorithm ran.
- ``gather``, ``scatter``, ``all_to_all``: every value goes straight between its two members
  (each value is distinct: a tree would only add hops).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from reef.services.group import _codec, _wire
from reef.services.group._chunks import plan
from reef.services.group._errors import GroupError
from reef.services.group._links import InMessage, OutLink, Sink
from reef.services.group._ops import Op, ReduceOp, elementwise
from reef.services.group._session import Session


class Call:
    """One collective on one member: its sequence number, name, root and deadline."""

    def __init__(self, session: Session, op: str, root: int, deadline: float) -> None:
        self.session = session
        self.spec = session.spec
        self.rank = session.rank
        self.size = session.spec.size
        self.op = op
        self.root = root
        self.seq = session.seq
        self.deadline = deadline
        self.what = f"{op} #{self.seq}"

    def phase(self, op: str, root: int) -> Call:
        """A step of a composite collective (same sequence number and deadline)."""
        step = Call.__new__(Call)
        step.__dict__.update(self.__dict__)
        step.op, step.root = f"{self.op}.{op}", root
        return step

    # -- links ----------------------------------------------------------------------------------

    def member(self, rank: int) -> str:
        return self.spec.members[rank]

    def link(self, rank: int) -> OutLink:
        return self.session.link_to(self.member(rank), self.deadline)

    def header(self, meta: _codec.Meta, nbytes: list[int]) -> dict[str, Any]:
        return {"seq": self.seq, "op": self.op, "root": self.root, "meta": meta, "sizes": nbytes}

    def send(self, rank: int, value: Any) -> OutLink:
        """Post ``value`` to ``rank`` (not waiting for it to leave)."""
        meta, buffers = _codec.encode(value)
        link = self.link(rank)
        link.post_message(self.header(meta, _codec.sizes(buffers)), buffers)
        return link

    def receive(self, rank: int) -> InMessage:
        """The next message from ``rank``, checked to belong to this collective."""
        peer = self.member(rank)
        message = self.session.next_message(peer, self.deadline, self.what)
        h = message.header
        if (h.get("seq"), h.get("op"), h.get("root")) != (self.seq, self.op, self.root):
            raise GroupError(
                f"{self.spec.describe()}: rank {self.rank} is in {self.op} #{self.seq} (root "
                f"{self.root}), but rank {rank} sent {h.get('op')} #{h.get('seq')} (root "
                f"{h.get('root')}): every member must call the same collectives in the same order"
            )
        return message

    def wait(self, message: InMessage, upto: int, rank: int) -> None:
        self.session.wait_bytes(message, upto, self.member(rank), self.deadline, self.what)

    def value(self, message: InMessage, rank: int) -> Any:
        self.wait(message, message.total, rank)
        return message.value()

    def sent(self, links: list[OutLink]) -> None:
        self.session.wait_sent(links, self.deadline, self.what)


def broadcast(call: Call, value: Any) -> Any:
    topology = call.spec.shape
    parent = topology.parent(call.rank, call.size, call.root)
    links = [call.link(c) for c in topology.children(call.rank, call.size, call.root)]
    if parent is None:
        meta, buffers = _codec.encode(value)
        header = call.header(meta, _codec.sizes(buffers))
        if _wire.inline(sum(_codec.sizes(buffers))):
            for link in links:
                link.post_message(header, buffers)
        else:
            for link in links:
                link.post_header(header)
            for b in buffers:
                for link in links:
                    link.post_data(b)
        call.sent(links)
        return value
    message = call.receive(parent)
    if links and _wire.inline(message.total):  # small: forwarded whole, as one frame
        call.wait(message, message.total, parent)
        for link in links:
            link.post_message(message.header, message.views)
        links = []
    for link in links:
        link.post_header(message.header)
    if links:
        for view, offset in zip(message.views, message.offsets, strict=True):
            for start, stop in plan(view.nbytes):
                call.wait(message, offset + stop, parent)
                for link in links:
                    link.post_data(view[start:stop])
    result = call.value(message, parent)
    call.sent(links)
    return result


def reduce(call: Call, value: Any, op: Op) -> Any:
    topology = call.spec.shape
    parent = topology.parent(call.rank, call.size, call.root)
    children = topology.children(call.rank, call.size, call.root)
    if not children:  # a leaf sends its own value as it is
        if parent is None:  # a group of one
            return value
        call.sent([call.send(parent, value)])
        return None
    messages = [call.receive(c) for c in children]
    if isinstance(op, ReduceOp) and elementwise(op, value):
        result = _reduce_chunks(call, np.asarray(value), op, parent, children, messages)
    else:
        result = value
        for message, child in zip(messages, children, strict=True):
            result = op(result, call.value(message, child))
        if parent is not None:
            call.sent([call.send(parent, result)])
    return result if parent is None else None


def _reduce_chunks(  # noqa: PLR0917
    call: Call,
    own: np.ndarray,
    op: ReduceOp,
    parent: int | None,
    children: list[int],
    messages: list[InMessage],
) -> np.ndarray:
    for message, child in zip(messages, children, strict=True):
        meta = message.header["meta"]
        if meta.get("kind") != "array":
            raise ValueError(
                f"reduce on {call.spec.describe()}: rank {call.rank} has an array but rank "
                f"{child} sent a {meta.get('kind')} value"
            )
        shape, dtype = tuple(meta["shape"]), np.dtype(meta["dtype"])
        if shape != own.shape or dtype != own.dtype:
            raise ValueError(
                f"reduce on {call.spec.describe()}: mismatched arrays: rank {call.rank} has "
                f"shape {own.shape} {own.dtype}, rank {child} sent shape {shape} {dtype}"
            )
    pool = call.session.pool
    acc = pool.take(own.shape, own.dtype) if pool is not None else np.empty(own.shape, own.dtype)
    flat, mine = acc.reshape(-1), np.ascontiguousarray(own).reshape(-1)
    theirs = [m.owners[0].reshape(-1) for m in messages]
    link = None
    small = _wire.inline(acc.nbytes)  # sent whole, as one frame, once combined
    if parent is not None and not small:
        meta, buffers = _codec.encode(acc)
        link = call.link(parent)
        link.post_header(call.header(meta, _codec.sizes(buffers)))
    out = _codec.byte_view(acc)
    size = acc.itemsize
    for start, stop in plan(acc.nbytes, itemsize=size):
        lo, hi = start // size, stop // size
        for k, (message, child) in enumerate(zip(messages, children, strict=True)):
            call.wait(message, stop, child)
            op.ufunc(mine[lo:hi] if k == 0 else flat[lo:hi], theirs[k][lo:hi], out=flat[lo:hi])
        if link is not None:
            link.post_data(out[start:stop])
    if link is not None:
        call.sent([link])
    elif parent is not None:
        call.sent([call.send(parent, acc)])
    return acc


FUSED_MIN_BYTES = 1 << 20
"""Arrays of at least this many bytes are all-reduced as reduce-scatter + all-gather."""

EXCHANGE_MAX_MEMBERS = 8
"""Groups of up to this many members all-reduce small values, all-gather and meet at a
barrier by direct exchange (``_exchange``): one message latency instead of two."""


def _exchange(call: Call, value: Any) -> list[Any]:
    """Every member's ``value``, by rank: each member sends its own to every other member
    at once (one message latency: the members' messages cross) and receives theirs."""
    me, size = call.rank, call.size
    others = [r for r in range(size) if r != me]
    meta, buffers = _codec.encode(value)
    header = call.header(meta, _codec.sizes(buffers))
    links = [call.link(r) for r in others]
    for link in links:
        link.post_message(header, buffers)
    values: list[Any] = [None] * size
    values[me] = value
    for r in others:
        values[r] = call.value(call.receive(r), r)
    call.sent(links)
    return values


def _exchanged(call: Call, value: Any, op: Op) -> bool:
    """Whether ``all_reduce`` of ``value`` goes by ``_exchange`` (the same answer on every
    member: it depends on the group's size and the value's shape and kind only)."""
    if not 2 <= call.size <= EXCHANGE_MAX_MEMBERS:
        return False
    if elementwise(op, value):  # not a FUSED_MIN_BYTES one (those are segmented)
        return call.size == 2 or _wire.inline(value.nbytes)
    return call.size == 2 or isinstance(value, (int, float, complex, np.generic))


def all_reduce(call: Call, value: Any, op: Op) -> Any:
    """Arrays of ``FUSED_MIN_BYTES`` or more under ``SUM``/``PROD``/``MIN``/``MAX``: see
    ``_all_reduce_segments``. Small values in small groups (``_exchanged``): every member
    gets every value and combines them in rank order, ``((x0 op x1) op x2) ...`` (so the
    results agree bit for bit). Others: ``reduce`` to rank 0, then ``broadcast``."""
    if (
        call.size > 1
        and isinstance(op, ReduceOp)
        and elementwise(op, value)
        and value.nbytes >= FUSED_MIN_BYTES
    ):
        call.session.paths["all_reduce:segments"] += 1
        return _all_reduce_segments(call, value, op)
    if _exchanged(call, value, op):
        call.session.paths["all_reduce:exchange"] += 1
        values = _exchange(call.phase("exchange", 0), value)
        if isinstance(op, ReduceOp) and elementwise(op, value):
            return _combine_arrays(call, values, op)
        result = values[0]
        for v in values[1:]:
            result = op(result, v)
        return result
    call.session.paths["all_reduce:tree"] += 1
    total = reduce(call.phase("reduce", 0), value, op)
    return broadcast(call.phase("broadcast", 0), total)


def _combine_arrays(call: Call, values: list[Any], op: ReduceOp) -> np.ndarray:
    """``((x0 op x1) op x2) ...`` element-wise into a new array; ``ValueError`` unless every
    member sent an array of the shape and dtype of this member's."""
    own = values[call.rank]
    for r, v in enumerate(values):
        if not isinstance(v, np.ndarray) or v.shape != own.shape or v.dtype != own.dtype:
            theirs = (
                f"shape {v.shape} {v.dtype}"
                if isinstance(v, np.ndarray)
                else f"a {type(v).__name__} value"
            )
            raise ValueError(
                f"all_reduce on {call.spec.describe()}: mismatched arrays: rank {call.rank} "
                f"has shape {own.shape} {own.dtype}, rank {r} has {theirs}"
            )
    out = np.empty(own.shape, own.dtype)
    op.ufunc(values[0], values[1], out=out)
    for v in values[2:]:
        op.ufunc(out, v, out=out)
    return out


def all_gather(call: Call, value: Any) -> list[Any]:
    """Every member's ``value``, by rank: by ``_exchange`` in small groups, else ``gather``
    to rank 0 and ``broadcast`` of the list."""
    if 2 <= call.size <= EXCHANGE_MAX_MEMBERS:
        call.session.paths["all_gather:exchange"] += 1
        return _exchange(call.phase("exchange", 0), value)
    call.session.paths["all_gather:tree"] += 1
    values = gather(call.phase("gather", 0), value)
    result: list[Any] = broadcast(call.phase("broadcast", 0), values)
    return result


def barrier(call: Call) -> None:
    """Returns once every member has called it: an ``_exchange`` of empty messages in small
    groups, else an empty ``reduce`` and ``broadcast``."""
    if 2 <= call.size <= EXCHANGE_MAX_MEMBERS:
        call.session.paths["barrier:exchange"] += 1
        _exchange(call.phase("exchange", 0), _EMPTY)
        return
    call.session.paths["barrier:tree"] += 1
    reduce(call.phase("reduce", 0), _EMPTY, _first)
    broadcast(call.phase("broadcast", 0), _EMPTY)


_EMPTY = b""


def _first(a: Any, b: Any) -> Any:
    return a


def segments(elements: int, size: int) -> list[tuple[int, int]]:
    """``(lo, hi)`` element ranges: member ``k`` owns the ``k``-th of ``size`` near-equal
    consecutive parts of ``elements``."""
    bounds = [k * elements // size for k in range(size + 1)]
    return list(itertools.pairwise(bounds))


def _all_reduce_segments(call: Call, own: np.ndarray, op: ReduceOp) -> np.ndarray:
    """Reduce-scatter then all-gather, directly between members: member ``k`` owns segment
    ``k`` of the flat array. Every member sends segment ``k`` of its value to ``k``; ``k``
    combines its segment chunk by chunk, always in rank order (``((x0 op x1) op x2) ...``,
    so every element is computed once, the same way, whatever the topology), and sends each
    combined chunk on to every other member at once, while the next chunks still arrive.
    Each member sends and receives ``(size - 1) / size`` of the array twice, both ways at
    once, instead of the whole array up and then down a tree.

    The other members' combined segments are received straight into the result
    (``Session.expect``, registered before this member sends anything; a member sends its
    segment's header only once it has every other member's first message, so the
    registration is always there first): no buffer of their own, no copy. In a group of two,
    the peer's part of this member's segment is combined as it arrives (``Sink.combine``):
    its header asks the receiver to ``hold`` it, so when it comes before this member's call
    its data waits (in the ring or the socket) for the call's registration instead of going
    into a buffer of its own; and each combined chunk leaves as soon as it is ready (the
    sender thread follows the incoming message's progress: ``OutLink.post_data(after=)``).
    Large first calls fault their result's pages in; later ones reuse it from the pool."""
    me, size = call.rank, call.size
    arr = np.ascontiguousarray(own)
    flat = arr.reshape(-1)
    session = call.session
    pool = session.pool
    result = pool.take(arr.shape, arr.dtype) if pool is not None else np.empty_like(arr)
    out = result.reshape(-1)
    parts = segments(flat.size, size)
    others = [r for r in range(size) if r != me]
    whole = {"shape": list(arr.shape), "dtype": arr.dtype.str}
    scatter, gather = call.phase("reduce-scatter", 0), call.phase("all-gather", 0)

    def header(step: Call, lo: int, hi: int, *, hold: bool = False) -> dict[str, Any]:
        meta = {"kind": "array", "dtype": arr.dtype.str, "shape": [hi - lo], "whole": whole}
        h = step.header(meta, [(hi - lo) * arr.itemsize])
        if hold:  # its data waits for the receiver's collective (and its ``Sink``)
            h["hold"] = True
        return h

    mlo, mhi = parts[me]
    for r in others:
        lo, hi = parts[r]
        session.expect(call.member(r), call.seq, gather.op, Sink(out[lo:hi]))
    if size == 2:  # the other member's part of this one's segment: combined as it arrives
        (r,) = others
        own_first = me == 0  # rank order: x0 op x1
        sink = Sink(out[mlo:mhi], (op.ufunc, flat[mlo:mhi], own_first))
        session.expect(call.member(r), call.seq, scatter.op, sink)
    combined = False
    try:
        links = {r: call.link(r) for r in others}
        for r in others:  # everything the others need from this member, at once
            lo, hi = parts[r]
            links[r].post_header(header(scatter, lo, hi, hold=size == 2))
            links[r].post_data(_codec.byte_view(flat[lo:hi]))
        incoming = {r: scatter.receive(r) for r in others}
        for r, message in incoming.items():
            _check_part(call, r, message.header["meta"], whole, mhi - mlo)
            links[r].post_header(header(gather, mlo, mhi))  # r has registered: see above
            combined = message.combine is not None  # (only ever for a group of two)
        if combined:
            session.paths["all_reduce:segments-combined"] += 1
        size_of = arr.itemsize
        mine = out[mlo:mhi]
        if combined:  # on arrival, by the link's reader; sent on as it is combined
            ((r, message),) = incoming.items()
            links[r].post_data(_codec.byte_view(mine), after=message)
        for start, stop in [] if combined else plan((mhi - mlo) * size_of, itemsize=size_of):
            lo, hi = start // size_of, stop // size_of
            for r, message in incoming.items():
                scatter.wait(message, stop, r)
            chunk = mine[lo:hi]
            terms = [
                flat[mlo + lo : mlo + hi] if k == me else incoming[k].owners[0][lo:hi]
                for k in range(size)
            ]
            op.ufunc(terms[0], terms[1], out=chunk)
            for term in terms[2:]:
                op.ufunc(chunk, term, out=chunk)
            view = _codec.byte_view(chunk)
            for r in others:
                links[r].post_data(view)
        del incoming
        for r in others:
            lo, hi = parts[r]
            message = gather.receive(r)
            _check_part(call, r, message.header["meta"], whole, hi - lo)
            if message.direct:  # received in place
                session.paths["all_reduce:segments-in-place"] += 1
                gather.wait(message, message.total, r)
                continue
            theirs, dest = message.owners[0], out[lo:hi]
            for start, stop in plan((hi - lo) * size_of, itemsize=size_of):
                gather.wait(message, stop, r)
                dest[start // size_of : stop // size_of] = theirs[
                    start // size_of : stop // size_of
                ]
        call.sent(list(links.values()))
    finally:
        for r in others:
            session.unexpect(call.member(r), call.seq, gather.op)
            session.unexpect(call.member(r), call.seq, scatter.op)
    return result


def _check_part(call: Call, rank: int, meta: dict[str, Any], whole: dict[str, Any], n: int) -> None:
    if meta.get("whole") != whole or meta.get("shape") != [n]:
        theirs = meta.get("whole") or {}
        raise ValueError(
            f"all_reduce on {call.spec.describe()}: mismatched arrays: rank {call.rank} has "
            f"shape {tuple(whole['shape'])} {np.dtype(whole['dtype'])}, rank {rank} has shape "
            f"{tuple(theirs.get('shape', ()))} {theirs.get('dtype')}"
        )


def gather(call: Call, value: Any) -> list[Any] | None:
    if call.rank != call.root:
        call.sent([call.send(call.root, value)])
        return None
    others = [r for r in range(call.size) if r != call.root]
    messages = {r: call.receive(r) for r in others}
    result: list[Any] = [None] * call.size
    result[call.root] = value
    for r in others:
        result[r] = call.value(messages[r], r)
    return result


def scatter(call: Call, values: Any) -> Any:
    if call.rank != call.root:
        return call.value(call.receive(call.root), call.root)
    values = check_values(values, call.size, "scatter")
    links = [call.send(r, v) for r, v in enumerate(values) if r != call.root]
    call.sent(links)
    return values[call.root]


def all_to_all(call: Call, values: Any) -> list[Any]:
    values = check_values(values, call.size, "all_to_all")
    others = [r for r in range(call.size) if r != call.rank]
    links = [call.send(r, values[r]) for r in others]
    result: list[Any] = [None] * call.size
    result[call.rank] = values[call.rank]
    for r in others:
        result[r] = call.value(call.receive(r), r)
    call.sent(links)
    return result


def check_values(values: Any, size: int, what: str) -> list[Any]:
    """``values`` as a list of one value per member; ``ValueError`` otherwise."""
    if values is None or isinstance(values, (str, bytes, bytearray, memoryview, dict)):
        raise ValueError(
            f"{what} takes a sequence of {size} values (one per member), not "
            f"{type(values).__name__}"
        )
    try:
        items = list(values)
    except TypeError:
        raise ValueError(
            f"{what} takes a sequence of {size} values (one per member), not "
            f"{type(values).__name__}"
        ) from None
    if len(items) != size:
        raise ValueError(f"{what} needs {size} values (one per member), got {len(items)}")
    return items
