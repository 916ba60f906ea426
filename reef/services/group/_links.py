"""Data links: one-way, authenticated connections from one member to another.

Each ordered pair of members that exchanges data has its own link (``A -> B`` and ``B -> A``
are two TLS connections), so every TLS connection is written by exactly one thread at one end
and read by exactly one thread at the other: no TLS object is ever used by two threads at once.

- ``OutLink`` (the sending end) has a sender thread that works through what the collective
  posts (header frames and byte ranges, in order); the collective goes on meanwhile (posting
  the next chunk, receiving, combining) and finally waits until everything it posted has left
  its buffers (``wait_sent``), after which the caller may change them.
- ``InLink`` (the receiving end) has a reader thread that takes each message's header,
  allocates its destination (``_codec.allocate``), fills it as bytes arrive and counts them
  (``InMessage.received``), so the collective can forward or combine chunk ``i`` while chunk
  ``i + 1`` is still arriving.

On TCP the bytes follow their header raw; with shared memory they go through a ``Ring`` and
only slot notices cross the socket (``_wire``). Small messages (``_wire.inline``) are raw on
both transports and travel as one frame: the collective's own thread writes it when nothing
else is being sent on the link (``OutLink.post_message``: no hand-off to the sender thread;
a flag under the session's lock keeps the socket to one thread at a time), and the reader
hands the message over only once it has all of it (one wake-up). An expected message
(``Session.expect``, a ``Sink``) is received straight into the collective's result, and may
be combined with the member's own data on the way in, straight from the ring slot; a message
whose header says ``hold`` and that nobody expects yet is delivered without a destination,
and its reader waits until the collective takes it (and gives it its ``Sink``, if any) before
reading its data. A waiter for a message's bytes is woken once they are in (``wait_for``),
not at every chunk; freed ring slots are acked a few at a time. The link threads drop their
references to a message's memory once it is through, so the ``BufferPool`` can reuse it. Every
wait is on the session's lock and ends when the session fails (a link breaks, a member is
lost, the collective is aborted).
"""

from __future__ import annotations

import collections
import logging
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from reef.services.group import _codec, _wire
from reef.services.group._chunks import CHUNK_BYTES, plan
from reef.services.group._errors import GroupError
from reef.services.group._pool import BufferPool
from reef.services.group._shm import Ring

if TYPE_CHECKING:
    import ssl

    from reef.services.group._session import Session

_log = logging.getLogger("reef.services.group")

SEND_PIECE = 16 << 20  # bytes handed to one sendall (the sender checks for shutdown between)
ACK_BATCH = 4  # freed ring slots acked at once (at most half the ring; at a message's end, all)
NO_WAITER = 1 << 62  # ``InMessage.wake_at`` when nobody waits for its bytes


@dataclass(frozen=True, slots=True)
class Sink:
    """Where an expected array message goes (``Session.expect``): straight into ``into``;
    with ``combine = (ufunc, own, own_first)``, each arriving piece ``theirs`` is combined
    on the way in: ``into = ufunc(own, theirs)`` (``ufunc(theirs, own)`` unless
    ``own_first``), element by element, from the shared-memory slot or a small scratch
    buffer, so the message costs neither a buffer of its own nor a pass over one."""

    into: np.ndarray
    combine: tuple[np.ufunc, np.ndarray, bool] | None = None


class InMessage:
    """A message being received: its header, its destination buffers, how much has arrived."""

    __slots__ = (
        "combine",
        "direct",
        "header",
        "held",
        "offsets",
        "owners",
        "received",
        "total",
        "views",
        "wake_at",
    )

    def __init__(
        self,
        header: dict[str, Any],
        pool: BufferPool | None = None,
        sink: Sink | None = None,
        *,
        held: bool = False,
    ) -> None:
        self.header = header
        nbytes = [int(n) for n in header["sizes"]]
        self.total = sum(nbytes)
        self.received = 0
        self.wake_at = NO_WAITER  # the least byte count a waiter waits for (``wait_for``)
        self.offsets: list[int] = []
        at = 0
        for n in nbytes:
            self.offsets.append(at)
            at += n
        self.direct = False
        self.combine: tuple[np.ufunc, np.ndarray, bool] | None = None
        self.owners: list[Any] = []
        self.views: list[memoryview] = []
        self.held = held
        if not held:
            self.bind(pool, sink)

    def bind(self, pool: BufferPool | None, sink: Sink | None) -> None:
        """Give the message its destination: ``sink`` if it fits, else buffers of its own.
        A ``held`` message gets it only when the collective takes it from the inbox
        (``Session.next_message``), and its reader waits for that."""
        nbytes = [int(n) for n in self.header["sizes"]]
        self.direct = sink is not None and _fits(self.header["meta"], nbytes, sink.into)
        self.combine = sink.combine if sink is not None and self.direct else None
        if sink is not None and self.direct:
            self.owners, self.views = [sink.into], [_codec.byte_view(sink.into)]
        else:
            new_array = pool.take if pool is not None else np.empty
            self.owners, self.views = _codec.allocate(self.header["meta"], nbytes, new_array)
        self.held = False

    def value(self) -> Any:
        return _codec.decode(self.header["meta"], self.owners)

    def wait_for(self, upto: int) -> None:
        """Register a waiter for ``upto`` bytes (under the session's lock, then wait on its
        condition): the reader wakes the waiters only once that many have arrived, not at
        every chunk."""
        self.wake_at = min(self.wake_at, upto)


def _combine(message: InMessage, start: int, stop: int, raw: np.ndarray) -> None:
    """Bytes ``start:stop`` of ``message`` (``raw``, uint8) combined into its ``Sink``."""
    assert message.combine is not None
    ufunc, own, own_first = message.combine
    into = message.owners[0]
    lo, hi = start // into.itemsize, stop // into.itemsize
    theirs = raw.view(into.dtype)
    if own_first:
        ufunc(own[lo:hi], theirs, out=into[lo:hi])
    else:
        ufunc(theirs, own[lo:hi], out=into[lo:hi])


def _fits(meta: dict[str, Any], nbytes: list[int], into: np.ndarray) -> bool:
    """Whether an array message of ``meta`` can be received into ``into`` as it is (else it
    gets its own buffer, and the collective reports the mismatch)."""
    return (
        meta.get("kind") == "array"
        and nbytes == [into.nbytes]
        and meta.get("dtype") == into.dtype.str
        and into.flags.c_contiguous
    )


def close_socket(sock: socket.socket) -> None:
    """Shut ``sock`` down (a thread blocked on it returns) and close it."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class OutLink:
    """The sending end of a link to ``peer``; see the module's docstring."""

    def __init__(self, session: Session, peer: str, sock: ssl.SSLSocket, ring: Ring | None) -> None:
        self.session, self.peer, self.sock, self.ring = session, peer, sock, ring
        self._queue: collections.deque[tuple[str, Any]] = collections.deque()
        self.posted = 0
        self.done = 0
        self.direct = 0  # small messages the collective's own thread wrote (no hand-off)
        self._closing = False
        self._writing = False  # a thread (the sender or a collective's) is using the socket
        self._data_kind = "raw"  # how the data of the message being posted goes: raw or ring
        self._wake = threading.Condition(session.lock)  # the sender thread waits on it
        self._acks = _wire.Reader(sock, 4096)
        self._free = collections.deque(range(ring.slots)) if ring is not None else None
        self.transport = "tcp" if ring is None else "shm"
        self._thread = threading.Thread(target=self._run, name=f"group-send-{peer}", daemon=True)
        self._thread.start()

    # -- the collective's side (under no lock) ------------------------------------------------

    def post_message(self, header: dict[str, Any], buffers: list[memoryview]) -> None:
        """A whole message. A small one (``_wire.inline``) leaves as one frame, written by the
        calling thread at once when nothing else is being sent on this link (no hand-off to
        the sender thread: the least latency); a large one, or one behind others, is queued."""
        if not _wire.inline(sum(b.nbytes for b in buffers)):
            self.post_header(header)
            for b in buffers:
                self.post_data(b)
            return
        data = _wire.frame(header, buffers)
        lock = self.session.lock
        with lock:
            self.session.check()
            if self._queue or self._writing:
                self._queue.append(("frame", data))
                self.posted += 1
                self._wake.notify()
                return
            self._writing = True
        try:
            self.sock.sendall(data)
        except Exception as e:
            self._broken(e)
            with lock:
                self._writing = False
                self.session.check()
            raise GroupError(f"{self.session}: sending to {self.peer} failed: {e}") from e
        with lock:
            self._writing = False
            self.direct += 1
            if self._queue:
                self._wake.notify()

    def post_header(self, header: dict[str, Any]) -> None:
        """A message's header; its data follows with ``post_data``."""
        small = _wire.inline(sum(int(n) for n in header["sizes"]))
        self._data_kind = "raw" if small or self.ring is None else "ring"
        self._post(("header", header))

    def post_data(self, view: memoryview, after: InMessage | None = None) -> None:
        """Bytes of the message being posted. With ``after`` (a message being received), the
        sender thread sends each chunk ``[start, stop)`` of ``view`` only once ``stop`` bytes
        of ``after`` have arrived: data computed from ``after`` as it arrives (a combined
        segment of an all-reduce) follows it with no hand-off per chunk."""
        if view.nbytes:
            self._post((self._data_kind, view if after is None else (view, after)))

    def _post(self, item: tuple[str, Any]) -> None:
        with self.session.lock:
            self.session.check()
            self._queue.append(item)
            self.posted += 1
            self._wake.notify()

    def idle(self) -> bool:
        """Whether everything posted has been sent (call under the session's condition)."""
        return self.done == self.posted

    # -- the sender thread ----------------------------------------------------------------------

    def _run(self) -> None:
        session, wake = self.session, self._wake
        try:
            while True:
                with session.lock:
                    while (
                        (not self._queue or self._writing)
                        and not self._closing
                        and session.error is None
                    ):
                        wake.wait()
                    if self._closing or session.error is not None:
                        return
                    kind, item = self._queue[0]
                    self._writing = True
                if kind == "header":
                    _wire.send_json(self.sock, item)
                elif kind == "frame":
                    self.sock.sendall(item)
                elif isinstance(item, tuple):  # gated: see ``post_data``
                    if not self._send_after(kind, *item):
                        return
                elif kind == "raw":
                    for start in range(0, item.nbytes, SEND_PIECE):
                        self.sock.sendall(item[start : start + SEND_PIECE])
                else:
                    self._send_shm(item)
                item = None  # (the pool reuses an array only once nothing else holds it)
                with session.lock:
                    self._queue.popleft()
                    self.done += 1
                    self._writing = False
                    session.cv.notify_all()
        except Exception as e:
            self._broken(e)

    def _broken(self, error: Exception) -> None:
        with self.session.lock:
            closing = self._closing
        if not closing:
            self.session.lost(self.peer, f"sending to it failed: {error}")

    def _send_after(self, kind: str, view: memoryview, after: InMessage) -> bool:
        """``view`` chunk by chunk, each once ``after`` has received as many bytes; False
        if the session fails or the link closes first."""
        session = self.session
        step = self.ring.slot_bytes if self.ring is not None else CHUNK_BYTES
        for start in range(0, view.nbytes, step):
            stop = min(start + step, view.nbytes)
            if after.received < stop:
                with session.cv:  # the reader's progress notifies it
                    while after.received < stop:
                        if self._closing or session.error is not None:
                            return False
                        after.wait_for(stop)
                        session.cv.wait(5.0)
            if kind == "raw":
                self.sock.sendall(view[start:stop])
            else:
                self._send_shm(view[start:stop])
        return True

    def _send_shm(self, view: memoryview) -> None:
        ring, free = self.ring, self._free
        assert ring is not None
        assert free is not None
        for start in range(0, view.nbytes, ring.slot_bytes):
            piece = view[start : start + ring.slot_bytes]
            while not free:
                (slot,) = _wire.ACK.unpack(self._acks.read(_wire.ACK.size))
                free.append(slot)
            slot = free.popleft()
            ring.put(slot, piece)
            self.sock.sendall(_wire.NOTICE.pack(slot, piece.nbytes))

    def wake(self) -> None:
        """Let the sender thread see a failure or a close (call under the session's lock)."""
        self._wake.notify_all()

    def close(self) -> None:
        with self.session.lock:
            self._closing = True
            self._wake.notify_all()
            self.session.cv.notify_all()
        close_socket(self.sock)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)
        if self.ring is not None:
            self.ring.unlink()
            self.ring.close()


class InLink:
    """The receiving end of a link from ``peer``; see the module's docstring."""

    def __init__(self, session: Session, peer: str, sock: ssl.SSLSocket, ring: Ring | None) -> None:
        self.session, self.peer, self.sock, self.ring = session, peer, sock, ring
        self.transport = "tcp" if ring is None else "shm"
        self._closing = False
        self._acking = True
        self.small = 0  # messages received whole, raw, before they were handed over
        self.held = 0  # messages whose data waited for the collective (``hold``)
        self._scratch: np.ndarray | None = None
        self._reader = _wire.Reader(sock)
        self._thread = threading.Thread(target=self._run, name=f"group-recv-{peer}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        session, reader = self.session, self._reader
        try:
            while True:
                header = reader.read_json(at_start=True)
                sink = session.claim(self.peer, header)
                held = (
                    sink is None
                    and bool(header.get("hold"))
                    and not _wire.inline(sum(int(n) for n in header["sizes"]))
                )
                message = InMessage(header, session.pool, sink, held=held)
                del sink
                if _wire.inline(message.total):  # whole, then handed over: one wake-up
                    for view in message.views:
                        reader.read_into(view)
                    message.received = message.total
                    self.small += 1
                    session.deliver(self.peer, message)
                    continue
                session.deliver(self.peer, message)
                if held and not self._wait_bound(message):
                    return
                self.held += held
                for view in message.views:
                    if self.ring is None:
                        self._receive_tcp(message, view)
                    else:
                        self._receive_shm(message, view)
                # no reference to the message's memory outlives it here (the pool reuses
                # an array only once nothing else holds it)
                message = view = None  # type: ignore[assignment]
        except Exception as e:
            with session.cv:
                closing = self._closing
            if not closing:
                if isinstance(e, _wire.LinkClosed) and e.clean:
                    session.peer_closed(self.peer, "its link closed")
                else:
                    session.lost(self.peer, f"receiving from it failed: {e}")

    def _wait_bound(self, message: InMessage) -> bool:
        """Until the collective has taken the ``held`` message (and given it its destination);
        False if the link or the session closes or fails first. The sender is meanwhile held
        back by the ring (or the socket's buffers): the message's data is not read before it
        has somewhere to go."""
        session = self.session
        with session.cv:
            while message.held:
                if self._closing or session.closed or session.error is not None:
                    return False
                session.cv.wait(5.0)
        return True

    def _progress(self, message: InMessage, n: int) -> None:
        with self.session.cv:
            message.received += n
            if message.received >= message.wake_at:
                message.wake_at = NO_WAITER
                self.session.cv.notify_all()

    def _receive_tcp(self, message: InMessage, view: memoryview) -> None:
        if message.combine is not None:
            self._combine_tcp(message)
            return
        reader, total, pending = self._reader, view.nbytes, 0
        got = 0
        while got < total:
            k = reader.read_some(view[got:])
            got += k
            pending += k
            if pending >= CHUNK_BYTES or got == total:
                self._progress(message, pending)
                pending = 0

    def _combine_tcp(self, message: InMessage) -> None:
        """An expected message combined on the way in (``Sink``), chunk by chunk through a
        scratch buffer that stays in the processor's cache."""
        if self._scratch is None:
            self._scratch = np.empty(CHUNK_BYTES, dtype=np.uint8)
        scratch = self._scratch
        itemsize = message.owners[0].itemsize
        for start, stop in plan(message.total, itemsize=itemsize):
            piece = scratch[: stop - start]
            self._reader.read_into(_codec.byte_view(piece))
            _combine(message, start, stop, piece)
            self._progress(message, stop - start)

    def _receive_shm(self, message: InMessage, view: memoryview) -> None:
        ring = self.ring
        assert ring is not None
        got, total = 0, view.nbytes
        itemsize = message.owners[0].itemsize if message.combine is not None else 1
        freed: list[int] = []
        batch = max(1, min(ACK_BATCH, ring.slots // 2))
        while got < total:
            slot, n = _wire.NOTICE.unpack(self._reader.read(_wire.NOTICE.size))
            if slot >= ring.slots or n > ring.slot_bytes or got + n > total or n % itemsize:
                raise ConnectionError(f"a bad shared-memory notice: slot {slot}, {n} bytes")
            if message.combine is not None:  # straight from the slot
                start = slot * ring.slot_bytes
                _combine(message, got, got + n, ring.array[start : start + n])
            else:
                ring.take(slot, view[got : got + n])
            got += n
            self._progress(message, n)  # before the ack: a sender that is done may be gone
            freed.append(slot)
            if len(freed) >= batch or got == total:
                self._ack(freed)
                freed.clear()

    def _ack(self, slots: list[int]) -> None:
        """Give ``slots`` back (a few at once: one write, one wake-up of the sender, which
        waits for a slot only when every one is in flight). A sender that has posted its last
        notice needs no more acks and may have closed the link already (its data is in the
        ring, mapped here): an ack that cannot be written is dropped, and the notices already
        sent are still read (they are queued in this socket before the close). A sender that
        still waits for a slot notices the broken link on its own."""
        if not self._acking:
            return
        try:
            self.sock.sendall(b"".join(_wire.ACK.pack(slot) for slot in slots))
        except OSError:
            self._acking = False

    def close(self) -> None:
        with self.session.cv:
            self._closing = True
            self.session.cv.notify_all()
        close_socket(self.sock)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)
        if self.ring is not None:
            self.ring.close()
