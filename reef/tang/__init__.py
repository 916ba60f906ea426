"""Tang: configuration by dependency injection, checked statically.

Owns named parameters, configuration modules and their slots, ``Configuration`` (immutable,
mergeable, YAML-serializable), the static checks (all problems of a configuration in one error,
each with a category and a path, found without instantiating anything) and injectors built on
the ``injector`` package.

May import: the standard library, ``injector``, ``yaml`` and ``reef.errors``.
"""

from injector import ProviderOf

from reef.errors import (
    BindError,
    ClassHierarchyError,
    ConfigurationError,
    InjectionError,
    NameResolutionError,
    Problem,
)
from reef.tang._config import Configuration
from reef.tang._injector import InjectionPlan, Injector, Tang
from reef.tang._module import ConfigurationModule, ConfigurationModuleBuilder
from reef.tang._naming import ResolveError, class_path, load_main_script, resolve, use_main_script
from reef.tang._params import (
    NamedParameter,
    OptionalImpl,
    OptionalParameter,
    RequiredImpl,
    RequiredParameter,
    Slot,
    default_implementation,
)
from reef.tang._plan import named_parameters_of

InjectionFuture = ProviderOf
"""Tang's name for ``ProviderOf``: ask for ``InjectionFuture[X]`` to get ``X`` later, with
``.get()``, which breaks constructor cycles."""

__all__ = [
    "BindError",
    "ClassHierarchyError",
    "Configuration",
    "ConfigurationError",
    "ConfigurationModule",
    "ConfigurationModuleBuilder",
    "InjectionError",
    "InjectionFuture",
    "InjectionPlan",
    "Injector",
    "NameResolutionError",
    "NamedParameter",
    "OptionalImpl",
    "OptionalParameter",
    "Problem",
    "ProviderOf",
    "RequiredImpl",
    "RequiredParameter",
    "ResolveError",
    "Slot",
    "Tang",
    "class_path",
    "default_implementation",
    "load_main_script",
    "named_parameters_of",
    "resolve",
    "use_main_script",
]
