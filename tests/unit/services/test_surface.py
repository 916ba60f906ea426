"""The public surface of reef.services: the contract's names exist and say what they are."""

import inspect

from reef import services
from reef.errors import ReefError
from reef.tang import NamedParameter


def test_contract_names() -> None:
    for name in ("CheckpointService", "CheckpointPath", "CheckpointCorrupted"):
        assert name in services.__all__
    for method in ("save", "load", "delete", "create", "open", "list", "latest"):
        assert callable(getattr(services.CheckpointService, method))
    assert issubclass(services.CheckpointPath, NamedParameter)
    assert services.CheckpointPath.value_type() is str


def test_errors_are_reef_errors() -> None:
    for error in (
        services.CheckpointError,
        services.CheckpointCorrupted,
        services.CheckpointNotFound,
        services.RecoveryExhausted,
    ):
        assert issubclass(error, ReefError)


def test_every_public_name_is_documented() -> None:
    assert all(hasattr(services, n) for n in services.__all__)
    for name in services.__all__:
        value = getattr(services, name)
        assert inspect.getdoc(value), name
        if inspect.isclass(value):
            for attr, member in vars(value).items():
                if not attr.startswith("_") and callable(member):
                    assert inspect.getdoc(member), f"{name}.{attr}"
