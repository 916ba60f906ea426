"""Topologies: who sends to whom in a rooted collective (pure computation, no I/O).

Ranks are renumbered relative to the root (``virtual = (rank - root) % size``) so that every
topology is computed as if rank 0 were the root. ``Tree(fan_out=k)`` is the complete k-ary tree
over virtual ranks: the parent of ``v`` is ``(v - 1) // k`` and its children are ``k v + 1`` to
``k v + k``; data flows down it (broadcast) or up it (reduce), each member talking to at most
``k + 1`` others, and a value crosses ``ceil(log_k size)`` hops, pipelined in chunks. ``Flat()``
is the star: the root talks to everyone directly (``Tree`` with ``fan_out = size - 1``).

A topology travels to evaluators as its ``spec`` string (``"tree:2"``, ``"flat"``), a named
parameter value.
"""

from __future__ import annotations

from dataclasses import dataclass


class Topology:
    """Base of the topologies: parents and children of each rank for a given root."""

    @property
    def spec(self) -> str:
        raise NotImplementedError

    def width(self, size: int) -> int:
        """How many children a member has at most, in a group of ``size``."""
        raise NotImplementedError

    def parent(self, rank: int, size: int, root: int = 0) -> int | None:
        """The rank ``rank`` receives from (``None`` for the root)."""
        check_rank(rank, size, "rank")
        check_rank(root, size, "root")
        v = (rank - root) % size
        if v == 0:
            return None
        return ((v - 1) // self.width(size) + root) % size

    def children(self, rank: int, size: int, root: int = 0) -> list[int]:
        """The ranks ``rank`` sends to, in order."""
        check_rank(rank, size, "rank")
        check_rank(root, size, "root")
        k = self.width(size)
        v = (rank - root) % size
        first = k * v + 1
        return [(c + root) % size for c in range(first, min(first + k, size))]

    def depth(self, size: int) -> int:
        """How many hops the farthest member is from the root."""
        hops, v = 0, size - 1
        while v > 0:
            v = (v - 1) // self.width(size)
            hops += 1
        return hops


@dataclass(frozen=True, slots=True)
class Tree(Topology):
    """A complete tree with ``fan_out`` children per member (2: a binary tree)."""

    fan_out: int = 2

    def __post_init__(self) -> None:
        k = self.fan_out
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"Tree(fan_out={k!r}): the fan-out must be an int >= 1")

    def __repr__(self) -> str:
        return f"Tree(fan_out={self.fan_out})"

    @property
    def spec(self) -> str:
        return f"tree:{self.fan_out}"

    def width(self, size: int) -> int:
        return self.fan_out


@dataclass(frozen=True, slots=True)
class Flat(Topology):
    """The root talks to every member directly."""

    def __repr__(self) -> str:
        return "Flat()"

    @property
    def spec(self) -> str:
        return "flat"

    def width(self, size: int) -> int:
        return max(1, size - 1)


def topology_of(spec: str) -> Topology:
    """The topology a ``spec`` string names (``ValueError`` if none)."""
    if spec == "flat":
        return Flat()
    kind, _, k = spec.partition(":")
    if kind == "tree" and k.isdigit():
        return Tree(fan_out=int(k))
    raise ValueError(f"unknown topology {spec!r}: expected 'flat' or 'tree:<fan-out>'")


def check_rank(rank: object, size: int, what: str = "root") -> int:
    """``rank`` if it is a rank of a group of ``size``; else ``ValueError``."""
    if not isinstance(rank, int) or isinstance(rank, bool) or not 0 <= rank < size:
        raise ValueError(f"{what}={rank!r} is not a rank of this group (0 to {size - 1})")
    return rank
