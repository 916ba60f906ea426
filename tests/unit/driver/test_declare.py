"""Driver classes are checked when they are defined: every problem in one error."""

import pytest

import reef
from reef.driver._declare import handlers_of


def test_a_valid_driver_records_its_handlers() -> None:
    class Good(reef.Driver):
        @reef.on(reef.StartTime)
        def start(self, event: reef.StartTime) -> None: ...

        @reef.on(reef.CompletedActivity)
        @reef.on(reef.FailedActivity)
        def ended(self, event: object, extra: int = 0) -> None: ...

    assert handlers_of(Good) == {
        reef.StartTime: "start",
        reef.CompletedActivity: "ended",
        reef.FailedActivity: "ended",
    }


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(reef.DriverDefinitionError) as info:

        class Bad(reef.Driver):
            @reef.on(int)
            def unknown(self, event: int) -> None: ...

            @reef.on(reef.StartTime)
            def first(self, event: reef.StartTime) -> None: ...

            @reef.on(reef.StartTime)
            def second(self, event: reef.StartTime) -> None: ...

            @reef.on(reef.StopTime)
            def no_event(self) -> None: ...

            @reef.on(reef.ActiveContext)
            def wrong_annotation(self, event: reef.AllocatedEvaluator) -> None: ...

            @reef.on(reef.ClientMessage)
            def too_many(self, event: reef.ClientMessage, other: int) -> None: ...

            @reef.on(reef.ContextMessage)
            async def asynchronous(self, event: reef.ContextMessage) -> None: ...

            @reef.on(reef.ActivityMessage)
            @staticmethod
            def static(event: reef.ActivityMessage) -> None: ...

    problems = info.value.problems
    text = "\n".join(problems)
    assert len(problems) == 7, text
    assert "Bad.unknown: @on(int) is not a driver event" in text
    assert "Bad.second: StartTime is already handled by Bad.first" in text
    assert "Bad.no_event: a handler takes (self, event); it takes 1 positional" in text
    assert (
        "Bad.wrong_annotation: handles ActiveContext but its event parameter is annotated AllocatedEvaluator"
        in text
    )
    assert (
        "Bad.too_many: a handler takes (self, event); parameters ['other'] have no default" in text
    )
    assert "Bad.asynchronous: handlers are synchronous" in text
    assert "Bad.static: a handler must be a plain method, not a staticmethod" in text


def test_bare_on_is_reported() -> None:
    with pytest.raises(reef.DriverDefinitionError, match="@on needs the event type"):

        class Bare(reef.Driver):
            @reef.on  # type: ignore[arg-type]
            def start(self, event: reef.StartTime) -> None: ...


def test_handlers_are_inherited_and_overridable() -> None:
    class Base(reef.Driver):
        @reef.on(reef.StartTime)
        def start(self, event: reef.StartTime) -> None: ...

        @reef.on(reef.StopTime)
        def stop(self, event: reef.StopTime) -> None: ...

    class Child(Base):
        @reef.on(reef.StartTime)
        def begin(self, event: reef.StartTime) -> None: ...

        def stop(self, event: reef.StopTime) -> None: ...  # still the StopTime handler

    assert handlers_of(Child) == {reef.StartTime: "begin", reef.StopTime: "stop"}
