"""The public surface of reef.tang: the names of the API contract exist and are what they say."""

import reef
from reef import tang
from reef.errors import ReefError

CONTRACT = {
    "NamedParameter",
    "ConfigurationModuleBuilder",
    "RequiredImpl",
    "RequiredParameter",
    "OptionalParameter",
    "OptionalImpl",
    "Configuration",
    "Tang",
    "ConfigurationError",
    "ClassHierarchyError",
    "BindError",
    "NameResolutionError",
    "InjectionError",
    "ProviderOf",
    "InjectionFuture",
}


def test_contract_names_exist_and_are_exported() -> None:
    missing = sorted(n for n in CONTRACT if not hasattr(tang, n))
    assert missing == []
    assert set(tang.__all__) >= CONTRACT
    assert all(hasattr(tang, n) for n in tang.__all__)


def test_error_tree() -> None:
    assert issubclass(tang.ConfigurationError, ReefError)
    for err in (
        tang.ClassHierarchyError,
        tang.BindError,
        tang.NameResolutionError,
        tang.InjectionError,
    ):
        assert issubclass(err, tang.ConfigurationError)
    assert issubclass(tang.NameResolutionError, tang.BindError)
    assert reef.ReefError is ReefError


def test_injector_api() -> None:
    injector = tang.Tang.new_injector(tang.Configuration())
    for method in ("get_instance", "fork", "is_injectable", "plan"):
        assert callable(getattr(injector, method))
    assert tang.Configuration.from_yaml(tang.Configuration().to_yaml()) == tang.Configuration()
