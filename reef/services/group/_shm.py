"""A ring of chunk slots in shared memory (``/dev/shm``), one per direction of a pair of
members on one host.

The sending member creates the file (mode 0600, a random name), tells the receiver its name
over their authenticated TLS link, and removes the name as soon as the receiver has mapped it:
only the two processes hold it from then on, and nothing is left behind if either dies. A chunk
is copied into a free slot, its slot number sent over the link (a few bytes), copied out of the
slot by the receiver straight into the message's destination, and the slot given back with a
few bytes the other way (a few slots at a time, and all of them at a message's end). Slots
are the size of a pipelining chunk: a chunk is still in the processor's cache when the
receiver copies it out, so the two copies cost little more than one; a reduction combines
straight from the slot (``_links.Sink``) instead of copying it out. Small messages do not use
the ring (``_wire.inline``): they go over the socket whole.
"""

from __future__ import annotations

import mmap
import os
import secrets

import numpy as np

from reef.services.group._chunks import CHUNK_BYTES, SHM_SLOTS


def _directory() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") else os.environ.get("TMPDIR", "/tmp")


class Ring:
    """``slots`` slots of ``slot_bytes`` each, mapped in this process."""

    def __init__(self, path: str, slots: int, slot_bytes: int, *, create: bool) -> None:
        self.path, self.slots, self.slot_bytes = path, slots, slot_bytes
        size = slots * slot_bytes
        if create:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        else:
            fd = os.open(path, os.O_RDWR)
        try:
            if create:
                os.ftruncate(fd, size)
            elif os.fstat(fd).st_size != size:
                raise ValueError(f"shared memory {path} is not {size} bytes")
            self._map = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            if create:
                os.unlink(path)
            raise
        os.close(fd)
        self.array = np.frombuffer(self._map, dtype=np.uint8)

    @classmethod
    def create(cls, slots: int = SHM_SLOTS, slot_bytes: int = CHUNK_BYTES) -> Ring:
        path = os.path.join(_directory(), f"reef-group-{secrets.token_hex(12)}")
        return cls(path, slots, slot_bytes, create=True)

    @classmethod
    def attach(cls, path: str, slots: int, slot_bytes: int) -> Ring:
        base = os.path.basename(path)
        if os.path.dirname(path) != _directory() or not base.startswith("reef-group-"):
            raise ValueError(f"{path!r} is not a group ring")
        return cls(path, slots, slot_bytes, create=False)

    def unlink(self) -> None:
        """Remove the name (the mappings stay)."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def put(self, slot: int, data: memoryview) -> None:
        """Copy ``data`` (at most a slot) into ``slot``."""
        start = slot * self.slot_bytes
        np.copyto(self.array[start : start + data.nbytes], np.frombuffer(data, dtype=np.uint8))

    def take(self, slot: int, into: memoryview) -> None:
        """Copy ``slot``'s first ``into.nbytes`` bytes into ``into``."""
        start = slot * self.slot_bytes
        np.copyto(np.frombuffer(into, dtype=np.uint8), self.array[start : start + into.nbytes])

    def close(self) -> None:
        self.array = np.empty(0, dtype=np.uint8)
        try:
            self._map.close()
        except BufferError:  # a view still exported (a copy in flight on a dying link)
            pass
