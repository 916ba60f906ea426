"""YARN tier: the YARN runtime against the skein stand-in (``tests/yarn/standin``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.yarn.standin import StandinYarn

# skein.utils compares grpc versions with distutils' LooseVersion whenever it creates a client,
# which warns twice (from skein.utils and from distutils itself), and the suite turns warnings
# into errors. Nothing to fix on our side: skein 0.8.2 is the last release.
SKEIN_DISTUTILS_WARNING = "ignore:distutils Version classes are deprecated:DeprecationWarning"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Called with every item of the session: mark only this directory's.
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.filterwarnings(SKEIN_DISTUTILS_WARNING))


@pytest.fixture
def standin_yarn(tmp_path: Path) -> Iterator[StandinYarn]:
    """A stand-in YARN cluster (skein Driver, application masters, containers) for one test;
    closed after it, with every process and thread it started."""
    with StandinYarn(tmp_path / "yarn") as yarn:
        yield yarn
