"""The errors of the checkpoint service and of recovery.

::

    ReefError
    └── CheckpointError             a checkpoint store that cannot do what was asked
        ├── CheckpointNotFound      no committed checkpoint has that id (also a LookupError)
        └── CheckpointCorrupted     a checkpoint whose bytes fail their length or checksum
    ReefError
    └── RecoveryExhausted           an activity lost more often than ``Recovery`` allows
"""

from __future__ import annotations

from reef.errors import ReefError


class CheckpointError(ReefError):
    """A checkpoint store that cannot do what was asked: an unusable location, a bad id, a
    write that failed. The message names the store and the checkpoint."""


class CheckpointNotFound(CheckpointError, LookupError):
    """No committed checkpoint has the id asked for (it was never committed, was deleted, or
    was removed by the retention policy)."""


class CheckpointCorrupted(CheckpointError):
    """A committed checkpoint whose bytes are not what was written: truncated, its trailer
    damaged, or its contents failing the crc32 recorded at commit. Its data is never
    returned. ``checkpoint_id`` names it and ``reason`` says what is wrong."""

    def __init__(self, checkpoint_id: str, location: str, reason: str) -> None:
        self.checkpoint_id = checkpoint_id
        self.location = location
        self.reason = reason
        super().__init__(
            f"checkpoint {checkpoint_id!r} in {location} is corrupted: {reason}; its data is "
            "refused (resume from an earlier checkpoint, or delete this one)"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.checkpoint_id, self.location, self.reason))


class RecoveryExhausted(ReefError):
    """A recoverable activity was lost (its evaluator died, or it raised) more times than
    ``Recovery(max_failures=...)`` allows; the last loss's error is in the message."""
