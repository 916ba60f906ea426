"""Event handlers: the one contract every Wake component shares."""

from __future__ import annotations

import logging
import reprlib
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

T = TypeVar("T")

EventHandler: TypeAlias = Callable[[T], None]
"""Any callable ``(event) -> None``. Stages receive their downstream handler when they are built."""

ErrorHandler: TypeAlias = Callable[[BaseException, Any], None]
"""``(exception, event) -> None``: told about every event whose handler raised."""

log = logging.getLogger("reef.wake")


def describe(handler: object) -> str:
    """A short, readable name for ``handler``, used as a stage's default name."""
    name = getattr(handler, "__qualname__", None)
    if not isinstance(name, str):
        name = type(handler).__qualname__
    return name.replace(".<locals>", "")


def short_repr(event: object) -> str:
    """``repr(event)``, cut short so that a failure log stays readable for large events."""
    return reprlib.repr(event)
