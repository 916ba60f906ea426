"""``GroupSpec``: one generation of one group, as its members' configurations describe it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reef.services.group._params import TRANSPORTS
from reef.services.group._topology import Topology, topology_of


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """A group's name, generation, members (by rank), topology spec, default timeout,
    transport and the address of the group server its members register with."""

    name: str
    generation: int
    members: tuple[str, ...]
    topology: str
    timeout: float
    transport: str
    server: str

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError(f"group {self.name!r} has no members")
        if len(set(self.members)) != len(self.members):
            raise ValueError(f"group {self.name!r} lists a member twice: {list(self.members)}")
        if self.transport not in TRANSPORTS:
            raise ValueError(
                f"transport={self.transport!r}: expected one of {', '.join(TRANSPORTS)}"
            )
        if not self.timeout > 0:
            raise ValueError(f"timeout={self.timeout!r}: must be > 0 seconds")
        topology_of(self.topology)

    @property
    def key(self) -> tuple[str, int]:
        return (self.name, self.generation)

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def shape(self) -> Topology:
        return topology_of(self.topology)

    def rank_of(self, member: str) -> int:
        """``member``'s rank; ``ValueError`` if it is not one."""
        try:
            return self.members.index(member)
        except ValueError:
            raise ValueError(
                f"evaluator {member!r} is not a member of group {self.name!r} generation "
                f"{self.generation} (members: {', '.join(self.members)})"
            ) from None

    def describe(self) -> str:
        return f"group {self.name!r} generation {self.generation}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "generation": self.generation,
            "members": list(self.members),
            "topology": self.topology,
            "timeout": self.timeout,
            "transport": self.transport,
            "server": self.server,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GroupSpec:
        return cls(
            name=str(data["name"]),
            generation=int(data["generation"]),
            members=tuple(str(m) for m in data["members"]),
            topology=str(data["topology"]),
            timeout=float(data["timeout"]),
            transport=str(data["transport"]),
            server=str(data["server"]),
        )
