"""A job's record (``job-record.yaml`` in its log directory): what ran, with what, and how it
ended — enough to run the same job again (``reef rerun job-record.yaml``).

It holds the driver class and its configuration, the runtime and its settings, every
configuration shipped to every evaluator in order (contexts with their services, activities with
their ids; each distinct configuration document stored once), the versions of the packages that
matter, and the final status.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import platform
from typing import TYPE_CHECKING, Any

import yaml

from reef.tang import ConfigurationError
from reef.tang._naming import class_path, main_script_of

if TYPE_CHECKING:
    from reef.driver._core import DriverCore

FORMAT = 1
PACKAGES = (
    "pyreef",
    "injector",
    "pyyaml",
    "grpcio",
    "protobuf",
    "cryptography",
    "skein",
    "prometheus_client",
    "numpy",
)


def package_versions() -> dict[str, str]:
    """Versions of the packages a job's behaviour depends on (those installed)."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def build_record(core: DriverCore) -> dict[str, Any]:
    """The record of a job as it stands (call once it has ended)."""
    driver: dict[str, Any]
    try:
        driver = {
            "class": class_path(core.driver_class),
            "script": main_script_of(core.driver_class),
        }
    except ValueError as e:
        driver = {"class": None, "why_not_rerunnable": str(e)}
    try:
        configuration: str | None = core.configuration.to_yaml()
    except ConfigurationError as e:
        configuration = None
        driver.setdefault("why_not_rerunnable", f"its configuration cannot be written: {e}")
    outcome = core.outcome
    shipped = core.observer.record()
    return {
        "reef.job-record": FORMAT,
        "job": core.job_id,
        "started": _iso(core.observer.started),
        "ended": _iso(datetime.datetime.now().timestamp()),
        "status": outcome.state.value,
        "error": None
        if outcome.error is None
        else {"type": outcome.error.type_name, "message": outcome.error.message},
        "driver": driver,
        "configuration": configuration,
        "runtime": {
            k: v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
            for k, v in core.runtime.describe().items()
        },
        "packages": package_versions(),
        "shipped": shipped["shipped"],
        "documents": shipped["documents"],
    }


def record_yaml(core: DriverCore) -> str:
    """The record of ``core``'s job, as ``job-record.yaml`` holds it."""
    text: str = yaml.safe_dump(build_record(core), sort_keys=False, allow_unicode=True, width=100)
    return text


def write_record(core: DriverCore, path: str) -> None:
    """Write the record of ``core``'s job to ``path``."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(record_yaml(core))


def _iso(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC).isoformat(timespec="seconds")
