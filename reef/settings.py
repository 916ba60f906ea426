"""Job settings: named parameters of the driver's configuration that govern the control plane.

``reef.run(MyDriver, parameters={reef.settings.HeartbeatPeriod: 0.5})``.
"""

from reef.common._settings import (
    DriverTimeout,
    EvaluatorTimeout,
    FastPath,
    HeartbeatPeriod,
    MaxMessageBytes,
    RegistrationTimeout,
    StatusHost,
    StatusPage,
    StatusPort,
)

__all__ = [
    "DriverTimeout",
    "EvaluatorTimeout",
    "FastPath",
    "HeartbeatPeriod",
    "MaxMessageBytes",
    "RegistrationTimeout",
    "StatusHost",
    "StatusPage",
    "StatusPort",
]
