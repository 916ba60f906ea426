"""Reduction operations (pure computation).

``SUM``, ``PROD``, ``MIN`` and ``MAX`` are element-wise on numpy arrays (a numpy ufunc, applied
in place chunk by chunk, so a large reduction is pipelined) and the usual operators on other
values (numbers, ...). Any ``fn(a, b) -> c`` is accepted too: it is applied to whole values,
which arrive whole. Every operation must be associative and commutative: the order in which a
tree combines members' values is not the rank order.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class ReduceOp:
    """A named element-wise operation: ``ufunc`` on arrays, ``scalar`` on anything else."""

    name: str
    ufunc: np.ufunc
    scalar: Callable[[Any, Any], Any]

    def __repr__(self) -> str:
        return self.name

    def __call__(self, a: Any, b: Any) -> Any:
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            check_same_shape(a, b)
            return self.ufunc(a, b)
        return self.scalar(a, b)


SUM = ReduceOp("SUM", np.add, operator.add)
PROD = ReduceOp("PROD", np.multiply, operator.mul)
MIN = ReduceOp("MIN", np.minimum, min)
MAX = ReduceOp("MAX", np.maximum, max)

Op = ReduceOp | Callable[[Any, Any], Any]


def check_op(op: object) -> Op:
    """``op`` if it can combine values; else ``TypeError``."""
    if not callable(op):
        raise TypeError(f"op={op!r} is not SUM, PROD, MIN, MAX or a function fn(a, b) -> c")
    return op


def elementwise(op: Op, value: object) -> bool:
    """Whether ``value`` can be reduced with ``op`` chunk by chunk (in place, pipelined)."""
    return (
        isinstance(op, ReduceOp)
        and isinstance(value, np.ndarray)
        and value.dtype.kind in "biufc"
        and value.size > 0
    )


def check_same_shape(a: Any, b: Any) -> None:
    """``ValueError`` unless ``a`` and ``b`` are arrays of one shape (and one dtype)."""
    sa, sb = np.shape(a), np.shape(b)
    if sa != sb:
        raise ValueError(f"cannot reduce arrays of different shapes: {sa} and {sb}")
    da, db = getattr(a, "dtype", None), getattr(b, "dtype", None)
    if da is not None and db is not None and da != db:
        raise ValueError(f"cannot reduce arrays of different dtypes: {da} and {db}")


def combine_into(op: ReduceOp, acc: np.ndarray, other: np.ndarray) -> None:
    """``acc = op(acc, other)`` in place (flat views of one chunk)."""
    op.ufunc(acc, other, out=acc)
