"""Environment isolation: two jobs whose evaluators need different versions of one package run at
the same time, each evaluator in its own Python environment, and each sees its own version. On
the local runtime (a runtime-wide interpreter, and a request's virtual environment) and on YARN
through the stand-in (an interpreter path on every node, and a packed environment archive
unpacked into the container for one request)."""

from __future__ import annotations

import os
import sys
import sysconfig
import tarfile
import time
import venv
from pathlib import Path
from typing import Annotated

import pytest

import reef
from reef.runtime import LocalRuntime
from reef.tang import NamedParameter
from tests.yarn.standin import StandinYarn

pytestmark = [pytest.mark.processes, pytest.mark.timeout(180)]

PACKAGE = "reef_isolation_probe"  # installed in the test environments only, never in ours


class Environment(NamedParameter[str]):
    """The environment evaluators are requested in ('' for the runtime's own)."""

    default = ""


class Rendezvous(NamedParameter[str]):
    """A directory where every probe leaves a mark and waits for the others' (proof that the
    jobs' evaluators run at the same time)."""


class Expected(NamedParameter[int]):
    """How many probes meet at the rendezvous."""


class Probe(reef.Activity):
    """Reports which version of the package its evaluator imports, once every probe runs."""

    def __init__(
        self, rendezvous: Annotated[str, Rendezvous], expected: Annotated[int, Expected]
    ) -> None:
        self.rendezvous, self.expected = Path(rendezvous), expected

    def run(self, memento: bytes | None) -> bytes:
        import reef_isolation_probe  # type: ignore[import-not-found]

        version = reef_isolation_probe.VERSION
        (self.rendezvous / f"{version}-{os.getpid()}").touch()
        deadline = time.monotonic() + 60
        while len(list(self.rendezvous.iterdir())) < self.expected:
            if time.monotonic() > deadline:
                raise TimeoutError("the other job's evaluators never ran beside this one")
            time.sleep(0.02)  # a poll across processes of two jobs: nothing to wait on but files
        return f"{version} {sys.prefix}".encode()


class ProbeDriver(reef.Driver):
    """Two evaluators in the chosen environment, a Probe on each; the answers to the client."""

    def __init__(
        self,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        environment: Annotated[str, Environment],
        rendezvous: Annotated[str, Rendezvous],
        expected: Annotated[int, Expected],
    ) -> None:
        self.requestor, self.client = requestor, client
        self.environment, self.rendezvous, self.expected = environment, rendezvous, expected

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.requestor.submit(
            reef.EvaluatorRequest(count=2, memory_mb=128, environment=self.environment or None)
        )

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, evaluator: reef.AllocatedEvaluator) -> None:
        evaluator.submit_activity(
            reef.ActivityConfiguration(
                id=f"probe-{evaluator.id}",
                activity=Probe,
                parameters={Rendezvous: self.rendezvous, Expected: self.expected},
            )
        )

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        self.client.send(done.result or b"")
        done.context.close()


@pytest.fixture(scope="module")
def environments(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two virtual environments with reef (through our own site-packages) and different
    versions of the probe package."""
    root = tmp_path_factory.mktemp("environments")
    ours = sysconfig.get_path("purelib")
    made = {}
    for version in ("1.0", "2.0"):
        home = root / f"env-{version}"
        venv.EnvBuilder(with_pip=False, symlinks=True).create(home)
        (site,) = home.glob("lib/python*/site-packages")
        (site / "with-reef.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
        (site / PACKAGE).mkdir()
        (site / PACKAGE / "__init__.py").write_text(f"VERSION = {version!r}\n")
        made[version] = home
    return made


def start_both(
    first: tuple[str | reef.Runtime, str], second: tuple[str | reef.Runtime, str], meet: Path
) -> list[list[str]]:
    """Submit two probe jobs, then wait for both; each job's answers, split."""
    meet.mkdir()
    jobs = [
        reef.submit(
            ProbeDriver,
            runtime=runtime,
            parameters={Environment: environment, Rendezvous: str(meet), Expected: 4},
            timeout=120,
        )
        for runtime, environment in (first, second)
    ]
    answers = []
    for job in jobs:
        result = job.wait()
        assert result.status is reef.JobStatus.SUCCEEDED, result.error
        answers.append(sorted(m.decode() for m in result.messages))
    return [[a.split(" ", 1)[0] for a in answer] for answer in answers] + [
        [a.split(" ", 1)[1] for a in answer] for answer in answers
    ]


def test_local_jobs_see_their_own_package_versions(
    environments: dict[str, Path], tmp_path: Path
) -> None:
    runtime_wide = LocalRuntime(python=str(environments["1.0"] / "bin" / "python"))
    per_request = str(environments["2.0"])  # a virtual-environment directory
    versions_a, versions_b, prefixes_a, prefixes_b = start_both(
        (runtime_wide, ""), ("local", per_request), tmp_path / "meet"
    )
    assert versions_a == ["1.0", "1.0"]
    assert versions_b == ["2.0", "2.0"]
    assert set(prefixes_a) == {str(environments["1.0"])}
    assert set(prefixes_b) == {str(environments["2.0"])}


def test_yarn_jobs_see_their_own_package_versions(
    environments: dict[str, Path], tmp_path: Path
) -> None:
    packed = tmp_path / "env-2.0.tar.gz"  # as venv-pack makes it: the environment at the root
    with tarfile.open(packed, "w:gz") as archive:
        archive.add(environments["2.0"], arcname=".")
    from reef.runtime.yarn import YarnRuntime

    with StandinYarn(tmp_path / "yarn", allocation_delay=0.05) as yarn:
        on_every_node = YarnRuntime(
            client=yarn.client(),
            environment=str(environments["1.0"] / "bin" / "python"),
            evaluator_sizes=[(128, 1)],
        )
        archive_for_one_request = YarnRuntime(
            client=yarn.client(),
            environments={"probe-2": str(packed)},
            evaluator_sizes=[(128, 1)],
        )
        versions_a, versions_b, prefixes_a, prefixes_b = start_both(
            (on_every_node, ""), (archive_for_one_request, "probe-2"), tmp_path / "meet"
        )
    assert versions_a == ["1.0", "1.0"]
    assert versions_b == ["2.0", "2.0"]
    assert set(prefixes_a) == {str(environments["1.0"])}
    # unpacked by "YARN" into each container: a prefix of its own, not the packed directory
    assert all(p.endswith("/environment") for p in prefixes_b), prefixes_b
    assert len(set(prefixes_b)) == 2
