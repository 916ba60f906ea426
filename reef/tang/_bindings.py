"""Checks of single bindings: an implementation for an interface, a value for a named parameter.
Shared by ``Configuration``, configuration modules and the YAML codec."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, get_origin

from reef.errors import Category, ClassHierarchyError, Problem
from reef.tang._naming import ResolveError, resolve
from reef.tang._params import NamedParameter
from reef.tang._types import ValueTypeError, coerce, describe, describe_value, implements

INVALID: Any = object()
"""Returned by ``check_parameter_value`` for a value it reported a problem about."""

_MUTABLE = (list, dict, set)


def thaw(value: Any) -> Any:
    """A fresh copy of a mutable container value, so no injection can change a configuration."""
    return copy.deepcopy(value) if isinstance(value, _MUTABLE) else value


def show(v: Any) -> str:
    """A value for messages: classes by name, everything else by ``repr``."""
    return describe(v) if isinstance(v, type) else repr(v)


def check_implementations(given: Mapping[Any, Any], problems: list[Problem]) -> dict[Any, type]:
    """The valid bindings of ``given`` (string paths resolved); problems are appended."""
    out: dict[Any, type] = {}
    for iface, impl in given.items():
        where = describe(iface)
        if isinstance(iface, type) and issubclass(iface, NamedParameter):
            problems.append(
                Problem(
                    Category.BIND,
                    where,
                    "is a named parameter, not an interface",
                    f"bind it with parameters={{{describe(iface)}: ...}}",
                )
            )
            continue
        if not isinstance(iface, type) and not isinstance(get_origin(iface), type):
            problems.append(
                Problem(Category.BIND, where, f"{describe_value(iface)} is not an interface class")
            )
            continue
        target = impl
        if isinstance(target, str):
            try:
                target = resolve(target)
            except ResolveError as e:
                problems.append(
                    Problem(Category.NAME_RESOLUTION, where, f"{impl!r}: {e}", subject=iface)
                )
                continue
        why = implements(target, iface)
        if why is not None:
            problems.append(
                Problem(
                    Category.BIND,
                    where,
                    f"cannot be bound to {show(target)}: {why}",
                    f"bind {describe(iface)} to a class that implements it",
                    subject=iface,
                )
            )
            continue
        out[iface] = target
    return out


def check_parameters(
    given: Mapping[Any, Any], problems: list[Problem]
) -> dict[type[NamedParameter[Any]], Any]:
    """The checked (and parsed) values of ``given``; problems are appended."""
    out: dict[type[NamedParameter[Any]], Any] = {}
    for param, value in given.items():
        checked = check_parameter_value(param, value, problems)
        if checked is not INVALID:
            out[param] = checked
    return out


def check_parameter_value(param: Any, value: Any, problems: list[Problem], where: str = "") -> Any:
    """``value`` checked (and parsed, if a string) for the named parameter ``param``; on failure
    a problem is appended and ``INVALID`` returned."""
    if not (isinstance(param, type) and issubclass(param, NamedParameter)):
        problems.append(
            Problem(
                Category.BIND,
                where or describe(param),
                f"{describe_value(param)} is not a named parameter",
                "parameters are keyed by NamedParameter subclasses",
            )
        )
        return INVALID
    name = where or describe(param)
    try:
        tp = param.value_type()
    except ClassHierarchyError as e:
        problems.extend(e.problems)
        return INVALID
    if param.is_implementation():
        if isinstance(value, str):
            try:
                value = resolve(value)
            except ResolveError as e:
                problems.append(
                    Problem(Category.NAME_RESOLUTION, name, f"{value!r}: {e}", subject=param)
                )
                return INVALID
        why = implements(value, tp)
        if why is not None:
            problems.append(
                Problem(
                    Category.BIND,
                    name,
                    f"expects an implementation of {describe(tp)}, got {show(value)}: {why}",
                    subject=param,
                )
            )
            return INVALID
        return value
    try:
        checked = coerce(value, tp)
    except ValueTypeError as e:
        problems.append(
            Problem(
                Category.BIND,
                name,
                str(e),
                f"give {describe(param)} a {describe(tp)}",
                subject=param,
            )
        )
        return INVALID
    return thaw(checked)
