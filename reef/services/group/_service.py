"""``GroupService``: the evaluator's side of group communication (a context service).

It listens for data links from other members (TLS with the job's credentials; a peer must be
a member of the group generation it names, and its certificate must say so), keeps a
``Session`` per group generation (its links, shared-memory rings and registration) across
activities, and talks to the group server in the driver (``_registration``). Sessions are made
lazily, when a ``Communicator`` of a generation is first used; a newer generation of a group
closes the older one's session. ``close()`` (when its context closes) says goodbye to the
server, so the end of a job is not mistaken for a failure, and ends every thread it started.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from reef.common import _tls
from reef.common._identity import EvaluatorIdentity
from reef.services.group import _security, _wire
from reef.services.group._chunks import CHUNK_BYTES, SHM_SLOTS
from reef.services.group._errors import (
    GroupAborted,
    GroupError,
    GroupMemberLost,
    GroupTimeout,
)
from reef.services.group._links import InLink, OutLink, close_socket
from reef.services.group._pool import BufferPool
from reef.services.group._registration import ServerLink, split_address
from reef.services.group._session import Session
from reef.services.group._shm import Ring
from reef.services.group._spec import GroupSpec
from reef.services.group._threads import Threads

if TYPE_CHECKING:
    from reef.services.group._communicator import Communicator

_log = logging.getLogger("reef.services.group")

HANDSHAKE_SECONDS = 10.0
READY_GRACE = 2.0  # how long past its deadline a member waits for the server's "missing" answer


class GroupService:
    """See the module's docstring. Ask for it in a root context's ``services``."""

    def __init__(self, me: EvaluatorIdentity) -> None:
        self.me = me
        self._lock = threading.Condition()
        self._sessions: dict[tuple[str, int], Session] = {}
        self._specs: dict[str, GroupSpec] = {}
        self._servers: dict[str, ServerLink] = {}
        self._lookups: dict[int, dict[str, Any] | None] = {}
        self._lookup_ids = itertools.count(1)
        self._threads = Threads()
        self._closed = False
        self.pool = BufferPool()
        self._server_context = _security.peer_server(me.credentials)
        self._client_context = _security.peer_client(me.credentials)
        self._listener = socket.create_server(("", 0))
        self.address = f"{me.host}:{self._listener.getsockname()[1]}"
        self._threads.start(self._accept, "group-accept")

    def __repr__(self) -> str:
        return f"GroupService({self.me.evaluator_id} at {self.address})"

    @property
    def evaluator_id(self) -> str:
        return self.me.evaluator_id

    # -- communicators ----------------------------------------------------------------------------

    def communicator(self, name: str, *, timeout: float | None = None) -> Communicator:
        """A ``Communicator`` for the group ``name``: the generation this evaluator was last
        configured with, else the current one the group server knows (once any group's server
        is known here). ``GroupError`` for an unknown group or one this evaluator is not in."""
        from reef.services.group._communicator import Communicator  # noqa: PLC0415 - a cycle

        with self._lock:
            spec = self._specs.get(name)
            servers = list(self._servers)
        if spec is None:
            if not servers:
                raise GroupError(
                    f"unknown group {name!r}: this evaluator has no group configuration yet "
                    "(give its activity a group's member_configuration)"
                )
            spec = self._lookup(servers[0], name, 10.0 if timeout is None else timeout)
        return Communicator.of(self, spec)

    def learn(self, spec: GroupSpec) -> None:
        """Remember ``spec`` as the newest generation of its group configured here."""
        with self._lock:
            known = self._specs.get(spec.name)
            if known is None or known.generation <= spec.generation:
                self._specs[spec.name] = spec

    def existing_session(self, spec: GroupSpec) -> Session | None:
        """The session of ``spec``'s generation if one was made here (not forming one)."""
        with self._lock:
            return self._sessions.get(spec.key)

    def session(self, spec: GroupSpec, deadline: float) -> Session:
        """The session of ``spec``'s generation, formed (every member registered)."""
        with self._lock:
            if self._closed:
                raise GroupError(f"{spec.describe()}: the group service is closed")
            session = self._sessions.get(spec.key)
            fresh = session is None
            if session is None:
                session = Session(
                    spec, self.me.evaluator_id, self._connect, self._report_abort, self.pool
                )
                self._sessions[spec.key] = session
                old = [
                    s
                    for k, s in self._sessions.items()
                    if k[0] == spec.name and k[1] < spec.generation
                ]
                for s in old:
                    del self._sessions[s.spec.key]
            else:
                old = []
        for s in old:
            self._bye(s)
            s.close()
        if fresh:
            try:
                link = self._server_link(spec.server, deadline)
                link.send(
                    {
                        "op": "register",
                        "group": spec.name,
                        "generation": spec.generation,
                        "address": self.address,
                        "host_key": self.me.host_key,
                        "timeout": max(0.0, deadline - time.monotonic()),
                    }
                )
                session.registered = True
            except GroupError as e:
                session.fail(e)
            except OSError as e:
                session.fail(GroupError(f"{spec.describe()}: cannot reach the group server: {e}"))
        session.wait_ready(deadline + READY_GRACE)
        return session

    # -- the group server -------------------------------------------------------------------------

    def _server_link(self, address: str, deadline: float) -> ServerLink:
        with self._lock:
            link = self._servers.get(address)
            if link is not None:
                return link
        timeout = max(1.0, min(HANDSHAKE_SECONDS, deadline - time.monotonic()))
        link = ServerLink(
            address,
            self.me.credentials,
            self._from_server,
            lambda why: self._server_broken(address, why),
            timeout,
        )
        with self._lock:
            existing = self._servers.get(address)
            if existing is None and not self._closed:
                self._servers[address] = link
                return link
        link.close()
        if existing is None:
            raise GroupError("the group service is closed")
        return existing

    def _from_server(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "lookup":
            with self._lock:
                self._lookups[int(message["id"])] = message
                self._lock.notify_all()
            return
        with self._lock:
            session = self._sessions.get((str(message.get("group")), int(message["generation"])))
        if session is None:
            return
        describe = session.spec.describe()
        if op == "ready":
            session.set_ready({m: (a, h) for m, (a, h) in message["peers"].items()})
        elif op == "error":
            text = str(message.get("message"))
            session.fail(
                GroupTimeout(text) if message.get("kind") == "timeout" else GroupError(text)
            )
        elif op == "abort":
            reason, lost, sender = str(message["reason"]), message.get("lost"), message["from"]
            if lost:
                rank = session.spec.members.index(lost) if lost in session.spec.members else -1
                session.fail(
                    GroupMemberLost(
                        lost, f"member {lost} (rank {rank}) of {describe} is lost: {reason}"
                    )
                )
            else:
                rank = session.spec.members.index(sender) if sender in session.spec.members else -1
                session.fail(
                    GroupAborted(
                        sender,
                        reason,
                        f"member {sender} (rank {rank}) aborted {describe}: {reason}",
                    )
                )

    def _server_broken(self, address: str, why: str) -> None:
        with self._lock:
            sessions = [s for s in self._sessions.values() if s.spec.server == address]
        for s in sessions:
            s.fail(GroupError(f"{s.spec.describe()}: {why}"))

    def _report_abort(self, session: Session, reason: str, lost: str | None) -> None:
        with self._lock:
            link = self._servers.get(session.spec.server)
        if link is not None and session.registered:
            link.send(
                {
                    "op": "abort",
                    "group": session.spec.name,
                    "generation": session.spec.generation,
                    "reason": reason,
                    "lost": lost,
                }
            )

    def _bye(self, session: Session) -> None:
        with self._lock:
            link = self._servers.get(session.spec.server)
        if link is not None and session.registered:
            try:
                link.send(
                    {"op": "bye", "group": session.spec.name, "generation": session.spec.generation}
                )
            except OSError:
                pass

    def _lookup(self, address: str, name: str, timeout: float) -> GroupSpec:
        deadline = time.monotonic() + timeout
        link = self._server_link(address, deadline)
        with self._lock:
            ident = next(self._lookup_ids)
            self._lookups[ident] = None
        link.send({"op": "lookup", "id": ident, "group": name})
        with self._lock:
            while self._lookups.get(ident) is None:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    self._lookups.pop(ident, None)
                    raise GroupTimeout(f"the group server did not answer about group {name!r}")
                self._lock.wait(left)
            reply = self._lookups.pop(ident)
        assert reply is not None
        if reply.get("error"):
            raise GroupError(str(reply["error"]))
        spec = GroupSpec.from_json(reply["spec"])
        self.learn(spec)
        return spec

    # -- data links -------------------------------------------------------------------------------

    def _connect(self, session: Session, peer: str, deadline: float) -> OutLink:
        """Open the data link to ``peer`` (TLS; shared memory when it is on this host)."""
        spec = session.spec
        address, host_key = session.wait_ready(deadline)[peer]
        same_host = host_key == self.me.host_key
        if spec.transport == "shm" and not same_host:
            raise GroupError(
                f"{spec.describe()}: transport 'shm' but member {peer} is on another host"
            )
        use_shm = spec.transport == "shm" or (spec.transport == "auto" and same_host)
        timeout = max(0.1, min(HANDSHAKE_SECONDS, deadline - time.monotonic()))
        try:
            raw = socket.create_connection(split_address(address), timeout=timeout)
        except OSError as e:
            raise GroupMemberLost(
                peer, f"member {peer} of {spec.describe()} cannot be reached at {address}: {e}"
            ) from e
        _security.set_buffers(raw)
        ring: Ring | None = None
        held: socket.socket = raw
        try:
            tls = held = self._client_context.wrap_socket(raw, server_side=False)
            name = _tls.peer_common_name(tls)
            if name != peer:
                raise GroupError(
                    f"{spec.describe()}: {address} should be member {peer}, but its certificate "
                    f"names {name!r}"
                )
            if use_shm:
                ring = Ring.create()
            _wire.send_json(
                tls,
                {
                    "group": spec.name,
                    "generation": spec.generation,
                    "from": self.me.evaluator_id,
                    "shm": ring.path if ring else None,
                    "slots": SHM_SLOTS,
                    "slot_bytes": CHUNK_BYTES,
                },
            )
            reply = _wire.recv_json(tls)
            if not reply.get("ok"):
                raise GroupError(
                    f"{spec.describe()}: member {peer} refused the link: {reply.get('error')}"
                )
        except BaseException:
            if ring is not None:
                ring.unlink()
                ring.close()
            close_socket(held)
            raise
        finally:
            if ring is not None:
                ring.unlink()  # both ends have it mapped (or the link failed)
        tls.settimeout(None)
        return OutLink(session, peer, tls, ring)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._closed:
                    close_socket(sock)
                    return
            self._threads.start(self._admit, "group-admit", sock)

    def _admit(self, sock: socket.socket) -> None:
        """Authenticate a member's data link and give it to its session."""
        sock.settimeout(HANDSHAKE_SECONDS)
        _security.set_buffers(sock)
        try:
            tls = self._server_context.wrap_socket(sock, server_side=True)
        except OSError as e:  # no certificate, another CA, not TLS at all
            _log.info("%s: refused a connection: %s", self, e)
            close_socket(sock)
            return
        ring: Ring | None = None
        try:
            name = _tls.peer_common_name(tls) or ""
            hello = _wire.recv_json(tls)
            key = (str(hello["group"]), int(hello["generation"]))
            with self._lock:
                session = self._sessions.get(key)
            error = None
            if session is None:
                error = f"{self.me.evaluator_id} is not in group {key[0]!r} generation {key[1]}"
            elif name != hello["from"] or name not in session.spec.members:
                error = f"{name!r} is not a member of {session.spec.describe()}"
            elif name == self.me.evaluator_id:
                error = "a member cannot link to itself"
            if error is not None or session is None:
                _wire.send_json(tls, {"ok": False, "error": error})
                close_socket(tls)
                return
            if hello.get("shm"):
                ring = Ring.attach(str(hello["shm"]), int(hello["slots"]), int(hello["slot_bytes"]))
            _wire.send_json(tls, {"ok": True})
            tls.settimeout(None)
        except Exception as e:
            _log.info("%s: a member's link failed to open: %s", self, e)
            if ring is not None:
                ring.close()
            close_socket(tls)
            return
        link = InLink(session, name, tls, ring)
        if not session.add_inlink(name, link):
            link.close()

    # -- threads and closing ----------------------------------------------------------------------

    def close(self) -> None:
        """Leave every group (politely), close every link and end every thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            sessions = list(self._sessions.values())
            self._sessions.clear()
            servers = list(self._servers.values())
            self._servers.clear()
            self._lock.notify_all()
        close_socket(self._listener)
        for s in sessions:
            self._bye_to(servers, s)
            s.close()
        for link in servers:
            link.close()
        self.pool.clear()
        self._threads.join()

    def _bye_to(self, servers: list[ServerLink], session: Session) -> None:
        for link in servers:
            if link.address == session.spec.server and session.registered:
                try:
                    link.send(
                        {
                            "op": "bye",
                            "group": session.spec.name,
                            "generation": session.spec.generation,
                        }
                    )
                except OSError:
                    pass
