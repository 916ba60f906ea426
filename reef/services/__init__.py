"""Services that live in contexts and outlive activities: checkpoints (``CheckpointService``),
and what makes activities survive the loss of their evaluator and move between evaluators
(``PeriodicCheckpoint`` on the activity side; ``Recovery`` and ``checkpoint_context`` on the
driver side). Caches, group communication and naming come later.

May import: ``reef.errors``, ``reef.tang``, ``reef.wake`` (and ``fsspec``, for checkpoint stores
named by URL, when one is used). The driver-side helpers build ``reef.ContextConfiguration`` and
``reef.ActivityConfiguration`` values and import them from ``reef.driver._submission`` when
called, in the driver process only.
"""

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

__all__ = [
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
    "PeriodicCheckpoint",
    "Recovery",
    "RecoveryExhausted",
    "Restored",
    "checkpoint_context",
]
