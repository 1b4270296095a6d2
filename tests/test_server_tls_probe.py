"""A TLS ClientHello on the plain-HTTP port (docker probing for TLS) is answered 400 quietly;
other garbage still warns, and bytes after the first on a connection are never taken for one."""

from __future__ import annotations

import signal
import socket
import ssl
from pathlib import Path

import pytest

from tests.server_support import serve

pytestmark = pytest.mark.slow

ECR_LIST_IMAGES = (
    b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
    b"X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.ListImages\r\nContent-Length: 4\r\n\r\n"
)


def client_hello() -> bytes:
    """The first flight of a real TLS client (Python's ssl, as docker's Go client sends one)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def exchange(url: str, *parts: bytes) -> bytes:
    """Send `parts` one by one on one connection; the answer, until the server closes or 2 s."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        for part in parts:
            sock.sendall(part)
        sock.settimeout(2)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except TimeoutError:
            pass
        return answer


def test_a_tls_probe_is_answered_400_without_a_warning(tmp_path: Path) -> None:
    hello = client_hello()
    assert hello[:2] == b"\x16\x03"
    with serve(tmp_path / "state") as (process, url):
        answers = [exchange(url, hello) for _ in range(3)]
        garbage = exchange(url, b"\x00\x01 not http\r\n\r\n")
        # a body that starts like a TLS record, after the headers: a request like any other
        body_like_tls = exchange(url, ECR_LIST_IMAGES, b"\x16\x03\x01\x00")
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        stderr = process.stderr.read()
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 400 ")  # docker then falls back to plain HTTP
    assert garbage.startswith(b"HTTP/1.1 400 ")
    assert stderr.count("Invalid HTTP request received.") == 1  # the garbage, not the probes
    assert b'{"__type": "SerializationException"' in body_like_tls  # ECR read it as the body
