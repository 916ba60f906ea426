"""Injectors: one instance per class per injector, children that share their parents'
instances, values handed out as configured."""

import threading
from typing import Annotated

import pytest

from reef.tang import (
    BindError,
    Configuration,
    ConfigurationError,
    InjectionError,
    Injector,
    Tang,
)
from tests.unit.tang import app


class Counter:
    instances = 0

    def __init__(self) -> None:
        Counter.instances += 1
        self.value = 0


class Activity:
    def __init__(self, counter: Counter, rounds: Annotated[int, app.Iterations]) -> None:
        self.counter, self.rounds = counter, rounds


class UsesHosts:
    def __init__(self, hosts: Annotated[list[str], app.Hosts]) -> None:
        self.hosts = hosts


class Exploding:
    def __init__(self) -> None:
        raise RuntimeError("boom")


class NeedsExploding:
    def __init__(self, e: Exploding) -> None: ...


def test_one_instance_per_class_per_injector() -> None:
    injector = Tang.new_injector(Configuration())
    assert injector.get_instance(Counter) is injector.get_instance(Counter)
    other = Tang.new_injector(Configuration())
    assert other.get_instance(Counter) is not injector.get_instance(Counter)


def test_child_shares_parent_instances_and_adds_its_own() -> None:
    context = Tang.new_injector(Configuration())
    counter = context.get_instance(Counter)  # a service, made when the context starts
    first = context.fork(Configuration(parameters={app.Iterations: 1})).get_instance(Activity)
    second = context.fork(Configuration(parameters={app.Iterations: 2})).get_instance(Activity)
    assert first.counter is counter and second.counter is counter
    assert (first.rounds, second.rounds) == (1, 2)
    assert first is not second


def test_child_instances_stay_in_the_child() -> None:
    parent = Tang.new_injector(Configuration())
    child = parent.fork()
    made_in_child = child.get_instance(Counter)
    assert parent.get_instance(Counter) is not made_in_child
    assert made_in_child not in parent.created()


def test_child_cannot_change_a_parent_binding() -> None:
    parent = Tang.new_injector(Configuration(parameters={app.Iterations: 5}))
    with pytest.raises(BindError, match="bound to two different values: 5 and 6"):
        parent.fork(Configuration(parameters={app.Iterations: 6}))
    assert parent.fork(Configuration(parameters={app.Iterations: 5})).get_instance(Activity)


def test_grandchildren_see_every_ancestor() -> None:
    root = Tang.new_injector(Configuration(implementations={app.Store: app.MemoryStore}))
    store = root.get_instance(app.Store)
    middle = root.fork()
    counter = middle.get_instance(Counter)
    leaf = middle.fork()
    assert leaf.get_instance(app.Store) is store
    assert leaf.get_instance(Counter) is counter
    assert leaf.get_instance(app.MemoryStore) is store


def test_created_lists_instances_in_construction_order() -> None:
    conf = Configuration(
        implementations={app.Store: app.MemoryStore}, parameters={app.JobName: "j"}
    )
    injector = Tang.new_injector(conf)
    job = injector.get_instance(app.Job)
    names = [type(o).__name__ for o in injector.created()]
    assert names == ["MemoryStore", "RealClock", "Job"]
    assert injector.created()[-1] is job


def test_container_values_cannot_change_the_configuration() -> None:
    injector = Tang.new_injector(Configuration(parameters={app.Hosts: ["a", "b"]}))
    first = injector.get_instance(UsesHosts)
    first.hosts.append("c")
    assert injector.fork().get_instance(UsesHosts) is first  # shared: made by the parent
    assert Tang.new_injector(injector.configuration).get_instance(UsesHosts).hosts == ["a", "b"]
    assert injector.configuration.parameters[app.Hosts] == ["a", "b"]


def test_named_parameter_values() -> None:
    injector = Tang.new_injector(Configuration(parameters={app.Iterations: 3}))
    assert injector.get_named_parameter(app.Iterations) == 3
    assert injector.get_instance(app.Iterations) == 3
    assert injector.get_named_parameter(app.Ratio) == 0.5
    with pytest.raises(InjectionError, match="JobName"):
        injector.get_named_parameter(app.JobName)


def test_constructor_exceptions_propagate_with_a_note() -> None:
    injector = Tang.new_injector(Configuration())
    with pytest.raises(RuntimeError, match="boom") as info:
        injector.get_instance(NeedsExploding)
    assert any("Exploding" in note for note in info.value.__notes__)


def test_configuration_problems_raise_before_anything_is_made() -> None:
    app.CONSTRUCTED.clear()
    injector = Tang.new_injector(Configuration(implementations={app.Store: app.FileStore}))
    with pytest.raises(InjectionError):
        injector.get_instance(app.Job)
    assert app.CONSTRUCTED == []
    assert not injector.is_injectable(app.Job)
    assert "not injectable" in str(injector.plan(app.Job))


def test_provided_instance_must_match_its_key() -> None:
    with pytest.raises(ConfigurationError, match="is not a Counter"):
        Tang.new_injector(instances={Counter: object()})


def test_the_injector_itself_is_injectable() -> None:
    class WantsInjector:
        def __init__(self, injector: Injector) -> None:
            self.injector = injector

    parent = Tang.new_injector()
    child = parent.fork()
    assert child.get_instance(WantsInjector).injector is child


def test_concurrent_requests_get_one_instance() -> None:
    injector = Tang.new_injector(Configuration())
    results: list[Counter] = []
    barrier = threading.Barrier(8)

    def get() -> None:
        barrier.wait()
        results.append(injector.get_instance(Counter))

    threads = [threading.Thread(target=get) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(r) for r in results}) == 1


def test_merging_several_configurations_at_creation() -> None:
    injector = Tang.new_injector(
        Configuration(implementations={app.Store: app.MemoryStore}),
        Configuration(parameters={app.JobName: "j"}),
    )
    assert injector.get_instance(app.Job).name == "j"


def test_deep_graphs_do_not_exhaust_the_stack() -> None:
    import sys
    import types

    depth = 3000  # far beyond what recursive resolution survives under the default limit
    source = ["class L0:\n    def __init__(self) -> None: pass"]
    source += [
        f"class L{i}:\n    def __init__(self, below: 'L{i - 1}') -> None: self.below = below"
        for i in range(1, depth)
    ]
    module = types.ModuleType("_deep_chain")
    sys.modules[module.__name__] = module
    try:
        exec("\n".join(source), module.__dict__)
        top = getattr(module, f"L{depth - 1}")
        made = Tang.new_injector().get_instance(top)
        for _ in range(depth - 1):
            made = made.below
        assert type(made).__name__ == "L0"
    finally:
        del sys.modules[module.__name__]


def test_forks_with_one_configuration_share_its_merge_and_plans() -> None:
    context = Tang.new_injector(Configuration())  # an empty configuration: falsy, still cached
    context.get_instance(Counter)
    first = context.fork(Configuration(parameters={app.Iterations: 4}))
    second = context.fork(Configuration(parameters={app.Iterations: 4}))
    assert first.configuration is second.configuration
    assert (
        context.fork(Configuration()).configuration is context.fork(Configuration()).configuration
    )
    a, b = first.get_instance(Activity), second.get_instance(Activity)
    assert a is not b
    assert a.counter is b.counter is context.get_instance(Counter)
    assert first.get_instance(Activity) is a  # one instance per class per injector
    assert a in first.created()
    assert a not in context.created()


def test_objects_made_directly_are_reused_by_later_plans() -> None:
    class UsesActivity:
        def __init__(self, activity: Activity) -> None:
            self.activity = activity

    context = Tang.new_injector(Configuration())
    context.get_instance(Counter)
    child = context.fork()
    activity = child.get_instance(Activity)  # every argument exists: made without injector
    assert child.get_instance(UsesActivity).activity is activity


class _Data:
    pass


class _Loader:
    def __init__(self, data: _Data) -> None:
        self.data = data


class _Model:
    pass


class _Step:
    def __init__(self, data: _Data) -> None:
        self.data = data


class _Activity:
    def __init__(self, step: _Step, model: _Model) -> None:
        self.step, self.model = step, model


def test_a_child_sees_objects_its_parent_made_directly_after_its_runtime_existed() -> None:
    # A context's services in order: _Data (direct), _Loader (needs the runtime: it asks for
    # an existing object through a plan), then _Model, made directly once the runtime exists.
    # An activity that makes a new object (_Step) through the runtime must still find _Model.
    context = Tang.new_injector(Configuration())
    services = [context.get_instance(k) for k in (_Data, _Loader, _Model)]
    activity = context.fork(Configuration()).get_instance(_Activity)
    assert activity.model is services[2]
    assert activity.step.data is services[0]
