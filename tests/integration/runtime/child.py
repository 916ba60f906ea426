"""A stand-in evaluator for the local runtime's tests: ``python -m tests.integration.runtime.child MODE``.

``exit CODE``
    print numbered lines on stdout and one on stderr, then exit with CODE.
``serve ADDRESS [--grandchild] [--on-term ignore|exit]``
    connect to the abstract Unix socket ADDRESS, send one JSON line describing this process (its
    pid, group, session, folder, arguments, environment, files), then obey one command:
    ``exit N`` (as the mode above), ``signal N`` (send itself signal N); at end of stream exit 0.
    ``--grandchild`` starts a process of its own first (reported as ``grandchild``);
    ``--on-term`` ignores SIGTERM, or says so and exits with code 7 on it.

Standard library only: it runs under fake virtual environments that lack the project's packages.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys

WATCHED_ENV = ("REEF_TEST_ID", "REEF_TEST_TOKEN", "REEF_TEST_INHERITED", "PYTHONUNBUFFERED")


def _exit(code: int) -> None:
    for i in range(40):
        print(f"line {i}")
    print(f"goodbye {code}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _on_term(signum: int, frame: object) -> None:
    print("got SIGTERM", flush=True)
    os._exit(7)


def _report(grandchild: int | None) -> dict[str, object]:
    cwd = os.getcwd()
    files = {}
    for name in sorted(os.listdir(cwd)):
        path = os.path.join(cwd, name)
        with open(path, "rb") as f:
            content = f.read().decode("utf-8", "replace") if name != "evaluator.log" else ""
        files[name] = {"mode": stat.S_IMODE(os.stat(path).st_mode), "content": content}
    return {
        "id": os.environ.get("REEF_TEST_ID"),
        "pid": os.getpid(),
        "pgid": os.getpgid(0),
        "sid": os.getsid(0),
        "cwd": cwd,
        "dir_mode": stat.S_IMODE(os.stat(cwd).st_mode),
        "argv": sys.argv[1:],
        "executable": sys.executable,
        "env": {name: os.environ.get(name) for name in WATCHED_ENV},
        "stdin": os.readlink("/proc/self/fd/0"),
        "files": files,
        "grandchild": grandchild,
        "grandchild_pgid": os.getpgid(grandchild) if grandchild else None,
    }


def _serve(address: str, options: list[str]) -> None:
    if "--on-term" in options:
        action = options[options.index("--on-term") + 1]
        signal.signal(signal.SIGTERM, signal.SIG_IGN if action == "ignore" else _on_term)
    grandchild = None
    if "--grandchild" in options:
        # Bounded, so that a broken test cannot leave it behind for long.
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]).pid
    print(f"hello from {os.environ.get('REEF_TEST_ID')}", flush=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect("\0" + address)
        conn.sendall(json.dumps(_report(grandchild)).encode() + b"\n")
        command = b""
        while not command.endswith(b"\n"):
            chunk = conn.recv(64)
            if not chunk:
                os._exit(0)
            command += chunk
    verb, number = command.decode().split()
    if verb == "exit":
        _exit(int(number))
    os.kill(os.getpid(), int(number))
    signal.pause()  # a handled or ignored signal would leave us here; the test then kills us


def main() -> None:
    """Run the mode the command line names."""
    mode, *rest = sys.argv[1:]
    if mode == "exit":
        _exit(int(rest[0]))
    elif mode == "serve":
        _serve(rest[0], rest[1:])
    else:
        sys.exit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
