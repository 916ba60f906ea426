"""``StageStatistics``: a frozen snapshot of one stage's profile."""

from __future__ import annotations

from dataclasses import dataclass

from reef.wake._histogram import bucket_bounds, percentile_ns


@dataclass(frozen=True, slots=True)
class StageStatistics:
    """One stage at one moment (SEDA-style). Counters are exact unless profiling is ``off``.

    When the stage is quiescent (nothing queued, no thread busy)
    ``events_in == events_out + events_failed + queue_length + busy``; while events flow the left
    side may lead (an event is counted in before it is queued, and queued before it is handled).
    ``busy`` counts threads inside their handler loop; for inline and timer stages it is the
    number of calls in progress. Latencies are in seconds, ``None`` without samples; the histogram
    has 64 log2 buckets of nanoseconds (see ``latency_buckets``).
    """

    name: str
    kind: str
    profiling: str
    closed: bool
    threads: int
    events_in: int
    events_out: int
    events_failed: int
    events_rejected: int
    error_handler_failures: int
    queue_length: int
    busy: int
    uptime_seconds: float
    busy_seconds: float
    latency_histogram: tuple[int, ...]
    latency_total_ns: int

    @property
    def latency_samples(self) -> int:
        """How many events were timed."""
        return sum(self.latency_histogram)

    @property
    def throughput(self) -> float:
        """Events handled (out or failed) per second of uptime."""
        if self.uptime_seconds <= 0:
            return 0.0
        return (self.events_out + self.events_failed) / self.uptime_seconds

    @property
    def effective_parallelism(self) -> float:
        """Busy time over uptime: how many threads were, on average, inside the handler (Little's
        law). Queued stages measure busy time; inline and timer stages estimate it from the timed
        events (0 when there are none)."""
        if self.uptime_seconds <= 0:
            return 0.0
        return self.busy_seconds / self.uptime_seconds

    @property
    def latency_mean(self) -> float | None:
        """Mean latency in seconds."""
        samples = self.latency_samples
        return self.latency_total_ns / samples / 1e9 if samples else None

    def latency_percentile(self, q: float) -> float | None:
        """The ``q``-quantile latency in seconds (``0 < q <= 1``), placed within its bucket."""
        ns = percentile_ns(self.latency_histogram, q)
        return None if ns is None else ns / 1e9

    @property
    def latency_p50(self) -> float | None:
        """Median latency in seconds."""
        return self.latency_percentile(0.5)

    @property
    def latency_p90(self) -> float | None:
        """90th percentile latency in seconds."""
        return self.latency_percentile(0.9)

    @property
    def latency_p99(self) -> float | None:
        """99th percentile latency in seconds."""
        return self.latency_percentile(0.99)

    def latency_buckets(self) -> list[tuple[int, int, int]]:
        """The non-empty buckets as ``(lowest ns, highest ns, count)``, shortest first."""
        return [
            (*bucket_bounds(index), count)
            for index, count in enumerate(self.latency_histogram)
            if count
        ]

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready mapping: every field and every derived figure."""
        return {
            "name": self.name,
            "kind": self.kind,
            "profiling": self.profiling,
            "closed": self.closed,
            "threads": self.threads,
            "events_in": self.events_in,
            "events_out": self.events_out,
            "events_failed": self.events_failed,
            "events_rejected": self.events_rejected,
            "error_handler_failures": self.error_handler_failures,
            "queue_length": self.queue_length,
            "busy": self.busy,
            "uptime_seconds": self.uptime_seconds,
            "busy_seconds": self.busy_seconds,
            "throughput": self.throughput,
            "effective_parallelism": self.effective_parallelism,
            "latency_samples": self.latency_samples,
            "latency_mean": self.latency_mean,
            "latency_p50": self.latency_p50,
            "latency_p90": self.latency_p90,
            "latency_p99": self.latency_p99,
            "latency_histogram": [
                {"low_ns": low, "high_ns": high, "count": count}
                for low, high, count in self.latency_buckets()
            ],
        }
