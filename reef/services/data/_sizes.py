"""How many bytes a cached value takes: what decides when a ``Cache`` spills.

Arrays count their ``nbytes``, bytes-like objects their length; anything else is measured by
its pickled size (pickle protocol 5), and the pickled bytes are kept, so a value that goes
straight to disk is not pickled twice. Pure: no I/O.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any

import numpy as np

from reef.services.data._errors import DataError


@dataclass(frozen=True, slots=True)
class Measured:
    """A value's size in bytes, and its pickle when measuring it took one."""

    size: int
    pickled: bytes | None = None


def is_plain_array(value: Any) -> bool:
    """Whether ``value`` is an ndarray that ``.npy`` holds without pickle (no object dtype,
    no subclass such as a masked array)."""
    return type(value) is np.ndarray and not value.dtype.hasobject


def measure(value: Any, key: object = None) -> Measured:
    """The size of ``value``; ``DataError`` for a value that cannot be pickled (a cache that
    may spill it must be able to write it)."""
    if is_plain_array(value):
        return Measured(int(value.nbytes))
    if isinstance(value, (bytes, bytearray)):
        return Measured(len(value))
    try:
        data = pickle.dumps(value, protocol=5)
    except Exception as e:
        raise DataError(
            f"cannot cache the value of key {key!r} ({type(value).__name__}): it cannot be "
            f"pickled ({e}), and a value that does not fit in memory is pickled to disk"
        ) from e
    return Measured(len(data), data)
