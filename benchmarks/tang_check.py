"""Tang: the cost of static checking and of injection, beside its peers.

Measures, in one run:
- checking a generated configuration of 300 classes (150 interfaces bound to 150
  implementations, each implementation needing two interfaces and a named parameter): cold (first
  sight of the classes: annotations read) and warm (a new Configuration of known classes), beside
  the only way plain ``injector`` finds the same problems: building the whole graph;
- injecting a 10-deep object graph with a fresh injector each time, beside plain ``injector``
  (``@inject``, ``auto_bind``) and direct constructor calls (the floor).

Targets: check <= 50 ms, injection <= 100 us per object graph. Prints a table, then a JSON line.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import textwrap
import time
import types
from collections.abc import Callable
from typing import Any

import injector as plain_injector

from reef.tang import Configuration, Tang

N_IFACES = 150
DEPTH = 10


def _make_module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(compile(source, name, "exec"), module.__dict__)  # generated benchmark classes
    return module


def wide_module(tag: str) -> types.ModuleType:
    """150 abstract interfaces, 150 implementations, each implementation asking for the two
    previous interfaces and one named parameter."""
    lines = [
        "import abc",
        "from typing import Annotated",
        "from reef.tang import NamedParameter",
        "class Weight(NamedParameter[int]):",
        "    '''A weight.'''",
        "    default = 1",
    ]
    for i in range(N_IFACES):
        deps = [f"d{j}: I{j}" for j in (i - 1, i - 2) if j >= 0]
        params = ", ".join(["self", *deps, "w: Annotated[int, Weight]"])
        lines += [
            f"class I{i}(abc.ABC):",
            "    @abc.abstractmethod",
            "    def f(self) -> None: ...",
            f"class C{i}(I{i}):",
            f"    def __init__({params}) -> None:",
            "        self.w = w",
            "    def f(self) -> None: ...",
        ]
    return _make_module(f"_bench_wide_{tag}", "\n".join(lines))


def deep_module() -> types.ModuleType:
    """A chain of DEPTH classes, each asking for the next, usable by Tang and by ``injector``."""
    lines = ["from injector import inject"]
    for i in range(DEPTH):
        lines.append(f"class L{i}:")
        lines.append("    @inject")
        if i == DEPTH - 1:
            lines.append("    def __init__(self) -> None: pass")
        else:
            lines.append(f"    def __init__(self, nxt: 'L{i + 1}') -> None: self.nxt = nxt")
    return _make_module("_bench_deep", textwrap.dedent("\n".join(lines)))


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    samples = []
    gc.collect()
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def per_call(fn: Callable[[], Any], number: int, repeat: int = 5) -> float:
    """Best mean seconds per call over ``repeat`` batches of ``number`` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def main() -> None:
    results: dict[str, Any] = {}

    # -- checking -------------------------------------------------------------------------------
    cold = []
    for k in range(5):  # fresh classes each time: annotations have never been read
        mod = wide_module(f"cold{k}")
        impls = {getattr(mod, f"I{i}"): getattr(mod, f"C{i}") for i in range(N_IFACES)}
        root = getattr(mod, f"C{N_IFACES - 1}")
        start = time.perf_counter()
        Configuration(implementations=impls).check(root)
        cold.append(time.perf_counter() - start)
    mod = wide_module("warm")
    impls = {getattr(mod, f"I{i}"): getattr(mod, f"C{i}") for i in range(N_IFACES)}
    root = getattr(mod, f"C{N_IFACES - 1}")
    warm = timed(lambda: Configuration(implementations=impls).check(root), 30)

    def injector_graph() -> None:
        def configure(binder: plain_injector.Binder) -> None:
            for iface, impl in impls.items():
                binder.bind(iface, to=impl)
            binder.bind(mod.Weight, to=1)

        plain_injector.Injector([configure]).get(root)

    for impl in impls.values():  # plain injector reads annotations of @inject constructors only
        plain_injector.inject(impl)
    try:
        plain = statistics.median(timed(injector_graph, 10)) * 1e3
    except RecursionError:
        plain = None  # the graph is 150 interfaces deep: injector recurses ~10 frames a level
    tang_build = timed(
        lambda: Tang.new_injector(
            Configuration(implementations=impls).merge(Configuration())
        ).get_instance(root),
        10,
    )
    results["check_300_classes_cold_ms"] = statistics.median(cold) * 1e3
    results["check_300_classes_warm_ms"] = statistics.median(warm) * 1e3
    results["tang_build_300_ms"] = statistics.median(tang_build) * 1e3
    results["plain_injector_build_300_ms"] = plain  # None: RecursionError

    # -- injection ---------------------------------------------------------------------------------
    deep = deep_module()
    top = deep.L0
    conf = Configuration()
    conf.check(top)

    def tang_inject() -> None:
        Tang.new_injector(conf).get_instance(top)

    def plain_inject() -> None:
        plain_injector.Injector().get(top)

    classes = [getattr(deep, f"L{i}") for i in range(DEPTH)]

    def direct() -> None:
        obj: Any = classes[-1]()
        for cls in reversed(classes[:-1]):
            obj = cls(obj)

    results["inject_10_deep_us"] = per_call(tang_inject, 2000) * 1e6
    results["plain_injector_10_deep_us"] = per_call(plain_inject, 2000) * 1e6
    results["direct_10_deep_us"] = per_call(direct, 20000) * 1e6
    results["inject_vs_plain_injector"] = (
        results["inject_10_deep_us"] / results["plain_injector_10_deep_us"]
    )
    results["targets"] = {
        "check_ms_max": 50,
        "inject_us_max": 100,
        "check_met": results["check_300_classes_cold_ms"] <= 50,
        "inject_met": results["inject_10_deep_us"] <= 100,
    }

    print(f"{'measure':42} {'value':>12}")
    for key, value in results.items():
        if isinstance(value, float):
            print(f"{key:42} {value:12.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
