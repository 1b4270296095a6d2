"""RemoteUpstream against a silent upstream: one attempt, then ServiceUnavailable."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from lab.errors import AwsError
from lab.upstream import RemoteUpstream


@pytest.fixture
def silent_upstream() -> Iterator[tuple[str, list[bytes]]]:
    """A loopback server that reads each request and never answers; yields (url, requests)."""
    server = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            held.append(connection)  # keep it open: the client must time out, not see a close
            received.append(connection.recv(65536))

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", received
    server.close()
    for connection in held:
        connection.close()


def test_a_slow_upstream_is_service_unavailable_and_never_asked_twice(
    silent_upstream: tuple[str, list[bytes]],
) -> None:
    url, received = silent_upstream
    upstream = RemoteUpstream(url, "us-east-1", attempts=3, backoff_seconds=0, timeout_seconds=0.3)
    started = time.monotonic()
    with pytest.raises(AwsError) as raised:
        upstream.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")
    assert raised.value.code == "ServiceUnavailable"
    assert raised.value.status == 503
    assert raised.value.message == f"The IAM upstream at {url} did not answer within 0.3 s"
    assert time.monotonic() - started < 2
    # A write the upstream may have applied is not sent again.
    assert len(received) == 1 and received[0].startswith(b"POST / ")
