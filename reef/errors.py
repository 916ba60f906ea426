"""The error tree of reef. Every error the project raises on purpose derives from ``ReefError``.

::

    ReefError
    ├── ConfigurationError              a configuration that cannot work; lists every problem
    │   ├── ClassHierarchyError         declarations: named parameters, constructors, modules
    │   ├── BindError                   values and implementations bound to names or slots
    │   │   └── NameResolutionError     an import path (class or parameter) that does not resolve
    │   └── InjectionError              the injection plan: missing, cyclic or ambiguous
    └── StageClosedError                an event offered to a Wake stage after ``close()``

This module is a leaf: it imports only the standard library, so every layer may import it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


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
    ``FileStore`` reached from the root ``Job``; ``hint`` says how to fix it when we know.
    """

    category: Category
    path: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = f"[{self.category.value}] {self.path}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


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
