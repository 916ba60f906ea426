"""``Communicator``: an activity's handle on one generation of a group.

It is injected into activities whose configuration has a group's ``member_configuration`` (or
made by ``GroupService.communicator(name)``). Each collective checks its arguments, gets the
generation's session (forming the group on first use: registration with the group server),
runs its algorithm (``_collectives``) under the call's deadline, and on any failure marks the
session failed and tells the other members, so that theirs fail at once too rather than wait
out their timeouts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from reef.services.group import _collectives as algorithms
from reef.services.group._errors import GroupError, GroupMemberLost
from reef.services.group._ops import SUM, Op, check_op
from reef.services.group._params import (
    GroupGeneration,
    GroupMembers,
    GroupName,
    GroupServerAddress,
    GroupTimeoutSeconds,
    GroupTopology,
    GroupTransport,
)
from reef.services.group._service import GroupService
from reef.services.group._session import Session
from reef.services.group._spec import GroupSpec
from reef.services.group._topology import Topology, check_rank, topology_of

T = TypeVar("T")


class Communicator:
    """Collectives among the members of one generation of a group (see the module's
    docstring). Every member must call the same collectives in the same order. Every call
    takes ``timeout=`` (seconds; default: the group's) and raises ``GroupTimeout`` past it,
    ``GroupMemberLost`` when a member is gone and ``GroupAborted`` when another member failed
    the collective."""

    def __init__(  # noqa: PLR0917 (injected: Tang passes what the constructor names)
        self,
        service: GroupService,
        name: Annotated[str, GroupName],
        generation: Annotated[int, GroupGeneration],
        members: Annotated[list[str], GroupMembers],
        server: Annotated[str, GroupServerAddress],
        topology: Annotated[str, GroupTopology] = "tree:2",
        timeout: Annotated[float, GroupTimeoutSeconds] = 60.0,
        transport: Annotated[str, GroupTransport] = "auto",
    ) -> None:
        try:
            spec = GroupSpec(
                name=name,
                generation=generation,
                members=tuple(members),
                topology=topology,
                timeout=timeout,
                transport=transport,
                server=server,
            )
        except ValueError as e:
            raise GroupError(f"group {name!r}: {e}") from None
        self._init(service, spec)

    @classmethod
    def of(cls, service: GroupService, spec: GroupSpec) -> Communicator:
        """A communicator of ``spec``'s generation on ``service``'s evaluator."""
        comm = cls.__new__(cls)
        comm._init(service, spec)
        return comm

    def _init(self, service: GroupService, spec: GroupSpec) -> None:
        try:
            self._rank = spec.rank_of(service.evaluator_id)
        except ValueError as e:
            raise GroupError(str(e)) from None
        self._service = service
        self._spec = spec
        service.learn(spec)

    def __repr__(self) -> str:
        return f"Communicator({self._spec.describe()}, rank {self._rank} of {self.size})"

    # -- what it is -----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._spec.name

    @property
    def rank(self) -> int:
        return self._rank

    @property
    def size(self) -> int:
        return self._spec.size

    @property
    def members(self) -> tuple[str, ...]:
        return self._spec.members

    @property
    def generation(self) -> int:
        return self._spec.generation

    @property
    def topology(self) -> Topology:
        return topology_of(self._spec.topology)

    @property
    def timeout(self) -> float:
        return self._spec.timeout

    @property
    def transport(self) -> str:
        return self._spec.transport

    def links(self) -> dict[str, str]:
        """This member's open data links in this generation and their transports
        (``{"to:<member>" or "from:<member>": "tcp" or "shm"}``; empty before the first
        collective)."""
        session = self._service.existing_session(self._spec)
        return {} if session is None else session.links()

    # -- collectives ----------------------------------------------------------------------------

    def broadcast(self, value: Any = None, *, root: int = 0, timeout: float | None = None) -> Any:
        """The root's ``value``, on every member (the root gets its own object back)."""
        check_rank(root, self.size)
        return self._run("broadcast", root, timeout, lambda c: algorithms.broadcast(c, value))

    def reduce(
        self, value: Any, op: Op = SUM, *, root: int = 0, timeout: float | None = None
    ) -> Any:
        """``value`` of every member combined with ``op``, at the root (``None`` elsewhere)."""
        check_rank(root, self.size)
        check_op(op)
        return self._run("reduce", root, timeout, lambda c: algorithms.reduce(c, value, op))

    def all_reduce(self, value: Any, op: Op = SUM, *, timeout: float | None = None) -> Any:
        """``value`` of every member combined with ``op``, on every member."""
        check_op(op)

        return self._run("all_reduce", 0, timeout, lambda c: algorithms.all_reduce(c, value, op))

    def scatter(
        self, values: Sequence[Any] | None = None, *, root: int = 0, timeout: float | None = None
    ) -> Any:
        """The root gives ``size`` values; member ``i`` gets ``values[i]``."""
        check_rank(root, self.size)
        return self._run("scatter", root, timeout, lambda c: algorithms.scatter(c, values))

    def gather(
        self, value: Any, *, root: int = 0, timeout: float | None = None
    ) -> list[Any] | None:
        """Every member's ``value``, by rank, at the root (``None`` elsewhere)."""
        check_rank(root, self.size)
        return self._run("gather", root, timeout, lambda c: algorithms.gather(c, value))

    def all_gather(self, value: Any, *, timeout: float | None = None) -> list[Any]:
        """Every member's ``value``, by rank, on every member."""

        return self._run("all_gather", 0, timeout, lambda c: algorithms.all_gather(c, value))

    def all_to_all(self, values: Sequence[Any], *, timeout: float | None = None) -> list[Any]:
        """Member ``i`` gets ``values[i]`` from everyone: a list by source rank."""
        algorithms.check_values(values, self.size, "all_to_all")
        return self._run("all_to_all", 0, timeout, lambda c: algorithms.all_to_all(c, values))

    def barrier(self, *, timeout: float | None = None) -> None:
        """Returns once every member has called it."""

        self._run("barrier", 0, timeout, algorithms.barrier)

    # -- running one ----------------------------------------------------------------------------

    def _run(
        self,
        op: str,
        root: int,
        timeout: float | None,
        algorithm: Callable[[algorithms.Call], T],
    ) -> T:
        seconds = self._spec.timeout if timeout is None else float(timeout)
        if not seconds > 0:
            raise ValueError(f"timeout={timeout!r}: must be > 0 seconds")
        deadline = time.monotonic() + seconds
        session: Session | None = None
        try:
            session = self._service.session(self._spec, deadline)
            if not session.busy.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise GroupError(f"{op}: another collective of this group is still running")
            try:
                with session.cv:
                    session.check()
                    session.seq += 1
                return algorithm(algorithms.Call(session, op, root, deadline))
            finally:
                session.busy.release()
        except BaseException as e:
            self._failed(session, e)
            raise

    def _failed(self, session: Session | None, error: BaseException) -> None:
        """A collective failed here: unless the session already knew (the error came from it),
        fail it and tell the other members."""
        if session is None or session.error is error:
            return
        reason = f"{type(error).__name__}: {error}"
        wrapped = (
            error
            if isinstance(error, GroupError)
            else GroupError(
                f"{self._spec.describe()}: a collective failed on member "
                f"{self._service.evaluator_id} (rank {self._rank}): {reason}"
            )
        )
        if session.fail(wrapped):
            session.abort(reason, error.member if isinstance(error, GroupMemberLost) else None)
