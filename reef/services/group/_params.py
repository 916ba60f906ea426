"""The named parameters of a group member's configuration (``Group.member_configuration``
binds them; ``Communicator`` asks for them). Every group value travels this way, so a
misconfigured activity (one asking for a ``Communicator`` without a group's configuration) is
caught by Tang's static check in the driver, before it is sent."""

from __future__ import annotations

from reef.tang import NamedParameter


class GroupServerAddress(NamedParameter[str]):
    """``host:port`` of the job's group server (in the driver), where members register."""


class GroupName(NamedParameter[str]):
    """The name of the group a ``Communicator`` belongs to."""


class GroupGeneration(NamedParameter[int]):
    """The group's generation (it grows each time the driver re-forms the group)."""


class GroupMembers(NamedParameter[list[str]]):
    """The members' evaluator ids, by rank."""


class GroupTopology(NamedParameter[str]):
    """The topology's spec: ``"flat"`` or ``"tree:<fan-out>"``."""

    default = "tree:2"


class GroupTimeoutSeconds(NamedParameter[float]):
    """Seconds a collective (or the forming of the group) may take before ``GroupTimeout``."""

    default = 60.0


class GroupTransport(NamedParameter[str]):
    """How members exchange data: ``"auto"`` (shared memory between members on one host, TLS
    over TCP otherwise), ``"tcp"`` (always TCP) or ``"shm"`` (shared memory; every pair must
    share a host)."""

    default = "auto"


TRANSPORTS = ("auto", "tcp", "shm")
