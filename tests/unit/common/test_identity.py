"""Where an evaluator says it can be reached, and what tells two evaluators they share a host."""

from __future__ import annotations

import os

import pytest

from reef.common._identity import EvaluatorIdentity, host_key, reachable_host, scratch_directory
from reef.common._tls import CredentialFiles


@pytest.mark.parametrize("driver", ["127.0.0.1:4000", "localhost:4000", "[::1]:4000"])
def test_on_one_machine_evaluators_are_reached_on_loopback(driver: str) -> None:
    assert reachable_host(driver) == "127.0.0.1"


def test_on_a_cluster_the_node_manager_names_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NM_HOST", "localhost")  # resolved, as the driver resolves its own
    assert reachable_host("10.1.2.3:4000") == "127.0.0.1"
    monkeypatch.setenv("NM_HOST", "no-such-host.invalid")
    assert reachable_host("10.1.2.3:4000") == "no-such-host.invalid"  # unresolvable: as given


def test_the_host_key_is_stable_and_names_the_boot() -> None:
    assert host_key() == host_key()
    if os.path.exists("/proc/sys/kernel/random/boot_id"):
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            assert host_key().endswith(f.read().strip())


def test_scratch_directories_live_in_the_evaluators_workdir(tmp_path: os.PathLike[str]) -> None:
    files = CredentialFiles("ca", "cert", "key")
    me = EvaluatorIdentity("job", "evaluator-1", "127.0.0.1", host_key(), str(tmp_path), files)
    path = scratch_directory(me, "cache")
    assert path == os.path.join(str(tmp_path), "cache") and os.path.isdir(path)
