"""RemoteUpstream: an unreachable URL becomes ServiceUnavailable after bounded retries."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from lab.errors import AwsError
from lab.upstream import RemoteUpstream, make_upstream


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_client_call_to_a_dead_upstream_is_service_unavailable(closed_port_url: str) -> None:
    upstream = RemoteUpstream(closed_port_url, "ap-northeast-1", attempts=3, backoff_seconds=0.05)
    started = time.monotonic()
    with pytest.raises(AwsError) as raised:
        upstream.client("iam").list_roles()
    assert raised.value.code == "ServiceUnavailable"
    assert raised.value.status == 503
    assert closed_port_url in raised.value.message
    assert "3 attempts" in raised.value.message
    assert 0.15 <= time.monotonic() - started < 5  # backed off 0.05 + 0.1, and gave up


def test_forward_to_a_dead_upstream_is_service_unavailable(closed_port_url: str) -> None:
    upstream = RemoteUpstream(closed_port_url, "ap-northeast-1", attempts=2, backoff_seconds=0)
    with pytest.raises(AwsError) as raised:
        upstream.forward("iam", b"Action=ListRoles&Version=2010-05-08")
    assert raised.value.code == "ServiceUnavailable"
    assert closed_port_url in raised.value.message


def test_make_upstream_url_and_account_key(tmp_path: Path, closed_port_url: str) -> None:
    upstream = make_upstream(closed_port_url, tmp_path, "us-east-1", account="000000000001")
    assert isinstance(upstream, RemoteUpstream)
    client = upstream.client("iam")
    assert client.meta.endpoint_url == closed_port_url
    # LocalStack selects the account by a 12-digit access key id.
    assert client._request_signer._credentials.access_key == "000000000001"
