"""The static walk: what Tang *would* construct, and every problem on the way, without
instantiating anything.

``constructor_params`` reads a class's constructor once (its declaration problems are
context-free, ``ClassHierarchy``); ``Planner`` resolves keys against a configuration and returns
plan nodes, collecting ``Injection`` problems (missing, cyclic, ambiguous) with their paths.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import threading
import typing
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin

from injector import ProviderOf

from reef.errors import Category, ClassHierarchyError, Problem
from reef.tang._params import NamedParameter, default_implementation_of
from reef.tang._types import (
    NoneType,
    describe,
    is_primitive_annotation,
    is_protocol,
    is_union,
)

EMPTY: Any = inspect.Parameter.empty


# ---------------------------------------------------------------------------------------------
# constructor declarations


@dataclass(frozen=True, slots=True)
class Param:
    """One constructor parameter as Tang reads it."""

    name: str
    positional_only: bool
    annotation: Any  # the type asked for, without Annotated; None if unannotated
    named: type[NamedParameter[Any]] | None
    default: Any  # EMPTY if none
    future: Any  # the target of ProviderOf[X] / InjectionFuture[X], else None

    @property
    def has_default(self) -> bool:
        """Whether the constructor gives this parameter a default."""
        return self.default is not EMPTY


_params_cache: weakref.WeakKeyDictionary[type, tuple[Param, ...]] = weakref.WeakKeyDictionary()


def constructor_params(cls: type) -> tuple[tuple[Param, ...], list[Problem]]:
    """The injectable parameters of ``cls``'s constructor, and its declaration problems."""
    cached = _params_cache.get(cls)
    if cached is not None:
        return cached, []
    name = describe(cls)
    problems: list[Problem] = []

    def problem(where: str, message: str, hint: str | None = None) -> None:
        problems.append(Problem(Category.CLASS_HIERARCHY, where, message, hint, subject=init))

    init = typing.cast(Any, cls).__init__
    if init is object.__init__:
        params: tuple[Param, ...] = ()
        _params_cache[cls] = params
        return params, []
    try:
        signature = inspect.signature(init)
    except (TypeError, ValueError) as e:
        problem(name, f"cannot read its constructor's signature: {e}")
        return (), problems
    try:
        hints = typing.get_type_hints(init, include_extras=True)
    except Exception as e:  # NameError for a forward reference, and whatever else evaluation raises
        problem(
            name,
            f"cannot resolve its constructor's annotations: {type(e).__name__}: {e}",
            "every name used in an annotation must be importable from the class's module",
        )
        return (), problems
    out: list[Param] = []
    for p in list(signature.parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        where = f"{name}({p.name})"
        ann = hints.get(p.name)
        named: type[NamedParameter[Any]] | None = None
        future = None
        if ann is not None and get_origin(ann) is typing.Annotated:
            base, *meta = get_args(ann)
            names = [m for m in meta if isinstance(m, type) and issubclass(m, NamedParameter)]
            if len(names) > 1:
                problem(where, f"names several parameters {[describe(n) for n in names]}")
                continue
            if names:
                named = names[0]
                try:
                    declared = named.value_type()
                except ClassHierarchyError as e:
                    problems.extend(e.problems)
                    continue
                except TypeError as e:
                    problem(where, str(e))
                    continue
                if base != declared:
                    problem(
                        where,
                        f"asks for {describe(base)} but {describe(named)} is "
                        f"NamedParameter[{describe(declared)}]",
                        f"annotate it Annotated[{describe(declared)}, {describe(named)}]",
                    )
                    continue
            ann = base
        if ann is not None and _is_future(ann):
            args = get_args(ann)
            if not args:
                problem(where, "ProviderOf needs the type it provides: ProviderOf[X]")
                continue
            future = args[0]
        elif ann is None and named is None and p.default is EMPTY:
            problem(
                where,
                "has neither an annotation nor a default, so nothing can be injected",
                "annotate it with a class, or Annotated[T, SomeParameter] for a value",
            )
            continue
        elif (
            named is None
            and ann is not None
            and p.default is EMPTY
            and (is_primitive_annotation(ann) or ann is Any or ann is object)
        ):
            problem(
                where,
                f"asks for an unnamed {describe(ann)} without a default",
                f"name it: Annotated[{describe(ann)}, SomeParameter] with "
                f"class SomeParameter(NamedParameter[{describe(ann)}]), or give it a default",
            )
            continue
        out.append(Param(p.name, p.kind is p.POSITIONAL_ONLY, ann, named, p.default, future))
    if problems:
        return (), problems
    params = tuple(out)
    _params_cache[cls] = params
    return params, []


def _is_future(tp: Any) -> bool:
    origin = get_origin(tp)
    return origin is ProviderOf or tp is ProviderOf


# ---------------------------------------------------------------------------------------------
# plan nodes


class Node:
    """A node of an injection plan."""

    __slots__ = ()

    key: Any

    def lines(self, label: str, indent: str) -> Iterator[str]:
        """The pretty-printed lines of this node under ``label``."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True, eq=False)
class Build(Node):
    """Construct ``key`` (a class) from its arguments; one instance per injector."""

    key: type
    args: tuple[tuple[Param, Node], ...]

    def lines(self, label: str, indent: str) -> Iterator[str]:
        yield f"{indent}{label}{describe(self.key)}"
        for param, node in self.args:
            yield from node.lines(f"{param.name}: ", indent + "    ")


@dataclass(frozen=True, slots=True, eq=False)
class Bound(Node):
    """``key`` (an interface or an implementation-valued parameter) resolves to ``target``."""

    key: Any
    target: Node
    reason: str

    def lines(self, label: str, indent: str) -> Iterator[str]:
        inner = list(self.target.lines("", indent))
        first = inner[0].strip() if inner else "?"
        yield f"{indent}{label}{describe(self.key)} -> {first} ({self.reason})"
        yield from inner[1:]


@dataclass(frozen=True, slots=True, eq=False)
class Value(Node):
    """A value: configured, a parameter's default, or a constructor default."""

    key: Any
    value: Any
    source: str

    def lines(self, label: str, indent: str) -> Iterator[str]:
        name = f" [{describe(self.key)}]" if self.key is not None else ""
        yield f"{indent}{label}{self.value!r}{name} ({self.source})"


@dataclass(frozen=True, slots=True, eq=False)
class Existing(Node):
    """An instance that already exists: provided to the injector, or made by its parent."""

    key: Any
    source: str

    def lines(self, label: str, indent: str) -> Iterator[str]:
        yield f"{indent}{label}{describe(self.key)} ({self.source})"


@dataclass(frozen=True, slots=True, eq=False)
class Future(Node):
    """A ``ProviderOf[key]``: constructed on its first ``.get()``, which breaks cycles."""

    key: Any

    def lines(self, label: str, indent: str) -> Iterator[str]:
        yield f"{indent}{label}ProviderOf[{describe(self.key)}] (deferred)"


@dataclass(slots=True)
class PlanResult:
    """The outcome of planning one root: its node (``None`` if infeasible), the problems found,
    and every key the plan constructs or aliases, dependencies first."""

    root: Any
    node: Node | None
    problems: list[Problem]
    bindings: list[Node] = field(default_factory=list)
    eager: list[Any] = field(default_factory=list)  # classes made for the root, deps first
    depth: int = 0  # the longest chain of constructions below the root


# ---------------------------------------------------------------------------------------------
# the planner


class Planner:
    """Resolves keys against a configuration, statically. One planner per (configuration,
    provided keys, inherited keys); its memo makes shared dependencies cost once."""

    def __init__(
        self,
        implementations: Mapping[Any, type],
        parameters: Mapping[type[NamedParameter[Any]], Any],
        existing: Mapping[Any, str],
        stack: list[Any] | None = None,
    ) -> None:
        self.implementations = implementations
        self.parameters = parameters
        self.existing = existing
        self.memo: dict[Any, Node | None] = {}
        self.problems: list[Problem] = []
        self.stack: list[Any] = stack if stack is not None else []
        self.futures: list[tuple[Any, str, str]] = []

    def plan(self, root: Any) -> PlanResult:
        """Plan ``root`` and every ``ProviderOf`` target reachable from it."""
        try:
            return Planner(self.implementations, self.parameters, self.existing)._plan(root)
        except RecursionError:
            pass
        # A graph deeper than the interpreter's recursion limit allows (a few hundred levels):
        # the walk is recursive, and Python-to-Python calls do not use the C stack, so lifting
        # the limit for the duration of the walk is safe.
        with _deep_recursion():
            return Planner(self.implementations, self.parameters, self.existing)._plan(root)

    def _plan(self, root: Any) -> PlanResult:
        start = len(self.problems)
        node = self.resolve(root, "", describe(root))
        seen_futures: set[Any] = set()
        while self.futures:
            key, via, where = self.futures.pop()
            if key in seen_futures:
                continue
            seen_futures.add(key)
            if self.resolve(key, via, where) is None:
                node = None
        problems = self.problems[start:]
        if problems:
            node = None
        result = PlanResult(root, node, list(problems))
        if node is not None:
            self._order(result, node, seen_futures)
        return result

    def _order(self, result: PlanResult, root: Node, futures: set[Any]) -> None:
        """Fill in the bindings (dependencies first), the classes the root needs made, and the
        depth of the plan, without recursing (plans may be hundreds of levels deep)."""
        order: list[Node] = []
        depth: dict[int, int] = {}
        for start in (root, *(self.memo.get(k) for k in futures)):
            if start is None or id(start) in depth:
                continue
            stack: list[tuple[Node, bool]] = [(start, False)]
            while stack:
                node, expanded = stack.pop()
                if expanded:
                    below = [depth.get(id(c), 0) for c in _children(node)]
                    depth[id(node)] = 1 + max(below, default=0)
                    order.append(node)
                    continue
                if id(node) in depth or not isinstance(node, (Build, Bound)):
                    continue
                depth[id(node)] = 0  # visiting
                stack.append((node, True))
                stack.extend((c, False) for c in _children(node) if id(c) not in depth)
            if start is root:
                result.eager = [n.key for n in order if isinstance(n, Build)]
                result.depth = depth.get(id(root), 0)
        result.bindings = order

    # -- resolution ----------------------------------------------------------------------------
    # Paths: ``via`` is the chain of classes constructed so far ("Root -> Job"); ``where`` names
    # the spot that asks for a key ("Root -> Job(store)"). Problems about a key are reported at
    # ``where``; a class constructed for it extends ``via`` ("Root -> Job -> FileStore").

    def resolve(self, key: Any, via: str, where: str) -> Node | None:
        """The node for ``key``; ``None`` (with problems recorded) if it is infeasible."""
        source = self.existing.get(key)
        if source is not None:
            return Existing(key, source)
        if key in self.memo:
            return self.memo[key]
        if key in self.stack:
            cycle = [*self.stack[self.stack.index(key) :], key]
            self.problems.append(
                Problem(
                    Category.INJECTION,
                    where,
                    "constructor cycle: " + " -> ".join(describe(k) for k in cycle),
                    "break it with ProviderOf[X] (InjectionFuture[X]) on one parameter of the "
                    "cycle",
                    subject=key,
                )
            )
            return None
        self.stack.append(key)
        try:
            node = self._resolve(key, via, where)
        finally:
            self.stack.pop()
        self.memo[key] = node
        return node

    def _missing(self, where: str, message: str, hint: str, subject: object = None) -> None:
        self.problems.append(Problem(Category.INJECTION, where, message, hint, subject=subject))

    def _resolve(self, key: Any, via: str, where: str) -> Node | None:
        if isinstance(key, type) and issubclass(key, NamedParameter):
            return self._named_implementation(key, via, where)
        impl = self.implementations.get(key)
        reason = "bound"
        if impl is None:
            impl, why = default_implementation_of(key)
            reason = "default implementation"
            if why is not None:
                self.problems.append(
                    Problem(Category.CLASS_HIERARCHY, describe(key), why, subject=key)
                )
                return None
        if impl is not None:
            if impl is key:
                return self._build(impl, via)
            target = self.resolve(impl, via, where)
            return Bound(key, target, reason) if target is not None else None
        if not isinstance(key, type) or inspect.isabstract(key) or is_protocol(key):
            kind = (
                " (a protocol)"
                if is_protocol(key)
                else " (an abstract class)"
                if isinstance(key, type) and inspect.isabstract(key)
                else ""
            )
            self._missing(
                where,
                f"no implementation bound for {describe(key)}{kind}",
                f"bind one with implementations={{{describe(key)}: SomeImpl}}"
                + (" or declare @default_implementation(SomeImpl) on it" if kind else ""),
                subject=key if isinstance(key, type) else None,
            )
            return None
        return self._build(key, via)

    def _named_implementation(
        self, np: type[NamedParameter[Any]], via: str, where: str
    ) -> Node | None:
        impl = self.parameters.get(np)
        reason = "configured"
        if impl is None and np.has_default():
            impl, reason = np.default, "parameter default"
        if impl is None:
            self._missing(
                where,
                f"named parameter {describe(np)} has no value and no default",
                f"set it: parameters={{{describe(np)}: SomeImpl}}",
                subject=np,
            )
            return None
        target = self.resolve(impl, via, where)
        return Bound(np, target, reason) if target is not None else None

    def _build(self, cls: type, via: str) -> Node | None:
        path = f"{via} -> {describe(cls)}" if via else describe(cls)
        params, problems = constructor_params(cls)
        if problems:
            self.problems.extend(p.at(_prefix(path, p.path, cls)) for p in problems)
            return None
        args: list[tuple[Param, Node]] = []
        feasible = True
        for param in params:
            node = self._argument(param, path)
            if node is None:
                feasible = False
            else:
                args.append((param, node))
        return Build(cls, tuple(args)) if feasible else None

    def _argument(self, p: Param, path: str) -> Node | None:
        where = f"{path}({p.name})"
        if p.future is not None:
            self.futures.append((p.future, path, where))
            return Future(p.future)
        if p.named is not None:
            return self._named_value(p, path, where)
        ann = p.annotation
        if ann is None:
            return Value(None, p.default, "constructor default")
        source = self.existing.get(ann)
        if source is not None:
            return Existing(ann, source)
        if is_union(ann):
            return self._union(p, path, where)
        if is_primitive_annotation(ann) or ann is Any or ann is object:
            return Value(None, p.default, "constructor default")
        if p.has_default:
            node, _ = self._try(ann, path, where)
            if node is not None:
                return node
            return Value(None, p.default, f"constructor default; {describe(ann)} is not injectable")
        return self.resolve(ann, path, where)

    def _named_value(self, p: Param, path: str, where: str) -> Node | None:
        np = p.named
        assert np is not None
        source = self.existing.get(np)
        if source is not None:
            return Existing(np, source)
        if np.is_implementation():
            return self.resolve(np, path, where)
        if np in self.parameters:
            return Value(np, self.parameters[np], "configured")
        if np.has_default():
            return Value(np, np.default, "parameter default")
        if p.has_default:
            return Value(np, p.default, "constructor default")
        self._missing(
            where,
            f"named parameter {describe(np)} has no value and no default",
            f"set it: parameters={{{describe(np)}: ...}} (it is "
            f"NamedParameter[{describe(np.value_type())}])",
            subject=np,
        )
        return None

    def _union(self, p: Param, path: str, where: str) -> Node | None:
        members = [m for m in get_args(p.annotation) if m is not NoneType]
        feasible: list[tuple[Any, Node]] = []
        failures: list[Problem] = []
        for member in members:
            if is_primitive_annotation(member):
                continue
            node, problems = self._try(member, path, where)
            if node is not None:
                feasible.append((member, node))
            else:
                failures.extend(problems)
        if len(feasible) > 1:
            feasible = [
                (m, n)
                for m, n in feasible
                if not any(o is not m and _more_specific(o, m) for o, _ in feasible)
            ]
        if len(feasible) == 1:
            return feasible[0][1]
        if len(feasible) > 1:
            self.problems.append(
                Problem(
                    Category.INJECTION,
                    where,
                    "ambiguous: several alternatives are injectable and none is most specific: "
                    + ", ".join(describe(m) for m, _ in feasible),
                    "annotate the parameter with the one type you want",
                )
            )
            return None
        if p.has_default:
            return Value(
                None,
                p.default,
                f"constructor default; no member of {describe(p.annotation)} is injectable",
            )
        self.problems.extend(failures)
        if not failures:
            self._missing(
                where,
                f"nothing in {describe(p.annotation)} is injectable",
                "give the parameter a default or a name",
            )
        return None

    def _try(self, key: Any, via: str, where: str) -> tuple[Node | None, list[Problem]]:
        """Resolve speculatively: keep the node if feasible, hand back the problems if not."""
        trial = Planner(self.implementations, self.parameters, self.existing, list(self.stack))
        trial.memo = dict(self.memo)
        node = trial.resolve(key, via, where)
        if node is not None and not trial.problems:
            self.memo.update(trial.memo)
            self.futures.extend(trial.futures)
            return node, []
        return None, trial.problems


_limit_lock = threading.Lock()
_limit_users = 0
_limit_saved = 0
_DEEP_LIMIT = 100_000


@contextlib.contextmanager
def _deep_recursion() -> Iterator[None]:
    global _limit_users, _limit_saved
    with _limit_lock:
        if _limit_users == 0:
            _limit_saved = sys.getrecursionlimit()
            sys.setrecursionlimit(max(_limit_saved, _DEEP_LIMIT))
        _limit_users += 1
    try:
        yield
    finally:
        with _limit_lock:
            _limit_users -= 1
            if _limit_users == 0:
                sys.setrecursionlimit(_limit_saved)


def named_parameters_of(root: type) -> list[type[NamedParameter[Any]]]:
    """Every named parameter a constructor of ``root`` or of the classes it asks for uses,
    following annotations (not bindings), each once, in the order met."""
    found: list[type[NamedParameter[Any]]] = []
    seen: set[Any] = set()
    todo: list[Any] = [root]
    while todo:
        cls = todo.pop(0)
        if cls in seen or not isinstance(cls, type):
            continue
        seen.add(cls)
        params, _ = constructor_params(cls)
        for p in params:
            if p.named is not None and p.named not in found:
                found.append(p.named)
                if p.named.is_implementation():
                    todo.append(p.named.value_type())
            candidates = get_args(p.annotation) if is_union(p.annotation) else (p.annotation,)
            todo.extend(c for c in (*candidates, p.future) if isinstance(c, type))
    return found


def _children(node: Node) -> list[Node]:
    if isinstance(node, Build):
        return [arg for _, arg in node.args]
    if isinstance(node, Bound):
        return [node.target]
    return []


def _more_specific(a: Any, b: Any) -> bool:
    return isinstance(a, type) and isinstance(b, type) and a is not b and issubclass(a, b)


def _prefix(path: str, where: str, cls: type) -> str:
    """Place a class's own declaration problem (``Cls(param)``) on the path that reached it."""
    name = describe(cls)
    if where.startswith(name) and path.endswith(name):
        return path + where[len(name) :]
    return where


def render(result: PlanResult) -> str:
    """A plan as indented text, or its problems if it is infeasible."""
    if result.node is None:
        lines = [f"{describe(result.root)}: not injectable"]
        lines += [f"  {p}" for p in result.problems]
        return "\n".join(lines)
    return "\n".join(result.node.lines("", ""))
