"""The public surface of reef.wake: names, docstrings, immutability, layering."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reef import wake
from reef.wake import (
    LogicalClock,
    PeriodicEvent,
    Profiling,
    SingleThreadStage,
    Stage,
    StageRegistry,
    StageSpec,
    SyncStage,
    ThreadPoolStage,
    TimerStage,
)

PUBLIC = {
    "DEFAULT_PROFILING", "Alarm", "Chain", "Clock", "ErrorHandler", "EventHandler",
    "HandlerFactory", "LogicalClock", "PeriodicEvent", "Profiling", "RealClock",
    "SingleThreadStage", "Stage", "StageClosedError", "StageFullError", "StageRegistry",
    "StageSpec", "StageStatistics", "SyncStage", "ThreadPoolStage", "TimerStage", "build_chain",
    "default_registry",
}  # fmt: skip


def test_the_public_names_are_pinned() -> None:
    assert set(wake.__all__) == PUBLIC
    for name in PUBLIC:
        assert hasattr(wake, name), name


def test_every_public_class_function_and_method_has_a_docstring() -> None:
    for name in PUBLIC - {"EventHandler", "ErrorHandler", "HandlerFactory", "DEFAULT_PROFILING"}:
        obj = getattr(wake, name)
        assert inspect.getdoc(obj), name
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and callable(member):
                    assert inspect.getdoc(member), f"{name}.{attr}"


def imported_modules(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_wake_imports_the_standard_library_and_reef_errors_and_extras_only_lazily() -> None:
    extras = ("prometheus_client", "matplotlib")
    for source in Path(wake.__file__).parent.glob("*.py"):
        tree = ast.parse(source.read_text())
        for module in imported_modules(tree):
            top = module.split(".")[0]
            allowed = top in sys.stdlib_module_names or top in extras
            allowed |= module == "reef.errors" or module.startswith("reef.wake")
            assert allowed, f"{source.name} imports {module}"
        top_level = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        assert not any(m.startswith(extras) for m in imported_modules(ast.Module(top_level, []))), (
            f"{source.name} imports an optional extra at module level"
        )


StageBuilder = Callable[[StageRegistry], Stage[Any]]


def ignore(event: object) -> None:
    pass


STAGES: dict[str, StageBuilder] = {
    "sync_unprofiled": lambda r: SyncStage(ignore, profiling=Profiling.off(), registry=r),
    "sync": lambda r: SyncStage(ignore, registry=r),
    "thread_pool": lambda r: ThreadPoolStage(ignore, 2, registry=r),
    "single_thread": lambda r: SingleThreadStage(ignore, capacity=3, registry=r),
    "timer": lambda r: TimerStage(ignore, 1, clock=LogicalClock(), registry=r),
}


@pytest.mark.parametrize("kind", STAGES)
@pytest.mark.parametrize("attribute", ["on_next", "name", "_handler", "anything"])
def test_every_stage_type_is_immutable(kind: str, attribute: str, registry: StageRegistry) -> None:
    stage = STAGES[kind](registry)
    try:
        with pytest.raises(AttributeError, match=r"immutable.*wired in the constructor"):
            setattr(stage, attribute, print)
        with pytest.raises(AttributeError, match="immutable"):
            delattr(stage, "name")
        assert stage.on_next is not print
    finally:
        stage.close()


@pytest.mark.parametrize(
    "value",
    [Profiling(), StageSpec(), PeriodicEvent(0.0, 0)],
    ids=lambda v: type(v).__name__,
)
def test_value_objects_are_frozen(value: object) -> None:
    field = dataclasses.fields(value)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, field, None)


def test_the_default_profiling_is_cheap_and_on() -> None:
    assert Profiling.sampled(64) == wake.DEFAULT_PROFILING
    assert str(wake.DEFAULT_PROFILING) == "sampled(1/64)"
    assert [str(p) for p in (Profiling.off(), Profiling.counters_only(), Profiling.on())] == [
        "off",
        "counters",
        "on",
    ]
    with pytest.raises(ValueError, match="every"):
        Profiling.sampled(0)
    with pytest.raises(ValueError, match="counters"):
        Profiling(counters=False, latency_every=4)
