"""``StandinYarn``: a stand-in YARN cluster with skein's Driver in one process, for tests."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import TracebackType

import skein

from ._common import Settings
from ._nodemanager import NodeManager, Process, group_members
from .appmaster import StandinAppMaster
from .driver import Application, StandinDriver


def group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` is still running (every process the stand-in starts
    leads a group of its own, with the descendants it does not move elsewhere)."""
    return bool(group_members(pgid))


class StandinYarn:
    """A skein Driver stand-in with fresh credentials, its applications' masters and their
    containers (real processes under ``workdir``). Use as a context manager, or call ``close``.

    >>> with StandinYarn(tmp_path) as yarn:
    ...     client = yarn.client()          # an unmodified skein.Client
    ...     app_id = client.submit(spec)

    ``allocation_delay``: seconds from a container request to RUNNING; ``am_start_delay``:
    seconds from ``submit`` (ACCEPTED) to a running AM; ``max_memory_mb`` / ``max_vcores``: the
    largest container (YARN's defaults): a larger master fails the submission, a larger service
    container fails the application at allocation, as on YARN.

    Layout under ``workdir``: ``local/<app id>/<container id>/`` (work directories; ``LOCAL_DIRS``
    is ``local/<app id>``), ``logs/<app id>/<container id>/`` (``LOG_DIRS``), ``staging/<app id>/``
    (what skein would upload to ``~/.skein/<app id>``; removed when the application ends).
    """

    def __init__(
        self,
        workdir: Path | str,
        allocation_delay: float = 0.3,
        am_start_delay: float = 0.0,
        max_memory_mb: int = 8192,
        max_vcores: int = 4,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.settings = Settings(
            self.workdir,
            allocation_delay=allocation_delay,
            am_start_delay=am_start_delay,
            max_memory_mb=max_memory_mb,
            max_vcores=max_vcores,
        )
        self.security = skein.Security.new_credentials()
        self._clients: list[skein.Client] = []
        self._closed = False
        self._nodemanager = NodeManager()
        try:
            self._driver = StandinDriver(self.settings, self.security, self._nodemanager)
        except BaseException:
            self._nodemanager.close()
            raise

    # -- the cluster as skein sees it -------------------------------------------------------

    @property
    def address(self) -> str:
        """The Driver's address, for ``skein.Client(address=..., security=yarn.security)``."""
        return self._driver.address

    def client(self) -> skein.Client:
        """A new unmodified ``skein.Client`` connected to the Driver stand-in (closed by
        ``close`` if the test does not close it)."""
        client = skein.Client(address=self.address, security=self.security)
        self._clients.append(client)
        return client

    @property
    def allocation_delay(self) -> float:
        """Seconds from ``add_container`` (REQUESTED) to RUNNING; takes effect for requests
        made after it changes."""
        return self.settings.allocation_delay

    @allocation_delay.setter
    def allocation_delay(self, seconds: float) -> None:
        self.settings.allocation_delay = seconds

    @property
    def am_start_delay(self) -> float:
        """Seconds from ``submit`` (ACCEPTED) to a running application master (RUNNING)."""
        return self.settings.am_start_delay

    @am_start_delay.setter
    def am_start_delay(self, seconds: float) -> None:
        self.settings.am_start_delay = seconds

    # -- inspection -------------------------------------------------------------------------

    def applications(self) -> list[Application]:
        """Every application submitted, in any state (``.id``, ``.state``, ``.report()``...)."""
        return self._driver.applications()

    def appmaster(self, app_id: str) -> StandinAppMaster:
        """The application master of a started application (for inspection and faults)."""
        am = self._driver.application(app_id).am
        if am is None:
            raise LookupError(f"{app_id} has no application master (yet)")
        return am

    def processes(self, live: bool = False) -> list[int]:
        """The pids of every process started (master scripts and containers, in start order),
        or only of those not yet reaped. Each pid is also its process group id."""
        return [p.pid for p in self._nodemanager.processes() if not (live and p.ended)]

    def process_records(self) -> list[Process]:
        """Every process started, with its description and return code."""
        return self._nodemanager.processes()

    # -- faults -----------------------------------------------------------------------------

    def fail_container(
        self, app_id: str, container_id: str, exit_status: int, diagnostics: str = ""
    ) -> None:
        """Complete a RUNNING container with a YARN exit status: ``-100`` (ABORTED, e.g.
        ``"Container released on a *lost* node"``), ``-102`` (PREEMPTED), ``-104`` (over its
        physical memory), or a positive exit code. Its process is stopped."""
        self.appmaster(app_id).fail_container(container_id, exit_status, diagnostics)

    def fail_application(
        self, app_id: str, diagnostics: str = "Application master attempt failed."
    ) -> None:
        """Fail the application as a lost application master would: every process killed,
        state FAILED, final status FAILED (no AM retries)."""
        self._driver.fail_application(app_id, diagnostics)

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Kill every application and process, stop every server, join every thread."""
        if self._closed:
            return
        self._closed = True
        with contextlib.ExitStack() as stack:
            # Run in reverse: clients, then the Driver (and every AM), then the node manager.
            stack.callback(self._nodemanager.close)
            stack.callback(self._driver.close)
            for client in self._clients:
                stack.callback(client.close)

    def __enter__(self) -> StandinYarn:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
