"""Configuration modules: declared slots, binds and sets, checked with every problem reported."""

from typing import Annotated

import pytest

from reef.errors import Category
from reef.tang import (
    BindError,
    ClassHierarchyError,
    Configuration,
    ConfigurationError,
    ConfigurationModuleBuilder,
    InjectionError,
    NamedParameter,
    OptionalParameter,
    RequiredImpl,
    RequiredParameter,
    Tang,
)
from tests.unit.tang import app


def categories(err: ConfigurationError) -> list[Category]:
    return [p.category for p in err.problems]


def test_the_api_example_builds_and_injects() -> None:
    conf = (
        app.JOB_CONF.set(app.JobConf.STORE, app.MemoryStore)
        .set(app.JobConf.NAME, "wordcount")
        .build(app.Job)
    )
    job = Tang.new_injector(conf).get_instance(app.Job)
    assert isinstance(job.store, app.MemoryStore)
    assert (job.name, job.iterations) == ("wordcount", 10)
    assert isinstance(job.clock, app.RealClock)  # @default_implementation


def test_modules_are_immutable() -> None:
    first = app.JOB_CONF.set(app.JobConf.NAME, "a")
    second = app.JOB_CONF.set(app.JobConf.NAME, "b")
    a = first.set(app.JobConf.STORE, app.MemoryStore).build()
    b = second.set(app.JobConf.STORE, app.MemoryStore).build()
    assert a.parameters[app.JobName] == "a"
    assert b.parameters[app.JobName] == "b"
    with pytest.raises(BindError, match="required option not set"):
        app.JOB_CONF.build()


def test_all_required_slots_listed() -> None:
    with pytest.raises(BindError) as info:
        app.JOB_CONF.build(app.Job)
    paths = sorted(p.path for p in info.value.problems)
    assert paths == ["JobConf.NAME", "JobConf.STORE"]
    assert all(p.message == "required option not set" for p in info.value.problems)


def test_optional_slot_left_unset_keeps_the_default() -> None:
    conf = app.JOB_CONF.set(app.JobConf.STORE, app.MemoryStore).set(app.JobConf.NAME, "x").build()
    assert app.Iterations not in conf.parameters
    assert Tang.new_injector(conf).get_instance(app.Job).iterations == 10


def test_wrong_values_all_reported() -> None:
    with pytest.raises(BindError) as info:
        (
            app.JOB_CONF.set(app.JobConf.STORE, dict)
            .set(app.JobConf.NAME, 3)
            .set(app.JobConf.ITERATIONS, "ten")
            .build(app.Job)
        )
    text = str(info.value)
    assert "Store (via JobConf.STORE): cannot be bound to dict" in text
    assert "JobName (via JobConf.NAME): expected str, got 3 (int)" in text
    assert "Iterations (via JobConf.ITERATIONS): cannot parse 'ten' as int" in text
    assert len(info.value.problems) == 3


def test_strings_are_parsed_for_typed_slots() -> None:
    conf = (
        app.JOB_CONF.set(app.JobConf.STORE, "tests.unit.tang.app:MemoryStore")
        .set(app.JobConf.NAME, "n")
        .set(app.JobConf.ITERATIONS, "12")
        .build(app.Job)
    )
    assert conf.parameters[app.Iterations] == 12
    assert conf.implementations[app.Store] is app.MemoryStore


def test_second_set_and_foreign_slot() -> None:
    class Other(ConfigurationModuleBuilder):
        X = RequiredParameter[str]()

    with pytest.raises(ClassHierarchyError) as info:
        (
            app.JOB_CONF.set(app.JobConf.NAME, "a")
            .set(app.JobConf.NAME, "b")
            .set(Other.X, "x")
            .set(app.JobConf.STORE, app.MemoryStore)
            .build()
        )
    text = str(info.value)
    assert "already set to 'a'" in text
    assert "slot Other.X belongs to Other, not to JobConf" in text
    assert categories(info.value).count(Category.BIND) == 1


def test_builder_checks_every_problem_at_once() -> None:
    class Unused(ConfigurationModuleBuilder):
        A = OptionalParameter[int]()
        B = RequiredParameter[str]()
        C = RequiredImpl[app.Store]()

    class Foreign(ConfigurationModuleBuilder):
        X = RequiredImpl[app.Store]()

    with pytest.raises(ClassHierarchyError) as info:
        (
            Unused()
            .bind_named_parameter(app.Iterations, Unused.B)  # str slot for an int parameter
            .bind_named_parameter(app.Iterations, 5)  # bound twice
            .bind_implementation(app.Store, Foreign.X)  # slot of another module
            .bind_implementation(app.Clock, Unused.C)  # Store slot for a Clock
            .build()
        )
    text = str(info.value)
    assert "slot Unused.B is declared RequiredParameter[str] but Iterations is" in text
    assert "is already bound at test_module.py:" in text
    assert "slot Foreign.X belongs to Foreign, not to this module" in text
    assert "is not an implementation of Clock" in text
    assert "declared options not used in any bind: ['Unused.A']" in text
    assert len(info.value.problems) == 5


def test_slot_kind_mismatch() -> None:
    class Kinds(ConfigurationModuleBuilder):
        P = RequiredParameter[int]()
        I = RequiredImpl[app.Store]()  # noqa: E741

    with pytest.raises(ClassHierarchyError) as info:
        Kinds().bind_implementation(app.Store, Kinds.P).bind_named_parameter(
            app.Iterations, Kinds.I
        ).build()
    text = str(info.value)
    assert "slot Kinds.P is a RequiredParameter; this bind needs an *Impl slot" in text
    assert "slot Kinds.I is a RequiredImpl; this bind needs a *Parameter slot" in text


def test_untyped_and_aliased_slots() -> None:
    shared = RequiredParameter[int]()

    class Odd(ConfigurationModuleBuilder):
        RAW = RequiredParameter()  # type: ignore[var-annotated]
        ONE = shared
        TWO = shared

    with pytest.raises(ClassHierarchyError) as info:
        Odd().bind_named_parameter(app.Iterations, Odd.ONE).bind_named_parameter(
            app.Ratio, Odd.RAW
        ).build()
    text = str(info.value)
    assert "slot declared without a type" in text
    assert "also declared as ['Odd.TWO']" in text


def test_literal_values_checked_when_building_the_module() -> None:
    class Lit(ConfigurationModuleBuilder):
        pass

    with pytest.raises(BindError, match="cannot parse 'x' as int"):
        Lit().bind_named_parameter(app.Iterations, "x").build()


def test_build_with_roots_reports_injection_and_declaration_problems_together() -> None:
    class Needs(NamedParameter[str]):
        """Needed."""

    class Unnamed:
        def __init__(self, n: int) -> None: ...

    class Root:
        def __init__(self, job: app.Job, v: Annotated[str, Needs], u: Unnamed) -> None: ...

    with pytest.raises(ClassHierarchyError) as info:
        app.JOB_CONF.set(app.JobConf.STORE, app.FileStore).build(Root)
    text = str(info.value)
    assert "[Bind] JobConf.NAME: required option not set" in text
    assert "[Injection] Root(v): named parameter Needs has no value and no default" in text
    assert "[ClassHierarchy] Root -> Unnamed(n): asks for an unnamed int without a default" in text
    assert "[Injection] Root -> Job -> FileStore(root): named parameter DataDir" in text
    assert len(info.value.problems) == 4


def test_built_configuration_merges_with_others() -> None:
    conf = app.JOB_CONF.set(app.JobConf.STORE, app.MemoryStore).set(app.JobConf.NAME, "x").build()
    more = conf.merge(Configuration(parameters={app.Ratio: 0.25}))
    assert more.parameters[app.Ratio] == 0.25
    with pytest.raises(BindError, match="bound to two different values"):
        conf.merge(Configuration(parameters={app.JobName: "y"}))


def test_module_merge() -> None:
    class Extra(ConfigurationModuleBuilder):
        RATIO = RequiredParameter[float]()

    extra = Extra().bind_named_parameter(app.Ratio, Extra.RATIO).build()

    class Combined(ConfigurationModuleBuilder):
        pass

    combined = Combined().merge(extra).merge(app.JOB_CONF).build()
    conf = (
        combined.set(Extra.RATIO, 0.1)
        .set(app.JobConf.STORE, app.MemoryStore)
        .set(app.JobConf.NAME, "n")
        .build(app.Job)
    )
    assert conf.parameters[app.Ratio] == 0.1
    with pytest.raises(ClassHierarchyError, match="has had set"):
        Combined().merge(extra.set(Extra.RATIO, 1.0))


def test_implementation_valued_parameter_through_a_module() -> None:
    class UsesPrimary:
        def __init__(self, s: Annotated[app.Store, app.Primary]) -> None:
            self.s = s

    default = app.PRIMARY_CONF.build(UsesPrimary)
    assert isinstance(Tang.new_injector(default).get_instance(UsesPrimary).s, app.MemoryStore)
    with pytest.raises(InjectionError, match="DataDir"):
        app.PRIMARY_CONF.set(app.PrimaryConf.PRIMARY, app.FileStore).build(UsesPrimary)
