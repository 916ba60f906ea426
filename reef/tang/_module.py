"""Configuration modules: reusable, partially filled configurations with named slots.

A ``ConfigurationModuleBuilder`` subclass declares slots (``RequiredImpl[Store]()`` ...) as class
attributes and binds interfaces and named parameters to them; ``build()`` checks the module itself
and gives an immutable ``ConfigurationModule``. Its users ``set`` the slots and ``build(*roots)`` a
``Configuration``, which is checked statically for those roots. Every step returns a new object,
and every check reports all the problems it finds in one error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Self

from reef.errors import Category, ConfigurationError, Problem
from reef.tang._bindings import INVALID, check_implementations, check_parameter_value
from reef.tang._config import Configuration
from reef.tang._params import NamedParameter, Slot
from reef.tang._plan import constructor_params
from reef.tang._types import describe, describe_value, implements, is_value_type


@dataclass(frozen=True, slots=True)
class _Bind:
    key: Any  # an interface, or a NamedParameter subclass
    target: Any  # an implementation, a value, or a Slot
    implementation: bool
    where: str

    def label(self, module: str) -> str:
        verb = "bind_implementation" if self.implementation else "bind_named_parameter"
        return f"{module}.{verb}({describe(self.key)}) at {self.where}"


def _caller() -> str:
    frame = sys._getframe(2)
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


def _declared_slots(owners: Iterable[type]) -> list[Slot[Any]]:
    slots: list[Slot[Any]] = []
    for owner in owners:
        for klass in owner.__mro__:
            for value in vars(klass).values():
                if isinstance(value, Slot) and value not in slots:
                    slots.append(value)
    return slots


class ConfigurationModuleBuilder:
    """Subclass it, declare slots as class attributes, bind to them, then ``build()``::

    class JobConf(ConfigurationModuleBuilder):
        STORE = RequiredImpl[Store]()
        NAME = RequiredParameter[str]()

    CONF = (JobConf().bind_implementation(Store, JobConf.STORE)
                     .bind_named_parameter(JobName, JobConf.NAME).build())
    """

    def __init__(self) -> None:
        self._binds: tuple[_Bind, ...] = ()
        self._owners: tuple[type, ...] = (type(self),)

    def _with(self, bind: _Bind) -> Self:
        clone = object.__new__(type(self))
        clone._binds = (*self._binds, bind)
        clone._owners = self._owners
        return clone

    def bind_implementation(self, interface: Any, implementation: Any) -> Self:
        """Bind ``interface`` to an implementation class or to an ``*Impl`` slot."""
        return self._with(_Bind(interface, implementation, True, _caller()))

    def bind_named_parameter(self, parameter: type[NamedParameter[Any]], value: Any) -> Self:
        """Bind a named parameter to a value or to a ``*Parameter`` slot (an ``*Impl`` slot for a
        parameter of a class type)."""
        return self._with(_Bind(parameter, value, False, _caller()))

    def merge(self, module: ConfigurationModule) -> Self:
        """Add the bindings (and slots) of a built module that has had nothing ``set``."""
        if module._settings:
            raise ConfigurationError.of(
                [
                    Problem(
                        Category.CLASS_HIERARCHY,
                        f"{describe(type(self))}.merge({module.name})",
                        "cannot merge a module that has had set() called on it",
                        "merge the module first, then set its slots on the result",
                    )
                ]
            )
        clone = object.__new__(type(self))
        clone._binds = (*self._binds, *module._binds)
        clone._owners = (*self._owners, *(o for o in module._owners if o not in self._owners))
        return clone

    def build(self) -> ConfigurationModule:
        """Check the module (every slot used, slots of this module and of the right kind and
        type, literal values valid, nothing bound twice) and freeze it."""
        name = describe(type(self))
        problems: list[Problem] = []
        slots = _declared_slots(self._owners)
        used: set[int] = set()
        seen_keys: dict[Any, _Bind] = {}
        for slot in slots:
            if slot.aliases:
                problems.append(
                    Problem(
                        Category.CLASS_HIERARCHY,
                        repr(slot),
                        f"the same slot object is also declared as {slot.aliases}",
                        "declare a new slot instance for each option",
                    )
                )
            if slot.value_type is None:
                problems.append(
                    Problem(
                        Category.CLASS_HIERARCHY,
                        repr(slot),
                        f"slot declared without a type: write {slot.kind}[T]()",
                    )
                )
        for bind in self._binds:
            label = bind.label(name)
            if bind.key in seen_keys:
                problems.append(
                    Problem(
                        Category.BIND,
                        label,
                        f"{describe(bind.key)} is already bound at {seen_keys[bind.key].where}",
                        "bindings are monotonic: bind each key once",
                    )
                )
            seen_keys.setdefault(bind.key, bind)
            problems.extend(self._check_bind(bind, label, slots))
            if isinstance(bind.target, Slot):
                used.add(id(bind.target))
        unused = [repr(s) for s in slots if id(s) not in used]
        if unused:
            problems.append(
                Problem(
                    Category.CLASS_HIERARCHY,
                    name,
                    f"declared options not used in any bind: {unused}",
                    "bind every slot, or remove the ones you do not need",
                )
            )
        if problems:
            raise ConfigurationError.of(problems)
        return ConfigurationModule(name, self._binds, self._owners, ())

    def _check_bind(self, bind: _Bind, label: str, slots: list[Slot[Any]]) -> list[Problem]:
        problems: list[Problem] = []

        def hierarchy(message: str, hint: str | None = None) -> list[Problem]:
            problems.append(
                Problem(Category.CLASS_HIERARCHY, label, message, hint, subject=type(self))
            )
            return problems

        key, target = bind.key, bind.target
        is_param = isinstance(key, type) and issubclass(key, NamedParameter)
        if bind.implementation and is_param:
            return hierarchy(
                f"{describe(key)} is a named parameter", "use bind_named_parameter for it"
            )
        if not bind.implementation and not is_param:
            return hierarchy(
                f"{describe_value(key)} is not a named parameter",
                "use bind_implementation for interfaces",
            )
        wants_impl = bind.implementation or key.is_implementation()
        target_type = key if bind.implementation else key.value_type()
        if isinstance(target, Slot):
            if target not in slots:
                owner = describe(target.owner) if target.owner else "no module"
                return hierarchy(
                    f"slot {target!r} belongs to {owner}, not to this module",
                    "did you pass a slot of another module? declare it on this one",
                )
            if target.implementation != wants_impl:
                expected = "an *Impl slot" if wants_impl else "a *Parameter slot"
                return hierarchy(f"slot {target!r} is a {target.kind}; this bind needs {expected}")
            declared = target.value_type
            if declared is None:
                return problems  # reported once for the slot itself
            if wants_impl:
                if declared != target_type and (
                    not isinstance(declared, type) or implements(declared, target_type) is not None
                ):
                    hierarchy(
                        f"slot {target!r} is declared {target.kind}[{describe(declared)}], which "
                        f"is not an implementation of {describe(target_type)}"
                    )
            elif declared != target_type:
                hierarchy(
                    f"slot {target!r} is declared {target.kind}[{describe(declared)}] but "
                    f"{describe(key)} is NamedParameter[{describe(target_type)}]"
                )
            return problems
        if bind.implementation:
            check_implementations({key: target}, problems)
            return [p.at(label) for p in problems]
        check_parameter_value(key, target, problems, where=label)
        if not is_value_type(target_type) and isinstance(target, type):
            for p in constructor_params(target)[1]:
                problems.append(p)
        return problems


class ConfigurationModule:
    """A built module: ``set`` its slots (each at most once), then ``build(*roots)``."""

    __slots__ = ("_binds", "_owners", "_settings", "name")

    def __init__(
        self,
        name: str,
        binds: tuple[_Bind, ...],
        owners: tuple[type, ...],
        settings: tuple[tuple[Any, Any, str], ...],
    ) -> None:
        self.name = name
        self._binds = binds
        self._owners = owners
        self._settings = settings

    @property
    def slots(self) -> list[Slot[Any]]:
        """The slots this module declares."""
        return _declared_slots(self._owners)

    def set(self, slot: Slot[Any], value: Any) -> ConfigurationModule:
        """A copy of this module with ``slot`` set to ``value`` (checked at ``build``)."""
        return ConfigurationModule(
            self.name, self._binds, self._owners, (*self._settings, (slot, value, _caller()))
        )

    def build(self, *roots: Any, provided: Iterable[Any] = ()) -> Configuration:
        """The configuration: every required slot set, every value and implementation valid,
        every bound class well declared, and each of ``roots`` injectable. All problems are
        reported together in one ``ConfigurationError``; nothing is instantiated."""
        problems: list[Problem] = []
        slots = self.slots
        values: dict[int, Any] = {}
        for slot, value, where in self._settings:
            label = f"{self.name}.set({slot!r}) at {where}"
            if not isinstance(slot, Slot):
                problems.append(
                    Problem(
                        Category.CLASS_HIERARCHY,
                        label,
                        f"{describe_value(slot)} is not a slot",
                        f"set() takes a slot declared on {self.name}",
                    )
                )
            elif slot not in slots:
                owner = describe(slot.owner) if slot.owner else "no module"
                problems.append(
                    Problem(
                        Category.CLASS_HIERARCHY,
                        label,
                        f"slot {slot!r} belongs to {owner}, not to {self.name}",
                        "did you pass a slot of another module?",
                    )
                )
            elif id(slot) in values:
                problems.append(
                    Problem(
                        Category.BIND,
                        label,
                        f"already set to {values[id(slot)]!r}; a slot is set at most once",
                    )
                )
            else:
                values[id(slot)] = value
        for slot in slots:
            if slot.required and id(slot) not in values:
                problems.append(
                    Problem(
                        Category.BIND,
                        repr(slot),
                        "required option not set",
                        f"call .set({slot!r}, ...) before build()",
                        subject=slot.owner,
                    )
                )
        impls: dict[Any, Any] = {}
        params: dict[Any, Any] = {}
        pending: set[Any] = set()  # keys whose value is missing or invalid (already reported)
        for bind in self._binds:
            target = bind.target
            via = ""
            if isinstance(target, Slot):
                if id(target) not in values:
                    if target.required:
                        pending.add(bind.key)
                    continue  # an optional slot left unset: the default holds
                target = values[id(target)]
                via = f" (via {bind.target!r})"
            where = f"{describe(bind.key)}{via}"
            if bind.implementation:
                found: list[Problem] = []
                checked = check_implementations({bind.key: target}, found)
                problems.extend(p.at(where) for p in found)
                impls.update(checked)
                if found:
                    pending.add(bind.key)
            else:
                value = check_parameter_value(bind.key, target, problems, where=where)
                if value is INVALID:
                    pending.add(bind.key)
                else:
                    params[bind.key] = value
        declarations: list[Problem] = []
        for impl in (*impls.values(), *(v for v in params.values() if isinstance(v, type))):
            declarations.extend(constructor_params(impl)[1])
        conf = Configuration._trusted(impls, params)
        existing = dict.fromkeys(provided, "provided")
        existing.update(dict.fromkeys(pending, "set on this module"))
        planned: list[Problem] = []
        for root in roots:
            planned.extend(conf.plan_result(root, existing).problems)
        problems.extend(d for d in declarations if not _covered(d, planned))
        problems.extend(planned)
        if not problems:
            return conf
        raise ConfigurationError.of(problems)

    def __repr__(self) -> str:
        binds, settings = len(self._binds), len(self._settings)
        return f"<ConfigurationModule {self.name}: {binds} binds, {settings} set>"


def _covered(problem: Problem, others: list[Problem]) -> bool:
    """Whether ``problem`` (found on a class alone) was also found on a path from a root."""
    return any(
        o.category == problem.category
        and o.message == problem.message
        and o.path.endswith(problem.path)
        for o in others
    )
