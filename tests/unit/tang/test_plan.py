"""Static checks of injection plans: every problem, with its category and path, found without
instantiating anything."""

import abc
from typing import Annotated, Optional, Protocol

import pytest

from reef.errors import Category
from reef.tang import (
    ClassHierarchyError,
    Configuration,
    ConfigurationError,
    InjectionError,
    InjectionFuture,
    NamedParameter,
    ProviderOf,
    Tang,
    default_implementation,
)
from tests.unit.tang import app


@pytest.fixture(autouse=True)
def _count_constructions() -> None:
    app.CONSTRUCTED.clear()


def problems_of(err: ConfigurationError) -> list[tuple[Category, str, str]]:
    return [(p.category, p.path, p.message) for p in err.problems]


class Size(NamedParameter[int]):
    """A size."""


class Fraction(NamedParameter[float]):
    """A fraction, no default."""


class Unnamed:
    def __init__(self, n: int) -> None: ...


class Mismatched:
    def __init__(self, it: Annotated[float, app.Iterations]) -> None: ...


class Unannotated:
    def __init__(self, w) -> None:  # type: ignore[no-untyped-def]
        ...


class WithDefaults:
    def __init__(
        self, n: int = 7, name: str = "x", w=3, ratio: Annotated[float, Fraction] = 0.1
    ) -> None:  # type: ignore[no-untyped-def]
        self.n, self.name, self.w, self.ratio = n, name, w, ratio


def test_declaration_problems_all_reported_once() -> None:
    class Bad:
        def __init__(self, a: Unnamed, b: Mismatched, c: Unannotated) -> None: ...

    with pytest.raises(ClassHierarchyError) as info:
        Configuration().check(Bad)
    assert problems_of(info.value) == [
        (
            Category.CLASS_HIERARCHY,
            "Bad -> Unnamed(n)",
            "asks for an unnamed int without a default",
        ),
        (
            Category.CLASS_HIERARCHY,
            "Bad -> Mismatched(it)",
            "asks for float but Iterations is NamedParameter[int]",
        ),
        (
            Category.CLASS_HIERARCHY,
            "Bad -> Unannotated(w)",
            "has neither an annotation nor a default, so nothing can be injected",
        ),
    ]


def test_unresolvable_forward_reference() -> None:
    with pytest.raises(ClassHierarchyError, match="DoesNotExist") as info:
        Configuration().check(app.Forward)
    assert info.value.problems[0].path == "Forward"


def test_constructor_defaults_make_values_optional() -> None:
    Configuration().check(WithDefaults)
    made = Tang.new_injector(Configuration()).get_instance(WithDefaults)
    assert (made.n, made.name, made.w, made.ratio) == (7, "x", 3, 0.1)


def test_missing_everything_is_reported_at_once() -> None:
    class Needs:
        def __init__(
            self, store: app.Store, size: Annotated[int, Size], sink: app.Sink, job: app.Job
        ) -> None: ...

    with pytest.raises(InjectionError) as info:
        Configuration().check(Needs)
    assert problems_of(info.value) == [
        (
            Category.INJECTION,
            "Needs(store)",
            "no implementation bound for Store (an abstract class)",
        ),
        (Category.INJECTION, "Needs(size)", "named parameter Size has no value and no default"),
        (Category.INJECTION, "Needs(sink)", "no implementation bound for Sink (a protocol)"),
        (
            Category.INJECTION,
            "Needs -> Job(name)",
            "named parameter JobName has no value and no default",
        ),
    ]
    assert app.CONSTRUCTED == []


def test_paths_follow_bound_implementations() -> None:
    conf = Configuration(implementations={app.Store: app.FileStore}, parameters={app.JobName: "j"})
    with pytest.raises(InjectionError) as info:
        conf.check(app.Job)
    assert problems_of(info.value) == [
        (
            Category.INJECTION,
            "Job -> FileStore(root)",
            "named parameter DataDir has no value and no default",
        )
    ]


def test_cycle_reported_with_its_path() -> None:
    with pytest.raises(InjectionError) as info:
        Configuration().check(app.CycleA)
    [(category, path, message)] = problems_of(info.value)
    assert category is Category.INJECTION
    assert path == "CycleA -> CycleB(a)"
    assert message == "constructor cycle: CycleA -> CycleB -> CycleA"
    assert "ProviderOf" in (info.value.problems[0].hint or "")


def test_cycle_broken_by_provider_of() -> None:
    injector = Tang.new_injector(Configuration())
    a = injector.get_instance(app.LazyA)
    assert a.b.a.get() is a


def test_injection_future_is_provider_of() -> None:
    class Late:
        def __init__(self, store: InjectionFuture[app.Store]) -> None:
            self.store = store

    conf = Configuration(implementations={app.Store: app.MemoryStore})
    late = Tang.new_injector(conf).get_instance(Late)
    assert app.CONSTRUCTED == []  # not made until asked for
    assert isinstance(late.store.get(), app.MemoryStore)


def test_future_target_is_checked_too() -> None:
    class Late:
        def __init__(self, store: ProviderOf[app.Store]) -> None: ...

    with pytest.raises(InjectionError, match=r"Late\(store\): no implementation bound for Store"):
        Configuration().check(Late)


def test_optional_becomes_none_when_not_injectable() -> None:
    class Maybe:
        def __init__(self, store: Optional[app.Store] = None, clock: app.Clock | None = None):  # noqa: UP045
            self.store, self.clock = store, clock

    made = Tang.new_injector(Configuration()).get_instance(Maybe)
    assert made.store is None
    assert isinstance(made.clock, app.RealClock)
    bound = Configuration(implementations={app.Store: app.MemoryStore})
    assert isinstance(Tang.new_injector(bound).get_instance(Maybe).store, app.MemoryStore)


def test_union_ambiguity_lists_alternatives() -> None:
    class A:
        pass

    class B:
        pass

    class Either:
        def __init__(self, x: A | B) -> None: ...

    with pytest.raises(InjectionError) as info:
        Configuration().check(Either)
    assert "ambiguous" in str(info.value)
    assert "A, B" in str(info.value)


def test_union_picks_the_most_specific() -> None:
    class Base:
        pass

    class Special(Base):
        pass

    class Either:
        def __init__(self, x: Base | Special) -> None:
            self.x = x

    assert type(Tang.new_injector(Configuration()).get_instance(Either).x) is Special


def test_default_implementation_not_a_subclass() -> None:
    class Unrelated:
        pass

    @default_implementation(Unrelated)
    class Iface(abc.ABC):
        @abc.abstractmethod
        def f(self) -> None: ...

    with pytest.raises(ClassHierarchyError, match="default implementation is not a subclass"):
        Configuration().check(Iface)


def test_default_implementation_by_path() -> None:
    @default_implementation("tests.unit.tang.app:FileSink")
    class Writer(Protocol):
        def write(self, data: bytes) -> None: ...

    assert isinstance(Tang.new_injector().get_instance(Writer), app.FileSink)

    @default_implementation("tests.unit.tang.app:Nope")
    class Broken(Protocol):
        def write(self, data: bytes) -> None: ...

    with pytest.raises(ClassHierarchyError, match="does not resolve"):
        Configuration().check(Broken)


def test_explicit_binding_wins_over_default_implementation() -> None:
    class FixedClock(app.Clock):
        def now(self) -> float:
            return 1.0

    conf = Configuration(implementations={app.Clock: FixedClock})
    assert isinstance(Tang.new_injector(conf).get_instance(app.Clock), FixedClock)


def test_binding_checks_generics_and_protocols() -> None:
    with pytest.raises(ConfigurationError) as info:
        Configuration(implementations={app.Handler[int]: app.StrPrinter, app.Sink: app.NotASink})
    text = str(info.value)
    assert "StrPrinter implements Handler[str], not Handler[int]" in text
    assert "NotASink does not implement protocol Sink: missing ['write']" in text
    conf = Configuration(implementations={app.Handler[int]: app.IntPrinter, app.Sink: app.FileSink})

    class Uses:
        def __init__(self, h: app.Handler[int], s: app.Sink) -> None:
            self.h, self.s = h, s

    made = Tang.new_injector(conf).get_instance(Uses)
    assert isinstance(made.h, app.IntPrinter)
    assert isinstance(made.s, app.FileSink)


def test_nothing_is_instantiated_while_checking() -> None:
    conf = Configuration(
        implementations={app.Store: app.FileStore},
        parameters={app.JobName: "j", app.DataDir: "/tmp"},
    )
    conf.check(app.Job)
    injector = Tang.new_injector(conf)
    assert injector.is_injectable(app.Job)
    text = str(injector.plan(app.Job))
    assert app.CONSTRUCTED == []
    assert "Store -> FileStore (bound)" in text
    assert "root: PosixPath('/tmp') [DataDir] (configured)" in text
    assert "iterations: 10 [Iterations] (parameter default)" in text
    assert "clock: Clock -> RealClock (default implementation)" in text


def test_provided_types_count_as_injectable() -> None:
    class Runtime:
        pass

    class NeedsRuntime:
        def __init__(self, r: Runtime) -> None:
            self.r = r

    rt = Runtime()
    Configuration().check(NeedsRuntime, provided=[Runtime])
    assert Tang.new_injector(instances={Runtime: rt}).get_instance(NeedsRuntime).r is rt
