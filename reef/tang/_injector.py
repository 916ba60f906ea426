"""Injection on top of the ``injector`` package.

Tang plans statically (``_plan``), then installs exactly the planned bindings into an
``injector.Injector(auto_bind=False)``: one singleton-scoped provider per constructed class,
aliases for interfaces. ``injector`` supplies the binder, the per-injector singleton scope, the
parent chain of child injectors and ``ProviderOf``; Tang supplies the checks, the defaults and the
values, so none of ``injector``'s own guessing (``int()`` for an ``int``, dropped defaults) applies.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from typing import Any, TypeVar

import injector as di

from reef.errors import Category, ConfigurationError, Problem
from reef.tang._config import Configuration
from reef.tang._params import NamedParameter
from reef.tang._plan import (
    Bound,
    Build,
    Existing,
    Future,
    Node,
    Param,
    PlanResult,
    Value,
    render,
)
from reef.tang._types import describe, describe_value

T = TypeVar("T")

_VALUE, _GET, _FUTURE = 0, 1, 2
_DEEP = 40  # plans deeper than this are made bottom up
_FORK_CACHE = 64


class InjectionPlan:
    """What an injector would do to make one object, decided without instantiating anything.

    ``str(plan)`` is an indented tree; ``feasible`` says whether it can be carried out and
    ``problems`` why not.
    """

    __slots__ = ("_result",)

    def __init__(self, result: PlanResult) -> None:
        self._result = result

    @property
    def feasible(self) -> bool:
        """Whether the plan can be carried out."""
        return self._result.node is not None

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Why the plan cannot be carried out (empty if it can)."""
        return tuple(self._result.problems)

    def __str__(self) -> str:
        return render(self._result)

    def __repr__(self) -> str:
        state = "feasible" if self.feasible else f"{len(self.problems)} problems"
        return f"<InjectionPlan for {describe(self._result.root)}: {state}>"


class Injector:
    """Makes objects from a configuration: one instance per class per injector.

    Get one from ``Tang.new_injector``. ``fork`` makes a child that shares every instance this
    injector has made so far and adds bindings of its own (never changing the parent's): this is
    how a context's services outlive the activities that run on it.
    """

    _inj: di.Injector

    def __init__(
        self,
        configuration: Configuration,
        *,
        instances: Mapping[Any, Any] | None = None,
        parent: Injector | None = None,
    ) -> None:
        self._parent = parent
        self._configuration = configuration
        self._lock = threading.RLock()
        self._made: list[tuple[Any, Any]] = []
        self._made_keys: set[Any] = set()
        self._bound: set[Any] = set()
        self._forks: dict[Configuration, Configuration] = {}
        own = dict(instances or {})
        for key, obj in own.items():
            _check_instance(key, obj)
        own[Injector] = self
        self._instances = own
        existing: dict[Any, str] = {}
        if parent is not None:
            existing.update(parent._existing_for_child())
        existing.update(dict.fromkeys(own, "provided"))
        self._existing = existing
        self._inj = di.Injector(auto_bind=False, parent=parent._inj if parent else None)
        for key, obj in own.items():
            self._inj.binder.bind(key, to=di.InstanceProvider(obj))
            self._bound.add(key)

    # -- the public surface ------------------------------------------------------------------

    @property
    def configuration(self) -> Configuration:
        """The effective configuration: this injector's bindings and all of its parents'."""
        return self._configuration

    def get_instance(self, key: type[T]) -> T:
        """The instance of ``key`` (a class, an interface, or a named parameter of a class type)
        for this injector, made on first request. Plans first: a configuration problem raises a
        ``ConfigurationError`` before anything is constructed."""
        if (
            isinstance(key, type)
            and issubclass(key, NamedParameter)
            and not key.is_implementation()
        ):
            value: T = self.get_named_parameter(key)
            return value
        result = self._plan(key)
        if result.node is None:
            raise ConfigurationError.of(result.problems)
        if isinstance(result.node, Existing):
            return self._inj.get(key)
        self._install(result)
        if result.depth > _DEEP:
            # injector resolves recursively (about ten frames a level): make deep graphs bottom
            # up so that every constructor finds its arguments already made
            for dependency in result.eager:
                self._inj.get(dependency)
        return self._inj.get(key)

    def get_named_parameter(self, param: type[NamedParameter[T]]) -> T:
        """The value of a named parameter here (configured, else its default)."""
        try:
            value: T = self._configuration.value_of(param)
            return value
        except KeyError:
            raise ConfigurationError.of(
                [
                    Problem(
                        Category.INJECTION,
                        describe(param),
                        "named parameter has no value and no default",
                        f"set it: parameters={{{describe(param)}: ...}}",
                    )
                ]
            ) from None

    def is_injectable(self, key: Any) -> bool:
        """Whether ``get_instance(key)`` would succeed as far as configuration goes."""
        return self._plan(key).node is not None

    def plan(self, key: Any) -> InjectionPlan:
        """The injection plan for ``key``; print it to see what would be constructed."""
        return InjectionPlan(self._plan(key))

    def fork(
        self, *configurations: Configuration, instances: Mapping[Any, Any] | None = None
    ) -> Injector:
        """A child injector: it sees every instance this one has made, and adds the bindings of
        ``configurations``. Re-binding a key of this injector to a different value is a
        ``BindError``: a child refines its parent, it never changes it."""
        merged = (
            self._configuration.merge(*configurations) if configurations else (self._configuration)
        )
        return Injector(merged, instances=instances, parent=self)

    def created(self) -> list[Any]:
        """The objects this injector has constructed, in the order it constructed them."""
        with self._lock:
            return [obj for _, obj in self._made]

    # -- internals -----------------------------------------------------------------------------

    def _existing_for_child(self) -> dict[Any, str]:
        with self._lock:
            existing = {k: v for k, v in self._existing.items() if k is not Injector}
            existing.update(dict.fromkeys(self._made_keys, "made by the parent injector"))
            return existing

    def _plan(self, key: Any) -> PlanResult:
        return self._configuration.plan_result(key, self._existing)

    def _install(self, result: PlanResult) -> None:
        with self._lock:
            binder = self._inj.binder
            for node in result.bindings:
                key = node.key
                if key in self._bound:
                    continue
                if isinstance(node, Build):
                    provider: di.Provider[Any] = _Construct(self, node)
                    binder.bind(key, to=provider, scope=di.SingletonScope)
                else:
                    assert isinstance(node, Bound)
                    binder.bind(key, to=_Alias(node.target.key))
                self._bound.add(key)

    def _record(self, key: Any, obj: Any) -> None:
        with self._lock:
            self._made.append((key, obj))
            self._made_keys.add(key)


class Tang:
    """The entry point for injection."""

    @staticmethod
    def new_injector(
        *configurations: Configuration, instances: Mapping[Any, Any] | None = None
    ) -> Injector:
        """An injector for the merge of ``configurations``; ``instances`` are ready-made objects
        it hands out for their keys (they count as injectable when plans are checked)."""
        if not configurations:
            configuration = Configuration()
        elif len(configurations) == 1:
            configuration = configurations[0]
        else:
            configuration = configurations[0].merge(*configurations[1:])
        if not isinstance(configuration, Configuration):
            raise TypeError(f"new_injector() takes Configurations, got {configuration!r}")
        return Injector(configuration, instances=instances)


def _check_instance(key: Any, obj: Any) -> None:
    if isinstance(key, type) and not isinstance(obj, key):
        raise ConfigurationError.of(
            [
                Problem(
                    Category.BIND,
                    describe(key),
                    f"provided instance {describe_value(obj)} is not a {describe(key)}",
                )
            ]
        )


class _Alias(di.Provider[Any]):
    """An interface resolved by getting its implementation (which has its own scope)."""

    __slots__ = ("_target",)

    def __init__(self, target: Any) -> None:
        self._target = target

    def get(self, injector: di.Injector) -> Any:
        return injector.get(self._target)


class _Construct(di.Provider[Any]):
    """Constructs one class from its planned arguments."""

    __slots__ = ("_args", "_cls", "_owner")

    def __init__(self, owner: Injector, node: Build) -> None:
        self._owner = owner
        self._cls = node.key
        self._args = tuple(_argument(p, n) for p, n in node.args)

    def get(self, injector: di.Injector) -> Any:
        positional: list[Any] = []
        keywords: dict[str, Any] = {}
        for name, by_position, mode, payload in self._args:
            if mode == _VALUE:
                value = (
                    copy.deepcopy(payload) if isinstance(payload, (list, dict, set)) else payload
                )
            elif mode == _GET:
                value = injector.get(payload)
            else:
                value = di.ProviderOf(injector, payload)
            if by_position:
                positional.append(value)
            else:
                keywords[name] = value
        try:
            obj = self._cls(*positional, **keywords)
        except BaseException as e:
            e.add_note(f"(raised while reef.tang constructed {describe(self._cls)})")
            raise
        self._owner._record(self._cls, obj)
        return obj


def _argument(param: Param, node: Node) -> tuple[str, bool, int, Any]:
    if isinstance(node, Value):
        return param.name, param.positional_only, _VALUE, node.value
    if isinstance(node, Future):
        return param.name, param.positional_only, _FUTURE, node.key
    return param.name, param.positional_only, _GET, node.key
