"""What the driver remembers for people watching a job: activity counts and durations, and the
record of every configuration shipped to every evaluator, in order.

Kept cheap on purpose (a few dictionary operations per activity): it runs whether or not anyone
looks. The driver core calls it under its lock; snapshots are plain JSON-ready dictionaries.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from typing import Any

from reef.driver._events import (
    CompletedActivity,
    FailedActivity,
    FailedEvaluator,
    RunningActivity,
    SuspendedActivity,
)
from reef.driver._submission import CheckedActivity, CheckedContext

RECENT = 200  # finished activities kept for display


@dataclass(slots=True)
class _Running:
    evaluator: str
    context: str
    submitted: float  # time.time()
    started: float | None = None


@dataclass(slots=True)
class JobObserver:
    """Counters, the activities in flight, the last finished ones, and the shipping record."""

    started: float = field(default_factory=time.time)
    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    running: dict[str, _Running] = field(default_factory=dict)
    recent: collections.deque[dict[str, Any]] = field(
        default_factory=lambda: collections.deque(maxlen=RECENT)
    )
    shipped: list[dict[str, Any]] = field(default_factory=list)
    documents: dict[str, int] = field(default_factory=dict)

    # -- shipping ---------------------------------------------------------------------------------

    def _document(self, text: str) -> int:
        index = self.documents.get(text)
        if index is None:
            index = self.documents[text] = len(self.documents)
        return index

    def shipped_context(self, evaluator: str, parent: str | None, context: CheckedContext) -> None:
        """A context was sent to an evaluator."""
        self.shipped.append(
            {
                "kind": "context",
                "evaluator": evaluator,
                "id": context.id,
                "parent": parent,
                "services": list(context.service_paths),
                "configuration": self._document(context.document),
            }
        )

    def shipped_activity(self, evaluator: str, context: str, activity: CheckedActivity) -> None:
        """An activity was sent to an evaluator."""
        self.shipped.append(
            {
                "kind": "activity",
                "evaluator": evaluator,
                "context": context,
                "id": activity.id,
                "activity": activity.class_path,
                "configuration": self._document(activity.document),
                "memento_bytes": None if activity.memento is None else len(activity.memento),
            }
        )
        self.counts["submitted"] += 1
        self.running[activity.id] = _Running(evaluator, context, time.time())

    # -- events -----------------------------------------------------------------------------------

    def observe(self, event: object) -> None:
        """Count what an event says about activities."""
        kind = type(event)
        if kind is RunningActivity:
            assert isinstance(event, RunningActivity)
            run = self.running.get(event.id)
            if run is not None and run.started is None:
                run.started = time.time()
                self.counts["started"] += 1
        elif kind is CompletedActivity:
            assert isinstance(event, CompletedActivity)
            self._ended(event.id, "completed")
        elif kind is FailedActivity:
            assert isinstance(event, FailedActivity)
            self._ended(event.id, "failed")
        elif kind is SuspendedActivity:
            assert isinstance(event, SuspendedActivity)
            self._ended(event.id, "suspended")
        elif kind is FailedEvaluator:
            assert isinstance(event, FailedEvaluator)
            if event.failed_activity is not None:
                self._ended(event.failed_activity.id, "failed")

    def _ended(self, activity_id: str, outcome: str) -> None:
        self.counts[outcome] += 1
        run = self.running.pop(activity_id, None)
        if run is None:
            return
        now = time.time()
        self.recent.append(
            {
                "id": activity_id,
                "evaluator": run.evaluator,
                "context": run.context,
                "state": outcome,
                "submitted": run.submitted,
                "ended": now,
                "seconds": now - run.submitted,
            }
        )

    # -- views ------------------------------------------------------------------------------------

    def activities(self) -> dict[str, Any]:
        """Counts, the running activities and the last finished ones."""
        now = time.time()
        started = sum(1 for run in self.running.values() if run.started is not None)
        return {
            "submitted": self.counts["submitted"],
            "starting": len(self.running) - started,
            "running": started,
            "completed": self.counts["completed"],
            "failed": self.counts["failed"],
            "suspended": self.counts["suspended"],
            "in_flight": [
                {
                    "id": activity_id,
                    "evaluator": run.evaluator,
                    "context": run.context,
                    "state": "running" if run.started is not None else "starting",
                    "submitted": run.submitted,
                    "seconds": now - run.submitted,
                }
                for activity_id, run in list(self.running.items())[:RECENT]
            ],
            "recent": list(self.recent)[-50:][::-1],
        }

    def record(self) -> dict[str, Any]:
        """The shipping record: every configuration sent, in order, and the documents."""
        documents = sorted(self.documents.items(), key=lambda item: item[1])
        return {"shipped": list(self.shipped), "documents": [text for text, _ in documents]}
