"""Spill files of a ``Cache``: a value written to local disk and read back whole.

Plain numpy arrays are written as ``.npy`` (no pickle, read back at disk speed); any other value
with pickle protocol 5. A file that cannot be written completely is removed and the failure
raised as ``DataError`` naming it; the caller's state is unchanged.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from dataclasses import dataclass
from typing import Any

import numpy as np

from reef.services.data._errors import DataError
from reef.services.data._sizes import is_plain_array


@dataclass(frozen=True, slots=True)
class SpillFile:
    """A spilled value: its file, and whether it is an ``.npy`` array or a pickle."""

    path: str
    array: bool


def write(directory: str, name: str, value: Any, pickled: bytes | None = None) -> SpillFile:
    """Write ``value`` to ``<directory>/<name>.npy`` or ``.pkl`` (``pickled``: its pickle, if
    already made)."""
    array = is_plain_array(value)
    path = os.path.join(directory, name + (".npy" if array else ".pkl"))
    try:
        with open(path, "wb") as f:
            if array:
                np.save(f, value, allow_pickle=False)
            else:
                f.write(pickled if pickled is not None else pickle.dumps(value, protocol=5))
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(path)
        if isinstance(e, OSError):
            raise DataError(f"cannot spill a cached value to {path}: {e}") from e
        raise
    return SpillFile(path, array)


def read(spill: SpillFile) -> Any:
    """The value written to ``spill``."""
    try:
        if spill.array:
            return np.load(spill.path, allow_pickle=False)
        with open(spill.path, "rb") as f:
            return pickle.load(f)
    except OSError as e:
        raise DataError(f"cannot read the spilled cache value {spill.path}: {e}") from e


def remove(spill: SpillFile) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(spill.path)
