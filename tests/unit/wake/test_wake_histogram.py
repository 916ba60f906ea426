"""Log2 histogram buckets and percentile math, and the figures StageStatistics derives."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reef.wake import StageStatistics
from reef.wake._histogram import BUCKETS, bucket_bounds, bucket_of, percentile_ns


def histogram_of(values: list[int]) -> list[int]:
    histogram = [0] * BUCKETS
    for v in values:
        histogram[bucket_of(v)] += 1
    return histogram


def statistics_of(histogram: list[int], total_ns: int = 0, **fields: object) -> StageStatistics:
    base: dict[str, object] = {
        "name": "s",
        "kind": "sync",
        "profiling": "on",
        "closed": False,
        "threads": 0,
        "events_in": 0,
        "events_out": 0,
        "events_failed": 0,
        "events_rejected": 0,
        "error_handler_failures": 0,
        "queue_length": 0,
        "busy": 0,
        "uptime_seconds": 0.0,
        "busy_seconds": 0.0,
        "latency_histogram": tuple(histogram),
        "latency_total_ns": total_ns,
    }
    base.update(fields)
    return StageStatistics(**base)


def test_buckets_tile_the_durations() -> None:
    assert bucket_bounds(0) == (0, 0)
    previous_high = 0
    for index in range(1, BUCKETS):
        low, high = bucket_bounds(index)
        assert low == previous_high + 1
        assert bucket_of(low) == bucket_of(high) == index
        previous_high = high
    assert bucket_of(2**80) == BUCKETS - 1
    assert bucket_of(-5) == 0
    with pytest.raises(ValueError, match="outside"):
        bucket_bounds(BUCKETS)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(
        st.one_of(st.integers(0, 2_000), st.integers(0, 10**12)), min_size=1, max_size=300
    ),
    percent=st.integers(1, 100),
)
def test_percentile_lands_in_the_bucket_of_the_nearest_rank_value(
    values: list[int], percent: int
) -> None:
    ordered = sorted(values)
    rank = -(-percent * len(values) // 100)  # ceil, in integers
    truth = ordered[rank - 1]
    estimate = percentile_ns(histogram_of(values), percent / 100)
    assert estimate is not None
    assert bucket_of(estimate) == bucket_of(truth)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(st.integers(0, 10**10), min_size=1, max_size=200))
def test_derived_latencies_are_ordered_and_the_mean_is_exact(values: list[int]) -> None:
    s = statistics_of(histogram_of(values), total_ns=sum(values))
    assert s.latency_samples == len(values)
    assert s.latency_mean == pytest.approx(sum(values) / len(values) / 1e9)
    p50, p90, p99 = s.latency_p50, s.latency_p90, s.latency_p99
    assert p50 is not None and p90 is not None and p99 is not None
    assert 0 <= p50 <= p90 <= p99 <= s.latency_percentile(1.0)
    assert p99 * 1e9 <= 2 * max(values) + 1


def test_an_empty_histogram_has_no_latency() -> None:
    s = statistics_of([0] * BUCKETS)
    assert (s.latency_samples, s.latency_mean, s.latency_p50, s.latency_p99) == (
        0,
        None,
        None,
        None,
    )
    assert s.latency_buckets() == []
    with pytest.raises(ValueError, match="quantile"):
        s.latency_percentile(0)


def test_throughput_and_parallelism_come_from_uptime() -> None:
    s = statistics_of(
        [0] * BUCKETS, events_out=90, events_failed=10, uptime_seconds=4.0, busy_seconds=6.0
    )
    assert s.throughput == 25.0
    assert s.effective_parallelism == 1.5
    idle = statistics_of([0] * BUCKETS)
    assert idle.throughput == 0.0 and idle.effective_parallelism == 0.0


def test_as_dict_carries_fields_derived_figures_and_nonempty_buckets() -> None:
    histogram = histogram_of([1_000, 1_500, 3_000])
    d = statistics_of(histogram, total_ns=5_500, uptime_seconds=1.0, events_out=3).as_dict()
    assert d["latency_samples"] == 3 and d["throughput"] == 3.0
    assert math.isclose(d["latency_mean"], 5_500 / 3 / 1e9)
    assert d["latency_histogram"] == [
        {"low_ns": 512, "high_ns": 1023, "count": 1},
        {"low_ns": 1024, "high_ns": 2047, "count": 1},
        {"low_ns": 2048, "high_ns": 4095, "count": 1},
    ]
