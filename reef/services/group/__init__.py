"""Group communication: collectives (broadcast, reduce, all-reduce, scatter, gather,
all-gather, all-to-all, barrier) among evaluators that a driver groups together.

The driver declares groups with ``GroupCommunication`` (a driver-side service) and gives each
member's activity the group's ``member_configuration``; activities get a ``Communicator``. The
evaluators' ``GroupService`` (a context service) registers with the group server in the driver,
links members directly (mutual TLS over TCP, or shared memory between members on one host) and
keeps the links across activities. A member that fails makes the others' collectives raise
``GroupMemberLost`` at once, and the driver gets ``GroupMemberFailed`` to re-form the group.

Layout: pure state (``_topology``: who sends to whom; ``_chunks``: how messages are cut;
``_ops``: reductions; ``_codec``: values to buffers and back; ``_spec``, ``_params``) apart from
I/O (``_links`` and ``_wire``: data links; ``_shm``: shared-memory rings; ``_security``: TLS;
``_threads``: the threads a component started; ``_session``: a generation's state on a member;
``_service``: the evaluator's side;
``_registration`` and ``_server``: the rendezvous with the driver; ``_driver``: the driver's
side); ``_collectives`` holds the algorithms and ``_communicator`` the activities' API.
"""

from reef.services.group._communicator import Communicator
from reef.services.group._driver import Group, GroupCommunication, GroupMemberFailed
from reef.services.group._errors import (
    GroupAborted,
    GroupError,
    GroupMemberLost,
    GroupTimeout,
)
from reef.services.group._ops import MAX, MIN, PROD, SUM, ReduceOp
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
from reef.services.group._topology import Flat, Topology, Tree

__all__ = [
    "MAX",
    "MIN",
    "PROD",
    "SUM",
    "Communicator",
    "Flat",
    "Group",
    "GroupAborted",
    "GroupCommunication",
    "GroupError",
    "GroupGeneration",
    "GroupMemberFailed",
    "GroupMemberLost",
    "GroupMembers",
    "GroupName",
    "GroupServerAddress",
    "GroupService",
    "GroupTimeout",
    "GroupTimeoutSeconds",
    "GroupTopology",
    "GroupTransport",
    "ReduceOp",
    "Topology",
    "Tree",
]
