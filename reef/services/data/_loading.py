"""``PartitionData``: the evaluator's side of a partition, parsed once per cache.

The parsed partition is kept in the context's ``Cache`` under a key derived from the partition's
description, so every later activity on the evaluator (and any other ``PartitionData`` of the
same partition on the same cache) gets it from memory, or from the cache's local spill files,
without reading or parsing the source again.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Annotated, Any

from reef.services.data._cache import Cache
from reef.services.data._partition import Partition, PartitionDescription
from reef.services.data._read import read_partition


class PartitionData:
    """The partition bound to ``PartitionDescription`` (``Partition.configuration()``), loaded
    through the ``Cache``. A context service: list it after ``Cache`` in a context's services
    (``services=[Cache, PartitionData]``) and ask for it in activities."""

    def __init__(self, cache: Cache, description: Annotated[str, PartitionDescription]) -> None:
        self._cache = cache
        self._partition = Partition.from_description(description)
        digest = hashlib.sha256(description.encode()).hexdigest()[:32]
        self._key = f"reef.partition:{digest}"
        self._lock = threading.Lock()
        self._parses = 0

    def __repr__(self) -> str:
        p = self._partition
        return f"PartitionData({p.format} partition {p.index} of {p.count})"

    @property
    def partition(self) -> Partition:
        """Which partition this is: index, count, format, segments, hosts."""
        return self._partition

    @property
    def key(self) -> str:
        """Its key in the cache."""
        return self._key

    @property
    def parses(self) -> int:
        """How many times this service read and parsed the partition (1 after any number of
        ``load()`` calls, unless the cache lost it)."""
        return self._parses

    def load(self) -> Any:
        """The parsed partition: a numpy array (``npy``: its rows; ``csv``: float64, rows by
        columns) or a list of str (``lines``). Read and parsed on the first call, from the
        cache afterwards."""
        return self._cache.get_or_load(self._key, self._parse)

    def _parse(self) -> Any:
        with self._lock:
            self._parses += 1
        return read_partition(self._partition)
