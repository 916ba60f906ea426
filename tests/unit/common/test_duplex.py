"""TlsDuplex: one reader and several writers on each end of one TLS connection at once, with
every frame arriving whole and in each writer's order; refused peers; ends of connection."""

from __future__ import annotations

import contextlib
import hashlib
import random
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reef.common import _tls
from reef.common._authority import JobAuthority
from reef.common._duplex import TlsDuplex, wrap
from reef.common._frames import FrameReader, FrameWriter

WAIT = 60.0


@pytest.fixture(scope="module")
def contexts(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(driver's server context, evaluator's client context) of one job."""
    authority = JobAuthority("duplex-test")
    root = tmp_path_factory.mktemp("credentials")
    server = _tls.save(str(root / "driver"), "driver", authority.ca_pem, authority.issue_driver())
    client = _tls.save(
        str(root / "evaluator"), "evaluator", authority.ca_pem, authority.issue_evaluator("e-1")
    )
    return _tls.server_context(server), _tls.client_context(client)


def connect(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> tuple[TlsDuplex, TlsDuplex]:
    a, b = socket.socketpair()
    for s in (a, b):
        s.settimeout(WAIT)
    result: dict[str, TlsDuplex | BaseException] = {}

    def serve() -> None:
        try:
            result["server"] = wrap(a, server_context, server_side=True)
        except BaseException as e:  # handed to the test thread
            result["server"] = e

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        client = wrap(b, client_context, server_side=False, server_hostname=_tls.DRIVER_NAME)
    finally:
        thread.join(WAIT)
    server = result["server"]
    if isinstance(server, BaseException):
        raise server
    return server, client


@pytest.fixture
def pair(contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> Iterator[tuple[TlsDuplex, TlsDuplex]]:
    server, client = connect(*contexts)
    yield server, client
    for end in (server, client):
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)
        end.close()


def _payload(writer: int, n: int, rng: random.Random) -> bytes:
    size = rng.choice([1, 17, 4096, 70_000, 1_500_000])
    body = rng.randbytes(size)
    head = f"{writer}:{n}:".encode()
    return head + hashlib.sha256(body).digest() + body


def _check(payload: bytes) -> tuple[int, int]:
    writer, n, rest = payload.split(b":", 2)
    digest, body = rest[:32], rest[32:]
    assert hashlib.sha256(body).digest() == digest, "a frame arrived damaged"
    return int(writer), int(n)


def test_both_ends_read_while_several_threads_write(pair: tuple[TlsDuplex, TlsDuplex]) -> None:
    writers, frames = 3, 40
    errors: list[BaseException] = []
    received: dict[str, list[tuple[int, int]]] = {"server": [], "client": []}

    def read(name: str, end: TlsDuplex) -> None:
        reader = FrameReader(end, 1 << 24)
        try:
            for _ in range(writers * frames):
                payload = reader.read()
                assert payload is not None, "the connection ended early"
                received[name].append(_check(payload))
        except BaseException as e:
            errors.append(e)

    def write(end: TlsDuplex, writer: FrameWriter, index: int) -> None:
        rng = random.Random(index)
        try:
            for n in range(frames):
                writer.write(_payload(index, n, rng))
        except BaseException as e:
            errors.append(e)

    server, client = pair
    threads = [
        threading.Thread(target=read, args=("server", server)),
        threading.Thread(target=read, args=("client", client)),
    ]
    for end in (server, client):
        frame_writer = FrameWriter(end)
        threads += [
            threading.Thread(target=write, args=(end, frame_writer, i)) for i in range(writers)
        ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert not any(t.is_alive() for t in threads), "a reader or writer is stuck"
    assert errors == []
    for name in ("server", "client"):
        got = received[name]
        assert len(got) == writers * frames
        for w in range(writers):  # each writer's frames in its order
            assert [n for writer, n in got if writer == w] == list(range(frames))


def test_a_peer_of_another_job_is_refused(
    contexts: tuple[ssl.SSLContext, ssl.SSLContext], tmp_path: Path
) -> None:
    stranger = JobAuthority("another-job")
    files = _tls.save(str(tmp_path), "evaluator", stranger.ca_pem, stranger.issue_evaluator("e-1"))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        connect(contexts[0], _tls.client_context(files))


def test_the_peer_name_and_the_end_of_the_connection(pair: tuple[TlsDuplex, TlsDuplex]) -> None:
    server, client = pair
    assert _tls.peer_common_name(server) == "e-1"
    assert _tls.peer_common_name(client) == _tls.DRIVER_NAME
    FrameWriter(client).write(b"last words")
    client.shutdown(socket.SHUT_RDWR)
    reader = FrameReader(server, 1024)
    assert reader.read() == b"last words"
    assert reader.read() is None  # closed without close_notify: an end all the same
