"""``Session``: one generation of one group on one member, with its links and its state.

A session is made when a ``Communicator`` of that generation is first used on this evaluator,
registers with the group server, and then lives in the ``GroupService`` until the service
closes (or a newer generation of the group replaces it): later activities reuse its links.

All of its state is guarded by one lock, ``lock``: the links' threads count bytes and deliver
messages under it, and the collective waits on its condition ``cv`` (each link's sender thread
waits on a condition of its own over the same lock, so deliveries do not wake it). ``fail``
records the first error and wakes every waiter, so no wait outlives a failure: each wait checks
``error`` and its deadline. A failed session stays failed (its streams are in an unknown state).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reef.services.group._errors import GroupError, GroupMemberLost, GroupTimeout
from reef.services.group._pool import BufferPool
from reef.services.group._spec import GroupSpec

if TYPE_CHECKING:
    from reef.services.group._links import InLink, InMessage, OutLink, Sink

_log = logging.getLogger("reef.services.group")

Connect = Callable[["Session", str, float], "OutLink"]


class Session:
    """See the module's docstring."""

    def __init__(
        self,
        spec: GroupSpec,
        me: str,
        connect: Connect,
        abort: Callable[[Session, str, str | None], None],
        pool: BufferPool | None = None,
    ) -> None:
        self.spec = spec
        self.me = me
        self.pool = pool
        self.rank = spec.rank_of(me)
        self.lock = threading.RLock()
        self.cv = threading.Condition(self.lock)  # collectives wait on it; senders on their own
        self.error: GroupError | None = None
        self.closed = False
        self.registered = False
        self.peers: dict[str, tuple[str, str]] | None = None  # id -> (address, host_key)
        self.inbox: dict[str, collections.deque[InMessage]] = {}
        self.departed: dict[str, str] = {}  # peers whose link closed between messages: why
        # where a message the collective expects goes: (peer, seq, op) -> its destination
        self.expected: dict[tuple[str, int, str], Sink] = {}
        self.inlinks: dict[str, InLink] = {}
        self.outlinks: dict[str, OutLink] = {}
        self.seq = 0
        self.paths: collections.Counter[str] = collections.Counter()  # algorithms run, by name
        self.busy = threading.Lock()  # one collective at a time
        self._connect = connect
        self._abort = abort
        self._connecting: set[str] = set()

    def __repr__(self) -> str:
        return f"Session({self.spec.describe()}, rank {self.rank})"

    # -- failure --------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise the session's error, if it has failed (call under ``cv``)."""
        if self.error is not None:
            raise self.error
        if self.closed:
            raise GroupError(f"{self.spec.describe()}: the group service was closed")

    def fail(self, error: GroupError) -> bool:
        """Record ``error`` (the first one wins) and wake every waiter; whether it was first."""
        with self.cv:
            if self.error is not None:
                return False
            self.error = error
            self.cv.notify_all()
            for link in self.outlinks.values():
                link.wake()
        _log.info("%s failed: %s", self, error)
        return True

    def lost(self, member: str, why: str) -> None:
        """``member`` is gone (a link to or from it broke)."""
        rank = self.spec.members.index(member) if member in self.spec.members else -1
        error = GroupMemberLost(
            member, f"member {member} (rank {rank}) of {self.spec.describe()} is lost: {why}"
        )
        if self.fail(error):
            self.abort(why, member)

    def peer_closed(self, member: str, why: str) -> None:
        """``member``'s link closed between two messages: it may just be done (its context
        closed after its last collective), so only a wait for more of its data fails."""
        with self.cv:
            self.departed[member] = why
            self.cv.notify_all()

    def abort(self, reason: str, lost: str | None = None) -> None:
        """This member gives up on the session: tell the others (through the group server)."""
        try:
            self._abort(self, reason, lost)
        except Exception as e:  # the server may be gone too; the peers' links still break
            _log.debug("cannot report the abort of %s: %s", self, e)

    # -- forming --------------------------------------------------------------------------------

    def set_ready(self, peers: dict[str, tuple[str, str]]) -> None:
        with self.cv:
            self.peers = peers
            self.cv.notify_all()

    def wait_ready(self, deadline: float) -> dict[str, tuple[str, str]]:
        with self.cv:
            while self.peers is None:
                self.check()
                if not self._wait(deadline):
                    raise GroupTimeout(
                        f"{self.spec.describe()}: the group did not form within its timeout "
                        "(the group server did not answer: is the driver alive?)"
                    )
            return self.peers

    # -- receiving ------------------------------------------------------------------------------

    def expect(self, peer: str, seq: int, op: str, sink: Sink) -> None:
        """The message ``op`` #``seq`` from ``peer`` is an array to be received straight into
        ``sink.into`` (no buffer of its own, no copy afterwards; combined on the way in with
        ``sink.combine``), if its header comes after this (else it is received as usual).
        ``unexpect`` at the end of the collective."""
        with self.cv:
            self.expected[(peer, seq, op)] = sink

    def unexpect(self, peer: str, seq: int, op: str) -> None:
        with self.cv:
            self.expected.pop((peer, seq, op), None)

    def claim(self, peer: str, header: dict[str, Any]) -> Sink | None:
        """The destination ``expect`` gave for the message of ``header`` from ``peer``."""
        if not self.expected:
            return None
        with self.cv:
            return self.expected.pop((peer, header.get("seq"), header.get("op")), None)  # type: ignore[arg-type]

    def deliver(self, peer: str, message: InMessage) -> None:
        with self.cv:
            self.inbox.setdefault(peer, collections.deque()).append(message)
            self.cv.notify_all()

    def next_message(self, peer: str, deadline: float, what: str) -> InMessage:
        """The next message from ``peer`` (its header is in; its bytes may still come)."""
        with self.cv:
            while True:
                queue = self.inbox.get(peer)
                if queue:  # what has arrived is good, even if the link broke since
                    message = queue.popleft()
                    if message.held:  # its reader waits for a destination: an expected one?
                        key = (peer, message.header.get("seq"), message.header.get("op"))
                        message.bind(self.pool, self.expected.pop(key, None))  # type: ignore[arg-type]
                        self.cv.notify_all()
                    return message
                self.check()
                if peer in self.departed:
                    rank = self.spec.members.index(peer) if peer in self.spec.members else -1
                    raise GroupMemberLost(
                        peer,
                        f"member {peer} (rank {rank}) of {self.spec.describe()} is lost: "
                        f"{self.departed[peer]} ({what} waited for it)",
                    )
                if not self._wait(deadline):
                    raise self._timeout(what, peer)

    def wait_bytes(
        self, message: InMessage, upto: int, peer: str, deadline: float, what: str
    ) -> None:
        """Until ``upto`` bytes of ``message`` from ``peer`` have arrived."""
        with self.cv:
            while message.received < upto:
                self.check()
                message.wait_for(upto)
                if not self._wait(deadline):
                    raise self._timeout(what, peer)

    # -- sending --------------------------------------------------------------------------------

    def link_to(self, peer: str, deadline: float) -> OutLink:
        """The link to ``peer``, connected on first use."""
        with self.cv:
            while True:
                self.check()
                link = self.outlinks.get(peer)
                if link is not None:
                    return link
                if peer not in self._connecting:
                    self._connecting.add(peer)
                    break
                if not self._wait(deadline):
                    raise self._timeout("connecting", peer)
        try:
            link = self._connect(self, peer, deadline)
        finally:
            with self.cv:
                self._connecting.discard(peer)
                self.cv.notify_all()
        with self.cv:
            if self.error is not None or self.closed:
                pass
            else:
                self.outlinks[peer] = link
                return link
        link.close()
        with self.cv:
            self.check()
        raise GroupError(f"{self}: closed while connecting to {peer}")

    def wait_sent(self, links: list[OutLink], deadline: float, what: str) -> None:
        """Until everything posted to ``links`` has left this member's buffers."""
        with self.cv:
            for link in links:
                while not link.idle():
                    self.check()
                    if not self._wait(deadline):
                        raise self._timeout(what, link.peer)

    def add_inlink(self, peer: str, link: InLink) -> bool:
        with self.cv:
            if self.closed or self.error is not None or peer in self.inlinks:
                return False
            self.inlinks[peer] = link
            return True

    # -- helpers --------------------------------------------------------------------------------

    def _wait(self, deadline: float) -> bool:
        """Wait on ``cv`` (held) until notified or ``deadline``; False once it has passed."""
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.cv.wait(min(left, 5.0))
        return True

    def _timeout(self, what: str, peer: str) -> GroupTimeout:
        rank = self.spec.members.index(peer) if peer in self.spec.members else -1
        return GroupTimeout(
            f"{what} on {self.spec.describe()} (rank {self.rank}) timed out waiting for member "
            f"{peer} (rank {rank})"
        )

    def links(self) -> dict[str, str]:
        """The open links' transports: ``{"to:<peer>" | "from:<peer>": "tcp" | "shm"}``."""
        with self.cv:
            out = {f"to:{p}": link.transport for p, link in self.outlinks.items()}
            out |= {f"from:{p}": link.transport for p, link in self.inlinks.items()}
        return dict(sorted(out.items()))

    def close(self) -> None:
        with self.cv:
            if self.closed:
                return
            self.closed = True
            links: list[InLink | OutLink] = [*self.outlinks.values(), *self.inlinks.values()]
            self.cv.notify_all()
        for link in links:
            link.close()
