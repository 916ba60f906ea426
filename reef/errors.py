"""The error tree of reef. Every error the project raises on purpose derives from ``ReefError``.

::

    ReefError
    ├── ConfigurationError              a configuration that cannot work; lists every problem
    │   ├── ClassHierarchyError         declarations: named parameters, constructors, modules
    │   ├── BindError                   values and implementations bound to names or slots
    │   │   └── NameResolutionError     an import path (class or parameter) that does not resolve
    │   └── InjectionError              the injection plan: missing, cyclic or ambiguous
    ├── StageClosedError                an event offered to a Wake stage after ``close()``
    ├── DriverDefinitionError           a Driver class whose @on handlers are wrong
    ├── StateError                      a handle used when its object cannot do that (any more)
    └── RemoteError                     an error raised in an evaluator (or in a driver handler)

This module is a leaf: it imports only the standard library, so every layer may import it.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


class ReefError(Exception):
    """The base class of every error reef raises on purpose."""


class Category(enum.Enum):
    """The kind of a configuration problem, most fundamental first."""

    CLASS_HIERARCHY = "ClassHierarchy"
    NAME_RESOLUTION = "NameResolution"
    BIND = "Bind"
    INJECTION = "Injection"


@dataclass(frozen=True, slots=True)
class Problem:
    """One configuration problem: its category, where it was found and what is wrong.

    ``path`` locates the problem, e.g. ``Job -> FileStore(path)`` for the parameter ``path`` of
    ``FileStore`` reached from the root ``Job``; ``message`` says what was expected and what was
    given; ``hint`` says how to fix it when we know; ``subject`` is the parameter, class or
    constructor at fault, and ``declared`` where it is declared (``file.py:12``).
    """

    category: Category
    path: str
    message: str
    hint: str | None = None
    subject: object = field(default=None, compare=False, repr=False)

    @property
    def declared(self) -> str | None:
        """``file:line`` where the subject is declared, when it is known."""
        return declared_at(self.subject) if self.subject is not None else None

    def at(self, path: str) -> Problem:
        """The same problem, found at another path."""
        return dataclasses.replace(self, path=path)

    def __str__(self) -> str:
        text = f"[{self.category.value}] {self.path}: {self.message}"
        declared = self.declared
        if declared:
            text += f" [declared at {declared}]"
        return f"{text} (hint: {self.hint})" if self.hint else text


@functools.lru_cache(maxsize=1024)
def _declared_at(obj: object) -> str | None:
    try:
        target: Any = inspect.unwrap(obj)  # type: ignore[arg-type]
        path = inspect.getsourcefile(target)
        _, line = inspect.getsourcelines(target)
    except (TypeError, OSError, IndexError):
        return None
    if not path:
        return None
    try:
        shown = os.path.relpath(path)
    except ValueError:
        shown = path
    if shown.startswith(".." + os.sep + ".."):
        shown = path
    return f"{shown}:{line}"


def declared_at(obj: object) -> str | None:
    """``file:line`` of a class's or function's declaration (``None`` if unknown)."""
    try:
        return _declared_at(obj)
    except TypeError:  # unhashable
        return None


class ConfigurationError(ReefError):
    """A configuration that cannot work. ``problems`` lists every problem found, not just the
    first; the message shows them all, one per line."""

    def __init__(self, problems: Sequence[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(_CATEGORY_OF.get(type(self), Category.BIND), "", problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(self._render())

    def _render(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        lines = [f"{len(self.problems)} problems:"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)

    @staticmethod
    def of(problems: Iterable[Problem]) -> ConfigurationError:
        """The error for ``problems``: its class is that of the most fundamental category present
        (class hierarchy, then name resolution, then bind, then injection)."""
        found = _dedupe(problems)
        if not found:
            raise ValueError("ConfigurationError.of() needs at least one problem")
        order = list(Category)
        worst = min((p.category for p in found), key=order.index)
        return _CLASS_OF[worst](found)


class ClassHierarchyError(ConfigurationError):
    """Improper declarations: a named parameter without a concrete type or with a default of the
    wrong type, a constructor parameter that cannot be injected, a module slot misused."""


class BindError(ConfigurationError):
    """An illegal value or implementation: wrong type, unparsable string, an implementation that
    does not implement its interface, a required slot left unset, a binding made twice."""


class NameResolutionError(BindError):
    """An import path in a serialized configuration (``module:qualname``) that does not resolve."""


class InjectionError(ConfigurationError):
    """An infeasible or ambiguous injection plan: an interface with no implementation, a named
    parameter with no value, a constructor cycle, several equally specific choices."""


class StageClosedError(ReefError):
    """An event was offered to a Wake stage that is closed."""


class DriverDefinitionError(ReefError):
    """A ``Driver`` subclass whose ``@on`` handlers are wrong; ``problems`` lists every one."""

    def __init__(self, driver: str, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        lines = [f"{driver} is not a valid Driver ({len(self.problems)} problems):"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__(
            "\n".join(lines)
            if len(self.problems) > 1
            else f"{driver} is not a valid Driver: {self.problems[0]}"
        )


class StateError(ReefError):
    """A handle (evaluator, context, activity) was asked for something its object cannot do in
    its current state: an activity on a busy context, a context closed twice, ..."""


class ClusterError(ReefError):
    """The cluster could not be reached or refused a request (an unknown application, no skein
    driver, a submission YARN rejected); the message says what to check."""


class RemoteError(ReefError):
    """An error raised in user code of a job: in an activity, a service or a context of an
    evaluator, in the evaluator process itself, or in a driver handler.

    ``type_name`` and ``message`` are the original exception's; ``traceback`` its formatted
    traceback; ``ids`` says where (``evaluator``, ``context``, ``activity``, where known) and
    ``log_path`` which log to read.
    """

    def __init__(
        self,
        type_name: str,
        message: str,
        traceback: str = "",
        *,
        evaluator_id: str | None = None,
        context_id: str | None = None,
        activity_id: str | None = None,
        log_path: str | None = None,
    ) -> None:
        self.type_name = type_name
        self.message = message
        self.traceback = traceback
        self.evaluator_id = evaluator_id or None
        self.context_id = context_id or None
        self.activity_id = activity_id or None
        self.log_path = log_path or None
        super().__init__(self._render())

    @property
    def ids(self) -> dict[str, str]:
        """Where the error happened: any of ``evaluator``, ``context``, ``activity``."""
        found = {
            "evaluator": self.evaluator_id,
            "context": self.context_id,
            "activity": self.activity_id,
        }
        return {k: v for k, v in found.items() if v}

    def _render(self) -> str:
        text = f"{self.type_name}: {self.message}"
        where = ", ".join(f"{k} {v}" for k, v in self.ids.items())
        if where:
            text += f" [{where}]"
        if self.log_path:
            text += f" (log: {self.log_path})"
        return text

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _remote_error,
            (
                self.type_name,
                self.message,
                self.traceback,
                self.evaluator_id,
                self.context_id,
                self.activity_id,
                self.log_path,
            ),
        )


def _remote_error(*args: str | None) -> RemoteError:
    type_name, message, traceback, evaluator, context, activity, log = args
    return RemoteError(
        type_name or "",
        message or "",
        traceback or "",
        evaluator_id=evaluator,
        context_id=context,
        activity_id=activity,
        log_path=log,
    )


_CLASS_OF: dict[Category, type[ConfigurationError]] = {
    Category.CLASS_HIERARCHY: ClassHierarchyError,
    Category.NAME_RESOLUTION: NameResolutionError,
    Category.BIND: BindError,
    Category.INJECTION: InjectionError,
}
_CATEGORY_OF = {cls: cat for cat, cls in _CLASS_OF.items()}


def _dedupe(problems: Iterable[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    out: list[Problem] = []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out
