"""The stage registry and its reports: text, JSON, Prometheus exposition, latency plot."""

from __future__ import annotations

import gc
import json
from pathlib import Path

from reef.wake import (
    Profiling,
    SingleThreadStage,
    StageRegistry,
    SyncStage,
    ThreadPoolStage,
    default_registry,
)


def busy_registry(registry: StageRegistry) -> StageRegistry:
    """Two closed stages with known counts and latency samples."""
    parse = SyncStage(lambda e: None, name="parse", profiling=Profiling.on(), registry=registry)
    store = ThreadPoolStage(
        lambda e: 1 / 0 if e == 3 else None,
        2,
        name="store",
        profiling=Profiling.on(),
        error_handler=lambda exc, ev: None,
        registry=registry,
    )
    for i in range(10):
        parse.on_next(i)
        store.on_next(i)
    store.close()
    parse.close()
    return registry


def test_text_report_has_a_row_per_stage(registry: StageRegistry) -> None:
    report = busy_registry(registry).text_report()
    header, *rows = report.splitlines()
    assert header.split()[:4] == ["stage", "kind", "profiling", "in"]
    assert len(rows) == 2
    assert rows[0].split()[:6] == ["parse", "(closed)", "sync", "on", "10", "10"]
    assert rows[1].split()[:7] == ["store", "(closed)", "thread_pool", "on", "10", "9", "1"]


def test_json_snapshot_carries_every_stage(registry: StageRegistry) -> None:
    document = json.loads(busy_registry(registry).to_json(indent=2))
    parse, store = document["stages"]
    assert (parse["name"], parse["events_out"], parse["latency_samples"]) == ("parse", 10, 10)
    assert (store["events_in"], store["events_out"], store["events_failed"]) == (10, 9, 1)
    assert sum(b["count"] for b in store["latency_histogram"]) == 10
    assert store["latency_p99"] >= store["latency_p50"] > 0


def test_prometheus_exposition_parses_and_adds_up(registry: StageRegistry) -> None:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    scrape = CollectorRegistry()
    scrape.register(busy_registry(registry).prometheus_collector())
    text = generate_latest(scrape).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}

    events = {
        (s.labels["stage"], s.labels["outcome"]): s.value
        for s in families["wake_stage_events"].samples
    }
    assert events[("store", "accepted")] == 10
    assert events[("store", "completed")] == 9
    assert events[("store", "failed")] == 1
    assert events[("parse", "rejected")] == 0
    for name in ("wake_stage_queue_length", "wake_stage_busy_threads"):
        assert {s.value for s in families[name].samples} == {0.0}
    threads = {s.labels["stage"]: s.value for s in families["wake_stage_threads"].samples}
    assert threads == {"parse": 0.0, "store": 2.0}
    assert "wake_stage_effective_parallelism" in families

    latency = [
        s for s in families["wake_stage_latency_seconds"].samples if s.labels["stage"] == "store"
    ]
    buckets = [(s.labels["le"], s.value) for s in latency if s.name.endswith("_bucket")]
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), "buckets must be cumulative"
    assert buckets[-1] == ("+Inf", 10.0)
    assert [s.value for s in latency if s.name.endswith("_count")] == [10.0]
    assert [float(le) for le, _ in buckets[:-1]] == [2**i / 1e9 for i in range(7, 37)]


def test_latency_plot_is_a_png(registry: StageRegistry, tmp_path: Path) -> None:
    path = busy_registry(registry).plot_latency(tmp_path / "latency.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    empty = StageRegistry().plot_latency(tmp_path / "empty.png")
    assert empty.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_names_are_unique_among_live_stages(registry: StageRegistry) -> None:
    first = SingleThreadStage(print, name="dispatch", registry=registry)
    second = SingleThreadStage(print, name="dispatch", registry=registry)
    assert (first.name, second.name) == ("dispatch", "dispatch-2")
    assert [s.name for s in registry.snapshot()] == ["dispatch", "dispatch-2"]
    first.close()
    second.close()


def test_stages_are_held_weakly_and_stay_reportable_once_closed(registry: StageRegistry) -> None:
    stage = ThreadPoolStage(lambda e: None, name="short-lived", registry=registry)
    stage.on_next(1)
    stage.close()
    [final] = registry.snapshot()
    assert final.closed and final.events_out == 1
    del stage, final
    gc.collect()
    assert registry.stages() == []


def test_stages_join_the_default_registry_unless_told_otherwise() -> None:
    stage = SyncStage(print, name="default-member")
    assert stage in default_registry().stages()
    stage.close()


def test_close_all_closes_newest_first(registry: StageRegistry) -> None:
    order: list[str] = []
    sink = SingleThreadStage(lambda e: order.append("sink"), name="sink", registry=registry)
    source = SingleThreadStage(
        lambda e: (order.append("source"), sink.on_next(e)), name="source", registry=registry
    )
    source.on_next(1)
    registry.close_all()  # source drains into the still-open sink
    assert order == ["source", "sink"]
    assert sink.closed and source.closed
