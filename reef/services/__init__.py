"""Services that live in contexts and outlive activities: checkpoints (``CheckpointService``),
and what makes activities survive the loss of their evaluator and move between evaluators
(``PeriodicCheckpoint`` on the activity side; ``Recovery`` and ``checkpoint_context`` on the
driver side); the data services: group communication among activities (``reef.services.group``:
``GroupCommunication`` on the driver, ``GroupService`` and ``Communicator`` on evaluators), and
``Cache``, ``Combiner``, ``DataSet`` and ``PartitionData`` (``reef.services.data``). The data
services' names are loaded on first use, so that importing checkpoints does not load numpy.

May import: ``reef.errors``, ``reef.tang``, ``reef.wake`` (and ``fsspec``, for checkpoint stores
named by URL, when one is used). The driver-side helpers build ``reef.ContextConfiguration`` and
``reef.ActivityConfiguration`` values and import them from ``reef.driver._submission`` when
called, in the driver process only.
"""

import importlib
from typing import TYPE_CHECKING, Any

from reef.services._checkpoint import (
    Checkpoint,
    CheckpointInfo,
    CheckpointPath,
    CheckpointReader,
    CheckpointRetention,
    CheckpointService,
    CheckpointStatistics,
    CheckpointWriter,
)
from reef.services._errors import (
    CheckpointCorrupted,
    CheckpointError,
    CheckpointNotFound,
    RecoveryExhausted,
)
from reef.services._periodic import CheckpointMemento, PeriodicCheckpoint, Restored
from reef.services._recovery import Recovery, checkpoint_context

_GROUP = (
    "MAX",
    "MIN",
    "PROD",
    "SUM",
    "Communicator",
    "Flat",
    "Group",
    "GroupAborted",
    "GroupCommunication",
    "GroupError",
    "GroupMemberFailed",
    "GroupMemberLost",
    "GroupService",
    "GroupTimeout",
    "GroupTransport",
    "ReduceOp",
    "Topology",
    "Tree",
)
_DATA = (
    "Cache",
    "CacheMemoryBudget",
    "CacheStats",
    "Combiner",
    "DataError",
    "DataSet",
    "Partition",
    "PartitionData",
    "partition_of",
)
_WHERE = {
    **dict.fromkeys(_GROUP, "reef.services.group"),
    **dict.fromkeys(_DATA, "reef.services.data"),
}

if TYPE_CHECKING:
    from reef.services.data import (
        Cache,
        CacheMemoryBudget,
        CacheStats,
        Combiner,
        DataError,
        DataSet,
        Partition,
        PartitionData,
        partition_of,
    )
    from reef.services.group import (
        MAX,
        MIN,
        PROD,
        SUM,
        Communicator,
        Flat,
        Group,
        GroupAborted,
        GroupCommunication,
        GroupError,
        GroupMemberFailed,
        GroupMemberLost,
        GroupService,
        GroupTimeout,
        GroupTransport,
        ReduceOp,
        Topology,
        Tree,
    )


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'reef.services' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__all__ = [
    "MAX",
    "MIN",
    "PROD",
    "SUM",
    "Cache",
    "CacheMemoryBudget",
    "CacheStats",
    "Checkpoint",
    "CheckpointCorrupted",
    "CheckpointError",
    "CheckpointInfo",
    "CheckpointMemento",
    "CheckpointNotFound",
    "CheckpointPath",
    "CheckpointReader",
    "CheckpointRetention",
    "CheckpointService",
    "CheckpointStatistics",
    "CheckpointWriter",
    "Combiner",
    "Communicator",
    "DataError",
    "DataSet",
    "Flat",
    "Group",
    "GroupAborted",
    "GroupCommunication",
    "GroupError",
    "GroupMemberFailed",
    "GroupMemberLost",
    "GroupService",
    "GroupTimeout",
    "GroupTransport",
    "Partition",
    "PartitionData",
    "PeriodicCheckpoint",
    "Recovery",
    "RecoveryExhausted",
    "ReduceOp",
    "Restored",
    "Topology",
    "Tree",
    "checkpoint_context",
    "partition_of",
]
