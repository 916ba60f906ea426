"""Context and activity configurations, and their static checks before anything is sent.

A submission is checked against the evaluator's real context stack: a context's configuration
is merged with its parent's (a child refines, never changes, what its parents bind) and every
service must be injectable; an activity must be a ``reef.Activity`` that the top context can
inject. Problems raise ``ConfigurationError`` in the driver. The wire form (a Tang YAML document
and class paths) is cached, so that submitting the same kind of activity again costs little.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reef.common._activity import Activity, ContextMessenger, implements_run
from reef.common._identity import EvaluatorIdentity
from reef.errors import Category, ConfigurationError, Problem
from reef.tang import Configuration, NamedParameter
from reef.tang._naming import class_path, main_script_of

ON_EVALUATORS = (ContextMessenger, EvaluatorIdentity)
"""What every context on an evaluator provides besides its configuration and services."""


@dataclass(frozen=True)
class ContextConfiguration:
    """A context to start: its ``id`` (unique on its evaluator), its ``services`` (classes
    instantiated when it starts, kept until it closes, then closed in reverse order), and
    ``parameters``/``configuration`` for them (and for everything running above it)."""

    id: str
    services: Sequence[type] = ()
    parameters: Mapping[type[NamedParameter[Any]], Any] | None = None
    configuration: Configuration | None = None

    def __post_init__(self) -> None:
        _check_id("ContextConfiguration", self.id)
        object.__setattr__(self, "services", tuple(self.services))


@dataclass(frozen=True)
class ActivityConfiguration:
    """An activity to run: its ``id`` (unique in the job, by convention), its ``activity`` class
    (a ``reef.Activity``), ``parameters``/``configuration`` for it, and an optional ``memento``
    passed to ``run`` (to resume a suspended activity)."""

    id: str
    activity: type
    parameters: Mapping[type[NamedParameter[Any]], Any] | None = None
    configuration: Configuration | None = None
    memento: bytes | None = None

    def __post_init__(self) -> None:
        _check_id("ActivityConfiguration", self.id)
        if self.memento is not None and not isinstance(self.memento, bytes):
            raise TypeError(
                f"ActivityConfiguration(memento=...) takes bytes or None, got "
                f"{type(self.memento).__name__}"
            )


def _check_id(kind: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{kind}(id={value!r}): the id must be a non-empty string")


@dataclass(frozen=True, slots=True)
class CheckedContext:
    """A context ready to send: its configuration document and service paths, and what it
    means for everything above it (the merged configuration, the services of the stack)."""

    id: str
    document: str
    service_paths: tuple[str, ...]
    effective: Configuration
    stack_services: tuple[type, ...]


@dataclass(frozen=True, slots=True)
class CheckedActivity:
    """An activity ready to send."""

    id: str
    document: str
    class_path: str
    memento: bytes | None


@dataclass
class _Cache:
    size: int = 1024
    items: OrderedDict[Any, Any] = field(default_factory=OrderedDict)

    def get(self, key: Any) -> Any:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: Any, value: Any) -> None:
        self.items[key] = value
        if len(self.items) > self.size:
            self.items.popitem(last=False)


class Checker:
    """Checks submissions and prepares their wire forms (one per driver)."""

    def __init__(self, base: Configuration) -> None:
        self.base = base
        self._contexts = _Cache()
        self._activities = _Cache()
        self.main_scripts: set[str] = set()

    def context(
        self,
        parent_effective: Configuration | None,
        parent_services: tuple[type, ...],
        context: ContextConfiguration,
    ) -> CheckedContext:
        """Check ``context`` on top of a parent (or as a root); ``ConfigurationError``."""
        if not isinstance(context, ContextConfiguration):
            raise TypeError(f"expected a ContextConfiguration, got {type(context).__name__}")
        own = _configuration(f"context {context.id}", context.parameters, context.configuration)
        parent = parent_effective if parent_effective is not None else self.base
        key = (parent, parent_services, own, context.services)
        cached: tuple[str, tuple[str, ...], Configuration] | None = self._contexts.get(key)
        if cached is None:
            problems: list[Problem] = []
            effective = _merge(f"context {context.id}", parent, own)
            provided = (*ON_EVALUATORS, *parent_services)
            for service in list[object](context.services):
                if not isinstance(service, type):
                    problems.append(
                        Problem(
                            Category.BIND,
                            f"context {context.id}",
                            f"service {service!r} is not a class",
                            "services=[...] lists classes; each is instantiated once",
                        )
                    )
                    continue
                try:
                    effective.check(service, provided=provided)
                except ConfigurationError as e:
                    problems.extend(_within(f"context {context.id}", e.problems))
            paths = self._paths(f"context {context.id}", context.services, problems)
            document = self._document(f"context {context.id}", own, problems)
            if problems:
                raise ConfigurationError.of(problems)
            cached = (document, paths, effective)
            self._contexts.put(key, cached)
        document, paths, effective = cached
        return CheckedContext(
            context.id, document, paths, effective, (*parent_services, *context.services)
        )

    def activity(
        self,
        context_effective: Configuration,
        stack_services: tuple[type, ...],
        activity: ActivityConfiguration,
    ) -> CheckedActivity:
        """Check ``activity`` for a context; ``ConfigurationError`` if it cannot run there."""
        if not isinstance(activity, ActivityConfiguration):
            raise TypeError(f"expected an ActivityConfiguration, got {type(activity).__name__}")
        cls = activity.activity
        own = _configuration(f"activity {activity.id}", activity.parameters, activity.configuration)
        key = (context_effective, stack_services, own, cls)
        cached: tuple[str, str] | None = self._activities.get(key)
        if cached is None:
            where = f"activity {activity.id}"
            problems: list[Problem] = []
            if not (isinstance(cls, type) and issubclass(cls, Activity)):
                problems.append(
                    Problem(
                        Category.CLASS_HIERARCHY,
                        where,
                        f"{cls!r} is not a reef.Activity subclass",
                        "activity=... takes a class that subclasses reef.Activity",
                    )
                )
            else:
                if not implements_run(cls):
                    problems.append(
                        Problem(
                            Category.CLASS_HIERARCHY,
                            where,
                            f"{cls.__qualname__} does not implement run(memento)",
                            "define run(self, memento: bytes | None) -> bytes | None",
                            subject=cls,
                        )
                    )
                try:
                    effective = _merge(where, context_effective, own)
                    effective.check(cls, provided=(*ON_EVALUATORS, *stack_services))
                except ConfigurationError as e:
                    problems.extend(_within(where, e.problems))
            paths = self._paths(where, (cls,), problems) if isinstance(cls, type) else ()
            document = self._document(where, own, problems)
            if problems:
                raise ConfigurationError.of(problems)
            cached = (document, paths[0])
            self._activities.put(key, cached)
        document, path = cached
        return CheckedActivity(activity.id, document, path, activity.memento)

    def _paths(
        self, where: str, classes: Sequence[Any], problems: list[Problem]
    ) -> tuple[str, ...]:
        paths = []
        for cls in classes:
            if not isinstance(cls, type):
                continue
            try:
                paths.append(class_path(cls))
                script = main_script_of(cls)
                if script is not None:
                    self.main_scripts.add(script)
            except ValueError as e:
                problems.append(Problem(Category.BIND, where, str(e)))
        return tuple(paths)

    @staticmethod
    def _document(where: str, conf: Configuration, problems: list[Problem]) -> str:
        try:
            return conf.to_yaml()
        except ConfigurationError as e:
            problems.extend(_within(where, e.problems))
            return ""


_EMPTY = Configuration()


def _configuration(
    where: str,
    parameters: Mapping[type[NamedParameter[Any]], Any] | None,
    configuration: Configuration | None,
) -> Configuration:
    if not parameters and configuration is None:
        return _EMPTY  # the common case: nothing to check, one shared (hash-cached) object
    try:
        own = Configuration(parameters=parameters or {})
        if configuration is not None:
            if not isinstance(configuration, Configuration):
                raise TypeError(
                    f"{where}: configuration= takes a reef.tang.Configuration, got "
                    f"{type(configuration).__name__}"
                )
            own = own.merge(configuration)
    except ConfigurationError as e:
        raise ConfigurationError.of(_within(where, e.problems)) from None
    return own


def _merge(where: str, parent: Configuration, own: Configuration) -> Configuration:
    try:
        return parent.merge(own)
    except ConfigurationError as e:
        raise ConfigurationError.of(
            [
                Problem(
                    p.category,
                    f"{where}: {p.path}",
                    p.message,
                    "a context or activity refines what the contexts below it bind; it cannot "
                    "bind the same parameter or interface to something else",
                    subject=p.subject,
                )
                for p in e.problems
            ]
        ) from None


def _within(where: str, problems: Sequence[Problem]) -> list[Problem]:
    return [p.at(f"{where}: {p.path}") for p in problems]
