"""Data services: an evaluator-local ``Cache`` with a memory budget that spills to disk, a
``Combiner`` that groups and combines (key, value) pairs and ships or spills them, and data
loading: ``DataSet.split`` cuts files into partitions on the driver, and ``PartitionData`` reads
and parses one partition on an evaluator, once, into the cache.

Modules: ``_cache`` (with the pure ``_ledger``, ``_sizes`` and the file edge ``_spill``),
``_combine`` (with ``_runs``: sorted runs and their merge; ``_keys``: ``partition_of``),
``_partition`` (the driver's split, with ``_files``, the pure ``_split`` and the format modules
``_npy``, ``_text``), ``_read`` and ``_loading`` (the evaluator's side).

May import: ``reef.errors``, ``reef.tang``, ``reef.common``, numpy and fsspec;
``reef.driver._requestor`` only when ``Partition.request`` is called, in the driver.
"""

from reef.services.data._cache import Cache, CacheMemoryBudget, CacheStats
from reef.services.data._combine import Combiner
from reef.services.data._errors import DataError
from reef.services.data._files import FileInfo
from reef.services.data._keys import partition_of
from reef.services.data._loading import PartitionData
from reef.services.data._partition import DataSet, Partition, PartitionDescription, Segment

__all__ = [
    "Cache",
    "CacheMemoryBudget",
    "CacheStats",
    "Combiner",
    "DataError",
    "DataSet",
    "FileInfo",
    "Partition",
    "PartitionData",
    "PartitionDescription",
    "Segment",
    "partition_of",
]
