"""The driver's status page: an HTTP server (loopback by default) with

- ``/``: a page showing the job's evaluators, activities, Wake stages and latency histograms,
  refreshed every second from the JSON API;
- ``/api/status``: the job as JSON (``DriverCore.snapshot()``);
- ``/api/profile``: the Wake stage report as text;
- ``/metrics``: Prometheus text exposition (job counters and every Wake stage).

It costs nothing when nobody looks: its thread waits in ``accept``, and snapshots are taken only
for requests.
"""

from __future__ import annotations

import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from collections.abc import Iterator

    from reef.driver._core import DriverCore

_log = logging.getLogger("reef.driver")


PAGE = (Path(__file__).parent / "status.html").read_text(encoding="utf-8")


class StatusServer:
    """Serves one job's status over HTTP."""

    def __init__(self, core: DriverCore, host: str, port: int) -> None:
        self._core = core
        handler = type("_Handler", (_Handler,), {"core": core})
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        bound_host, bound_port = self._httpd.server_address[:2]
        self.url = f"http://{bound_host!s}:{bound_port}/"

    def start(self) -> None:
        """Begin serving (on a thread of its own)."""
        # shutdown() waits for the loop to look up: every 50 ms, so that a job ends promptly
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="reef-status", daemon=True
        )
        self._thread.start()
        _log.info("status page of job %s: %s", self._core.job_id, self.url)

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    core: DriverCore
    server_version = "reef"

    def log_message(self, format: str, *args: Any) -> None:  # the base's signature
        _log.debug("status page: " + format, *args)

    def do_GET(self) -> None:  # the base's name
        path = self.path.split("?", 1)[0]
        try:
            if path in ("/", "/index.html"):
                self._send(HTTPStatus.OK, "text/html; charset=utf-8", PAGE.encode())
            elif path == "/api/status":
                body = json.dumps(self.core.snapshot()).encode()
                self._send(HTTPStatus.OK, "application/json", body)
            elif path == "/api/profile":
                text = self.core.registry.text_report()
                self._send(HTTPStatus.OK, "text/plain; charset=utf-8", text.encode())
            elif path == "/metrics":
                self._metrics()
            else:
                self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found\n")
        except BrokenPipeError:
            pass  # the client went away mid-answer

    def _metrics(self) -> None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.core.registry.prometheus_collector())
        registry.register(_JobCollector(self.core))
        self._send(HTTPStatus.OK, CONTENT_TYPE_LATEST, generate_latest(registry))

    def _send(self, status: HTTPStatus, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


class _JobCollector:
    """The job's own metrics, read at scrape time."""

    def __init__(self, core: DriverCore) -> None:
        self._core = core

    def collect(self) -> Iterator[Any]:
        snap = self._core.snapshot()
        job = snap["job"]
        evaluators = GaugeMetricFamily(
            "reef_evaluators", "Evaluators of the job by phase", labels=["job", "phase"]
        )
        phases: dict[str, int] = {}
        for e in snap["evaluators"]:
            phases[e["phase"]] = phases.get(e["phase"], 0) + 1
        for phase, count in sorted(phases.items()):
            evaluators.add_metric([job, phase], count)
        yield evaluators
        activities = snap["activities"]
        ended = CounterMetricFamily(
            "reef_activities",
            "Activities of the job that ended, by outcome",
            labels=["job", "outcome"],
        )
        for outcome in ("completed", "failed", "suspended"):
            ended.add_metric([job, outcome], activities[outcome])
        yield ended
        yield GaugeMetricFamily(
            "reef_activities_running",
            "Activities running (started and not ended)",
            value=activities["running"],
        )
        yield GaugeMetricFamily(
            "reef_activities_starting",
            "Activities submitted and not yet reported running",
            value=activities["starting"],
        )
        yield GaugeMetricFamily(
            "reef_outstanding_requests",
            "Evaluators requested and not yet launched",
            value=snap["outstanding_requests"],
        )
        yield GaugeMetricFamily(
            "reef_job_elapsed_seconds",
            "Seconds since the job started",
            value=snap["elapsed_seconds"],
        )
