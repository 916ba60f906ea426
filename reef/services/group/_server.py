"""The group server: a small TLS server in the driver where members register.

Members connect with the job's credentials (mutual TLS: the server's certificate is the
driver's, ``reef-driver``; a member's certificate names its evaluator id, which is who it is
here). A member registers for a generation of a group with its listening address and host key;
when every member has registered, each gets everyone's (``ready``). A member still waiting
when its timeout passes is told which members are missing.

Failure news goes through here: a member that gives up on a collective reports an ``abort``,
relayed to every other member; a member whose connection breaks without saying goodbye, or
whose evaluator the driver sees fail, is *lost*: every other member of every generation it was
in is told at once (their collectives raise ``GroupMemberLost``), and for the current
generation of its group the driver gets ``GroupMemberFailed`` (``on_failed``).

Threads: one accepting, one per connection (reading), one keeping the registration deadlines;
writes to a connection come from any of them (``TlsDuplex`` and ``FrameWriter`` allow that).
"""

from __future__ import annotations

import heapq
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reef.common import _tls
from reef.common._duplex import TlsDuplex, wrap
from reef.common._frames import FrameReader, FrameWriter
from reef.common._tls import CredentialFiles
from reef.services.group._spec import GroupSpec
from reef.services.group._threads import Threads

_log = logging.getLogger("reef.services.group")

MAX_FRAME = 1 << 20
HANDSHAKE_SECONDS = 10.0

OnFailed = Callable[[str, int, str, str], None]  # group, generation, member, reason


class _Connection:
    """One member's connection."""

    def __init__(self, duplex: TlsDuplex, member: str) -> None:
        self.duplex = duplex
        self.member = member
        self.writer = FrameWriter(duplex)
        self.keys: set[tuple[str, int]] = set()
        self.said_bye: set[tuple[str, int]] = set()

    def send(self, message: dict[str, Any]) -> None:
        try:
            self.writer.write(json.dumps(message, separators=(",", ":")).encode())
        except OSError as e:  # its own reader thread notices and reports it
            _log.debug("cannot write to member %s: %s", self.member, e)

    def close(self) -> None:
        try:
            self.duplex.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.duplex.close()


@dataclass
class _Generation:
    spec: GroupSpec
    registered: dict[str, tuple[str, str, _Connection]] = field(default_factory=dict)
    ready: bool = False
    failed: dict[str, str] = field(default_factory=dict)  # member -> reason
    departed: set[str] = field(default_factory=set)
    aborted: dict[str, Any] | None = None  # the first abort message relayed

    def missing(self) -> list[str]:
        return [m for m in self.spec.members if m not in self.registered]


class GroupServer:
    """See the module's docstring. ``address`` is ``host:port``, as members reach it."""

    def __init__(self, credentials: CredentialFiles, host: str, on_failed: OnFailed) -> None:
        self._context = _tls.server_context(credentials)
        self._on_failed = on_failed
        self._lock = threading.Condition()
        self._generations: dict[tuple[str, int], _Generation] = {}
        self._current: dict[str, int] = {}
        self._connections: set[_Connection] = set()
        self._deadlines: list[tuple[float, str, int, str]] = []
        self._threads = Threads()
        self._closed = False
        self._listener = socket.create_server(("", 0))
        self.address = f"{host}:{self._listener.getsockname()[1]}"
        self._threads.start(self._accept, "group-server-accept")
        self._threads.start(self._keep_deadlines, "group-server-deadlines")

    # -- the driver's side ------------------------------------------------------------------------

    def declare(self, spec: GroupSpec) -> None:
        """A new generation of a group (the newest becomes the current one)."""
        with self._lock:
            self._generations[spec.key] = _Generation(spec)
            self._current[spec.name] = max(self._current.get(spec.name, 0), spec.generation)

    def evaluator_failed(self, evaluator_id: str, reason: str) -> None:
        """The driver saw ``evaluator_id`` fail: it is lost from every group it is in."""
        with self._lock:
            keys = [k for k, g in self._generations.items() if evaluator_id in g.spec.members]
        for key in keys:
            self._lost(key, evaluator_id, reason)

    def registered(self, name: str, generation: int) -> list[str]:
        """The members registered so far (for tests and diagnostics)."""
        with self._lock:
            gen = self._generations.get((name, generation))
            return list(gen.registered) if gen else []

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            connections = list(self._connections)
            self._lock.notify_all()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for conn in connections:
            conn.close()
        self._threads.join()

    # -- threads --------------------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._closed:
                    sock.close()
                    return
            self._threads.start(self._serve, "group-server-member", sock)

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(HANDSHAKE_SECONDS)
        try:
            duplex = wrap(sock, self._context, server_side=True)
        except (OSError, ssl.SSLError) as e:
            _log.info("group server: refused a connection: %s", e)
            return
        member = _tls.peer_common_name(duplex) or ""
        duplex.settimeout(None)
        conn = _Connection(duplex, member)
        with self._lock:
            if self._closed:
                conn.close()
                return
            self._connections.add(conn)
        try:
            reader = FrameReader(duplex, MAX_FRAME)
            while True:
                frame = reader.read()
                if frame is None:
                    break
                self._handle(conn, json.loads(frame))
        except Exception as e:
            _log.info("group server: the connection of %s broke: %s", member, e)
        finally:
            with self._lock:
                self._connections.discard(conn)
                closed = self._closed
                keys = [k for k in conn.keys if k not in conn.said_bye]
            conn.close()
            if not closed:
                for key in keys:
                    self._lost(key, member, "its connection to the group server broke")

    def _keep_deadlines(self) -> None:
        with self._lock:
            while not self._closed:
                now = time.monotonic()
                while self._deadlines and self._deadlines[0][0] <= now:
                    _, name, generation, member = heapq.heappop(self._deadlines)
                    self._expire((name, generation), member)
                wait = self._deadlines[0][0] - now if self._deadlines else None
                self._lock.wait(wait)

    # -- messages -------------------------------------------------------------------------------

    def _handle(self, conn: _Connection, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "lookup":
            conn.send(self._lookup(conn.member, message))
            return
        key = (str(message.get("group")), int(message.get("generation", 0)))
        if op == "register":
            self._register(conn, key, message)
        elif op == "abort":
            self._abort(conn, key, message)
        elif op == "bye":
            with self._lock:
                conn.said_bye.add(key)
                gen = self._generations.get(key)
                if gen is not None:
                    gen.departed.add(conn.member)
        else:
            _log.warning("group server: unknown message %r from %s", op, conn.member)

    def _error(self, key: tuple[str, int], kind: str, text: str, **extra: Any) -> dict[str, Any]:
        return {
            "op": "error",
            "group": key[0],
            "generation": key[1],
            "kind": kind,
            "message": text,
            **extra,
        }

    def _register(self, conn: _Connection, key: tuple[str, int], message: dict[str, Any]) -> None:
        name, generation = key
        member = conn.member
        with self._lock:
            gen = self._generations.get(key)
            reply: dict[str, Any] | None = None
            ready: list[_Connection] = []
            if gen is None:
                if name in self._current:
                    text = (
                        f"group {name!r} has no generation {generation} (the current one is "
                        f"{self._current[name]})"
                    )
                else:
                    known = ", ".join(sorted(self._current)) or "none"
                    text = f"unknown group {name!r} (groups: {known})"
                reply = self._error(key, "unknown", text)
            elif member not in gen.spec.members:
                reply = self._error(
                    key,
                    "not-member",
                    f"evaluator {member!r} is not a member of {gen.spec.describe()} "
                    f"(members: {', '.join(gen.spec.members)})",
                )
            elif member in gen.registered and gen.registered[member][2] is not conn:
                reply = self._error(
                    key,
                    "twice",
                    f"evaluator {member!r} has already registered with {gen.spec.describe()}; "
                    "form a new generation to join again",
                )
            elif gen.failed or gen.aborted is not None:
                reply = gen.aborted or self._abort_message(key, *next(iter(gen.failed.items())))
            else:
                gen.registered[member] = (str(message["address"]), str(message["host_key"]), conn)
                conn.keys.add(key)
                if len(gen.registered) == gen.spec.size:
                    gen.ready = True
                    peers = {m: [a, h] for m, (a, h, _) in gen.registered.items()}
                    reply = {"op": "ready", "group": name, "generation": generation, "peers": peers}
                    ready = [c for _, _, c in gen.registered.values()]
                else:
                    timeout = float(message.get("timeout", gen.spec.timeout))
                    heapq.heappush(
                        self._deadlines, (time.monotonic() + timeout, name, generation, member)
                    )
                    self._lock.notify_all()
        if ready:
            for c in ready:
                c.send(reply)  # type: ignore[arg-type]
        elif reply is not None:
            conn.send(reply)

    def _expire(self, key: tuple[str, int], member: str) -> None:
        """(under the lock) ``member``'s wait for the others is over."""
        gen = self._generations.get(key)
        if gen is None or gen.ready or member not in gen.registered:
            return
        conn = gen.registered[member][2]
        missing = gen.missing()
        text = (
            f"{gen.spec.describe()} did not form in time: missing members "
            f"{', '.join(missing)} (registered: {', '.join(gen.registered)})"
        )
        message = self._error(key, "timeout", text, missing=missing)
        self._threads.start(conn.send, "group-server-expire", message)  # not under the lock

    def _abort_message(self, key: tuple[str, int], lost: str, reason: str) -> dict[str, Any]:
        return {
            "op": "abort",
            "group": key[0],
            "generation": key[1],
            "from": "server",
            "reason": reason,
            "lost": lost,
        }

    def _abort(self, conn: _Connection, key: tuple[str, int], message: dict[str, Any]) -> None:
        relay = {
            "op": "abort",
            "group": key[0],
            "generation": key[1],
            "from": conn.member,
            "reason": str(message.get("reason", "")),
            "lost": message.get("lost"),
        }
        with self._lock:
            gen = self._generations.get(key)
            if gen is None:
                return
            if gen.aborted is None:
                gen.aborted = relay
            targets = [c for m, (_, _, c) in gen.registered.items() if m != conn.member]
        for c in targets:
            c.send(relay)

    def _lost(self, key: tuple[str, int], member: str, reason: str) -> None:
        with self._lock:
            gen = self._generations.get(key)
            if gen is None or member in gen.failed or member in gen.departed:
                return
            gen.failed[member] = reason
            targets = [c for m, (_, _, c) in gen.registered.items() if m != member]
            current = self._current.get(key[0]) == key[1]
        _log.warning(
            "group server: member %s of %s is lost: %s", member, gen.spec.describe(), reason
        )
        message = self._abort_message(key, member, reason)
        for c in targets:
            c.send(message)
        if current:
            self._on_failed(key[0], key[1], member, reason)

    def _lookup(self, member: str, message: dict[str, Any]) -> dict[str, Any]:
        name = str(message.get("group"))
        reply: dict[str, Any] = {"op": "lookup", "id": message.get("id"), "group": name}
        with self._lock:
            generation = self._current.get(name)
            if generation is None:
                known = ", ".join(sorted(self._current)) or "none"
                reply["error"] = f"unknown group {name!r} (groups: {known})"
                return reply
            spec = self._generations[(name, generation)].spec
        if member not in spec.members:
            reply["error"] = (
                f"evaluator {member!r} is not a member of {spec.describe()} "
                f"(members: {', '.join(spec.members)})"
            )
        else:
            reply["spec"] = spec.to_json()
        return reply
