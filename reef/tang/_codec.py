"""Configurations as YAML documents: the wire format between driver and evaluators.

::

    reef.tang: 1
    main: /home/ann/jobs/wordcount.py     # only when a class of the main script is named
    implementations:
      app.store:Store: app.store:FileStore
    parameters:
      app.job:Iterations: 10
      app.job:Hosts: [h1, h2]

Only ``yaml.safe_load``/``safe_dump`` touch the text, and the document is scanned first: aliases
are refused and nesting is bounded, so a hostile document costs little and ends in a clear
``ConfigurationError``. Loading resolves every name and checks every value again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from reef.errors import BindError, Category, ConfigurationError, Problem
from reef.tang._bindings import check_implementations
from reef.tang._naming import ResolveError, class_path, main_script_of, resolve
from reef.tang._params import NamedParameter
from reef.tang._types import (
    ValueTypeError,
    check_value,
    describe,
    from_plain,
    implements,
    to_plain,
)

VERSION = 1
_HEADER = "reef.tang"
_KEYS = {_HEADER, "main", "implementations", "parameters"}
MAX_DEPTH = 64
MAX_BYTES = 64 * 1024 * 1024

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc]
    """Never writes anchors or aliases: the loader refuses them."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(implementations: Mapping[Any, type], parameters: Mapping[Any, Any]) -> str:
    """The YAML document for a configuration's bindings."""
    problems: list[Problem] = []
    mains: set[str] = set()

    def name(obj: Any, where: str) -> str | None:
        try:
            script = main_script_of(obj)
            if script is not None:
                mains.add(script)
            return class_path(obj)
        except ValueError as e:
            problems.append(Problem(Category.BIND, where, f"cannot be written: {e}"))
            return None

    impls: dict[str, str] = {}
    for iface, impl in implementations.items():
        where = describe(iface)
        if not isinstance(iface, type):
            problems.append(
                Problem(
                    Category.BIND,
                    where,
                    "a parameterized interface cannot be written into a document",
                    "bind a plain class (subclass the generic) instead",
                )
            )
            continue
        k, v = name(iface, where), name(impl, where)
        if k is not None and v is not None:
            impls[k] = v
    params: dict[str, Any] = {}
    for param, value in parameters.items():
        where = describe(param)
        k = name(param, where)
        try:
            for cls in _classes_in(value):
                name(cls, where)
            plain = to_plain(value, param.value_type())
        except (ValueTypeError, ValueError) as e:
            problems.append(Problem(Category.BIND, where, f"cannot be written: {e}"))
            continue
        if k is not None:
            params[k] = plain
    if len(mains) > 1:
        problems.append(
            Problem(Category.BIND, "main", f"classes from several main scripts: {sorted(mains)}")
        )
    if problems:
        raise ConfigurationError.of(problems)
    doc: dict[str, Any] = {_HEADER: VERSION}
    if mains:
        doc["main"] = mains.pop()
    if impls:
        doc["implementations"] = impls
    if params:
        doc["parameters"] = params
    text: str = yaml.dump(
        doc, Dumper=_Dumper, sort_keys=True, allow_unicode=True, default_flow_style=False
    )
    return text


def _classes_in(value: Any) -> list[type]:
    if isinstance(value, type):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [c for v in value for c in _classes_in(v)]
    if isinstance(value, dict):
        return [c for kv in value.items() for v in kv for c in _classes_in(v)]
    return []


def _bad(message: str, hint: str | None = None) -> ConfigurationError:
    return BindError([Problem(Category.BIND, "<document>", message, hint)])


def _scan(text: str) -> None:
    """Refuse aliases and deep nesting before anything is constructed."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise _bad(
                    "YAML anchors and aliases are not allowed in a configuration document",
                    "write every value out in full",
                )
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _bad(f"nesting deeper than {MAX_DEPTH} levels")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError as e:
        raise _bad(f"not valid YAML: {_yaml_message(e)}") from None


def _yaml_message(e: yaml.YAMLError) -> str:
    text = " ".join(str(e).split())
    return text[:300]


def load(text: str | bytes) -> tuple[dict[Any, type], dict[Any, Any]]:
    """The bindings a document describes (implementations, parameters), every name resolved and
    every value checked; every problem in one ``ConfigurationError``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _bad(f"not UTF-8 text: {e}") from None
    if not isinstance(text, str):
        raise TypeError(f"from_yaml() takes str or bytes, got {type(text).__name__}")
    if len(text) > MAX_BYTES:
        raise _bad(f"document larger than {MAX_BYTES} bytes")
    _scan(text)
    try:
        doc = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        raise _bad(f"not valid YAML: {_yaml_message(e)}") from None
    except RecursionError:
        raise _bad("nesting too deep") from None
    if not isinstance(doc, dict):
        raise _bad(
            f"expected a mapping with the key {_HEADER!r}, got {type(doc).__name__}",
            "is this a document written by Configuration.to_yaml()?",
        )
    unknown = sorted(str(k) for k in doc if k not in _KEYS)
    if unknown:
        raise _bad(f"unknown keys {unknown}; expected {sorted(_KEYS)}")
    if doc.get(_HEADER) != VERSION:
        raise _bad(
            f"{_HEADER}: {doc.get(_HEADER)!r} is not a format version this reef reads "
            f"(it reads {VERSION})"
        )
    main = doc.get("main")
    if main is not None and not isinstance(main, str):
        raise _bad(f"main must be a script path, got {type(main).__name__}")
    impls_doc = doc.get("implementations") or {}
    params_doc = doc.get("parameters") or {}
    for field, section in (("implementations", impls_doc), ("parameters", params_doc)):
        if not isinstance(section, dict):
            raise _bad(f"{field} must be a mapping, got {type(section).__name__}")

    problems: list[Problem] = []

    def find(path: Any, where: str) -> Any:
        if not isinstance(path, str):
            problems.append(
                Problem(
                    Category.BIND, where, f"expected a class path 'module:qualname', got {path!r}"
                )
            )
            return None
        try:
            return resolve(path, main_script=main)
        except ResolveError as e:
            problems.append(
                Problem(Category.NAME_RESOLUTION, where, f"cannot resolve {path!r}: {e}")
            )
            return None

    impls: dict[Any, Any] = {}
    for k, v in impls_doc.items():
        iface, impl = find(k, f"implementations[{k!r}]"), find(v, f"implementations[{k!r}]")
        if iface is not None and impl is not None:
            impls[iface] = impl
    checked_impls = check_implementations(impls, problems)

    params: dict[type[NamedParameter[Any]], Any] = {}
    for k, v in params_doc.items():
        where = f"parameters[{k!r}]"
        param = find(k, where)
        if param is None:
            continue
        if not (isinstance(param, type) and issubclass(param, NamedParameter)):
            problems.append(Problem(Category.BIND, where, f"{k!r} is not a named parameter"))
            continue
        try:
            tp = param.value_type()
            if param.is_implementation():
                value = find(v, where)
                if value is None:
                    continue
                why = implements(value, tp)
            else:
                value = from_plain(v, tp, lambda p: resolve(p, main_script=main))
                why = check_value(value, tp)
        except ValueTypeError as e:
            why = str(e)
        except ResolveError as e:
            problems.append(Problem(Category.NAME_RESOLUTION, where, str(e)))
            continue
        except ConfigurationError as e:  # the parameter's own type does not resolve
            problems.extend(e.problems)
            continue
        if why is not None:
            problems.append(Problem(Category.BIND, where, why))
            continue
        params[param] = value
    if problems:
        raise ConfigurationError.of(problems)
    return checked_impls, params
