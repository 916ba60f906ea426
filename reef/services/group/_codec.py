"""How values become bytes and back, without copying large ones (pure computation).

A value is encoded as a small JSON-able ``meta`` dict and a list of buffers (memoryviews of
bytes, each 1-dimensional and contiguous):

- a numpy array (of a plain dtype): one buffer, the array's own memory (a C-contiguous array
  is not copied; another one is made contiguous once); ``meta`` has its dtype and shape;
- ``bytes``, ``bytearray``, ``memoryview`` and other buffer-protocol objects: one buffer, the
  object's own memory;
- anything else: pickled with protocol 5, large buffers inside it (numpy arrays in a dict, ...)
  kept out of band as further buffers, so they are not copied into the pickle either.

The receiver allocates the destination of each buffer once (``allocate``), receives straight
into it, and ``decode`` builds the value on that memory: an array received is a view of the
buffer it was received into, not a copy. ``bytes`` are the exception: Python cannot fill a
``bytes`` object in place, so a received ``bytes`` value costs one copy at the end.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import numpy as np

Meta = dict[str, Any]


def _is_plain_array(value: object) -> bool:
    return isinstance(value, np.ndarray) and not value.dtype.hasobject and type(value) is np.ndarray


def byte_view(obj: Any) -> memoryview:
    """A flat, contiguous ``memoryview`` of unsigned bytes over ``obj``'s own memory."""
    if isinstance(obj, np.ndarray):
        arr = obj if obj.flags.c_contiguous else np.ascontiguousarray(obj)
        flat: Any = arr.reshape(-1).view(np.uint8)
        return memoryview(flat)
    view = memoryview(obj)
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    return view.cast("B") if (view.format != "B" or view.ndim != 1) else view


def encode(value: Any) -> tuple[Meta, list[memoryview]]:
    """``(meta, buffers)`` describing ``value`` (see the module's docstring)."""
    if _is_plain_array(value):
        arr: np.ndarray = value
        if not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr)
        return {"kind": "array", "dtype": arr.dtype.str, "shape": list(arr.shape)}, [byte_view(arr)]
    if isinstance(value, bytes):
        return {"kind": "bytes"}, [memoryview(value)]
    if isinstance(value, (bytearray, memoryview)):
        return {"kind": type(value).__name__}, [byte_view(value)]
    buffers: list[pickle.PickleBuffer] = []
    head = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    return {"kind": "pickle"}, [memoryview(head), *(byte_view(b.raw()) for b in buffers)]


def sizes(buffers: list[memoryview]) -> list[int]:
    """The byte length of each buffer."""
    return [b.nbytes for b in buffers]


def allocate(
    meta: Meta,
    nbytes: list[int],
    new_array: Callable[[tuple[int, ...], Any], np.ndarray] = np.empty,
) -> tuple[list[Any], list[memoryview]]:
    """Storage for a message's buffers: ``(owners, writable byte views)``. An array's storage
    is the array itself (from ``new_array(shape, dtype)``), so nothing is copied afterwards."""
    if meta.get("kind") == "array":
        (n,) = nbytes
        arr = new_array(tuple(meta["shape"]), np.dtype(meta["dtype"]))
        if arr.nbytes != n:
            raise ValueError(f"array message of {n} bytes for shape {meta['shape']}")
        return [arr], [byte_view(arr)]
    owners: list[Any] = [bytearray(n) for n in nbytes]
    return owners, [memoryview(o) for o in owners]


def decode(meta: Meta, owners: list[Any]) -> Any:
    """The value whose buffers were received into ``owners`` (from ``allocate``)."""
    kind = meta.get("kind")
    if kind == "array":
        return owners[0]
    if kind == "bytes":
        return bytes(owners[0])
    if kind == "bytearray":
        return owners[0]
    if kind == "memoryview":
        return memoryview(owners[0])
    if kind == "pickle":
        head, *rest = owners
        return pickle.loads(head, buffers=rest)
    raise ValueError(f"unknown value kind {kind!r} in a group message")
