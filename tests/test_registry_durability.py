"""Durability of registry uploads across kill -9: an acknowledged PATCH survives, bytes of an
unacknowledged one are dropped, and an interrupted upload leaves no blob visible."""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.test_registry_clients import bench  # the benchmark's lab helpers

REPOSITORY = "fa-085"


@contextmanager
def lab_process(state_dir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`ecr-lab serve` in its own process, so that it can be killed with SIGKILL."""
    command = [sys.executable, "-m", "lab.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--state-dir", str(state_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        bench.wait_for_port(port)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(10)


class Registry:
    """A minimal registry client speaking raw HTTP/1.1 with Basic auth."""

    def __init__(self, port: int, password: str) -> None:
        self.port = port
        self.auth = "Basic " + base64.b64encode(f"AWS:{password}".encode()).decode()

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def call(self, method: str, path: str, body: bytes = b"", **headers: str):
        connection = self.connect()
        connection.request(method, path, body, {"Authorization": self.auth, **headers})
        response = connection.getresponse()
        response.read()
        connection.close()
        return response

    def start_partial(self, path: str, declared: int, sent: bytes) -> http.client.HTTPConnection:
        """A PATCH that declares `declared` bytes but sends only `sent`: still in progress."""
        connection = self.connect()
        connection.putrequest("PATCH", path)
        connection.putheader("Authorization", self.auth)
        connection.putheader("Content-Length", str(declared))
        connection.endheaders()
        connection.send(sent)
        return connection


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def kill_9(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    assert process.wait(10) == -signal.SIGKILL


@pytest.mark.slow
def test_an_acknowledged_patch_survives_kill_9_and_unacknowledged_bytes_are_dropped(tmp_path):
    state, port = tmp_path / "state", bench.free_port()
    acknowledged, rest = os.urandom(3 << 20), os.urandom(5 << 20)
    with lab_process(state, port) as first:
        registry = Registry(port, bench.lab_password(port, REPOSITORY))
        started = registry.call("POST", f"/v2/{REPOSITORY}/blobs/uploads/")
        location = started.getheader("Location")
        patched = registry.call("PATCH", location, acknowledged)
        assert (patched.status, patched.getheader("Range")) == (202, f"0-{len(acknowledged) - 1}")
        # A second PATCH is mid-body (most of its bytes received, none acknowledged) at the kill.
        pending = registry.start_partial(location, len(rest), rest[: 4 << 20])
        time.sleep(1)
        kill_9(first)
        pending.close()
    with lab_process(state, port):
        status = registry.call("GET", location)
        assert (status.status, status.getheader("Range")) == (204, f"0-{len(acknowledged) - 1}")
        assert registry.call("HEAD", f"/v2/{REPOSITORY}/blobs/{sha256(acknowledged)}").status == 404
        resumed = registry.call(
            "PATCH", location, rest, **{"Content-Range": f"{len(acknowledged)}-{(8 << 20) - 1}"}
        )
        assert resumed.status == 202
        whole = acknowledged + rest
        done = registry.call("PUT", f"{location}?digest={sha256(whole)}")
        assert done.status == 201
        # 201 means the digest of all the bytes checked out; HEAD shows the layer whole.
        head = registry.call("HEAD", f"/v2/{REPOSITORY}/blobs/{sha256(whole)}")
        assert (head.status, head.getheader("Content-Length")) == (200, str(len(whole)))


@pytest.mark.slow
def test_an_upload_interrupted_by_kill_9_leaves_no_blob_visible(tmp_path):
    state, port = tmp_path / "state", bench.free_port()
    data = os.urandom(2 << 20)
    with lab_process(state, port) as first:
        registry = Registry(port, bench.lab_password(port, REPOSITORY))
        location = registry.call("POST", f"/v2/{REPOSITORY}/blobs/uploads/").getheader("Location")
        # The whole blob in one PUT, killed before the last byte: nothing is committed.
        pending = registry.connect()
        pending.putrequest("PUT", f"{location}?digest={sha256(data)}")
        pending.putheader("Authorization", registry.auth)
        pending.putheader("Content-Length", str(len(data)))
        pending.endheaders()
        pending.send(data[:-1])
        time.sleep(1)
        kill_9(first)
        pending.close()
    with lab_process(state, port):
        assert registry.call("HEAD", f"/v2/{REPOSITORY}/blobs/{sha256(data)}").status == 404
        assert not list(state.rglob(sha256(data).split(":")[1]))
