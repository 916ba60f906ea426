"""The driver's side: ``GroupCommunication`` (a driver-side service), ``Group`` and
``GroupMemberFailed``.

``GroupCommunication`` runs the group server (``_server``) in the driver process, at the
address evaluators reach the driver at, with the driver's credentials; it starts with the first
group. It watches ``FailedEvaluator`` (``DriverServices.observe``) so that a member's failure
reaches the other members at once, and fires ``GroupMemberFailed`` for the current generation
of each group the member was in, so that the driver can re-form the group.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from reef.driver._events import FailedEvaluator, ServiceEvent
from reef.driver._services import DriverServices
from reef.services.group._errors import GroupError
from reef.services.group._params import (
    GroupGeneration,
    GroupMembers,
    GroupName,
    GroupServerAddress,
    GroupTimeoutSeconds,
    GroupTopology,
    GroupTransport,
)
from reef.services.group._server import GroupServer
from reef.services.group._spec import GroupSpec
from reef.services.group._topology import Topology, Tree, topology_of
from reef.tang import Configuration

_log = logging.getLogger("reef.services.group")


@dataclass(frozen=True)
class GroupMemberFailed(ServiceEvent):
    """A member of the current generation of ``group`` failed (its evaluator died, or its
    connection to the group server broke): the other members' collectives in that generation
    raise ``GroupMemberLost``. Re-form the group with ``Group.without`` or ``Group.replace``.
    Unhandled, it is logged (the evaluator's own ``FailedEvaluator``, if any, follows REEF's
    default)."""

    group: str
    generation: int
    member: str
    reason: str

    def unhandled(self) -> None:
        _log.warning(
            "member %s of group %r generation %d failed: %s",
            self.member,
            self.group,
            self.generation,
            self.reason,
        )


class Group:
    """One generation of a group: ``name``, ``members`` (evaluator ids by rank),
    ``generation``, ``topology``, ``timeout`` and ``transport``."""

    def __init__(self, owner: GroupCommunication, spec: GroupSpec) -> None:
        self._owner = owner
        self._spec = spec

    def __repr__(self) -> str:
        return (
            f"Group({self.name!r}, generation={self.generation}, members={list(self.members)}, "
            f"topology={self.topology!r})"
        )

    @property
    def name(self) -> str:
        return self._spec.name

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

    @property
    def spec(self) -> GroupSpec:
        return self._spec

    def rank(self, evaluator_id: str) -> int:
        """``evaluator_id``'s rank; ``GroupError`` if it is not a member."""
        try:
            return self._spec.rank_of(evaluator_id)
        except ValueError as e:
            raise GroupError(str(e)) from None

    def member_configuration(self, evaluator_id: str) -> Configuration:
        """What ``evaluator_id`` needs to be this group's member: merge it into its activity's
        (or a context's) configuration; a ``Communicator`` is then injected."""
        self.rank(evaluator_id)
        spec = self._spec
        return Configuration(
            parameters={
                GroupServerAddress: spec.server,
                GroupName: spec.name,
                GroupGeneration: spec.generation,
                GroupMembers: list(spec.members),
                GroupTopology: spec.topology,
                GroupTimeoutSeconds: spec.timeout,
                GroupTransport: spec.transport,
            }
        )

    def without(self, *evaluator_ids: str) -> Group:
        """The group re-formed without ``evaluator_ids`` (a new generation; ranks follow the
        remaining members' order)."""
        for e in evaluator_ids:
            self.rank(e)
        return self._reform([m for m in self.members if m not in evaluator_ids])

    def replace(self, old_id: str, new_id: str) -> Group:
        """The group re-formed with ``new_id`` in ``old_id``'s place (and rank)."""
        rank = self.rank(old_id)
        if new_id in self.members:
            raise GroupError(f"{new_id!r} is already a member of {self._spec.describe()}")
        members = list(self.members)
        members[rank] = new_id
        return self._reform(members)

    def _reform(self, members: list[str]) -> Group:
        return self._owner.new_group(
            self.name,
            members,
            topology=self.topology,
            timeout=self.timeout,
            transport=self.transport,
        )


class GroupCommunication:
    """Declares groups of evaluators and serves their members (a driver-side service: ask for
    it in the driver's constructor)."""

    def __init__(self, services: DriverServices) -> None:
        self._services = services
        self._lock = threading.Lock()
        self._server: GroupServer | None = None
        self._groups: dict[str, Group] = {}
        self._generations: dict[str, int] = {}
        services.observe(FailedEvaluator, self._evaluator_failed)
        services.on_close(self.close)

    @property
    def server(self) -> GroupServer:
        """The group server (started on first use)."""
        with self._lock:
            if self._server is None:
                identity = self._services.identity
                self._server = GroupServer(identity.credentials, identity.host, self._failed)
            return self._server

    def new_group(
        self,
        name: str,
        members: Sequence[str],
        *,
        topology: Topology | None = None,
        timeout: float = 60.0,
        transport: str = "auto",
    ) -> Group:
        """A group of ``members`` (evaluator ids; a member's rank is its index). A name already
        in use gets a new generation (the old one's members fail over to nothing: re-form with
        ``without``/``replace`` or give the new generation's configuration to new
        activities)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a group's name must be a non-empty string, not {name!r}")
        if isinstance(members, str) or not all(isinstance(m, str) and m for m in members):
            raise ValueError(f"members must be a list of evaluator ids, not {members!r}")
        topology = Tree(fan_out=2) if topology is None else topology
        if not isinstance(topology, Topology):
            raise TypeError(f"topology={topology!r}: expected Tree(fan_out=k) or Flat()")
        server = self.server
        with self._lock:
            generation = self._generations.get(name, 0) + 1
            spec = GroupSpec(
                name=name,
                generation=generation,
                members=tuple(members),
                topology=topology.spec,
                timeout=float(timeout),
                transport=transport,
                server=server.address,
            )
            self._generations[name] = generation
            group = self._groups[name] = Group(self, spec)
        server.declare(spec)
        return group

    def group(self, name: str) -> Group:
        """The current generation of the group ``name``; ``GroupError`` if there is none."""
        with self._lock:
            group = self._groups.get(name)
            if group is None:
                known = ", ".join(sorted(self._groups)) or "none"
                raise GroupError(f"unknown group {name!r} (groups: {known})")
            return group

    def _evaluator_failed(self, event: FailedEvaluator) -> None:
        with self._lock:
            server = self._server
        if server is not None:
            server.evaluator_failed(event.id, f"its evaluator failed: {event.error.message}")

    def _failed(self, group: str, generation: int, member: str, reason: str) -> None:
        self._services.fire(GroupMemberFailed(group, generation, member, reason))

    def close(self) -> None:
        """Stop the group server (at the job's end)."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.close()
