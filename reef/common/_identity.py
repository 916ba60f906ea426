"""Who and where an evaluator is, for services that talk to other evaluators or keep files.

The evaluator puts one ``EvaluatorIdentity`` into every context's injector: a service asks for
it in its constructor (``def __init__(self, me: EvaluatorIdentity)``). Evaluators of one job
prove themselves to each other with the job's credentials (mutual TLS): every evaluator's
certificate is signed by the job's CA and carries the evaluator id as its common name.
"""

from __future__ import annotations

import functools
import os
import socket
from dataclasses import dataclass

from reef.common._tls import CredentialFiles, this_host


@dataclass(frozen=True, slots=True)
class EvaluatorIdentity:
    """This evaluator: its ids, the host it runs on, its working directory (private to it,
    removed or kept with the job's logs by the runtime) and its credential files."""

    job_id: str
    evaluator_id: str
    host: str  # the address other evaluators reach it at (loopback on one machine)
    host_key: str  # equal for two processes exactly when they share a machine (and /dev/shm)
    workdir: str
    credentials: CredentialFiles


_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def reachable_host(driver_address: str) -> str:
    """The address other evaluators of the job reach this one at. When the driver is on
    loopback, so is every evaluator (one machine: nothing listens beyond it); on a cluster, the
    node's address as the resource manager names it (YARN's ``NM_HOST``), resolved to an IP
    address like the driver's own, else this machine's name."""
    host = driver_address.rsplit(":", 1)[0]
    if host in _LOOPBACK:
        return "127.0.0.1"
    return node_address()


def node_address() -> str:
    """This cluster node's address: the resource manager's name for it (YARN's ``NM_HOST``),
    else this machine's name, resolved to an IP address (as given when it does not resolve)."""
    name = os.environ.get("NM_HOST") or this_host()
    try:
        return socket.gethostbyname(name)
    except OSError:
        return name


@functools.cache
def host_key() -> str:
    """An identifier of this machine's running kernel: the host name and the boot id, so that
    two processes compare equal only when they can share memory (not merely a host name)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            boot = f.read().strip()
    except OSError:
        boot = ""
    return f"{socket.gethostname()}/{boot}"


def scratch_directory(identity: EvaluatorIdentity, purpose: str) -> str:
    """A directory for a service's files (spills, ...): ``<workdir>/<purpose>``, created if
    missing."""
    path = os.path.join(identity.workdir, purpose)
    os.makedirs(path, exist_ok=True)
    return path
