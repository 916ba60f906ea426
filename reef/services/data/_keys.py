"""``partition_of``: which of ``n`` reducers a key goes to, the same in every process.

Python's ``hash`` of ``str`` and ``bytes`` is randomized per process (PYTHONHASHSEED), so two
evaluators would send one key to different reducers. This hash is blake2b of a canonical,
type-tagged encoding of the key: equal keys (as a dict sees them: ``1 == 1.0 == True``) encode
alike, on every machine and Python version. Pure.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import struct


def partition_of(key: object, n: int) -> int:
    """The reducer rank in ``range(n)`` for ``key``: a ``str``, ``bytes``, ``int``, ``float``
    (numpy's scalars too), ``bool``, ``None`` or a tuple of these. Stable across processes and
    runs."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r} must be a whole number >= 1")
    digest = hashlib.blake2b(_encode(key), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n


def _encode(key: object) -> bytes:
    if isinstance(key, str):
        data = key.encode("utf-8", "surrogatepass")
        return b"s" + struct.pack(">Q", len(data)) + data
    if isinstance(key, (bytes, bytearray, memoryview)):
        data = bytes(key)
        return b"b" + struct.pack(">Q", len(data)) + data
    if not isinstance(key, (int, float)):
        if isinstance(key, numbers.Integral):
            key = int(key)  # numpy's integers equal Python's: one key, one reducer
        elif isinstance(key, numbers.Real):
            key = float(key)  # numpy's floats likewise
    if isinstance(key, float) and math.isfinite(key) and key == int(key):
        key = int(key)  # 2.0 == 2: one key, one reducer
    if isinstance(key, int):  # bool too: True == 1
        text = str(int(key)).encode("ascii")
        return b"i" + struct.pack(">Q", len(text)) + text
    if isinstance(key, float):
        return b"f" + (b"nan" if math.isnan(key) else struct.pack(">d", key))
    if key is None:
        return b"n"
    if isinstance(key, tuple):
        parts = [_encode(item) for item in key]
        return b"t" + struct.pack(">Q", len(parts)) + b"".join(parts)
    raise TypeError(
        f"partition_of() cannot hash a {type(key).__name__} key stably; use a str, bytes, int, "
        "float, bool, None or a tuple of these"
    )
