"""Chains of stages chosen by configuration: the same handler code, inlined or queued."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

from reef.wake._handler import ErrorHandler, EventHandler
from reef.wake._profile import DEFAULT_PROFILING, Profiling
from reef.wake._queued import SingleThreadStage, ThreadPoolStage, WhenFull
from reef.wake._stage import Stage, SyncStage
from reef.wake._statistics import StageStatistics

if TYPE_CHECKING:
    from reef.wake._registry import StageRegistry

HandlerFactory = Callable[[EventHandler[Any]], EventHandler[Any]]
"""Builds a handler from its downstream handler: ``downstream -> handler``."""

StageKind = Literal["inline", "thread_pool", "single_thread"]


@dataclass(frozen=True, slots=True)
class StageSpec:
    """How to run one step of a chain: ``"inline"`` (a ``SyncStage``: the upstream calls the
    handler directly), ``"thread_pool"`` (``threads`` workers) or ``"single_thread"`` (strict
    order), with an optional queue bound and its full-queue policy."""

    kind: StageKind = "inline"
    threads: int = 1
    capacity: int | None = None
    when_full: WhenFull = "block"
    profiling: Profiling = DEFAULT_PROFILING
    name: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("inline", "thread_pool", "single_thread"):
            raise ValueError(
                f'StageSpec(kind={self.kind!r}): use "inline", "thread_pool" or "single_thread"'
            )
        if self.kind != "thread_pool" and self.threads != 1:
            raise ValueError(f"StageSpec(kind={self.kind!r}, threads={self.threads!r}): only a "
                             '"thread_pool" step has a thread count')  # fmt: skip
        if self.kind == "inline" and self.capacity is not None:
            raise ValueError(f"StageSpec(kind='inline', capacity={self.capacity!r}): an inline "
                             "step has no queue to bound")  # fmt: skip

    def build(
        self,
        handler: EventHandler[Any],
        *,
        error_handler: ErrorHandler | None = None,
        registry: StageRegistry | None = None,
    ) -> Stage[Any]:
        """The stage this spec describes, running ``handler``."""
        if self.kind == "inline":
            return SyncStage(
                handler,
                name=self.name,
                error_handler=error_handler,
                profiling=self.profiling,
                registry=registry,
            )
        if self.kind == "single_thread":
            return SingleThreadStage(
                handler,
                name=self.name,
                capacity=self.capacity,
                when_full=self.when_full,
                error_handler=error_handler,
                profiling=self.profiling,
                registry=registry,
            )
        return ThreadPoolStage(
            handler,
            self.threads,
            name=self.name,
            capacity=self.capacity,
            when_full=self.when_full,
            error_handler=error_handler,
            profiling=self.profiling,
            registry=registry,
        )


class Chain:
    """Stages wired source to sink. ``on_next`` enters the first stage; ``close()`` closes them
    source first, so each drains into stages that are still open."""

    __slots__ = ("on_next", "stages")

    on_next: EventHandler[Any]
    stages: tuple[Stage[Any], ...]

    def __init__(self, stages: Sequence[Stage[Any]]) -> None:
        if not stages:
            raise ValueError("a chain needs at least one stage")
        object.__setattr__(self, "stages", tuple(stages))
        object.__setattr__(self, "on_next", self.stages[0].on_next)

    def __setattr__(self, attribute: str, value: object) -> None:
        raise AttributeError(
            f"Chain is immutable: stages are wired when it is built, so {attribute!r} cannot be "
            "set; build a new chain instead"
        )

    def close(self, timeout: float | None = None) -> None:
        """Close every stage, source first; ``timeout`` bounds the whole chain."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for stage in self.stages:
            stage.close(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def statistics(self) -> tuple[StageStatistics, ...]:
        """Each stage's statistics, source first."""
        return tuple(stage.statistics() for stage in self.stages)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def build_chain(
    steps: Sequence[tuple[HandlerFactory, StageSpec]],
    sink: EventHandler[Any],
    *,
    error_handler: ErrorHandler | None = None,
    registry: StageRegistry | None = None,
) -> Chain:
    """Build ``steps`` (source first) sink to source: each factory receives the ``on_next`` of
    the stage after it (the last one receives ``sink``), and its handler runs as its spec says.
    Handler code is the same whether a boundary is a call or a queue; only the specs differ.
    If a factory or a stage fails, the stages already built are closed before the error rises.
    """
    built: list[Stage[Any]] = []
    downstream = sink
    try:
        for factory, spec in reversed(steps):
            stage = spec.build(factory(downstream), error_handler=error_handler, registry=registry)
            built.append(stage)
            downstream = stage.on_next
    except BaseException:
        for stage in built:  # sink side first: nothing upstream of them exists yet
            stage.close()
        raise
    return Chain(built[::-1])
