"""Declarations: named parameters, configuration-module slots and default implementations.

A named parameter is a class: ``class Iterations(NamedParameter[int]): default = 10``, with its
docstring as documentation, asked for in a constructor as ``Annotated[int, Iterations]``. Its
declaration is checked when the class is defined.
"""

from __future__ import annotations

import sys
import typing
import weakref
from typing import Any, ClassVar, Generic, TypeVar, get_args, get_origin

from reef.errors import Category, ClassHierarchyError, Problem
from reef.tang._naming import ResolveError, class_path, resolve
from reef.tang._types import check_value, describe, describe_value, implements, is_value_type

T = TypeVar("T")

_NO_TYPE = object()


class NamedParameter(Generic[T]):
    """A named, typed, documented configuration value: subclass it as
    ``class Name(NamedParameter[T])`` with an optional ``default`` (a ``T``) and a docstring.

    ``T`` is a value type (``int``, ``str``, ``list[float]``, ``type[Store]``, ...) or a class: a
    parameter of a class type is bound to an implementation class, and constructors asking for
    ``Annotated[Store, Name]`` receive an instance of it (two parameters of one type, told apart
    by name). A named parameter is never instantiated.
    """

    default: ClassVar[Any]
    short_name: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        problems = _check_declaration(cls)
        if problems:
            raise ClassHierarchyError.of(problems)

    def __new__(cls, *args: Any, **kwargs: Any) -> NamedParameter[T]:
        raise TypeError(
            f"{describe(cls)} is a named parameter: it is never instantiated; ask for "
            f"Annotated[T, {describe(cls)}] in a constructor instead"
        )

    @classmethod
    def value_type(cls) -> Any:
        """``T``: the type of this parameter's values."""
        tp = cls.__dict__.get("_reef_type", _NO_TYPE)
        if tp is _NO_TYPE:
            raise TypeError(f"{describe(cls)} is not a concrete named parameter")
        if isinstance(tp, typing.ForwardRef):
            tp = _resolve_forward(cls, tp)
            cls._reef_type = tp  # type: ignore[attr-defined]
        return tp

    @classmethod
    def has_default(cls) -> bool:
        """Whether the declaration gives a default value."""
        return "default" in cls.__dict__

    @classmethod
    def is_implementation(cls) -> bool:
        """Whether values are implementation classes (``T`` is a class, not a value type)."""
        return not is_value_type(cls.value_type())

    @classmethod
    def documentation(cls) -> str:
        """The docstring: what this parameter means."""
        return (cls.__doc__ or "").strip()


def _type_argument(cls: type) -> Any:
    for base in getattr(cls, "__orig_bases__", ()):
        if get_origin(base) is NamedParameter:
            args = get_args(base)
            return args[0] if args else _NO_TYPE
    return _NO_TYPE


def _resolve_forward(cls: type, ref: typing.ForwardRef) -> Any:
    namespace = vars(sys.modules[cls.__module__]) if cls.__module__ in sys.modules else {}
    try:
        return eval(ref.__forward_arg__, dict(namespace))  # a type expression, as typing does
    except Exception as e:
        raise ClassHierarchyError(
            [
                Problem(
                    Category.CLASS_HIERARCHY,
                    _np_name(cls),
                    f"cannot resolve its type {ref.__forward_arg__!r}: {e}",
                    "the type must be importable from the parameter's module",
                    subject=cls,
                )
            ]
        ) from None


def _np_name(cls: type) -> str:
    return describe(cls)


def _check_declaration(cls: type[NamedParameter[Any]]) -> list[Problem]:
    """Every problem of a named parameter declaration (empty if it is well formed)."""
    name = _np_name(cls)

    def problem(message: str, hint: str | None = None) -> Problem:
        return Problem(Category.CLASS_HIERARCHY, name, message, hint, subject=cls)

    problems: list[Problem] = []
    for base in cls.__mro__[1:]:
        if base is not NamedParameter and issubclass(base, NamedParameter):
            problems.append(
                problem(
                    f"subclasses the named parameter {describe(base)}",
                    "declare each named parameter directly as class X(NamedParameter[T])",
                )
            )
            return problems
    tp = _type_argument(cls)
    if isinstance(tp, str):
        tp = typing.ForwardRef(tp)
    if tp is _NO_TYPE or isinstance(tp, typing.TypeVar) or tp is Any:
        problems.append(
            problem(
                "has no concrete type",
                f"declare it as class {describe(cls)}(NamedParameter[int]) (or another type)",
            )
        )
        tp = _NO_TYPE
    cls._reef_type = tp  # type: ignore[attr-defined]
    if "__init__" in cls.__dict__:
        problems.append(problem("defines __init__, but named parameters are never instantiated"))
    if tp is not _NO_TYPE and not isinstance(tp, typing.ForwardRef) and "default" in cls.__dict__:
        default = cls.__dict__["default"]
        if is_value_type(tp):
            why = check_value(default, tp)
            if why is not None:
                problems.append(
                    problem(f"default {describe_value(default)} is not a {describe(tp)}: {why}")
                )
        else:
            why = implements(default, tp)
            if why is not None:
                problems.append(
                    problem(
                        f"default is not an implementation of {describe(tp)}: {why}",
                        "the default of a parameter of a class type is an implementation class",
                    )
                )
    short = cls.__dict__.get("short_name")
    if short is not None and (not isinstance(short, str) or not short.isidentifier()):
        problems.append(problem(f"short_name {short!r} is not an identifier"))
    return problems


# ---------------------------------------------------------------------------------------------
# configuration-module slots


class Slot(Generic[T]):
    """A configuration-module option, declared as a class attribute of a
    ``ConfigurationModuleBuilder`` subclass: ``NAME = RequiredParameter[str]()``."""

    required: ClassVar[bool] = False
    implementation: ClassVar[bool] = False

    def __init__(self) -> None:
        self.owner: type | None = None
        self.name: str | None = None
        self.aliases: list[str] = []

    def __set_name__(self, owner: type, name: str) -> None:
        if self.owner is not None:
            self.aliases.append(f"{describe(owner)}.{name}")
            return
        self.owner, self.name = owner, name

    @property
    def value_type(self) -> Any:
        """The slot's declared type ``T`` (``_NO_TYPE``-like ``None`` if it was not given)."""
        orig = self.__dict__.get("__orig_class__")
        if orig is None:
            return None
        args = get_args(orig)
        return args[0] if args else None

    @property
    def kind(self) -> str:
        """A readable kind: ``RequiredParameter`` etc."""
        return type(self).__name__

    def __repr__(self) -> str:
        if self.owner is None:
            return f"<unattached {self.kind}>"
        return f"{describe(self.owner)}.{self.name}"


class RequiredParameter(Slot[T]):
    """A parameter value the module's user must ``set`` before ``build``."""

    required = True


class OptionalParameter(Slot[T]):
    """A parameter value the module's user may ``set``; unset, the parameter's default holds."""


class RequiredImpl(Slot[T]):
    """An implementation class the module's user must ``set`` before ``build``."""

    required = True
    implementation = True


class OptionalImpl(Slot[T]):
    """An implementation class the module's user may ``set``."""

    implementation = True


# ---------------------------------------------------------------------------------------------
# default implementations

_defaults: weakref.WeakKeyDictionary[type, type | str] = weakref.WeakKeyDictionary()

ClassT = TypeVar("ClassT", bound=type)


def default_implementation(impl: type | str) -> typing.Callable[[ClassT], ClassT]:
    """Class decorator: the implementation used for an interface when nothing is bound to it.

    ``impl`` is a class or its import path ``"module:qualname"`` (the string form lets an
    interface name an implementation defined after it). An explicit binding always wins.
    """

    def decorate(iface: ClassT) -> ClassT:
        _defaults[iface] = impl
        return iface

    return decorate


def default_implementation_of(iface: Any) -> tuple[type | None, str | None]:
    """``(implementation, problem)`` declared for ``iface`` with ``@default_implementation``."""
    if not isinstance(iface, type):
        return None, None
    impl = _defaults.get(iface)
    if impl is None:
        return None, None
    if isinstance(impl, str):
        try:
            impl = resolve(impl)
        except ResolveError as e:
            return None, f"its default implementation {impl!r} does not resolve: {e}"
    why = implements(impl, iface)
    if why is not None:
        return None, f"its default implementation is not a subclass: {why}"
    assert isinstance(impl, type)
    return impl, None


def describe_key(key: Any) -> str:
    """A readable name for a binding key (interface, generic alias or named parameter)."""
    return describe(key)


def path_of(key: Any) -> str:
    """The import path of a binding key for documents and messages."""
    return class_path(key)
