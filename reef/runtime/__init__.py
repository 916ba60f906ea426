"""Runtimes: where evaluators run. The runtime interface, the local runtime (child processes) and
the YARN runtime (containers through skein).

May import: ``reef.errors``, ``reef.tang``, ``reef.wake`` and the runtime interface; only
``reef.runtime.yarn`` imports ``skein``.
"""

from reef.runtime.local import LocalRuntime

__all__ = ["LocalRuntime"]
