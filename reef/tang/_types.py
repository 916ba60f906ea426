"""Types as Tang sees them: which types are values, deep value checks, string parsing, and the
plain (YAML-ready) form of values.

A *value type* is data that can be written into a configuration and shipped to another process:
``bool``, ``int``, ``float``, ``str``, ``bytes``, ``None``, ``pathlib`` paths, enums, ``Literal``,
``list``/``tuple``/``set``/``frozenset``/``dict`` of value types, unions of value types, and
``type[C]`` (a class, shipped as its import path). Any other class is an *implementation type*:
configurations bind it to a class that implements it.
"""

from __future__ import annotations

import enum
import inspect
import pathlib
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union, get_args, get_origin

import yaml

from reef.tang._naming import ResolveError, class_path, resolve

NoneType = type(None)
_SCALARS: tuple[type, ...] = (bool, int, float, str, bytes, NoneType)
_CONTAINERS: tuple[type, ...] = (list, tuple, set, frozenset, dict)
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class ValueTypeError(TypeError):
    """A value that does not fit its declared type; the message says where and why."""


def is_union(tp: Any) -> bool:
    """Whether ``tp`` is ``Union[...]``, ``Optional[...]`` or ``A | B``."""
    return get_origin(tp) in (Union, types.UnionType)


def is_protocol(tp: Any) -> bool:
    """Whether ``tp`` is a ``typing.Protocol`` class (structural interface)."""
    return isinstance(tp, type) and bool(getattr(tp, "_is_protocol", False))


def describe(tp: Any) -> str:
    """A short, readable name for a type: ``int``, ``list[str]``, ``Store``, ``Literal['a']``."""
    if tp is NoneType or tp is None:
        return "None"
    if tp is Any:
        return "Any"
    origin = get_origin(tp)
    if origin is None:
        return _short(getattr(tp, "__qualname__", None) or repr(tp))
    args = get_args(tp)
    if is_union(tp):
        return " | ".join(describe(a) for a in args)
    if origin is Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin is typing.Annotated:
        return describe(args[0])
    name = _short(getattr(origin, "__qualname__", None) or repr(origin))
    if not args:
        return name
    inner = ", ".join("..." if a is Ellipsis else describe(a) for a in args)
    return f"{name}[{inner}]"


def _short(qualname: str) -> str:
    # classes defined in functions read better without their "f.<locals>." prefix
    return qualname.rpartition("<locals>.")[2]


def describe_value(value: Any) -> str:
    """``repr`` of a value with its type, shortened: ``'ten' (str)``."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    if isinstance(value, type):
        return f"class {describe(value)}"
    return f"{text} ({_short(type(value).__qualname__)})"


def is_value_type(tp: Any) -> bool:
    """Whether values of ``tp`` are data a configuration can carry (see the module docstring)."""
    if tp in _SCALARS or tp is None:
        return True
    if isinstance(tp, type) and (issubclass(tp, enum.Enum) or issubclass(tp, pathlib.PurePath)):
        return True
    origin = get_origin(tp)
    if origin is None:
        return False
    args = get_args(tp)
    if origin is Literal:
        return all(isinstance(a, (*_SCALARS, enum.Enum)) for a in args)
    if is_union(tp):
        return all(is_value_type(a) for a in args)
    if origin is type:
        return True
    if origin in (list, set, frozenset):
        return len(args) == 1 and is_value_type(args[0])
    if origin is tuple:
        return all(a is Ellipsis or is_value_type(a) for a in args)
    if origin is dict:
        return len(args) == 2 and _is_key_type(args[0]) and is_value_type(args[1])
    return False


def _is_key_type(tp: Any) -> bool:
    if tp in (str, int, float, bool):
        return True
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return True
    if get_origin(tp) is Literal:
        return is_value_type(tp)
    return is_union(tp) and all(_is_key_type(a) for a in get_args(tp))


def bare_value_types() -> tuple[type, ...]:
    """Unparameterized containers and scalars: a constructor parameter of one of these types needs
    a name (``Annotated[T, SomeParameter]``) or a default to be injectable."""
    return (*_SCALARS, *_CONTAINERS, complex, bytearray, pathlib.PurePath)


def is_primitive_annotation(tp: Any) -> bool:
    """Whether a parameter annotated ``tp`` takes a plain value (never injected by type)."""
    if is_value_type(tp):
        return True
    origin = get_origin(tp)
    if origin in _CONTAINERS:
        return True
    return isinstance(tp, type) and issubclass(tp, bare_value_types())


# ---------------------------------------------------------------------------------------------
# implements


def implements(impl: Any, iface: Any) -> str | None:
    """``None`` if class ``impl`` implements ``iface``, else why not.

    Handles plain classes, abstract classes, parameterized generics (``Handler[int]``, compared
    through ``__orig_bases__``) and structural ``Protocol``s (every member present).
    """
    if not isinstance(impl, type):
        return f"{describe_value(impl)} is not a class"
    if iface is Any or iface is object:
        return None
    origin = get_origin(iface)
    if origin is not None and origin is not type and isinstance(origin, type):
        if is_protocol(origin):
            return _implements_protocol(impl, origin)
        if not issubclass(impl, origin):
            return f"{describe(impl)} is not a subclass of {describe(origin)}"
        return _generic_args_match(impl, iface)
    if not isinstance(iface, type):
        return f"{describe(iface)} is not a class an implementation can be bound to"
    if is_protocol(iface):
        return _implements_protocol(impl, iface)
    if not issubclass(impl, iface):
        return f"{describe(impl)} is not a subclass of {describe(iface)}"
    return None


_PROTOCOL_SKIP = frozenset(
    {
        "__abstractmethods__",
        "__annotations__",
        "__dict__",
        "__doc__",
        "__init__",
        "__module__",
        "__new__",
        "__slots__",
        "__subclasshook__",
        "__weakref__",
        "__class_getitem__",
        "__parameters__",
        "__orig_bases__",
        "__protocol_attrs__",
        "__non_callable_proto_members__",
        "__qualname__",
        "__init_subclass__",
        "__type_params__",
        "__static_attributes__",
        "__firstlineno__",
        "_is_protocol",
        "_is_runtime_protocol",
        "__callable_proto_members_only__",
    }
)


def protocol_members(proto: type) -> list[str]:
    """The attribute names a ``Protocol`` requires of its implementations."""
    names: list[str] = []
    for base in proto.__mro__:
        if base in (object, typing.Generic) or base is typing.Protocol:
            continue
        if not getattr(base, "_is_protocol", False):
            continue
        for name in (*base.__dict__, *getattr(base, "__annotations__", {})):
            if name not in _PROTOCOL_SKIP and not name.startswith("_abc_") and name not in names:
                names.append(name)
    return names


def _implements_protocol(impl: type, proto: type) -> str | None:
    missing: list[str] = []
    for name in protocol_members(proto):
        wanted = inspect.getattr_static(proto, name, None)
        if not hasattr(impl, name) and name not in getattr(impl, "__annotations__", {}):
            missing.append(name)
        elif callable(wanted) and not callable(getattr(impl, name, None)):
            missing.append(f"{name} (not callable)")
    if missing:
        return f"{describe(impl)} does not implement protocol {describe(proto)}: missing {missing}"
    return None


def _generic_args_match(impl: type, iface: Any) -> str | None:
    origin, wanted = get_origin(iface), get_args(iface)
    for klass in impl.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            if get_origin(base) is not origin:
                continue
            got = get_args(base)
            if any(isinstance(a, typing.TypeVar) for a in got):
                return None  # still generic at this level: cannot be told apart statically
            if got == wanted:
                return None
            return f"{describe(impl)} implements {describe(base)}, not {describe(iface)}"
    return None  # subclass of the bare generic: its parameters are unconstrained


# ---------------------------------------------------------------------------------------------
# deep value checks


def check_value(value: Any, tp: Any) -> str | None:
    """``None`` if ``value`` is a ``tp``, else a message saying where and why it is not.

    Deep: ``list[int]`` checks every element, ``dict[str, float]`` every key and value. ``bool`` is
    not accepted as an ``int``; an ``int`` is accepted as a ``float`` (as in Python's typing).
    """
    try:
        _check(value, tp, "")
    except ValueTypeError as e:
        return str(e)
    return None


def _fail(where: str, tp: Any, value: Any) -> typing.NoReturn:
    at = f"at {where}: " if where else ""
    raise ValueTypeError(f"{at}expected {describe(tp)}, got {describe_value(value)}")


def _check(value: Any, tp: Any, where: str) -> None:
    if tp is Any or tp is object:
        return
    if tp is None or tp is NoneType:
        if value is not None:
            _fail(where, tp, value)
        return
    if tp is bool:
        if not isinstance(value, bool):
            _fail(where, tp, value)
        return
    if tp is int:
        if not isinstance(value, int) or isinstance(value, bool):
            _fail(where, tp, value)
        return
    if tp is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            _fail(where, tp, value)
        return
    origin = get_origin(tp)
    if origin is None:
        if isinstance(tp, type):
            if not isinstance(value, tp):
                _fail(where, tp, value)
            return
        raise ValueTypeError(f"cannot check values of {describe(tp)}")
    args = get_args(tp)
    if is_union(tp):
        for member in args:
            if check_value(value, member) is None:
                return
        _fail(where, tp, value)
    if origin is Literal:
        if not any(type(value) is type(a) and value == a for a in args):
            _fail(where, tp, value)
        return
    if origin is type:
        want = args[0] if args else Any
        problem = implements(value, want) if isinstance(value, type) else "not a class"
        if problem is not None:
            at = f"at {where}: " if where else ""
            raise ValueTypeError(f"{at}expected a class implementing {describe(want)}: {problem}")
        return
    if origin in (list, set, frozenset):
        if not isinstance(value, origin):
            _fail(where, tp, value)
        (item,) = args or (Any,)
        for i, v in enumerate(value):
            _check(v, item, f"{where}[{i}]" if origin is list else f"{where}{{{v!r}}}")
        return
    if origin is tuple:
        if not isinstance(value, tuple):
            _fail(where, tp, value)
        if len(args) == 2 and args[1] is Ellipsis:
            for i, v in enumerate(value):
                _check(v, args[0], f"{where}[{i}]")
            return
        if len(value) != len(args):
            at = f"at {where}: " if where else ""
            raise ValueTypeError(
                f"{at}expected {describe(tp)} ({len(args)} items), got {len(value)} items"
            )
        for i, (v, a) in enumerate(zip(value, args, strict=True)):
            _check(v, a, f"{where}[{i}]")
        return
    if origin is dict:
        if not isinstance(value, dict):
            _fail(where, tp, value)
        kt, vt = args or (Any, Any)
        for k, v in value.items():
            _check(k, kt, f"{where}{{key {k!r}}}")
            _check(v, vt, f"{where}[{k!r}]")
        return
    if isinstance(origin, type):
        if not isinstance(value, origin):
            _fail(where, tp, value)
        return
    raise ValueTypeError(f"cannot check values of {describe(tp)}")


# ---------------------------------------------------------------------------------------------
# coercion from strings (command lines, hand-written settings)


def coerce(value: Any, tp: Any) -> Any:
    """``value`` checked against ``tp``; a string given for a non-string type is parsed first.

    Raises ``ValueTypeError`` saying what was expected and what was given.
    """
    problem = check_value(value, tp)
    if problem is None:
        return value
    if isinstance(value, str) and not _accepts_str(tp):
        parsed = parse_string(value, tp)
        again = check_value(parsed, tp)
        if again is None:
            return parsed
        raise ValueTypeError(f"{value!r} parsed as {describe_value(parsed)}, but {again}")
    raise ValueTypeError(problem)


def _accepts_str(tp: Any) -> bool:
    if tp is str or tp is Any or tp is object:
        return True
    if is_union(tp):
        return any(_accepts_str(a) for a in get_args(tp))
    if get_origin(tp) is Literal:
        return any(isinstance(a, str) for a in get_args(tp))
    return False


def parse_string(text: str, tp: Any) -> Any:
    """Parse ``text`` as a ``tp``: numbers, booleans (true/false/yes/no/on/off/1/0), paths, enum
    member names, class paths (``module:qualname``) for ``type[C]``, and YAML flow syntax for
    containers (``[1, 2]``, ``{a: 1}``). Raises ``ValueTypeError`` if it does not parse."""
    stripped = text.strip()
    try:
        if tp is bool:
            low = stripped.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError("expected true/false, yes/no, on/off or 1/0")
        if tp is int:
            return int(stripped, 0) if stripped[:2].lower() in ("0x", "0o", "0b") else int(stripped)
        if tp is float:
            return float(stripped)
        if tp is bytes:
            return text.encode()
        if tp is NoneType or tp is None:
            if stripped.lower() in ("", "none", "null", "~"):
                return None
            raise ValueError("expected none/null")
        if isinstance(tp, type) and issubclass(tp, pathlib.PurePath):
            return tp(text)
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            try:
                return tp[stripped]
            except KeyError:
                raise ValueError(f"expected one of {[m.name for m in tp]}") from None
        origin = get_origin(tp)
        if origin is type:
            return resolve(stripped)
        if is_union(tp):
            for member in get_args(tp):
                try:
                    value = parse_string(text, member)
                except ValueTypeError:
                    continue
                if check_value(value, member) is None:
                    return value
            raise ValueError(f"fits none of {describe(tp)}")
        if origin is Literal:
            for a in get_args(tp):
                if isinstance(a, str) and a == text:
                    return a
                if not isinstance(a, str) and type(a) is not bool and str(a) == stripped:
                    return a
                if isinstance(a, bool) and stripped.lower() == str(a).lower():
                    return a
            raise ValueError(f"expected one of {list(get_args(tp))}")
        if origin in _CONTAINERS:
            data = yaml.safe_load(text)
            return from_plain(data, tp, resolve)
    except (ValueError, ValueTypeError, ResolveError, yaml.YAMLError) as e:
        raise ValueTypeError(f"cannot parse {text!r} as {describe(tp)}: {e}") from None
    raise ValueTypeError(f"cannot parse {text!r} as {describe(tp)}: no parser for that type")


# ---------------------------------------------------------------------------------------------
# plain form: what YAML carries


def to_plain(value: Any, tp: Any) -> Any:
    """The YAML-ready form of ``value`` (already checked against ``tp``): tuples and sets become
    lists, paths strings, enums their member names, classes ``module:qualname``."""
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, type):
        return class_path(value)
    origin = get_origin(tp)
    if is_union(tp):
        for member in get_args(tp):
            if check_value(value, member) is None:
                return to_plain(value, member)
    args = get_args(tp)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        if isinstance(value, (set, frozenset)):
            items.sort(key=repr)  # a stable document for equal sets
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return [to_plain(v, a) for v, a in zip(items, args, strict=True)]
        item_tp = args[0] if args else Any
        return [to_plain(v, item_tp) for v in items]
    if isinstance(value, dict):
        kt, vt = args or (Any, Any)
        return {to_plain(k, kt): to_plain(v, vt) for k, v in value.items()}
    raise ValueTypeError(f"cannot write {describe_value(value)} into a configuration")


def from_plain(data: Any, tp: Any, resolver: Callable[[str], Any]) -> Any:
    """The value of type ``tp`` that ``data`` (from YAML) stands for; raises ``ValueTypeError``
    or ``ResolveError`` (for a class path that does not resolve)."""
    if tp is Any or tp is object:
        return data
    if isinstance(tp, type) and issubclass(tp, pathlib.PurePath) and isinstance(data, str):
        return tp(data)
    if isinstance(tp, type) and issubclass(tp, enum.Enum) and isinstance(data, str):
        try:
            return tp[data]
        except KeyError:
            raise ValueTypeError(
                f"{data!r} is not a member of {describe(tp)} (one of {[m.name for m in tp]})"
            ) from None
    origin = get_origin(tp)
    args = get_args(tp)
    if is_union(tp):
        # exact matches first, so that YAML's own scalar types pick the member
        if check_value(data, tp) is None and not any(
            _needs_conversion(a) for a in args if check_value(data, a) is None
        ):
            return data
        errors = []
        for member in args:
            try:
                value = from_plain(data, member, resolver)
            except (ValueTypeError, ResolveError) as e:
                errors.append(str(e))
                continue
            if check_value(value, member) is None:
                return value
        raise ValueTypeError(f"expected {describe(tp)}, got {describe_value(data)}")
    if origin is type:
        if not isinstance(data, str):
            raise ValueTypeError(
                f"expected a class path 'module:qualname', got {describe_value(data)}"
            )
        return resolver(data)
    if origin in (list, set, frozenset, tuple):
        if not isinstance(data, list):
            raise ValueTypeError(
                f"expected {describe(tp)} (a YAML list), got {describe_value(data)}"
            )
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(data) != len(args):
                raise ValueTypeError(
                    f"expected {describe(tp)} ({len(args)} items), got {len(data)} items"
                )
            return tuple(from_plain(d, a, resolver) for d, a in zip(data, args, strict=True))
        item = args[0] if args else Any
        items = [from_plain(d, item, resolver) for d in data]
        if origin is list:
            return items
        return origin(items)
    if origin is dict:
        if not isinstance(data, dict):
            raise ValueTypeError(
                f"expected {describe(tp)} (a YAML mapping), got {describe_value(data)}"
            )
        kt, vt = args or (Any, Any)
        return {from_plain(k, kt, resolver): from_plain(v, vt, resolver) for k, v in data.items()}
    return data


def _needs_conversion(tp: Any) -> bool:
    if isinstance(tp, type) and issubclass(tp, (pathlib.PurePath, enum.Enum)):
        return True
    return get_origin(tp) in (type, tuple, set, frozenset)
