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
_MISSING: Any = object()


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
        self._objects: dict[Any, Any] = {}  # key -> the instance this injector made or holds
        self._bound: set[Any] = set()
        self._forks: dict[Configuration, Configuration] = {}
        own = dict(instances or {})
        for key, obj in own.items():
            _check_instance(key, obj)
        own[Injector] = self
        self._objects.update(own)
        existing: dict[Any, str] = {}
        if parent is not None:
            existing.update(parent._existing_for_child())
        existing.update(dict.fromkeys(own, "provided"))
        self._existing = existing
        # The ``injector`` runtime is made when a plan first needs it: a child that only makes
        # objects from instances its parents hold (an activity on a context) never does.
        self._inj: di.Injector | None = None

    # -- the public surface ------------------------------------------------------------------

    @property
    def configuration(self) -> Configuration:
        """The effective configuration: this injector's bindings and all of its parents'."""
        return self._configuration

    def get_instance(self, key: type[T]) -> T:
        """The instance of ``key`` (a class, an interface, or a named parameter of a class type)
        for this injector, made on first request. Plans first: a configuration problem raises a
        ``ConfigurationError`` before anything is constructed."""
        found = self._objects.get(key, _MISSING)
        if found is not _MISSING:
            obj: T = found
            return obj
        if (
            isinstance(key, type)
            and issubclass(key, NamedParameter)
            and not key.is_implementation()
        ):
            value: T = self.get_named_parameter(key)
            return value
        result = self._plan(key)
        node = result.node
        if node is None:
            raise ConfigurationError.of(result.problems)
        if isinstance(node, Existing):
            existing: T = self._existing_instance(key)
            return existing
        if isinstance(node, Build) and len(result.bindings) == 1:
            direct = self._build_directly(node)
            if direct is not _MISSING:
                made: T = direct
                return made
        self._install(result)
        inj = self._di()
        if result.depth > _DEEP:
            # injector resolves recursively (about ten frames a level): make deep graphs bottom
            # up so that every constructor finds its arguments already made
            for dependency in result.eager:
                inj.get(dependency)
        got: T = inj.get(key)
        return got

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
        if not configurations:
            merged = self._configuration
        elif len(configurations) == 1:
            # Children of one injector usually repeat one configuration (an activity after
            # another): reuse the merge, and with it the plans cached on it.
            given = configurations[0]
            cached = self._forks.get(given)
            if cached is None:
                cached = self._configuration.merge(given)
                with self._lock:
                    if len(self._forks) >= _FORK_CACHE:
                        self._forks.clear()
                    self._forks[given] = cached
            merged = cached
        else:
            merged = self._configuration.merge(*configurations)
        return Injector(merged, instances=instances, parent=self)

    def created(self) -> list[Any]:
        """The objects this injector has constructed, in the order it constructed them."""
        with self._lock:
            return [obj for _, obj in self._made]

    # -- internals -----------------------------------------------------------------------------

    def _di(self) -> di.Injector:
        inj = self._inj
        if inj is None:
            with self._lock:
                inj = self._inj
                if inj is None:
                    parent = self._parent._di() if self._parent is not None else None
                    inj = di.Injector(auto_bind=False, parent=parent)
                    for key, obj in self._objects.items():
                        inj.binder.bind(key, to=di.InstanceProvider(obj))
                        self._bound.add(key)
                    self._inj = inj
        return inj

    def _existing_for_child(self) -> dict[Any, str]:
        with self._lock:
            existing = {k: v for k, v in self._existing.items() if k is not Injector}
            for key in self._objects:
                if key is not Injector and existing.get(key) != "provided":
                    existing[key] = "made by the parent injector"
            return existing

    def _existing_instance(self, key: Any) -> Any:
        """An instance this injector or one of its parents holds (the plan said it exists)."""
        injector: Injector | None = self
        while injector is not None:
            found = injector._objects.get(key, _MISSING)
            if found is not _MISSING:
                return found
            injector = injector._parent
        return self._di().get(key)  # made by a parent through injector, not recorded yet

    def _build_directly(self, node: Build) -> Any:
        """Construct ``node`` at once when every argument is a value or an existing instance:
        no ``injector`` runtime needed. ``_MISSING`` when that is not the case."""
        positional: list[Any] = []
        keywords: dict[str, Any] = {}
        for param, arg in node.args:
            if isinstance(arg, Value):
                value = _copy(arg.value)
            elif isinstance(arg, Existing):
                value = self._existing_instance(arg.key)
            elif isinstance(arg, Bound) and isinstance(arg.target, Existing):
                value = self._existing_instance(arg.target.key)
            elif isinstance(arg, Future):
                value = di.ProviderOf(self._di(), arg.key)
            else:
                return _MISSING
            if param.positional_only:
                positional.append(value)
            else:
                keywords[param.name] = value
        with self._lock:
            found = self._objects.get(node.key, _MISSING)
            if found is not _MISSING:  # another thread made it meanwhile
                return found
            obj = _construct(node.key, positional, keywords)
            self._record(node.key, obj)
            return obj

    def _plan(self, key: Any) -> PlanResult:
        return self._configuration.plan_result(key, self._existing)

    def _install(self, result: PlanResult) -> None:
        with self._lock:
            binder = self._di().binder
            for node in result.bindings:
                key = node.key
                if key in self._bound:
                    continue
                made = self._objects.get(key, _MISSING)
                if made is not _MISSING:
                    binder.bind(key, to=di.InstanceProvider(made))
                elif isinstance(node, Build):
                    provider: di.Provider[Any] = _Construct(self, node)
                    binder.bind(key, to=provider, scope=di.SingletonScope)
                else:
                    assert isinstance(node, Bound)
                    binder.bind(key, to=_Alias(node.target.key))
                self._bound.add(key)

    def _record(self, key: Any, obj: Any) -> None:
        with self._lock:
            self._made.append((key, obj))
            self._objects[key] = obj
            if self._inj is not None and key not in self._bound:
                # made without the runtime (``_build_directly``) after the runtime exists: the
                # runtime, which children resolve through, must know it too
                self._inj.binder.bind(key, to=di.InstanceProvider(obj))
                self._bound.add(key)


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
                value = _copy(payload)
            elif mode == _GET:
                value = injector.get(payload)
            else:
                value = di.ProviderOf(injector, payload)
            if by_position:
                positional.append(value)
            else:
                keywords[name] = value
        obj = _construct(self._cls, positional, keywords)
        self._owner._record(self._cls, obj)
        return obj


def _copy(value: Any) -> Any:
    """A configured container value is copied for each object: no one can change it."""
    return copy.deepcopy(value) if isinstance(value, (list, dict, set)) else value


def _construct(cls: type, positional: list[Any], keywords: dict[str, Any]) -> Any:
    try:
        return cls(*positional, **keywords)
    except BaseException as e:
        e.add_note(f"(raised while reef.tang constructed {describe(cls)})")
        raise


def _argument(param: Param, node: Node) -> tuple[str, bool, int, Any]:
    if isinstance(node, Value):
        return param.name, param.positional_only, _VALUE, node.value
    if isinstance(node, Future):
        return param.name, param.positional_only, _FUTURE, node.key
    return param.name, param.positional_only, _GET, node.key
