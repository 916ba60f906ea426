"""The control plane admits the job's own evaluators only, and survives everything else."""

from __future__ import annotations

import re
import socket
import ssl
import stat
from pathlib import Path

import grpc
import pytest

import reef
from reef.common import _tls
from reef.common._authority import JobAuthority
from reef.common._frames import frame
from reef.proto import control_pb2 as pb
from reef.proto import control_pb2_grpc as pb_grpc
from tests.integration import jobs

pytestmark = [pytest.mark.processes, pytest.mark.timeout(90)]


class Waiting(jobs.Logging):
    """Keeps one evaluator with an idle context until the client says stop; then uses it."""

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, ev: reef.AllocatedEvaluator) -> None:
        ev.submit_context(reef.ContextConfiguration(id="root", services=[jobs.Counter]))

    @reef.on(reef.ActiveContext)
    def active(self, ctx: reef.ActiveContext) -> None:
        self.context = ctx
        self.client.send(b"ready")

    @reef.on(reef.ClientMessage)
    def go(self, _: reef.ClientMessage) -> None:
        self.context.submit_activity(reef.ActivityConfiguration(id="count", activity=jobs.Count))

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        self.note("CompletedActivity", (done.result or b"").decode())
        done.context.close()


def _ready(job: reef.Job) -> None:
    import time

    deadline = time.monotonic() + 30
    while b"ready" not in job.messages:
        assert time.monotonic() < deadline, "the job never got ready"
        time.sleep(0.01)  # a poll with a deadline


def _closed_on_us(sock: socket.socket) -> bool:
    try:
        return sock.recv(100) == b""
    except (ConnectionResetError, ssl.SSLError):
        return True


def _call(
    address: str, credentials: grpc.ChannelCredentials | None, first: pb.EvaluatorMessage
) -> grpc.RpcError:
    options = [("grpc.ssl_target_name_override", _tls.DRIVER_NAME)]
    channel = (
        grpc.secure_channel(address, credentials, options)
        if credentials is not None
        else grpc.insecure_channel(address)
    )
    try:
        responses = pb_grpc.ControlStub(channel).Connect(iter([first]), timeout=10)
        with pytest.raises(grpc.RpcError) as info:
            next(responses)
        return info.value
    finally:
        channel.close()


def test_only_the_jobs_evaluators_get_in(tmp_path: Path) -> None:
    job = reef.submit(Waiting, timeout=60)
    try:
        _ready(job)
        server = job._backend._core._server  # the driver's control plane, to attack it
        register = pb.EvaluatorMessage(seq=1, register=pb.Register(evaluator_id="evaluator-2"))

        # no TLS at all
        error = _call(server.address, None, register)
        assert error.code() is grpc.StatusCode.UNAVAILABLE

        # TLS with credentials of another authority
        other = JobAuthority("intruder")
        pair = other.issue_evaluator("evaluator-2")
        error = _call(
            server.address,
            grpc.ssl_channel_credentials(other.ca_pem, pair.key, pair.cert),
            register,
        )
        assert error.code() is grpc.StatusCode.UNAVAILABLE

        # the job's real credentials of evaluator-1, claiming to be someone else, or again itself
        folder = Path(job.log_dir, "credentials")
        ca = (folder / "ca.pem").read_bytes()
        theirs = job._backend._core._authority.issue_evaluator("evaluator-1")
        creds = grpc.ssl_channel_credentials(ca, theirs.key, theirs.cert)
        error = _call(server.address, creds, register)
        assert error.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "tried to register as 'evaluator-2'" in (error.details() or "")
        again = pb.EvaluatorMessage(seq=1, register=pb.Register(evaluator_id="evaluator-1"))
        error = _call(server.address, creds, again)
        assert error.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "not an evaluator this driver is waiting for" in (error.details() or "")

        # garbage to the fast path, with and without TLS
        host, port = server.fast_address.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            raw.sendall(b"GET / HTTP/1.0\r\n\r\n" * 100)
            assert _closed_on_us(raw)
        cert, key = tmp_path / "c.pem", tmp_path / "c.key"
        cert.write_bytes(theirs.cert)
        key.write_bytes(theirs.key)
        (tmp_path / "ca.pem").write_bytes(ca)
        context = _tls.client_context(
            _tls.CredentialFiles(str(tmp_path / "ca.pem"), str(cert), str(key))
        )
        raw = socket.create_connection((host, int(port)), timeout=10)
        with context.wrap_socket(raw, server_hostname=_tls.DRIVER_NAME) as tls:
            tls.sendall(frame(b"\xff\xfe not a protobuf \x00" * 3))
            assert _closed_on_us(tls)
        raw = socket.create_connection((host, int(port)), timeout=10)
        with context.wrap_socket(raw, server_hostname=_tls.DRIVER_NAME) as tls:
            tls.sendall((2**31).to_bytes(4, "big"))  # a frame far over the limit
            assert _closed_on_us(tls)
        # (gRPC refuses the first two in its TLS handshake, before reef sees them)
        assert server.rejected == 5

        job.send(b"go")  # the job never noticed any of it
        result = job.wait(30)
    finally:
        job.kill()
    assert result.status is reef.JobStatus.SUCCEEDED, result.error
    assert result.messages[-1] == b'[["StartTime"], ["CompletedActivity", "1"], ["StopTime"]]'


def test_credentials_are_private_and_fresh_per_job() -> None:
    first = reef.run(jobs.Logging, timeout=30)
    second = reef.run(jobs.Logging, timeout=30)
    for result in (first, second):
        folder = Path(result.log_dir, "credentials")
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for f in folder.iterdir():
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        evaluator = Path(result.log_dir, "evaluators", "evaluator-1")
        assert stat.S_IMODE(evaluator.stat().st_mode) == 0o700
    ca1 = Path(first.log_dir, "credentials", "ca.pem").read_bytes()
    ca2 = Path(second.log_dir, "credentials", "ca.pem").read_bytes()
    assert ca1 != ca2


def test_on_yarn_an_evaluators_key_reaches_its_container_only(tmp_path: Path) -> None:
    """The key pair waits in the application's key-value store and is gone once the evaluator
    has taken it: never in the specification, a container's environment (which YARN writes into
    launch_container.sh) or the logs."""
    from reef.runtime.yarn import YarnRuntime
    from tests.yarn.standin import StandinYarn

    with StandinYarn(tmp_path / "yarn", allocation_delay=0.05) as yarn:
        runtime = YarnRuntime(client=yarn.client(), evaluator_sizes=[(128, 1)])
        job = reef.submit(Waiting, runtime=runtime, timeout=60)
        try:
            _ready(job)
            app = yarn.client().connect(job.id, wait=False)
            assert app.kv.get_prefix("reef/files/") == {}  # taken, and deleted
            (key_file,) = (yarn.workdir / "local").rglob("evaluator.key")
            assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
            secret = key_file.read_text().splitlines()[1]  # a line of the key's body
            shared = [
                *(yarn.workdir / "local").rglob("launch_container.sh"),
                *(p for p in (yarn.workdir / "logs").rglob("*") if p.is_file()),
            ]
            assert shared
            for path in shared:
                text = path.read_text(errors="replace")
                assert "PRIVATE KEY" not in text, path
                assert secret not in text, path
                # nor encoded: a credentials document takes thousands of characters
                exports = re.findall(r'^export (\w+)="(.*)"$', text, flags=re.MULTILINE)
                assert all(len(value) < 2000 for _, value in exports), path
            launch = next((yarn.workdir / "local").rglob("container_*_000002/launch_container.sh"))
            assert 'export REEF_EVALUATOR_FILES_KEY="reef/files/evaluator-1"' in launch.read_text()
            job.send(b"go")
            assert job.wait().status is reef.JobStatus.SUCCEEDED
        finally:
            job.kill()
            job.wait()
