"""What the stand-ins of one cluster share: settings, identifiers, clocks and the environment
that YARN's NodeManager gives every container."""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

NODE_HOST = "127.0.0.1"
# Nominal NodeManager ports: nothing listens on them, but YARN containers are told them.
NODE_PORT = 45454
NODE_HTTP_PORT = 8042
NODE_HTTP_ADDRESS = f"{NODE_HOST}:{NODE_HTTP_PORT}"


def millis() -> int:
    """Wall-clock milliseconds, as YARN reports times."""
    return int(time.time() * 1000)


@dataclass
class Settings:
    """Knobs of one stand-in cluster; tests may change them while it runs."""

    workdir: Path
    allocation_delay: float = 0.3  # add_container -> RUNNING (and the process starts)
    am_start_delay: float = 0.0  # submit -> the application master is up (RUNNING)
    max_memory_mb: int = 8192  # YARN's default yarn.scheduler.maximum-allocation-mb
    max_vcores: int = 4  # YARN's default yarn.scheduler.maximum-allocation-vcores
    user: str = field(default_factory=getpass.getuser)
    cluster_timestamp: int = field(default_factory=millis)

    def check_allocation(self, memory: int, vcores: int) -> str | None:
        """The ResourceManager's complaint about a request larger than any container, if any."""
        if memory <= self.max_memory_mb and vcores <= self.max_vcores:
            return None
        kind = "memory-mb" if memory > self.max_memory_mb else "vcores"
        return (
            f"Invalid resource request, requested resource type=[{kind}] < 0 or greater than "
            f"maximum allowed allocation. Requested resource=<memory:{memory}, vCores:{vcores}>, "
            f"maximum allowed allocation=<memory:{self.max_memory_mb}, vCores:{self.max_vcores}>"
        )

    def application_id(self, number: int) -> str:
        return f"application_{self.cluster_timestamp}_{number:04d}"

    def container_id(self, app_number: int, number: int) -> str:
        return f"container_{self.cluster_timestamp}_{app_number:04d}_01_{number:06d}"

    def local_dir(self, app_id: str) -> Path:
        """The application's LOCAL_DIRS: one directory per container inside."""
        return self.workdir / "local" / app_id

    def log_dir(self, app_id: str, container_id: str) -> Path:
        """A container's LOG_DIRS."""
        return self.workdir / "logs" / app_id / container_id

    def staging_dir(self, app_id: str) -> Path:
        """Where the Driver puts an application's generated files (skein: ~/.skein/<app id>)."""
        return self.workdir / "staging" / app_id


def container_environment(
    settings: Settings,
    app_id: str,
    container_id: str,
    *layers: Mapping[str, str],
) -> dict[str, str]:
    """This process's environment, then ``layers`` in order, then the NodeManager's variables,
    which no container setting can override (as in YARN)."""
    env = dict(os.environ)
    for layer in layers:
        env.update(layer)
    container_dir = settings.local_dir(app_id) / container_id
    env.update(
        CONTAINER_ID=container_id,
        LOCAL_DIRS=str(settings.local_dir(app_id)),
        LOG_DIRS=str(settings.log_dir(app_id, container_id)),
        NM_HOST=NODE_HOST,
        NM_PORT=str(NODE_PORT),
        NM_HTTP_PORT=str(NODE_HTTP_PORT),
        PWD=str(container_dir),
    )
    return env


def launch_script(
    directory: Path, command: str, env: Mapping[str, str]
) -> tuple[list[str], dict[str, str]]:
    """How YARN's NodeManager starts a container: ``launch_container.sh`` in its directory
    exports each of its variables as ``export NAME="value"``, the value written verbatim (bash
    then expands ``$``, backquotes and backslashes in it, and a double quote in it ends the
    quoting: values must be shell-safe, as on YARN), and ends with
    ``exec /bin/bash -c "command"``. ``(argv, the environment the script starts in)``: the
    variables this process already has, unchanged, stay out of the script."""
    inherited = dict(os.environ)
    exports = {k: v for k, v in env.items() if inherited.get(k) != v}
    lines = ["#!/bin/bash", "", "set -o pipefail -e"]
    lines += [f'export {name}="{value}"' for name, value in exports.items()]
    lines += [f"unset {name}" for name in inherited if name not in env]
    lines.append(f'exec /bin/bash -c "{command}"')
    path = directory / "launch_container.sh"
    path.write_text("\n".join(lines) + "\n")
    return ["bash", str(path)], inherited
