"""Job settings: named parameters read by the driver and handed to evaluators.

Set them like any parameter: ``reef.run(MyDriver, parameters={HeartbeatPeriod: 0.5})``.
"""

from __future__ import annotations

from reef.tang import NamedParameter


class HeartbeatPeriod(NamedParameter[float]):
    """Seconds between an evaluator's heartbeats (and the driver's pings)."""

    default = 1.0


class EvaluatorTimeout(NamedParameter[float]):
    """Seconds without a word from an evaluator after which the driver declares it failed and
    kills it (a stopped or hung process)."""

    default = 10.0


class DriverTimeout(NamedParameter[float]):
    """Seconds without a word from the driver after which an evaluator exits by itself."""

    default = 30.0


class RegistrationTimeout(NamedParameter[float]):
    """Seconds an evaluator process may take from launch to connecting to the driver."""

    default = 120.0


class FastPath(NamedParameter[bool]):
    """Carry activity traffic (starts, results, messages) over the authenticated TLS fast path
    instead of the gRPC stream: several times less latency per message."""

    default = True


class MaxMessageBytes(NamedParameter[int]):
    """The largest message (activity result, memento, message) the control plane carries."""

    default = 512 * 1024 * 1024


class StatusPage(NamedParameter[bool]):
    """Serve the job's status page, JSON API and Prometheus metrics over HTTP from the driver."""

    default = True


class StatusHost(NamedParameter[str]):
    """The address the status page listens on (loopback unless told otherwise)."""

    default = "127.0.0.1"


class StatusPort(NamedParameter[int]):
    """The port of the status page (0: any free port; the job's status.json says which)."""

    default = 0
