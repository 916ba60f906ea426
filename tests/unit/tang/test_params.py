"""Named parameter declarations are checked when the class is defined."""

import types
from typing import Any, TypeVar

import pytest

from reef.tang import ClassHierarchyError, NamedParameter

T = TypeVar("T")


def test_well_formed_parameter() -> None:
    class Rounds(NamedParameter[int]):
        """How many rounds."""

        default = 3

    assert Rounds.value_type() is int
    assert Rounds.has_default()
    assert Rounds.documentation() == "How many rounds."
    assert not Rounds.is_implementation()


def test_parameter_without_type_argument() -> None:
    with pytest.raises(ClassHierarchyError, match="no concrete type"):

        class Bare(NamedParameter):  # type: ignore[type-arg]
            """No type."""


@pytest.mark.parametrize("arg", [T, Any])
def test_parameter_with_non_concrete_type(arg: Any) -> None:
    with pytest.raises(ClassHierarchyError, match="no concrete type"):

        class Vague(NamedParameter[arg]):  # type: ignore[valid-type]
            """Vague."""


@pytest.mark.parametrize(
    ("tp", "default"),
    [(int, "ten"), (int, True), (str, 3), (list[int], [1, "2"]), (dict[str, int], {"a": 1.5})],
)
def test_default_of_wrong_type(tp: Any, default: Any) -> None:
    with pytest.raises(ClassHierarchyError, match="default") as info:
        _declare_with_default(tp, default)
    assert info.value.problems[0].path == "Declared"


def _declare_with_default(tp: Any, default: Any) -> None:
    def body(ns: dict[str, Any]) -> None:
        ns.update(default=default, __doc__="x")

    types.new_class("Declared", (NamedParameter[tp],), exec_body=body)


def test_int_default_accepted_for_float() -> None:
    _declare_with_default(float, 1)


def test_default_implementation_must_implement_the_type() -> None:
    class Base: ...

    class Other: ...

    with pytest.raises(ClassHierarchyError, match="not an implementation of Base"):
        _declare_with_default(Base, Other)


def test_all_declaration_problems_reported_together() -> None:
    with pytest.raises(ClassHierarchyError) as info:

        class Broken(NamedParameter[int]):
            """Broken twice."""

            default = "x"

            def __init__(self) -> None: ...

    messages = [p.message for p in info.value.problems]
    assert len(messages) == 2
    assert any("__init__" in m for m in messages)
    assert any("default 'x'" in m for m in messages)


def test_subclassing_a_parameter_is_refused() -> None:
    class Rounds(NamedParameter[int]):
        """Rounds."""

    with pytest.raises(ClassHierarchyError, match="subclasses the named parameter"):

        class More(Rounds):
            """More."""


def test_parameters_are_never_instantiated() -> None:
    class Rounds(NamedParameter[int]):
        """Rounds."""

    with pytest.raises(TypeError, match="never instantiated"):
        Rounds()
