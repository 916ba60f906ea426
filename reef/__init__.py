"""reef: retainable evaluators for Python, on YARN and on one machine.

This module only re-exports the public names of the project; nothing inside ``reef`` imports it.
Configuration lives in :mod:`reef.tang`, event stages in :mod:`reef.wake`.
"""

from reef.errors import ReefError

__version__ = "0.1.0.dev0"

__all__ = ["ReefError", "__version__"]
