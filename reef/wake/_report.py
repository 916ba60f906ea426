"""Reports over stage statistics: text, JSON, a Prometheus collector and a latency plot.

``prometheus_client`` and ``matplotlib`` are optional extras, imported only when used.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reef.wake._histogram import BUCKETS

if TYPE_CHECKING:
    from reef.wake._registry import StageRegistry
    from reef.wake._statistics import StageStatistics

# Histogram bounds exported to Prometheus: every stage uses the same ones (so series aggregate),
# 2**7 ns (128 ns) up to 2**36 ns (about 69 s), plus +Inf.
_PROMETHEUS_BOUNDS = range(7, 37)


def _us(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e6:.1f}"


def text_report(stats: Sequence[StageStatistics]) -> str:
    """One row per stage; latencies in microseconds, ``-`` where nothing was timed."""
    header = (
        "stage", "kind", "profiling", "in", "out", "failed", "rejected", "queue", "busy",
        "threads", "events/s", "parallelism", "mean us", "p50 us", "p99 us",
    )  # fmt: skip
    rows = [header]
    for s in stats:
        rows.append(
            (
                s.name + (" (closed)" if s.closed else ""),
                s.kind,
                s.profiling,
                str(s.events_in),
                str(s.events_out),
                str(s.events_failed),
                str(s.events_rejected),
                str(s.queue_length),
                str(s.busy),
                str(s.threads),
                f"{s.throughput:.0f}",
                f"{s.effective_parallelism:.2f}",
                _us(s.latency_mean),
                _us(s.latency_p50),
                _us(s.latency_p99),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row in rows:
        name_and_kind = [row[i].ljust(widths[i]) for i in range(3)]
        numbers = [row[i].rjust(widths[i]) for i in range(3, len(row))]
        lines.append("  ".join(name_and_kind + numbers).rstrip())
    return "\n".join(lines) + "\n"


def json_snapshot(stats: Sequence[StageStatistics], *, indent: int | None = None) -> str:
    """``{"stages": [...]}`` with every field and derived figure of each stage."""
    return json.dumps({"stages": [s.as_dict() for s in stats]}, indent=indent)


class PrometheusCollector:
    """A ``prometheus_client`` custom collector: it reads the registry at each scrape, so the
    event path never touches ``prometheus_client``."""

    def __init__(self, registry: StageRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Any]:
        """The metric families for every live stage (called by ``prometheus_client``)."""
        from prometheus_client.core import (  # noqa: PLC0415 (optional extra)
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        labels = ["stage", "kind"]
        events = CounterMetricFamily(
            "wake_stage_events",
            "Events offered to a stage: accepted (events_in), completed, failed, rejected.",
            labels=[*labels, "outcome"],
        )
        handler_faults = CounterMetricFamily(
            "wake_stage_error_handler_failures", "Error-handler calls that raised.", labels=labels
        )
        busy_seconds = CounterMetricFamily(
            "wake_stage_busy_seconds", "Thread-seconds spent in the handler.", labels=labels
        )
        gauges = {
            "queue_length": GaugeMetricFamily(
                "wake_stage_queue_length", "Events waiting in the queue.", labels=labels
            ),
            "busy": GaugeMetricFamily(
                "wake_stage_busy_threads", "Threads inside the handler now.", labels=labels
            ),
            "threads": GaugeMetricFamily(
                "wake_stage_threads", "Worker threads of the stage.", labels=labels
            ),
            "effective_parallelism": GaugeMetricFamily(
                "wake_stage_effective_parallelism",
                "Busy time over uptime (average threads in the handler).",
                labels=labels,
            ),
            "uptime_seconds": GaugeMetricFamily(
                "wake_stage_uptime_seconds", "Seconds since the stage was built.", labels=labels
            ),
        }
        latency = HistogramMetricFamily(
            "wake_stage_latency_seconds",
            "Sampled latency: on_next to handler done for queued stages, the handler alone "
            "for inline and timer stages.",
            labels=labels,
        )
        for s in self._registry.snapshot():
            ids = [s.name, s.kind]
            for outcome, value in (
                ("accepted", s.events_in),
                ("completed", s.events_out),
                ("failed", s.events_failed),
                ("rejected", s.events_rejected),
            ):
                events.add_metric([*ids, outcome], value)
            handler_faults.add_metric(ids, s.error_handler_failures)
            busy_seconds.add_metric(ids, s.busy_seconds)
            for field, family in gauges.items():
                family.add_metric(ids, float(getattr(s, field)))
            latency.add_metric(
                ids, _cumulative_buckets(s.latency_histogram), s.latency_total_ns / 1e9
            )
        yield events
        yield handler_faults
        yield busy_seconds
        yield from gauges.values()
        yield latency


def _cumulative_buckets(histogram: Sequence[int]) -> list[tuple[str, float]]:
    """Prometheus ``le`` buckets: bucket ``i`` holds durations below ``2**i`` ns."""
    buckets: list[tuple[str, float]] = []
    below = sum(histogram[: _PROMETHEUS_BOUNDS.start])
    for index in _PROMETHEUS_BOUNDS:
        below += histogram[index]
        buckets.append((repr((1 << index) / 1e9), float(below)))
    buckets.append(("+Inf", float(sum(histogram))))
    return buckets


def _duration(ns: float) -> str:
    for unit, size in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= size:
            return f"{ns / size:g}{unit}"
    return f"{ns:g}ns"


def plot_latency(stats: Sequence[StageStatistics], path: Path) -> Path:
    """One step line per stage over log2 latency buckets, log-scaled counts, as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 (optional extra)
    from matplotlib.figure import Figure  # noqa: PLC0415

    # The object API with the Agg canvas: no pyplot, no global backend switch.
    figure = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    drawn = 0
    for s in stats:
        buckets = [i for i, count in enumerate(s.latency_histogram) if count]
        if not buckets:
            continue
        span = range(max(0, buckets[0] - 1), min(BUCKETS, buckets[-1] + 2))
        axes.step(
            list(span),
            [s.latency_histogram[i] for i in span],
            where="mid",
            label=f"{s.name} ({s.latency_samples} samples)",
        )
        drawn += 1
    if drawn:
        axes.set_yscale("log")
        axes.legend(fontsize="small")
        ticks = axes.get_xticks()
        axes.set_xticks(ticks, [_duration(2.0**t) for t in ticks])
    else:
        axes.text(0.5, 0.5, "no latency samples", ha="center", va="center")
    axes.set_xlabel("latency (log2 buckets)")
    axes.set_ylabel("events")
    axes.set_title("Wake stage latency")
    figure.tight_layout()
    figure.savefig(path, format="png")
    return path
