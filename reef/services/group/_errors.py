"""The errors of group communication.

::

    ReefError
    └── GroupError              a group that cannot do what was asked (unknown group, not a
        │                       member, a collective called differently by two members, ...)
        ├── GroupMemberLost     a member's evaluator died or its connections broke (``.member``)
        ├── GroupAborted        another member hit an error in a collective and gave up
        │                       (``.member``, ``.reason``)
        └── GroupTimeout        a collective (or the group's forming) outlived its timeout

A generation of a group whose collective failed in any of these ways is unusable on every
member: its message streams are in an unknown state. The driver re-forms the group (a new
generation: ``Group.without`` / ``Group.replace``) and the survivors go on in new activities.
Bad arguments (a root out of range, ``scatter`` given the wrong number of values, arrays of
mismatched shapes in a reduction) raise ``ValueError`` where they are detected.
"""

from __future__ import annotations

from reef.errors import ReefError


class GroupError(ReefError):
    """A group that cannot do what was asked; the message names the group and what is wrong."""


class GroupMemberLost(GroupError):
    """A member of the group is gone: its evaluator failed or its connections broke.
    ``member`` is its evaluator id."""

    def __init__(self, member: str, message: str) -> None:
        self.member = member
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.member, str(self)))


class GroupAborted(GroupError):
    """Another member (``member``) failed a collective (``reason``: its error) and aborted it
    for everyone."""

    def __init__(self, member: str, reason: str, message: str) -> None:
        self.member = member
        self.reason = reason
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.member, self.reason, str(self)))


class GroupTimeout(GroupError):
    """A collective, or the forming of the group, took longer than its timeout."""
