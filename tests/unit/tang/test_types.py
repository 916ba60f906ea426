"""Deep value checks, string parsing and the plain (YAML) form of values."""

import pathlib
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reef.tang._types import (
    ValueTypeError,
    check_value,
    coerce,
    from_plain,
    implements,
    is_value_type,
    parse_string,
    to_plain,
)
from tests.unit.tang import app


def _resolve(path: str) -> Any:
    from reef.tang._naming import resolve

    return resolve(path)


@pytest.mark.parametrize(
    ("value", "tp"),
    [
        (1, int),
        (1, float),
        (1.5, float),
        ("a", str),
        (True, bool),
        (b"x", bytes),
        (None, type(None)),
        ([1, 2], list[int]),
        ((1, "a"), tuple[int, str]),
        ((1, 2, 3), tuple[int, ...]),
        ({"a": 1.0}, dict[str, float]),
        ({1, 2}, set[int]),
        (frozenset({"x"}), frozenset[str]),
        ("low", Literal["low", "high"]),
        (None, int | None),
        (3, int | None),
        (app.MemoryStore, type[app.Store]),
        (app.Mode.FAST, app.Mode),
        (pathlib.Path("/x"), pathlib.Path),
        ([[1], [2, 3]], list[list[int]]),
    ],
)
def test_values_that_fit(value: Any, tp: Any) -> None:
    assert check_value(value, tp) is None


@pytest.mark.parametrize(
    ("value", "tp", "fragment"),
    [
        (True, int, "expected int, got True (bool)"),
        (1.5, int, "expected int"),
        (True, float, "expected float"),
        ("1", int, "expected int"),
        ([1, "2"], list[int], "at [1]: expected int, got '2' (str)"),
        ({"a": "x"}, dict[str, float], "at ['a']: expected float"),
        ({1: 1.0}, dict[str, float], "at {key 1}: expected str"),
        ((1,), tuple[int, str], "2 items"),
        ((1, "a", 2), tuple[int, ...], "at [1]: expected int"),
        ("mid", Literal["low", "high"], "expected Literal['low', 'high']"),
        (1, Literal[True], "expected Literal[True]"),
        ("x", int | None, "expected int | None"),
        (dict, type[app.Store], "dict is not a subclass of Store"),
        ([1], tuple[int, ...], "expected tuple"),
    ],
)
def test_values_that_do_not_fit(value: Any, tp: Any, fragment: str) -> None:
    problem = check_value(value, tp)
    assert problem is not None
    assert fragment in problem


@pytest.mark.parametrize(
    ("text", "tp", "expected"),
    [
        ("12", int, 12),
        ("0x10", int, 16),
        ("2.5", float, 2.5),
        ("yes", bool, True),
        ("off", bool, False),
        ("[1, 2]", list[int], [1, 2]),
        ("{a: 1.5}", dict[str, float], {"a": 1.5}),
        ("[1, 2]", tuple[int, int], (1, 2)),
        ("FAST", app.Mode, app.Mode.FAST),
        ("/tmp/x", pathlib.Path, pathlib.Path("/tmp/x")),
        ("tests.unit.tang.app:MemoryStore", type[app.Store], app.MemoryStore),
        ("3", int | None, 3),
        ("none", int | None, None),
        ("high", Literal["low", "high"], "high"),
    ],
)
def test_strings_are_parsed(text: str, tp: Any, expected: Any) -> None:
    assert coerce(text, tp) == expected


@pytest.mark.parametrize(
    ("text", "tp"),
    [
        ("ten", int),
        ("maybe", bool),
        ("[1, x]", list[int]),
        ("SLOW", app.Mode),
        ("no.such.module:Thing", type[app.Store]),
        ("[1, 2, 3]", tuple[int, int]),
    ],
)
def test_unparsable_strings(text: str, tp: Any) -> None:
    with pytest.raises(ValueTypeError, match="parse"):
        coerce(text, tp)


def test_strings_stay_strings_for_str_types() -> None:
    assert coerce("12", str) == "12"
    assert coerce("12", str | int) == "12"


def test_parse_string_rejects_unknown_types() -> None:
    with pytest.raises(ValueTypeError, match="no parser"):
        parse_string("x", complex)


def test_implements_generics_and_protocols() -> None:
    assert implements(app.IntPrinter, app.Handler[int]) is None
    assert "not Handler[int]" in (implements(app.StrPrinter, app.Handler[int]) or "")
    assert implements(app.FileSink, app.Sink) is None
    assert "missing ['write']" in (implements(app.NotASink, app.Sink) or "")
    assert "not a class" in (implements(3, app.Store) or "")


def test_value_type_classification() -> None:
    assert is_value_type(list[dict[str, tuple[int, ...]]])
    assert is_value_type(type[app.Store])
    assert not is_value_type(app.Store)
    assert not is_value_type(dict[tuple[int, int], int])  # keys must be scalars


scalars = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    st.text(),
    st.booleans(),
    st.binary(),
    st.none(),
)
TYPED = st.sampled_from(
    [
        (st.lists(st.integers()), list[int]),
        (st.dictionaries(st.text(), st.floats(allow_nan=False)), dict[str, float]),
        (st.tuples(st.integers(), st.text()), tuple[int, str]),
        (st.frozensets(st.integers()), frozenset[int]),
        (st.sampled_from(list(app.Mode)), app.Mode),
        (st.one_of(st.none(), st.integers()), int | None),
        (st.text().map(pathlib.PurePosixPath), pathlib.PurePosixPath),
        (st.lists(st.lists(st.booleans())), list[list[bool]]),
    ]
)


@given(TYPED.flatmap(lambda pair: st.tuples(pair[0], st.just(pair[1]))))
def test_plain_round_trip(pair: tuple[Any, Any]) -> None:
    value, tp = pair
    assert check_value(value, tp) is None
    assert from_plain(to_plain(value, tp), tp, _resolve) == value


@given(scalars)
def test_scalars_are_their_own_plain_form(value: Any) -> None:
    assert to_plain(value, Any) == value
