"""``StageRegistry``: the stages of a process, held weakly, with their reports."""

from __future__ import annotations

import atexit
import itertools
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reef.wake import _report
from reef.wake._handler import log
from reef.wake._statistics import StageStatistics

if TYPE_CHECKING:
    from reef.wake._stage import Stage

_creation = itertools.count()
# Every stage ever built and still referenced, in creation order, for the exit hook below.
_every_stage: weakref.WeakValueDictionary[int, Stage[Any]] = weakref.WeakValueDictionary()


class StageRegistry:
    """Stages in creation order, held weakly: a closed stage stays reportable (with its final
    statistics) until it is garbage collected. Names are unique among live stages: a taken name
    gets a ``-2``, ``-3``… suffix. Stages register with ``default_registry()`` unless built with
    ``registry=``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stages: weakref.WeakValueDictionary[int, Stage[Any]] = weakref.WeakValueDictionary()
        self._names: weakref.WeakValueDictionary[str, Stage[Any]] = weakref.WeakValueDictionary()

    def _register(self, stage: Stage[Any], name: str) -> str:
        """Called by ``Stage.__init__``: record ``stage``; returns its unique name."""
        with self._lock:
            unique, suffix = name, 1
            while unique in self._names:
                suffix += 1
                unique = f"{name}-{suffix}"
            number = next(_creation)
            self._names[unique] = stage
            self._stages[number] = stage
            _every_stage[number] = stage
        return unique

    def stages(self) -> list[Stage[Any]]:
        """The live stages, oldest first."""
        with self._lock:
            return list(self._stages.values())  # insertion order is creation order

    def snapshot(self) -> list[StageStatistics]:
        """``statistics()`` of every live stage, oldest first."""
        return [stage.statistics() for stage in self.stages()]

    def text_report(self) -> str:
        """A table, one row per stage: counts, queue, busy threads, throughput, latency."""
        return _report.text_report(self.snapshot())

    def to_json(self, *, indent: int | None = None) -> str:
        """The JSON snapshot: ``{"stages": [StageStatistics.as_dict(), ...]}``."""
        return _report.json_snapshot(self.snapshot(), indent=indent)

    def prometheus_collector(self) -> _report.PrometheusCollector:
        """A ``prometheus_client`` custom collector reading this registry at scrape time:
        ``prometheus_client.REGISTRY.register(registry.prometheus_collector())``. Needs the
        ``metrics`` extra (imported only when scraped)."""
        return _report.PrometheusCollector(self)

    def plot_latency(self, path: str | Path) -> Path:
        """Draw each stage's latency histogram into a PNG at ``path``. Needs the ``plot`` extra."""
        return _report.plot_latency(self.snapshot(), Path(path))

    def close_all(self, timeout: float | None = None) -> None:
        """Close every open stage, newest first (stages are built sink to source, so each
        drains into stages that are still open)."""
        for stage in reversed(self.stages()):
            if not stage.closed:
                stage.close(timeout)


_default = StageRegistry()


def default_registry() -> StageRegistry:
    """The process-wide registry that stages join unless given ``registry=``."""
    return _default


@atexit.register
def _close_open_stages() -> None:
    """At interpreter exit, drain what is still queued rather than drop it (worker threads are
    daemons, so an unclosed stage never blocks exit by itself)."""
    for _, stage in sorted(_every_stage.items(), reverse=True):
        if stage.closed:
            continue
        try:
            stage.close()
        except Exception:
            log.exception("stage %r failed to close at exit", stage.name)
