"""The driver's evaluator state machine, driven with messages: no processes, no network."""

from typing import Any

import pytest

import reef
from reef.driver._state import EvaluatorManager, Phase
from reef.driver._submission import CheckedActivity, CheckedContext
from reef.errors import StateError
from reef.proto import control_pb2 as pb
from reef.runtime._api import ContainerExit, ExitKind, Placement
from reef.tang import Configuration


class Ops:
    """Handles' link to the driver: these tests never call handle methods."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected call to {name}")


def manager() -> EvaluatorManager:
    m = EvaluatorManager("ev-1", Placement("h", 256, 1, "local", log_path="/logs/ev-1"), Ops())  # type: ignore[arg-type]
    events = m.registered(pb.Register(evaluator_id="ev-1", host="node1", pid=42), now=1.0)
    assert [type(e) for e in events] == [reef.AllocatedEvaluator]
    assert events[0].descriptor == reef.EvaluatorDescriptor("node1", 256, 1, "local")
    return m


def context(cid: str) -> CheckedContext:
    return CheckedContext(cid, "reef.tang: 1\n", (), Configuration(), ())


def activity(aid: str, memento: bytes | None = None) -> CheckedActivity:
    return CheckedActivity(aid, "reef.tang: 1\n", "m:A", memento)


def ctx_status(cid: str, state: int, parent: str = "", error: str = "") -> pb.ContextStatus:
    s = pb.ContextStatus(context_id=cid, parent_id=parent, state=state)  # type: ignore[arg-type]
    if error:
        s.error.type_name, s.error.message = "ValueError", error
    return s


def act_status(aid: str, cid: str, state: int, result: bytes | None = None) -> pb.ActivityStatus:
    s = pb.ActivityStatus(activity_id=aid, context_id=cid, state=state)  # type: ignore[arg-type]
    if result is not None:
        s.result = result
    return s


def kinds(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_context_then_activities_then_close() -> None:
    m = manager()
    cmd = m.add_context(None, context("root"), None)
    assert cmd.WhichOneof("kind") == "add_context"
    assert m.phase is Phase.RUNNING
    assert kinds(m.context_status(ctx_status("root", pb.ContextStatus.ACTIVE))) == ["ActiveContext"]
    cmd = m.start_activity("root", activity("a1", b"memo"))
    assert cmd.start_activity.memento == b"memo"
    with pytest.raises(StateError, match="one activity at a time"):
        m.start_activity("root", activity("a2"))
    assert kinds(m.activity_status(act_status("a1", "root", pb.ActivityStatus.RUNNING))) == [
        "RunningActivity"
    ]
    done = m.activity_status(act_status("a1", "root", pb.ActivityStatus.COMPLETED, b"r"))
    assert kinds(done) == ["CompletedActivity"]
    assert done[0].result == b"r"
    assert done[0].context.id == "root"
    m.close_context("root")
    with pytest.raises(StateError, match="already closing"):
        m.close_context("root")
    closed = m.context_status(ctx_status("root", pb.ContextStatus.CLOSED))
    assert kinds(closed) == ["ClosedContext"]
    assert closed[0].parent is None
    m.said_goodbye("root context closed")
    assert kinds(m.exited(ContainerExit(ExitKind.EXITED, code=0))) == ["CompletedEvaluator"]
    assert m.phase is Phase.DONE


def test_a_context_started_with_an_activity_fires_running_not_active() -> None:
    m = manager()
    cmd = m.add_context(None, context("root"), activity("a1"))
    assert cmd.add_context.activity.activity_id == "a1"
    assert m.context_status(ctx_status("root", pb.ContextStatus.ACTIVE)) == []
    assert kinds(m.activity_status(act_status("a1", "root", pb.ActivityStatus.RUNNING))) == [
        "RunningActivity"
    ]


def test_an_activity_ending_without_running_reports_running_first() -> None:
    m = manager()
    m.add_context(None, context("root"), activity("a1"))
    m.context_status(ctx_status("root", pb.ContextStatus.ACTIVE))
    failed = pb.ActivityStatus(activity_id="a1", context_id="root", state=pb.ActivityStatus.FAILED)
    failed.error.type_name, failed.error.message = "ZeroDivisionError", "division by zero"
    events = m.activity_status(failed)
    assert kinds(events) == ["RunningActivity", "FailedActivity"]
    assert events[1].error.type_name == "ZeroDivisionError"
    assert events[1].error.log_path == "/logs/ev-1"


def test_suspension_carries_the_memento() -> None:
    m = manager()
    m.add_context(None, context("root"), activity("a1"))
    m.context_status(ctx_status("root", pb.ContextStatus.ACTIVE))
    m.activity_status(act_status("a1", "root", pb.ActivityStatus.RUNNING))
    m.signal("a1", True, b"please")
    events = m.activity_status(act_status("a1", "root", pb.ActivityStatus.SUSPENDED, b"state-7"))
    assert kinds(events) == ["SuspendedActivity"]
    assert events[0].memento == b"state-7"


def test_only_the_top_context_takes_children_activities_and_closes() -> None:
    m = manager()
    m.add_context(None, context("root"), None)
    with pytest.raises(StateError, match="is starting"):
        m.add_context("root", context("child"), None)
    m.context_status(ctx_status("root", pb.ContextStatus.ACTIVE))
    with pytest.raises(StateError, match="already has a root context"):
        m.add_context(None, context("other"), None)
    m.add_context("root", context("child"), None)
    m.context_status(ctx_status("child", pb.ContextStatus.ACTIVE, parent="root"))
    with pytest.raises(StateError, match="has a child context"):
        m.start_activity("root", activity("a"))
    with pytest.raises(StateError, match="close the child first"):
        m.close_context("root")
    with pytest.raises(StateError, match="has no context 'nope'"):
        m.start_activity("nope", activity("a"))
    m.close_context("child")
    closed = m.context_status(ctx_status("child", pb.ContextStatus.CLOSED, parent="root"))
    assert closed[0].parent is not None
    assert closed[0].parent.id == "root"


def test_a_failed_child_context_leaves_the_parent() -> None:
    m = manager()
    m.add_context(None, context("root"), None)
    m.context_status(ctx_status("root", pb.ContextStatus.ACTIVE))
    m.add_context("root", context("child"), None)
    events = m.context_status(ctx_status("child", pb.ContextStatus.FAILED, "root", "bad service"))
    assert kinds(events) == ["FailedContext"]
    assert events[0].error.message == "bad service"
    assert events[0].parent.id == "root"
    assert [c.id for c in m.contexts] == ["root"]
    assert m.phase is Phase.RUNNING


def test_a_failed_root_context_ends_the_evaluator_cleanly() -> None:
    m = manager()
    m.add_context(None, context("root"), activity("a1"))
    events = m.context_status(ctx_status("root", pb.ContextStatus.FAILED, error="boom"))
    assert kinds(events) == ["FailedContext"]
    assert events[0].parent is None
    assert m.activity is None
    assert m.phase is Phase.CLOSING
    m.said_goodbye("root context failed")
    assert kinds(m.exited(ContainerExit(ExitKind.EXITED, code=0))) == ["CompletedEvaluator"]


def test_losing_a_busy_evaluator_reports_its_contexts_and_activity() -> None:
    m = manager()
    m.add_context(None, context("root"), None)
    m.context_status(ctx_status("root", pb.ContextStatus.ACTIVE))
    m.add_context("root", context("child"), activity("a1"))
    m.context_status(ctx_status("child", pb.ContextStatus.ACTIVE, "root"))
    m.activity_status(act_status("a1", "child", pb.ActivityStatus.RUNNING))
    events = m.exited(ContainerExit(ExitKind.EXITED, code=-9, signal=9, log_path="/l"))
    assert kinds(events) == ["FailedEvaluator"]
    failed = events[0]
    assert failed.failed_contexts == ("root", "child")
    assert failed.failed_activity.id == "a1"
    assert failed.failed_activity.error.ids == {
        "evaluator": "ev-1",
        "context": "child",
        "activity": "a1",
    }
    assert failed.error.type_name == "EvaluatorExited"
    assert "killed by signal 9" in failed.error.message
    assert m.exited(ContainerExit(ExitKind.KILLED)) == []  # reported once
    with pytest.raises(StateError, match="evaluator ev-1 is failed"):
        m.start_activity("child", activity("a2"))


def test_an_exit_before_registering_is_a_launch_failure() -> None:
    m = EvaluatorManager("ev-9", Placement("h", 1, 1, "local"), Ops())  # type: ignore[arg-type]
    events = m.exited(ContainerExit(ExitKind.EXITED, code=1, diagnostics="ImportError: numpy"))
    assert kinds(events) == ["FailedEvaluator"]
    assert events[0].error.type_name == "EvaluatorLaunchFailure"
    assert "before it connected" in events[0].error.message
    assert "ImportError: numpy" in events[0].error.message


def test_reports_that_contradict_the_state_are_refused() -> None:
    m = manager()
    with pytest.raises(StateError, match="unknown context"):
        m.context_status(ctx_status("ghost", pb.ContextStatus.ACTIVE))
    with pytest.raises(StateError, match="which it does not run"):
        m.activity_status(act_status("ghost", "root", pb.ActivityStatus.COMPLETED))
    with pytest.raises(StateError, match="registered twice"):
        m.registered(pb.Register(evaluator_id="ev-1"), now=2.0)


def test_closing_the_evaluator_is_idempotent_and_forgets_its_contexts_on_goodbye() -> None:
    m = manager()
    m.add_context(None, context("root"), None)
    assert m.close("bye") is not None
    assert m.close("again") is None
    m.said_goodbye("shut down by the driver")
    assert kinds(m.exited(ContainerExit(ExitKind.EXITED, code=0))) == ["CompletedEvaluator"]


def test_messages_become_events() -> None:
    m = manager()
    events = m.user_message(
        pb.UserMessage(source=pb.UserMessage.ACTIVITY, source_id="a", context_id="c", data=b"x")
    )
    assert events == [reef.ActivityMessage("a", "c", b"x", "ev-1")]
    events = m.user_message(
        pb.UserMessage(source=pb.UserMessage.CONTEXT, source_id="c", context_id="c", data=b"y")
    )
    assert events == [reef.ContextMessage("c", b"y", "ev-1")]
