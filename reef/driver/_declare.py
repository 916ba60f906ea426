"""``Driver`` and ``@on``: a driver is a class of event handlers, checked when it is defined.

Every problem of a driver class (an unknown event type, a handler with the wrong signature, two
handlers for one event) is reported in one ``DriverDefinitionError`` raised by the class
statement itself, long before anything runs.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from reef.driver._events import EVENT_TYPES, ServiceEvent
from reef.errors import DriverDefinitionError
from reef.tang._types import describe

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "__reef_on__"


def on(event_type: type) -> Callable[[F], F]:
    """Mark a method of a ``Driver`` as the handler of ``event_type`` (``@reef.on(StartTime)``).
    A method may handle several event types (stack the decorator); an event type has one
    handler per driver class."""

    def mark(method: F) -> F:
        marks: list[Any] = list(getattr(method, _MARK, ()))
        marks.append(event_type)
        try:
            setattr(method, _MARK, tuple(marks))
        except (AttributeError, TypeError):
            # e.g. a staticmethod in old Pythons; reported by Driver.__init_subclass__
            pass
        return method

    target: Any = event_type
    if inspect.isfunction(target):
        # Used bare (``@on`` without an event type): remember it so the class reports it.
        setattr(target, _MARK, (_Bare,))
        return target
    return mark


class _Bare:
    """Marks ``@on`` used without an event type."""


class Driver:
    """Base class of a job's driver: subclass it and mark handler methods with ``@reef.on``.

    The constructor is injected: it may ask for ``EvaluatorRequestor``, ``JobMessenger``,
    ``Clock``, named parameters (``Annotated[T, Param]``) and any bound class. Handlers run one at
    a time on the driver's dispatcher thread, so they need no locks; a handler that blocks delays
    the whole job. An event without a handler gets REEF's default: an evaluator or context nobody
    wants is closed, a completed activity's context is closed, failures and suspensions fail the
    job, anything else is logged.
    """

    __reef_handlers__: ClassVar[dict[type, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        problems: list[str] = []
        handlers: dict[type, str] = {}
        for base in reversed(cls.__mro__[1:]):
            handlers.update(getattr(base, "__reef_handlers__", {}))
        own: dict[type, str] = {}
        for name, raw in vars(cls).items():
            function = raw.__func__ if isinstance(raw, (staticmethod, classmethod)) else raw
            marks = getattr(raw, _MARK, None) or getattr(function, _MARK, None)
            if not marks:
                continue  # (an override of an inherited handler keeps handling its event)
            where = f"{describe(cls)}.{name}"
            if isinstance(raw, (staticmethod, classmethod)):
                problems.append(
                    f"{where}: a handler must be a plain method, not a {type(raw).__name__}"
                )
                continue
            if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
                problems.append(f"{where}: handlers are synchronous; remove 'async'")
                continue
            for event_type in marks:
                if event_type is _Bare:
                    problems.append(f"{where}: @on needs the event type, e.g. @on(reef.StartTime)")
                    continue
                if event_type not in EVENT_TYPES and not (
                    isinstance(event_type, type)
                    and issubclass(event_type, ServiceEvent)
                    and event_type is not ServiceEvent
                ):
                    known = ", ".join(t.__name__ for t in EVENT_TYPES)
                    problems.append(
                        f"{where}: @on({_describe(event_type)}) is not a driver event; "
                        f"use one of {known}, or a service's event (a ServiceEvent subclass)"
                    )
                    continue
                if event_type in own:
                    problems.append(
                        f"{where}: {event_type.__name__} is already handled by "
                        f"{describe(cls)}.{own[event_type]}; one handler per event"
                    )
                    continue
                own[event_type] = name
                problems.extend(_check_signature(where, function, event_type))
        handlers.update(own)
        if problems:
            raise DriverDefinitionError(describe(cls), problems)
        cls.__reef_handlers__ = handlers


def _describe(obj: Any) -> str:
    return describe(obj) if isinstance(obj, type) else repr(obj)


def _check_signature(where: str, function: Any, event_type: type) -> list[str]:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as e:
        return [f"{where}: cannot read its signature ({e})"]
    params = list(signature.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [
        p
        for p in params
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    takes_varargs = any(p.kind is p.VAR_POSITIONAL for p in params)
    if len(positional) < 2 and not takes_varargs:
        count = len(positional)
        return [f"{where}: a handler takes (self, event); it takes {count} positional parameters"]
    if len(required) > 2:
        extra = [p.name for p in required[2:]]
        return [f"{where}: a handler takes (self, event); parameters {extra} have no default"]
    if len(positional) >= 2:
        try:
            hints = typing.get_type_hints(function)
        except Exception:  # an annotation that does not resolve is not ours to judge here
            return []
        annotation = hints.get(positional[1].name)
        if (
            isinstance(annotation, type)
            and annotation is not event_type
            and not issubclass(event_type, annotation)
        ):
            return [
                f"{where}: handles {event_type.__name__} but its event parameter is annotated "
                f"{annotation.__name__}"
            ]
    return []


def handlers_of(driver_class: type[Driver]) -> dict[type, str]:
    """Event type -> method name for a driver class."""
    return dict(driver_class.__reef_handlers__)
