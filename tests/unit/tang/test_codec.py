"""Configurations as YAML: round trips, every check re-run on load, hostile documents refused."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reef.errors import Category
from reef.tang import (
    BindError,
    ClassHierarchyError,
    Configuration,
    ConfigurationError,
    InjectionError,
    NameResolutionError,
    _codec,
)
from tests.unit.tang import app

VALUES: dict[Any, st.SearchStrategy[Any]] = {
    app.Iterations: st.integers(),
    app.JobName: st.text(),
    app.Ratio: st.floats(allow_nan=False),
    app.Hosts: st.lists(st.text()),
    app.Weights: st.dictionaries(st.text(), st.floats(allow_nan=False)),
    app.RunMode: st.sampled_from(list(app.Mode)),
    app.Level: st.sampled_from(["low", "high"]),
    app.DataDir: st.text().map(pathlib.Path),
    app.Verbose: st.booleans(),
    app.StoreClass: st.sampled_from([app.MemoryStore, app.FileStore]),
    app.Primary: st.sampled_from([app.MemoryStore, app.FileStore]),
}


@st.composite
def configurations(draw: st.DrawFn) -> Configuration:
    chosen = draw(st.lists(st.sampled_from(sorted(VALUES, key=str)), unique=True))
    params = {p: draw(VALUES[p]) for p in chosen}
    impls: dict[Any, Any] = {}
    if draw(st.booleans()):
        impls[app.Store] = draw(st.sampled_from([app.MemoryStore, app.FileStore]))
    if draw(st.booleans()):
        impls[app.Clock] = app.RealClock
    return Configuration(implementations=impls, parameters=params)


@given(configurations())
def test_round_trip_preserves_equality(conf: Configuration) -> None:
    text = conf.to_yaml()
    again = Configuration.from_yaml(text)
    assert again == conf
    assert again.to_yaml() == text  # the document is canonical


def test_document_shape() -> None:
    conf = Configuration(
        implementations={app.Store: app.MemoryStore},
        parameters={app.Iterations: 3, app.Hosts: ["a", "b"], app.Primary: app.FileStore},
    )
    assert conf.to_yaml() == textwrap.dedent(
        """\
        implementations:
          tests.unit.tang.app:Store: tests.unit.tang.app:MemoryStore
        parameters:
          tests.unit.tang.app:Hosts:
          - a
          - b
          tests.unit.tang.app:Iterations: 3
          tests.unit.tang.app:Primary: tests.unit.tang.app:FileStore
        reef.tang: 1
        """
    )


def test_loading_checks_roots() -> None:
    text = Configuration(implementations={app.Store: app.MemoryStore}).to_yaml()
    with pytest.raises(InjectionError, match="JobName"):
        Configuration.from_yaml(text, app.Job)


def test_unresolvable_names_all_listed() -> None:
    text = textwrap.dedent(
        """\
        reef.tang: 1
        implementations:
          tests.unit.tang.app:Store: tests.unit.tang.app:FileStor
          no.such.module:Iface: tests.unit.tang.app:MemoryStore
        parameters:
          tests.unit.tang.app:Iteration: 3
          tests.unit.tang.app:Hosts: [7, h2]
        """
    )
    with pytest.raises(NameResolutionError) as info:
        Configuration.from_yaml(text)
    found = [(p.category, p.message) for p in info.value.problems]
    assert len(found) == 4
    assert found[0][0] is Category.NAME_RESOLUTION
    assert "tests.unit.tang.app has no attribute 'FileStor'" in found[0][1]
    assert "cannot import module 'no.such.module'" in found[1][1]
    assert "has no attribute 'Iteration'" in found[2][1]
    assert found[3] == (Category.BIND, "at [0]: expected str, got 7 (int)")


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ("tests.unit.tang.app:Iterations: ten", "expected int, got 'ten' (str)"),
        ("tests.unit.tang.app:Iterations: true", "expected int, got True (bool)"),
        ("tests.unit.tang.app:Iterations: '12'", "expected int, got '12' (str)"),
        ("tests.unit.tang.app:Level: mid", "expected Literal['low', 'high']"),
        ("tests.unit.tang.app:RunMode: SLOW", "'SLOW' is not a member of Mode"),
        ("tests.unit.tang.app:Primary: builtins:dict", "dict is not a subclass of Store"),
        ("tests.unit.tang.app:Weights: [1, 2]", "expected dict[str, float] (a YAML mapping)"),
        ("tests.unit.tang.app:Store: x", "'tests.unit.tang.app:Store' is not a named parameter"),
    ],
)
def test_values_of_the_wrong_type(document: str, fragment: str) -> None:
    text = f"reef.tang: 1\nparameters:\n  {document}\n"
    with pytest.raises(BindError) as info:
        Configuration.from_yaml(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("!!python/object/apply:os.system ['true']", "not valid YAML"),
        ("reef.tang: !!python/name:os.system 1", "not valid YAML"),
        ("[" * 10_000 + "]" * 10_000, "nesting deeper than 64 levels"),
        (
            "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
            "anchors and aliases are not allowed",
        ),
        ("- a\n- b\n", "expected a mapping with the key 'reef.tang', got list"),
        ("reef.tang: 1\nextra: 2\n", "unknown keys ['extra']"),
        ("reef.tang: 2\n", "not a format version this reef reads"),
        ("reef.tang: 1\nimplementations: [a, b]\n", "implementations must be a mapping"),
        ("reef.tang: 1\nmain: 3\n", "main must be a script path"),
        ("key: [unclosed\n", "not valid YAML"),
        ("", "expected a mapping"),
        ("reef.tang: 1\nimplementations:\n  3: 4\n", "expected a class path"),
    ],
)
def test_hostile_and_malformed_documents(text: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Configuration.from_yaml(text)
    assert fragment in str(info.value)


def test_bytes_that_are_not_utf8() -> None:
    with pytest.raises(BindError, match="not UTF-8"):
        Configuration.from_yaml(b"\xff\xfe reef.tang: 1")


def test_oversized_document(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_codec, "MAX_BYTES", 100)
    with pytest.raises(BindError, match="larger than 100 bytes"):
        Configuration.from_yaml("reef.tang: 1\n" + "#" * 200)


def test_unshippable_classes_refused_at_write() -> None:
    class Local(app.Store):
        def put(self, key: str, value: bytes) -> None: ...

    with pytest.raises(BindError, match="defined inside a function"):
        Configuration(implementations={app.Store: Local}).to_yaml()


def test_parameter_type_problem_on_load() -> None:
    text = "reef.tang: 1\nparameters:\n  tests.unit.tang.app:FileStore: 3\n"
    with pytest.raises(BindError, match="is not a named parameter"):
        Configuration.from_yaml(text)


MAIN_SCRIPT = """\
import pathlib, sys
from typing import Annotated
from reef.tang import Configuration, NamedParameter, Tang

class Greeting(NamedParameter[str]):
    '''What to say.'''

class Greeter:
    def __init__(self, text: Annotated[str, Greeting]) -> None:
        self.text = text

if __name__ == "__main__":
    with open(sys.argv[1], "a") as marker:
        marker.write("ran\\n")
    conf = Configuration(parameters={Greeting: "hello"}).merge(
        Configuration(implementations={Greeter: Greeter}))
    sys.stdout.write(conf.to_yaml())
"""

LOADER = """\
import json, sys
from reef.tang import Configuration, Tang, use_main_script
if len(sys.argv) > 2:
    use_main_script(sys.argv[1], recorded=sys.argv[2])
text = sys.stdin.read()
conf = Configuration.from_yaml(text)
[greeter_cls] = list(conf.implementations)
greeter = Tang.new_injector(conf).get_instance(greeter_cls)
print(json.dumps({"text": greeter.text, "module": type(greeter).__module__,
                  "again": conf.to_yaml() == text}))
"""


def _run(args: list[str], stdin: str = "") -> str:
    env = dict(os.environ, PYTHONPATH=str(pathlib.Path(__file__).parents[3]))
    done = subprocess.run(
        [sys.executable, *args], input=stdin, capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_main_script_classes_resolve_in_another_process(tmp_path: pathlib.Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(MAIN_SCRIPT)
    marker = tmp_path / "marker"
    text = _run([str(script), str(marker)])
    assert "__main__:Greeter" in text
    assert f"main: {script}" in text
    out = json.loads(_run(["-c", LOADER], stdin=text))
    assert out == {"text": "hello", "module": "__reef_main__", "again": True}
    assert marker.read_text() == "ran\n"  # loading the script did not run its main block


def test_main_script_shipped_elsewhere(tmp_path: pathlib.Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(MAIN_SCRIPT)
    text = _run([str(script), str(tmp_path / "marker")])
    shipped = tmp_path / "container" / "job.py"
    shipped.parent.mkdir()
    shipped.write_text(MAIN_SCRIPT)
    script.unlink()
    out = json.loads(_run(["-c", LOADER, str(shipped), str(script)], stdin=text))
    assert out["text"] == "hello"


def test_main_script_missing_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    text = "reef.tang: 1\nmain: /nonexistent/job.py\nimplementations:\n  __main__:A: __main__:B\n"
    with pytest.raises(NameResolutionError, match="is not on this machine"):
        Configuration.from_yaml(text)


def test_class_hierarchy_errors_of_loaded_classes_are_reported() -> None:
    text = "reef.tang: 1\nimplementations:\n  tests.unit.tang.app:Store: tests.unit.tang.app:FileStore\n"
    conf = Configuration.from_yaml(text)
    with pytest.raises(ClassHierarchyError, match="DoesNotExist"):
        Configuration.from_yaml(text, app.Forward)
    assert conf.implementations[app.Store] is app.FileStore
