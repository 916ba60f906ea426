"""Conformance of the skein stand-in: unmodified ``skein.Client`` / ``ApplicationClient`` (also
``from_current()`` in master scripts and containers) against it, as against skein 0.8.2 on YARN.
"""

from __future__ import annotations

import io
import json
import os
import queue
import re
import stat
import sys
import tarfile
import textwrap
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import skein
from skein import kv
from skein.proto import skein_pb2 as pb

from tests.yarn.standin import StandinYarn, group_alive

pytestmark = [pytest.mark.yarn, pytest.mark.timeout(60)]

WAIT = 30.0  # seconds: generous, the machines are shared and noisy
FAILED_MESSAGE = "Container failed during execution, see logs for more information."
SMALL = skein.Resources(memory=128, vcores=1)
DONE = ("FINISHED", "FAILED", "KILLED")

# A container (or master) program: reports what it sees into the key-value store under
# ``$REPORT_PREFIX/<its id>``, owned by its container, then exits with ``$EXIT_CODE`` or waits
# until it is killed.
REPORTER = """
import json, os, sys, threading
import skein

app = skein.ApplicationClient.from_current()
me = skein.properties.container_id
names = ("SKEIN_APPMASTER_ADDRESS", "SKEIN_APPLICATION_ID", "SKEIN_CONTAINER_ID",
         "SKEIN_RESOURCE_MEMORY", "SKEIN_RESOURCE_VCORES", "CONTAINER_ID", "LOCAL_DIRS",
         "LOG_DIRS", "NM_HOST", "HADOOP_USER_NAME", "LANG", "CLASSPATH", "ROLE", "LAYER",
         "FROM_SERVICE")
files = {}
for name in sorted(os.listdir(".")):
    path = os.path.join(".", name)
    files[name] = {"link": os.path.islink(path), "dir": os.path.isdir(path),
                   "mode": os.stat(path).st_mode & 0o777,
                   "entries": sorted(os.listdir(path)) if os.path.isdir(path) else None}
report = {
    "env": {n: os.environ.get(n) for n in names},
    "cwd": os.getcwd(),
    "files": files,
    "container_dir": skein.properties.container_dir,
    "resources": [skein.properties.container_resources.memory,
                  skein.properties.container_resources.vcores],
    "pid": os.getpid(),
}
print("reporting as", me, flush=True)
key = os.environ.get("REPORT_PREFIX", "report") + "/" + (me or "master")
app.kv.put(key, json.dumps(report).encode(), owner=me)
code = int(os.environ.get("EXIT_CODE", "-1"))
if code >= 0:
    sys.exit(code)
threading.Event().wait()  # until the application master stops this container
"""

# The master script of the main scenario: adds, watches, kills and fails containers through
# ``ApplicationClient.from_current()``, writes what it saw to $RESULT, then shuts down.
SCENARIO_MASTER = """
import json, os, sys, threading
import skein

app = skein.ApplicationClient.from_current()
seen = {"env": {n: os.environ.get(n) for n in ("SKEIN_CONTAINER_ID", "CONTAINER_ID",
                                                 "SKEIN_APPLICATION_ID", "CLASSPATH")},
        "properties_container_id": skein.properties.container_id}
events = app.kv.events(prefix="report/")

def next_event():
    return events.get(timeout=30)

first = app.add_container("worker", env={"ROLE": "kept"})
seen["added"] = [first.id, str(first.state)]
put = next_event()
seen["first_event"] = [str(put.event_type), put.key, put.result.owner]
(c,) = app.get_containers(services=["worker"])
seen["after_report"] = [c.id, str(c.state), c.yarn_container_id, c.start_time is not None]

failing = app.add_container("worker", env={"ROLE": "failing", "EXIT_CODE": "3"})
put = next_event()
deleted = next_event()
seen["failing"] = [str(put.event_type), put.key, str(deleted.event_type), deleted.key,
                   deleted.result]
(f,) = app.get_containers(services=["worker"], states=["FAILED"])
seen["failed"] = [f.id, str(f.state), f.exit_message, f.finish_time is not None]

app.kill_container(first.id)
deleted = next_event()
seen["killed_event"] = [str(deleted.event_type), deleted.key]
(k,) = app.get_containers(states=["KILLED"])
seen["killed"] = [k.id, str(k.state), k.exit_message]
seen["keys_left"] = app.kv.list_keys(prefix="report/")
seen["active_left"] = [x.id for x in app.get_containers()]

try:
    app.add_container("nosuch")
except ValueError as exc:
    seen["unknown_service"] = str(exc)

with open(os.environ["RESULT"], "w") as f:
    json.dump(seen, f)
app.shutdown("SUCCEEDED", "the driver is done")
threading.Event().wait()  # the application master ends this process
"""


@pytest.fixture
def programs(tmp_path: Path) -> dict[str, str]:
    """Commands running the test's programs with this Python."""
    out = {}
    for name, source in {"reporter": REPORTER, "scenario": SCENARIO_MASTER}.items():
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        out[name] = f"{sys.executable} {path}"
    return out


def poll(condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """Wait for a condition that nothing signals (a YARN report), checking every 20 ms."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)  # polling with a deadline: the stand-in, like YARN, pushes no reports


def wait_done(client: skein.Client, app_id: str) -> skein.model.ApplicationReport:
    return poll(
        lambda: (r := client.application_report(app_id)).state in DONE and r,
        f"{app_id} to finish",
    )


def wait_key(app: skein.ApplicationClient, key: str, timeout: float = WAIT) -> bytes:
    """A key's value, waiting for its PUT if it is not there yet (``kv.wait`` has no timeout)."""
    with app.kv.events(key=key, event_type="PUT") as events:
        value = app.kv.get(key)
        if value is not None:
            return value
        try:
            return events.get(timeout=timeout).result.value
        except queue.Empty:
            pytest.fail(f"timed out waiting for key {key!r}")


def report_of(app: skein.ApplicationClient, key: str) -> dict[str, Any]:
    return json.loads(wait_key(app, key))


def am_notes(yarn: StandinYarn, app_id: str) -> list[str]:
    """The stand-in AM's notes (its ``application.master.log``), without their times."""
    am_container = app_id.replace("application_", "container_") + "_01_000001"
    path = yarn.workdir / "logs" / app_id / am_container / "application.master.log"
    return [line.split(" ", 1)[1] for line in path.read_text().splitlines()]


def assert_all_ended(yarn: StandinYarn) -> None:
    assert yarn.processes(live=True) == []
    assert not [pid for pid in yarn.processes() if group_alive(pid)]


# -- the main scenario ----------------------------------------------------------------------


@pytest.mark.processes
def test_a_master_script_adds_kills_and_fails_containers_then_shuts_down(
    standin_yarn: StandinYarn, programs: dict[str, str], tmp_path: Path
) -> None:
    client = standin_yarn.client()
    result = tmp_path / "result.json"
    spec = skein.ApplicationSpec(
        name="scenario",
        queue="research",
        tags={"reef", "test"},
        master=skein.Master(
            resources=skein.Resources(memory=256, vcores=1),
            script=programs["scenario"],
            env={"RESULT": str(result)},
        ),
        services={
            "worker": skein.Service(
                resources=SMALL, script=programs["reporter"], instances=0, allow_failures=True
            )
        },
    )
    app_id = client.submit(spec)
    assert re.fullmatch(r"application_\d{13}_0001", app_id)

    report = wait_done(client, app_id)

    seen = json.loads(result.read_text())
    am_container = app_id.replace("application_", "container_") + "_01_000001"
    assert seen["env"] == {
        "SKEIN_CONTAINER_ID": None,
        "CONTAINER_ID": am_container,
        "SKEIN_APPLICATION_ID": app_id,
        "CLASSPATH": None,
    }
    assert seen["properties_container_id"] is None
    assert seen["added"] == ["worker_0", "REQUESTED"]
    assert seen["first_event"] == ["PUT", "report/worker_0", "worker_0"]
    worker_0, running, yarn_id, started = seen["after_report"]
    assert (worker_0, running, started) == ("worker_0", "RUNNING", True)
    assert yarn_id == app_id.replace("application_", "container_") + "_01_000002"
    assert seen["failing"] == ["PUT", "report/worker_1", "DELETE", "report/worker_1", None]
    assert seen["failed"] == ["worker_1", "FAILED", FAILED_MESSAGE, True]
    assert seen["killed_event"] == ["DELETE", "report/worker_0"]
    assert seen["killed"] == ["worker_0", "KILLED", "Killed by user request."]
    assert seen["keys_left"] == []
    assert seen["active_left"] == []
    assert seen["unknown_service"] == "Unknown service 'nosuch'"

    # shutdown's status and diagnostics win over the master script's end (it was killed).
    assert (report.state, report.final_status) == ("FINISHED", "SUCCEEDED")
    assert report.diagnostics == "the driver is done"
    assert (report.name, report.queue, report.tags) == ("scenario", "research", {"reef", "test"})
    assert report.progress == 1.0
    assert report.tracking_url == ""
    assert report.start_time <= report.finish_time
    assert_all_ended(standin_yarn)


# -- environment, files, logs ---------------------------------------------------------------


def _archives(tmp_path: Path) -> dict[str, skein.File | str]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "plain.txt").write_text("plain")
    script = data / "tool.sh"
    script.write_text("#!/bin/sh\necho tool\n")
    script.chmod(0o755)
    payload = b"inside"
    with tarfile.open(data / "bundle.tar.gz", "w:gz") as t:
        info = tarfile.TarInfo("pkg/inside.txt")
        info.size = len(payload)
        t.addfile(info, io.BytesIO(payload))
    with zipfile.ZipFile(data / "bundle.zip", "w") as z:
        z.writestr("zipped.txt", "zipped")
    with tarfile.open(data / "plain.tar", "w") as t:
        info = tarfile.TarInfo("untarred.txt")
        info.size = len(payload)
        t.addfile(info, io.BytesIO(payload))
    return {
        "plain.txt": str(data / "plain.txt"),
        "tool.sh": skein.File(source=str(script), type="file"),
        "gz": str(data / "bundle.tar.gz"),  # an archive by its name
        "zipdir": str(data / "bundle.zip"),
        "tardir": skein.File(source=f"file://{data / 'plain.tar'}", type="archive"),
        "kept.tar": str(data / "plain.tar"),  # skein infers FILE for .tar
    }


@pytest.mark.processes
def test_containers_see_yarns_environment_and_their_localized_files(
    standin_yarn: StandinYarn, programs: dict[str, str], tmp_path: Path
) -> None:
    client = standin_yarn.client()
    files = _archives(tmp_path)
    spec = skein.ApplicationSpec(
        master=skein.Master(
            script=programs["reporter"],
            env={"REPORT_PREFIX": "report", "LAYER": "master"},
            files={"plain.txt": files["plain.txt"]},
            resources=skein.Resources(memory=300, vcores=2),
        ),
        services={
            "svc": skein.Service(
                resources=skein.Resources(memory=200, vcores=3),
                script=programs["reporter"],
                instances=0,
                env={"LAYER": "service", "FROM_SERVICE": "yes", "CONTAINER_ID": "overridden"},
                files=files,
            )
        },
    )
    app_id = client.submit(spec)
    app = client.connect(app_id)
    container = app.add_container("svc", env={"LAYER": "container", "ROLE": "r"})
    assert str(container.state) == "REQUESTED"
    report = report_of(app, "report/svc_0")
    master = report_of(app, "report/master")

    env = report["env"]
    yarn_id = env["CONTAINER_ID"]
    assert re.fullmatch(app_id.replace("application_", "container_") + r"_01_\d{6}", yarn_id)
    local_dirs = str(standin_yarn.workdir / "local" / app_id)
    assert env == {
        "SKEIN_APPMASTER_ADDRESS": app.address,
        "SKEIN_APPLICATION_ID": app_id,
        "SKEIN_CONTAINER_ID": "svc_0",
        "SKEIN_RESOURCE_MEMORY": "200",
        "SKEIN_RESOURCE_VCORES": "3",
        "CONTAINER_ID": yarn_id,  # the NodeManager's, whatever the service says
        "LOCAL_DIRS": local_dirs,
        "LOG_DIRS": str(standin_yarn.workdir / "logs" / app_id / yarn_id),
        "NM_HOST": "127.0.0.1",
        "HADOOP_USER_NAME": standin_yarn.settings.user,
        "LANG": os.environ.get("LANG"),
        "CLASSPATH": os.environ.get("CLASSPATH"),
        "ROLE": "r",
        "LAYER": "container",  # add_container's env over the service's
        "FROM_SERVICE": "yes",
    }
    assert report["cwd"] == report["container_dir"] == f"{local_dirs}/{yarn_id}"
    assert report["resources"] == [200, 3]
    seen = report["files"]
    assert seen[".skein.crt"]["mode"] == seen[".skein.pem"]["mode"] == 0o600
    assert not seen[".skein.pem"]["link"]
    assert seen["plain.txt"]["link"] and not seen["plain.txt"]["dir"]
    assert seen["tool.sh"]["mode"] & stat.S_IXUSR
    assert seen["gz"]["dir"] and seen["gz"]["entries"] == ["pkg"]
    assert seen["zipdir"]["entries"] == ["zipped.txt"]
    assert seen["tardir"]["entries"] == ["untarred.txt"]
    assert not seen["kept.tar"]["dir"]
    container_dir = Path(report["container_dir"])
    assert (container_dir / "gz" / "pkg" / "inside.txt").read_bytes() == b"inside"
    assert (container_dir / "tool.sh").read_text().startswith("#!/bin/sh")

    menv = master["env"]
    assert menv["SKEIN_CONTAINER_ID"] is None
    assert menv["CONTAINER_ID"] == app_id.replace("application_", "container_") + "_01_000001"
    assert (menv["SKEIN_RESOURCE_MEMORY"], menv["SKEIN_RESOURCE_VCORES"]) == ("300", "2")
    assert (menv["LAYER"], menv["LOCAL_DIRS"]) == ("master", local_dirs)
    assert master["resources"] == [300, 2]
    assert master["cwd"] == master["container_dir"] == f"{local_dirs}/{menv['CONTAINER_ID']}"
    assert {".skein.crt", ".skein.pem", ".skein.sh", "plain.txt"} <= set(master["files"])

    # The spec as the Java Driver stages it.
    served = app.get_specification()
    svc = served.services["svc"]
    assert svc.script == "bash .skein.sh ><LOG_DIR>/svc.log 2>&1"
    assert {".skein.sh", ".skein.crt", ".skein.pem", "gz"} <= set(svc.files)
    assert str(svc.files["gz"].type) == "ARCHIVE" and svc.files["gz"].size > 0

    with pytest.raises(ValueError, match="has not completed"):
        client.application_logs(app_id)
    app.shutdown("FAILED", "enough")
    report_ = wait_done(client, app_id)
    assert (report_.state, report_.final_status, report_.diagnostics) == (
        "FINISHED",
        "FAILED",
        "enough",
    )
    logs = client.application_logs(app_id)
    assert set(logs) == {master["env"]["CONTAINER_ID"], yarn_id}
    assert "reporting as svc_0" in logs[yarn_id]
    assert "LogType:svc.log" in logs[yarn_id]
    assert "LogType:application.driver.log" in logs[menv["CONTAINER_ID"]]
    assert_all_ended(standin_yarn)


# -- application ends -----------------------------------------------------------------------


@pytest.mark.processes
def test_the_master_scripts_exit_decides_the_final_status(
    standin_yarn: StandinYarn, programs: dict[str, str]
) -> None:
    client = standin_yarn.client()
    shutdown_then_fail = (
        f'{sys.executable} -c "import skein; '
        f"skein.ApplicationClient.from_current().shutdown('KILLED', 'said so')\"; exit 9"
    )
    scripts = {
        "ok": "echo fine",
        "bad": "exit 7",
        "sigterm": "kill -TERM $$",
        "said": shutdown_then_fail,
    }
    ids = {
        name: client.submit(skein.ApplicationSpec(name=name, master=skein.Master(script=script)))
        for name, script in scripts.items()
    }
    outcomes = {name: wait_done(client, app_id) for name, app_id in ids.items()}
    summary = {n: (r.state, r.final_status, r.diagnostics) for n, r in outcomes.items()}
    assert summary == {
        "ok": ("FINISHED", "SUCCEEDED", "Application driver completed successfully."),
        "bad": (
            "FINISHED",
            "FAILED",
            "Application driver failed with exit code 7, see logs for more information.",
        ),
        "sigterm": (
            "FINISHED",
            "FAILED",
            "Application driver failed with exit code 143. This is often due to the "
            "application master memory limit being exceeded. See the diagnostics for more "
            "information.",
        ),
        "said": ("FINISHED", "KILLED", "said so"),
    }
    assert {r.id for r in client.get_applications(states=["FINISHED"])} == set(ids.values())
    assert client.get_applications() == []
    assert_all_ended(standin_yarn)


@pytest.mark.processes
def test_without_a_master_script_the_services_decide(standin_yarn: StandinYarn) -> None:
    client = standin_yarn.client()
    good = client.submit(
        skein.ApplicationSpec(
            name="good",
            services={
                "first": skein.Service(resources=SMALL, script="exit 0", instances=2),
                "then": skein.Service(resources=SMALL, script="exit 0", depends=["first"]),
            },
        )
    )
    bad = client.submit(
        skein.ApplicationSpec(
            name="bad",
            services={"only": skein.Service(resources=SMALL, script="exit 3", max_restarts=1)},
        )
    )
    huge = client.submit(
        skein.ApplicationSpec(
            services={"big": skein.Service(resources=skein.Resources(9000, 1), script="exit 0")}
        )
    )
    with pytest.raises(skein.exceptions.DriverError, match="maximum allowed allocation"):
        client.submit(
            skein.ApplicationSpec(
                master=skein.Master(resources=skein.Resources(128, 1000), script="exit 0")
            )
        )
    huge_report = wait_done(client, huge)
    assert (huge_report.final_status, huge_report.diagnostics.splitlines()[0]) == (
        "FAILED",
        "Failure in container allocator:",
    )
    assert "Requested resource=<memory:9000, vCores:1>" in huge_report.diagnostics
    good_report, bad_report = wait_done(client, good), wait_done(client, bad)
    assert (good_report.final_status, good_report.diagnostics) == (
        "SUCCEEDED",
        "Application completed successfully.",
    )
    assert (bad_report.state, bad_report.final_status, bad_report.diagnostics) == (
        "FINISHED",
        "FAILED",
        "Failure in service only, see logs for more information.",
    )
    # "then" waited until every first container of "first" had been allocated.
    notes = am_notes(standin_yarn, good)
    assert notes.index("WAITING: then_0") < notes.index("REQUESTED: then_0")
    running_first = [i for i, n in enumerate(notes) if n.startswith("RUNNING: first_")]
    assert len(running_first) == 2 and max(running_first) < notes.index("REQUESTED: then_0")
    # max_restarts=1: one replacement, then the service (and the application) failed.
    notes = am_notes(standin_yarn, bad)
    assert "RESTARTING: adding new container to replace only_0." in notes
    assert f"FAILED: only_1 - {FAILED_MESSAGE}" in notes
    assert not [n for n in notes if "only_2" in n]
    assert_all_ended(standin_yarn)


@pytest.mark.processes
def test_max_restarts_and_allow_failures(
    standin_yarn: StandinYarn, programs: dict[str, str]
) -> None:
    client = standin_yarn.client()
    failing = {"EXIT_CODE": "1"}
    spec = skein.ApplicationSpec(
        master=skein.Master(script="exec sleep 600"),
        services={
            "tolerant": skein.Service(
                resources=SMALL,
                script=programs["reporter"],
                instances=0,
                allow_failures=True,
                env=failing,
            ),
            "fragile": skein.Service(
                resources=SMALL,
                script=programs["reporter"],
                instances=0,
                max_restarts=2,
                env=failing,
            ),
        },
    )
    app_id = client.submit(spec)
    app = client.connect(app_id)
    with app.kv.events(prefix="report/", event_type="DELETE") as deletes:
        app.add_container("tolerant", env={"ROLE": "t"})
        assert deletes.get(timeout=WAIT).key == "report/tolerant_0"
        (tolerant,) = app.get_containers(states=["FAILED"])
        assert (tolerant.id, tolerant.exit_message) == ("tolerant_0", FAILED_MESSAGE)
        assert app.get_containers(services=["tolerant"]) == []  # no restart: max_restarts=0
        assert client.application_report(app_id).state == "RUNNING"

        app.add_container("fragile", env={"ROLE": "f"})
        # Each restart is a new instance that keeps the add_container env.
        for instance in range(3):
            assert deletes.get(timeout=WAIT).key == f"report/fragile_{instance}"
    report = wait_done(client, app_id)
    assert (report.state, report.final_status, report.diagnostics) == (
        "FINISHED",
        "FAILED",
        "Failure in service fragile, see logs for more information.",
    )
    logs = client.application_logs(app_id)
    assert sum("reporting as fragile_" in text for text in logs.values()) == 3
    assert_all_ended(standin_yarn)


@pytest.mark.processes
def test_kill_application_kills_every_process(
    standin_yarn: StandinYarn, programs: dict[str, str]
) -> None:
    client = standin_yarn.client()
    # Each container also leaves a grandchild in its process group.
    script = f"sleep 600 & {programs['reporter']}"
    spec = skein.ApplicationSpec(
        master=skein.Master(script="sleep 600 & exec sleep 600"),
        services={"worker": skein.Service(resources=SMALL, script=script, instances=2)},
    )
    app_id = client.submit(spec)
    app = client.connect(app_id)
    pids = [report_of(app, f"report/worker_{i}")["pid"] for i in range(2)]
    events = app.kv.events()
    assert all(os.path.exists(f"/proc/{pid}") for pid in pids)

    client.kill_application(app_id)

    report = client.application_report(app_id)  # killed by the time kill_application returns
    assert (report.state, report.final_status, report.diagnostics) == (
        "KILLED",
        "KILLED",
        "Application killed by user.",
    )
    assert_all_ended(standin_yarn)
    assert len(standin_yarn.processes()) == 3
    with pytest.raises(skein.exceptions.ConnectionError):
        app.get_containers()
    with pytest.raises(skein.exceptions.ConnectionError):
        events.get(timeout=WAIT)
    client.kill_application(app_id)  # a no-op once it is over
    assert client.application_report(app_id).state == "KILLED"


@pytest.mark.processes
def test_accepted_until_the_application_master_runs(standin_yarn: StandinYarn) -> None:
    standin_yarn.am_start_delay = 1.5  # long enough to look at ACCEPTED on a busy machine
    client = standin_yarn.client()
    spec = skein.ApplicationSpec(master=skein.Master(script="exec sleep 600"))
    app_id = client.submit(spec)
    report = client.application_report(app_id)
    assert (report.state, report.host, report.port) == ("ACCEPTED", "N/A", -1)
    with pytest.raises(skein.exceptions.ApplicationNotRunningError):
        client.connect(app_id, wait=False)
    app = client.connect(app_id)  # waitForStart
    report = client.application_report(app_id)
    assert report.state == "RUNNING" and app.address == f"127.0.0.1:{report.port}"
    assert report.progress == pytest.approx(0.1)
    app.set_progress(0.5)
    assert client.application_report(app_id).progress == pytest.approx(0.5)

    never_started = client.submit(spec)
    client.kill_application(never_started)
    assert client.application_report(never_started).state == "KILLED"
    app.shutdown()
    assert wait_done(client, app_id).diagnostics == "Shutdown requested by user."
    assert_all_ended(standin_yarn)


# -- the application master's RPCs ----------------------------------------------------------


@pytest.mark.processes
def test_scale_get_containers_and_errors(standin_yarn: StandinYarn) -> None:
    standin_yarn.allocation_delay = 5.0  # keep requests pending while the test looks at them
    client = standin_yarn.client()
    spec = skein.ApplicationSpec(
        master=skein.Master(script="exec sleep 600"),
        services={
            "a": skein.Service(resources=SMALL, script="exec sleep 600", instances=0),
            "b": skein.Service(resources=SMALL, script="exec sleep 600", instances=0),
        },
    )
    app_id = client.submit(spec)
    app = client.connect(app_id)
    started = app.scale("a", count=3)
    assert [(c.id, str(c.state)) for c in started] == [
        ("a_0", "REQUESTED"),
        ("a_1", "REQUESTED"),
        ("a_2", "REQUESTED"),
    ]
    assert [c.id for c in app.scale("a", delta=-1)] == ["a_0"]  # the oldest request first
    app.add_container("b")
    assert [c.id for c in app.get_containers()] == ["a_1", "a_2", "b_0"]
    assert [c.id for c in app.get_containers(services=["b"])] == ["b_0"]
    assert [c.id for c in app.get_containers(states=["KILLED"])] == ["a_0"]
    assert app.scale("a", delta=-5) and app.get_containers(services=["a"]) == []
    assert app.scale("a", count=0) == []

    for call in (
        lambda: app.add_container("nosuch"),
        lambda: app.get_containers(services=["nosuch"]),
        lambda: app.scale("nosuch", count=1),
        lambda: app.kill_container("nosuch_0"),
    ):
        with pytest.raises(ValueError, match="Unknown service 'nosuch'"):
            call()
    with pytest.raises(ValueError, match="Service 'b' has no container instance 7"):
        app.kill_container("b_7")
    app.kill_container("a_0")  # already completed: nothing happens
    with pytest.raises(skein.exceptions.ApplicationError, match="UI"):
        app.ui.get_pages()

    spec_seen = app.get_specification()
    assert set(spec_seen.services) == {"a", "b"}
    assert client.get_nodes()[0].state == "RUNNING"
    assert client.get_queue("default").name == "default"
    with pytest.raises(skein.exceptions.DriverError, match="File file:/nonexistent does not"):
        client.submit(
            skein.ApplicationSpec(master=skein.Master(script="exit 0", files={"f": "/nonexistent"}))
        )
    with pytest.raises(ValueError, match="Unknown ApplicationId"):
        client.application_report("application_1_0099")
    with pytest.raises(ValueError, match="Invalid ApplicationId"):
        client.application_report("nonsense")
    assert [r.id for r in client.get_applications()] == [app_id]
    client.move_application(app_id, "elsewhere")
    assert client.application_report(app_id).queue == "elsewhere"
    app.shutdown()
    wait_done(client, app_id)
    with pytest.raises(ValueError, match="cannot be moved"):
        client.move_application(app_id, "default")


@pytest.mark.processes
def test_fault_injection_lost_and_oversized_containers_and_a_failed_master(
    standin_yarn: StandinYarn, programs: dict[str, str]
) -> None:
    standin_yarn.allocation_delay = 0.05
    client = standin_yarn.client()
    spec = skein.ApplicationSpec(
        master=skein.Master(script="exec sleep 600"),
        services={
            "w": skein.Service(
                resources=SMALL, script=programs["reporter"], instances=2, allow_failures=True
            )
        },
    )
    app_id = client.submit(spec)
    app = client.connect(app_id)
    pids = [report_of(app, f"report/w_{i}")["pid"] for i in range(2)]
    with app.kv.events(prefix="report/", event_type="DELETE") as deletes:
        standin_yarn.fail_container(app_id, "w_0", -100, "Container released on a *lost* node")
        assert deletes.get(timeout=WAIT).key == "report/w_0"
        standin_yarn.fail_container(
            app_id,
            "w_1",
            -104,
            "Container [pid=1] is running beyond physical memory limits. Current usage: 2.1 GB "
            "of 2 GB physical memory used; 3.0 GB of 4.2 GB virtual memory used. Killing.",
        )
        assert deletes.get(timeout=WAIT).key == "report/w_1"
    messages = {c.id: c.exit_message for c in app.get_containers(states=["FAILED"])}
    assert messages == {
        "w_0": "Container released on a *lost* node",
        "w_1": "2.1 GB of 2 GB physical memory used",
    }
    poll(lambda: not any(group_alive(pid) for pid in pids), "the failed containers to end")

    standin_yarn.fail_application(app_id, "AM container lost")
    report = client.application_report(app_id)
    assert (report.state, report.final_status, report.diagnostics) == (
        "FAILED",
        "FAILED",
        "AM container lost",
    )
    assert_all_ended(standin_yarn)


# -- the key-value store --------------------------------------------------------------------


@pytest.fixture
def kv_app(
    standin_yarn: StandinYarn, programs: dict[str, str]
) -> Iterator[skein.ApplicationClient]:
    """A running application with one container (``owner_0``) that owns ``report/owner_0``."""
    standin_yarn.allocation_delay = 0.05
    client = standin_yarn.client()
    spec = skein.ApplicationSpec(
        master=skein.Master(script="exec sleep 600"),
        services={"owner": skein.Service(resources=SMALL, script=programs["reporter"])},
    )
    app = client.connect(client.submit(spec))
    wait_key(app, "report/owner_0")
    yield app
    app.shutdown()


@pytest.mark.processes
def test_kv_ranges_and_mapping_api(kv_app: skein.ApplicationClient) -> None:
    store = kv_app.kv
    del store["report/owner_0"]
    astral, fullwidth = "\U0001f600", "\uff01"
    store.update({"a": b"1", "ab": b"2", "abc": b"3", "b": b"4", "\u00e9": b"5"})
    store.update({fullwidth: b"7", astral: b"6"})
    # Java orders keys by UTF-16 code units: U+1F600 (a surrogate pair, D83D DE00) sorts before
    # U+FF01, although its code point is larger.
    assert list(store) == ["a", "ab", "abc", "b", "\u00e9", astral, fullwidth]
    assert len(store) == 7 and "ab" in store and "zz" not in store
    assert store["ab"] == b"2" and store.get("zz", default=b"d") == b"d"
    with pytest.raises(KeyError):
        store["zz"]
    assert store.get_prefix("ab") == {"ab": b"2", "abc": b"3"}
    assert list(store.get_range(start="ab", end="b")) == ["ab", "abc"]
    assert store.get_range(start="b", end="a") == {}
    assert store.count(prefix="a") == 3 and store.count(start="b") == 4
    assert store.list_keys(end="ab") == ["a"]
    assert store.pop("b") == b"4" and store.pop("b", default=b"x") == b"x"
    assert store.discard_prefix("ab", return_keys=True) == ["ab", "abc"]
    assert store.pop_range(start="\u00e9") == {"\u00e9": b"5", astral: b"6", fullwidth: b"7"}
    assert store.setdefault("a", b"other") == b"1" and store.setdefault("n", b"new") == b"new"
    assert store.swap("n", b"newer") == b"new"
    del store["n"]
    with pytest.raises(KeyError):
        del store["n"]
    store.clear()
    assert len(store) == 0


@pytest.mark.processes
def test_kv_owners(kv_app: skein.ApplicationClient) -> None:
    store = kv_app.kv
    assert store.get("report/owner_0", return_owner=True).owner == "owner_0"
    store.put("k", b"v", owner="owner_0")
    store.put("k", owner=None)  # value unchanged, owner cleared
    assert store.get("k", return_owner=True) == kv.ValueOwnerPair(b"v", None)
    store.put("k", owner="owner_0")
    assert store.swap("k", b"w", return_owner=True) == kv.ValueOwnerPair(b"v", "owner_0")
    assert store.get("k", return_owner=True) == kv.ValueOwnerPair(b"w", "owner_0")  # kept
    with pytest.raises(ValueError, match="key isn't already set"):
        store.put("missing", owner="owner_0")
    with pytest.raises(ValueError, match="Unknown service 'nosuch'"):
        store.put("x", b"x", owner="nosuch_0")
    with pytest.raises(ValueError, match="Service 'owner' has no container instance 5"):
        store.put("x", b"x", owner="owner_5")
    with store.events(event_type="DELETE") as deletes:
        kv_app.kill_container("owner_0")
        assert sorted(deletes.get(timeout=WAIT).key for _ in range(2)) == ["k", "report/owner_0"]
    with pytest.raises(ValueError, match="Container 'owner_0' has already completed"):
        store.put("x", b"x", owner="owner_0")
    assert "k" not in store and "x" not in store


@pytest.mark.processes
def test_kv_transactions_and_conditions(kv_app: skein.ApplicationClient) -> None:
    store = kv_app.kv
    store["n"] = b"5"
    store.put("owned", b"o", owner="owner_0")
    value, owner = kv.value, kv.owner

    def holds(*conditions: kv.Condition) -> bool:
        return store.transaction(conditions=list(conditions)).succeeded

    assert holds(value("n") == b"5", value("n") != b"6", value("n") < b"6", value("n") >= b"5")
    assert not holds(value("n") > b"5")
    assert holds(kv.exists("n"), kv.missing("nothing"))
    assert not holds(value("nothing") < b"1")  # a missing value compares only as equal to None
    assert holds(owner("owned") == "owner_0", owner("n") == None, owner("owned") > "owner_-1")  # noqa: E711
    assert holds(owner("owned") < "ownez_0", owner("owned") != "owner_1")
    store["byte"] = b"\x80"
    assert holds(value("byte") < b"\x7f")  # Java compares bytes signed: 0x80 is -128

    result = store.transaction(
        conditions=[value("n") == b"5"],
        on_success=[kv.put("m", b"1"), kv.get("n"), kv.swap("n", b"6"), kv.pop_prefix("m")],
        on_failure=[kv.put("never", b"1")],
    )
    assert result == kv.TransactionResult(True, [None, b"5", b"5", {"m": b"1"}])
    result = store.transaction(
        conditions=[value("n") == b"5"], on_failure=[kv.get_prefix("n"), kv.discard("n")]
    )
    assert result == kv.TransactionResult(False, [{"n": b"6"}, True])
    # A refused put refuses the whole transaction: the first put does not happen either.
    with pytest.raises(ValueError, match="Unknown service"):
        store.transaction(on_success=[kv.put("first", b"1"), kv.put("x", b"1", owner="no_0")])
    assert "first" not in store


@pytest.mark.processes
def test_kv_watches(kv_app: skein.ApplicationClient) -> None:
    store = kv_app.kv
    # Many filters created at once on one stream: each CREATE answer must pair with its request.
    filters = {f"p{i}/": kv.EventFilter(prefix=f"p{i}/") for i in range(8)}
    queues = {prefix: store.event_queue() for prefix in filters}
    threads = [threading.Thread(target=queues[p].subscribe, args=(f,)) for p, f in filters.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    for prefix in filters:
        store[prefix + "k"] = prefix.encode()
    for prefix, q in queues.items():
        event = q.get(timeout=WAIT)
        assert (event.key, event.result.value, event.event_filter) == (
            prefix + "k",
            prefix.encode(),
            filters[prefix],
        )
        q.unsubscribe_all()

    everything = store.events()
    puts = store.events(key="x", event_type="PUT")
    store["x"] = b"1"
    store["y"] = b"2"
    store.discard_range(start="x", end="z")
    kinds = [(e.event_type, e.key) for e in (everything.get(timeout=WAIT) for _ in range(4))]
    assert [(str(t), k) for t, k in kinds] == [
        ("PUT", "x"),
        ("PUT", "y"),
        ("DELETE", "x"),
        ("DELETE", "y"),
    ]
    only = puts.get(timeout=WAIT)
    assert (str(only.event_type), only.key, only.result.value) == ("PUT", "x", b"1")
    puts.unsubscribe_all()
    store["x"] = b"again"
    assert everything.get(timeout=WAIT).result.value == b"again"
    everything.unsubscribe_all()

    # kv.wait is satisfied by a later put from another client (a thread here).
    got: list[bytes] = []
    waiter = threading.Thread(target=lambda: got.append(store.wait("later")))
    with store.events(key="later") as seen_put:
        waiter.start()
        store["later"] = b"now"
        seen_put.get(timeout=WAIT)
    waiter.join(WAIT)
    assert got == [b"now"]


# -- the harness ----------------------------------------------------------------------------


@pytest.mark.processes
def test_close_ends_a_busy_cluster(tmp_path: Path, programs: dict[str, str]) -> None:
    started = time.monotonic()
    yarn = StandinYarn(tmp_path / "busy", allocation_delay=0.05)
    startup = time.monotonic() - started
    try:
        client = yarn.client()
        spec = skein.ApplicationSpec(
            master=skein.Master(script="exec sleep 600"),
            services={"w": skein.Service(resources=SMALL, script=programs["reporter"])},
        )
        app = client.connect(client.submit(spec))
        wait_key(app, "report/w_0")
        events = app.kv.events()
        client.submit(spec)  # a second application, maybe still starting
    finally:
        yarn.close()
    with pytest.raises(skein.exceptions.ConnectionError):
        events.get(timeout=WAIT)
    assert [a.state for a in yarn.applications()] == [pb.ApplicationState.KILLED] * 2
    assert_all_ended(yarn)
    assert startup < 10  # not a benchmark: only a gross regression fails (it takes ~0.2 s)
