"""``Configuration``: an immutable set of bindings (interfaces to implementations, named
parameters to values), checked when it is made and planned statically on demand."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from reef.errors import Category, ConfigurationError, Problem
from reef.tang._bindings import check_implementations, check_parameters, show, thaw
from reef.tang._codec import dump, load
from reef.tang._params import NamedParameter
from reef.tang._plan import Planner, PlanResult, render
from reef.tang._types import describe, describe_value


class Configuration:
    """An immutable set of bindings: ``implementations`` (interface -> implementation class) and
    ``parameters`` (named parameter -> value).

    ``Configuration()`` is empty. Values are checked against their parameter's type when the
    configuration is made (a string given for a non-string type is parsed); every problem is
    reported in one ``BindError``. ``a.merge(b)`` combines configurations; a key bound to two
    different values is an error, never silently replaced.
    """

    __slots__ = ("__weakref__", "_cache", "_hash", "_impls", "_lock", "_params")

    _impls: Mapping[Any, type]
    _params: Mapping[type[NamedParameter[Any]], Any]

    def __init__(
        self,
        *,
        implementations: Mapping[Any, type | str] | None = None,
        parameters: Mapping[type[NamedParameter[Any]], Any] | None = None,
    ) -> None:
        problems: list[Problem] = []
        impls = check_implementations(implementations or {}, problems)
        params = check_parameters(parameters or {}, problems)
        if problems:
            raise ConfigurationError.of(problems)
        self._init(impls, params)

    def _init(self, impls: dict[Any, type], params: dict[type[NamedParameter[Any]], Any]) -> None:
        self._impls = MappingProxyType(impls)
        self._params = MappingProxyType(params)
        self._cache: dict[tuple[Any, ...], PlanResult] = {}
        self._lock = threading.Lock()
        self._hash: int | None = None

    @classmethod
    def _trusted(
        cls, impls: dict[Any, type], params: dict[type[NamedParameter[Any]], Any]
    ) -> Configuration:
        """A configuration from bindings already checked by the caller."""
        conf = cls.__new__(cls)
        conf._init(impls, params)
        return conf

    # -- reading -------------------------------------------------------------------------------

    @property
    def implementations(self) -> Mapping[Any, type]:
        """Interface -> implementation class, read-only."""
        return self._impls

    @property
    def parameters(self) -> Mapping[type[NamedParameter[Any]], Any]:
        """Named parameter -> value, read-only."""
        return self._params

    def value_of(self, param: type[NamedParameter[Any]]) -> Any:
        """The value bound to ``param`` here, else its default; ``KeyError`` if neither."""
        if param in self._params:
            return thaw(self._params[param])
        if param.has_default():
            return thaw(param.default)
        raise KeyError(param)

    def __bool__(self) -> bool:
        return bool(self._impls or self._params)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Configuration):
            return NotImplemented
        return dict(self._impls) == dict(other._impls) and dict(self._params) == dict(other._params)

    def __hash__(self) -> int:
        # Configurations key the caches of plans and checks: hash once.
        if self._hash is None:
            self._hash = hash((frozenset(self._impls.items()), frozenset(self._params)))
        return self._hash

    def __repr__(self) -> str:
        parts = [f"{describe(k)}: {describe(v)}" for k, v in self._impls.items()]
        parts += [f"{describe(k)}: {v!r}" for k, v in self._params.items()]
        return f"Configuration({{{', '.join(parts)}}})"

    # -- combining -------------------------------------------------------------------------------

    def merge(self, *others: Configuration) -> Configuration:
        """The union of this configuration and ``others``; a conflict is a ``BindError`` listing
        every key bound to two different values."""
        impls = dict(self._impls)
        params = dict(self._params)
        problems: list[Problem] = []
        for other in others:
            if not isinstance(other, Configuration):
                raise TypeError(f"merge() takes Configurations, got {describe_value(other)}")
            _merge_into(impls, other._impls, problems)
            _merge_into(params, other._params, problems)
        if problems:
            raise ConfigurationError.of(problems)
        return Configuration._trusted(impls, params)

    # -- checking --------------------------------------------------------------------------------

    def plan_result(
        self,
        root: Any,
        existing: Mapping[Any, str] | None = None,
    ) -> PlanResult:
        """The static plan for ``root`` (cached; nothing is instantiated). ``existing`` maps keys
        whose instances will be supplied (provided or inherited) to a description of where from."""
        existing = existing or {}
        key = (root, frozenset(existing.items()))
        result = self._cache.get(key)
        if result is None:
            result = Planner(self._impls, self._params, existing).plan(root)
            with self._lock:
                if len(self._cache) > 4096:  # keep a long-lived configuration's memory bounded
                    self._cache.clear()
                self._cache[key] = result
        return result

    def check(self, *roots: Any, provided: Iterable[Any] = ()) -> None:
        """Statically check that every root can be injected with this configuration (and with
        instances of the ``provided`` types supplied at injection time). Raises one
        ``ConfigurationError`` listing every problem; instantiates nothing."""
        existing = dict.fromkeys(provided, "provided")
        problems: list[Problem] = []
        for root in roots:
            problems.extend(self.plan_result(root, existing).problems)
        if problems:
            raise ConfigurationError.of(problems)

    def explain(self, root: Any, provided: Iterable[Any] = ()) -> str:
        """The injection plan for ``root`` as indented text (or its problems)."""
        return render(self.plan_result(root, dict.fromkeys(provided, "provided")))

    # -- serialization ---------------------------------------------------------------------------

    def to_yaml(self) -> str:
        """This configuration as a YAML document (classes as ``module:qualname``)."""
        return dump(self._impls, self._params)

    @classmethod
    def from_yaml(
        cls, text: str | bytes, *roots: Any, provided: Iterable[Any] = ()
    ) -> Configuration:
        """Load a document written by ``to_yaml``, re-running every check (names resolve, values
        fit their types, and each of ``roots`` can be injected)."""
        conf = Configuration._trusted(*load(text))
        if roots:
            conf.check(*roots, provided=provided)
        return conf


def _merge_into(into: dict[Any, Any], other: Mapping[Any, Any], problems: list[Problem]) -> None:
    for k, v in other.items():
        if k in into and not _same(into[k], v):
            problems.append(
                Problem(
                    Category.BIND,
                    describe(k),
                    f"bound to two different values: {show(into[k])} and {show(v)}",
                    "bindings are never replaced; bind each key in one place",
                )
            )
        else:
            into[k] = v


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and (a is b or a == b)
